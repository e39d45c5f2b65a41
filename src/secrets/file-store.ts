/**
 * The encrypted secret store: one file (default `<state>/secrets.enc`, 0600) holding every
 * secret as one AES-256-GCM ciphertext under the store key (store-key.ts). The envelope names
 * the key's id, so a wrong key says so instead of "corrupt"; the key id and format are the
 * additional authenticated data, so neither can be swapped. Every change rewrites the file whole
 * under a lock (durable-file.ts): nothing half-written, no lost update.
 *
 * Rotation (`rotateKey`) re-encrypts under a new key. With a key file it is crash-safe: the new
 * key is written to `<key>.next` first, then the store (now naming the new key id), then the new
 * key replaces the old; a store that names the `.next` key's id finishes that last step on its
 * next open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { renameSync } from 'node:fs';
import { z } from 'zod';
import { WardenError } from '../core/errors.js';
import { readPrivateFile, withLockFile, writePrivateFile } from './durable-file.js';
import { checkSecretName, checkSecretValue } from '../core/secret-names.js';
import type { SecretInfo, SecretProvider } from './provider.js';
import {
  checkPrivate,
  createKeyFile,
  describeKeySource,
  keyFromText,
  loadStoreKey,
  newStoreKey,
  type KeySource,
  type StoreKey,
} from './store-key.js';

const FORMAT = 'warden-secrets';
const FORMAT_VERSION = 1;
/** At most this many secrets, and a store file at most this large. */
export const MAX_SECRETS = 4096;
const MAX_STORE_BYTES = 64 * 1024 * 1024;

const envelopeSchema = z.strictObject({
  format: z.literal(FORMAT),
  version: z.literal(FORMAT_VERSION),
  key_id: z.string().regex(/^[0-9a-f]{16}$/),
  iv: z.base64().length(16),
  tag: z.base64().length(24),
  ciphertext: z.base64(),
});

const contentsSchema = z.strictObject({
  secrets: z.record(
    z.string(),
    z.strictObject({
      value: z.string(),
      version: z.number().int().positive(),
      updated_at: z.string().max(40),
    }),
  ),
});

type Contents = z.infer<typeof contentsSchema>;

export interface FileStoreOptions {
  /** The encrypted store file. */
  readonly path: string;
  readonly key: KeySource;
  readonly env?: NodeJS.ProcessEnv;
}

export class FileSecretStore implements SecretProvider {
  readonly kind = 'file' as const;
  readonly #path: string;
  readonly #key: KeySource;
  readonly #env: NodeJS.ProcessEnv;

  constructor(options: FileStoreOptions) {
    this.#path = options.path;
    this.#key = options.key;
    this.#env = options.env ?? process.env;
  }

  get path(): string {
    return this.#path;
  }

  async get(name: string): Promise<string | null> {
    return (await this.#read())?.contents.secrets[name]?.value ?? null;
  }

  async list(): Promise<SecretInfo[]> {
    const current = await this.#read();
    return Object.entries(current?.contents.secrets ?? {})
      .map(([name, s]) => ({ name, version: s.version, updated_at: s.updated_at }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async set(name: string, value: string): Promise<SecretInfo> {
    checkSecretName(name);
    checkSecretValue(value, `the value of secret '${name}'`);
    return this.#change((contents) => {
      const previous = contents.secrets[name];
      if (previous === undefined && Object.keys(contents.secrets).length >= MAX_SECRETS)
        throw new WardenError('SECRET_INVALID', `the store holds ${MAX_SECRETS} secrets already`, {
          hint: 'remove secrets you no longer use (warden secrets rm NAME)',
        });
      const entry = { value, version: (previous?.version ?? 0) + 1, updated_at: new Date().toISOString() };
      contents.secrets[name] = entry;
      return { name, version: entry.version, updated_at: entry.updated_at };
    });
  }

  async remove(name: string): Promise<boolean> {
    checkSecretName(name);
    return this.#change((contents) => {
      if (!Object.hasOwn(contents.secrets, name)) return false;
      delete contents.secrets[name];
      return true;
    });
  }

