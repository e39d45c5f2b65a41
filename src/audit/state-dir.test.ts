import { chmodSync, chownSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultStateDir, ensureStateDir } from './state-dir.js';
import { tempDir } from '../../test/kits/audit.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
function scratch(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('ensureStateDir', () => {
  it('creates missing directories with mode 0700', () => {
    const dir = join(scratch(), 'a', 'b', 'state');
    expect(ensureStateDir(dir)).toBe(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('accepts an existing private directory and leaves it as it is', () => {
    const dir = join(scratch(), 'state');
    mkdirSync(dir, { mode: 0o750 });
    chmodSync(dir, 0o750);
    expect(ensureStateDir(dir)).toBe(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o750);
  });

  it.each([0o777, 0o770, 0o702])('refuses an existing directory with mode %o (writable by others)', (mode) => {
    const dir = join(scratch(), 'state');
    mkdirSync(dir);
    chmodSync(dir, mode);
    expect(() => ensureStateDir(dir)).toThrow(expect.objectContaining({ code: 'STATE_DIR' }));
  });

  // chown needs root; the CI image runs as root.
  it.skipIf(process.getuid?.() !== 0)('refuses a directory owned by another non-root user', () => {
    const dir = join(scratch(), 'state');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 4242, 4242);
    expect(() => ensureStateDir(dir)).toThrow(/owned by another user/);
  });

  it('refuses a path that is a file, empty, or holds a NUL byte', () => {
    const file = join(scratch(), 'file');
    writeFileSync(file, 'x');
    expect(() => ensureStateDir(file)).toThrow(expect.objectContaining({ code: 'STATE_DIR' }));
    expect(() => ensureStateDir('')).toThrow(expect.objectContaining({ code: 'STATE_DIR' }));
    expect(() => ensureStateDir('/tmp/a\0b')).toThrow(expect.objectContaining({ code: 'STATE_DIR' }));
  });
});

describe('defaultStateDir', () => {
  const home = '/home/alice';
  it('prefers WARDEN_STATE_DIR', () => {
    expect(defaultStateDir({ env: { WARDEN_STATE_DIR: '/srv/w', XDG_STATE_HOME: '/x' }, uid: 0, home })).toBe('/srv/w');
  });
  it('uses /var/lib/warden for root', () => {
    expect(defaultStateDir({ env: { XDG_STATE_HOME: '/x' }, uid: 0, home: '/root' })).toBe('/var/lib/warden');
  });
  it('uses XDG_STATE_HOME, then ~/.local/state, for other users', () => {
    expect(defaultStateDir({ env: { XDG_STATE_HOME: '/x/state' }, uid: 1000, home })).toBe('/x/state/warden');
    expect(defaultStateDir({ env: {}, uid: 1000, home })).toBe('/home/alice/.local/state/warden');
    // A relative XDG_STATE_HOME is invalid per the spec and ignored.
    expect(defaultStateDir({ env: { XDG_STATE_HOME: 'rel' }, uid: 1000, home })).toBe(
      '/home/alice/.local/state/warden',
    );
  });
});
