import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canaryEncodings } from '../../test/kits/canary.js';
import { FileSecretStore } from './file-store.js';

const CANARY = 'canary-7f3a9c2e-secret-value';

describe('the encrypted file store', () => {
  let dir: string;
  let store: FileSecretStore;
  const storePath = () => join(dir, 'secrets.enc');
  const keyPath = () => join(dir, 'secrets.key');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-secrets-'));
    store = new FileSecretStore({ path: storePath(), key: { kind: 'file', path: keyPath() } });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('SEC-03 keeps values encrypted at rest in 0600 files, and gives them back', async () => {
    expect(await store.get('github')).toBeNull();
    expect(await store.set('github', CANARY)).toMatchObject({ name: 'github', version: 1 });
    expect(await store.set('github', `${CANARY}-2`)).toMatchObject({ version: 2 });
    await store.set('other', 'x');
    expect(await store.get('github')).toBe(`${CANARY}-2`);
    expect((await store.list()).map((s) => [s.name, s.version])).toEqual([
      ['github', 2],
      ['other', 1],
    ]);
    const raw = readFileSync(storePath(), 'utf8');
    for (const form of [...canaryEncodings(CANARY), 'github']) expect(raw).not.toContain(form);
    expect(statSync(storePath()).mode & 0o777).toBe(0o600);
    expect(statSync(keyPath()).mode & 0o777).toBe(0o600);
    expect(await store.remove('github')).toBe(true);
    expect(await store.remove('github')).toBe(false);
    expect(await store.get('github')).toBeNull();
  });

  it('SEC-03 a wrong key fails loudly, naming both key ids, and the store is left as it was', async () => {
    await store.set('github', CANARY);
    const before = readFileSync(storePath());
    writeFileSync(keyPath(), `${Buffer.alloc(32, 7).toString('base64')}\n`, { mode: 0o600 });
    await expect(store.get('github')).rejects.toMatchObject({
      code: 'SECRET_KEY',
      message: expect.stringMatching(
        /is not the key the secret store .* was encrypted with \(store key [0-9a-f]{16}, this key [0-9a-f]{16}\)/,
      ),
    });
    await expect(store.set('github', 'overwrite')).rejects.toMatchObject({ code: 'SECRET_KEY' });
    expect(readFileSync(storePath())).toEqual(before);
  });

  it('SEC-03 a missing key, a malformed key and a key or store others can read are refused', async () => {
    await store.set('github', CANARY);
    const key = readFileSync(keyPath());
    chmodSync(keyPath(), 0o644);
    await expect(store.get('github')).rejects.toMatchObject({
      code: 'SECRET_KEY',
      message: expect.stringContaining('mode 0644'),
    });
    chmodSync(keyPath(), 0o600);
    chmodSync(storePath(), 0o640);
    await expect(store.get('github')).rejects.toMatchObject({
      code: 'SECRET_STORE',
      message: expect.stringContaining('0640'),
    });
    chmodSync(storePath(), 0o600);
    writeFileSync(keyPath(), 'not a key\n');
    await expect(store.get('github')).rejects.toMatchObject({
      code: 'SECRET_KEY',
      message: expect.stringContaining('base64 of 32 bytes'),
    });
    rmSync(keyPath());
    await expect(store.get('github')).rejects.toMatchObject({
      code: 'SECRET_KEY',
      message: expect.stringContaining('does not'),
    });
    writeFileSync(keyPath(), key, { mode: 0o600 });
    expect(await store.get('github')).toBe(CANARY);
  });

  it('SEC-03 a changed byte of the ciphertext fails the integrity check', async () => {
    await store.set('github', CANARY);
    const envelope = JSON.parse(readFileSync(storePath(), 'utf8')) as { ciphertext: string };
    const bytes = Buffer.from(envelope.ciphertext, 'base64');
    bytes[3] = (bytes[3] ?? 0) ^ 1;
    writeFileSync(storePath(), JSON.stringify({ ...envelope, ciphertext: bytes.toString('base64') }), { mode: 0o600 });
    await expect(store.get('github')).rejects.toMatchObject({
      code: 'SECRET_STORE',
      message: expect.stringContaining('integrity'),
    });
  });

  it('rotation re-encrypts under a new key; the old key no longer opens it', async () => {
    await store.set('github', CANARY);
    const oldKey = readFileSync(keyPath());
    const { from, to } = await store.rotateKey();
    expect(from).not.toBe(to);
    expect(readFileSync(keyPath())).not.toEqual(oldKey);
    expect(existsSync(`${keyPath()}.next`)).toBe(false);
    expect(await store.get('github')).toBe(CANARY);
    writeFileSync(keyPath(), oldKey, { mode: 0o600 });
    await expect(store.get('github')).rejects.toMatchObject({ code: 'SECRET_KEY' });
  });

  it('a rotation cut short after the store was rewritten is finished on the next open', async () => {
    await store.set('github', CANARY);
    await store.rotateKey();
    // As if the process died before renaming the new key into place: the old key is back, the new one waits as .next.
    renameSync(keyPath(), `${keyPath()}.next`);
    const other = new FileSecretStore({ path: join(dir, 'other.enc'), key: { kind: 'file', path: keyPath() } });
    await other.set('x', 'y'); // writes a fresh (different) key file
    expect(await store.get('github')).toBe(CANARY);
    expect(existsSync(`${keyPath()}.next`)).toBe(false);
  });

  it('a key from an environment variable; rotation then needs the new key', async () => {
    const env = { STORE_KEY: Buffer.alloc(32, 1).toString('base64') };
    const fromEnv = new FileSecretStore({ path: storePath(), key: { kind: 'env', variable: 'STORE_KEY' }, env });
    await fromEnv.set('ci', CANARY);
    expect(existsSync(keyPath())).toBe(false);
    await expect(fromEnv.rotateKey()).rejects.toMatchObject({
      code: 'SECRET_KEY',
      message: expect.stringContaining('give the new key'),
    });
    const next = Buffer.alloc(32, 2).toString('base64');
    await fromEnv.rotateKey(next);
    await expect(fromEnv.get('ci')).rejects.toMatchObject({ code: 'SECRET_KEY' });
    env.STORE_KEY = next;
    expect(await fromEnv.get('ci')).toBe(CANARY);
    const unset = new FileSecretStore({ path: storePath(), key: { kind: 'env', variable: 'NOT_SET' }, env: {} });
    await expect(unset.get('ci')).rejects.toMatchObject({
      code: 'SECRET_KEY',
      message: expect.stringContaining('NOT_SET'),
    });
  });

  it('concurrent sets all land (the lock keeps each read-modify-write whole)', async () => {
    await Promise.all(Array.from({ length: 16 }, (_, i) => store.set(`s${i}`, `v${i}`)));
    expect((await store.list()).length).toBe(16);
    for (let i = 0; i < 16; i++) expect(await store.get(`s${i}`)).toBe(`v${i}`);
  });

  it('refuses bad names and values without touching the store', async () => {
    await expect(store.set('../x', 'v')).rejects.toMatchObject({ code: 'SECRET_INVALID' });
    await expect(store.set('ok', '')).rejects.toMatchObject({ code: 'SECRET_INVALID' });
    await expect(store.set('ok', 'a\0b')).rejects.toMatchObject({ code: 'SECRET_INVALID' });
    await expect(store.set('ok', 'x'.repeat(64 * 1024 + 1))).rejects.toMatchObject({ code: 'SECRET_INVALID' });
    expect(existsSync(storePath())).toBe(false);
  });
});
