import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isWardenError, type WardenError } from '../core/errors.js';
import { listProfileHomes, openProfileHome, profileHomePath, removeProfileHome } from './home.js';

let state: string;
const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
const isRoot = me.uid === 0;

beforeEach(() => {
  state = realpathSync(mkdtempSync(join(tmpdir(), 'warden-home-')));
});

afterEach(() => {
  rmSync(state, { recursive: true, force: true });
});

function homeError(fn: () => unknown): WardenError {
  try {
    fn();
  } catch (error) {
    if (isWardenError(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('openProfileHome', () => {
  it('makes <state>/homes (0700) and the profile home (0700), and returns its real path', () => {
    const home = openProfileHome(state, 'coding', me, me.uid);
    expect(home).toBe(join(state, 'homes', 'coding'));
    expect(statSync(join(state, 'homes')).mode & 0o7777).toBe(0o700);
    expect(statSync(home).mode & 0o7777).toBe(0o700);
    writeFileSync(join(home, '.claude.json'), '{}');
    // The second run finds the same directory, untouched.
    expect(openProfileHome(state, 'coding', me, me.uid)).toBe(home);
    expect(lstatSync(join(home, '.claude.json')).isFile()).toBe(true);
  });

  it.runIf(isRoot)('as root, a new home belongs to the sandbox user, whose group may only pass through to it', () => {
    const sandbox = { uid: 54321, gid: 54322 };
    chmodSync(state, 0o700);
    const home = openProfileHome(state, 'coding', sandbox, 0);
    expect(statSync(home)).toMatchObject({ uid: 54321, gid: 54322 });
    for (const dir of [state, join(state, 'homes')]) {
      expect(statSync(dir)).toMatchObject({ uid: 0, gid: 54322 });
      expect(statSync(dir).mode & 0o777).toBe(0o710);
    }
    // The next run puts back whatever changed: search for the sandbox's group, nothing more.
    chmodSync(join(state, 'homes'), 0o755);
    chmodSync(state, 0o711);
    expect(openProfileHome(state, 'coding', sandbox, 0)).toBe(home);
    for (const dir of [state, join(state, 'homes')]) expect(statSync(dir).mode & 0o777).toBe(0o710);
  });

  it('SBX-04 a symlink planted at the home is refused, never followed', () => {
    mkdirSync(join(state, 'homes'), { mode: 0o700 });
    const elsewhere = join(state, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(state, 'homes', 'coding'));
    const error = homeError(() => openProfileHome(state, 'coding', me, me.uid));
    expect(error.code).toBe('HOME_UNUSABLE');
    expect(error.message).toMatch(/is a symlink/);
    expect(error.hint).toMatch(/warden home rm coding/);
  });

  it('SBX-04 a symlink at <state>/homes is refused', () => {
    const elsewhere = join(state, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, join(state, 'homes'));
    expect(homeError(() => openProfileHome(state, 'coding', me, me.uid)).code).toBe('HOME_UNUSABLE');
  });

  it('a file where the home should be is refused', () => {
    mkdirSync(join(state, 'homes'), { mode: 0o700 });
    writeFileSync(join(state, 'homes', 'coding'), '');
    expect(homeError(() => openProfileHome(state, 'coding', me, me.uid)).code).toBe('HOME_UNUSABLE');
  });

  it.runIf(isRoot)('a home of another uid is refused with the fix (rm, or chown to keep it)', () => {
    mkdirSync(join(state, 'homes', 'coding'), { recursive: true, mode: 0o700 });
    chownSync(join(state, 'homes', 'coding'), 4242, 4242);
    const error = homeError(() => openProfileHome(state, 'coding', { uid: 54321, gid: 54321 }, 0));
    expect(error.code).toBe('HOME_UNUSABLE');
    expect(error.message).toMatch(/belongs to uid 4242, not to uid 54321/);
    expect(error.hint).toMatch(/warden home rm coding.*chown -R 54321:54321/);
  });

  it('a homes/ whose mode was changed gets its mode back; one of another uid is refused', () => {
    openProfileHome(state, 'coding', me, me.uid);
    chmodSync(join(state, 'homes'), 0o777);
    openProfileHome(state, 'coding', me, me.uid);
    expect(statSync(join(state, 'homes')).mode & 0o7777).toBe(0o700);
    expect(homeError(() => openProfileHome(state, 'coding', me, me.uid + 1)).message).toMatch(/must belong to uid/);
  });

  it('a home whose mode the agent changed gets 0700 back', () => {
    const home = openProfileHome(state, 'coding', me, me.uid);
    chmodSync(home, 0o755);
    openProfileHome(state, 'coding', me, me.uid);
    expect(statSync(home).mode & 0o7777).toBe(0o700);
  });

  it('a profile name that is not one plain path component is refused', () => {
    for (const name of ['..', '.', 'a/b', '', 'A', '-x', '../../etc'])
      expect(homeError(() => profileHomePath(state, name)).code).toBe('USAGE');
  });
});

describe('listProfileHomes and removeProfileHome', () => {
  it('lists profile homes with their sizes, not following symlinks; rm removes one whole', () => {
    const home = openProfileHome(state, 'coding', me, me.uid);
    openProfileHome(state, 'review', me, me.uid);
    mkdirSync(join(home, '.cache'));
    writeFileSync(join(home, '.cache', 'blob'), 'x'.repeat(1000));
    symlinkSync('/usr', join(home, 'usr-link'));
    mkdirSync(join(state, 'homes', 'Not-A-Profile'));
    const homes = listProfileHomes(state);
    expect(homes.map((h) => h.profile)).toEqual(['coding', 'review']);
    expect(homes[0]).toMatchObject({ bytes: 1000, entries: 3, truncated: false });
    // A read-only directory inside does not stop rm; the symlink's target is untouched.
    chmodSync(join(home, '.cache'), 0o500);
    expect(removeProfileHome(state, 'coding')).toBe(true);
    expect(listProfileHomes(state).map((h) => h.profile)).toEqual(['review']);
    expect(statSync('/usr').isDirectory()).toBe(true);
    expect(removeProfileHome(state, 'coding')).toBe(false);
  });

  it('no state dir: no homes', () => {
    expect(listProfileHomes(join(state, 'missing'))).toEqual([]);
  });
});
