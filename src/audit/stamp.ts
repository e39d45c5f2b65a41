import { WardenError } from '../core/errors.js';
import { EVENT_TYPES, type AuditEventInput } from '../core/events.js';
import { RUN_ID_PATTERN } from '../core/ids.js';
import { canonicalJson } from './chain.js';
import type { StampedEvent } from './sqlite-store.js';

/** Default and hard upper bound for one stored record (canonical JSON, UTF-8 bytes). */
export const DEFAULT_MAX_EVENT_BYTES = 64 * 1024;
export const MAX_EVENT_BYTES_LIMIT = 1024 * 1024;

/** What the store adds after stamping: `,"prev_hash":"<64 hex>"` and `,"seq":<up to 16 digits>`. */
const CHAIN_OVERHEAD_BYTES = 128;
const MAX_AGENT_NAME = 256;
const TS_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates an event, fills `ts` when missing, and returns a deep copy (so a caller mutating its
 * object after `append` cannot change what is stored). Throws `TypeError` for a malformed event
 * (a bug in the emitter) and `AUDIT_UNAVAILABLE` for one larger than `maxBytes` once stored:
 * an oversized event is refused whole, never truncated, and the caller fails closed.
 */
export function stampEvent(
  event: AuditEventInput,
  now: () => Date,
  maxBytes: number = DEFAULT_MAX_EVENT_BYTES,
): StampedEvent {
  if (!isPlainObject(event)) throw new TypeError('audit event must be an object');
  const { type, run_id: runId, agent, data, ts } = event as unknown as Record<string, unknown>;
  if (typeof type !== 'string' || !TYPES.has(type)) throw new TypeError('audit event has an unknown type');
  if (typeof runId !== 'string' || !RUN_ID_PATTERN.test(runId))
    throw new TypeError('audit event run_id is not a valid run id');
  if (!isPlainObject(agent)) throw new TypeError('audit event agent must be an object');
  if (typeof agent['name'] !== 'string' || agent['name'].length === 0 || agent['name'].length > MAX_AGENT_NAME) {
    throw new TypeError(`audit event agent.name must be a string of 1-${MAX_AGENT_NAME} characters`);
  }
  if (typeof agent['run_id'] !== 'string' || !RUN_ID_PATTERN.test(agent['run_id'])) {
    throw new TypeError('audit event agent.run_id is not a valid run id');
  }
  if (!isPlainObject(data)) throw new TypeError('audit event data must be an object');
  let stamp: string;
  if (ts === undefined) {
    stamp = now().toISOString();
  } else {
    // Exactly the toISOString() form, so string order is time order in the ts index.
    if (
      typeof ts !== 'string' ||
      !TS_PATTERN.test(ts) ||
      Number.isNaN(Date.parse(ts)) ||
      new Date(ts).toISOString() !== ts
    ) {
      throw new TypeError('audit event ts must be an ISO-8601 UTC time with milliseconds (Date.toISOString())');
    }
    stamp = ts;
  }
  const canonical = canonicalJson({ ts: stamp, type, run_id: runId, agent, data });
  const bytes = Buffer.byteLength(canonical, 'utf8') + CHAIN_OVERHEAD_BYTES;
  if (bytes > maxBytes) {
    throw new WardenError(
      'AUDIT_UNAVAILABLE',
      `The ${type} event is about ${bytes} bytes, over the ${maxBytes}-byte audit record limit; it was not recorded.`,
      {
        hint: 'The component emitting this event must bound its fields.',
      },
    );
  }
  return JSON.parse(canonical) as StampedEvent;
}
