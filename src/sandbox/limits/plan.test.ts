import { describe, expect, it } from 'vitest';
import { isWardenError } from '../../core/errors.js';
import type { CgroupController } from '../host.js';
import { planLimits } from './plan.js';
import type { LimitsProbe, V1Place, V2Place } from './probe.js';

const LIMITS = { memoryBytes: 4 * 1024 ** 3, pids: 1024, cpu: 1.5 } as const;
const NOT_DELEGATED: V1Place = { reason: 'no cgroup v1 subtree is delegated to uid 1002' };

function probe(options: {
  uid?: number;
  version?: 'v1' | 'v2' | 'none';
  v1?: Partial<Record<CgroupController, V1Place>>;
  v2?: V2Place;
}): LimitsProbe {
  const version = options.version ?? 'v1';
  return {
    uid: options.uid ?? 1002,
    layout: { version, mounts: {}, unified: version === 'none' ? null : '/sys/fs/cgroup' },
    v1: {
      memory: options.v1?.memory ?? NOT_DELEGATED,
      pids: options.v1?.pids ?? NOT_DELEGATED,
      cpu: options.v1?.cpu ?? NOT_DELEGATED,
    },
    v2: options.v2 ?? { usable: false, reason: "warden's cgroup /user.slice/session-2.scope is not delegated" },
  };
}

const v1All = {
  memory: { parent: '/cg/memory/warden' },
  pids: { parent: '/cg/pids/warden' },
  cpu: { parent: '/cg/cpu/warden' },
};

const v2Delegated = (controllers: CgroupController[]): V2Place => ({
  usable: true,
  kind: 'delegated',
  mount: '/sys/fs/cgroup',
  parent: '/sys/fs/cgroup/user.slice/run-1.scope',
  controllers,
  split: true,
});

function refusal(fn: () => unknown): { code: string; message: string; hint: string | undefined } {
  try {
    fn();
  } catch (error) {
    if (isWardenError(error)) return { code: error.code, message: error.message, hint: error.hint };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('planLimits', () => {
  it('cgroup v1 holds every limit for the whole sandbox where the host offers it', () => {
    const plan = planLimits(probe({ v1: v1All }), LIMITS, 'required');
    expect(plan.enforcement).toEqual([
      { limit: 'memory', value: LIMITS.memoryBytes, by: 'cgroup-v1', scope: 'sandbox' },
      { limit: 'pids', value: 1024, by: 'cgroup-v1', scope: 'sandbox' },
      { limit: 'cpu', value: 1.5, by: 'cgroup-v1', scope: 'sandbox' },
    ]);
    expect([...plan.v1.entries()]).toEqual([
      ['memory', '/cg/memory/warden'],
      ['pids', '/cg/pids/warden'],
      ['cpu', '/cg/cpu/warden'],
    ]);
    expect(plan.v2).toBeNull();
    expect(plan.rlimits).toEqual({ dataBytes: null, nproc: null });
  });

  it('cgroup v2 holds the controllers its delegated cgroup offers, in one run group', () => {
    const plan = planLimits(
      probe({ version: 'v2', v1: {}, v2: v2Delegated(['memory', 'pids', 'cpu']) }),
      LIMITS,
      'required',
    );
    expect(plan.enforcement.map((e) => e.by)).toEqual(['cgroup-v2', 'cgroup-v2', 'cgroup-v2']);
    expect(plan.v2).toEqual({
      parent: '/sys/fs/cgroup/user.slice/run-1.scope',
      controllers: ['memory', 'pids', 'cpu'],
    });
    expect(plan.v1.size).toBe(0);
  });

  it('without cgroups, memory falls back to RLIMIT_DATA per process, pids to RLIMIT_NPROC, cpu to nothing', () => {
    const plan = planLimits(probe({}), LIMITS, 'best-effort');
    expect(plan.enforcement.map((e) => [e.limit, e.by, e.scope])).toEqual([
      ['memory', 'rlimit', 'process'],
      ['pids', 'rlimit', 'sandbox'],
      ['cpu', 'none', 'none'],
    ]);
    expect(plan.rlimits).toEqual({ dataBytes: LIMITS.memoryBytes, nproc: 1024 });
    expect(plan.enforcement[2]?.note).toBe('no cgroup cpu controller: no cgroup v1 subtree is delegated to uid 1002');
  });

  it('a v2 cgroup without the cpu controller (systemd < 252) holds memory and pids; cpu is not enforced', () => {
    const plan = planLimits(probe({ version: 'v2', v2: v2Delegated(['memory', 'pids']) }), LIMITS, 'best-effort');
    expect(plan.enforcement.map((e) => e.by)).toEqual(['cgroup-v2', 'cgroup-v2', 'none']);
    expect(plan.enforcement[2]?.note).toMatch(
      /cgroup v2 does not offer it in \/sys\/fs\/cgroup\/user\.slice\/run-1\.scope/,
    );
  });

  it('mixes backends per limit: what one hierarchy lacks, the next holds', () => {
    const plan = planLimits(
      probe({ v1: { memory: { parent: '/cg/memory/warden' } }, v2: v2Delegated(['pids']) }),
      LIMITS,
      'best-effort',
    );
    expect(plan.enforcement.map((e) => e.by)).toEqual(['cgroup-v1', 'cgroup-v2', 'none']);
  });

  it('required refuses with every limit a cgroup cannot hold for the whole sandbox, and the fix', () => {
    const refused = refusal(() => planLimits(probe({}), LIMITS, 'required'));
    expect(refused.code).toBe('LIMITS_UNAVAILABLE');
    expect(refused.message).toBe(
      'resource limits cannot be enforced for the whole sandbox: memory (only per process, through an rlimit: no cgroup memory controller: no cgroup v1 subtree is delegated to uid 1002); cpu (no cgroup cpu controller: no cgroup v1 subtree is delegated to uid 1002)',
    );
    expect(refused.hint).toMatch(/scripts\/setup\.sh --delegate-user/);
    expect(refused.hint).toMatch(/--accept-missing-limits/);
  });

  it('RLIMIT_NPROC in the sandbox user namespace counts as the whole sandbox, so pids alone never refuses', () => {
    const plan = planLimits(probe({ v1: { memory: v1All.memory, cpu: v1All.cpu } }), LIMITS, 'required');
    expect(plan.enforcement.map((e) => e.by)).toEqual(['cgroup-v1', 'rlimit', 'cgroup-v1']);
  });

  it('on a cgroup v2 host the fix for an ordinary user is systemd delegation', () => {
    const refused = refusal(() => planLimits(probe({ version: 'v2' }), LIMITS, 'required'));
    expect(refused.hint).toMatch(/systemd-run --user --scope -p Delegate=yes/);
    expect(refused.message).toMatch(/not delegated/);
  });

  it('a limit that is not asked for is not planned', () => {
    const plan = planLimits(probe({}), { memoryBytes: null, pids: null, cpu: null }, 'required');
    expect(plan.enforcement).toEqual([]);
    expect(plan.rlimits).toEqual({ dataBytes: null, nproc: null });
  });
});
