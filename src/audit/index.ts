// The audit log: one append-only, hash-chained event store with a tamper-evident head.
// Adding an export here is an API decision (design.md, convention 2).
export { GENESIS_HASH, HASH_PATTERN, canonicalJson, chainRecord, hashRecord, sha256Hex } from './chain.js';
export type { ChainedRecord, DistributiveOmit, RecordBody } from './chain.js';
export { derivedKey } from './derived-key.js';
export { describeEvent } from './describe.js';
export { HEAD_FILE, KEY_FILE } from './head.js';
export type { AuditHead } from './head.js';
export { ANCHOR_INTERVAL_MS, AuditLog, openAuditLog } from './log.js';
export type { AuditLogOptions, OpenAuditLogOptions } from './log.js';
export { AuditQuery } from './query.js';
export type { AuditQueryOptions, ListRunsOptions, RunSummary } from './query.js';
export { DB_FILE, SCHEMA_VERSION } from './schema.js';
export { SqliteAuditStore } from './sqlite-store.js';
export type { SqliteAuditStoreOptions, StampedEvent } from './sqlite-store.js';
export { DEFAULT_MAX_EVENT_BYTES, stampEvent } from './stamp.js';
export { defaultStateDir, ensureStateDir } from './state-dir.js';
export type { StateDirEnvironment } from './state-dir.js';
export { verifyAuditLog } from './verify.js';
export type { VerifyProblem, VerifyResult } from './verify.js';
