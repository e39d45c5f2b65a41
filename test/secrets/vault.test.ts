/**
 * The Vault / OpenBao KV v2 client against test/secrets/vault-kv2-server.mjs, a stand-in written
 * from Vault's documented HTTP API (no Vault server package is available here; see its header).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultSecretProvider } from '../../src/secrets/vault-provider.js';
import { SecretProviders } from '../../src/secrets/providers.js';

const RW = 'hvs.rw-token';
const RO = 'hvs.ro-token';
let server: ChildProcess;
let address = '';

beforeAll(async () => {
  server = spawn(process.execPath, [join(import.meta.dirname, 'vault-kv2-server.mjs'), '0', 'kv', RW, RO], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve, reject) => {
    server.stdout?.once('data', (d: Buffer) => resolve(d.toString().trim().split(' ')[1] ?? ''));
    server.once('exit', (code) => reject(new Error(`the Vault stand-in exited (${String(code)})`)));
  });
  address = `http://127.0.0.1:${port}`;
});
afterAll(() => server.kill());

function vault(token: string | undefined, prefix = 'warden/'): VaultSecretProvider {
  return new VaultSecretProvider({
    address,
    mount: 'kv',
    prefix,
    tokenEnv: 'VAULT_TOKEN',
    env: token === undefined ? {} : { VAULT_TOKEN: token },
  });
}

describe('Vault KV v2 provider', () => {
  it('stores, versions, lists, reads and removes secrets under its prefix', async () => {
    const v = vault(RW);
    try {
      expect(await v.list()).toEqual([]);
      expect(await v.set('github', 'ghp_first')).toMatchObject({ name: 'github', version: 1 });
      expect(await v.set('github', 'ghp_second')).toMatchObject({ version: 2 });
      await v.set('npm', 'npm_token');
      expect(await v.get('github')).toBe('ghp_second');
      expect((await v.list()).map((s) => [s.name, s.version])).toEqual([
        ['github', 2],
        ['npm', 1],
      ]);
      expect(await v.remove('npm')).toBe(true);
      expect(await v.remove('npm')).toBe(false);
      expect(await v.get('npm')).toBeNull();
      // Any path and field below the mount, as `vault:PATH#FIELD` references read them.
      expect(await v.getField('warden/github', 'value')).toBe('ghp_second');
      expect(await v.getField('warden/github', 'nope')).toBeNull();
      expect(await v.getField('elsewhere/x', 'value')).toBeNull();
    } finally {
      await v.close();
    }
  });

  it('a missing token, a read-only token writing and a wrong mount are clear errors, never showing the token', async () => {
    const none = vault(undefined);
    await expect(none.get('github')).rejects.toMatchObject({
      code: 'SECRET_PROVIDER',
      message: expect.stringContaining('VAULT_TOKEN is not set'),
    });
    const ro = vault(RO);
    const refused = ro.set('github', 'x').catch((e: unknown) => e as Error);
    await expect(refused).resolves.toMatchObject({
      code: 'SECRET_PROVIDER',
      message: expect.stringContaining('HTTP 403 (permission denied)'),
    });
    expect(String(((await refused) as Error).message)).not.toContain(RO);
    const wrong = new VaultSecretProvider({ address, mount: 'secret', prefix: '', tokenEnv: 'T', env: { T: RW } });
    await expect(wrong.set('a', 'b')).rejects.toMatchObject({
      code: 'SECRET_PROVIDER',
      message: expect.stringContaining('HTTP 404'),
    });
    const down = new VaultSecretProvider({
      address: 'http://127.0.0.1:1',
      mount: 'kv',
      prefix: '',
      tokenEnv: 'T',
      env: { T: RW },
    });
    await expect(down.get('a')).rejects.toMatchObject({
      code: 'SECRET_PROVIDER',
      message: expect.stringContaining('did not answer'),
    });
    await Promise.all([none.close(), ro.close(), wrong.close(), down.close()]);
  });

  it('references resolve through the configured providers: bare names, file:, env: and vault:', async () => {
    const providers = new SecretProviders(
      { store: 'vault', file: { key_env: 'K' }, vault: { address, mount: 'kv', prefix: 'team/', token_env: 'VT' } },
      '/nonexistent-state-dir',
      { VT: RW, K: Buffer.alloc(32, 3).toString('base64'), CI_TOKEN: 'from-env' },
    );
    try {
      await providers.store.set('deploy', 'deploy-value');
      expect(await providers.resolve('deploy')).toBe('deploy-value');
      expect(await providers.resolve('vault:team/deploy#value')).toBe('deploy-value');
      expect(await providers.resolve('env:CI_TOKEN')).toBe('from-env');
      await expect(providers.resolve('env:NOT_SET')).rejects.toMatchObject({
        code: 'SECRET_NOT_FOUND',
        message: expect.stringContaining('NOT_SET'),
      });
      await expect(providers.resolve('vault:team/missing')).rejects.toMatchObject({ code: 'SECRET_NOT_FOUND' });
      await expect(providers.resolve('ldap:x')).rejects.toMatchObject({ code: 'SECRET_INVALID' });
      await expect(providers.resolve('vault:../etc#x')).rejects.toMatchObject({ code: 'SECRET_INVALID' });
    } finally {
      await providers.close();
    }
  });
});
