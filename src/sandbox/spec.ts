/**
 * What a sandbox is asked to be: every field resolved, absolute and validated by the caller
 * (the runtime). The sandbox module turns it into bwrap arguments, cgroups and a process.
 */
import type { LimitKind } from '../core/events.js';

/**
 * Paths inside every sandbox: the agent's $HOME (a fresh tmpfs, or the profile's persistent home
 * bound there), warden's assets, the forwarded sockets.
 */
export const SANDBOX_HOME = '/home/agent';
export const SANDBOX_LIB = '/run/warden/lib';
export const SANDBOX_SOCK = '/run/warden/sock';
/** Where a server's package from warden's store is bound read-only (see SandboxSpec.package). */
export const SANDBOX_PKG = '/run/warden/pkg';

/** A unix socket outside forwarded to 127.0.0.1:port inside the sandbox's network namespace. */
export interface PortForward {
  readonly port: number;
  /** Host path of the listening unix socket; it must lie in `runDir/sock`. */
  readonly socketPath: string;
}

export interface ResourceLimits {
  readonly memoryBytes: number | null;
  readonly pids: number | null;
  /** CPU quota in cores. */
  readonly cpu: number | null;
}

/** Unix identity the sandbox runs as when warden is root. */
export interface SandboxUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/**
 * Where one of the command's standard streams goes. 'inherit': warden's own descriptor, as is
 * (only for a pipe or /dev/null: anything else could be reopened through /proc/self/fd, SBX-23);
 * 'pipe': a pipe whose other end is a stream on the sandbox handle (warden relays it).
 */
export type StreamMode = 'inherit' | 'pipe';

/** The size of a terminal, in character cells. */
export interface TerminalSize {
  readonly rows: number;
  readonly cols: number;
}

/** The command's standard streams, one by one (see runtime/terminal.ts for who chooses what). */
export interface StdioSpec {
  readonly stdin: StreamMode;
  readonly stdout: StreamMode;
  /** 'stdout': the command's stderr is its stdout (one pipe, or the pty), which keeps their order. */
  readonly stderr: StreamMode | 'stdout';
  /**
   * A terminal of the sandbox's own: the init opens a pty inside and makes its slave the
   * command's stdin, stdout (and stderr when 'stdout') and controlling terminal; stdin and stdout
   * must be 'pipe' (they carry the bytes to and from the master). `term` is the TERM value the
   * command gets unless the environment already names one. Needs warden-init.
   */
  readonly pty: (TerminalSize & { readonly term: string }) | null;
}

export interface SandboxSpec {
  readonly runId: string;
  /** argv of the command; argv[0] is looked up on the sandbox PATH unless it contains a '/'. */
  readonly command: readonly string[];
  /** Working directory inside the sandbox. */
  readonly cwd: string;
  /** Real path of the workspace, bound read-write at the same path; null for none. */
  readonly workspace: string | null;
  /** Extra real paths bound read-only at the same path. */
  readonly readOnly: readonly string[];
  /** Extra real paths bound read-write at the same path. */
  readonly writable: readonly string[];
  /** Real paths hidden entirely (neither readable nor writable). */
  readonly deny: readonly string[];
  /** Host paths that must never be visible (warden's state dir, other runs' sockets). */
  readonly neverVisible: readonly string[];
  /**
   * A persistent home: the real path of a host directory bound read-write at SANDBOX_HOME (not at
   * its own path) instead of the fresh tmpfs; null for the tmpfs. It may lie inside a
   * never-visible path (a profile's home lives in the state dir) but must contain none.
   */
  readonly home: string | null;
  /**
   * A package from warden's store (an MCP server pinned in the catalog): the real path of its
   * install root, bound read-only at SANDBOX_PKG (never at its own path: it lives in the state
   * dir, which stays hidden). It must contain no never-visible path.
   */
  readonly package?: string;
  /** The complete environment of the command. Nothing else enters. */
  readonly env: Readonly<Record<string, string>>;
  readonly limits: ResourceLimits;
  /** Run without the cgroup controllers that are unavailable (the user said so explicitly). */
  readonly acceptMissingLimits: boolean;
  readonly forwards: readonly PortForward[];
  /** Host directory of this run (sockets under `sock/`, generated files); removed by the caller. */
  readonly runDir: string;
  /** Sandbox user when warden runs as root; null when warden runs as an ordinary user. */
  readonly user: SandboxUser | null;
  /** 'pipe': every stream a pipe on the handle (servers, tests, the demo); or stream by stream. */
  readonly stdio: 'pipe' | StdioSpec;
}

export interface SandboxExit {
  /** Exit code as warden reports it (the command's code, or 128+signal). */
  readonly code: number;
  readonly signal: NodeJS.Signals | null;
  /** Limits the kernel enforced during the run (from the cgroup counters). */
  readonly limitsHit: readonly LimitKind[];
  /** True when the memory cgroup OOM-killed a process. */
  readonly oomKilled: boolean;
  /** True when the sandbox never reached the command (setup failure). */
  readonly setupFailed: boolean;
  /** bwrap's or the launcher's own message when setup failed. */
  readonly setupError: string | null;
}
