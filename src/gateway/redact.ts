/**
 * What the audit log keeps of tool arguments (AUD-05): values under sensitive names become
 * keyed digests (`hmac-sha256:<hex>`: equal secrets stay correlatable, the secret is not stored),
 * and long values are cut to a prefix plus their length and SHA-256, so one call cannot flood
 * the log.
 */
import { createHash, createHmac } from 'node:crypto';

/** Argument names always treated as sensitive (compared case-insensitively, ignoring - and _). */
export const ALWAYS_SENSITIVE = [
  'password',
  'passwd',
  'secret',
  'token',
  'apikey',
  'authorization',
  'auth',
  'credential',
  'credentials',
  'privatekey',
  'accesskey',
  'secretkey',
  'cookie',
  'sessionid',
  'clientsecret',
  'refreshtoken',
  'accesstoken',
  'bearer',
];

const MAX_TEXT = 1024;
const MAX_DEPTH = 8;
const MAX_KEYS = 256;

function fold(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

export class ArgumentRedactor {
  readonly #key: Buffer;
  readonly #sensitive: ReadonlySet<string>;

  constructor(key: Buffer, extraSensitive: readonly string[]) {
    if (key.length < 32) throw new TypeError('the digest key must be at least 32 bytes');
    this.#key = key;
    this.#sensitive = new Set([...ALWAYS_SENSITIVE, ...extraSensitive].map(fold));
  }

  /** `hmac-sha256:<hex>` of a value's canonical text. */
  digest(value: unknown): string {
    return `hmac-sha256:${createHmac('sha256', this.#key)
      .update(typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined'))
      .digest('hex')}`;
  }

  /** Whether an argument key (`token`, or `auth.token` for a nested one) names a sensitive value at any level. */
  isSensitive(key: string): boolean {
    return key.split('.').some((segment) => this.#sensitive.has(fold(segment)));
  }

  /** A bounded copy of `args` safe to store. */
  redact(args: Readonly<Record<string, unknown>>): Record<string, unknown> {
    return this.#object(args, 0);
  }

  #object(value: Readonly<Record<string, unknown>>, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let count = 0;
    for (const [key, child] of Object.entries(value)) {
      if (++count > MAX_KEYS) {
        out['…'] = `${Object.keys(value).length - MAX_KEYS} more keys`;
        break;
      }
      out[key] = this.#sensitive.has(fold(key)) ? this.digest(child) : this.#value(child, depth + 1);
    }
    return out;
  }

  #value(value: unknown, depth: number): unknown {
    if (typeof value === 'string') {
      if (value.length <= MAX_TEXT) return value;
      return {
        truncated: value.slice(0, 256),
        length: value.length,
        sha256: createHash('sha256').update(value).digest('hex'),
      };
    }
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH)
      return { truncated: 'nested too deep', sha256: createHash('sha256').update(JSON.stringify(value)).digest('hex') };
    if (Array.isArray(value)) return value.slice(0, MAX_KEYS).map((v) => this.#value(v, depth + 1));
    return this.#object(value as Record<string, unknown>, depth);
  }
}
