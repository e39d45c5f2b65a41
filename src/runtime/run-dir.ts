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
import { cleanupAbandonedSandbox } from '../sandbox/index.js';
import { formatPostRun, summaryPostRun } from './post-run-report.js';

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

/** Creates the directory of one run; `sandboxGid` may connect to its sockets. */
export function createRunDir(root: string, runId: string, uid: number, sandboxGid: number | null): RunDir {
  const path = join(root, runId);
  const sockDir = join(path, 'sock');
  mkdirSync(path, { mode: uid === 0 ? 0o755 : 0o700 });
  mkdirSync(sockDir, { mode: 0o750 });
  if (uid === 0 && sandboxGid !== null) chownSync(sockDir, 0, sandboxGid);
  writeFileSync(join(path, 'owner.json'), JSON.stringify({ pid: process.pid, start: processStartTime(process.pid) }), {
    mode: 0o644,
  });
  return { path, sockDir };
}

/** Removes a run's directory (after its sandbox is gone). */
export function removeRunDir(dir: RunDir): void {
  rmSync(dir.path, { recursive: true, force: true });
}

/**
 * Cleans up after runs whose warden process is gone: removes their cgroups and directory, and
 * runs their post-run check, telling `warn` what it found (the run's own summary never came).
 * Returns how many were recovered.
 */
export async function recoverAbandonedRuns(
  root: string,
  warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return 0;
  }
  let recovered = 0;
  for (const name of names) {
    if (!name.startsWith('run_')) continue;
    const path = join(root, name);
    let owner: { pid?: unknown; start?: unknown };
    try {
      owner = JSON.parse(readFileSync(join(path, 'owner.json'), 'utf8')) as { pid?: unknown; start?: unknown };
    } catch {
      continue; // being created right now, or not ours
    }
    if (typeof owner.pid === 'number' && processStartTime(owner.pid) === owner.start && owner.start !== null) continue; // still running
    const { postRun, runId, cgroupsLeft } = await cleanupAbandonedSandbox(path);
    if (postRun !== null && (postRun.findings.length > 0 || !postRun.complete)) {
      warn(`warden: ${runId ?? name} ended without its warden (killed?); its post-run check found:`);
      for (const line of formatPostRun(summaryPostRun(postRun))) warn(line);
    }
    // Groups still busy (their processes exiting on a loaded host): keep the record, so the next
    // start removes them, for a while; an hour on, whatever keeps them is not warden's to wait for.
    if (cgroupsLeft > 0 && Date.now() - ageBase(path) < RETRY_RECOVERY_MS) continue;
    rmSync(path, { recursive: true, force: true });
    recovered++;
  }
  return recovered;
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
