/**
 * Revoked gateway tokens: `<stateDir>/tokens.revoked`, one JSON object per line
 * (`{"jti":…,"exp":…,"revoked_at":…}`), written by `warden token revoke` and read by every
 * listening gateway of that state dir before it accepts a token, cached or not. An entry is kept
 * until the token would have expired anyway, then pruned on the next revocation.
 *
 * Fail closed: a list that exists but cannot be read or parsed revokes every token (the gateway
 * says so in its 401) until it is fixed; a missing list revokes none.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { WardenError } from '../core/errors.js';
import { CLOCK_TOLERANCE_SECONDS, TOKEN_ID } from './tokens.js';

export const REVOCATIONS_FILE = 'tokens.revoked';
/** Most entries the list holds (tokens live at most 24 h, so this is ~70 revocations a minute). */
const MAX_ENTRIES = 100_000;
const MAX_FILE_BYTES = 16 * 1024 * 1024;
/** What a list entry may hold (wider than TOKEN_ID: lists written before ids were checked stay readable). */
const JTI = /^[A-Za-z0-9_-]{1,128}$/;

export interface Revocation {
  readonly jti: string;
  /** When the token expires (seconds since the epoch): the entry can go after that. */
  readonly exp: number;
  readonly revoked_at: string;
}

/** The answer for one token id: revoked or not, or the list is unusable (then it counts as revoked). */
export type RevocationCheck = { readonly revoked: false } | { readonly revoked: true; readonly why: string };

/**
 * Adds `jti` to the state dir's list (pruning entries whose tokens can no longer be accepted);
 * returns the entry written. Writers take `tokens.revoked.lock` (O_EXCL) so that two revocations
 * at once cannot each rewrite the list without the other's entry.
 */
export function revokeToken(
  stateDir: string,
  jti: string,
  exp: number,
  now = Math.floor(Date.now() / 1000),
): Revocation {
  // Only ids warden issues: a typo (or a whole token pasted into --jti) would revoke nothing.
  if (!TOKEN_ID.test(jti))
    throw new WardenError(
      'TOKEN_INVALID',
      `'${printable(jti)}' is not a token id: warden's token ids are 22 characters of A-Z, a-z, 0-9, - and _`,
      {
        hint: 'give the jti that `warden token issue --json` printed (e.g. --jti 3q2-7wEjR0uYdS9xJmK1Fw), or the token itself with --token',
      },
    );
  const path = join(stateDir, REVOCATIONS_FILE);
  const release = lockList(`${path}.lock`);
  try {
    return rewriteWith(path, jti, exp, now);
  } finally {
    release();
  }
}

/** How long a writer waits for another's lock, and when a lock is taken to be left by a crash. */
const LOCK_WAIT_MS = 5_000;
const STALE_LOCK_MS = 30_000;

function lockList(lockPath: string): () => void {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lockPath, 'wx', 0o600));
      return () => rmSync(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new WardenError('TOKEN_INVALID', `cannot lock the revocation list: ${(error as Error).message}`, {
          hint: 'check the state dir and its permissions',
        });
      try {
        // A lock older than any revocation takes was left by a writer that died: take it over.
        if (Date.now() - statSync(lockPath).mtimeMs > STALE_LOCK_MS) rmSync(lockPath, { force: true });
      } catch {
        // gone meanwhile: try again
      }
      if (Date.now() > deadline)
        throw new WardenError('TOKEN_INVALID', `the revocation list is locked by another warden (${lockPath})`, {
          hint: 'try again; remove the lock file if no warden token revoke is running',
        });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

function rewriteWith(path: string, jti: string, exp: number, now: number): Revocation {
  const current = readEntries(path);
  if (current.unusable !== null) {
    throw new WardenError(
      'TOKEN_INVALID',
      `the revocation list ${path} cannot be read (${current.unusable}), so every token is refused until it is fixed`,
      { hint: `remove or repair ${path}; revoke again afterwards` },
    );
  }
  // A token is accepted until exp plus the verifier's clock tolerance: keep its entry that long.
  const kept = current.entries.filter((e) => e.exp + CLOCK_TOLERANCE_SECONDS >= now && e.jti !== jti);
  const entry: Revocation = { jti, exp, revoked_at: new Date(now * 1000).toISOString() };
  kept.push(entry);
  if (kept.length > MAX_ENTRIES)
    throw new WardenError('TOKEN_INVALID', `the revocation list is full (${MAX_ENTRIES} live entries)`, {
      hint: 'issue shorter-lived tokens (--ttl)',
    });
  // Written whole to a temporary file and renamed: a gateway never reads half a list.
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, kept.map((e) => JSON.stringify(e)).join('\n') + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  return entry;
}

/** A gateway's view of the list: re-read whenever the file changes. */
export class RevocationList {
  readonly #path: string;
  #stamp = '';
  #revoked = new Set<string>();
  #unusable: string | null = null;

  constructor(stateDir: string) {
    this.#path = join(stateDir, REVOCATIONS_FILE);
  }

  check(jti: string): RevocationCheck {
    this.#refresh();
    if (this.#unusable !== null)
      return {
        revoked: true,
        why: `the token revocation list cannot be read (${this.#unusable}); every token is refused`,
      };
    return this.#revoked.has(jti) ? { revoked: true, why: 'the token has been revoked' } : { revoked: false };
  }

  #refresh(): void {
    let stamp: string;
    try {
      const st = statSync(this.#path);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (error) {
      stamp = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'none' : `error:${(error as Error).message}`;
    }
    if (stamp === this.#stamp) return;
    this.#stamp = stamp;
    if (stamp === 'none') {
      this.#revoked = new Set();
      this.#unusable = null;
      return;
    }
    const read = readEntries(this.#path);
    this.#unusable = read.unusable;
    this.#revoked = new Set(read.entries.map((e) => e.jti));
  }
}

function readEntries(path: string): { entries: Revocation[]; unusable: string | null } {
  let text: string;
  try {
    if (statSync(path).size > MAX_FILE_BYTES) return { entries: [], unusable: `larger than ${MAX_FILE_BYTES} bytes` };
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], unusable: null };
    return { entries: [], unusable: (error as Error).message };
  }
  const entries: Revocation[] = [];
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (const [index, line] of lines.entries()) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return { entries: [], unusable: `line ${index + 1} is not JSON` };
    }
    const e = value as Partial<Revocation> | null;
    if (
      e === null ||
      typeof e !== 'object' ||
      typeof e.jti !== 'string' ||
      !JTI.test(e.jti) ||
      typeof e.exp !== 'number' ||
      typeof e.revoked_at !== 'string'
    ) {
      return { entries: [], unusable: `line ${index + 1} is not a revocation entry` };
    }
    entries.push({ jti: e.jti, exp: e.exp, revoked_at: e.revoked_at });
  }
  return { entries, unusable: null };
}

/** At most 40 characters of `text`, control characters shown as '?', for a message. */
function printable(text: string): string {
  const shown = text.slice(0, 40).replace(/[^\x20-\x7e]/g, '?');
  return text.length > 40 ? `${shown}…` : shown;
}
