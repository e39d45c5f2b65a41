/**
 * One agent run, end to end: record the start, start the egress proxy, start the sandbox, watch
 * it (timeout, signals), record what happened, release everything, summarise. Every step that
 * changes state records an event first and fails closed when the event cannot be recorded.
 */
import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type {
  AgentIdentity,
  AuditEventInput,
  EndReason,
  EventPayloads,
  EventSink,
  EventType,
  LimitKind,
} from '../core/events.js';
import { EXIT, WardenError, isWardenError } from '../core/errors.js';
import { newRunId } from '../core/ids.js';
import { formatBytes, MAX_TIMER_MS, roundMs } from '../core/units.js';
import { mark } from '../core/timing.js';
import {
  checkAfterRun,
  isInside,
  realPathOrSelf,
  type PostRunReport,
  type SandboxHandle,
  type SandboxHost,
  type SandboxUser,
  type StdioSpec,
  type TerminalSize,
} from '../sandbox/index.js';
import type { WardenConfig } from '../core/config.js';
import type { RunPlan } from './plan.js';
import type { RunGateway } from './run-gateway.js';
import { mergeBaselines } from './baselines.js';
import { confine, type Confinement } from './confined.js';
import { openProfileHome } from './home.js';
import { findingViolations, postRunRecord, summaryPostRun } from './post-run-report.js';
import { startedBy } from './started-by.js';
import type { DeniedTarget, RunSummary } from './summary.js';

export interface RunContext {
  readonly sink: EventSink;
  readonly host: SandboxHost;
  /** Sandbox user under root; null when warden runs as an ordinary user. */
  readonly sandboxUser: SandboxUser | null;
  readonly runtimeRoot: string;
  /** Paths that must never be visible inside (the state dir, the runtime root). */
  readonly neverVisible: readonly string[];
  /** The state directory: where a `home: persistent` profile keeps its home (`<state>/homes/<profile>`). */
  readonly stateDir: string;
  /** The command's stdio (runtime/terminal.ts chooses it for the CLI). */
  readonly stdio: 'pipe' | StdioSpec;
  /**
   * Forward SIGINT/SIGTERM/SIGHUP from warden to the command, and SIGWINCH when it has no pty of
   * its own (the CLI sets this).
   */
  readonly forwardSignals: boolean;
  /** Called once the sandbox runs, with its streams (where stdio asked for pipes) and controls. */
  readonly onStarted?: (run: {
    readonly runId: string;
    readonly stdin: Writable | null;
    readonly stdout: Readable | null;
    readonly stderr: Readable | null;
    /** Resizes the command's pty. */
    readonly resize: (size: TerminalSize) => void;
    /** Asks the command to redraw its pty (after warden was suspended). */
    readonly redraw: () => void;
    /** Stops the run because the user asked for it at the terminal (reason interrupted, exit 130). */
    readonly interrupt: () => void;
  }) => void;
  /** Grace period between a forwarded SIGTERM and SIGKILL of everything. */
  readonly killGraceMs?: number;
  /** What the MCP gateway needs when the profile grants tools (absent: no gateway). */
  readonly mcp?: {
    readonly config: WardenConfig;
    readonly configPath: string | null;
    readonly stateDir: string;
    readonly hostEnv: NodeJS.ProcessEnv;
    /** Where the gateway's warnings go (a server left out because it did not start). */
    readonly warn?: (message: string) => void;
  };
}

