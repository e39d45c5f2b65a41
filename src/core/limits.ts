/**
 * Which resource limits hold for a sandbox, as data (for run.started, the summary, `warden doctor`)
 * and as words. Pure: the sandbox module decides the backends (src/sandbox/limits/), everyone else
 * reads the result through these types.
 */
import { formatBytes } from './units.js';

/** The limits a backend can enforce (the wall-clock timeout is warden's own and always holds). */
export type ResourceLimitName = 'memory' | 'pids' | 'cpu';

/** What holds a limit: a cgroup (v1 or v2), a kernel rlimit, or nothing. */
export type LimitBackend = 'cgroup-v1' | 'cgroup-v2' | 'rlimit' | 'none';

/**
 * What a limit covers: every process of the sandbox together (`sandbox`), each process on its own
 * (`process`: RLIMIT_DATA gives every process its own budget), or nothing.
 */
export type LimitScope = 'sandbox' | 'process' | 'none';

/** How one requested limit is enforced for one sandbox. */
export interface LimitEnforcement {
  readonly limit: ResourceLimitName;
  /** Bytes for memory, a count for pids, cores for cpu. */
  readonly value: number;
  readonly by: LimitBackend;
  readonly scope: LimitScope;
  /** Why the limit is weaker than a cgroup, or why it is not enforced; absent for cgroups. */
  readonly note?: string;
}

/**
 * Whether a run may go ahead when a limit cannot be held for the whole sandbox: `required` refuses
 * (LIMITS_UNAVAILABLE), `best-effort` runs with what the host allows and says what it could not.
 */
export type LimitsPolicy = 'required' | 'best-effort';

const NAMES: Readonly<Record<ResourceLimitName, string>> = { memory: 'memory', pids: 'processes', cpu: 'cpu' };

const BACKEND_TEXT: Readonly<Record<Exclude<LimitBackend, 'none'>, string>> = {
  'cgroup-v1': 'cgroup v1',
  'cgroup-v2': 'cgroup v2',
  rlimit: 'rlimit',
};

/** A limit's value in words: `4 GiB`, `1024`, `1.8 cores`. */
export function formatLimitValue(limit: ResourceLimitName, value: number): string {
  switch (limit) {
    case 'memory':
      return formatBytes(value);
    case 'pids':
      return String(value);
    case 'cpu':
      return `${value} ${value === 1 ? 'core' : 'cores'}`;
  }
}

/** One enforced limit in words: `memory 4 GiB (cgroup v1)`, `memory 4 GiB per process (rlimit)`. */
export function describeEnforced(e: LimitEnforcement): string {
  const per = e.scope === 'process' ? ' per process' : '';
  const by = e.by === 'none' ? 'not enforced' : BACKEND_TEXT[e.by];
  return `${NAMES[e.limit]} ${formatLimitValue(e.limit, e.value)}${per} (${by})`;
}

/**
 * The limits of a sandbox in one or two lines: what holds, then (plainly) what does not, e.g.
 * `limits: memory 4 GiB (cgroup v1), processes 1024 (cgroup v1), cpu 1.8 cores (cgroup v1)` or
 * `limits NOT enforced: cpu (no cgroup cpu controller …)`.
 */
export function describeLimits(enforcement: readonly LimitEnforcement[], timeoutMs: number | null = null): string[] {
  const held = enforcement.filter((e) => e.by !== 'none').map(describeEnforced);
  if (timeoutMs !== null) held.push(`timeout ${formatTimeout(timeoutMs)} (warden)`);
  const missing = enforcement.filter((e) => e.by === 'none');
  const lines: string[] = [];
  if (held.length > 0) lines.push(`limits: ${held.join(', ')}`);
  else lines.push('limits: none enforced');
  if (missing.length > 0) {
    lines.push(
      `limits NOT enforced: ${missing.map((e) => `${NAMES[e.limit]}${e.note === undefined ? '' : ` (${e.note})`}`).join('; ')}`,
    );
  }
  return lines;
}

/** The names of the limits that no backend holds. */
export function unenforcedLimits(enforcement: readonly LimitEnforcement[]): ResourceLimitName[] {
  return enforcement.filter((e) => e.by === 'none').map((e) => e.limit);
}

function formatTimeout(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms} ms`;
}

/**
 * Fixed limits of the gateway's agent-facing endpoints (stdio and Streamable HTTP alike), in one
 * place; docs/config.md ("Fixed limits of the gateway") lists each, and a unit test keeps the two
 * in step. Not configurable: they bound what an agent can make warden hold, whatever it asks.
 */
export const ENDPOINT_LIMITS = Object.freeze({
  /** Largest JSON-RPC message from an agent, in bytes (a line on stdio, a body over HTTP). */
  messageBytes: 4 * 1024 * 1024,
  /** Deepest nesting of objects and arrays in a message; the top-level object is depth 1. */
  nestingDepth: 64,
  /** Requests of one session awaiting their answer at once. */
  requestsInFlight: 256,
  /** Open sessions of one HTTP endpoint. */
  sessions: 64,
  /** Events kept per HTTP session for SSE resumption (Last-Event-ID), oldest dropped first. */
  replayEvents: 1000,
  /** Bytes of events kept per HTTP session for SSE resumption, oldest dropped first. */
  replayBytes: 4 * 1024 * 1024,
});
