/**
 * The key of the encrypted secret store: 32 random bytes, base64 text, from a key file (0600,
 * owned by warden's user; created on the first `warden secrets set`) or from an environment
 * variable (for CI, where the key comes from the CI system's own secret store). A key id (a
 * digest of the key) is written beside the ciphertext, so a wrong key is told apart from a
 * damaged store (SEC-03).
 */
import { createHash, randomBytes } from 'node:crypto';
import { WardenError } from '../core/errors.js';
import { readPrivateFile, writePrivateFile } from './durable-file.js';

export const KEY_BYTES = 32;

/** Where the key comes from. */
export type KeySource =
  { readonly kind: 'file'; readonly path: string } | { readonly kind: 'env'; readonly variable: string };

export interface StoreKey {
  readonly bytes: Buffer;
  /** First 16 hex of SHA-256("warden secrets key id" ‖ key): names the key, reveals nothing of it. */
  readonly id: string;
}

export function describeKeySource(source: KeySource): string {
  return source.kind === 'file' ? `the key file ${source.path}` : `the environment variable ${source.variable}`;
}

/** The key from `source`, or null when a key file does not exist yet (an env variable must be set). */
export function loadStoreKey(source: KeySource, env: NodeJS.ProcessEnv): StoreKey | null {
  if (source.kind === 'env') {
    const text = env[source.variable];
    if (text === undefined || text === '')
      throw new WardenError('SECRET_KEY', `the secret store's key variable ${source.variable} is not set`, {
        hint: `export ${source.variable}=<base64 of 32 random bytes> (e.g. from your CI's secret store), or use a key file (secrets.file.key_file)`,
      });
    return keyFromText(text, describeKeySource(source));
  }
  const read = readPrivateFile(
    source.path,
    1024,
    () => new WardenError('SECRET_KEY', `the key file ${source.path} is not a small regular file`, { hint: KEY_HINT }),
  );
  if (read === null) return null;
  checkPrivate(read, source.path, 'SECRET_KEY');
  return keyFromText(read.data.toString('utf8'), describeKeySource(source));
}

/** A new random key, written to `path` (0600); throws if the file already exists. */
export function createKeyFile(path: string): StoreKey {
  const bytes = randomBytes(KEY_BYTES);
  writePrivateFile(path, `${bytes.toString('base64')}\n`);
  return { bytes, id: keyId(bytes) };
}

/** A new random key (for rotation): its bytes and its base64 text. */
export function newStoreKey(): StoreKey & { readonly text: string } {
  const bytes = randomBytes(KEY_BYTES);
  return { bytes, id: keyId(bytes), text: bytes.toString('base64') };
}

export function keyFromText(text: string, where: string): StoreKey {
  const trimmed = text.trim();
  const bytes = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(trimmed) || bytes.length !== KEY_BYTES)
    throw new WardenError('SECRET_KEY', `${where} does not hold a secret store key (base64 of 32 bytes)`, {
      hint: KEY_HINT,
    });
  return { bytes, id: keyId(bytes) };
}

/** Refuses a secret file that another user owns or that others may read or write (SEC-03). */
export function checkPrivate(
  read: { readonly uid: number; readonly mode: number },
  path: string,
  code: 'SECRET_KEY' | 'SECRET_STORE',
): void {
  const uid = process.getuid?.() ?? -1;
  if (read.uid !== uid || (read.mode & 0o077) !== 0)
    throw new WardenError(
      code,
      `${path} must be private to uid ${uid} (mode 0600), but it is owned by uid ${read.uid} with mode ${read.mode.toString(8).padStart(4, '0')}`,
      { hint: `chown ${uid} ${path} && chmod 600 ${path}, after checking nobody else has read it` },
    );
}

const KEY_HINT =
  'a key is the base64 text of 32 random bytes (head -c 32 /dev/urandom | base64); warden creates its key file on the first `warden secrets set`';

function keyId(bytes: Buffer): string {
  return createHash('sha256').update('warden secrets key id\0').update(bytes).digest('hex').slice(0, 16);
}
