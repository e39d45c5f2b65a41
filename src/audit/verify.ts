import { resolve } from 'node:path';
import { GENESIS_HASH, sha256Hex } from './chain.js';
import { HEAD_FILE, KEY_FILE, readHeadFile, readKey, type AuditHead, type HeadFileState } from './head.js';
import { openReadOnly } from './schema.js';
import { MAX_EVENT_BYTES_LIMIT } from './stamp.js';

/** Stable names for what verification found; the CLI and tests match on them. */
export type VerifyProblem =
  /** A record's content does not hash to its stored hash: it was edited. */
  | 'hash_mismatch'
  /** A record's JSON is unreadable or lacks chain fields. */
  | 'malformed'
  /** A sequence number is missing: a record was deleted. */
  | 'missing_record'
  /** A record sits at another seq than the one it was chained at: records were reordered. */
  | 'out_of_order'
  /** A record's prev_hash is not the previous record's hash: the chain was cut or rewritten. */
  | 'chain_broken'
  /** The indexed columns (ts, type, run_id) disagree with the record: queries would mislead. */
  | 'index_mismatch'
  /** The head names a later record than the log holds: the tail was truncated. */
  | 'truncated'
  /** The record at the head's seq has another hash: the log was rewritten. */
  | 'head_mismatch'
  /** audit.head is not a valid, authentic head (edited or forged). */
  | 'head_invalid'
  /** audit.head is missing although the log holds records. */
  | 'head_missing'
  /** audit.key is missing, so the head cannot be authenticated. */
  | 'key_missing';

export type VerifyResult =
  | {
      readonly ok: true;
      /** Records checked. */
      readonly records: number;
      /** The authenticated head (seq 0 / genesis hash for an empty log). */
      readonly head: AuditHead;
      /** The newest record's seq. */
      readonly lastSeq: number;
      /**
       * Records after the head: appended by a writer that died between COMMIT and the head
       * update. They chain correctly, but removing them would not be detected.
       */
      readonly unanchored: number;
    }
  | {
      readonly ok: false;
      /** The first seq the log can no longer vouch for; null when the log holds no records. */
      readonly firstBadSeq: number | null;
      readonly problem: VerifyProblem;
      /** One sentence naming the seq and what is wrong with it. */
      readonly detail: string;
    };

type Failure = Extract<VerifyResult, { ok: false }>;

/** Rows larger than any record the log writes are flagged without being loaded into memory. */
const MAX_ROW_BYTES = MAX_EVENT_BYTES_LIMIT;
const TOO_LARGE = 0;

function fail(problem: VerifyProblem, firstBadSeq: number | null, detail: string): Failure {
  return { ok: false, problem, firstBadSeq, detail };
}

interface RecordFields {
  readonly seq: unknown;
  readonly prev_hash: unknown;
  readonly ts: unknown;
  readonly type: unknown;
  readonly run_id: unknown;
}

/** Checks one row against its expected position; returns the problem or null. */
function checkRow(row: unknown[], expected: number, prevHash: string): Failure | null {
  const [seq, ts, type, runId, hash, json] = row;
  if (typeof seq !== 'number' || seq !== expected) {
    if (typeof seq === 'number' && seq > expected) {
      const span =
        seq - expected === 1 ? `record ${expected} is missing` : `records ${expected}-${seq - 1} are missing`;
      return fail('missing_record', expected, `${span}: deleted from the log.`);
    }
    return fail('malformed', expected, `record ${expected} has an invalid seq column.`);
  }
  if (json === TOO_LARGE) return fail('malformed', seq, `record ${seq} is larger than any record warden writes.`);
  if (typeof json !== 'string' || typeof hash !== 'string')
    return fail('malformed', seq, `record ${seq} has no JSON or hash.`);
  if (sha256Hex(json) !== hash)
    return fail('hash_mismatch', seq, `record ${seq} was edited: its content does not match its hash.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return fail('malformed', seq, `record ${seq} is not valid JSON.`);
  }
  if (typeof parsed !== 'object' || parsed === null)
    return fail('malformed', seq, `record ${seq} is not a JSON object.`);
  const rec = parsed as RecordFields;
  if (rec.seq !== seq) {
    // rec.seq is attacker-controlled: quote it only when it is a plain number.
    const claimed = typeof rec.seq === 'number' && Number.isSafeInteger(rec.seq) ? `seq ${rec.seq}` : 'an invalid seq';
    return fail('out_of_order', seq, `record ${seq} holds the record chained as ${claimed}: records were reordered.`);
  }
  if (rec.prev_hash !== prevHash) {
    return fail(
      'chain_broken',
      seq,
      `record ${seq} does not chain to record ${seq - 1}: a record was replaced, inserted or removed.`,
    );
  }
  if (rec.ts !== ts || rec.type !== type || rec.run_id !== runId) {
    return fail(
      'index_mismatch',
      seq,
      `record ${seq}'s indexed columns (ts, type, run_id) were edited and no longer match the record.`,
    );
  }
  return null;
}

