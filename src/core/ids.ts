import { randomBytes } from 'node:crypto';

// Crockford base32: sortable, unambiguous, case-insensitive.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A new run id: `run_` + 10 chars of millisecond time + 16 chars (80 bits) of randomness
 * (the ULID layout), so ids sort by start time and cannot be guessed.
 */
export function newRunId(now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = (ALPHABET[t % 32] ?? '0') + time;
    t = Math.floor(t / 32);
  }
  const random = randomBytes(16);
  let rand = '';
  for (const byte of random) rand += ALPHABET[byte % 32] ?? '0';
  return `run_${time}${rand}`;
}

/** Run ids as accepted from users and files: bounded and charset-checked before any lookup. */
export const RUN_ID_PATTERN = /^run_[0-9A-HJKMNP-TV-Z]{26}$/;

/** A random secret for credentials (hex, 256 bits). */
export function newSecret(): string {
  return randomBytes(32).toString('hex');
}
