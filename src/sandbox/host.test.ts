import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CGROUP_CONTROLLERS,
  cgroupLayout,
  findBinary,
  isTrustedBinary,
  lookupUser,
  parseBwrapVersion,
  userNamespacesEnabled,
} from './host.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-host-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string, mode = 0o644): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

describe('findBinary', () => {
  it('an override that is an executable file is used as is', () => {
    const bin = file('my-bwrap', '#!/bin/sh\n', 0o755);
    expect(findBinary('bwrap', bin)).toBe(bin);
  });

  it('an override that is not executable, missing, or a directory gives null (no fallback to the search)', () => {
    expect(findBinary('sh', file('not-exec', 'x', 0o644))).toBeNull();
    expect(findBinary('sh', join(dir, 'missing'))).toBeNull();
    mkdirSync(join(dir, 'adir'));
    expect(findBinary('sh', join(dir, 'adir'))).toBeNull();
  });

  it('SBX-18 an override that others can rewrite (group- or world-writable) is refused', () => {
    expect(findBinary('bwrap', file('group-w', '#!/bin/sh\n', 0o775))).toBeNull();
    expect(findBinary('bwrap', file('world-w', '#!/bin/sh\n', 0o757))).toBeNull();
  });

  it("SBX-18 a binary owned by another user is untrusted; root or warden's own user is trusted", () => {
    expect(isTrustedBinary(1234, 0o755, 0)).toBe(false);
    expect(isTrustedBinary(0, 0o755, 1234)).toBe(true);
    expect(isTrustedBinary(1234, 0o755, 1234)).toBe(true);
    expect(isTrustedBinary(0, 0o775, 0)).toBe(false);
  });

  it('an empty override means search the trusted directories', () => {
    expect(findBinary('sh', '')).toBe(findBinary('sh'));
    expect(findBinary('sh')).toMatch(/^\/(usr\/)?(local\/)?bin\/sh$/);
  });

  it('SBX-18 never searches $PATH', () => {
    const fake = join(dir, 'only-in-path-xyz');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    const saved = process.env.PATH;
    process.env.PATH = `${dir}:${saved ?? ''}`;
    try {
      expect(findBinary('only-in-path-xyz')).toBeNull();
    } finally {
      process.env.PATH = saved;
    }
  });

  it('a name not found anywhere gives null', () => {
    expect(findBinary('warden-no-such-binary-xyz')).toBeNull();
  });
});

describe('lookupUser', () => {
  const PASSWD = [
    'root:x:0:0:root:/root:/bin/bash',
    'warden:x:998:998::/home/warden:/bin/sh',
    'warden-sandbox:x:999:997:Warden sandbox:/nonexistent:/usr/sbin/nologin',
    'short:x:1000:1000',
    'badnum:x:abc:1000::/:/bin/sh',
    '',
  ].join('\n');

  it('finds a user by exact name and returns uid and gid', () => {
    const path = file('passwd', PASSWD);
    expect(lookupUser('warden-sandbox', path)).toEqual({ name: 'warden-sandbox', uid: 999, gid: 997 });
    expect(lookupUser('warden', path)).toEqual({ name: 'warden', uid: 998, gid: 998 });
    expect(lookupUser('root', path)).toEqual({ name: 'root', uid: 0, gid: 0 });
  });

  it('a prefix of a name is not a match', () => {
    const path = file('passwd', PASSWD);
    expect(lookupUser('warden-sand', path)).toBeNull();
    expect(lookupUser('roo', path)).toBeNull();
  });

  it('lines with too few fields or non-numeric ids are skipped', () => {
    const path = file('passwd', PASSWD);
    expect(lookupUser('short', path)).toBeNull();
    expect(lookupUser('badnum', path)).toBeNull();
  });

  it('a missing passwd file gives null', () => {
    expect(lookupUser('root', join(dir, 'nope'))).toBeNull();
  });

  it('a malformed entry with an empty uid or gid is not read as root (0)', () => {
    const path = file('passwd', 'warden-sandbox:x:::Warden:/nonexistent:/usr/sbin/nologin\n');
    const user = lookupUser('warden-sandbox', path);
    expect(user === null || (user.uid !== 0 && user.gid !== 0)).toBe(true);
  });

  it('ids must be plain decimal numbers (" 12", "0x10", "1e3" are malformed)', () => {
    const path = file(
      'passwd',
      ['a:x: 12:12::/:/bin/sh', 'b:x:0x10:16::/:/bin/sh', 'c:x:1e3:1000::/:/bin/sh', 'd:x:-1:1::/:/bin/sh'].join('\n'),
    );
    for (const name of ['a', 'b', 'c', 'd']) expect(lookupUser(name, path), name).toBeNull();
  });
});

