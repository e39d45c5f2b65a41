export { startSandbox, cleanupAbandonedSandbox, type SandboxHandle, type SandboxHost } from './bwrap.js';
export {
  LimitsHost,
  RunLimits,
  planLimits,
  limitsFix,
  probeLimits,
  cgroupV1Parent,
  SUPERVISOR_LEAF,
  type LimitsPlan,
  type LimitsProbe,
} from './limits/index.js';
export {
  planMounts,
  mountArgs,
  isInside,
  realPathOrSelf,
  MANDATORY_WRITE_DENY,
  type MountOp,
  type MountPlan,
} from './fs-plan.js';
export {
  findBinary,
  isTrustedBinary,
  lookupUser,
  cgroupLayout,
  userNamespacesEnabled,
  parseBwrapVersion,
  CGROUP_CONTROLLERS,
  type CgroupController,
  type CgroupLayout,
} from './host.js';
export { ensureLibDir, type LibDir } from './lib-dir.js';
export { probeIdmapEndToEnd, probeIdmapFilesystem, type IdmapProbe } from './idmap-probe.js';
export { buildSeccompFilter, SECCOMP_RULES } from './seccomp.js';
export { ensureEtcView, SANDBOX_HOSTNAME, type EtcView } from './etc-view.js';
export { hostCaBundle, SANDBOX_CA_DIR, type CaBundle, type SandboxFile } from './ca-bundle.js';
export {
  SANDBOX_HOME,
  SANDBOX_LIB,
  SANDBOX_PKG,
  SANDBOX_SOCK,
  type SandboxSpec,
  type SandboxExit,
  type PortForward,
  type ResourceLimits,
  type SandboxUser,
  type StdioSpec,
  type StreamMode,
  type TerminalSize,
} from './spec.js';
export {
  checkAfterRun,
  DEFAULT_MAX_SCAN_ENTRIES,
  DEFAULT_MAX_SCAN_MS,
  type PostRunFinding,
  type PostRunOptions,
  type PostRunReport,
} from './post-run.js';
export { PROTECTED_ENTRIES, type HostExecBaseline, type ProtectedEntry } from './host-exec.js';