/** Runs `plan` in a fresh sandbox and returns its summary. Throws only when nothing ran. */
export async function runAgent(plan: RunPlan, ctx: RunContext): Promise<RunSummary> {
  // resolveRunPlan and the schema bound the timeout; re-check before arming a timer with it,
  // because Node fires a timer after 1 ms when the delay is 0, not finite or above MAX_TIMER_MS (SBX-15).
  const timeoutMs = plan.limits.timeoutMs;
  if (timeoutMs !== null && !(Number.isSafeInteger(timeoutMs) && timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS)) {
    throw new WardenError(
      'INTERNAL',
      `the run's timeout of ${String(timeoutMs)} ms cannot be set as a timer (1 to ${MAX_TIMER_MS} ms)`,
    );
  }
  // Which limits hold, decided before anything starts: a limit the host cannot hold for the
  // whole sandbox refuses the run here (LIMITS_UNAVAILABLE) unless missing limits are accepted.
  const sandboxLimits = { memoryBytes: plan.limits.memoryBytes, pids: plan.limits.pids, cpu: plan.limits.cpu };
  const acceptMissingLimits = plan.acceptMissingLimits || ctx.host.limits.policy === 'best-effort';
  const limitsPlan = ctx.host.limits.plan(sandboxLimits, acceptMissingLimits ? 'best-effort' : 'required');

  refuseHiddenReadOnly(plan.readOnly, ctx.neverVisible);
  // Made or checked before anything starts: a wrong home (a symlink, another owner) stops the run.
  const home =
    plan.home === 'persistent'
      ? openProfileHome(
          ctx.stateDir,
          plan.profileName,
          ctx.sandboxUser ?? { uid: ctx.host.wardenUid, gid: process.getgid?.() ?? ctx.host.wardenUid },
          ctx.host.wardenUid,
        )
      : null;
  const runId = newRunId();
  const agent: AgentIdentity = { name: plan.agentName, run_id: runId };
  const started = Date.now();
  const record = <T extends EventType>(type: T, data: EventPayloads[T]) =>
    ctx.sink.append({ type, run_id: runId, agent, data } as AuditEventInput);

  // Nothing runs unless its start is on record (fail closed): the sandbox's launcher may start
  // before the record is durable (opening the audit log and writing the record overlap its
  // start), but bwrap gets its arguments, and the command can run, only once it is.
  let startRecorded = false;
  const recordStart = async (): Promise<void> => {
    await record('run.started', {
      ...commandForAudit(plan.command),
      profile: plan.profileName,
      workspace: plan.workspace,
      cwd: plan.cwd,
      network_allow: plan.networkAllow,
      limits: {
        memory_bytes: plan.limits.memoryBytes,
        pids: plan.limits.pids,
        cpu: plan.limits.cpu,
        timeout_ms: plan.limits.timeoutMs,
        enforcement: limitsPlan.enforcement,
      },
      warden_uid: ctx.host.wardenUid,
      started_by: startedBy(),
    });
    startRecorded = true;
    mark('run.started');
  };

  let confinement: Confinement | null = null;
  let gateway: RunGateway | null = null;
  let sandbox: SandboxHandle | null = null;
  // Widened on purpose: timers and signal handlers change it while the run is awaited.
  let reason = 'exited' as EndReason;
  let stoppedAtTerminal = false;
  let commandCode: number | null = null;
  let signal: string | null = null;
  let setupMs: number | null = null;
  let errorText: string | null = null;
  let thrown: unknown = null;
  const limitsHit = new Set<LimitKind>();
  const stopWatching: (() => void)[] = [];

  let startDurable: Promise<void> | null = null;
  try {
    // Queued now; committed on the event loop's next turn, i.e. after the launcher has spawned.
    startDurable = recordStart();
    startDurable.catch(() => undefined);
    // The run dir and the proxy; the proxy starts while the sandbox launcher joins its cgroups
    // (they overlap); bwrap gets its arguments, and the command can run, only once it listens.
    confinement = confine(
      {
        id: runId,
        agent,
        command: plan.command,
        cwd: plan.cwd,
        workspace: plan.workspace,
        readOnly: plan.readOnly,
        writable: plan.writable,
        deny: plan.deny,
        home,
        env: plan.env,
        networkAllow: plan.networkAllow,
        limits: sandboxLimits,
        acceptMissingLimits,
        stdio: ctx.stdio,
        fields: {
          workspace: 'the workspace',
          readOnly: `profiles.${plan.profileName}.filesystem.read_only`,
          writable: `profiles.${plan.profileName}.filesystem.writable`,
        },
      },
      { ...ctx, profileDeny: { paths: plan.deny, field: `profiles.${plan.profileName}.filesystem.deny` } },
    );

    // The gateway (when the profile grants MCP tools) is up before the agent can connect. Its
    // own events (servers started, tools listed) follow run.started, so that one comes first.
    if (ctx.mcp !== undefined && plan.workspace !== null && grantsMcp(ctx.mcp.config, plan.profileName)) {
      await startDurable;
      const { startRunGateway } = await import('./run-gateway.js');
      gateway = await startRunGateway(
        {
          ...ctx.mcp,
          profileName: plan.profileName,
          workspace: plan.workspace,
          agent,
          sink: ctx.sink,
          host: ctx.host,
          sandboxUser: ctx.sandboxUser,
          runtimeRoot: ctx.runtimeRoot,
          neverVisible: ctx.neverVisible,
          acceptMissingLimits: plan.acceptMissingLimits,
        },
        confinement.runDir,
      );
    }

    sandbox = confinement.start({
      ...(gateway === null ? {} : { env: gateway.env, forwards: [gateway.forward] }),
      launchAfter: startDurable,
    });
    const running = sandbox;
    mark('sandbox-spawned');
    await startDurable;
    await confinement.proxyListening;
    mark('proxy-listening');

    const readyOrExit = await Promise.race([
      running.ready.then((r) => ({ kind: 'ready' as const, ...r })),
      running.exited.then((e) => ({ kind: 'exited' as const, e })),
    ]).catch((error: unknown) => ({ kind: 'failed' as const, error }));
    if (readyOrExit.kind !== 'ready') {
      // The command never started: report why (a setup failure is warden's, not the command's).
      const failure = readyOrExit.kind === 'failed' ? readyOrExit.error : await running.ready.catch((e: unknown) => e);
      throw isWardenError(failure)
        ? failure
        : new WardenError('SANDBOX_START_FAILED', 'the sandbox exited before the command started');
    }
    setupMs = readyOrExit.setupMs;
    const launchWaitMs = readyOrExit.launchWaitMs;
    mark('ready');
    let commandExited = false;
    void running.exited.then(() => (commandExited = true));
    ctx.onStarted?.({
      runId,
      stdin: running.stdin,
      stdout: running.stdout,
      stderr: running.stderr,
      resize: (size) => running.resize(size),
      redraw: () => running.redraw(),
      interrupt: () => {
        if (commandExited) return;
        reason = 'interrupted';
        stoppedAtTerminal = true;
        void running.kill();
      },
    });

    try {
      await record('sandbox.created', {
        backend: 'bwrap',
        pid: running.pid,
        sandbox_uid: ctx.sandboxUser?.uid ?? ctx.host.wardenUid,
        setup_ms: roundMs(setupMs),
        launch_wait_ms: roundMs(launchWaitMs),
        seccomp: true,
        cgroups: running.cgroupControllers,
      });
    } catch (error) {
      // The run cannot be audited: stop it rather than let it continue unrecorded (AUD-03).
      await running.kill();
      throw error;
    }

    if (plan.limits.timeoutMs !== null) {
      const timer = setTimeout(() => {
        reason = 'timeout';
        limitsHit.add('timeout');
        void running.kill();
      }, plan.limits.timeoutMs);
      stopWatching.push(() => clearTimeout(timer));
    }
    if (ctx.forwardSignals)
      stopWatching.push(
        forwardSignals(running, ctx.killGraceMs ?? 10_000, ctx.stdio !== 'pipe' && ctx.stdio.pty !== null, () => {
          reason = 'interrupted';
        }),
      );

    const exit = await running.exited;
    mark('exited');
    for (const limit of exit.limitsHit) limitsHit.add(limit);
    commandCode = exit.code;
    signal = exit.signal;
    if (reason !== 'timeout') {
      if (exit.oomKilled && (exit.code === 137 || exit.signal === 'SIGKILL')) reason = 'memory_limit';
      else if (reason !== 'interrupted') reason = exit.signal !== null ? 'signaled' : 'exited';
    }
  } catch (error) {
    thrown = error;
    reason = 'warden_error';
    errorText = isWardenError(error) ? error.message : `internal error: ${(error as Error).message}`;
  } finally {
    for (const stop of stopWatching) stop();
    if (sandbox !== null) await sandbox.kill();
  }

  // Release and record the end. Recording failures here do not hide the command's result; a run
  // whose start never became durable records nothing more (its chain would start mid-run).
  const stats = confinement?.egressStats();
  let cleanup = { leftoverProcesses: 0 };
  let postRun: PostRunReport | null = null;
  const endErrors: string[] = [];
  try {
    try {
      if (gateway !== null) await gateway.close();
    } finally {
      if (confinement !== null) cleanup = await confinement.release();
    }
    // Everything that could write the workspace has stopped (the agent and its gateway's
    // servers): check what any of them left (SBX-06, SBX-20..22); a read-write server writes for the agent.
    if (sandbox !== null) {
      const baseline = mergeBaselines([sandbox.baseline, ...(gateway?.baselines() ?? [])]) ?? sandbox.baseline;
      postRun = checkAfterRun(baseline.roots, { runId, since: Math.min(started, baseline.since), baseline });
    }
  } catch (error) {
    endErrors.push((error as Error).message);
  }
  mark('released');

  const exitCode =
    stoppedAtTerminal && reason === 'interrupted' ? EXIT.interrupted : finalExitCode(reason, commandCode);
  const egress = {
    allowed: stats?.allowed ?? 0,
    denied: stats?.denied ?? 0,
    denied_targets: (stats?.deniedTargets ?? []).map((t): DeniedTarget => ({
      host: t.host,
      port: t.port,
      reason: t.reason,
      count: t.count,
      ...(t.blocked === undefined
        ? {}
        : {
            blocked: { address: t.blocked.address, range: t.blocked.range, allow_entry: t.blocked.allowEntry },
          }),
    })),
  };
  const durationMs = Date.now() - started;
  if (startDurable !== null) await startDurable.catch(() => undefined);
  if (startRecorded) {
    // Appended together, so they are committed as one transaction (one fsync), in this order.
    const endEvents: Promise<unknown>[] = [];
    for (const limit of limitsHit) endEvents.push(record('limit.hit', { limit, detail: limitDetail(limit, plan) }));
    for (const violation of findingViolations(postRun)) endEvents.push(record('violation', violation));
    if (sandbox !== null) {
      endEvents.push(
        record('sandbox.destroyed', {
          backend: 'bwrap',
          leftover_processes: cleanup.leftoverProcesses,
          ...(postRun === null ? {} : { post_run: postRunRecord(postRun) }),
        }),
      );
    }
    endEvents.push(
      record('run.ended', {
        reason,
        exit_code: exitCode,
        signal,
        duration_ms: durationMs,
        egress: { allowed: egress.allowed, denied: egress.denied },
        limits_hit: [...limitsHit],
        ...(errorText === null ? {} : { error: errorText }),
      }),
    );
    for (const outcome of await Promise.allSettled(endEvents)) {
      if (outcome.status === 'rejected') {
        const message = (outcome.reason as Error).message;
        if (!endErrors.includes(message)) endErrors.push(message);
      }
    }
  }
  mark('run.ended');
  if (thrown !== null && commandCode === null)
    throw thrown instanceof Error ? thrown : new Error('internal error: a non-Error value was thrown');

  return {
    run_id: runId,
    agent: plan.agentName,
    profile: plan.profileName,
    command: plan.command,
    reason,
    exit_code: exitCode,
    command_exit_code: commandCode,
    signal,
    duration_ms: durationMs,
    setup_ms: setupMs === null ? null : roundMs(setupMs),
    egress,
    limits: limitsPlan.enforcement,
    timeout_ms: plan.limits.timeoutMs,
    limits_hit: [...limitsHit],
    post_run: summaryPostRun(postRun),
    error:
      [errorText, ...endErrors.map((e) => `audit: ${e}`)].filter((e): e is string => e !== null).join('; ') || null,
  };
}

