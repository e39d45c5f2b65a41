import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.js';
import type { AuditRecord } from '../core/events.js';

export { canonicalJson };

/** `prev_hash` of the first record: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** Lower-case hex SHA-256, the form of every `hash` and `prev_hash`. */
export const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** Removes keys from each member of a union (the built-in Omit collapses the union). */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A record before it is chained: what the store knows once it has assigned `seq` and `ts`. */
export type RecordBody = DistributiveOmit<AuditRecord, 'hash' | 'prev_hash'>;

/** A chained record plus the exact canonical JSON its hash covers (stored as the source of truth). */
export interface ChainedRecord {
  readonly record: AuditRecord;
  /** RFC 8785 JSON of the record without `hash`; `record.hash` is its SHA-256. */
  readonly canonical: string;
}

/** Hex SHA-256 of a UTF-8 string. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

// Only the schema's fields are hashed and stored: an extra property on the caller's object must
// not ride along into the log unnoticed.
function unhashed(prevHash: string, body: RecordBody): Record<string, unknown> {
  return {
    seq: body.seq,
    ts: body.ts,
    prev_hash: prevHash,
    type: body.type,
    run_id: body.run_id,
    agent: body.agent,
    data: body.data,
  };
}

/**
 * The hash of a record: hex SHA-256 over the canonical JSON of `{seq, ts, prev_hash, type,
 * run_id, agent, data}` with `prev_hash = prevHash` (use {@link GENESIS_HASH} for seq 1).
 */
export function hashRecord(prevHash: string, body: RecordBody): string {
  return sha256Hex(canonicalJson(unhashed(prevHash, body)));
}

/**
 * Chains `body` after the record whose hash is `prevHash`. The returned record is rebuilt from
 * the canonical JSON, so it is exactly what a later reader of the store will see.
 */
export function chainRecord(prevHash: string, body: RecordBody): ChainedRecord {
  if (!HASH_PATTERN.test(prevHash)) throw new TypeError('prevHash must be 64 lower-case hex characters');
  const canonical = canonicalJson(unhashed(prevHash, body));
  const hash = sha256Hex(canonical);
  const record = { ...(JSON.parse(canonical) as Omit<AuditRecord, 'hash'>), hash } as AuditRecord;
  return { record, canonical };
}
