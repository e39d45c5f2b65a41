import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isWardenError } from '../core/errors.js';
import { ensureLibDir } from './lib-dir.js';

let base: string;
let assets: string;
let runtime: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'warden-lib-dir-'));
  assets = join(base, 'assets');
  runtime = join(base, 'runtime');
  mkdirSync(assets);
  mkdirSync(runtime);
  writeFileSync(join(assets, 'init.sh'), '#!/bin/sh\necho init\n');
  writeFileSync(join(assets, 'launcher.sh'), '#!/bin/sh\nexec "$@"\n');
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

const mode = (path: string): number => statSync(path).mode & 0o7777;
const WEEK_MS = 7 * 86_400_000;

function age(path: string, ms: number): void {
  const then = new Date(Date.now() - ms);
  utimesSync(path, then, then);
}

describe('ensureLibDir: one copy per asset version', () => {
  it('creates <runtime>/lib-<16 hex> holding the assets', () => {
    const lib = ensureLibDir(runtime, assets);
    expect(basename(lib.path)).toMatch(/^lib-[0-9a-f]{16}$/);
    expect(lib.path.startsWith(`${runtime}/`)).toBe(true);
    expect(readFileSync(lib.initScript, 'utf8')).toBe('#!/bin/sh\necho init\n');
    expect(readFileSync(lib.launcher, 'utf8')).toBe('#!/bin/sh\nexec "$@"\n');
    expect(existsSync(join(lib.path, '.complete'))).toBe(true);
  });

  it('the same inputs give the same directory, and a second call reuses it', () => {
    const first = ensureLibDir(runtime, assets);
    writeFileSync(join(first.path, 'marker'), 'kept');
    const second = ensureLibDir(runtime, assets);
    expect(second).toEqual(first);
    expect(readFileSync(join(second.path, 'marker'), 'utf8')).toBe('kept');
  });

  it('another install (other files, same content) gets its own complete copy', () => {
    const other = join(base, 'other-assets');
    mkdirSync(other);
    writeFileSync(join(other, 'init.sh'), readFileSync(join(assets, 'init.sh')));
    writeFileSync(join(other, 'launcher.sh'), readFileSync(join(assets, 'launcher.sh')));
    const mine = ensureLibDir(runtime, assets);
    const theirs = ensureLibDir(runtime, other);
    expect(theirs.path).not.toBe(mine.path);
    expect(readFileSync(theirs.launcher, 'utf8')).toBe(readFileSync(join(assets, 'launcher.sh'), 'utf8'));
  });

  it('an asset rewritten in place with the same size gets a new copy (the key sees its mtime)', () => {
    const first = ensureLibDir(runtime, assets);
    const text = readFileSync(join(assets, 'init.sh'), 'utf8');
    writeFileSync(join(assets, 'init.sh'), text.replace(/.$/s, text.endsWith('\n') ? ' ' : '\n'));
    utimesSync(join(assets, 'init.sh'), new Date(), new Date(Date.now() + 5000));
    const second = ensureLibDir(runtime, assets);
    expect(second.path).not.toBe(first.path);
    expect(readFileSync(second.initScript, 'utf8')).toBe(readFileSync(join(assets, 'init.sh'), 'utf8'));
  });

  it('a changed asset gives a new directory; the old copy stays for runs still using it', () => {
    const before = ensureLibDir(runtime, assets);
    writeFileSync(join(assets, 'init.sh'), '#!/bin/sh\necho init v2\n');
    const after = ensureLibDir(runtime, assets);
    expect(after.path).not.toBe(before.path);
    expect(readFileSync(after.initScript, 'utf8')).toContain('v2');
    expect(readFileSync(before.initScript, 'utf8')).not.toContain('v2');
  });

  it('adding an optional asset gives a new directory', () => {
    const before = ensureLibDir(runtime, assets);
    writeFileSync(join(assets, 'node-proxy-preload.mjs'), 'export {};\n');
    expect(ensureLibDir(runtime, assets).path).not.toBe(before.path);
  });

  it('moving bytes between files changes the hash (names and boundaries are part of it)', () => {
    writeFileSync(join(assets, 'init.sh'), 'ab');
    writeFileSync(join(assets, 'launcher.sh'), 'c');
    const a = ensureLibDir(runtime, assets).path;
    writeFileSync(join(assets, 'init.sh'), 'a');
    writeFileSync(join(assets, 'launcher.sh'), 'bc');
    expect(ensureLibDir(runtime, assets).path).not.toBe(a);
  });

  it('files that are not assets are ignored', () => {
    const before = ensureLibDir(runtime, assets);
    writeFileSync(join(assets, 'README.md'), 'docs');
    const after = ensureLibDir(runtime, assets);
    expect(after.path).toBe(before.path);
    expect(existsSync(join(after.path, 'README.md'))).toBe(false);
  });

  it('a directory without .complete (a crashed copy) is not trusted: it is rebuilt', () => {
    const lib = ensureLibDir(runtime, assets);
    rmSync(join(lib.path, '.complete'));
    writeFileSync(lib.initScript, 'tampered');
    // The rename onto a non-empty directory fails and there is no .complete: the run is refused, not served a half copy.
    let result: ReturnType<typeof ensureLibDir> | undefined;
    try {
      result = ensureLibDir(runtime, assets);
    } catch (error) {
      expect(isWardenError(error) && error.code === 'INTERNAL').toBe(true);
    }
    if (result) expect(readFileSync(result.initScript, 'utf8')).toBe('#!/bin/sh\necho init\n');
    expect(readdirSync(runtime).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

describe('ensureLibDir: layout and modes', () => {
  it('without the optional assets, wardenInit and nodePreload are null', () => {
    const lib = ensureLibDir(runtime, assets);
    expect(lib.wardenInit).toBeNull();
    expect(lib.nodePreload).toBeNull();
  });

  it('with them, they are copied and reported', () => {
    writeFileSync(join(assets, 'warden-init'), Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    writeFileSync(join(assets, 'node-proxy-preload.mjs'), 'export {};\n');
    const lib = ensureLibDir(runtime, assets);
    expect(lib.wardenInit).toBe(join(lib.path, 'warden-init'));
    expect(lib.nodePreload).toBe(join(lib.path, 'node-proxy-preload.mjs'));
    expect(readFileSync(lib.wardenInit ?? '')).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    expect(mode(lib.wardenInit ?? '')).toBe(0o755);
    expect(mode(lib.nodePreload ?? '')).toBe(0o644);
  });

  it('scripts are executable; the directory is world-readable', () => {
    const lib = ensureLibDir(runtime, assets);
    expect(mode(lib.initScript)).toBe(0o755);
    expect(mode(lib.launcher)).toBe(0o755);
    expect(mode(lib.path) & 0o555).toBe(0o555);
  });

  it('SBX-06 the deny empties are mode 0000', () => {
    const lib = ensureLibDir(runtime, assets);
    expect(statSync(lib.emptyFile).isFile()).toBe(true);
    expect(statSync(lib.emptyFile).size).toBe(0);
    expect(mode(lib.emptyFile)).toBe(0o000);
    expect(statSync(lib.emptyDir).isDirectory()).toBe(true);
    expect(mode(lib.emptyDir)).toBe(0o000);
  });

  it('a missing required asset is INTERNAL, naming it', () => {
    rmSync(join(assets, 'launcher.sh'));
    try {
      ensureLibDir(runtime, assets);
      expect.unreachable('ensureLibDir should refuse');
    } catch (error) {
      expect(isWardenError(error) && error.code === 'INTERNAL').toBe(true);
      expect((error as Error).message).toContain('launcher.sh');
    }
    expect(readdirSync(runtime)).toEqual([]);
  });

  it('leaves no staging directory behind', () => {
    ensureLibDir(runtime, assets);
    expect(readdirSync(runtime).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

describe('ensureLibDir: pruning', () => {
  it('removes lib copies unused for over a week, keeps recent ones, the current one and unrelated entries', () => {
    const old = join(runtime, 'lib-0000000000000000');
    const recent = join(runtime, 'lib-1111111111111111');
    const abandoned = join(runtime, 'lib-2222222222222222.tmp-1-2');
    const unrelated = join(runtime, 'etc-3333333333333333');
    for (const dir of [old, recent, abandoned, unrelated]) mkdirSync(dir);
    writeFileSync(join(old, '.complete'), '');
    writeFileSync(join(recent, '.complete'), '');
    age(join(old, '.complete'), WEEK_MS + 60_000);
    age(join(recent, '.complete'), WEEK_MS - 60_000);
    age(abandoned, WEEK_MS + 60_000);
    age(unrelated, 30 * WEEK_MS);
    const lib = ensureLibDir(runtime, assets);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(abandoned)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    expect(existsSync(unrelated)).toBe(true);
    expect(existsSync(lib.path)).toBe(true);
  });

  it('reusing a copy marks it used, so an old but active copy is not pruned', () => {
    const lib = ensureLibDir(runtime, assets);
    age(join(lib.path, '.complete'), WEEK_MS + 60_000);
    ensureLibDir(runtime, assets);
    expect(Date.now() - statSync(join(lib.path, '.complete')).mtimeMs).toBeLessThan(60_000);
  });
});
