/**
 * What the gateway must do with one tool's arguments before deciding a call (GW-12), worked out
 * once per tool from the grants with conditions that name it and from its inputSchema:
 *
 * - every path argument of the tool (found in the schema, see path-schema.ts, or listed in the
 *   grant's `path_arguments`) must be covered by a path condition of each grant with one — by its
 *   name or by `'*'` — else that grant cannot be checked on the tool;
 * - every argument a condition names must exist in the tool's schema: a condition on an argument
 *   the tool does not have would never hold (allow) or never apply (deny), silently;
 * - a call to a tool under a path condition may carry only the arguments its schema declares (the
 *   server could read a path from any other).
 *
 * A tool that fails these is not checkable: the gateway refuses to start when it is granted, and
 * hides it when it appears later.
 */
import { EVERY_PATH_ARGUMENT } from '../core/config-defaults.js';
import type { ArgumentKind, ConditionalGrant } from '../policy/index.js';
import { toolArguments } from './path-schema.js';

/** How to prepare one tool's arguments. */
export interface ToolPlan {
  /** Path arguments (keys, `files.path`): each value is resolved, decided on and forwarded resolved. */
  readonly paths: readonly string[];
  /** Keys of the path conditions (`'*'` included): the context entries the decision needs. */
  readonly pathConditions: readonly string[];
  /** Top-level URL arguments the conditions use. */
  readonly urls: readonly string[];
  /** Top-level arguments the conditions compare as text. */
  readonly values: readonly string[];
  /** The top-level arguments a call may carry; null: any (no path condition applies). */
  readonly declared: ReadonlySet<string> | null;
}

export type PlanResult =
  | { readonly ok: true; readonly plan: ToolPlan }
  | {
      readonly ok: false;
      /** The grant that cannot be checked, e.g. `coding.allow[0]`. */
      readonly grant: string;
      /** What is wrong, naming the tool and the argument. */
      readonly reason: string;
      /** How to fix warden.yaml. */
      readonly fix: string;
    };

/** The plan of a tool no condition talks about: arguments are forwarded as they are. */
export const PLAIN_PLAN: ToolPlan = { paths: [], pathConditions: [], urls: [], values: [], declared: null };

/** Compiled config globs: they come from warden.yaml, so the set is small and fixed per run. */
const globCache = new Map<string, RegExp>();

/** Whether a grant's tool name or glob (`read_*`, `*`) matches `name`. */
export function globMatches(glob: string, name: string): boolean {
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

/** Works out the plan for `tool` of `server`, or why the grants that name it cannot be checked on it. */
export function planTool(
  grants: readonly ConditionalGrant[],
  server: string,
  tool: string,
  inputSchema: unknown,
): PlanResult {
  const applying = grants.filter((g) => g.server === server && g.tools.some((glob) => globMatches(glob, tool)));
  if (applying.length === 0) return { ok: true, plan: PLAIN_PLAN };
  const schema = toolArguments(inputSchema);
  const paths = new Set<string>();
  const pathConditions = new Set<string>();
  const kinds = new Map<string, ArgumentKind>();

  for (const grant of applying) {
    const fail = (reason: string, fix: string): PlanResult => ({ ok: false, grant: grant.id, reason, fix });
    const conditions = Object.entries(grant.conditions);
    const pathKeys = conditions.filter(([, kind]) => kind === 'path').map(([key]) => key);
    const everyPath = pathKeys.includes(EVERY_PATH_ARGUMENT);
    if (!schema.ok && (pathKeys.length === 0 || grant.pathArguments === null))
      return fail(
        `warden cannot tell which arguments of tool '${tool}' hold paths: ${schema.reason}`,
        pathKeys.length === 0
          ? 'grant the tool without conditions, or leave it out of the grant'
          : `list the tool's path arguments in path_arguments of ${grant.id}, or leave the tool out of the grant`,
      );
    for (const [key, kind] of conditions) {
      if (key === EVERY_PATH_ARGUMENT) continue;
      if (schema.ok && !schema.keys.has(key))
        return fail(
          `tool '${tool}' has no argument '${key}'${schema.ok && schema.paths.length > 0 ? ` (its path arguments: ${schema.paths.map((p) => `'${p}'`).join(', ')})` : ''}, so this condition would ${grant.effect === 'permit' ? 'never hold' : 'never apply'}`,
          kind === 'path'
            ? `use '${EVERY_PATH_ARGUMENT}' to cover every path argument whatever its name (when: {'*': {under: [...]}}), name the tool's own arguments, or leave the tool out of the grant`
            : `name an argument the tool has, or leave the tool out of the grant`,
        );
      const known = kinds.get(key);
      if ((known === 'url' && kind === 'path') || (known === 'path' && kind === 'url'))
        return fail(
          `argument '${key}' of tool '${tool}' is a path in one grant and a URL in another`,
          'use one kind of condition per argument',
        );
      if (known === undefined || known === 'value') kinds.set(key, kind);
    }
    if (pathKeys.length === 0) continue;
    // The tool's path arguments as this grant sees them: listed, or found in the schema.
    const own = new Set<string>(grant.pathArguments ?? (schema.ok ? schema.paths : []));
    for (const key of pathKeys) if (key !== EVERY_PATH_ARGUMENT) own.add(key);
    if (grant.pathArguments !== null && schema.ok)
      for (const key of [...own]) if (!schema.keys.has(key) && !pathKeys.includes(key)) own.delete(key);
    for (const key of [...own].sort()) {
      if (!everyPath && !pathKeys.includes(key))
        return fail(
          `tool '${tool}' takes a path in '${key}', which the conditions of ${grant.id} do not cover`,
          `add a condition for it (when: {${key}: {under: [...]}}), or use '${EVERY_PATH_ARGUMENT}' to cover every path argument, or leave the tool out of the grant; if '${key}' holds no path, list the real path arguments in path_arguments`,
        );
      paths.add(key);
    }
    for (const key of pathKeys) pathConditions.add(key);
  }

  // A path condition's own key is a path argument in every grant that names it.
  for (const key of pathConditions) if (key !== EVERY_PATH_ARGUMENT) paths.add(key);
  const urls: string[] = [];
  const values: string[] = [];
  for (const [key, kind] of kinds) {
    if (kind === 'url' && !paths.has(key)) urls.push(key);
    else if (kind === 'value' && !paths.has(key)) values.push(key);
  }
  return {
    ok: true,
    plan: {
      paths: [...paths].sort(),
      pathConditions: [...pathConditions].sort(),
      urls,
      values,
      declared: pathConditions.size > 0 && schema.ok ? schema.topLevel : null,
    },
  };
}