/**
 * Refuses a read-only path (filesystem.read_only or --ro) that is warden's state, the runtime root
 * or inside one: shown inside, it would hand the agent the audit key or another run's sockets
 * (SBX-04). The mount plan refuses one strictly inside too; this also catches the path itself
 * (which the plan would silently show empty) and says which option to change.
 */
function refuseHiddenReadOnly(readOnly: readonly string[], neverVisible: readonly string[]): void {
  for (const given of neverVisible) {
    const hidden = realPathOrSelf(given);
    const exposed = readOnly.find((path) => isInside(path, hidden));
    if (exposed === undefined) continue;
    const what = exposed === hidden ? "is warden's own" : `lies inside warden's own ${hidden}`;
    throw new WardenError('PATH_POLICY', `${exposed} ${what} (state or runtime files); a sandbox must never see it`, {
      hint: 'remove it from --ro or filesystem.read_only; to keep files between runs use `home: persistent` (docs/config.md)',
    });
  }
}

/** An audit record holds at most 64 KiB; a command may be up to ARG_MAX (2 MiB) long. */
const MAX_AUDITED_COMMAND_BYTES = 16 * 1024;
const MAX_AUDITED_ARG_CHARS = 1024;

/**
 * The command for run.started: whole when it fits, else its head (each argument cut to
 * MAX_AUDITED_ARG_CHARS, as many as fit) plus the full command's size and SHA-256, so a long
 * command line neither blocks the run (the record must be written first) nor goes unrecorded.
 */
