/**
 * Builds the gateway a profile asks for: compiles its mcp grants to Cedar, adds the user's
 * policy files, validates the set, and starts the granted servers in their own sandboxes. A
 * profile that grants nothing gets no gateway (null) — nothing is started that is not used.
 */
import { timingSafeEqual } from 'node:crypto';
import { chownSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { WardenConfig } from '../core/config.js';
import { WardenError } from '../core/errors.js';
import { newRunId, newSecret } from '../core/ids.js';
import type { AgentIdentity, EventSink } from '../core/events.js';
import { derivedKey } from '../audit/index.js';
import {
  ArgumentRedactor,
  createSessionServer,
  Gateway,
  HttpEndpoint,
  PinStore,
  serverIdentity,
  type AuthResult,
} from '../gateway/index.js';
import { compileProfile, loadPolicyFiles, PolicyEngine } from '../policy/index.js';
import { Scanner } from '../scan/index.js';
import {
  checkAfterRun,
  SANDBOX_SOCK,
  type HostExecBaseline,
  type PortForward,
  type SandboxHost,
  type SandboxUser,
} from '../sandbox/index.js';
import { mergeBaselines } from './baselines.js';
import { readCatalog } from '../registry/index.js';
import { catalogPath } from './catalog-path.js';
import { planServerSandboxes, serverSecretRefs } from './mcp-servers.js';
import { startedBy } from './started-by.js';
import { findingViolations, formatPostRun, summaryPostRun } from './post-run-report.js';
import { pickProfile, resolveFsPaths } from './plan.js';
import type { RunDir } from './run-dir.js';

export interface GatewaySetup {
  readonly config: WardenConfig;
  readonly configPath: string | null;
  readonly profileName: string;
  readonly workspace: string;
  readonly agent: AgentIdentity;
  readonly sink: EventSink;
  readonly stateDir: string;
  readonly host: SandboxHost;
  readonly sandboxUser: SandboxUser | null;
  readonly runtimeRoot: string;
  readonly neverVisible: readonly string[];
  readonly hostEnv: NodeJS.ProcessEnv;
  /** The rule for missing cgroup controllers; the servers follow the run's (`--accept-missing-limits`). */
  readonly acceptMissingLimits: boolean;
  /** Where warnings for the user go (a server left out because it did not start); the CLI prints them. */
  readonly warn?: (message: string) => void;
}

/** A started gateway, and what the post-run check needs of its servers' sandboxes once they stop. */
export interface StartedGateway {
  readonly gateway: Gateway;
  /** The baselines of every server sandbox it launched (a read-write server writes for the agent). */
  readonly baselines: () => readonly HostExecBaseline[];
}

/** The tool pins (SCAN-05): in the state dir, which no sandbox sees, per server as the config starts it. */
export function pinStore(
  stateDir: string,
  config: WardenConfig,
  relay: Readonly<Record<string, readonly string[]>>,
): PinStore {
  return new PinStore(join(stateDir, 'pins'), (server) =>
    serverIdentity(config.servers[server] ?? {}, Object.hasOwn(relay, server) ? relay[server] : []),
  );
}

/**
 * The values of the secrets the granted servers use, fetched once per start (a rotated secret
 * reaches a server from the next run on). Nothing is opened when no server uses one.
 */
async function resolveServerSecrets(
  setup: Pick<GatewaySetup, 'config' | 'stateDir' | 'hostEnv'>,
  granted: readonly string[],
): Promise<ReadonlyMap<string, string>> {
  const refs = serverSecretRefs(setup.config.servers, granted);
  if (refs.length === 0) return new Map();
  // Loaded only when a server uses a secret: the Vault client (undici) is not on every run's path.
  const { SecretProviders } = await import('../secrets/index.js');
  const providers = new SecretProviders(setup.config.secrets, setup.stateDir, setup.hostEnv);
  try {
    return await providers.resolveAll(refs);
  } finally {
    await providers.close();
  }
}

/** Largest message an upstream may send (so the largest result an agent can get). */
export const MAX_RESULT_BYTES = 8 * 1024 * 1024;

/** Compiles and validates the profile's policy (fast; nothing started). */
export function buildPolicy(
  setup: Pick<GatewaySetup, 'config' | 'configPath' | 'profileName' | 'workspace' | 'agent'>,
) {
  const profile = pickProfile(setup.config, setup.profileName);
  const compiled = compileProfile(profile.mcp, { profileName: setup.profileName, workspace: setup.workspace });
  const policies = loadPolicyFiles(profile.mcp.policies, setup.configPath, compiled.policies);
  const engine = PolicyEngine.create({
    policies,
    native: compiled.native,
    shape: compiled.shape,
    principal: { name: setup.agent.name, profile: setup.profileName },
  });
  return { profile, compiled, engine };
}

/**
 * Starts the gateway for a profile, or returns null when the profile grants no MCP server. Every
 * granted server is planned and checked first (GW-11, GW-13): a config that would show a server
 * what the profile hides, or run code the agent can write, starts nothing.
 */
export async function startGateway(setup: GatewaySetup): Promise<StartedGateway | null> {
  const { profile, compiled, engine } = buildPolicy(setup);
  if (compiled.servers.length === 0) return null;
  // The profile's paths, resolved as a run resolves them (against the workspace): what it hides
  // from the agent is hidden from its servers, and what the agent may write is the agent's reach.
  const label = `profiles.${setup.profileName}.filesystem`;
  const secretValues = await resolveServerSecrets(setup, compiled.servers);
  const servers = planServerSandboxes({
    secretValues,
    servers: setup.config.servers,
    granted: compiled.servers,
    runId: setup.agent.run_id,
    agent: setup.agent,
    workspace: setup.workspace,
    host: setup.host,
    sandboxUser: setup.sandboxUser,
    runtimeRoot: setup.runtimeRoot,
    neverVisible: setup.neverVisible,
    profileDeny: {
      paths: resolveFsPaths(profile.filesystem.deny, setup.workspace, `${label}.deny`, false),
      field: `${label}.deny`,
    },
    agentWritable: [
      setup.workspace,
      ...resolveFsPaths(profile.filesystem.writable, setup.workspace, `${label}.writable`, true),
    ],
    acceptMissingLimits: setup.acceptMissingLimits,
    sink: setup.sink,
    hostEnv: setup.hostEnv,
    provenance: {
      catalog: readCatalog(catalogPath(setup.config, setup.configPath, setup.workspace)),
      unpinned: new Set(setup.config.catalog.unpinned),
      stateDir: setup.stateDir,
    },
    ...(setup.warn === undefined ? {} : { warn: setup.warn }),
  });
  const gateway = await Gateway.start({
    profileName: setup.profileName,
    agent: setup.agent,
    workspace: setup.workspace,
    policy: engine,
    compiled,
    launch: servers.launch,
    sink: setup.sink,
    redactor: new ArgumentRedactor(derivedKey(setup.stateDir, 'mcp argument digests'), profile.mcp.sensitive_arguments),
    callTimeoutMs: profile.mcp.call_timeout,
    relay: profile.mcp.relay,
    required: new Set(profile.mcp.required),
    startTimeouts: Object.fromEntries(
      compiled.servers.map((name) => [name, setup.config.servers[name]?.start_timeout ?? 60_000]),
    ),
    maxResultBytes: MAX_RESULT_BYTES,
    serverViews: serverViews(setup.config, compiled.servers, setup.workspace),
    warn: (message) => process.stderr.write(`warden: warning: ${message}\n`),
    pins: pinStore(setup.stateDir, setup.config, profile.mcp.relay),
    scanner: new Scanner(),
    scanPolicy: profile.mcp.scan,
    names: profile.mcp.names,
  });
  // A server that did not start is left out unless required: say so where the user looks.
  for (const missing of gateway.unavailable) {
    setup.warn?.(
      `MCP server '${missing.server}' did not start; continuing without its tools (mark it in profiles.${setup.profileName}.mcp.required to stop instead)\n  why: ${missing.reason}\n  fix: ${missing.hint}${!missing.logged || missing.hint.includes('warden logs') ? '' : `\n  its stderr: warden logs ${missing.server}`}`,
    );
  }
  return { gateway, baselines: servers.baselines };
}

/** The host paths each granted stdio server's sandbox is given (the gateway warns when its grants allow less, GW-12). */
function serverViews(
  config: WardenConfig,
  servers: readonly string[],
  workspace: string,
): Record<string, readonly string[]> {
  const views: Record<string, readonly string[]> = {};
  for (const name of servers) {
    const server = config.servers[name];
    if (server === undefined || server.url !== undefined) continue;
    views[name] = [
      ...(server.workspace === 'none' ? [] : [workspace]),
      ...[...server.filesystem.read_only, ...server.filesystem.writable].map((p) => resolve(workspace, p)),
    ];
  }
  return views;
}

/** The port inside the sandbox where the agent finds the gateway. */
export const GATEWAY_PORT = 3129;

/** A run's gateway: the gateway, its endpoint, and what the sandbox needs to reach it. */
export interface RunGateway {
  readonly env: Readonly<Record<string, string>>;
  readonly forward: PortForward;
  /** Its server sandboxes' baselines: the run's post-run check covers what they could write too. */
  readonly baselines: () => readonly HostExecBaseline[];
  close(): Promise<void>;
}

/**
 * The gateway of one `warden run`: Streamable HTTP on a unix socket in the run's sock dir,
 * forwarded to 127.0.0.1:3129 inside; the agent authenticates with a per-run bearer secret that
 * it finds in WARDEN_MCP_TOKEN and in the ready-made client config at WARDEN_MCP_CONFIG.
 * Returns null when the profile grants no MCP server.
 */
export async function startRunGateway(
  setup: Omit<GatewaySetup, 'sandboxUser'> & { readonly sandboxUser: SandboxUser | null },
  runDir: RunDir,
): Promise<RunGateway | null> {
  const started = await startGateway(setup);
  if (started === null) return null;
  const { gateway } = started;
  const secret = newSecret();
  const expected = Buffer.from(`Bearer ${secret}`);
  const authenticate = (header: string | undefined): AuthResult => {
    const given = Buffer.from(header ?? '');
    if (given.length === expected.length && timingSafeEqual(given, expected))
      return { ok: true, caller: { subject: 'run-token' } };
    return {
      ok: false,
      status: 401,
      error: 'invalid_token',
      description: 'this endpoint needs the run token (WARDEN_MCP_TOKEN)',
    };
  };
  const hostPort = `${GATEWAY_PORT}`;
  const endpoint = new HttpEndpoint({
    createSession: (label) => createSessionServer(gateway, label),
    authenticate,
    allowedHosts: [`127.0.0.1:${hostPort}`, `localhost:${hostPort}`],
    allowedOrigins: [`http://127.0.0.1:${hostPort}`, `http://localhost:${hostPort}`],
    onRejected: recordRejection(setup.sink, setup.agent),
  });
  const socketPath = join(runDir.sockDir, 'mcp.sock');
  try {
    await endpoint.listen({ socketPath, mode: 0o660 });
    const url = `http://127.0.0.1:${GATEWAY_PORT}/mcp`;
    const configFile = join(runDir.sockDir, 'mcp.json');
    const clientConfig = {
      mcpServers: { warden: { type: 'http', url, headers: { Authorization: `Bearer ${secret}` } } },
    };
    writeFileSync(configFile, `${JSON.stringify(clientConfig, null, 2)}\n`, { mode: 0o640 });
    if (setup.sandboxUser !== null) {
      chownSync(socketPath, 0, setup.sandboxUser.gid);
      chownSync(configFile, 0, setup.sandboxUser.gid);
    }
    return {
      env: { WARDEN_MCP_URL: url, WARDEN_MCP_TOKEN: secret, WARDEN_MCP_CONFIG: `${SANDBOX_SOCK}/mcp.json` },
      forward: { port: GATEWAY_PORT, socketPath },
      baselines: started.baselines,
      close: async () => {
        await endpoint.close();
        await gateway.close();
      },
    };
  } catch (error) {
    await endpoint.close().catch(() => undefined);
    await gateway.close();
    throw error;
  }
}

/**
 * The post-run check (SBX-06, SBX-20..22) over what a standalone gateway's servers could write,
 * once they have stopped: each finding is a `violation` event and a warning.
 */
async function checkServersAfterStop(
  baselines: readonly HostExecBaseline[],
  options: { readonly agent: AgentIdentity; readonly setup: Pick<GatewaySetup, 'sink' | 'warn'> },
): Promise<void> {
  const merged = mergeBaselines(baselines);
  if (merged === null) return;
  const { agent, setup } = options;
  const report = checkAfterRun(merged.roots, { runId: agent.run_id, since: merged.since, baseline: merged });
  await Promise.all(
    findingViolations(report).map((violation) =>
      setup.sink.append({ type: 'violation', run_id: agent.run_id, agent, data: violation }).catch(() => undefined),
    ),
  );
  const lines = formatPostRun(summaryPostRun(report));
  if (lines.length > 0)
    setup.warn?.(`what the servers' sandboxes left in the directories they could write:\n${lines.join('\n')}`);
}

/** Records a request an endpoint refused before any session handled it (best effort: the caller already got its error). */
export function recordRejection(
  sink: EventSink,
  agent: AgentIdentity,
): (reason: string, code: number, session: string) => void {
  return (reason, code, session) => {
    void sink
      .append({
        type: 'mcp.rejected',
        run_id: agent.run_id,
        agent,
        data: { session, code, reason: reason.slice(0, 500) },
      })
      .catch(() => undefined);
  };
}

/**
 * A gateway outside `warden run` (`warden gateway`, `warden tools ls`): recorded as a run of its
 * own, so its servers' events and every decision are linked to one run id in the audit log.
 */
export async function withStandaloneGateway(
  setup: Omit<GatewaySetup, 'agent'> & { readonly agentName: string; readonly command: readonly string[] },
  use: (gateway: Gateway, agent: AgentIdentity) => Promise<void>,
): Promise<void> {
  const runId = newRunId();
  const agent: AgentIdentity = { name: setup.agentName, run_id: runId };
  const startedAt = Date.now();
  await setup.sink.append({
    type: 'run.started',
    run_id: runId,
    agent,
    data: {
      command: setup.command,
      profile: setup.profileName,
      workspace: setup.workspace,
      cwd: setup.workspace,
      network_allow: [],
      limits: { memory_bytes: null, pids: null, cpu: null, timeout_ms: null },
      warden_uid: setup.host.wardenUid,
      started_by: startedBy(setup.hostEnv),
    },
  });
  let reason: 'exited' | 'warden_error' = 'exited';
  let error: string | undefined;
  try {
    const started = await startGateway({ ...setup, agent });
    if (started === null) {
      throw new WardenError('USAGE', `profile '${setup.profileName}' grants no MCP server`, {
        hint: 'add servers to warden.yaml and grant them under profiles.<name>.mcp.allow (see docs/config.md)',
      });
    }
    try {
      await use(started.gateway, agent);
    } finally {
      await started.gateway.close();
      // A read-write server writes for the agent: check what it wrote as after a run (SBX-21).
      await checkServersAfterStop(started.baselines(), { agent, setup });
    }
  } catch (thrown) {
    reason = 'warden_error';
    error = (thrown as Error).message;
    throw thrown;
  } finally {
    await setup.sink
      .append({
        type: 'run.ended',
        run_id: runId,
        agent,
        data: {
          reason,
          exit_code: reason === 'exited' ? 0 : 125,
          signal: null,
          duration_ms: Date.now() - startedAt,
          egress: { allowed: 0, denied: 0 },
          limits_hit: [],
          ...(error === undefined ? {} : { error: error.slice(0, 1000) }),
        },
      })
      .catch(() => undefined);
  }
}
