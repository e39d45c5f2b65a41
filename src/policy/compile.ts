/**
 * Compiles a profile's `mcp` section into Cedar policies. Each allow entry becomes `permit`s,
 * each deny entry `forbid`s (Cedar: default deny, forbid wins). One policy per (entry, name,
 * action), with a readable id, so a decision names exactly the lines of warden.yaml behind it.
 *
 * Argument conditions become `when` clauses over the request context, which the gateway fills
 * with normalised values (see gateway/arguments.ts): `under` compares resolved paths (in NFC),
 * `host_in` the URL's normalised host and port, `one_of` the argument as text. A call with several
 * paths (an array, several path arguments) is decided once per combination of its values, so a
 * clause always sees one path per argument; `'*'` (every path argument) sees each path in turn.
 */
import { isAbsolute, posix } from 'node:path';
import type { ArgumentCondition, McpGrant, McpPolicyConfig } from '../core/config.js';
import { EVERY_PATH_ARGUMENT, expandWorkspace } from '../core/config-defaults.js';
import { parseHostPattern, WEB_PORTS, type HostPattern } from '../core/host-pattern.js';
import { cedarEntity, cedarLikePattern, cedarLikePrefix, cedarString } from './cedar-text.js';
import { hostIn, nameIs, nameLike, oneOf, pathUnder, type NativePolicy, type NativeTest } from './native.js';
import { ENTITY, type ContextShape, type PolicyAction } from './schema.js';

export type ArgumentKind = 'path' | 'url' | 'value';

/**
 * A grant with argument conditions, as the gateway needs it: which arguments of which tools it
 * talks about and how to prepare them, and which tools it can be checked on (see
 * gateway/tool-plan.ts).
 */
export interface ConditionalGrant {
  /** Where it is in warden.yaml, e.g. `coding.allow[0]` (error messages name it). */
  readonly id: string;
  readonly effect: 'permit' | 'forbid';
  readonly server: string;
  /** Tool names or globs (as in the grant). */
  readonly tools: readonly string[];
  /** Argument key (`path`, `files.path`, `*`) → how its value is prepared. */
  readonly conditions: Readonly<Record<string, ArgumentKind>>;
  /** The directories of its `under` conditions, normalised as the context compares them. */
  readonly dirs: readonly string[];
  /** The grant's `path_arguments`, when given (instead of the ones found in the inputSchema). */
  readonly pathArguments: readonly string[] | null;
}

/** One argument condition of a grant, as refusals describe it (see explain.ts). */
export interface ExplainableCondition {
  /** The argument key as written in `when` (`path`, `files.path`, `*`). */
  readonly argument: string;
  readonly kind: ArgumentKind;
  /** Where it is in warden.yaml, e.g. `profiles.coding.mcp.allow[0].when.path.under`. */
  readonly config: string;
  /** What it admits, as shown: directories normalised (as compared), host patterns and values as written. */
  readonly expected: readonly string[];
  /** The same test as the policy's clause (native.ts). */
  readonly test: NativeTest;
}

/**
 * A grant or deny entry that names tools, kept so that a refused call can say which entry and
 * which condition refused it. Built from the same config values as the policies; it explains
 * decisions and never makes one.
 */
export interface ExplainableGrant {
  /** Where it is in warden.yaml, e.g. `profiles.coding.mcp.deny[1]`. */
  readonly config: string;
  readonly effect: 'permit' | 'forbid';
  readonly server: string;
  /** Tool names or globs (as in the grant). */
  readonly tools: readonly string[];
  readonly conditions: readonly ExplainableCondition[];
  /** Ids of its call_tool policies. */
  readonly callPolicies: readonly string[];
}

export interface CompiledProfile {
  /** Policy id → Cedar text. */
  readonly policies: Readonly<Record<string, string>>;
  /** Policy id → the same policy's `when` as TypeScript predicates (see native.ts). */
  readonly native: Readonly<Record<string, NativePolicy>>;
  readonly shape: ContextShape;
  /** Every grant (allow and deny) with a `when`, in config order. */
  readonly conditionalGrants: readonly ConditionalGrant[];
  /** Every allow and deny entry that names tools, in config order (allow first): refusals name them. */
  readonly toolGrants: readonly ExplainableGrant[];
  /** Servers the profile grants anything of (the gateway starts only these). */
  readonly servers: readonly string[];
}

export interface CompileOptions {
  readonly profileName: string;
  /** The run's workspace: `${workspace}` in `under`, and the base of relative paths. */
  readonly workspace: string;
}

/**
 * Absolute, '..'-free, no trailing slash; relative paths are taken from the workspace. Lexical
 * only: the gateway resolves symlinks in arguments itself (gateway/resolve-path.ts).
 */
