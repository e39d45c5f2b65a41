/**
 * The bubblewrap backend: turns a SandboxSpec into a running, isolated process tree.
 *
 * Launch chain:  warden ─spawn(uid=sandbox user)→ sh launcher.sh (joins cgroups, checks access)
 *                (as root with a writable root someone else owns: warden ─spawn(root)→ warden-idmap
 *                (private mount namespace, idmapped clones of the writable roots, drops to the
 *                sandbox user) ─exec→ sh launcher.sh; see idmap.ts)
 *                ─exec→ bwrap --args 7 (namespaces, mounts, seccomp) ─→ [pid 1: bwrap init]
 *                ─→ [pid 2: warden-init (forwarders, ready signal)] ─exec→ COMMAND
 *
 * File descriptors given to the chain: 0, 1 = the command's stdin and stdout (pipes, or warden's
 * own when they are pipes or /dev/null; with a pty, the pipes to and from the pty's master),
 * 2 = bwrap's and the launcher's own messages (captured), 3 = the seccomp program (read by bwrap),
 * 4 = bwrap's JSON status (child pid, exit code), 5 = ready/error pipe (launcher errors, init's
 * ready byte), 6 = the command's real stderr, 7 = bwrap's arguments, 8 = the pty's control
 * channel (window sizes, redraw; only with a pty). None of 3-8 reaches the command: bwrap consumes 3, 4
 * and 7, the init closes 5, moves 6 to 2, keeps 8 to itself, and closes any other descriptor
 * warden's own caller left open.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { constants as osConstants } from 'node:os';
import { WardenError } from '../core/errors.js';
import { mark } from '../core/timing.js';
import type { LimitEnforcement } from '../core/limits.js';
import { RunLimits, type LimitsHost } from './limits/index.js';
import { mountArgs, planMounts, type MountPlan } from './fs-plan.js';
import { ensureEtcView, SANDBOX_HOSTNAME } from './etc-view.js';
import type { AbsentEntry, HostExecBaseline, NewEntryPolicy } from './host-exec.js';
import type { CaBundle } from './ca-bundle.js';
import type { LibDir } from './lib-dir.js';
import { explainNotWritable, idmapHelperError, planIdmap, stageMountOps, type IdmapLaunch } from './idmap.js';
import { checkAfterRun, type PostRunReport } from './post-run.js';
import { buildSeccompFilter } from './seccomp.js';
import {
  SANDBOX_LIB,
  SANDBOX_SOCK,
  type SandboxExit,
  type SandboxSpec,
  type StdioSpec,
  type TerminalSize,
} from './spec.js';

/** What the host provides, probed once per warden process (see host.ts). */
export interface SandboxHost {
  readonly bwrapPath: string;
  readonly wardenUid: number;
  /** The limit backends this host offers (cgroup v1/v2, rlimits) and the policy for missing ones. */
  readonly limits: LimitsHost;
  readonly lib: LibDir;
  /** The CA bundle every sandbox gets (variables and the copies they name), see ca-bundle.ts. */
  readonly ca: CaBundle;
}

export interface SandboxHandle {
  /** Host pid of the launcher (which becomes bwrap). */
  readonly pid: number;
  /**
   * Resolves once the command is about to be exec'd (all isolation in place). `setupMs` is the
   * time from startSandbox to then, not counting `launchWaitMs`: how long the finished bwrap
   * arguments waited for the caller's `launchAfter` (work that overlaps the sandbox's start).
   */
  readonly ready: Promise<{ readonly setupMs: number; readonly launchWaitMs: number }>;
  /** Resolves when the sandbox has exited (always resolves; setup failures are in the value). */
  readonly exited: Promise<SandboxExit>;
  /** The command's streams where the spec asked for 'pipe' (with a pty: the master's input and output). */
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Resizes the sandbox's pty (its foreground process group gets SIGWINCH); a no-op without one. */
  resize(size: TerminalSize): void;
  /** Asks the pty's foreground process group to redraw (SIGWINCH at the same size); a no-op without one. */
  redraw(): void;
  /** Controllers a cgroup holds for this run. */
  readonly cgroupControllers: readonly string[];
  /** How each requested limit is held (cgroup v1/v2, rlimit, or not at all). */
  readonly limits: readonly LimitEnforcement[];
  /**
   * The protected entries as planned: what the post-run check (post-run.ts `checkAfterRun`, over
   * `baseline.roots`) needs once the sandbox has stopped.
   */
  readonly baseline: HostExecBaseline;
  /** Sends a signal to the command (not to warden's helpers). */
  signal(signal: NodeJS.Signals): void;
  /** Kills every process of the sandbox at once. */
  kill(): Promise<void>;
  /** After exit: kills what is left in the cgroups and removes them. Idempotent. */
  cleanup(): Promise<{ readonly leftoverProcesses: number; readonly cgroupsLeft: number }>;
}