function headProblem(state: HeadFileState | 'no_key', lastSeq: number): Failure | AuditHead {
  const firstBad = lastSeq > 0 ? 1 : null;
  if (state === 'no_key') {
    return fail(
      'key_missing',
      firstBad,
      `${KEY_FILE} is missing, so ${HEAD_FILE} cannot be authenticated; records from seq 1 cannot be vouched for.`,
    );
  }
  switch (state.kind) {
    case 'missing':
      if (lastSeq === 0) return { seq: 0, hash: GENESIS_HASH };
      return fail(
        'head_missing',
        1,
        `${HEAD_FILE} is missing but the log holds ${lastSeq} records: records from seq 1 cannot be vouched for and truncation cannot be ruled out.`,
      );
    case 'invalid':
      return fail(
        'head_invalid',
        firstBad,
        `${HEAD_FILE} was edited or forged (${state.reason}); records from seq 1 cannot be vouched for.`,
      );
    case 'ok':
      return state.head;
  }
}

/**
 * Verifies the audit log in `stateDir` (AUD-02): every record's hash, the seq sequence, the
 * prev_hash chain, the indexed columns, and the HMAC'd head (which is what catches tail
 * truncation and a wholesale rewrite). Streams the records, so memory stays flat for any size.
 * Creates nothing. Returns the first problem found, naming its seq; throws only when the store
 * cannot be read at all (`AUDIT_UNAVAILABLE`, `AUDIT_CORRUPT`, `STATE_DIR`).
 */
export function verifyAuditLog(stateDir: string): VerifyResult {
  const dir = resolve(stateDir);
  // Read the head before the records: writers advance it only after COMMIT, so the snapshot
  // taken afterwards always reaches at least this head even while other processes append.
  const key = readKey(dir);
  const headState: HeadFileState | 'no_key' = key === null ? 'no_key' : readHeadFile(dir, key);
  const opened = openReadOnly(dir);
  if (opened === null) {
    if (headState === 'no_key' || headState.kind === 'missing')
      return { ok: true, records: 0, head: { seq: 0, hash: GENESIS_HASH }, lastSeq: 0, unanchored: 0 };
    const head = headProblem(headState, 0);
    if ('ok' in head) return head;
    if (head.seq > 0)
      return fail('truncated', 1, `${HEAD_FILE} vouches for record ${head.seq} but the audit database is gone.`);
    return { ok: true, records: 0, head, lastSeq: 0, unanchored: 0 };
  }
  const { db, state } = opened;
  try {
    const fileHead = headState !== 'no_key' && headState.kind === 'ok' ? headState.head : null;
    let expected = 1;
    let prevHash = GENESIS_HASH;
    let records = 0;
    let headHashSeen: string | null = fileHead?.seq === 0 ? GENESIS_HASH : null;
    if (state === 'ready') {
      const rows = db
        .prepare(
          `SELECT seq, ts, type, run_id, hash, CASE WHEN octet_length(json) > ${MAX_ROW_BYTES} THEN ${TOO_LARGE} ELSE json END
                     FROM events ORDER BY seq`,
        )
        .raw()
        .iterate() as IterableIterator<unknown[]>;
      for (const row of rows) {
        const problem = checkRow(row, expected, prevHash);
        if (problem !== null) return problem;
        prevHash = row[4] as string;
        if (fileHead !== null && expected === fileHead.seq) headHashSeen = prevHash;
        records += 1;
        expected += 1;
      }
    }
    const lastSeq = expected - 1;
    const head = headProblem(headState, lastSeq);
    if ('ok' in head) return head;
    if (head.seq > lastSeq) {
      return fail(
        'truncated',
        lastSeq + 1,
        `the log ends at record ${lastSeq} but ${HEAD_FILE} vouches for record ${head.seq}: records from seq ${lastSeq + 1} were removed.`,
      );
    }
    if (headHashSeen !== head.hash) {
      return fail(
        'head_mismatch',
        head.seq,
        `record ${head.seq} is not the record ${HEAD_FILE} vouches for: the log was rewritten up to seq ${head.seq}.`,
      );
    }
    return { ok: true, records, head, lastSeq, unanchored: lastSeq - head.seq };
  } finally {
    db.close();
  }
}
