/**
 * The policy engine: Cedar, default deny, forbid wins, validated against the Warden schema before
 * anything is decided. Decisions are values (`{ allow, policyIds, reason }`), never exceptions.
 *
 * Speed: Cedar's cost grows with the number of policies it evaluates (~1.5 ms at 1,000), so each
 * decision evaluates only the policies whose scope can match its action and resource (a "slice",
 * parsed once and cached inside Cedar), and a decision that cannot depend on the arguments is
 * cached outright.
 */
import { createHash } from 'node:crypto';
import type { EntityJson, EntityUidJson, PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { WardenError } from '../core/errors.js';
import { cedar, cedarMessages } from './cedar.js';
import type { NativePolicy } from './native.js';
import { ENTITY, wardenSchema, type ContextShape, type PolicyAction } from './schema.js';

export type ResourceKind = 'tool' | 'prompt' | 'resource';

export interface PolicyResource {
  readonly kind: ResourceKind;
  readonly server: string;
  /** The upstream name of the tool or prompt, or the resource's URI. */
  readonly name: string;
}

export interface CallContext {
  readonly args: Readonly<Record<string, string>>;
  readonly hosts: Readonly<Record<string, string>>;
  readonly ports: Readonly<Record<string, number>>;
}

export interface Decision {
  readonly allow: boolean;
  /** The permits that allowed it, or the forbids that denied it (empty: nothing granted it). */
  readonly policyIds: readonly string[];
  readonly reason: string;
}

export interface PolicyEngineOptions {
  /** Policy id → Cedar text (compiled from the profile, plus the user's files). */
  readonly policies: Readonly<Record<string, string>>;
  readonly shape: ContextShape;
  readonly principal: { readonly name: string; readonly profile: string };
  /**
   * Policy id → its `when` in TypeScript (compiled profile policies; see native.ts). A request
   * whose every applicable policy has one is decided without Cedar.
   */
  readonly native?: Readonly<Record<string, NativePolicy>>;
  /** 'cedar' decides everything with Cedar (tests compare both ways). Default: 'native-where-possible'. */
  readonly evaluation?: 'native-where-possible' | 'cedar';
}

interface IndexedPolicy {
  readonly id: string;
  readonly text: string;
  readonly json: PolicyJson;
  readonly usesContext: boolean;
  readonly native: NativePolicy | null;
}

interface Slice {
  /** Cedar's cache id for this subset, or null when no policy can apply (deny without asking). */
  readonly cedarId: string | null;
  readonly usesContext: boolean;
  /** The subset in TypeScript, when every member has a native form (and native evaluation is on). */
  readonly native: readonly { readonly id: string; readonly policy: NativePolicy }[] | null;
}

const RESOURCE_TYPE: Record<ResourceKind, string> = {
  tool: ENTITY.tool,
  prompt: ENTITY.prompt,
  resource: ENTITY.resource,
};
const MAX_CACHED_DECISIONS = 65_536;
/** The reason of a denial by a forbid (its ids are the decision's policyIds). */
export const FORBIDDEN = 'forbidden';
/** How the reason of a denial starts when no permit applied (and no forbid). */
export const NOT_GRANTED = 'no policy grants';
let engineCounter = 0;

function uid(json: EntityUidJson): { type: string; id: string } {
  return '__entity' in json ? json.__entity : json;
}

export class PolicyEngine {
  readonly #policies: readonly IndexedPolicy[];
  readonly #principal: EntityJson;
  readonly #principalUid: { type: string; id: string };
  readonly #prefix: string;
  readonly #slices = new Map<string, Slice>();
  readonly #decisions = new Map<string, Decision>();

  private constructor(policies: readonly IndexedPolicy[], options: PolicyEngineOptions) {
    this.#policies = policies;
    this.#prefix = `warden-${process.pid}-${++engineCounter}`;
    this.#principalUid = { type: ENTITY.agent, id: options.principal.name };
    this.#principal = {
      uid: this.#principalUid,
      attrs: { name: options.principal.name, profile: options.principal.profile },
      parents: [],
    };
  }

  /**
   * Parses and validates every policy against the Warden schema (strict). Any problem is a
   * POLICY_INVALID error listing each policy id and what is wrong: a gateway never starts on a
   * policy set it cannot fully evaluate.
   */
  static create(options: PolicyEngineOptions): PolicyEngine {
    const c = cedar();
    const schema = wardenSchema(options.shape);
    const problems: string[] = [];
    const indexed: IndexedPolicy[] = [];
    for (const [id, text] of Object.entries(options.policies)) {
      const parsed = c.policyToJson(text);
      if (parsed.type === 'failure') {
        problems.push(`policy ${id}: ${cedarMessages(parsed.errors).join('; ')}`);
        continue;
      }
      const usesContext = JSON.stringify(parsed.json.conditions).includes('"Var":"context"');
      const native =
        options.evaluation === 'cedar' || options.native === undefined || !Object.hasOwn(options.native, id)
          ? null
          : (options.native[id] ?? null);
      indexed.push({ id, text, json: parsed.json, usesContext, native });
    }
    if (problems.length === 0) {
      const validation = c.validate({
        schema,
        policies: { staticPolicies: { ...options.policies } },
        validationSettings: { mode: 'strict' },
      });
      if (validation.type === 'failure') problems.push(...cedarMessages(validation.errors));
      else {
        for (const v of validation.validationErrors)
          problems.push(`policy ${v.policyId}: ${cedarMessages([v.error]).join('; ')}`);
        // Cedar only warns about a policy that can never apply (e.g. a forbid guarded by `has` on
        // an attribute the schema does not have) or about confusable text. The author believes
        // such a policy is in force; refuse it like an error rather than run without it.
        for (const v of validation.validationWarnings)
          problems.push(`policy ${v.policyId}: ${cedarMessages([v.error]).join('; ')}`);
      }
    }
    if (problems.length > 0) {
      throw new WardenError(
        'POLICY_INVALID',
        `the policy set does not validate against the Warden Cedar schema:\n  ${problems.slice(0, 20).join('\n  ')}`,
        {
          hint: 'fix the policies named above (see docs/config.md, "Cedar policies", for the entity types, actions and context)',
        },
      );
    }
    return new PolicyEngine(indexed, options);
  }

  get size(): number {
    return this.#policies.length;
  }

  /** Decides one request. Never throws for a well-formed request: an evaluation error denies. */
  decide(action: PolicyAction, resource: PolicyResource, context?: CallContext): Decision {
    const resourceId = `${resource.server}/${resource.name}`;
    const type = RESOURCE_TYPE[resource.kind];
    const sliceKey = `${action}\u0000${type}\u0000${resourceId}`;
    const slice = this.#slice(sliceKey, action, type, resourceId, resource.server);
    if (slice.cedarId === null)
      return { allow: false, policyIds: [], reason: `${NOT_GRANTED} ${action} on ${resource.kind} ${resourceId}` };
    if (!slice.usesContext) {
      const cached = this.#decisions.get(sliceKey);
      if (cached !== undefined) return cached;
    }
    const decision =
      slice.native !== null
        ? decideNatively(slice.native, action, resource, resourceId, context)
        : this.#evaluate(slice.cedarId, action, { type, id: resourceId }, resource, context);
    if (!slice.usesContext) {
      if (this.#decisions.size >= MAX_CACHED_DECISIONS) this.#decisions.clear();
      this.#decisions.set(sliceKey, decision);
    }
    return decision;
  }

  #evaluate(
    cedarId: string,
    action: PolicyAction,
    resourceUid: { type: string; id: string },
    resource: PolicyResource,
    context?: CallContext,
  ): Decision {
    const attrs =
      resource.kind === 'resource'
        ? { uri: resource.name, server: resource.server }
        : { name: resource.name, server: resource.server };
    const entities: EntityJson[] = [
      this.#principal,
      { uid: resourceUid, attrs, parents: [{ type: ENTITY.server, id: resource.server }] },
      { uid: { type: ENTITY.server, id: resource.server }, attrs: {}, parents: [] },
    ];
    const answer = cedar().statefulIsAuthorized({
      principal: this.#principalUid,
      action: { type: ENTITY.action, id: action },
      resource: resourceUid,
      context:
        action === 'call_tool'
          ? {
              args: { ...(context?.args ?? {}) },
              hosts: { ...(context?.hosts ?? {}) },
              ports: { ...(context?.ports ?? {}) },
            }
          : {},
      preparsedPolicySetId: cedarId,
      entities,
    });
    if (answer.type === 'failure')
      return {
        allow: false,
        policyIds: [],
        reason: `policy evaluation failed: ${cedarMessages(answer.errors).join('; ')}`,
      };
    const { decision, diagnostics } = answer.response;
    // Cedar skips a policy whose evaluation errors; for a forbid that would fail open, so any
    // error denies.
    if (diagnostics.errors.length > 0) {
      return {
        allow: false,
        policyIds: diagnostics.errors.map((e) => e.policyId),
        reason: `policy evaluation error: ${diagnostics.errors.map((e) => e.error.message).join('; ')}`,
      };
    }
    if (decision === 'allow') return { allow: true, policyIds: [...diagnostics.reason].sort(), reason: 'granted' };
    if (diagnostics.reason.length > 0)
      return { allow: false, policyIds: [...diagnostics.reason].sort(), reason: FORBIDDEN };
    return {
      allow: false,
      policyIds: [],
      reason: `${NOT_GRANTED} ${action} on ${resource.kind} ${resourceUid.id}${context === undefined ? '' : ' with these arguments'}`,
    };
  }

  #slice(key: string, action: PolicyAction, type: string, resourceId: string, server: string): Slice {
    const known = this.#slices.get(key);
    if (known !== undefined) return known;
    const members = this.#policies.filter(
      (p) => actionMatches(p.json, action) && resourceMatches(p.json, type, resourceId, server),
    );
    let slice: Slice;
    if (members.length === 0) {
      slice = { cedarId: null, usesContext: false, native: null };
    } else {
      // Slices with the same members share one parsed set inside Cedar.
      const cedarId = `${this.#prefix}-${createHash('sha256')
        .update(members.map((m) => m.id).join('\n'))
        .digest('hex')
        .slice(0, 24)}`;
      const parsed = cedar().preparsePolicySet(cedarId, {
        staticPolicies: Object.fromEntries(members.map((m) => [m.id, m.text])),
      });
      if (parsed.type === 'failure')
        throw new TypeError(`validated policies failed to parse: ${cedarMessages(parsed.errors).join('; ')}`);
      const native = members.every((m) => m.native !== null)
        ? members.map((m) => ({ id: m.id, policy: m.native as NativePolicy }))
        : null;
      slice = { cedarId, usesContext: members.some((m) => m.usesContext), native };
    }
    this.#slices.set(key, slice);
    return slice;
  }
}

