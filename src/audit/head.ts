import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  linkSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { WardenError } from '../core/errors.js';
import { HASH_PATTERN } from './chain.js';

/** File names inside the state directory. */
export const KEY_FILE = 'audit.key';
export const HEAD_FILE = 'audit.head';
const HEAD_TEMP = 'audit.head.tmp';

const KEY_BYTES = 32;
/** A head file is ~170 bytes; anything much larger is not ours and is not read further. */
const MAX_HEAD_BYTES = 1024;

/** The newest record the log vouches for. `seq` 0 with the genesis hash means "empty log". */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

/** The state of `audit.head` as found on disk. */
export type HeadFileState =
  | { readonly kind: 'missing' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'ok'; readonly head: AuditHead };

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the HMAC key, or returns null when there is none. The key must be a regular 32-byte file
 * readable by its owner only; anything else is refused with `STATE_DIR`. The error never
 * includes key material.
 */
export function readKey(stateDir: string): KeyObject | null {
  const path = join(stateDir, KEY_FILE);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw new WardenError('STATE_DIR', `Cannot read the audit key ${path}.`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size !== KEY_BYTES) {
      throw new WardenError('STATE_DIR', `The audit key ${path} is not a ${KEY_BYTES}-byte regular file.`, {
        hint: 'Restore it from backup; without the original key the head cannot be checked.',
      });
    }
    if ((st.mode & 0o077) !== 0) {
      throw new WardenError(
        'STATE_DIR',
        `The audit key ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}).`,
        {
          hint: `chmod 600 ${path}, and treat the key as exposed.`,
        },
      );
    }
    const buf = Buffer.alloc(KEY_BYTES);
    let off = 0;
    while (off < KEY_BYTES) {
      const n = readSync(fd, buf, off, KEY_BYTES - off, off);
      if (n === 0) break;
      off += n;
    }
    if (off !== KEY_BYTES)
      throw new WardenError('STATE_DIR', `The audit key ${path} is shorter than ${KEY_BYTES} bytes.`);
    const key = createSecretKey(buf);
    buf.fill(0);
    return key;
  } finally {
    closeSync(fd);
  }
}

/**
 * Returns the HMAC key, creating `audit.key` (32 random bytes, mode 0600) on first use. Creation
 * goes through a private temp file and `link()`, so concurrent first opens agree on one key and
 * nobody ever reads a half-written key.
 */
export function loadOrCreateKey(stateDir: string): KeyObject {
  const existing = readKey(stateDir);
  if (existing !== null) return existing;
  const path = join(stateDir, KEY_FILE);
  const temp = join(stateDir, `${KEY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const material = randomBytes(KEY_BYTES);
  try {
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      fchmodSync(fd, 0o600);
      writeSync(fd, material);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temp, path);
    } catch (err) {
      // Another process created the key first: use theirs.
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    fsyncDir(stateDir);
  } catch (err) {
    throw new WardenError('STATE_DIR', `Cannot create the audit key ${path}.`, { cause: err });
  } finally {
    material.fill(0);
    try {
      unlinkSync(temp);
    } catch {
      // Already gone or never created; nothing to clean.
    }
  }
  const key = readKey(stateDir);
  if (key === null) throw new WardenError('STATE_DIR', `The audit key ${path} vanished while it was being created.`);
  return key;
}

/** HMAC-SHA256 (hex) over `seq:hash`. */
export function headMac(key: KeyObject, head: AuditHead): string {
  return createHmac('sha256', key).update(`${head.seq}:${head.hash}`, 'utf8').digest('hex');
}

function readBounded(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
  try {
    const buf = Buffer.alloc(MAX_HEAD_BYTES + 1);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads and authenticates `audit.head`. A head whose MAC does not match, or that is not exactly
 * `{seq, hash, mac}`, is reported as invalid (it was edited or forged).
 */
export function readHeadFile(stateDir: string, key: KeyObject): HeadFileState {
  let text: string | null;
  try {
    text = readBounded(join(stateDir, HEAD_FILE));
  } catch (err) {
    if (isErrno(err, 'ELOOP')) return { kind: 'invalid', reason: 'it is a symbolic link' };
    throw new WardenError('AUDIT_UNAVAILABLE', `Cannot read ${join(stateDir, HEAD_FILE)}.`, { cause: err });
  }
  if (text === null) return { kind: 'missing' };
  if (text.length > MAX_HEAD_BYTES) return { kind: 'invalid', reason: `larger than ${MAX_HEAD_BYTES} bytes` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'invalid', reason: 'not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { kind: 'invalid', reason: 'not a JSON object' };
  const { seq, hash, mac, ...rest } = parsed as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return { kind: 'invalid', reason: 'unexpected fields' };
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0)
    return { kind: 'invalid', reason: 'seq is not a non-negative integer' };
  if (typeof hash !== 'string' || !HASH_PATTERN.test(hash))
    return { kind: 'invalid', reason: 'hash is not 64 hex characters' };
  if (typeof mac !== 'string' || !HASH_PATTERN.test(mac))
    return { kind: 'invalid', reason: 'mac is not 64 hex characters' };
  const expected = Buffer.from(headMac(key, { seq, hash }), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(mac, 'hex')))
    return { kind: 'invalid', reason: 'MAC does not match (edited or forged)' };
  return { kind: 'ok', head: { seq, hash } };
}

/**
 * Atomically replaces `audit.head` (temp file, fsync, rename; mode 0600). Callers must hold the
 * store's write lock: the temp name is shared, and the lock is what keeps concurrent writers from
 * moving the head backwards.
 *
 * The directory is not fsynced after the rename: if a crash loses the rename, the previous
 * (older, genuine) head remains and the newest records merely count as unanchored; the head can
 * never end up ahead of the log or half-written (the temp file is fsynced before the rename).
 */
export function writeHeadFile(stateDir: string, key: KeyObject, head: AuditHead): void {
  const temp = join(stateDir, HEAD_TEMP);
  const body = `${JSON.stringify({ seq: head.seq, hash: head.hash, mac: headMac(key, head) })}\n`;
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  try {
    // A temp file left by a killed writer keeps its old mode; O_CREAT's mode does not apply to it.
    fchmodSync(fd, 0o600);
    writeSync(fd, body);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, join(stateDir, HEAD_FILE));
}
