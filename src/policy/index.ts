// Cedar policy engine: profiles compiled to Cedar, decisions with the ids of the deciding policies.
// Adding an export here is an API decision (design.md, convention 2).
export {
  comparablePath,
  compileProfile,
  conditionPath,
  normalisePath,
  type ArgumentKind,
  type ConditionalGrant,
  type CompiledProfile,
  type CompileOptions,
  type ExplainableCondition,
  type ExplainableGrant,
} from './compile.js';
export { explainCallDenial, type CallDenialExplanation, type ConditionVerdict, type GrantVerdict } from './explain.js';
export {
  PolicyEngine,
  type CallContext,
  type Decision,
  type PolicyEngineOptions,
  type PolicyResource,
  type ResourceKind,
} from './engine.js';
export { loadPolicyFiles } from './policy-files.js';
export { ACTIONS, wardenSchema, type ContextShape, type PolicyAction } from './schema.js';
