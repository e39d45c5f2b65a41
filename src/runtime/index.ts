export { loadConfig, parseConfigText, CONFIG_FILE_NAMES, MAX_CONFIG_BYTES, type LoadedConfig } from './config-file.js';
export { pickProfile, resolveRunPlan, type RunOverrides, type RunPlan } from './plan.js';
export { runAgent, type RunContext } from './run-agent.js';
export { RunTerminal } from './terminal.js';
export { prepareHost, type PreparedHost } from './prepare-host.js';
export { runDoctor, type DoctorCheck } from './doctor.js';
export { formatSummary, type RunSummary, type DeniedTarget } from './summary.js';
export { buildSandboxEnv, EGRESS_PORT, SANDBOX_PATH } from './sandbox-env.js';
export { runtimeRoot, recoverAbandonedRuns, recordRecoveredRuns, type RecoveredRun } from './run-dir.js';
export { resolveGatewayWorkspace, notAProject, type WorkspaceChoice } from './gateway-workspace.js';
// The gateway (MCP SDK, Cedar) loads on demand: import('./run-gateway.js') — never from here, so a
// run without MCP tools does not pay for it at start-up.
export type { GatewaySetup, RunGateway } from './run-gateway.js';
export { listProfileHomes, removeProfileHome, profileHomePath, type HomeInfo } from './home.js';
export { catalogPath } from './catalog-path.js';