export function commandForAudit(command: readonly string[]): {
  command: readonly string[];
  command_digest?: { bytes: number; args: number; sha256: string };
} {
  const json = JSON.stringify(command);
  const bytes = Buffer.byteLength(json);
  if (bytes <= MAX_AUDITED_COMMAND_BYTES) return { command };
  const head: string[] = [];
  let used = 2;
  for (const arg of command) {
    const cut =
      arg.length > MAX_AUDITED_ARG_CHARS ? `${arg.slice(0, MAX_AUDITED_ARG_CHARS)}…[${arg.length} chars]` : arg;
    const size = Buffer.byteLength(JSON.stringify(cut)) + 1;
    if (used + size > MAX_AUDITED_COMMAND_BYTES) break;
    head.push(cut);
    used += size;
  }
  return {
    command: head,
    command_digest: { bytes, args: command.length, sha256: createHash('sha256').update(json).digest('hex') },
  };
}

/** Whether the profile grants any MCP server (then the gateway, and its code, is needed). */
function grantsMcp(config: WardenConfig, profileName: string): boolean {
  // Own keys only, like pickProfile: a name such as 'constructor' must not reach Object.prototype.
  return Object.hasOwn(config.profiles, profileName) && (config.profiles[profileName]?.mcp.allow.length ?? 0) > 0;
}