  /**
   * Re-encrypts the store under a new key. With a key file, warden makes the key and swaps it in;
   * with a key variable, `newKeyText` is the new key (base64) and the caller must replace the
   * variable afterwards. Returns the old and new key ids.
   */
  async rotateKey(newKeyText?: string): Promise<{ readonly from: string; readonly to: string }> {
    return withLockFile(`${this.#path}.lock`, busy(this.#path), () => {
      const current = this.#load();
      if (current === null)
        throw new WardenError('SECRET_STORE', `there is no secret store at ${this.#path} to rotate`, {
          hint: 'store a secret first (warden secrets set NAME)',
        });
      if (this.#key.kind === 'env') {
        if (newKeyText === undefined)
          throw new WardenError('SECRET_KEY', `the store's key comes from ${this.#key.variable}: give the new key`, {
            hint: 'warden secrets rotate --new-key-env NEW_VAR (a variable holding base64 of 32 random bytes), then make NEW_VAR the store key',
          });
        const next = keyFromText(newKeyText, 'the new key');
        this.#write(current.contents, next);
        return { from: current.key.id, to: next.id };
      }
      if (newKeyText !== undefined)
        throw new WardenError('SECRET_KEY', `the store's key is the file ${this.#key.path}; warden makes the new key`, {
          hint: 'run warden secrets rotate without --new-key-env',
        });
      const next = newStoreKey();
      const nextPath = `${this.#key.path}.next`;
      writePrivateFile(nextPath, `${next.text}\n`);
      this.#write(current.contents, next);
      renameSync(nextPath, this.#key.path);
      return { from: current.key.id, to: next.id };
    });
  }

  async #read(): Promise<{ contents: Contents; key: StoreKey } | null> {
    return Promise.resolve(this.#load());
  }

  async #change<T>(apply: (contents: Contents) => T): Promise<T> {
    return withLockFile(`${this.#path}.lock`, busy(this.#path), () => {
      const current = this.#load();
      let key = current?.key ?? null;
      if (key === null) {
        key = loadStoreKey(this.#key, this.#env);
        if (key === null && this.#key.kind === 'file') key = createKeyFile(this.#key.path);
      }
      if (key === null) throw new Error('unreachable: an env key is loaded or throws');
      const contents: Contents = current?.contents ?? { secrets: {} };
      const result = apply(contents);
      this.#write(contents, key);
      return result;
    });
  }

  /** The decrypted store, or null when it does not exist yet. */
  #load(): { contents: Contents; key: StoreKey } | null {
    let read;
    try {
      read = readPrivateFile(
        this.#path,
        MAX_STORE_BYTES,
        () =>
          new WardenError('SECRET_STORE', `${this.#path} is not a regular file of at most 64 MiB`, {
            hint: 'point secrets.file.path at the store warden wrote',
          }),
      );
    } catch (error) {
      if (error instanceof WardenError) throw error;
      throw new WardenError('SECRET_STORE', `cannot read the secret store ${this.#path}: ${(error as Error).message}`, {
        hint: 'check the file and its permissions',
        cause: error,
      });
    }
    if (read === null) return null;
    checkPrivate(read, this.#path, 'SECRET_STORE');
    let envelope: z.infer<typeof envelopeSchema>;
    try {
      envelope = envelopeSchema.parse(JSON.parse(read.data.toString('utf8')));
    } catch {
      throw damaged(this.#path, 'it is not a warden secret store (format warden-secrets, version 1)');
    }
    const key = this.#keyFor(envelope.key_id);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.bytes, Buffer.from(envelope.iv, 'base64'));
      decipher.setAAD(aad(envelope.key_id));
      decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
      plain = Buffer.concat([decipher.update(Buffer.from(envelope.ciphertext, 'base64')), decipher.final()]);
    } catch {
      throw damaged(this.#path, 'it fails its integrity check (changed or damaged since warden wrote it)');
    }
    try {
      const contents = contentsSchema.parse(JSON.parse(plain.toString('utf8')));
      return { contents, key };
    } catch {
      throw damaged(this.#path, 'its contents are not what warden writes');
    } finally {
      plain.fill(0);
    }
  }

  /** The key whose id the store names: the configured one, or a rotation's `.next` key to finish. */
  #keyFor(storeKeyId: string): StoreKey {
    const key = loadStoreKey(this.#key, this.#env);
    if (key !== null && key.id === storeKeyId) return key;
    if (this.#key.kind === 'file') {
      const nextSource: KeySource = { kind: 'file', path: `${this.#key.path}.next` };
      const next = loadStoreKey(nextSource, this.#env);
      if (next !== null && next.id === storeKeyId) {
        // A rotation stopped after the store was re-encrypted: finish it.
        renameSync(nextSource.path, this.#key.path);
        return next;
      }
    }
    throw new WardenError(
      'SECRET_KEY',
      key === null
        ? `the secret store ${this.#path} exists but ${describeKeySource(this.#key)} does not`
        : `${describeKeySource(this.#key)} is not the key the secret store ${this.#path} was encrypted with (store key ${storeKeyId}, this key ${key.id})`,
      {
        hint: 'use the key the store was written with (secrets.file.key_file, or the variable in secrets.file.key_env)',
      },
    );
  }

  #write(contents: Contents, key: StoreKey): void {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.bytes, iv);
    cipher.setAAD(aad(key.id));
    const plain = Buffer.from(JSON.stringify(contents), 'utf8');
    const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
    plain.fill(0);
    const envelope = {
      format: FORMAT,
      version: FORMAT_VERSION,
      key_id: key.id,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
    try {
      writePrivateFile(this.#path, `${JSON.stringify(envelope)}\n`);
    } catch (error) {
      throw new WardenError(
        'SECRET_STORE',
        `cannot write the secret store ${this.#path}: ${(error as Error).message}`,
        {
          hint: 'check the directory and its permissions',
          cause: error,
        },
      );
    }
  }
}

function aad(keyId: string): Buffer {
  return Buffer.from(`${FORMAT}/${FORMAT_VERSION}/${keyId}`, 'utf8');
}

function damaged(path: string, why: string): WardenError {
  return new WardenError('SECRET_STORE', `the secret store ${path} cannot be used: ${why}`, {
    hint: 'restore it from a backup; warden never overwrites a store it cannot read',
  });
}

function busy(path: string): () => WardenError {
  return () =>
    new WardenError('SECRET_STORE', `the secret store ${path} is locked by another warden`, {
      hint: `try again; remove ${path}.lock if no warden secrets command is running`,
    });
}
