/**
 * Tool arguments, before anything is forwarded (GW-04): checked against the tool's inputSchema,
 * then the arguments that policy conditions talk about are normalised (paths resolved, URLs
 * parsed) and put into the Cedar context. The normalised values are what the upstream receives,
 * so the policy decides on exactly what is forwarded.
 */
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { JsonSchemaType, JsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import { normaliseHost } from '../core/host-pattern.js';
import { normalisePath, type ArgumentRule, type CallContext } from '../policy/index.js';

export type PreparedArguments =
  | { readonly ok: true; readonly forwarded: Record<string, unknown>; readonly context: CallContext }
  | { readonly ok: false; readonly reason: string };

const MAX_SCHEMA_BYTES = 256 * 1024;
const MAX_TEXT_ARGUMENT = 8192;

/** Compiled config globs: they come from warden.yaml, so the set is small and fixed per run. */
const globCache = new Map<string, RegExp>();

function globMatches(glob: string, name: string): boolean {
  if (!glob.includes('*')) return glob === name;
  let re = globCache.get(glob);
  if (re === undefined) {
    re = new RegExp(
      `^${glob
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&'))
        .join('.*')}$`,
    );
    globCache.set(glob, re);
  }
  return re.test(name);
}

/** The rules of `rules` that apply to `tool` of `server`. */
export function rulesFor(rules: readonly ArgumentRule[], server: string, tool: string): ArgumentRule[] {
  return rules.filter((r) => r.server === server && r.tools.some((g) => globMatches(g, tool)));
}

/** Compiles and caches validators for upstream inputSchemas; a schema that does not compile is refused. */
export class SchemaValidators {
  readonly #ajv = new AjvJsonSchemaValidator();
  readonly #cache = new Map<string, JsonSchemaValidator<unknown> | string>();

  /** A validator, or the reason the schema is unusable. */
  validatorFor(key: string, schema: unknown): JsonSchemaValidator<unknown> | string {
    const known = this.#cache.get(key);
    if (known !== undefined) return known;
    let result: JsonSchemaValidator<unknown> | string;
    const text = JSON.stringify(schema);
    if (text.length > MAX_SCHEMA_BYTES) result = `inputSchema is larger than ${MAX_SCHEMA_BYTES} bytes`;
    else {
      try {
        result = this.#ajv.getValidator(schema as JsonSchemaType);
      } catch (error) {
        result = `inputSchema does not compile: ${(error as Error).message.slice(0, 200)}`;
      }
    }
    this.#cache.set(key, result);
    return result;
  }

  clear(): void {
    this.#cache.clear();
  }
}

/**
 * Normalises the arguments named by `rules` and builds the policy context. A rule's argument
 * that is present but of the wrong kind refuses the call (it cannot be checked, so it is not
 * forwarded).
 */
export function prepareArguments(
  args: Record<string, unknown>,
  rules: readonly ArgumentRule[],
  workspace: string,
): PreparedArguments {
  const forwarded: Record<string, unknown> = { ...args };
  const context = {
    args: {} as Record<string, string>,
    hosts: {} as Record<string, string>,
    ports: {} as Record<string, number>,
  };
  const kinds = new Map<string, ArgumentRule['kind']>();
  for (const rule of rules) {
    const seen = kinds.get(rule.arg);
    if (seen !== undefined && seen !== rule.kind && seen !== 'value' && rule.kind !== 'value') {
      return { ok: false, reason: `argument '${rule.arg}' is both a path and a URL in the policy; fix warden.yaml` };
    }
    if (seen === undefined || seen === 'value') kinds.set(rule.arg, rule.kind);
  }
  for (const [arg, kind] of kinds) {
    if (!Object.hasOwn(args, arg)) continue;
    const value = args[arg];
    if (kind === 'path') {
      if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TEXT_ARGUMENT || value.includes('\0'))
        return { ok: false, reason: `argument '${arg}' must be a path` };
      const path = normalisePath(value, workspace);
      forwarded[arg] = path;
      context.args[arg] = path;
    } else if (kind === 'url') {
      if (typeof value !== 'string' || value.length > MAX_TEXT_ARGUMENT)
        return { ok: false, reason: `argument '${arg}' must be an http(s) URL` };
      const url = normaliseUrl(value);
      if (typeof url === 'string') return { ok: false, reason: `argument '${arg}': ${url}` };
      forwarded[arg] = url.href;
      context.args[arg] = url.href;
      context.hosts[arg] = url.host;
      context.ports[arg] = url.port;
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      context.args[arg] = String(value);
    }
  }
  return { ok: true, forwarded, context };
}

/** Parses an http(s) URL the way the host matcher sees it, or says why it is refused. */
export function normaliseUrl(value: string): { href: string; host: string; port: number } | string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not a valid URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `scheme ${url.protocol} is not allowed (http and https only)`;
  // 'allowed.com@evil.com' tricks: credentials in a URL are refused outright.
  if (url.username !== '' || url.password !== '') return 'URLs with user names or passwords are refused';
  const host = normaliseHost(url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname);
  if (!host.ok) return `host: ${host.reason}`;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { href: url.href, host: host.value.host, port };
}
