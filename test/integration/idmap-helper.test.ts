/**
 * warden-idmap, the one program of a launch that runs as root (src/sandbox/native/warden-idmap.c),
 * driven directly: it validates every argument, refuses symlinks and untrusted staging directories,
 * leaves the host's mount table alone, and hands over a process that is the sandbox user through
 * and through (no capability, no supplementary group, no way back to root).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO, SANDBOX_USER, TEST_USER, userIds } from '../helpers/warden.js';

const HELPER = join(REPO, 'dist', 'assets', 'warden-idmap');
const sandbox = userIds(SANDBOX_USER);
const missing = [
  process.getuid?.() === 0 ? null : 'root',
  existsSync(HELPER) ? null : `${HELPER} (npm run build)`,
  sandbox === null ? SANDBOX_USER : null,
].filter((m) => m !== null);

describe.skipIf(missing.length > 0)(
  `warden-idmap${missing.length > 0 ? ` (skipped: needs ${missing.join(', ')})` : ''}`,
  () => {
    const uid = String(sandbox?.uid ?? 0);
    const gid = String(sandbox?.gid ?? 0);
    let dir = '';
    let stage = '';
    let root = '';
    beforeEach(() => {
      dir = mkdtempSync('/tmp/warden-idmap-helper-');
      chmodSync(dir, 0o755);
      stage = join(dir, 'stage');
      root = join(dir, 'root');
      mkdirSync(join(stage, '0'), { recursive: true, mode: 0o755 });
      chmodSync(stage, 0o755);
      mkdirSync(root, { mode: 0o755 });
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const run = (
      args: readonly string[],
      as: { uid: number; gid: number } | null = null,
      groups: readonly number[] = [],
    ): SpawnSyncReturns<string> =>
      spawnSync(
        groups.length === 0 ? HELPER : 'setpriv',
        groups.length === 0 ? args : ['--groups', groups.join(','), '--', HELPER, ...args],
        {
          encoding: 'utf8',
          timeout: 10_000,
          env: { PATH: '/usr/bin:/bin' },
          ...(as === null ? {} : { uid: as.uid, gid: as.gid }),
        },
      );
    const sh = (script: string, ...extra: string[]): string[] => ['--', '/bin/sh', '-c', script, 'sh', ...extra];
    const expectRefused = (result: SpawnSyncReturns<string>, pattern: RegExp): void => {
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(125);
      expect(result.stderr).toMatch(pattern);
    };

    it('SBX-02 hands over the sandbox user with no capability, no supplementary group and no way back to root', () => {
      // Started with supplementary groups (root's here has none; `sudo` from a user in adm or disk
      // gives some): the helper must drop them, not only switch uid and gid.
      const result = run(
        [
          uid,
          gid,
          stage,
          root,
          ...sh(
            'grep -E "^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapAmb|NoNewPrivs):" /proc/self/status; ls /proc/$$/fd | tr "\\n" " "; echo; python3 -c "import os; os.setuid(0)" 2>/dev/null; echo SETUID=$?',
          ),
        ],
        null,
        [0, 4, 27],
      );
      expect(result.status, result.stderr).toBe(0);
      const field = (name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(result.stdout)?.[1] ?? '?';
      expect(field('Uid').split(/\s+/)).toEqual([uid, uid, uid, uid]);
      expect(field('Gid').split(/\s+/)).toEqual([gid, gid, gid, gid]);
      expect(field('Groups').trim()).toBe('');
      for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) expect(field(cap), cap).toBe('0000000000000000');
      expect(result.stdout).toMatch(/SETUID=[1-9]/);
      // Its own descriptors (user namespace, mount clones, paths) are all closed before the exec:
      // the shell holds exactly what a shell spawned the same way without the helper holds.
      const control = spawnSync('/bin/sh', ['-c', 'ls /proc/$$/fd | tr "\\n" " "; echo'], { encoding: 'utf8' });
      expect(result.stdout.split('\n')).toContain(control.stdout.trim() + ' ');
    });

    it('maps the owner of ROOT onto the sandbox user on the staged clone only, and leaves the host mount table alone', () => {
      const before = readFileSync('/proc/self/mountinfo', 'utf8');
      const third = userIds(TEST_USER);
      if (third !== null) chownSync(root, third.uid, third.gid);
      const owner = third ?? { uid: 0, gid: 0 };
      const result = run([
        uid,
        gid,
        stage,
        root,
        ...sh('stat -c "STAGED=%u:%g" "$1"; stat -c "ORIGINAL=%u:%g" "$2"; echo x > "$1/made"', join(stage, '0'), root),
      ]);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toContain(`STAGED=${uid}:${gid}`);
      expect(result.stdout).toContain(`ORIGINAL=${owner.uid}:${owner.gid}`);
      expect([statSync(join(root, 'made')).uid, statSync(join(root, 'made')).gid]).toEqual([owner.uid, owner.gid]);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(before);
      expect(existsSync(join(stage, '0', 'made'))).toBe(false);
    });

    it('a root the sandbox user owns is staged as a plain clone (no mapping)', () => {
      chownSync(root, Number(uid), Number(gid));
      const result = run([uid, gid, stage, root, ...sh('grep " $1 " /proc/self/mountinfo', join(stage, '0'))]);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).not.toContain('idmapped');
      expect(result.stdout).toContain('nosuid,nodev');
    });

    it.each([
      ['uid 0', ['0', '1000']],
      ['gid 0', ['1000', '0']],
      ['uid -1', ['4294967295', '1000']],
      ['a non-number', ['12a', '1000']],
      ['a signed number', ['+12', '1000']],
      ['an empty id', ['', '1000']],
    ])('refuses %s as the sandbox identity', (_what, [u, g]) => {
      expectRefused(run([u ?? '', g ?? '', stage, root, ...sh('echo ran')]), /E idmap-usage .*bad UID or GID/);
    });

    it.each([
      ['a relative path', 'relative/dir'],
      ['a .. component', '/tmp/../etc'],
      ['a . component', '/tmp/./x'],
      ['an empty component', '/tmp//x'],
      ['a trailing slash', '/tmp/x/'],
      ['/ itself', '/'],
    ])('refuses %s as a root or the stage', (_what, path) => {
      expectRefused(
        run([uid, gid, stage, path, ...sh('echo ran')]),
        /E idmap-usage .*not an absolute, normalised path/,
      );
      expectRefused(run([uid, gid, path, root, ...sh('echo ran')]), /E idmap-usage .*not an absolute, normalised path/);
    });

    it('refuses a missing command, a relative program and a call without roots', () => {
      expectRefused(run([uid, gid, stage, root, '--']), /usage/);
      expectRefused(run([uid, gid, stage, root, '--', 'sh', '-c', 'true']), /usage/);
      expectRefused(run([uid, gid, stage, '--', '/bin/true']), /usage/);
    });

    it('SBX-07 refuses a root reached through a symlink, anywhere on its path', () => {
      symlinkSync(root, join(dir, 'link'));
      mkdirSync(join(root, 'sub'));
      expectRefused(run([uid, gid, stage, join(dir, 'link'), ...sh('echo ran')]), /E idmap-symlink .*link/);
      expectRefused(run([uid, gid, stage, join(dir, 'link', 'sub'), ...sh('echo ran')]), /E idmap-symlink/);
    });

    it('refuses a staging directory that is a symlink, not root’s, or writable by others', () => {
      const other = join(dir, 'other-stage');
      mkdirSync(join(other, '0'), { recursive: true, mode: 0o755 });
      symlinkSync(join(other, '0'), join(dir, 'stage-link'));
      rmSync(join(stage, '0'), { recursive: true });
      symlinkSync(join(other, '0'), join(stage, '0'));
      expectRefused(run([uid, gid, stage, root, ...sh('echo ran')]), /E idmap-stage/);
      rmSync(join(stage, '0'));
      mkdirSync(join(stage, '0'), { mode: 0o755 });
      chownSync(join(stage, '0'), Number(uid), Number(gid));
      expectRefused(run([uid, gid, stage, root, ...sh('echo ran')]), /E idmap-stage .*not a directory of root's/);
      chownSync(join(stage, '0'), 0, 0);
      chmodSync(join(stage, '0'), 0o777);
      expectRefused(run([uid, gid, stage, root, ...sh('echo ran')]), /E idmap-stage .*closed to others/);
    });

    it('runs only as root', () => {
      expectRefused(
        run([uid, gid, stage, root, ...sh('echo ran')], { uid: Number(uid), gid: Number(gid) }),
        /runs as root only/,
      );
    });

    it('--probe says whether a filesystem takes idmapped mounts, attaching nothing', () => {
      const ok = run(['--probe', dir]);
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stdout.trim()).toBe('ok');
      const refused = spawnSync(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          '--',
          '/bin/sh',
          '-c',
          `mount -t ramfs ramfs "$0" && exec "$1" --probe "$0"`,
          root,
          HELPER,
        ],
        { encoding: 'utf8' },
      );
      expect(refused.status, refused.stderr).toBe(1);
      expect(refused.stdout).toMatch(/^unsupported mount_setattr Invalid argument/);
    });
  },
);
