/**
 * Resource limits with cgroup v1 (memory, pids, cpu): one group per run and controller.
 *
 * Root creates `<mount>/warden/<run>`. An ordinary user gets `<mount>/warden/user-<uid>/<run>`
 * inside a subtree that `scripts/setup.sh` delegated to them (chowned), so ordinary-user runs are
 * limited too. The sandbox launcher enrols itself (it writes 0, "this thread", into each group's
 * `tasks` before it becomes bwrap), so no process of the sandbox ever runs outside the groups.
 *
 * Why `tasks` and 0 rather than its pid into cgroup.procs: moving a whole process takes the
 * kernel's global threadgroup lock, whose first writer waits for an RCU grace period (measured
 * here: 2 ms typical, 11-13 ms under load, for three groups); moving the writing thread itself
 * skips that lock (Linux >= 6.1). The launcher is a single-threaded shell, so its thread is the
 * whole process, and everything it starts inherits the groups.
 */
import { chownSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LimitKind } from '../core/events.js';
import { WardenError } from '../core/errors.js';
import { CGROUP_CONTROLLERS, type CgroupController, type CgroupLayout } from './host.js';
import type { ResourceLimits } from './spec.js';

const CPU_PERIOD_US = 100_000;

export interface CgroupCounters {
  readonly oomKills: number;
  readonly pidsMaxHits: number;
  readonly cpuThrottledPeriods: number;
}

/** Where this user's run groups live under a controller mount. */
export function cgroupParent(mount: string, uid: number): string {
  return uid === 0 ? join(mount, 'warden') : join(mount, 'warden', `user-${uid}`);
}

/** Which limited controllers this host lacks for this user (empty when all are usable). */
export function missingControllers(layout: CgroupLayout, limits: ResourceLimits, uid: number): CgroupController[] {
  return requiredControllers(limits).filter((controller) => {
    const mount = layout.mounts[controller];
    if (mount === undefined) return true;
    if (uid === 0) return false;
    // Ordinary users need the delegated subtree (owned by them) that setup creates.
    try {
      return statSync(cgroupParent(mount, uid)).uid !== uid;
    } catch {
      return true;
    }
  });
}

function requiredControllers(limits: ResourceLimits): CgroupController[] {
  return CGROUP_CONTROLLERS.filter(
    (c) => (c === 'memory' ? limits.memoryBytes : c === 'pids' ? limits.pids : limits.cpu) !== null,
  );
}

/** The cgroups of one run. Create with {@link RunCgroups.create}; always `destroy()` in a finally. */
export class RunCgroups {
  private constructor(
    /** Group directory per controller that was created. */
    private readonly dirs: ReadonlyMap<CgroupController, string>,
  ) {}

  /**
   * Creates the run's groups and writes the limits. Controllers missing on this host are skipped
   * only when `acceptMissing` is true; otherwise this throws LIMITS_UNAVAILABLE naming them.
   * `enrolUid` is the uid that will enrol itself through `tasks` (the sandbox user under root).
   */
  static create(options: {
    readonly layout: CgroupLayout;
    readonly runId: string;
    readonly limits: ResourceLimits;
    readonly wardenUid: number;
    readonly enrolUid: number;
    readonly enrolGid: number;
    readonly acceptMissing: boolean;
  }): RunCgroups {
    const { layout, limits, wardenUid } = options;
    const missing = missingControllers(layout, limits, wardenUid);
    if (missing.length > 0 && !options.acceptMissing) {
      const why =
        layout.version === 'v2'
          ? 'this host uses cgroup v2 only, which this warden does not drive yet'
          : wardenUid === 0
            ? 'the cgroup v1 hierarchy is not mounted'
            : `no cgroup subtree is delegated to uid ${wardenUid}`;
      throw new WardenError('LIMITS_UNAVAILABLE', `resource limits unavailable for ${missing.join(', ')}: ${why}`, {
        hint:
          wardenUid === 0 || layout.version !== 'v1'
            ? 'pass --accept-missing-limits to run without them (the timeout still applies)'
            : `ask an admin to run \`scripts/setup.sh --delegate-user $(id -un)\`, or pass --accept-missing-limits to run without them`,
      });
    }
    const dirs = new Map<CgroupController, string>();
    const created = new RunCgroups(dirs);
    try {
      for (const controller of requiredControllers(limits)) {
        if (missing.includes(controller)) continue;
        const mount = layout.mounts[controller];
        if (mount === undefined) continue;
        const parent = cgroupParent(mount, wardenUid);
        if (wardenUid === 0) mkdirSync(parent, { recursive: true });
        const dir = join(parent, options.runId);
        mkdirSync(dir);
        dirs.set(controller, dir);
        writeLimit(dir, controller, limits);
        if (options.enrolUid !== wardenUid) chownSync(join(dir, 'tasks'), options.enrolUid, options.enrolGid);
      }
    } catch (error) {
      created.removeDirsSync();
      if (error instanceof WardenError) throw error;
      throw new WardenError('LIMITS_UNAVAILABLE', `could not create the run's cgroups: ${(error as Error).message}`, {
        hint: 'run `warden doctor`; pass --accept-missing-limits to run without limits',
        cause: error,
      });
    }
    return created;
  }

