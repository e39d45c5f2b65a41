import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { WardenError } from '../core/errors.js';

/** Longest state-dir path accepted (PATH_MAX on Linux). */
const MAX_PATH_LENGTH = 4096;

/** What {@link defaultStateDir} looks at; injectable so tests need not mutate the process. */
export interface StateDirEnvironment {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly uid: number;
  readonly home: string;
}

function currentEnvironment(): StateDirEnvironment {
  return { env: process.env, uid: process.getuid?.() ?? -1, home: homedir() };
}

/**
 * The state directory warden uses when none is configured: `$WARDEN_STATE_DIR` if set,
 * `/var/lib/warden` for root, else `$XDG_STATE_HOME/warden` or `~/.local/state/warden`.
 * Does not touch the filesystem; pass the result to {@link ensureStateDir}.
 */
export function defaultStateDir(environment: StateDirEnvironment = currentEnvironment()): string {
  const explicit = environment.env['WARDEN_STATE_DIR'];
  if (explicit !== undefined && explicit !== '') return resolve(explicit);
  if (environment.uid === 0) return '/var/lib/warden';
  const xdg = environment.env['XDG_STATE_HOME'];
  // The XDG spec says relative values are invalid and must be ignored.
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'warden');
  return join(environment.home, '.local', 'state', 'warden');
}

function stateDirError(message: string, cause?: unknown): WardenError {
  return new WardenError('STATE_DIR', message, {
    hint: 'Use a directory owned by the user running warden with mode 0700, or set WARDEN_STATE_DIR.',
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Creates the state directory (mode 0700, parents as needed) or checks an existing one, and
 * returns its absolute path. Refuses with `STATE_DIR` a path that is not a directory, is
 * group- or world-writable, or is owned by another non-root user: anyone who can write there
 * could replace the audit log, its head or its key.
 */
export function ensureStateDir(path: string): string {
  if (path.length === 0 || path.length > MAX_PATH_LENGTH || path.includes('\0')) {
    throw stateDirError('The state directory path is empty, too long or contains a NUL byte.');
  }
  const dir = resolve(path);
  let created: string | undefined;
  try {
    created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw stateDirError(`Cannot create the state directory ${dir}.`, err);
  }
  // The umask may have narrowed the mode of what we just made; make the leaf exactly 0700.
  if (created !== undefined) {
    try {
      chmodSync(dir, 0o700);
    } catch (err) {
      throw stateDirError(`Cannot set mode 0700 on the state directory ${dir}.`, err);
    }
  }
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    throw stateDirError(`Cannot inspect the state directory ${dir}.`, err);
  }
  if (!st.isDirectory()) throw stateDirError(`The state directory ${dir} exists but is not a directory.`);
  if ((st.mode & 0o022) !== 0) {
    throw stateDirError(
      `The state directory ${dir} is group- or world-writable (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}).`,
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    throw stateDirError(`The state directory ${dir} is owned by another user (uid ${st.uid}).`);
  }
  return dir;
}
