/** The interface every secret provider implements (encrypted file, environment, Vault KV v2). */

/** What `warden secrets ls` shows of a secret: never its value. */
export interface SecretInfo {
  readonly name: string;
  /** 1 for the first value, +1 on each `set` of the same name. */
  readonly version: number;
  /** ISO-8601 UTC, when known. */
  readonly updated_at: string | null;
}

export interface SecretProvider {
  /** `file`, `env` or `vault`: the prefix of references to it. */
  readonly kind: 'file' | 'env' | 'vault';
  /** The value, or null when the provider has no such secret. */
  get(name: string): Promise<string | null>;
  list(): Promise<SecretInfo[]>;
  /** Stores a value (a new version when the name exists). */
  set(name: string, value: string): Promise<SecretInfo>;
  /** Removes a secret; false when there was none. */
  remove(name: string): Promise<boolean>;
}