  /**
   * Reattaches to groups recorded by a warden that died (see `directories`), so they can be
   * emptied and removed.
   */
  static fromDirectories(directories: Readonly<Partial<Record<CgroupController, string>>>): RunCgroups {
    const dirs = new Map<CgroupController, string>();
    for (const controller of CGROUP_CONTROLLERS) {
      const dir = directories[controller];
      if (dir !== undefined) dirs.set(controller, dir);
    }
    return new RunCgroups(dirs);
  }

  /** The group directory per controller, for crash recovery records. */
  get directories(): Partial<Record<CgroupController, string>> {
    return Object.fromEntries(this.dirs);
  }

  /** Controllers in force for this run. */
  get controllers(): CgroupController[] {
    return [...this.dirs.keys()];
  }

  /** The `tasks` files the launcher writes 0 into (enrolling its own, only thread). */
  get enrolFiles(): string[] {
    return [...this.dirs.values()].map((dir) => join(dir, 'tasks'));
  }

  /** Kernel counters that say which limits were enforced. */
  counters(): CgroupCounters {
    const read = (controller: CgroupController, file: string): string => {
      const dir = this.dirs.get(controller);
      if (dir === undefined) return '';
      try {
        return readFileSync(join(dir, file), 'utf8');
      } catch {
        return '';
      }
    };
    const field = (text: string, name: string): number =>
      Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    return {
      oomKills: field(read('memory', 'memory.oom_control'), 'oom_kill'),
      pidsMaxHits: field(read('pids', 'pids.events'), 'max'),
      cpuThrottledPeriods: field(read('cpu', 'cpu.stat'), 'nr_throttled'),
    };
  }

  /** Limit kinds the counters show as enforced. */
  limitsHit(): LimitKind[] {
    const c = this.counters();
    const hit: LimitKind[] = [];
    if (c.oomKills > 0) hit.push('memory');
    if (c.pidsMaxHits > 0) hit.push('pids');
    if (c.cpuThrottledPeriods > 0) hit.push('cpu');
    return hit;
  }

  /** Host pids still in the run's groups. */
  pids(): number[] {
    for (const dir of this.dirs.values()) {
      try {
        return readFileSync(join(dir, 'cgroup.procs'), 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map(Number);
      } catch {
        // try another controller
      }
    }
    return [];
  }

  /** SIGKILLs every process in the groups, repeating until none is left or the deadline passes. */
  async killAll(deadlineMs = 2000): Promise<number> {
    const start = Date.now();
    let killed = 0;
    for (;;) {
      const pids = this.pids();
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

  /** Kills what is left and removes the groups (retrying while the kernel still reaps). */
  async destroy(): Promise<{ leftover: number }> {
    const leftover = this.pids().length;
    if (leftover > 0) await this.killAll();
    for (let attempt = 0; attempt < 50 && this.dirs.size > 0; attempt++) {
      this.removeDirsSync();
      if (this.dirs.size > 0) await sleep(20);
    }
    return { leftover };
  }

  private removeDirsSync(): void {
    const dirs = this.dirs as Map<CgroupController, string>;
    for (const [controller, dir] of dirs) {
      try {
        rmdirSync(dir);
        dirs.delete(controller);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') dirs.delete(controller);
      }
    }
  }
}

function writeLimit(dir: string, controller: CgroupController, limits: ResourceLimits): void {
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
      writeFileSync(
        join(dir, 'cpu.cfs_quota_us'),
        String(Math.max(1000, Math.round((limits.cpu ?? 1) * CPU_PERIOD_US))),
      );
      break;
  }
}
