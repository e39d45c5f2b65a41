/**
 * Where a run keeps its sockets and generated files, and recovery of runs whose warden died
 * (kill -9): the next warden start removes their cgroups and directories and runs the post-run
 * check their warden could not (sandbox/post-run.ts).
 *
 * Root:      /run/warden/<run>/      (0755 root; sock/ is 0750 root:<sandbox group>)
 * Otherwise: $XDG_RUNTIME_DIR/warden/<run>/ or /tmp/warden-<uid>/<run>/ (0700, owned by the user)
 */
import { chownSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WardenError } from '../core/errors.js';
import { RUN_ID_PATTERN } from '../core/ids.js';
import type { AgentIdentity, AuditEventInput, EventSink } from '../core/events.js';
import { cleanupAbandonedSandbox, type PostRunReport } from '../sandbox/index.js';
import { findingViolations, formatPostRun, postRunRecord, summaryPostRun } from './post-run-report.js';

export interface RunDir {
  readonly path: string;
  readonly sockDir: string;
}

/** The runtime root for this user. */
export function runtimeRoot(uid: number, env: NodeJS.ProcessEnv = process.env): string {
  if (env.WARDEN_RUNTIME_DIR !== undefined && env.WARDEN_RUNTIME_DIR !== '') return env.WARDEN_RUNTIME_DIR;
  if (uid === 0) return '/run/warden';
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg !== undefined && xdg.startsWith('/')) {
    try {
      const st = lstatSync(xdg);
      if (st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0) return join(xdg, 'warden');
    } catch {
      // fall through to /tmp
    }
  }
  return `/tmp/warden-${uid}`;
}

/**
 * Creates the runtime root if needed and checks it is ours and not writable by others (a
 * pre-created /tmp/warden-<uid> owned by someone else would let them swap our sockets).
 */
