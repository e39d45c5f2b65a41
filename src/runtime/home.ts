/**
 * Persistent homes (`profiles.<name>.home: persistent`): one directory per profile under the state
 * dir, `<state>/homes/<profile>`, bound read-write at /home/agent in that profile's sandboxes so
 * that agent logins (e.g. ~/.claude.json) and package caches survive the run.
 *
 * Who owns what: `<state>/homes` is warden's (the user running warden), 0700, like the state dir;
 * each home is the sandbox side's (warden-sandbox when warden is root, else warden's own user),
 * 0700. As root, bwrap (which runs as the sandbox user and resolves a bind's source path itself)
 * must reach the home by path, so the state dir and `homes/` also give the sandbox user's group
 * search permission, and nothing more (0710): it can pass through, not list or read anything
 * there (the audit files are 0600 root, the other homes 0700). The sandbox never sees the state dir or `homes/`: only its profile's home, at /home/agent
 * (sandbox/fs-plan.ts refuses a home that contains a never-visible path). Only warden and root can
 * write `homes/`, so nothing the sandbox does can put a symlink or someone else's directory where a
 * home is expected; warden still checks each one (not a symlink, opened with O_NOFOLLOW, owned by
 * the sandbox side) before every run and refuses with the fix when it is wrong.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  rmSync,
  chmodSync,
  chownSync,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { PROFILE_NAME } from '../core/config-defaults.js';
import { WardenError } from '../core/errors.js';

/** The directory under the state dir that holds one home per profile. */
export const HOMES_DIR = 'homes';

/** The uid/gid a home belongs to: the one the sandbox runs as. */
export interface HomeOwner {
  readonly uid: number;
  readonly gid: number;
}

/** `<state>/homes/<profile>`, after checking that the profile name is one plain path component. */
export function profileHomePath(stateDir: string, profile: string): string {
  if (!PROFILE_NAME.test(profile))
    throw new WardenError('USAGE', `'${profile}' is not a profile name`, {
      hint: 'profile names are lower-case letters, digits, - and _ (max 64)',
    });
  return join(stateDir, HOMES_DIR, profile);
}

/**
 * Creates the profile's home (0700, owned by `owner`) or checks the one that exists, and returns
 * its real path for the sandbox to bind. `wardenUid` owns `<state>/homes`. Refuses with
 * HOME_UNUSABLE, naming the fix, a symlink, a non-directory, or a home of another owner; restores
 * mode 0700 (the agent owns its home and may have changed its mode; the closed `homes/` keeps
 * others out either way).
 */
export function openProfileHome(stateDir: string, profile: string, owner: HomeOwner, wardenUid: number): string {
  const home = profileHomePath(stateDir, profile);
  const homes = join(stateDir, HOMES_DIR);
  makeDir(homes);
  const homesStat = lstatOrThrow(homes);
  if (homesStat.isSymbolicLink() || !homesStat.isDirectory())
    throw unusable(`${homes} is ${describe(homesStat)}, not a directory warden made`, `remove it (rm ${homes})`);
  if (homesStat.uid !== wardenUid)
    throw unusable(
      `${homes} must belong to uid ${wardenUid}, who runs warden (it belongs to uid ${homesStat.uid})`,
      `remove it (its homes are lost) or \`chown ${wardenUid} ${homes}\``,
    );
  // warden's own directory: its mode is restored, not trusted. Whatever someone else could have put
  // in it meanwhile is caught below (a symlink, a home of another uid).
  if (owner.uid !== wardenUid) {
    grantSearch(stateDir, owner.gid);
    grantSearch(homes, owner.gid);
  } else if ((homesStat.mode & 0o7777) !== 0o700) {
    chmodSync(homes, 0o700);
  }

  const created = makeDir(home);
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink planted at the home's path is refused (ELOOP), never followed.
    fd = openSync(home, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    const st = lstatOrNull(home);
    throw unusable(
      `the home of profile '${profile}' (${home}) is ${st === null ? 'unreadable' : describe(st)}`,
      `remove it with \`warden home rm ${profile}\` (a new, empty home is made on the next run)`,
      error,
    );
  }
  try {
    let st = fstatSync(fd);
    // A home made just now is warden's; hand it to the sandbox side (warden-sandbox as root).
    if (created && (st.uid !== owner.uid || st.gid !== owner.gid)) {
      fchownSync(fd, owner.uid, owner.gid);
      st = fstatSync(fd);
    }
    if (!st.isDirectory())
      throw unusable(
        `the home of profile '${profile}' (${home}) is ${describe(st)}`,
        `remove it with \`warden home rm ${profile}\``,
      );
    if (st.uid !== owner.uid)
      throw unusable(
        `the home of profile '${profile}' (${home}) belongs to uid ${st.uid}, not to uid ${owner.uid} the sandbox runs as`,
        `remove it with \`warden home rm ${profile}\` (its logins and caches are lost), or \`chown -R ${owner.uid}:${owner.gid} ${home}\` to keep them`,
      );
    if ((st.mode & 0o7777) !== 0o700) fchmodSync(fd, 0o700);
  } finally {
    closeSync(fd);
  }
  return realpathSync(home);
}

