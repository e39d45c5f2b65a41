import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { explainNotWritable, idmapHelperError, planIdmap, stageMountOps } from './idmap.js';
import type { MountOp } from './fs-plan.js';

const me = process.getuid?.() ?? 0;
/** A sandbox user that owns nothing here, so every root needs mapping. */
const stranger = { name: 'warden-sandbox', uid: me === 4242 ? 4243 : 4242, gid: 4242 };
const HELPER = '/run/warden/lib-x/warden-idmap';

let dir = '';
let runDir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-idmap-unit-'));
  runDir = join(dir, 'run');
  mkdirSync(runDir);
  for (const d of ['w', 'w/cache', 'w2', 'other']) mkdirSync(join(dir, d));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('planIdmap', () => {
  it('is not needed as an ordinary user, without the helper, without roots, or when the sandbox user owns every root', () => {
    const w = join(dir, 'w');
    expect(planIdmap([w], null, HELPER, runDir)).toBeNull();
    expect(planIdmap([w], stranger, null, runDir)).toBeNull();
    expect(planIdmap([], stranger, HELPER, runDir)).toBeNull();
    expect(planIdmap([w], { name: 'me', uid: me, gid: me }, HELPER, runDir)).toBeNull();
  });

  it('stages every root (once) under the run directory and builds the helper command line', () => {
    const w = join(dir, 'w');
    const cache = join(dir, 'w', 'cache');
    const plan = planIdmap([w, cache, w], stranger, HELPER, runDir);
    expect(plan).not.toBeNull();
    if (plan === null) return;
    expect(plan.roots).toEqual([w, cache]);
    expect(plan.stage).toBe(join(runDir, 'idmap'));
    for (const i of ['0', '1']) expect(statSync(join(plan.stage, i)).mode & 0o777).toBe(0o755);
    expect(plan.argv(['/bin/sh', 'launcher.sh', 'x'])).toEqual([
      HELPER,
      String(stranger.uid),
      String(stranger.gid),
      plan.stage,
      w,
      cache,
      '--',
      '/bin/sh',
      'launcher.sh',
      'x',
    ]);
  });

  it('reaches a path through the clone of the deepest root it lies in, and maps it back', () => {
    const w = join(dir, 'w');
    const cache = join(dir, 'w', 'cache');
    const plan = planIdmap([w, cache], stranger, HELPER, runDir);
    if (plan === null) throw new Error('expected a plan');
    const [s0, s1] = [join(plan.stage, '0'), join(plan.stage, '1')];
    expect(plan.source(w)).toBe(s0);
    expect(plan.source(join(w, '.git', 'config'))).toBe(join(s0, '.git', 'config'));
    expect(plan.source(cache)).toBe(s1);
    expect(plan.source(join(cache, 'deep'))).toBe(join(s1, 'deep'));
    // Siblings that merely share a prefix, and paths elsewhere, are left alone.
    for (const path of [join(dir, 'w2'), join(dir, 'w2', 'x'), join(dir, 'other'), dir, '/usr'])
      expect(plan.source(path), path).toBe(path);
    expect(plan.hostPath(s0)).toBe(w);
    expect(plan.hostPath(join(s1, 'deep'))).toBe(join(cache, 'deep'));
    expect(plan.hostPath('/usr/bin')).toBe('/usr/bin');
  });

  it('rewrites the sources of binds only, never a destination', () => {
    const w = join(dir, 'w');
    const plan = planIdmap([w], stranger, HELPER, runDir);
    if (plan === null) throw new Error('expected a plan');
    const ops: MountOp[] = [
      { op: 'ro-bind', src: '/usr', dest: '/usr' },
      { op: 'bind', src: w, dest: w },
      { op: 'ro-bind', src: join(w, '.git', 'config'), dest: join(w, '.git', 'config') },
      { op: 'ro-bind', src: '/lib/placeholder-dir', dest: join(w, '.vscode') },
      { op: 'tmpfs', dest: '/tmp' },
      { op: 'symlink', target: 'usr/bin', dest: '/bin' },
    ];
    expect(stageMountOps(ops, plan)).toEqual([
      ops[0],
      { op: 'bind', src: join(plan.stage, '0'), dest: w },
      { op: 'ro-bind', src: join(plan.stage, '0', '.git', 'config'), dest: join(w, '.git', 'config') },
      ops[3],
      ops[4],
      ops[5],
    ]);
  });
});