describe('cgroupLayout', () => {
  const V2 =
    '35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
  const V1 = [
    '30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755',
    '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw',
    '33 30 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:7 - cgroup cgroup rw,memory',
    '34 30 0:30 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,pids',
    '35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct',
    '',
  ].join('\n');

  it('a unified hierarchy only is v2', () => {
    expect(cgroupLayout(file('mountinfo', V2))).toEqual({ version: 'v2', mounts: {}, unified: '/sys/fs/cgroup' });
  });

  it('legacy hierarchies are v1 with each controller mount point', () => {
    expect(cgroupLayout(file('mountinfo', V1))).toEqual({
      version: 'v1',
      mounts: { memory: '/sys/fs/cgroup/memory', pids: '/sys/fs/cgroup/pids', cpu: '/sys/fs/cgroup/cpu,cpuacct' },
      unified: '/sys/fs/cgroup/unified',
    });
  });

  it('controller names are matched exactly (cpuacct or cpuset alone is not cpu)', () => {
    const text =
      '40 30 0:32 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n41 30 0:33 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n';
    expect(cgroupLayout(file('mountinfo', text))).toEqual({ version: 'none', mounts: {}, unified: null });
  });

  it('the first mount of a controller wins', () => {
    const text = '33 30 0:29 / /a rw - cgroup cgroup rw,memory\n34 30 0:29 / /b rw - cgroup cgroup rw,memory\n';
    expect(cgroupLayout(file('mountinfo', text)).mounts.memory).toBe('/a');
  });

  it('no cgroup mounts, an unreadable file, or garbage gives none', () => {
    const none = { version: 'none', mounts: {}, unified: null };
    expect(cgroupLayout(file('mountinfo', '22 1 8:1 / / rw - ext4 /dev/sda1 rw\n'))).toEqual(none);
    expect(cgroupLayout(join(dir, 'missing'))).toEqual(none);
    expect(cgroupLayout(file('mountinfo', 'garbage\n - \n\0\0\n'))).toEqual(none);
  });

  it('a mount point with an escaped blank is ignored', () => {
    const text = '35 24 0:30 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n';
    expect(cgroupLayout(file('mountinfo', text)).unified).toBeNull();
  });

  it('knows the three controllers warden limits', () => {
    expect([...CGROUP_CONTROLLERS]).toEqual(['memory', 'pids', 'cpu']);
  });

  it('reads this host without throwing', () => {
    expect(['v1', 'v2', 'none']).toContain(cgroupLayout().version);
  });
});

describe('parseBwrapVersion', () => {
  it.each([
    ['bubblewrap 0.8.0\n', '0.8.0'],
    ['bubblewrap 0.11.0', '0.11.0'],
    ['bubblewrap 0.4', '0.4'],
  ])('%j is %s', (output, version) => {
    expect(parseBwrapVersion(output)).toBe(version);
  });

  it.each(['', 'bwrap: unknown option', 'bubblewrap', 'bubblewrap x.y'])('%j gives null', (output) => {
    expect(parseBwrapVersion(output)).toBeNull();
  });
});

describe('userNamespacesEnabled', () => {
  it('returns a verdict and a detail', () => {
    const result = userNamespacesEnabled();
    expect(typeof result.enabled).toBe('boolean');
    expect(result.detail.length).toBeGreaterThan(0);
  });
});

describe('findBinary with a symlinked override', () => {
  it('a symlink to an executable file is accepted (it resolves to a file)', () => {
    const target = file('real-bin', '#!/bin/sh\n', 0o755);
    const link = join(dir, 'link-bin');
    symlinkSync(target, link);
    expect(findBinary('x', link)).toBe(link);
  });
});
