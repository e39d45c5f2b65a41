/**
 * cgroup v2: one group per run under the parent the probe found, with the controllers enabled
 * through cgroup.subtree_control on the way down, limits in memory.max (+ memory.swap.max),
 * pids.max and cpu.max, and the kernel's counters in memory.events, pids.events and cpu.stat.
 *
 * Enrolment differs from v1: v2 moves whole processes only (no `tasks` file), and an unprivileged
 * writer must also own the common ancestor of the source and destination cgroups. The sandbox
 * user under root owns neither, so warden moves the launcher itself, by pid, after spawning it
 * and before handing bwrap its arguments: bwrap, waiting for them, has not forked yet, so every
 * process of the sandbox starts inside the group.
 *
 * The kernel interface this drives (mkdir, cgroup.procs, cgroup.subtree_control, cgroup.kill,
 * ownership checks) is tested against a real cgroup2 mount; the controller files against a
 * directory tree that imitates them, where the host has no v2 controllers to give.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupController } from '../host.js';
import type { ResourceLimits } from '../spec.js';
import { cpuQuotaUs } from './cgroup-v1.js';
import { SUPERVISOR_LEAF, type V2Place } from './probe.js';

const CPU_PERIOD_US = 100_000;

type UsablePlace = Extract<V2Place, { usable: true }>;

/**
 * The parent of this process's v2 run groups, made ready once: root makes `<mount>/warden`; an
 * ordinary user's warden moves itself out of its own cgroup into SUPERVISOR_LEAF (a cgroup whose
 * children have controllers may hold no process itself). Then the controllers are enabled.
 */
export class CgroupV2Parent {
  #made = false;
  #enabled = new Set<CgroupController>();

  constructor(
    private readonly place: UsablePlace,
    private readonly pid: number = process.pid,
  ) {}

  /** The directory run groups go in. */
  get dir(): string {
    return this.place.parent;
  }

  /** Makes the parent ready for groups with `controllers` (sync; cheap once done). */
  prepare(controllers: readonly CgroupController[]): void {
    const { place } = this;
    if (!this.#made) {
      if (place.kind === 'root') {
        mkdirSync(place.parent, { recursive: true });
      } else if (place.split) {
        const leaf = join(place.parent, SUPERVISOR_LEAF);
        mkdirSync(leaf, { recursive: true });
        // The whole process (all of Node's threads), once: later runs need no move of warden.
        writeFileSync(join(leaf, 'cgroup.procs'), String(this.pid));
      }
      this.#made = true;
    }
    const missing = controllers.filter((c) => !this.#enabled.has(c));
    if (missing.length === 0) return;
    // Top down: a cgroup can enable for its children only what its own parent enabled for it.
    if (place.kind === 'root') enableControllers(place.mount, missing);
    enableControllers(place.parent, missing);
    for (const c of missing) this.#enabled.add(c);
  }
}

/**
 * Enables controllers for `dir`'s children (cgroup.subtree_control takes `+name` words). Only the
 * missing ones are written: an unprivileged writer may not touch the others.
 */
export function enableControllers(dir: string, controllers: readonly CgroupController[]): void {
  let enabled = new Set<string>();
  try {
    const text = readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8');
    enabled = new Set(text.trim().split(/\s+/));
  } catch {
    // unreadable: write them all
  }
  const wanted = controllers.filter((c) => !enabled.has(c));
  if (wanted.length === 0) return;
  try {
    writeFileSync(join(dir, 'cgroup.subtree_control'), wanted.map((c) => `+${c}`).join(' '));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EBUSY'
        ? `${dir} holds processes, and the kernel gives controllers only to the children of a cgroup without any`
        : code === 'ENOENT'
          ? `${dir} does not offer ${wanted.join(', ')} (not in its cgroup.controllers)`
          : (error as Error).message;
    throw new Error(`cannot enable ${wanted.join(', ')} in ${dir}: ${why}`, { cause: error });
  }
}

/** Writes the limits of `controllers` into a v2 group. */
export function writeV2Limits(dir: string, limits: ResourceLimits, controllers: readonly CgroupController[]): void {
  for (const controller of controllers) {
    switch (controller) {
      case 'memory':
        writeFileSync(join(dir, 'memory.max'), String(limits.memoryBytes));
        // v1's memory+swap cap, in v2 terms: no swap, so memory.max bounds the whole use.
        try {
          writeFileSync(join(dir, 'memory.swap.max'), '0');
        } catch (error) {
          // No swap accounting (no memory.swap.max): memory.max alone applies.
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
        break;
      case 'pids':
        writeFileSync(join(dir, 'pids.max'), String(limits.pids));
        break;
      case 'cpu':
        writeFileSync(join(dir, 'cpu.max'), `${cpuQuotaUs(limits.cpu ?? 1, CPU_PERIOD_US)} ${CPU_PERIOD_US}`);
        break;
    }
  }
}

/**
 * Moves process `pid` (the launcher, before bwrap builds anything) into the group. Asynchronous:
 * the kernel's threadgroup lock behind cgroup.procs can wait for an RCU grace period, and that
 * wait must not block warden's event loop.
 */
export async function enrolV2(dir: string, pid: number): Promise<void> {
  await writeFile(join(dir, 'cgroup.procs'), String(pid));
  // The kernel accepts the write for a pid that already exited; check that it moved.
  const members = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  if (!members.split('\n').includes(String(pid))) throw new Error(`process ${pid} is not in ${dir} after the move`);
}

/** The v2 files whose counters say a limit was enforced: [file, key]. */
export const V2_COUNTERS: Readonly<Record<CgroupController, readonly [string, string]>> = {
  memory: ['memory.events', 'oom_kill'],
  pids: ['pids.events', 'max'],
  cpu: ['cpu.stat', 'nr_throttled'],
};