describe('explainNotWritable', () => {
  const sandboxUser = { name: 'warden-sandbox', uid: me, gid: me };

  it('names a missing path or a file as not a directory', () => {
    const file = join(dir, 'file');
    writeFileSync(file, '');
    for (const path of [join(dir, 'missing'), file]) {
      const error = explainNotWritable(path, sandboxUser, null, '');
      expect(error.code).toBe('WORKSPACE_INVALID');
      expect(error.message).toBe(`${path} is not a directory`);
    }
  });

  it('as an ordinary user: your own directory needs u+w; someone else’s needs its owner or root', () => {
    const w = join(dir, 'w');
    chmodSync(w, 0o555);
    const own = explainNotWritable(w, null, null, '');
    expect(own.message).toBe(`${w} is not writable by you, its owner (mode 0555)`);
    expect(own.hint).toBe(`\`chmod u+w ${w}\``);
    if (me === 0) {
      // Only root can make a directory someone else's in a unit test; the message is checked in test/escape/idmap.test.ts too.
      chownSync(w, 4242, 4242);
      const theirs = explainNotWritable(w, null, null, '');
      expect(theirs.message).toMatch(new RegExp(`^${w} belongs to uid 4242; you \\(uid 0\\) cannot write`));
      expect(theirs.hint).toContain('or as root');
    }
  });

  it('the sandbox user’s own directory without write permission needs u+w', () => {
    const w = join(dir, 'w');
    chmodSync(w, 0o500);
    const error = explainNotWritable(w, sandboxUser, null, '');
    expect(error.message).toBe(`${w} is not writable by its owner, the sandbox user warden-sandbox (mode 0500)`);
    expect(error.hint).toBe(`\`chmod u+w ${w}\``);
  });

  it('a refused idmapped mount: names the cause, and fixes that work without extra packages', () => {
    const w = join(dir, 'w');
    const plan = planIdmap([w], stranger, HELPER, runDir);
    if (plan === null) throw new Error('expected a plan');
    const said = `bwrap: something\nwarden-idmap: the kernel refused an idmapped mount of ${w} (owner uid ${me}): EINVAL Invalid argument\n`;
    const error = explainNotWritable(join(plan.stage, '0'), stranger, plan, said);
    expect(error.code).toBe('WORKSPACE_INVALID');
    expect(error.message).toContain(`${w} belongs to uid ${me}`);
    expect(error.message).toContain(
      'refused to map its owner onto that user with an idmapped mount (EINVAL Invalid argument',
    );
    expect(error.hint).toContain(`\`chown -R warden-sandbox ${w}\``);
    expect(error.hint).toContain('Linux 5.12');
    expect(error.hint).not.toContain('setfacl');
    // Running warden as the owner is a fix only when the owner is not root (that is who ran it).
    expect((error.hint ?? '').includes('run warden as the directory')).toBe(me !== 0);
  });

  it('without the helper: says so and names the rebuild or the chown', () => {
    const w = join(dir, 'w');
    const error = explainNotWritable(w, stranger, null, '');
    expect(error.message).toContain('warden-idmap (which maps the owner onto that user) was not built');
    expect(error.hint).toContain('npm run build');
    expect(error.hint).toContain(`chown -R warden-sandbox ${w}`);
  });

  it('idmapped, yet its owner may not write it: needs u+w', () => {
    const w = join(dir, 'w');
    chmodSync(w, 0o555);
    const plan = planIdmap([w], stranger, HELPER, runDir);
    if (plan === null) throw new Error('expected a plan');
    const error = explainNotWritable(join(plan.stage, '0'), stranger, plan, '');
    expect(error.message).toBe(
      `${w} is not writable by its owner (uid ${me}, mode 0555), whom the sandbox user warden-sandbox acts as there`,
    );
    expect(error.hint).toBe(`\`chmod u+w ${w}\``);
  });
});

describe('idmapHelperError', () => {
  it('a symlink found at start is WORKSPACE_INVALID naming the path', () => {
    const error = idmapHelperError(
      'E idmap-symlink /srv/ws: a component is a symlink (it was not when the run was planned)',
    );
    expect(error.code).toBe('WORKSPACE_INVALID');
    expect(error.message).toBe('/srv/ws now leads through a symlink (it did not when warden planned the run)');
  });

  it('anything else is SANDBOX_START_FAILED with the helper’s words and doctor as the hint', () => {
    const error = idmapHelperError('E idmap-attach /srv/ws: Invalid argument');
    expect(error.code).toBe('SANDBOX_START_FAILED');
    expect(error.message).toBe('cannot prepare the idmapped workspace (attach): /srv/ws: Invalid argument');
    expect(error.hint).toBe('run `warden doctor`');
  });
});