export function normalisePath(value: string, workspace: string): string {
  const normal = posix.normalize(isAbsolute(value) ? value : posix.join(workspace, value));
  return normal.length > 1 ? normal.replace(/\/+$/, '') : normal;
}

/**
 * A path as conditions compare it: Unicode NFC, so that two spellings a filesystem may treat as
 * one name (precomposed 'é' and 'e' + combining accent) compare equal. Condition directories and
 * the gateway's resolved arguments both go through it.
 */
export function comparablePath(path: string): string {
  return path.normalize('NFC');
}

/** A condition path from the config: `${workspace}` expanded, normalised, in NFC. */
export function conditionPath(raw: string, workspace: string): string {
  return comparablePath(normalisePath(expandWorkspace(raw, workspace), workspace));
}

/** A piece of a `when` clause: Cedar text and the same test in TypeScript. */
interface Clause {
  readonly text: string;
  readonly test: NativeTest;
}

/** An argument condition's clause and what it admits, as refusals show it. */
interface ConditionClause extends Clause {
  readonly expected: readonly string[];
}

/** `key` as a step of a config path: `.path`, or `['files.path']` / `['*']` when it is not a plain name. */
export function configKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `.${key}` : `['${key.replace(/['\\]/g, '\\$&')}']`;
}

function nameScope(server: string, kind: 'tool' | 'prompt', name: string): { scope: string; when: Clause | null } {
  const type = kind === 'tool' ? ENTITY.tool : ENTITY.prompt;
  if (!name.includes('*')) return { scope: `resource == ${cedarEntity(type, `${server}/${name}`)}`, when: null };
  const scope = `resource is ${type} in ${cedarEntity(ENTITY.server, server)}`;
  return {
    scope,
    when: name === '*' ? null : { text: `resource.name like ${cedarLikePattern(name)}`, test: nameLike(name) },
  };
}

function hostCondition(arg: string, pattern: HostPattern): string {
  const host = `context.hosts[${cedarString(arg)}]`;
  const port = `context.ports[${cedarString(arg)}]`;
  const hostTest =
    pattern.kind === 'wildcard'
      ? `${host} like ${cedarLikePattern(`*.${pattern.host}`)}`
      : `${host} == ${cedarString(pattern.host)}`;
  const portTest =
    pattern.ports === 'any'
      ? null
      : pattern.ports === 'web'
        ? `[${WEB_PORTS.join(', ')}].contains(${port})`
        : `${port} == ${pattern.ports}`;
  return portTest === null ? `(${hostTest})` : `(${hostTest} && ${portTest})`;
}

function conditionClause(
  arg: string,
  condition: ArgumentCondition,
  workspace: string,
  effect: 'permit' | 'forbid',
): ConditionClause {
  const key = cedarString(arg);
  if (condition.under !== undefined) {
    const value = `context.args[${key}]`;
    const dirs = condition.under.map((raw) => conditionPath(raw, workspace));
    const alternatives = dirs.map((dir) =>
      dir === '/'
        ? `${value} like "/*"`
        : `${value} == ${cedarString(dir)} || ${value} like ${cedarLikePrefix(`${dir}/`)}`,
    );
    // '*' is absent only from a call that holds no path at all: it opens nothing, so an allow
    // holds and a deny does not apply. A named argument that is absent fails (the gateway refuses
    // such a call before deciding anyway).
    const absentPasses = arg === EVERY_PATH_ARGUMENT && effect === 'permit';
    const text = absentPasses
      ? `(!(context.args has ${key}) || (context.args has ${key} && (${alternatives.join(' || ')})))`
      : `(context.args has ${key} && (${alternatives.join(' || ')}))`;
    return { text, test: pathUnder(arg, dirs, absentPasses), expected: dirs };
  }
  if (condition.host_in !== undefined) {
    const patterns = condition.host_in.map((entry) => {
      const parsed = parseHostPattern(entry);
      if (!parsed.ok)
        throw new TypeError(`host pattern '${entry}' passed the schema but does not parse: ${parsed.reason}`);
      return parsed.value;
    });
    return {
      text: `(context.hosts has ${key} && context.ports has ${key} && (${patterns.map((p) => hostCondition(arg, p)).join(' || ')}))`,
      test: hostIn(arg, patterns),
      expected: condition.host_in,
    };
  }
  const values = (condition.one_of ?? []).map((v) => String(v));
  return {
    text: `(context.args has ${key} && (${values.map((v) => `context.args[${key}] == ${cedarString(v)}`).join(' || ')}))`,
    test: oneOf(arg, values),
    expected: values,
  };
}

function argumentKind(condition: ArgumentCondition): ArgumentKind {
  return condition.under !== undefined ? 'path' : condition.host_in !== undefined ? 'url' : 'value';
}

