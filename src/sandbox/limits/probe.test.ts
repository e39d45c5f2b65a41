import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeCgroupfs } from '../../../test/kits/cgroupfs.js';
import { probeLimits, SUPERVISOR_LEAF } from './probe.js';

const isRoot = process.getuid?.() === 0;
const USER = 4321;
let fs: FakeCgroupfs;

beforeEach(() => {
  fs = new FakeCgroupfs();
});
afterEach(() => fs.remove());

describe('probeLimits, cgroup v2 as root', () => {
  it('run groups go in <mount>/warden, with the controllers the root offers', () => {
    fs.cgroup('', { controllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'], subtree: ['cpu', 'memory', 'pids'] });
    const probe = probeLimits(0, {
      mountinfo: fs.mountinfo(),
      selfCgroup: fs.selfCgroup('/user.slice/session-1.scope'),
    });
    expect(probe.layout.version).toBe('v2');
    expect(probe.v2).toEqual({
      usable: true,
      kind: 'root',
      mount: fs.root,
      parent: join(fs.root, 'warden'),
      controllers: ['memory', 'pids', 'cpu'],
      split: false,
    });
    expect(probe.v1.memory).toEqual({ reason: 'cgroup v1 is not mounted on this host' });
  });

  it("in a container's cgroup namespace whose root holds processes, only controllers enabled already count", () => {
    fs.cgroup('', { controllers: ['memory', 'pids', 'cpu'], subtree: ['pids'], procs: [1, 7] });
    // cgroup.type exists on every cgroup but the host's root: this root is a namespace's.
    writeFileSync(join(fs.root, 'cgroup.type'), 'domain\n');
    const probe = probeLimits(0, { mountinfo: fs.mountinfo() });
    expect(probe.v2.usable && probe.v2.controllers).toEqual(['pids']);
  });

  it("the host's root cgroup may hold processes: it can enable everything it offers", () => {
    fs.cgroup('', { controllers: ['memory', 'pids', 'cpu'], subtree: [], procs: [1, 7] });
    const probe = probeLimits(0, { mountinfo: fs.mountinfo() });
    expect(probe.v2.usable && probe.v2.controllers).toEqual(['memory', 'pids', 'cpu']);
  });
});

describe.skipIf(!isRoot)('probeLimits, cgroup v2 as an ordinary user (needs root to chown the fake tree)', () => {
  const scope = '/user.slice/user-4321.slice/user@4321.service/app.slice/run-r1.scope';

  it("uses warden's own cgroup when the user owns it and warden is alone in it (systemd-run --scope -p Delegate=yes)", () => {
    const dir = fs.cgroup(scope, { controllers: ['memory', 'pids', 'cpu'], procs: [555], owner: USER });
    const probe = probeLimits(USER, { mountinfo: fs.mountinfo(), selfCgroup: fs.selfCgroup(scope), pid: 555 });
    expect(probe.v2).toEqual({
      usable: true,
      kind: 'delegated',
      mount: fs.root,
      parent: dir,
      controllers: ['memory', 'pids', 'cpu'],
      split: true,
    });
  });

  it('a cgroup of root (a login session) is not delegated: the reason names it and the systemd fix', () => {
    fs.cgroup('/user.slice/user-4321.slice/session-2.scope', { controllers: ['memory', 'pids'], procs: [555] });
    const probe = probeLimits(USER, {
      mountinfo: fs.mountinfo(),
      selfCgroup: fs.selfCgroup('/user.slice/user-4321.slice/session-2.scope'),
      pid: 555,
    });
    expect(probe.v2).toEqual({
      usable: false,
      reason:
        "warden's cgroup /user.slice/user-4321.slice/session-2.scope is not delegated to uid 4321 (start warden under `systemd-run --user --scope -p Delegate=yes`)",
    });
  });

  it('a cgroup the user owns but shares with other processes (an app scope) is not taken over', () => {
    fs.cgroup(scope, { controllers: ['memory', 'pids'], procs: [555, 556, 700], owner: USER });
    const probe = probeLimits(USER, { mountinfo: fs.mountinfo(), selfCgroup: fs.selfCgroup(scope), pid: 555 });
    expect(probe.v2.usable).toBe(false);
    expect(!probe.v2.usable && probe.v2.reason).toMatch(/holds 2 other processes/);
  });

  it('already in the supervisor leaf (split before): run groups go beside it, no second move', () => {
    const parent = fs.cgroup(scope, { controllers: ['memory', 'pids', 'cpu'], subtree: ['memory'], owner: USER });
    fs.cgroup(`${scope}/${SUPERVISOR_LEAF}`, { procs: [555], owner: USER });
    const probe = probeLimits(USER, {
      mountinfo: fs.mountinfo(),
      selfCgroup: fs.selfCgroup(`${scope}/${SUPERVISOR_LEAF}`),
      pid: 555,
    });
    expect(probe.v2).toMatchObject({ usable: true, parent, split: false });
  });

  it('an odd /proc/self/cgroup (deleted cgroup, .., no v2 line) gives no v2 placement', () => {
    for (const text of ['0::/a/b (deleted)\n', '0::/a/../b\n', '1:memory:/x\n']) {
      const file = join(fs.root, '.odd');
      writeFileSync(file, text);
      const probe = probeLimits(USER, { mountinfo: fs.mountinfo(), selfCgroup: file, pid: 555 });
      expect(probe.v2).toEqual({ usable: false, reason: 'warden is not in a cgroup v2 hierarchy' });
    }
  });
});

describe.skipIf(!isRoot)('probeLimits, cgroup v1', () => {
  it('an ordinary user uses the subtree delegated to them; without one each controller says why', () => {
    const memory = join(fs.root, 'v1', 'memory');
    const pids = join(fs.root, 'v1', 'pids');
    mkdirSync(join(memory, 'warden', `user-${USER}`), { recursive: true });
    mkdirSync(pids, { recursive: true });
    chownSync(join(memory, 'warden', `user-${USER}`), USER, USER);
    const probe = probeLimits(USER, { mountinfo: fs.mountinfo({ memory, pids }), selfCgroup: fs.selfCgroup('/') });
    expect(probe.layout.version).toBe('v1');
    expect(probe.v1.memory).toEqual({ parent: join(memory, 'warden', `user-${USER}`) });
    expect(probe.v1.pids).toEqual({ reason: `no cgroup v1 subtree is delegated to uid ${USER}` });
    expect(probe.v1.cpu).toEqual({ reason: 'the cgroup v1 cpu controller is not mounted' });
  });

  it('root makes <mount>/warden', () => {
    const memory = join(fs.root, 'v1', 'memory');
    mkdirSync(memory, { recursive: true });
    const probe = probeLimits(0, { mountinfo: fs.mountinfo({ memory }) });
    expect(probe.v1.memory).toEqual({ parent: join(memory, 'warden') });
  });
});