export interface StartOptions {
  /**
   * Launch (hand bwrap its arguments) only once this settles; a rejection aborts the sandbox.
   * Until then the launcher joins the run's cgroups and bwrap loads, in parallel with whatever
   * the caller is doing (e.g. starting the egress proxy): that join costs ~10 ms of kernel time.
   */
  readonly launchAfter?: Promise<unknown>;
  /** Use the shell init with socat instead of warden-init (the fallback path; tests). */
  readonly forceShellInit?: boolean;
}

/** Starts a sandbox. Throws WardenError for problems found before anything is spawned. */
export function startSandbox(spec: SandboxSpec, host: SandboxHost, options: StartOptions = {}): SandboxHandle {
  const identity = spec.user ?? { uid: host.wardenUid, gid: process.getgid?.() ?? host.wardenUid };
  if (host.wardenUid === 0 && spec.user === null) {
    throw new WardenError('SANDBOX_UNAVAILABLE', 'refusing to run a sandbox as root', {
      hint: 'configure sandbox.user (created by scripts/setup.sh)',
    });
  }
  const stdio = stdioOf(spec, host.lib, options.forceShellInit === true);
  // 1. Plan what bwrap will do (the /etc view, the mounts, the seccomp program). Nothing is
  // created yet: the sandbox's setup time is measured from the creation below.
  const etc = ensureEtcView(dirname(host.lib.path), identity.uid, identity.gid);
  const plan: MountPlan = planMounts(spec, {
    libDir: host.lib.path,
    etc,
    emptyFile: host.lib.emptyFile,
    emptyDir: host.lib.emptyDir,
    tmpfsBytes: spec.limits.memoryBytes,
    hostHome: process.env['HOME'] ?? null,
    files: host.ca.files,
  });
  // As root, writable roots the sandbox user does not own are idmapped by the helper and bound
  // from their staged clones (idmap.ts); null when nothing needs it (one stat per root).
  const writableRoots = plan.writableRoots;
  const idmap = planIdmap(writableRoots, spec.user, host.lib.idmapHelper, spec.runDir);
  const bwrapArgs = [
    '--unshare-all',
    '--unshare-user',
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--hostname',
    SANDBOX_HOSTNAME,
    '--seccomp',
    '3',
    '--json-status-fd',
    '4',
    ...mountArgs(idmap === null ? plan.ops : stageMountOps(plan.ops, idmap)),
    '--chdir',
    spec.cwd,
  ];
  const seccompProgram = buildSeccompFilter().bytes;
  mark('planned');

  // 2. Create: the run's limits (cgroups), then the launcher, which joins the v1 groups and starts
  // bwrap; bwrap waits for its arguments on fd 7 until the caller's launchAfter settles and
  // warden has moved it into its v2 group, if it has one.
  const started = performance.now();
  const cgroups = RunLimits.create(host.limits, {
    runId: spec.runId,
    limits: spec.limits,
    wardenUid: host.wardenUid,
    enrolUid: identity.uid,
    enrolGid: identity.gid,
    acceptMissing: spec.acceptMissingLimits,
  });

  mark('cgroups-made');
  const launcherArgs = [
    host.lib.launcher,
    String(cgroups.launcherEnrolFiles.length),
    ...cgroups.launcherEnrolFiles,
    String(writableRoots.length),
    // What bwrap will bind: through the staged clones when idmapped.
    ...writableRoots.map((root) => idmap?.source(root) ?? root),
    // bwrap accepts only options through --args; the command must be on its own command line.
    '--',
    host.bwrapPath,
    '--args',
    '7',
    '--',
    ...initCommand(spec, stdio, host.lib, cgroups.initArgs, options.forceShellInit === true),
    ...spec.command,
  ];
  let child: ChildProcess;
  try {
    // The helper starts as root and drops to the sandbox user itself before it execs the launcher.
    const [program, ...args] = idmap === null ? ['/bin/sh', ...launcherArgs] : idmap.argv(['/bin/sh', ...launcherArgs]);
    child = spawn(program ?? '/bin/sh', args, {
      // A terminal needs TERM to be drawn on; the caller's value wins when it passed one.
      env: stdio.pty === null || 'TERM' in spec.env ? { ...spec.env } : { ...spec.env, TERM: stdio.pty.term },
      cwd: '/',
      stdio: [
        stdio.stdin,
        stdio.stdout,
        'pipe',
        'pipe',
        'pipe',
        'pipe',
        stdio.stderr === 'inherit' ? 2 : 'pipe',
        'pipe',
        ...(stdio.pty === null ? [] : ['pipe' as const]),
      ],
      ...(spec.user === null || idmap !== null ? {} : { uid: spec.user.uid, gid: spec.user.gid }),
    });
  } catch (error) {
    void cgroups.destroy();
    throw new WardenError('SANDBOX_START_FAILED', `cannot start the sandbox launcher: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const pipes = child.stdio as unknown as [
    Writable | null,
    Readable | null,
    Readable,
    Writable,
    Readable,
    Readable,
    Readable | null,
    Writable,
    Writable | undefined,
  ];
  const [stdin, stdout, setupLog, seccompPipe, statusPipe, readyPipe, stderrPipe, argsPipe, controlPipe] = pipes;
  for (const pipe of [seccompPipe, argsPipe, controlPipe]) pipe?.on('error', () => undefined);
  mark('launcher-spawned');

  try {
    // Recorded before bwrap starts, so a warden killed mid-run has its cgroups removed and its
    // post-run check done by the next one (see cleanupAbandonedSandbox).
    const record: RecoveryRecord = { cgroups: cgroups.directories, runId: spec.runId, baseline: plan.baseline };
    writeFileSync(join(spec.runDir, RECOVERY_FILE), JSON.stringify(record), { mode: 0o600 });
    seccompPipe.end(seccompProgram);
  } catch (error) {
    child.kill('SIGKILL');
    void cgroups.destroy();
    throw error;
  }
  const argsReadyAt = performance.now();
  let launchWaitMs = 0;

  // 3. Launch: bwrap reads its arguments (NUL-separated) to EOF, then builds the sandbox.
  // A v2 group is joined by warden moving the launcher (bwrap, by then, waiting for its
  // arguments: nothing of the sandbox has started). Asynchronous: it overlaps the caller's work.
  let enrolError: WardenError | null = null;
  const enrolled = child.pid === undefined ? Promise.resolve() : cgroups.enrol(child.pid);
  enrolled.catch((error: unknown) => {
    enrolError = error as WardenError;
  });
  const launchAfter = Promise.all([options.launchAfter ?? Promise.resolve(), enrolled]);
  launchAfter.then(
    () => {
      launchWaitMs = performance.now() - argsReadyAt;
      mark('launch');
      argsPipe.end(`${bwrapArgs.join('\0')}\0`);
    },
    () => child.kill('SIGKILL'),
  );

  // Setup messages (bwrap's, the launcher's, the init's before exec); bounded.
  let setupText = '';
  setupLog.setEncoding('utf8');
  setupLog.on('data', (chunk: string) => {
    if (setupText.length < 16_384) setupText += chunk;
  });

  let sandboxInitPid: number | null = null;
  let statusText = '';
  statusPipe.setEncoding('utf8');
  statusPipe.on('data', (chunk: string) => {
    statusText += chunk;
    const match = /"child-pid"\s*:\s*(\d+)/.exec(statusText);
    if (match && sandboxInitPid === null) sandboxInitPid = Number(match[1]);
    if (statusText.length > 65_536) statusText = statusText.slice(-1024);
  });

  let commandPid: number | null = null;
  let isReady = false;
  let hasExited = false;
  let launcherError = '';
  // What the launcher or bwrap said comes first (a launcher that failed early also fails its
  // enrolment); otherwise a failed move into the v2 group is the reason the sandbox never ran.
  const setupError = (): WardenError =>
    launcherError === '' && enrolError !== null ? enrolError : setupFailureError(launcherError, setupText, spec, idmap);
  const ready = new Promise<{ setupMs: number; launchWaitMs: number }>((resolve, reject) => {
    readyPipe.setEncoding('utf8');
    readyPipe.on('data', (chunk: string) => {
      if (isReady) return;
      // fd 5 carries whole "E …" lines (launcher, idmap helper), then the init's lone 'R': an R
      // inside an error line (a run id in a path) is not the ready signal.
      if (launcherError.length < 16_384) launcherError += chunk;
      if (launcherError.split('\n').some((segment) => segment.startsWith('R'))) {
        isReady = true;
        commandPid = sandboxInitPid === null ? null : firstChild(sandboxInitPid);
        resolve({ setupMs: performance.now() - started - launchWaitMs, launchWaitMs });
      }
    });
    child.once('exit', () => {
      if (!isReady) reject(setupError());
    });
    child.once('error', (error) =>
      reject(new WardenError('SANDBOX_START_FAILED', `sandbox launcher failed: ${error.message}`, { cause: error })),
    );
  });
  ready.catch(() => undefined);

  const exited = new Promise<SandboxExit>((resolve) => {
    child.once('close', (code, signal) => {
      hasExited = true;
      const hit = cgroups.limitsHit();
      const signum = signal === null ? 0 : (osConstants.signals[signal] ?? 0);
      resolve({
        code: code ?? 128 + signum,
        signal,
        limitsHit: hit,
        oomKilled: hit.includes('memory'),
        setupFailed: !isReady,
        setupError: isReady ? null : setupError().message,
      });
    });
  });

  let cleanedUp: Promise<{ leftoverProcesses: number; cgroupsLeft: number }> | null = null;
  return {
    pid: child.pid ?? -1,
    ready,
    exited,
    stdin,
    stdout,
    stderr: stderrPipe,
    resize(size) {
      if (controlPipe === undefined || hasExited || controlPipe.destroyed) return;
      const rows = clampDimension(size.rows);
      const cols = clampDimension(size.cols);
      if (rows !== null && cols !== null) controlPipe.write(`W ${rows} ${cols}\n`);
    },
    redraw() {
      if (controlPipe === undefined || hasExited || controlPipe.destroyed) return;
      controlPipe.write('R\n');
    },
    cgroupControllers: cgroups.cgroupControllers,
    limits: cgroups.enforcement,
    baseline: plan.baseline,
    signal(signal) {
      if (hasExited) return;
      const target = commandPid ?? (sandboxInitPid === null ? null : firstChild(sandboxInitPid));
      if (target === null) return;
      try {
        process.kill(target, signal);
      } catch {
        // already gone
      }
    },
    async kill() {
      // Killing the sandbox's pid 1 tears down its pid namespace: every process in it dies,
      // including double-forked and setsid'd ones (SBX-13). The cgroup sweep is a second net.
      for (const pid of [sandboxInitPid, child.pid]) {
        if (pid === null || pid === undefined) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await cgroups.killAll(1000);
    },
    cleanup() {
      cleanedUp ??= cgroups
        .destroy()
        .then(({ leftover, remaining }) => ({ leftoverProcesses: leftover, cgroupsLeft: remaining }));
      return cleanedUp;
    },
  };
}

const ALL_PIPES: StdioSpec = { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', pty: null };

/** The spec's stdio, stream by stream; a pty is refused where it cannot work (a caller's bug). */
function stdioOf(spec: SandboxSpec, lib: LibDir, forceShell: boolean): StdioSpec {
  const stdio = spec.stdio === 'pipe' ? ALL_PIPES : spec.stdio;
  if (stdio.pty !== null) {
    if (lib.wardenInit === null || forceShell) throw new TypeError('a pty needs warden-init (the shell init has none)');
    if (stdio.stdin !== 'pipe' || stdio.stdout !== 'pipe')
      throw new TypeError("a pty needs stdin and stdout as 'pipe' (they carry its master's bytes)");
    if (clampDimension(stdio.pty.rows) === null || clampDimension(stdio.pty.cols) === null)
      throw new TypeError(`bad pty size ${stdio.pty.rows}x${stdio.pty.cols}`);
    if (!/^[A-Za-z0-9._+-]{1,64}$/.test(stdio.pty.term)) throw new TypeError('bad TERM for the pty');
  }
  return stdio;
}

/** A terminal dimension as the kernel stores it (1..65535), or null. */
function clampDimension(value: number): number | null {
  return Number.isInteger(value) && value >= 1 && value <= 65_535 ? value : null;
}

/** The in-sandbox init: warden-init (static C) when built, else the shell init with socat. */
function initCommand(
  spec: SandboxSpec,
  stdio: StdioSpec,
  lib: LibDir,
  limitArgs: readonly string[],
  forceShell: boolean,
): string[] {
  const sockets = spec.forwards.map((f) => ({
    port: String(f.port),
    path: join(SANDBOX_SOCK, relativeSocket(spec, f.socketPath)),
  }));
  const stderrFlag = stdio.stderr === 'stdout' ? ['--stderr-to-stdout'] : [];
  if (lib.wardenInit !== null && !forceShell) {
    return [
      join(SANDBOX_LIB, 'warden-init'),
      ...sockets.flatMap((s) => ['--forward', s.port, s.path]),
      ...(stdio.pty === null ? [] : ['--pty', String(stdio.pty.rows), String(stdio.pty.cols)]),
      ...stderrFlag,
      // The rlimit fallback (`--rlimit NAME VALUE`), set in the sandbox before the command starts.
      ...limitArgs,
      '--',
    ];
  }
  return [
    '/bin/sh',
    join(SANDBOX_LIB, 'init.sh'),
    ...stderrFlag,
    ...limitArgs,
    ...sockets.flatMap((s) => [s.port, s.path]),
    '--',
  ];
}

const RECOVERY_FILE = 'sandbox.json';

interface RecoveryRecord {
  /** The run's cgroup directories (an older warden wrote an object keyed by controller). */
  readonly cgroups: readonly string[];
  readonly runId: string;
  readonly baseline: HostExecBaseline;
}

/**
 * Releases what a sandbox of a dead warden left behind (its processes died with their pid
 * namespace): its cgroups, and — the check that warden would have run after it — whatever it left
 * in its writable roots that would make the host run code (post-run.ts).
 */
export async function cleanupAbandonedSandbox(
  runDir: string,
): Promise<{ leftoverProcesses: number; postRun: PostRunReport | null; runId: string | null; cgroupsLeft: number }> {
  let record: { cgroups?: unknown; runId?: unknown; baseline?: unknown };
  try {
    record = JSON.parse(readFileSync(join(runDir, RECOVERY_FILE), 'utf8')) as typeof record;
  } catch {
    return { leftoverProcesses: 0, postRun: null, runId: null, cgroupsLeft: 0 };
  }
  const dirs: unknown[] =
    typeof record.cgroups === 'object' && record.cgroups !== null ? Object.values(record.cgroups) : [];
  // Only directories inside a cgroup hierarchy are accepted from the file.
  const safeDirs = dirs.filter(
    (d): d is string => typeof d === 'string' && d.startsWith('/sys/fs/cgroup/') && !d.split('/').includes('..'),
  );
  const limits = RunLimits.fromDirectories(safeDirs);
  const { leftover, remaining } = await limits.destroy();
  // Groups still busy (their processes exiting on a loaded host): a later start removes them; the
  // record keeps only those, so the post-run check below is not repeated.
  if (remaining > 0) {
    writeFileSync(join(runDir, RECOVERY_FILE), JSON.stringify({ cgroups: limits.directories }), { mode: 0o600 });
  }
  const runId = typeof record.runId === 'string' && /^[A-Za-z0-9_.-]{1,160}$/.test(record.runId) ? record.runId : null;
  const baseline = parseBaseline(record.baseline);
  const postRun =
    runId === null || baseline === null
      ? null
      : checkAfterRun(baseline.roots, { runId, since: baseline.since, baseline });
  return { leftoverProcesses: leftover, postRun, runId, cgroupsLeft: remaining };
}

const POLICIES: readonly NewEntryPolicy[] = ['code', 'git', 'mcp-servers', 'agent-settings'];

/** The baseline from a recovery record, or null when any part is not what warden writes. */
function parseBaseline(value: unknown): HostExecBaseline | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const paths = (list: unknown): string[] | null =>
    Array.isArray(list) && list.every((p) => typeof p === 'string' && p.startsWith('/')) ? (list as string[]) : null;
  const roots = paths(v['roots']);
  const existing = paths(v['existing']);
  const gitDirs = paths(v['gitDirs']);
  const absentList = Array.isArray(v['absent']) ? (v['absent'] as unknown[]) : null;
  if (roots === null || existing === null || gitDirs === null || absentList === null) return null;
  if (typeof v['since'] !== 'number' || !Number.isFinite(v['since'])) return null;
  const absent: AbsentEntry[] = [];
  for (const item of absentList) {
    const entry = item as { path?: unknown; policy?: unknown };
    if (typeof entry.path !== 'string' || !entry.path.startsWith('/')) return null;
    const policy = POLICIES.find((p) => p === entry.policy);
    if (policy === undefined) return null;
    absent.push({ path: entry.path, policy });
  }
  return { since: v['since'], roots, existing, gitDirs, absent };
}

function relativeSocket(spec: SandboxSpec, socketPath: string): string {
  const prefix = join(spec.runDir, 'sock') + '/';
  if (!socketPath.startsWith(prefix)) throw new TypeError(`forward socket ${socketPath} must be inside ${prefix}`);
  return socketPath.slice(prefix.length);
}

/** The first child of `pid` (the command, child of the sandbox's pid 1), from /proc. */
function firstChild(pid: number): number | null {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    const first = Number(children[0]);
    return Number.isInteger(first) && first > 0 ? first : null;
  } catch {
    return null;
  }
}

/** Turns what the launcher and bwrap said into an error that names the cause and the fix. */
function setupFailureError(
  launcherError: string,
  setupText: string,
  spec: SandboxSpec,
  idmap: IdmapLaunch | null,
): WardenError {
  const line = launcherError.split('\n').find((l) => l.startsWith('E '));
  if (line?.startsWith('E not-writable '))
    return explainNotWritable(line.slice('E not-writable '.length), spec.user, idmap, setupText);
  if (line?.startsWith('E idmap-')) return idmapHelperError(line);
  if (line !== undefined)
    return new WardenError('SANDBOX_START_FAILED', line.slice(2), { hint: 'run `warden doctor`' });
  const text = setupText.trim().split('\n').slice(-3).join('; ');
  if (/creating new namespace|No permissions to create|namespace.*not permitted|setting up uid map/i.test(text)) {
    return new WardenError('SANDBOX_UNAVAILABLE', `the kernel refused to create the sandbox's namespaces (${text})`, {
      hint: 'run `warden doctor`; unprivileged user namespaces must be enabled',
    });
  }
  return new WardenError(
    'SANDBOX_START_FAILED',
    text === '' ? 'the sandbox exited before the command started' : `sandbox setup failed: ${text}`,
    { hint: 'run `warden doctor`' },
  );
}
