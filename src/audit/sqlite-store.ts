import type { KeyObject } from 'node:crypto';
import { closeSync, constants, existsSync, fchmodSync, fstatSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openSqlite } from './sqlite.js';
import type { AuditRecord } from '../core/events.js';
import { WardenError, isWardenError } from '../core/errors.js';
import { GENESIS_HASH, chainRecord, type DistributiveOmit, type RecordBody } from './chain.js';
import { HEAD_FILE, loadOrCreateKey, readHeadFile, writeHeadFile, type AuditHead } from './head.js';
import { DB_FILE, applyCommonPragmas, checkSchema, createSchema } from './schema.js';
import { ensureStateDir } from './state-dir.js';

/** An event ready to be chained: validated, deep-copied and time-stamped, awaiting its seq. */
export type StampedEvent = DistributiveOmit<RecordBody, 'seq'>;

export interface SqliteAuditStoreOptions {
  /** Directory holding audit.db, audit.head and audit.key; created 0700 if missing. */
  readonly stateDir: string;
  /** How long a writer waits for another process's transaction before failing (default 5000 ms). */
  readonly busyTimeoutMs?: number;
  /**
   * Caps the db at this many pages (`PRAGMA max_page_count`) on this connection only. Lets tests
   * produce a genuine SQLITE_FULL, which no file mode can do for root.
   */
  readonly maxPageCount?: number;
}

interface Statements {
  readonly insert: Database.Statement<[number, string, string, string, string, string]>;
  readonly dbHead: Database.Statement<[], { seq: number; hash: string }>;
  readonly hashAt: Database.Statement<[number], string>;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;

function sqliteCode(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** Says what went wrong in words an operator can act on, without guessing beyond the error code. */
function describeWriteFailure(err: unknown, busyTimeoutMs: number): string {
  const code = sqliteCode(err) ?? 'unknown error';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return `the audit log stayed locked by another process for more than ${busyTimeoutMs} ms (${code})`;
  }
  if (code === 'SQLITE_FULL') return `the disk holding the audit log is full (${code})`;
  if (code.startsWith('SQLITE_READONLY')) return `the audit log is read-only (${code})`;
  if (code.startsWith('SQLITE_IOERR')) return `an I/O error occurred while writing the audit log (${code})`;
  if (code.startsWith('SQLITE_CORRUPT')) return `the audit log database is damaged (${code})`;
  return `the audit log could not be written (${code})`;
}

/**
 * The append-only, hash-chained event store in `<stateDir>/audit.db` (SQLite, WAL,
 * `synchronous=FULL`). Several processes may append at once: each batch runs in a
 * `BEGIN IMMEDIATE` transaction that reads the current head and chains onto it, so the chain
 * stays linear across processes. After each commit the store advances `audit.head` (an HMAC'd
 * pointer to the newest record) under the same database write lock, so the head never moves
 * backwards even with concurrent writers.
 */
export class SqliteAuditStore {
  readonly #options: SqliteAuditStoreOptions;
  readonly #busyTimeoutMs: number;
  #stateDir: string | null = null;
  #db: Database.Database | null = null;
  #key: KeyObject | null = null;
  #stmts: Statements | null = null;

  constructor(options: SqliteAuditStoreOptions) {
    if (typeof options.stateDir !== 'string' || options.stateDir === '') throw new TypeError('stateDir is required');
    const busy = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    if (!Number.isInteger(busy) || busy < 0 || busy > 600_000)
      throw new TypeError('busyTimeoutMs must be an integer in [0, 600000]');
    if (
      options.maxPageCount !== undefined &&
      (!Number.isSafeInteger(options.maxPageCount) || options.maxPageCount < 1)
    ) {
      throw new TypeError('maxPageCount must be a positive integer');
    }
    this.#options = options;
    this.#busyTimeoutMs = busy;
  }

  /** The absolute state directory, once open. */
  get stateDir(): string {
    return this.#open().stateDir;
  }

  /** True between `open()` and `close()`. */
  get isOpen(): boolean {
    return this.#db !== null;
  }