/** One profile's home, as `warden home ls` shows it. */
export interface HomeInfo {
  readonly profile: string;
  readonly path: string;
  /** Bytes of regular files (symlinks are not followed). */
  readonly bytes: number;
  readonly entries: number;
  /** The walk stopped at MAX_LISTED_ENTRIES: bytes and entries are lower bounds. */
  readonly truncated: boolean;
  /** Latest modification time seen (ms since the epoch). */
  readonly modifiedMs: number;
}

/** How many entries `warden home ls` looks at per home before it reports a lower bound. */
const MAX_LISTED_ENTRIES = 200_000;

/** The homes under `<state>/homes` (profile-named directories only), with their sizes. */
export function listProfileHomes(stateDir: string): HomeInfo[] {
  const homes = join(stateDir, HOMES_DIR);
  let names: string[];
  try {
    names = readdirSync(homes).sort();
  } catch {
    return [];
  }
  const infos: HomeInfo[] = [];
  for (const profile of names) {
    if (!PROFILE_NAME.test(profile)) continue;
    const path = join(homes, profile);
    const st = lstatOrNull(path);
    if (st === null || !st.isDirectory()) continue;
    infos.push({ profile, path, ...measure(path, st) });
  }
  return infos;
}

/**
 * Removes a profile's home and everything in it (symlinks inside are removed, never followed).
 * Returns false when there was none. A run of that profile still going keeps an empty, deleted
 * directory as its home until it ends.
 */
export function removeProfileHome(stateDir: string, profile: string): boolean {
  const home = profileHomePath(stateDir, profile);
  const st = lstatOrNull(home);
  if (st === null) return false;
  try {
    rmSync(home, { recursive: true, force: true });
  } catch {
    // The agent may have made directories it cannot write (chmod 500): open them up, then retry.
    openUp(home);
    rmSync(home, { recursive: true, force: true });
  }
  return true;
}

function measure(dir: string, top: Stats): Omit<HomeInfo, 'profile' | 'path'> {
  let bytes = 0;
  let entries = 0;
  let modifiedMs = top.mtimeMs;
  const stack = [dir];
  while (stack.length > 0 && entries < MAX_LISTED_ENTRIES) {
    const current = stack.pop() ?? dir;
    let names: string[];
    try {
      names = readdirSync(current);
    } catch {
      continue;
    }
    for (const name of names) {
      if (++entries >= MAX_LISTED_ENTRIES) break;
      const st = lstatOrNull(join(current, name));
      if (st === null) continue;
      modifiedMs = Math.max(modifiedMs, st.mtimeMs);
      if (st.isDirectory()) stack.push(join(current, name));
      else if (st.isFile()) bytes += st.size;
    }
  }
  return { bytes, entries, truncated: entries >= MAX_LISTED_ENTRIES, modifiedMs };
}

/** Makes every directory under `dir` (not following symlinks) rwx for its owner, so rm can empty it. */
function openUp(dir: string): void {
  const stack = [dir];
  for (let seen = 0; stack.length > 0 && seen < 1_000_000; seen++) {
    const current = stack.pop() ?? dir;
    try {
      chmodSync(current, 0o700);
      for (const name of readdirSync(current)) {
        const st = lstatOrNull(join(current, name));
        if (st?.isDirectory() === true) stack.push(join(current, name));
      }
    } catch {
      // not ours to open; rm reports it
    }
  }
}

/**
 * Makes `dir` (the state dir, `homes/`) mode 0710 with group `gid`: the owner's, and search only
 * for the sandbox user's group (its bwrap must resolve the home's path as that user); nothing for
 * others.
 */
export function grantSearch(dir: string, gid: number): void {
  const st = lstatOrThrow(dir);
  const mode = (st.mode & 0o700) | 0o010;
  try {
    if (st.gid !== gid) chownSync(dir, st.uid, gid);
    if ((st.mode & 0o777) !== mode) chmodSync(dir, mode);
  } catch (error) {
    throw unusable(
      `cannot let the sandbox user pass through ${dir}: ${(error as Error).message}`,
      'check the state directory',
      error,
    );
  }
}

/** mkdir with mode 0700 exactly (not narrowed by the umask); true when it was created now. */
function makeDir(path: string): boolean {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw unusable(`cannot create ${path}: ${(error as Error).message}`, 'check the state directory', error);
  }
  chmodSync(path, 0o700);
  return true;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function lstatOrThrow(path: string): Stats {
  try {
    return lstatSync(path);
  } catch (error) {
    throw unusable(`cannot inspect ${path}: ${(error as Error).message}`, 'check the state directory', error);
  }
}

function describe(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a regular file';
  return 'a special file';
}

function unusable(message: string, fix: string, cause?: unknown): WardenError {
  return new WardenError('HOME_UNUSABLE', message, { hint: fix, ...(cause === undefined ? {} : { cause }) });
}
