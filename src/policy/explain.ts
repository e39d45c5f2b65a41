/**
 * Why a tool call was refused, in terms of warden.yaml: which deny entry applied and on which
 * argument, or, when nothing granted the call, which condition of each grant of the tool failed.
 *
 * It runs only after the engine has denied a call (never on the allow path), from the grants
 * compile.ts kept next to the policies; it re-evaluates their conditions with the same native
 * tests to say which ones held, and it returns a description, never a decision: a refusal stays
 * a refusal whatever it finds. Policies from the user's Cedar files are named by id only.
 */
import type { ExplainableCondition, ExplainableGrant } from './compile.js';
import { FORBIDDEN, NOT_GRANTED, type CallContext, type Decision } from './engine.js';
import { likeMatches } from './native.js';

/** One condition of a grant and how it went for the refused request. */
export interface ConditionVerdict {
  readonly condition: ExplainableCondition;
  /** Whether the condition held for this request. */
  readonly holds: boolean;
  /** The argument's value as decided on (the resolved path, the normalised URL, the text); undefined: absent. */
  readonly value: string | undefined;
  /** For a URL: its host and port as compared. */
  readonly host?: string;
  readonly port?: number;
  /** For a path that holds: the directory it is under (`expected` lists them all). */
  readonly matched?: string;
}

/** A grant of the tool and the conditions to report: those that failed (a permit) or held (a forbid). */
export interface GrantVerdict {
  readonly grant: ExplainableGrant;
  readonly conditions: readonly ConditionVerdict[];
}

export type CallDenialExplanation =
  | {
      readonly kind: 'forbidden';
      /** The config entries whose forbids applied, with their conditions (all of which held). */
      readonly forbids: readonly GrantVerdict[];
      /** Ids of forbids that applied and come from the user's Cedar files. */
      readonly others: readonly string[];
    }
  | {
      readonly kind: 'not-granted';
      /** The grants of this tool with conditions, each with the conditions that failed (config order). */
      readonly grants: readonly GrantVerdict[];
    }
  /** A refusal this module cannot explain (a policy evaluation error, or no grant of the tool in the profile). */
  | { readonly kind: 'unexplained' };

/** A tool of `server` named `name`, as a grant's `tools` entry (a name or a glob) matches it in Cedar. */
function grantsTool(grant: ExplainableGrant, server: string, name: string): boolean {
  return grant.server === server && grant.tools.some((glob) => likeMatches(name, glob));
}

function verdict(condition: ExplainableCondition, context: CallContext, name: string): ConditionVerdict {
  const holds = condition.test({ name, args: context.args, hosts: context.hosts, ports: context.ports });
  const key = condition.argument;
  const value = Object.hasOwn(context.args, key) ? context.args[key] : undefined;
  if (condition.kind === 'url' && Object.hasOwn(context.hosts, key)) {
    const port = context.ports[key];
    return { condition, holds, value, host: context.hosts[key] ?? '', ...(port === undefined ? {} : { port }) };
  }
  if (condition.kind === 'path' && holds && value !== undefined) {
    const matched = condition.expected.find((dir) => dir === '/' || value === dir || value.startsWith(`${dir}/`));
    return { condition, holds, value, ...(matched === undefined ? {} : { matched }) };
  }
  return { condition, holds, value };
}

/**
 * Explains a denied `call_tool` decision for the tool `name` of `server` and the context that was
 * denied. Only the decision's own policy ids say which forbids applied; the conditions are
 * re-evaluated only to describe them.
 */
export function explainCallDenial(
  grants: readonly ExplainableGrant[],
  server: string,
  name: string,
  context: CallContext,
  decision: Decision,
): CallDenialExplanation {
  if (decision.allow) return { kind: 'unexplained' };
  if (decision.reason === FORBIDDEN && decision.policyIds.length > 0) {
    const forbids: GrantVerdict[] = [];
    const others: string[] = [];
    for (const id of decision.policyIds) {
      const grant = grants.find((g) => g.effect === 'forbid' && g.callPolicies.includes(id));
      if (grant === undefined) others.push(id);
      else if (!forbids.some((f) => f.grant === grant))
        forbids.push({ grant, conditions: grant.conditions.map((c) => verdict(c, context, name)) });
    }
    return { kind: 'forbidden', forbids, others };
  }
  if (decision.policyIds.length > 0 || !decision.reason.startsWith(NOT_GRANTED)) return { kind: 'unexplained' };
  const applying = grants.filter(
    (g) => g.effect === 'permit' && g.conditions.length > 0 && grantsTool(g, server, name),
  );
  if (applying.length === 0) return { kind: 'unexplained' };
  return {
    kind: 'not-granted',
    grants: applying.map((grant) => ({
      grant,
      conditions: grant.conditions.map((c) => verdict(c, context, name)).filter((v) => !v.holds),
    })),
  };
}
