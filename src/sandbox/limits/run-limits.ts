/**
 * The limits of one sandbox, whatever holds them: the run's cgroups (v1 and/or v2) and the rlimits
 * the in-sandbox init sets. The sandbox backend (bwrap.ts) asks it what the launcher and the init
 * must do, enrols the launcher, reads which limits were hit, and kills and removes what is left.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LimitKind } from '../../core/events.js';
import type { LimitEnforcement, LimitsPolicy } from '../../core/limits.js';
import { WardenError } from '../../core/errors.js';
import type { CgroupController } from '../host.js';
import type { ResourceLimits } from '../spec.js';
import { groupPids, killGroups, readCounter, removeGroups } from './cgroup-dir.js';
import { createV1Groups, V1_COUNTERS } from './cgroup-v1.js';
import { CgroupV2Parent, enrolV2, V2_COUNTERS, writeV2Limits } from './cgroup-v2.js';
import { limitsFix, planLimits, type LimitsPlan } from './plan.js';
import { probeLimits, type LimitsProbe, type ProbeSources } from './probe.js';

/** What this host offers for limits, probed once per warden process, plus the v2 parent it prepares. */
export class LimitsHost {
  #v2Parent: CgroupV2Parent | null = null;

  constructor(
    readonly probe: LimitsProbe,
    /** Whether a sandbox whose limits cannot all be held for the whole sandbox may run. */
    readonly policy: LimitsPolicy,
  ) {}

  /** Probes this host for `uid` (cheap: a few small reads); `full` also when v1 holds everything (doctor). */
  static probe(uid: number, policy: LimitsPolicy, sources: ProbeSources = {}, full = false): LimitsHost {
    return new LimitsHost(probeLimits(uid, sources, full), policy);
  }

  /** The same host with another policy (e.g. `--accept-missing-limits` for one run). */
  withPolicy(policy: LimitsPolicy): LimitsHost {
    if (policy === this.policy) return this;
    const other = new LimitsHost(this.probe, policy);
    other.#v2Parent = this.v2Parent();
    return other;
  }

  /** Plans a sandbox's limits without creating anything (LIMITS_UNAVAILABLE under `required`). */
  plan(limits: ResourceLimits, policy: LimitsPolicy = this.policy): LimitsPlan {
    return planLimits(this.probe, limits, policy);
  }

  /** The prepared-once v2 parent, or null when v2 is not usable here. */
  v2Parent(): CgroupV2Parent | null {
    if (this.#v2Parent === null && this.probe.v2.usable) this.#v2Parent = new CgroupV2Parent(this.probe.v2);
    return this.#v2Parent;
  }
}

interface Group {
  readonly version: 1 | 2;
  readonly dir: string;
  readonly controllers: readonly CgroupController[];
}

/** The limits of one sandbox. Create with {@link RunLimits.create}; always `destroy()` in a finally. */
export class RunLimits {
  private constructor(
    private readonly groups: Group[],
    /** How each requested limit is held. */
    readonly enforcement: readonly LimitEnforcement[],
    private readonly rlimits: LimitsPlan['rlimits'],
  ) {}

  /**
   * Plans and creates a sandbox's limits: the run's cgroups with their limits written. Throws
   * LIMITS_UNAVAILABLE when a limit cannot be held and `acceptMissing` is false, or when a cgroup
   * cannot be made. `enrolUid` is the uid the launcher runs as (the sandbox user under root).
   */
  static create(
    host: LimitsHost,
    options: {
      readonly runId: string;
      readonly limits: ResourceLimits;
      readonly wardenUid: number;
      readonly enrolUid: number;
      readonly enrolGid: number;
      readonly acceptMissing: boolean;
    },
  ): RunLimits {
    const plan = host.plan(options.limits, options.acceptMissing ? 'best-effort' : 'required');
    const groups: Group[] = [];
    const created = new RunLimits(groups, plan.enforcement, plan.rlimits);
    try {
      createV1Groups({
        parents: plan.v1,
        runId: options.runId,
        limits: options.limits,
        wardenUid: options.wardenUid,
        enrolUid: options.enrolUid,
        enrolGid: options.enrolGid,
        made: (group) => groups.push({ version: 1, dir: group.dir, controllers: [group.controller] }),
      });
      if (plan.v2 !== null) {
        const parent = host.v2Parent();
        if (parent === null) throw new Error('cgroup v2 is not usable');
        parent.prepare(plan.v2.controllers);
        const dir = join(parent.dir, options.runId);
        mkdirSync(dir);
        groups.push({ version: 2, dir, controllers: plan.v2.controllers });
        writeV2Limits(dir, options.limits, plan.v2.controllers);
      }
    } catch (error) {
      removeGroups(groups.map((g) => g.dir));
      if (error instanceof WardenError) throw error;
      throw new WardenError('LIMITS_UNAVAILABLE', `could not create the run's cgroups: ${(error as Error).message}`, {
        hint: limitsFix(host.probe),
        cause: error,
      });
    }
    return created;
  }

