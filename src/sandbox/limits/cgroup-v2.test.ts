/**
 * The cgroup v2 backend against a directory tree that imitates cgroupfs (this host's kernel has no
 * v2 controllers to give): what warden writes where, and how it reads the kernel's counters.
 * test/integration/limits.test.ts drives the same code against the real cgroup2 mount.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeCgroupfs } from '../../../test/kits/cgroupfs.js';
import { CgroupV2Parent, enrolV2, writeV2Limits } from './cgroup-v2.js';
import type { V2Place } from './probe.js';
import { SUPERVISOR_LEAF } from './probe.js';
import { LimitsHost, RunLimits } from './run-limits.js';

const LIMITS = { memoryBytes: 512 * 1024 ** 2, pids: 256, cpu: 1.5 } as const;
let fs: FakeCgroupfs;

beforeEach(() => {
  fs = new FakeCgroupfs();
});
afterEach(() => fs.remove());

const read = (path: string): string => readFileSync(path, 'utf8').trim();

function rootPlace(): Extract<V2Place, { usable: true }> {
  fs.cgroup('', { controllers: ['cpu', 'io', 'memory', 'pids'], subtree: ['memory'] });
  return {
    usable: true,
    kind: 'root',
    mount: fs.root,
    parent: join(fs.root, 'warden'),
    controllers: ['memory', 'pids', 'cpu'],
    split: false,
  };
}

function hostWith(place: V2Place): LimitsHost {
  return new LimitsHost(
    {
      uid: 0,
      layout: { version: 'v2', mounts: {}, unified: fs.root },
      v1: {
        memory: { reason: 'cgroup v1 is not mounted on this host' },
        pids: { reason: 'cgroup v1 is not mounted on this host' },
        cpu: { reason: 'cgroup v1 is not mounted on this host' },
      },
      v2: place,
    },
    'required',
  );
}

describe('CgroupV2Parent', () => {
  it('as root: makes <mount>/warden and enables only the missing controllers, top down', () => {
    const place = rootPlace();
    new CgroupV2Parent(place).prepare(['memory', 'pids', 'cpu']);
    expect(existsSync(place.parent)).toBe(true);
    // The root had memory already: only pids and cpu are written (the kernel adds them).
    expect(read(join(fs.root, 'cgroup.subtree_control'))).toBe('+pids +cpu');
    expect(read(join(place.parent, 'cgroup.subtree_control'))).toBe('+memory +pids +cpu');
  });

  it('as an ordinary user: moves warden into the supervisor leaf once, then enables controllers on its own cgroup', () => {
    const own = fs.cgroup('user.slice/app.slice/run-1.scope', {
      controllers: ['memory', 'pids', 'cpu'],
      procs: [4242],
    });
    const parent = new CgroupV2Parent(
      {
        usable: true,
        kind: 'delegated',
        mount: fs.root,
        parent: own,
        controllers: ['memory', 'pids', 'cpu'],
        split: true,
      },
      4242,
    );
    parent.prepare(['memory']);
    expect(read(join(own, SUPERVISOR_LEAF, 'cgroup.procs'))).toBe('4242');
    expect(read(join(own, 'cgroup.subtree_control'))).toBe('+memory');
    // A second sandbox: no second move, only what is still missing is enabled.
    writeFileSync(join(own, SUPERVISOR_LEAF, 'cgroup.procs'), 'untouched');
    parent.prepare(['memory', 'pids']);
    expect(read(join(own, SUPERVISOR_LEAF, 'cgroup.procs'))).toBe('untouched');
    expect(read(join(own, 'cgroup.subtree_control'))).toBe('+pids');
  });
});

describe('writeV2Limits', () => {
  it('memory.max, no swap (memory.swap.max 0), pids.max, cpu.max as quota and period', () => {
    const dir = fs.cgroup('run');
    for (const file of ['memory.max', 'memory.swap.max', 'pids.max', 'cpu.max']) writeFileSync(join(dir, file), 'max');
    writeV2Limits(dir, LIMITS, ['memory', 'pids', 'cpu']);
    expect(read(join(dir, 'memory.max'))).toBe(String(512 * 1024 ** 2));
    expect(read(join(dir, 'memory.swap.max'))).toBe('0');
    expect(read(join(dir, 'pids.max'))).toBe('256');
    expect(read(join(dir, 'cpu.max'))).toBe('150000 100000');
  });

  it('only the controllers the group holds', () => {
    const dir = fs.cgroup('run');
    writeV2Limits(dir, LIMITS, ['pids']);
    expect(existsSync(join(dir, 'pids.max'))).toBe(true);
    expect(existsSync(join(dir, 'memory.max'))).toBe(false);
    expect(existsSync(join(dir, 'cpu.max'))).toBe(false);
  });
});

describe('RunLimits with cgroup v2', () => {
  it('makes one run group under the parent, says cgroup v2 holds each limit, and tells the launcher nothing to join', () => {
    const place = rootPlace();
    const limits = RunLimits.create(hostWith(place), {
      runId: 'run_test1',
      limits: LIMITS,
      wardenUid: 0,
      enrolUid: 999,
      enrolGid: 999,
      acceptMissing: false,
    });
    const dir = join(place.parent, 'run_test1');
    expect(limits.directories).toEqual([dir]);
    expect(limits.cgroupControllers).toEqual(['memory', 'pids', 'cpu']);
    expect(limits.enforcement.map((e) => e.by)).toEqual(['cgroup-v2', 'cgroup-v2', 'cgroup-v2']);
    expect(limits.launcherEnrolFiles).toEqual([]);
    expect(limits.initArgs).toEqual([]);
    expect(read(join(dir, 'pids.max'))).toBe('256');
  });

  it("reads the kernel's counters: memory.events oom_kill, pids.events max, cpu.stat nr_throttled", () => {
    const place = rootPlace();
    const limits = RunLimits.create(hostWith(place), {
      runId: 'run_test2',
      limits: LIMITS,
      wardenUid: 0,
      enrolUid: 999,
      enrolGid: 999,
      acceptMissing: false,
    });
    const dir = join(place.parent, 'run_test2');
    expect(limits.limitsHit()).toEqual([]);
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n');
    writeFileSync(join(dir, 'pids.events'), 'max 3\n');
    writeFileSync(join(dir, 'cpu.stat'), 'usage_usec 100\nnr_periods 9\nnr_throttled 4\nthrottled_usec 7\n');
    expect(limits.limitsHit()).toEqual(['memory', 'pids', 'cpu']);
    // memory.events "max" counts reclaim at the limit, not a kill: only oom_kill is a hit.
    writeFileSync(join(dir, 'memory.events'), 'max 40\noom 0\noom_kill 0\n');
    expect(limits.limitsHit()).toEqual(['pids', 'cpu']);
  });

  it('enrols the launcher by moving its pid into cgroup.procs, and fails closed when it is not there after', async () => {
    const dir = fs.cgroup('run');
    await enrolV2(dir, 31337);
    expect(read(join(dir, 'cgroup.procs'))).toBe('31337');
    // A cgroup.procs that does not list the pid afterwards (the kernel refused silently) is an error.
    const missing = join(fs.root, 'not-a-cgroup');
    await expect(enrolV2(missing, 31337)).rejects.toThrow();
  });

  it('a controller the parent cannot enable refuses the run with LIMITS_UNAVAILABLE and leaves nothing behind', () => {
    const place = rootPlace();
    // The kernel answers EBUSY here; a directory in place of the file makes the write fail too.
    const host = hostWith({ ...place, parent: join(fs.root, 'blocked') });
    fs.cgroup('blocked');
    rmSync(join(fs.root, 'blocked', 'cgroup.subtree_control'));
    mkdirSync(join(fs.root, 'blocked', 'cgroup.subtree_control'));
    expect(() =>
      RunLimits.create(host, {
        runId: 'run_test3',
        limits: LIMITS,
        wardenUid: 0,
        enrolUid: 999,
        enrolGid: 999,
        acceptMissing: false,
      }),
    ).toThrow(/could not create the run's cgroups: cannot enable memory, pids, cpu in/);
    expect(existsSync(join(fs.root, 'blocked', 'run_test3'))).toBe(false);
  });
});
