/**
 * What every run cgroup shares, v1 or v2: listing its processes, killing them all, removing it.
 * Used for live runs and for the groups a dead warden left behind (crash recovery).
 */
import { readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readPids } from './probe.js';

/** Host pids in a run group (both versions have cgroup.procs). */
export function groupPids(dir: string): number[] {
  return readPids(join(dir, 'cgroup.procs'));
}

/**
 * SIGKILLs every process in the groups, until none is left or the deadline passes. A v2 group
 * with cgroup.kill (Linux ≥ 5.14) is killed by the kernel at once, forks in flight included;
 * the loop remains for v1 and as a second net.
 */
export async function killGroups(dirs: readonly string[], deadlineMs: number): Promise<number> {
  const start = Date.now();
  let killed = 0;
  for (const dir of dirs) {
    try {
      writeFileSync(join(dir, 'cgroup.kill'), '1');
    } catch {
      // v1, an older kernel, or gone
    }
  }
  for (;;) {
    const pids = dirs.flatMap(groupPids);
    if (pids.length === 0) return killed;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // already gone
      }
    }
    if (Date.now() - start > deadlineMs) return killed;
    await sleep(10);
  }
}

/** Removes the groups that are empty (rmdir fails while the kernel still reaps); returns those left. */
export function removeGroups(dirs: readonly string[]): string[] {
  const left: string[] = [];
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') left.push(dir);
    }
  }
  return left;
}

/** A `key value` counter from a cgroup stat file (0 when absent or unreadable). */
export function readCounter(dir: string | undefined, file: string, key: string): number {
  if (dir === undefined) return 0;
  let text: string;
  try {
    text = readFileSync(join(dir, file), 'utf8');
  } catch {
    return 0;
  }
  const match = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return Number(match?.[1] ?? 0);
}
