/** Secrets: the encrypted file store, environment and Vault providers, resolved by reference. */
export { SecretProviders, type SecretsConfig } from './providers.js';
export { FileSecretStore, MAX_SECRETS } from './file-store.js';
export { VaultSecretProvider, type VaultOptions } from './vault-provider.js';
export { EnvSecretProvider } from './env-provider.js';
export type { SecretInfo, SecretProvider } from './provider.js';
export { SecretRedactor, StreamRedactor, MIN_REDACTED_CHARS, type KnownSecret, type RedactionHit } from './redactor.js';