function finalExitCode(reason: EndReason, commandCode: number | null): number {
  switch (reason) {
    case 'timeout':
      return EXIT.timeout;
    case 'memory_limit':
      return EXIT.memoryLimit;
    case 'warden_error':
      return EXIT.wardenFailed;
    case 'exited':
    case 'signaled':
    case 'interrupted':
      return commandCode ?? EXIT.wardenFailed;
  }
}

function limitDetail(limit: LimitKind, plan: RunPlan): string {
  switch (limit) {
    case 'memory':
      return `memory limit of ${formatBytes(plan.limits.memoryBytes)} reached; the kernel killed a process`;
    case 'pids':
      return `process limit of ${plan.limits.pids} reached; fork() failed inside the sandbox`;
    case 'cpu':
      return `CPU quota of ${plan.limits.cpu} cores enforced (throttled)`;
    case 'timeout':
      return `wall-clock timeout of ${plan.limits.timeoutMs ?? 0} ms expired; warden killed the sandbox`;
  }
}

/**
 * Forwards signals sent to warden to the command (it runs in a session of its own, so a Ctrl-C
 * at warden's terminal reaches it only this way when it has no pty). A second SIGINT/SIGTERM/
 * SIGHUP, or the grace period after the first, kills the whole sandbox. With a pty, the window
 * size travels over the pty instead of SIGWINCH (runtime/terminal.ts).
 */
function forwardSignals(sandbox: SandboxHandle, graceMs: number, hasPty: boolean, onInterrupt: () => void): () => void {
  let interrupts = 0;
  let graceTimer: NodeJS.Timeout | null = null;
  const onTerminate = (sig: NodeJS.Signals): void => {
    interrupts++;
    onInterrupt();
    if (interrupts === 1) {
      sandbox.signal(sig);
      graceTimer = setTimeout(() => void sandbox.kill(), graceMs);
    } else {
      void sandbox.kill();
    }
  };
  const onWinch = (): void => sandbox.signal('SIGWINCH');
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onTerminate);
  if (!hasPty) process.on('SIGWINCH', onWinch);
  return () => {
    for (const sig of signals) process.off(sig, onTerminate);
    if (!hasPty) process.off('SIGWINCH', onWinch);
    if (graceTimer !== null) clearTimeout(graceTimer);
  };
}
