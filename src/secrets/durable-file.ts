/**
 * Private files written whole or not at all, and a lock for read-modify-write, for the secret
 * store: a crash mid-write leaves the previous file, never half of one, and two `warden secrets
 * set` at once cannot each drop the other's change.
 */
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Writes `data` to `path` with mode 0600 through a temporary file, fsynced, renamed, directory fsynced. */
export function writePrivateFile(path: string, data: string | Buffer): void {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  const dir = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** A file's bytes and owner/mode, read without following a symlink and only when at most `maxBytes`. */
export interface PrivateFileRead {
  readonly data: Buffer;
  readonly uid: number;
  readonly mode: number;
}

/**
 * Reads `path` (null when it does not exist); throws `tooLarge()` beyond `maxBytes`. The caller
 * checks uid and mode: a secret file others can read or write is not used.
 */
export function readPrivateFile(path: string, maxBytes: number, tooLarge: () => Error): PrivateFileRead | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > maxBytes) throw tooLarge();
    const data = Buffer.alloc(st.size);
    let read = 0;
    while (read < st.size) {
      const n = readSync(fd, data, read, st.size - read, read);
      if (n === 0) break;
      read += n;
    }
    return { data: data.subarray(0, read), uid: st.uid, mode: st.mode & 0o777 };
  } finally {
    closeSync(fd);
  }
}

const LOCK_WAIT_MS = 5_000;
/** A lock older than this was left by a process that died mid-write (a write takes milliseconds). */
const STALE_LOCK_MS = 30_000;

/**
 * Runs `fn` holding `lockPath` (created O_EXCL, removed after). Throws `busy()` when another
 * process holds it for longer than 5 s.
 */
export async function withLockFile<T>(lockPath: string, busy: () => Error, fn: () => T | Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lockPath).mtimeMs > STALE_LOCK_MS) rmSync(lockPath, { force: true });
      } catch {
        // gone meanwhile: try again
      }
      if (Date.now() > deadline) throw busy();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockPath, { force: true });
  }
}