/** Compiles one profile. Throws TypeError only on a config the schema should have refused. */
export function compileProfile(mcp: McpPolicyConfig, options: CompileOptions): CompiledProfile {
  const policies: Record<string, string> = {};
  const native: Record<string, NativePolicy> = {};
  const conditionalGrants: ConditionalGrant[] = [];
  const args = new Set<string>();
  const urls = new Set<string>();
  const servers = new Set<string>();

  const toolGrants: ExplainableGrant[] = [];
  const emit = (
    id: string,
    config: string,
    effect: 'permit' | 'forbid',
    actions: readonly PolicyAction[],
    scope: string,
    when: readonly Clause[],
  ) => {
    const action =
      actions.length === 1
        ? `action == ${cedarEntity(ENTITY.action, actions[0] ?? '')}`
        : `action in [${actions.map((a) => cedarEntity(ENTITY.action, a)).join(', ')}]`;
    const clause = when.length === 0 ? '' : ` when { ${when.map((w) => w.text).join(' && ')} }`;
    // The annotation names the entry of warden.yaml for whoever reads the Cedar text.
    policies[id] = `@config(${cedarString(config)})\n${effect} (principal, ${action}, ${scope})${clause};`;
    native[id] = { effect, tests: when.map((w) => w.test) };
  };

  const compileEntry = (list: 'allow' | 'deny', index: number, grant: McpGrant) => {
    const effect = list === 'allow' ? 'permit' : 'forbid';
    const base = `${options.profileName}.${list}[${index}]`;
    const config = `profiles${configKey(options.profileName)}.mcp.${list}[${index}]`;
    if (list === 'allow') servers.add(grant.server);
    const kinds: Record<string, ArgumentKind> = {};
    const dirs: string[] = [];
    const explained: ExplainableCondition[] = [];
    const conditions = Object.entries(grant.when).map(([arg, condition]) => {
      const kind = argumentKind(condition);
      args.add(arg);
      if (kind === 'url') urls.add(arg);
      kinds[arg] = kind;
      for (const raw of condition.under ?? []) dirs.push(conditionPath(raw, options.workspace));
      const clause = conditionClause(arg, condition, options.workspace, effect);
      const field = kind === 'path' ? 'under' : kind === 'url' ? 'host_in' : 'one_of';
      explained.push({
        argument: arg,
        kind,
        config: `${config}.when${configKey(arg)}.${field}`,
        expected: clause.expected,
        test: clause.test,
      });
      return clause;
    });
    const callPolicies: string[] = [];
    if (conditions.length > 0)
      conditionalGrants.push({
        id: base,
        effect,
        server: grant.server,
        tools: grant.tools,
        conditions: kinds,
        dirs: [...new Set(dirs)],
        pathArguments: grant.path_arguments ?? null,
      });
    for (const name of grant.tools) {
      const { scope, when } = nameScope(grant.server, 'tool', name);
      const nameWhen = when === null ? [] : [when];
      // An allowed tool is listed whatever its arguments; a conditional deny refuses only the
      // matching calls, so it hides nothing.
      if (list === 'allow' || conditions.length === 0)
        emit(`${base}.tool.${name}.list`, config, effect, ['list_tool'], scope, nameWhen);
      emit(`${base}.tool.${name}.call`, config, effect, ['call_tool'], scope, [...nameWhen, ...conditions]);
      callPolicies.push(`${base}.tool.${name}.call`);
    }
    if (grant.tools.length > 0)
      toolGrants.push({
        config,
        effect,
        server: grant.server,
        tools: grant.tools,
        conditions: explained,
        callPolicies,
      });
    for (const name of grant.prompts) {
      const { scope, when } = nameScope(grant.server, 'prompt', name);
      emit(`${base}.prompt.${name}`, config, effect, ['list_prompt', 'get_prompt'], scope, when === null ? [] : [when]);
    }
    grant.resources.forEach((uri, i) => {
      const scope = `resource is ${ENTITY.resource} in ${cedarEntity(ENTITY.server, grant.server)}`;
      const when =
        uri === '*'
          ? []
          : [
              uri.includes('*')
                ? { text: `resource.uri like ${cedarLikePattern(uri)}`, test: nameLike(uri) }
                : { text: `resource.uri == ${cedarString(uri)}`, test: nameIs(uri) },
            ];
      emit(`${base}.resource[${i}]`, config, effect, ['list_resource', 'read_resource'], scope, when);
    });
  };

  mcp.allow.forEach((grant, i) => compileEntry('allow', i, grant));
  mcp.deny.forEach((grant, i) => compileEntry('deny', i, grant));
  return {
    policies,
    native,
    shape: { args: [...args], urls: [...urls] },
    conditionalGrants,
    toolGrants,
    servers: [...servers],
  };
}
