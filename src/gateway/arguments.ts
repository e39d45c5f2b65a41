/**
 * Tool arguments, before anything is forwarded (GW-04, GW-12): checked against the tool's
 * inputSchema, then the arguments that policy conditions talk about are prepared (paths resolved
 * as the server would open them, URLs parsed) and put into the Cedar context. The prepared values
 * are what the upstream receives, so the policy decides on exactly what is forwarded.
 *
 * A call may hold several paths (an array, several path arguments, symlinks on the way): the
 * policy then decides once per combination of values, one value per argument (see
 * decisionContexts), and the call goes ahead only if every one is allowed.
 */
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { JsonSchemaType, JsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import { EVERY_PATH_ARGUMENT } from '../core/config-defaults.js';
import { normaliseHost } from '../core/host-pattern.js';
import type { CallContext } from '../policy/index.js';
import type { CallPathResolver } from './resolve-path.js';
import type { ToolPlan } from './tool-plan.js';

export type PreparedArguments =
  | {
      readonly ok: true;
      readonly forwarded: Record<string, unknown>;
      /** One context per combination of path values (one, when the call holds at most one path per argument). */
      readonly contexts: readonly CallContext[];
      /** Each path of the call as given and as resolved, in argument order (refusals quote them). */
      readonly paths: readonly PathOrigin[];
    }
  | {
      readonly ok: false;
      readonly reason: string;
      /** A path led outside the workspace where it failed: refused like a policy denial (see resolve-path.ts). */
      readonly outside?: boolean;
    };

/** A path argument's value as the agent gave it and what warden resolved it to. */
export interface PathOrigin {
  /** The argument key as the plan names it (`path`, `files.path`). */
  readonly argument: string;
  readonly given: string;
  /** The real path forwarded to the server. */
  readonly path: string;
  /** The places decided on (see ResolvedPath.seen). */
  readonly seen: readonly string[];
}

const NO_PATHS: readonly PathOrigin[] = [];
const MAX_SCHEMA_BYTES = 256 * 1024;
const MAX_TEXT_ARGUMENT = 8192;
/** Paths in one call (every path argument, array elements included). */
export const MAX_PATHS_PER_CALL = 256;
/** Combinations of path values decided for one call. */
export const MAX_DECISIONS_PER_CALL = 1024;

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
 * Prepares a call's arguments by the tool's plan: undeclared arguments refused (when a path
 * condition applies), every path argument resolved by `resolver` and replaced by its real path,
 * URLs normalised; and the contexts to decide. A value that cannot be checked refuses the call
 * with a reason naming the argument.
 */
export function prepareArguments(
  args: Record<string, unknown>,
  plan: ToolPlan,
  resolver: () => CallPathResolver,
): PreparedArguments {
  if (plan.paths.length === 0 && plan.urls.length === 0 && plan.values.length === 0)
    return { ok: true, forwarded: args, contexts: [{ args: {}, hosts: {}, ports: {} }], paths: NO_PATHS };
  if (plan.declared !== null) {
    for (const key of Object.keys(args))
      if (!plan.declared.has(key))
        return {
          ok: false,
          reason: `argument '${key.slice(0, 64)}' is not in the tool's inputSchema (under a path condition, only declared arguments are forwarded)`,
        };
  }
  let forwarded: Record<string, unknown> = args;
  const base = {
    args: {} as Record<string, string>,
    hosts: {} as Record<string, string>,
    ports: {} as Record<string, number>,
  };

  for (const arg of plan.urls) {
    if (!Object.hasOwn(args, arg)) continue;
    const value = args[arg];
    if (typeof value !== 'string' || value.length > MAX_TEXT_ARGUMENT)
      return { ok: false, reason: `argument '${arg}' must be an http(s) URL` };
    const url = normaliseUrl(value);
    if (typeof url === 'string') return { ok: false, reason: `argument '${arg}': ${url}` };
    forwarded = { ...forwarded, [arg]: url.href };
    base.args[arg] = url.href;
    base.hosts[arg] = url.host;
    base.ports[arg] = url.port;
  }
  for (const arg of plan.values) {
    const value = args[arg];
    if (
      Object.hasOwn(args, arg) &&
      (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    )
      base.args[arg] = String(value);
  }
  if (plan.paths.length === 0) return { ok: true, forwarded, contexts: [base], paths: NO_PATHS };

  // Every path argument: resolved, decided on, forwarded resolved.
  const calls = resolver();
  const seenByArgument = new Map<string, Set<string>>();
  const everyPath = new Set<string>();
  const origins: PathOrigin[] = [];
  let count = 0;
  for (const key of plan.paths) {
    const seen = new Set<string>();
    let problem: string | null = null;
    let outside = false;
    forwarded = replaceAt(
      forwarded,
      key.split('.'),
      (value) => {
        if (problem !== null) return value;
        if (typeof value !== 'string' || value.length > MAX_TEXT_ARGUMENT) {
          problem = `argument '${key}' must be a path`;
          return value;
        }
        if (++count > MAX_PATHS_PER_CALL) {
          problem = `more than ${MAX_PATHS_PER_CALL} paths in one call`;
          return value;
        }
        const resolved = calls.resolve(value);
        if (!resolved.ok) {
          problem = `argument '${key}': ${resolved.reason}`;
          outside = resolved.outside;
          return value;
        }
        for (const place of resolved.value.seen) {
          seen.add(place);
          everyPath.add(place);
        }
        origins.push({ argument: key, given: value, path: resolved.value.path, seen: resolved.value.seen });
        return resolved.value.path;
      },
      (reason) => {
        problem ??= reason;
      },
    );
    if (problem !== null) return { ok: false, reason: problem, outside };
    seenByArgument.set(key, seen);
  }
  const choices: [string, string[]][] = [];
  for (const key of plan.pathConditions) {
    const values = key === EVERY_PATH_ARGUMENT ? everyPath : seenByArgument.get(key);
    if (values !== undefined && values.size > 0) choices.push([key, [...values]]);
  }
  const contexts = decisionContexts(base, choices);
  if (contexts === null)
    return {
      ok: false,
      reason: `the paths of this call make more than ${MAX_DECISIONS_PER_CALL} combinations to decide`,
    };
  return { ok: true, forwarded, contexts, paths: origins };
}

/**
 * One context per combination of one value per argument (the cartesian product), each on top of
 * `base`; null when there would be more than MAX_DECISIONS_PER_CALL.
 */
export function decisionContexts(
  base: CallContext,
  choices: readonly (readonly [string, readonly string[]])[],
): CallContext[] | null {
  let total = 1;
  for (const [, values] of choices) {
    total *= values.length;
    if (total > MAX_DECISIONS_PER_CALL) return null;
  }
  let partial: Record<string, string>[] = [{ ...base.args }];
  for (const [key, values] of choices)
    partial = partial.flatMap((args) => values.map((value) => ({ ...args, [key]: value })));
  return partial.map((args) => ({ args, hosts: base.hosts, ports: base.ports }));
}

/**
 * A copy of `value` with every leaf at `segments` replaced by `replace` (array levels are
 * crossed on the way and at the end: `files.path` reaches the `path` of every element of
 * `files`). What cannot be followed goes to `onProblem`: a property missing from an object on the
 * way (null counts as missing: the server would use a default warden cannot check), something
 * other than an object where the key goes on, arrays nested deeper than 16 levels.
 */
function replaceAt(
  value: Record<string, unknown>,
  segments: readonly string[],
  replace: (leaf: unknown) => unknown,
  onProblem: (reason: string) => void,
): Record<string, unknown> {
  const visit = (node: unknown, at: number, depth: number): unknown => {
    const key = segments.slice(0, at).join('.');
    if (Array.isArray(node)) {
      if (depth >= 16) {
        onProblem(`argument '${key}' nests arrays deeper than 16 levels`);
        return node;
      }
      return node.map((item) => visit(item, at, depth + 1));
    }
    if (at === segments.length) return replace(node);
    const name = segments[at] ?? '';
    if (typeof node !== 'object' || node === null) {
      onProblem(`argument '${key}' must be an object (it holds the path '${segments.join('.')}')`);
      return node;
    }
    const record = node as Record<string, unknown>;
    if (!Object.hasOwn(record, name) || record[name] === null || record[name] === undefined) {
      onProblem(
        `argument '${segments.slice(0, at + 1).join('.')}' is missing (under a path condition every path argument must be given: warden cannot check the path the server would use instead)`,
      );
      return node;
    }
    return { ...record, [name]: visit(record[name], at + 1, depth) };
  };
  return visit(value, 0, 0) as Record<string, unknown>;
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
