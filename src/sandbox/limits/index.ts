export { LimitsHost, RunLimits } from './run-limits.js';
export { planLimits, limitsFix, noCgroupReason, RLIMIT_NOTES, type LimitsPlan } from './plan.js';
export {
  probeLimits,
  cgroupV1Parent,
  SUPERVISOR_LEAF,
  type LimitsProbe,
  type ProbeSources,
  type V1Place,
  type V2Place,
} from './probe.js';