/**
 * Cedar's decision, computed in TypeScript for a slice of compiled policies (their scope already
 * matched, see #slice): a forbid that applies denies, else a permit that applies allows, else
 * nothing grants it. The ids and reasons are what #evaluate reports for the same outcome.
 */
function decideNatively(
  members: readonly { readonly id: string; readonly policy: NativePolicy }[],
  action: PolicyAction,
  resource: PolicyResource,
  resourceId: string,
  context: CallContext | undefined,
): Decision {
  const request = {
    name: resource.name,
    args: context?.args ?? {},
    hosts: context?.hosts ?? {},
    ports: context?.ports ?? {},
  };
  // Cedar sees an empty context for every action but call_tool.
  const seen = action === 'call_tool' ? request : { name: resource.name, args: {}, hosts: {}, ports: {} };
  const permits: string[] = [];
  const forbids: string[] = [];
  for (const { id, policy } of members) {
    if (!policy.tests.every((test) => test(seen))) continue;
    (policy.effect === 'forbid' ? forbids : permits).push(id);
  }
  if (forbids.length > 0) return { allow: false, policyIds: forbids.sort(), reason: FORBIDDEN };
  if (permits.length > 0) return { allow: true, policyIds: permits.sort(), reason: 'granted' };
  return {
    allow: false,
    policyIds: [],
    reason: `${NOT_GRANTED} ${action} on ${resource.kind} ${resourceId}${context === undefined ? '' : ' with these arguments'}`,
  };
}

function actionMatches(policy: PolicyJson, action: PolicyAction): boolean {
  const c = policy.action;
  if (c.op === 'All') return true;
  if (c.op === '==') return 'entity' in c ? uid(c.entity).id === action : true;
  return 'entity' in c ? uid(c.entity).id === action : c.entities.some((e) => uid(e).id === action);
}

function resourceMatches(policy: PolicyJson, type: string, id: string, server: string): boolean {
  const c = policy.resource;
  const isServerOrSelf = (e: EntityUidJson) => {
    const u = uid(e);
    return (u.type === ENTITY.server && u.id === server) || (u.type === type && u.id === id);
  };
  switch (c.op) {
    case 'All':
      return true;
    case '==':
      return 'entity' in c ? uid(c.entity).type === type && uid(c.entity).id === id : true;
    case 'in':
      return 'entity' in c ? isServerOrSelf(c.entity) : true;
    case 'is':
      return c.entity_type === type && (c.in === undefined || !('entity' in c.in) || isServerOrSelf(c.in.entity));
  }
}
