/**
 * Secrets in HashiCorp Vault or OpenBao, KV secrets engine version 2, over its documented HTTP
 * API (https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2): read
 * `GET /v1/<mount>/data/<path>`, write `POST` there with `{"data":{…}}`, list
 * `LIST /v1/<mount>/metadata/<path>` (sent as `GET …?list=true`), delete every version `DELETE /v1/<mount>/metadata/<path>`;
 * the token in `X-Vault-Token` (from warden's environment, never from config), a namespace in
 * `X-Vault-Namespace`. Names stored by `warden secrets set` live at `<prefix><name>` in field
 * `value`; `vault:PATH#FIELD` references read any path below the mount.
 *
 * Every answer is bounded (1 MiB, 10 s) and checked for the shape the API documents; anything
 * else is SECRET_PROVIDER naming the request, never the token or a value.
 */
import { readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';
import { WardenError } from '../core/errors.js';
import { checkSecretName, checkSecretValue } from '../core/secret-names.js';
import type { SecretInfo, SecretProvider } from './provider.js';

export interface VaultOptions {
  /** e.g. https://vault.example.com:8200 */
  readonly address: string;
  /** The KV v2 mount, e.g. `secret`. */
  readonly mount: string;
  /** Where `warden secrets set NAME` stores NAME, below the mount, e.g. `warden/`. */
  readonly prefix: string;
  /** The environment variable holding the token. */
  readonly tokenEnv: string;
  readonly namespace?: string;
  /** A PEM bundle to trust for the server's certificate (instead of the system's). */
  readonly caFile?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

const MAX_ANSWER_BYTES = 1024 * 1024;

export class VaultSecretProvider implements SecretProvider {
  readonly kind = 'vault' as const;
  readonly #options: VaultOptions;
  readonly #env: NodeJS.ProcessEnv;
  #dispatcher: Dispatcher | undefined;

  constructor(options: VaultOptions) {
    this.#options = options;
    this.#env = options.env ?? process.env;
  }

  /** A secret stored by `warden secrets set`: field `value` at `<prefix><name>`. */
  async get(name: string): Promise<string | null> {
    return this.getField(`${this.#options.prefix}${checkSecretName(name)}`, 'value');
  }

  /** One field of the newest version at `path`; null when the path or field does not exist. */
  async getField(path: string, field: string): Promise<string | null> {
    const answer = await this.#call('GET', `data/${path}`);
    if (answer.status === 404) return null;
    const data = objectAt(answer.body, ['data', 'data']);
    if (data === null) throw this.#unexpected('GET', `data/${path}`, 'no data.data object');
    const value = data[field];
    if (value === undefined) return null;
    if (typeof value !== 'string') throw this.#unexpected('GET', `data/${path}`, `field ${field} is not a string`);
    return value;
  }

  async list(): Promise<SecretInfo[]> {
    const dir = this.#options.prefix;
    // `GET …?list=true` is Vault's documented alternative to the LIST verb, which HTTP proxies and
    // some clients do not carry.
    const answer = await this.#call('LIST', `metadata/${dir}`);
    if (answer.status === 404) return [];
    const keys = objectAt(answer.body, ['data'])?.['keys'];
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))
      throw this.#unexpected('LIST', `metadata/${dir}`, 'no data.keys list');
    const names = keys.filter((k) => !k.endsWith('/') && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(k));
    const infos: SecretInfo[] = [];
    for (const name of names.slice(0, 4096)) {
      const meta = await this.#call('GET', `metadata/${dir}${name}`);
      const data = objectAt(meta.body, ['data']);
      const version = data?.['current_version'];
      const updated = data?.['updated_time'];
      infos.push({
        name,
        version: typeof version === 'number' ? version : 0,
        updated_at: typeof updated === 'string' ? updated.slice(0, 40) : null,
      });
    }
    return infos.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async set(name: string, value: string): Promise<SecretInfo> {
    checkSecretName(name);
    checkSecretValue(value, `the value of secret '${name}'`);
    const path = `data/${this.#options.prefix}${name}`;
    const answer = await this.#call('POST', path, { data: { value } });
    const data = objectAt(answer.body, ['data']);
    const version = data?.['version'];
    if (typeof version !== 'number') throw this.#unexpected('POST', path, 'no data.version');
    const created = data?.['created_time'];
    return { name, version, updated_at: typeof created === 'string' ? created.slice(0, 40) : null };
  }

  async remove(name: string): Promise<boolean> {
    checkSecretName(name);
    const path = `metadata/${this.#options.prefix}${name}`;
    const exists = await this.#call('GET', path);
    if (exists.status === 404) return false;
    await this.#call('DELETE', path);
    return true;
  }

  async close(): Promise<void> {
    await this.#dispatcher?.close();
  }

  async #call(
    method: 'GET' | 'POST' | 'LIST' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const token = this.#env[this.#options.tokenEnv];
    if (token === undefined || token === '')
      throw new WardenError('SECRET_PROVIDER', `the Vault token variable ${this.#options.tokenEnv} is not set`, {
        hint: `export ${this.#options.tokenEnv} (a Vault token with read access to ${this.#options.mount}/${this.#options.prefix}), or set secrets.vault.token_env`,
      });
    const url = `${this.#options.address.replace(/\/+$/, '')}/v1/${this.#options.mount}/${path}${method === 'LIST' ? '?list=true' : ''}`;
    const headers: Record<string, string> = { 'x-vault-token': token, accept: 'application/json' };
    if (this.#options.namespace !== undefined) headers['x-vault-namespace'] = this.#options.namespace;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const what = `${method} /v1/${this.#options.mount}/${path}`;
    let status: number;
    let text: string;
    try {
      const answer = await request(url, {
        method: method === 'LIST' ? 'GET' : method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        dispatcher: this.#agent(),
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
      });
      status = answer.statusCode;
      text = await readBounded(answer.body, what);
    } catch (error) {
      if (error instanceof WardenError) throw error;
      throw new WardenError(
        'SECRET_PROVIDER',
        `Vault at ${this.#options.address} did not answer ${what}: ${(error as Error).message}`,
        {
          hint: 'check secrets.vault.address, the network and the server certificate (secrets.vault.ca_file)',
          cause: error,
        },
      );
    }
    let parsed: unknown = null;
    if (text.trim() !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw this.#unexpected(method, path, `HTTP ${status} with a body that is not JSON`);
      }
    }
    if (status === 404 && (method === 'GET' || method === 'LIST')) return { status, body: parsed };
    if (status < 200 || status >= 300) {
      const errors = objectAt(parsed, [])?.['errors'];
      const said = Array.isArray(errors)
        ? errors
            .filter((e) => typeof e === 'string')
            .join('; ')
            .slice(0, 300)
        : '';
      throw new WardenError(
        'SECRET_PROVIDER',
        `Vault refused ${what}: HTTP ${status}${said === '' ? '' : ` (${said})`}`,
        {
          hint:
            status === 403
              ? `the token in ${this.#options.tokenEnv} lacks a policy for ${this.#options.mount}/${this.#options.prefix}, or has expired`
              : 'check secrets.vault (address, mount: a KV version 2 engine, namespace)',
        },
      );
    }
    return { status, body: parsed };
  }

  #agent(): Dispatcher {
    if (this.#dispatcher === undefined) {
      const ca = this.#options.caFile === undefined ? undefined : readFileSync(this.#options.caFile, 'utf8');
      this.#dispatcher = new Agent({ connect: ca === undefined ? {} : { ca }, connections: 4 });
    }
    return this.#dispatcher;
  }

  #unexpected(method: string, path: string, why: string): WardenError {
    return new WardenError(
      'SECRET_PROVIDER',
      `Vault's answer to ${method} /v1/${this.#options.mount}/${path} is not what the KV v2 API documents: ${why}`,
      {
        hint: `check that ${this.#options.mount} is a KV version 2 secrets engine (vault secrets enable -version=2 kv)`,
      },
    );
  }
}

async function readBounded(body: AsyncIterable<Buffer>, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_ANSWER_BYTES)
      throw new WardenError('SECRET_PROVIDER', `Vault's answer to ${what} is larger than 1 MiB`, {
        hint: 'check secrets.vault.address points at Vault',
      });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function objectAt(value: unknown, path: readonly string[]): Record<string, unknown> | null {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return null;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'object' && current !== null && !Array.isArray(current)
    ? (current as Record<string, unknown>)
    : null;
}