  /** Reattaches to groups a dead warden recorded (see `directories`), to empty and remove them. */
  static fromDirectories(dirs: readonly string[]): RunLimits {
    return new RunLimits(
      dirs.map((dir) => ({ version: 1, dir, controllers: [] })),
      [],
      { dataBytes: null, nproc: null },
    );
  }

  /** The group directories, for the crash-recovery record. */
  get directories(): string[] {
    return this.groups.map((g) => g.dir);
  }

  /** Controllers held by a cgroup for this sandbox. */
  get cgroupControllers(): CgroupController[] {
    return this.groups.flatMap((g) => g.controllers);
  }

  /** The v1 `tasks` files the launcher writes 0 into (enrolling its own, only thread). */
  get launcherEnrolFiles(): string[] {
    return this.groups.filter((g) => g.version === 1).map((g) => join(g.dir, 'tasks'));
  }

  /** Arguments for the in-sandbox init: the rlimits it sets before the command runs. */
  get initArgs(): string[] {
    const args: string[] = [];
    if (this.rlimits.dataBytes !== null) args.push('--rlimit', 'data', String(this.rlimits.dataBytes));
    if (this.rlimits.nproc !== null) args.push('--rlimit', 'nproc', String(this.rlimits.nproc));
    return args;
  }

  /**
   * Enrols the launcher (pid) where warden must move it itself: the v2 group. Resolves at once
   * when there is none. Rejects with LIMITS_UNAVAILABLE when the move fails.
   */
  async enrol(pid: number): Promise<void> {
    for (const group of this.groups) {
      if (group.version !== 2) continue;
      try {
        await enrolV2(group.dir, pid);
      } catch (error) {
        throw new WardenError(
          'LIMITS_UNAVAILABLE',
          `could not move the sandbox into its cgroup ${group.dir}: ${(error as Error).message}`,
          { hint: 'run `warden doctor`', cause: error },
        );
      }
    }
  }

  /** Limit kinds the kernel's counters show as enforced (rlimits keep no count). */
  limitsHit(): LimitKind[] {
    const hit: LimitKind[] = [];
    for (const group of this.groups) {
      for (const controller of group.controllers) {
        const [file, key] = (group.version === 1 ? V1_COUNTERS : V2_COUNTERS)[controller];
        if (readCounter(group.dir, file, key) > 0) hit.push(controller);
      }
    }
    return hit;
  }

  /** Host pids still in the run's groups. */
  pids(): number[] {
    return [...new Set(this.groups.flatMap((g) => groupPids(g.dir)))];
  }

  /** SIGKILLs every process in the groups, until none is left or the deadline passes. */
  killAll(deadlineMs = 2000): Promise<number> {
    return killGroups(
      this.groups.map((g) => g.dir),
      deadlineMs,
    );
  }

  /**
   * Kills what is left and removes the groups (retrying while the kernel still reaps). `remaining`
   * counts the groups that could not be removed in time (processes still exiting on a busy host).
   */
  async destroy(): Promise<{ leftover: number; remaining: number }> {
    const leftover = this.pids().length;
    if (leftover > 0) await this.killAll();
    let left = this.groups.map((g) => g.dir);
    for (let attempt = 0; attempt < 50 && left.length > 0; attempt++) {
      left = removeGroups(left);
      if (left.length > 0) await sleep(20);
    }
    this.groups.splice(0, this.groups.length, ...this.groups.filter((g) => left.includes(g.dir)));
    return { leftover, remaining: left.length };
  }
}