  /**
   * Opens (creating if needed) the state dir, key and db; refuses with `AUDIT_CORRUPT` a db that
   * is not a warden audit log, has a newer schema, or whose head file does not match it, and
   * with `AUDIT_UNAVAILABLE` a db that cannot be opened.
   */
  open(options: { readonly anchor?: boolean } = {}): void {
    if (this.#db !== null) return;
    const stateDir = ensureStateDir(this.#options.stateDir);
    const key = loadOrCreateKey(stateDir);
    const path = join(stateDir, DB_FILE);
    createPrivateFile(path);
    let db: Database.Database;
    try {
      db = openSqlite(path, { fileMustExist: true });
    } catch (err) {
      throw new WardenError('AUDIT_UNAVAILABLE', `Cannot open the audit log ${path}.`, { cause: err });
    }
    try {
      applyCommonPragmas(db, this.#busyTimeoutMs);
      if (checkSchema(db, path) === 'empty') {
        db.transaction(() => {
          // Another process may have created it between our check and our lock.
          if (checkSchema(db, path) === 'empty') createSchema(db);
        }).immediate();
      }
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal')
        throw new WardenError('AUDIT_UNAVAILABLE', `The audit log ${path} cannot use WAL mode (got ${String(mode)}).`);
      // FULL: in WAL mode NORMAL may lose the last commits on power loss, and an event is
      // acknowledged only once it is durable.
      db.pragma('synchronous = FULL');
      if (this.#options.maxPageCount !== undefined) db.pragma(`max_page_count = ${this.#options.maxPageCount}`);
      this.#stmts = {
        insert: db.prepare('INSERT INTO events (seq, ts, type, run_id, hash, json) VALUES (?, ?, ?, ?, ?, ?)'),
        dbHead: db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1'),
        hashAt: db.prepare<[number], string>('SELECT hash FROM events WHERE seq = ?').pluck(),
      };
      this.#db = db;
      this.#key = key;
      this.#stateDir = stateDir;
      // Anchors what a crashed writer left unanchored. `anchor: false` leaves that to the caller's
      // next anchor (AuditLog anchors within ANCHOR_INTERVAL_MS of its first commit), except on a
      // log without a head file yet: that must get one now, or its first records would look like
      // a log whose head was deleted.
      if (options.anchor !== false || !existsSync(join(stateDir, HEAD_FILE))) this.#advanceHead();
    } catch (err) {
      this.#db = null;
      this.#stmts = null;
      this.#key = null;
      db.close();
      if (isWardenError(err)) throw err;
      throw new WardenError(
        'AUDIT_UNAVAILABLE',
        `Cannot open the audit log ${path}: ${describeWriteFailure(err, this.#busyTimeoutMs)}.`,
        {
          cause: err,
        },
      );
    }
  }

  /** Closes the db. Idempotent. */
  close(): void {
    const db = this.#db;
    this.#db = null;
    this.#stmts = null;
    this.#key = null;
    db?.close();
  }

  /** The newest committed record's seq and hash (seq 0 and the genesis hash when empty). */
  head(): AuditHead {
    return this.#readDbHead(this.#open().stmts);
  }

  /**
   * Appends `events` as one transaction and returns their records, in order. Returns only after
   * COMMIT (durable: WAL fsynced) and, unless `anchor` is false, after `audit.head` names the last
   * of them (with `anchor: false` the caller anchors later with {@link anchorHead}). Throws
   * `AUDIT_UNAVAILABLE` when nothing was written (disk full, read-only, locked past the busy
   * timeout) and `AUDIT_CORRUPT` when the head no longer matches the log (nothing written). If
   * only the head update fails the error says so: the events are then recorded but not anchored.
   */
  appendBatch(events: readonly StampedEvent[], options: { readonly anchor?: boolean } = {}): AuditRecord[] {
    const { db, stmts } = this.#open();
    if (events.length === 0) return [];
    let records: AuditRecord[];
    try {
      records = db
        .transaction((batch: readonly StampedEvent[]) => {
          const head = this.#readDbHead(stmts);
          // Refuse to extend a log whose head file disagrees with it: appending would bury the
          // evidence under fresh records and a fresh head.
          this.#checkHeadFile(head);
          let prev = head.hash;
          let seq = head.seq;
          const out: AuditRecord[] = [];
          for (const event of batch) {
            seq += 1;
            const { record, canonical } = chainRecord(prev, { ...event, seq });
            stmts.insert.run(seq, record.ts, record.type, record.run_id, record.hash, canonical);
            prev = record.hash;
            out.push(record);
          }
          return out;
        })
        .immediate(events);
    } catch (err) {
      if (isWardenError(err)) throw err;
      throw new WardenError(
        'AUDIT_UNAVAILABLE',
        `The event was not recorded: ${describeWriteFailure(err, this.#busyTimeoutMs)}.`,
        {
          hint: `Check free space and permissions under ${this.#stateDir ?? this.#options.stateDir}; warden refuses to act without a durable audit record.`,
          cause: err,
        },
      );
    }
    if (options.anchor === false) return records;
    try {
      this.#advanceHead();
    } catch (err) {
      const first = records[0]?.seq ?? 0;
      const last = records[records.length - 1]?.seq ?? 0;
      const base = isWardenError(err) ? err.message : describeWriteFailure(err, this.#busyTimeoutMs);
      throw new WardenError(
        isWardenError(err) ? err.code : 'AUDIT_UNAVAILABLE',
        `Events ${first}-${last} were recorded but ${HEAD_FILE} could not be advanced: ${base}`,
        { cause: err },
      );
    }
    return records;
  }

  #open(): { db: Database.Database; stmts: Statements; key: KeyObject; stateDir: string } {
    if (this.#db === null || this.#stmts === null || this.#key === null || this.#stateDir === null) {
      throw new WardenError('AUDIT_UNAVAILABLE', 'The audit store is not open.');
    }
    return { db: this.#db, stmts: this.#stmts, key: this.#key, stateDir: this.#stateDir };
  }

  #readDbHead(stmts: Statements): AuditHead {
    const row = stmts.dbHead.get();
    return row === undefined ? { seq: 0, hash: GENESIS_HASH } : { seq: row.seq, hash: row.hash };
  }

  /**
   * Checks `audit.head` against the db head; returns the file's head, or null when the file is
   * missing and the log is empty (a fresh store). Call inside a write transaction.
   */
  #checkHeadFile(dbHead: AuditHead): AuditHead | null {
    const { stmts, key, stateDir } = this.#open();
    const file = readHeadFile(stateDir, key);
    const integrity = (message: string): WardenError =>
      new WardenError('AUDIT_CORRUPT', message, {
        hint: 'Run `warden audit verify` and investigate before recording more events.',
      });
    switch (file.kind) {
      case 'missing':
        if (dbHead.seq === 0) return null;
        throw integrity(`${HEAD_FILE} is missing but the audit log holds ${dbHead.seq} records.`);
      case 'invalid':
        throw integrity(`${HEAD_FILE} is not valid: ${file.reason}.`);
      case 'ok': {
        const { seq, hash } = file.head;
        if (seq > dbHead.seq) {
          throw integrity(
            `${HEAD_FILE} vouches for record ${seq} but the audit log ends at ${dbHead.seq}: records were removed.`,
          );
        }
        const actual = seq === 0 ? GENESIS_HASH : stmts.hashAt.get(seq);
        if (actual !== hash) throw integrity(`Record ${seq} does not match ${HEAD_FILE}: the log was altered.`);
        return file.head;
      }
    }
  }

  /**
   * Moves `audit.head` to the db's newest record. Runs under the db write lock (an empty
   * BEGIN IMMEDIATE transaction, which commits without an fsync) so that concurrent processes
   * write heads in commit order: each writes the newest head at the time it holds the lock, which
   * can only grow. Without the lock, a slow process could rename an older head over a newer one.
   */
  /** Moves `audit.head` to the newest committed record (see appendBatch's `anchor`). */
  anchorHead(): void {
    try {
      this.#advanceHead();
    } catch (err) {
      if (isWardenError(err)) throw err;
      throw new WardenError(
        'AUDIT_UNAVAILABLE',
        `${HEAD_FILE} could not be advanced: ${describeWriteFailure(err, this.#busyTimeoutMs)}`,
        { cause: err },
      );
    }
  }

  #advanceHead(): void {
    const { db, stmts, key, stateDir } = this.#open();
    db.transaction(() => {
      const dbHead = this.#readDbHead(stmts);
      const fileHead = this.#checkHeadFile(dbHead);
      if (fileHead === null || fileHead.seq < dbHead.seq) writeHeadFile(stateDir, key, dbHead);
    }).immediate();
  }
}

/**
 * Creates `path` with mode 0600 if missing, and narrows an existing file to 0600, before SQLite
 * opens it: SQLite copies the db file's mode to its -wal and -shm files, so this keeps all three
 * private with no window at the umask default.
 */
function createPrivateFile(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    throw new WardenError('AUDIT_UNAVAILABLE', `Cannot open the audit log ${path}.`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new WardenError('AUDIT_CORRUPT', `${path} is not a regular file.`);
    if ((st.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
}