export function ensureRuntimeRoot(path: string, uid: number): void {
  const mode = uid === 0 ? 0o755 : 0o700;
  try {
    mkdirSync(path, { recursive: true, mode });
  } catch (error) {
    throw new WardenError('STATE_DIR', `cannot create the runtime directory ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const st = lstatSync(path);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0) {
    throw new WardenError(
      'STATE_DIR',
      `the runtime directory ${path} is not a directory owned by uid ${uid} and closed to others`,
      {
        hint: `remove it (it holds only sockets of running sandboxes) or set WARDEN_RUNTIME_DIR`,
      },
    );
  }
}

/**
 * Creates the directory of one run; `sandboxGid` may connect to its sockets. `owner.json` says
 * which warden process owns it (pid and kernel start time, so a reused pid is not taken for it)
 * and whose sandbox it is (the agent's, or an MCP server's of that run), for the audit records
 * of whichever start recovers it.
 */
export function createRunDir(
  root: string,
  runId: string,
  uid: number,
  sandboxGid: number | null,
  agent: AgentIdentity,
): RunDir {
  const path = join(root, runId);
  const sockDir = join(path, 'sock');
  mkdirSync(path, { mode: uid === 0 ? 0o755 : 0o700 });
  mkdirSync(sockDir, { mode: 0o750 });
  if (uid === 0 && sandboxGid !== null) chownSync(sockDir, 0, sandboxGid);
  const owner = { pid: process.pid, start: processStartTime(process.pid), agent: agent.name, run: agent.run_id };
  writeFileSync(join(path, 'owner.json'), JSON.stringify(owner), { mode: 0o644 });
  return { path, sockDir };
}

/** Removes a run's directory (after its sandbox is gone). */
export function removeRunDir(dir: RunDir): void {
  rmSync(dir.path, { recursive: true, force: true });
}

/** A sandbox whose warden died, as the start that cleaned up after it found it. */
export interface RecoveredRun {
  /** The sandbox: the run's own id for the agent's sandbox, `<run>.<server>.<n>` for an MCP server's. */
  readonly sandboxId: string;
  /** Whose sandbox it was, as its warden wrote in owner.json (name 'unknown' for directories that predate it). */
  readonly agent: AgentIdentity;
  /** From the run directory's creation until this recovery: when the warden died is not known. */
  readonly msUntilRecovered: number;
  /** The post-run check its warden could not run; null when its sandbox had not started. */
  readonly postRun: PostRunReport | null;
}

/**
 * Cleans up after runs whose warden process is gone: removes their cgroups and directory, and
 * runs their post-run check, telling `warn` what it found (the run's own summary never came).
 * Returns each run cleaned up for the first time, for the audit log (recordRecoveredRuns): any
 * warden start may be the one that finds a dead run, so the audit log, not its stderr, is where
 * the finding is sure to be kept.
 */
export async function recoverAbandonedRuns(
  root: string,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<RecoveredRun[]> {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const recovered: RecoveredRun[] = [];
  for (const name of names) {
    if (!name.startsWith('run_')) continue;
    const path = join(root, name);
    let owner: { pid?: unknown; start?: unknown; agent?: unknown; run?: unknown };
    try {
      owner = JSON.parse(readFileSync(join(path, 'owner.json'), 'utf8')) as typeof owner;
    } catch {
      continue; // being created right now, or not ours
    }
    if (typeof owner.pid === 'number' && processStartTime(owner.pid) === owner.start && owner.start !== null) continue; // still running
    const { postRun, runId, cgroupsLeft } = await cleanupAbandonedSandbox(path);
    if (postRun !== null && (postRun.findings.length > 0 || !postRun.complete)) {
      warn(`warden: ${runId ?? name} ended without its warden (killed?); its post-run check found:`);
      for (const line of formatPostRun(summaryPostRun(postRun))) warn(line);
    }
    // runId is known the first time only (a retry's record keeps just the busy cgroups), and only
    // for runs whose sandbox had started: one record per dead run.
    // The run a sandbox belongs to: owner.json says so; directories of wardens that predate that
    // are named by the run id, then `.server.n` for a server's sandbox. No valid run id: nothing
    // can be recorded under it (the stderr warning above still told the user).
    const ownerRun = typeof owner.run === 'string' && RUN_ID_PATTERN.test(owner.run) ? owner.run : null;
    const sandboxRun = runId?.split('.')[0] ?? '';
    const run = ownerRun ?? (RUN_ID_PATTERN.test(sandboxRun) ? sandboxRun : null);
    if (runId !== null && run !== null) {
      const agent: AgentIdentity = {
        name: typeof owner.agent === 'string' && owner.agent.length <= 256 ? owner.agent : 'unknown',
        run_id: run,
      };
      recovered.push({ sandboxId: runId, agent, msUntilRecovered: Math.max(0, Date.now() - ageBase(path)), postRun });
    }
    // Groups still busy (their processes exiting on a loaded host): keep the record, so the next
    // start removes them, for a while; an hour on, whatever keeps them is not warden's to wait for.
    if (cgroupsLeft > 0 && Date.now() - ageBase(path) < RETRY_RECOVERY_MS) continue;
    rmSync(path, { recursive: true, force: true });
  }
  return recovered;
}

/**
 * The audit records of dead sandboxes: each finding of its post-run check as a `violation`, then
 * `run.recovered`, all under the dead run's id. The caller appends them together (one commit).
 */
export function recoveredRunEvents(recovered: readonly RecoveredRun[]): AuditEventInput[] {
  return recovered.flatMap((run): AuditEventInput[] => [
    ...findingViolations(run.postRun).map((data): AuditEventInput => ({
      type: 'violation',
      run_id: run.agent.run_id,
      agent: run.agent,
      data,
    })),
    {
      type: 'run.recovered',
      run_id: run.agent.run_id,
      agent: run.agent,
      data: {
        sandbox: run.sandboxId,
        ms_until_recovered: run.msUntilRecovered,
        ...(run.postRun === null ? {} : { post_run: postRunRecord(run.postRun) }),
      },
    },
  ]);
}

/**
 * Appends the records of dead sandboxes to `sink` (nothing to do, and no audit log opened, when
 * there are none); rejects when they could not be made durable, like any append (AUD-03).
 */
export async function recordRecoveredRuns(sink: EventSink, recovered: readonly RecoveredRun[]): Promise<void> {
  if (recovered.length === 0) return;
  // Appended together, so they are committed as one transaction, in this order.
  await Promise.all(recoveredRunEvents(recovered).map((event) => sink.append(event)));
}

/** How long the next starts retry removing a dead run's busy cgroups. */
const RETRY_RECOVERY_MS = 60 * 60 * 1000;

/** When a run directory was made (its owner.json), in ms since the epoch; 0 when unknown. */
function ageBase(path: string): number {
  try {
    return statSync(join(path, 'owner.json')).mtimeMs;
  } catch {
    return 0;
  }
}

/** The kernel's start time of a process (field 22 of /proc/PID/stat), to tell a live owner from a reused pid. */
function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses; fields after the last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}
