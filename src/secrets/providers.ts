/**
 * The secret providers a config names (`secrets:`), behind one lookup: `resolve(ref)` for
 * `from_secret` references, and `store` for `warden secrets set|ls|rm|rotate`.
 */
import { join } from 'node:path';
import type { WardenConfig } from '../core/config.js';
import { WardenError } from '../core/errors.js';
import { describeSecretRef, parseSecretRef } from '../core/secret-names.js';
import { EnvSecretProvider } from './env-provider.js';
import { FileSecretStore } from './file-store.js';
import type { SecretProvider } from './provider.js';
import { VaultSecretProvider } from './vault-provider.js';

export type SecretsConfig = WardenConfig['secrets'];

export class SecretProviders {
  readonly file: FileSecretStore;
  readonly env: EnvSecretProvider;
  readonly vault: VaultSecretProvider | null;
  readonly #config: SecretsConfig;

  constructor(config: SecretsConfig, stateDir: string, env: NodeJS.ProcessEnv = process.env) {
    this.#config = config;
    this.file = new FileSecretStore({
      path: config.file.path ?? join(stateDir, 'secrets.enc'),
      key:
        config.file.key_env === undefined
          ? { kind: 'file', path: config.file.key_file ?? join(stateDir, 'secrets.key') }
          : { kind: 'env', variable: config.file.key_env },
      env,
    });
    this.env = new EnvSecretProvider(env);
    const vault = config.vault;
    this.vault =
      vault === undefined
        ? null
        : new VaultSecretProvider({
            address: vault.address,
            mount: vault.mount,
            prefix: vault.prefix,
            tokenEnv: vault.token_env,
            ...(vault.namespace === undefined ? {} : { namespace: vault.namespace }),
            ...(vault.ca_file === undefined ? {} : { caFile: vault.ca_file }),
            env,
          });
  }

  /** Where `warden secrets set|ls|rm` work, and what a bare NAME reads. */
  get store(): SecretProvider {
    return this.#config.store === 'vault' ? this.#vault() : this.file;
  }

  /** The value a reference names; SECRET_NOT_FOUND when it has none. */
  async resolve(reference: string): Promise<string> {
    const ref = parseSecretRef(reference);
    let value: string | null;
    switch (ref.provider) {
      case 'file':
        // A bare NAME reads the configured store; `file:NAME` always the file store.
        value = await (reference.startsWith('file:') ? this.file : this.store).get(ref.name);
        break;
      case 'env':
        value = await this.env.get(ref.variable);
        break;
      case 'vault':
        value = await this.#vault().getField(ref.path, ref.field);
        break;
    }
    if (value === null)
      throw new WardenError('SECRET_NOT_FOUND', `${describeSecretRef(ref)} does not exist`, {
        hint:
          ref.provider === 'env'
            ? `export ${ref.variable} before starting warden`
            : ref.provider === 'vault'
              ? `write it: vault kv put ${this.#config.vault?.mount ?? 'secret'}/${ref.path} ${ref.field}=…`
              : `store it: warden secrets set ${ref.name}`,
      });
    return value;
  }

  /** Resolves every reference once (each value fetched once however often it is used). */
  async resolveAll(references: Iterable<string>): Promise<Map<string, string>> {
    const values = new Map<string, string>();
    for (const reference of new Set(references)) values.set(reference, await this.resolve(reference));
    return values;
  }

  async close(): Promise<void> {
    await this.vault?.close();
  }

  #vault(): VaultSecretProvider {
    if (this.vault === null)
      throw new WardenError('SECRET_INVALID', 'a vault: secret is used but secrets.vault is not configured', {
        hint: 'add secrets.vault (address, mount, token_env) to warden.yaml',
      });
    return this.vault;
  }
}
