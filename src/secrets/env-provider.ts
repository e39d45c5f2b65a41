/**
 * Secrets from warden's own environment (`env:VAR`): for CI systems that hand jobs their secrets
 * as variables. Read-only: warden does not set or remove its own environment.
 */
import { WardenError } from '../core/errors.js';
import type { SecretInfo, SecretProvider } from './provider.js';

export class EnvSecretProvider implements SecretProvider {
  readonly kind = 'env' as const;
  readonly #env: NodeJS.ProcessEnv;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.#env = env;
  }

  get(variable: string): Promise<string | null> {
    const value = this.#env[variable];
    return Promise.resolve(value === undefined || value === '' ? null : value);
  }

  /** Nothing is listed: the environment holds far more than secrets, and which are is not known. */
  list(): Promise<SecretInfo[]> {
    return Promise.resolve([]);
  }

  set(): Promise<SecretInfo> {
    return Promise.reject(readOnly());
  }

  remove(): Promise<boolean> {
    return Promise.reject(readOnly());
  }
}

function readOnly(): WardenError {
  return new WardenError('SECRET_INVALID', 'environment variables are read-only secrets', {
    hint: 'export the variable before starting warden, or store the secret with secrets.store: file or vault',
  });
}
