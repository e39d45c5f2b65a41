/**
 * cgroup v1 (memory, pids, cpu, each its own hierarchy): one group per run and controller, under
 * the parent the probe found (`<mount>/warden` for root, the delegated `<mount>/warden/user-<uid>`
 * otherwise). The sandbox launcher enrols itself: it writes 0 ("this thread") into each group's
 * `tasks` before it becomes bwrap, so no process of the sandbox ever runs outside the groups.
 *
 * Why `tasks` and 0 rather than its pid into cgroup.procs: moving a whole process takes the
 * kernel's global threadgroup lock, whose first writer waits for an RCU grace period (measured
 * here: 2 ms typical, 11-13 ms under load, for three groups); moving the writing thread itself
 * skips that lock (Linux >= 6.1). The launcher is a single-threaded shell, so its thread is the
 * whole process, and everything it starts inherits the groups.
 */
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupController } from '../host.js';
import type { ResourceLimits } from '../spec.js';

const CPU_PERIOD_US = 100_000;

/** A v1 group of one run. */
export interface V1Group {
  readonly controller: CgroupController;
  readonly dir: string;
}

/**
 * Makes the run's v1 groups and writes the limits; `made` receives each directory as soon as it
 * exists, so the caller can remove them if a later step throws.
 */
export function createV1Groups(options: {
  readonly parents: ReadonlyMap<CgroupController, string>;
  readonly runId: string;
  readonly limits: ResourceLimits;
  readonly wardenUid: number;
  readonly enrolUid: number;
  readonly enrolGid: number;
  readonly made: (group: V1Group) => void;
}): void {
  for (const [controller, parent] of options.parents) {
    if (options.wardenUid === 0) mkdirSync(parent, { recursive: true });
    const dir = join(parent, options.runId);
    mkdirSync(dir);
    options.made({ controller, dir });
    writeV1Limit(dir, controller, options.limits);
    // Under root the launcher runs as the sandbox user, and enrols itself through `tasks`.
    if (options.enrolUid !== options.wardenUid) chownSync(join(dir, 'tasks'), options.enrolUid, options.enrolGid);
  }
}

function writeV1Limit(dir: string, controller: CgroupController, limits: ResourceLimits): void {
  switch (controller) {
    case 'memory': {
      const bytes = String(limits.memoryBytes);
      writeFileSync(join(dir, 'memory.limit_in_bytes'), bytes);
      // With swap accounting, also cap memory+swap, or the sandbox could swap past its limit.
      try {
        writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), bytes);
      } catch {
        // no swap accounting on this kernel: the memory limit alone applies
      }
      break;
    }
    case 'pids':
      writeFileSync(join(dir, 'pids.max'), String(limits.pids));
      break;
    case 'cpu':
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(cpuQuotaUs(limits.cpu ?? 1, CPU_PERIOD_US)));
      break;
  }
}

/** The CFS quota for `cores` over `periodUs` (at least 1 ms, the kernel's minimum). */
export function cpuQuotaUs(cores: number, periodUs: number): number {
  return Math.max(1000, Math.round(cores * periodUs));
}

/** The v1 files whose counters say a limit was enforced: [file, key]. */
export const V1_COUNTERS: Readonly<Record<CgroupController, readonly [string, string]>> = {
  memory: ['memory.oom_control', 'oom_kill'],
  pids: ['pids.events', 'max'],
  cpu: ['cpu.stat', 'nr_throttled'],
};
