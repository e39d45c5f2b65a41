import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openSqlite } from './sqlite.js';
import { WardenError } from '../core/errors.js';

/** The database file inside the state directory. */
export const DB_FILE = 'audit.db';

/** Bumped on every incompatible change; a newer db is refused, never guessed at. */
export const SCHEMA_VERSION = 1;

/** Marks the db as ours, so a stray sqlite file at the same path is not mistaken for a log. */
const APPLICATION = 'warden-audit';

const CREATE_SCHEMA = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE events (
  seq     INTEGER PRIMARY KEY,
  ts      TEXT NOT NULL,
  type    TEXT NOT NULL,
  run_id  TEXT NOT NULL,
  hash    TEXT NOT NULL,
  json    TEXT NOT NULL
);
CREATE INDEX events_run ON events (run_id);
CREATE INDEX events_type_ts ON events (type, ts);
-- Guards against our own bugs, not against an attacker (who can drop them): the log is
-- append-only, and verify is what detects tampering.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
`;

/** What an open found in the file. */
export type SchemaState = 'ready' | 'empty';

function corrupt(path: string, message: string, cause?: unknown): WardenError {
  return new WardenError('AUDIT_CORRUPT', `${path}: ${message}`, {
    hint: 'Move the file aside, or point WARDEN_STATE_DIR at the right state directory.',
    ...(cause === undefined ? {} : { cause }),
  });
}

function isSqliteCode(err: unknown, prefix: string): boolean {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith(prefix);
}

/**
 * Checks that `db` holds a warden audit log of a schema this code understands. Returns 'empty'
 * for a db with no tables at all (a fresh file). Throws `AUDIT_CORRUPT` for anything else: a
 * foreign sqlite db, a file that is not sqlite, or a newer schema.
 */
export function checkSchema(db: Database.Database, path: string): SchemaState {
  let tables: string[];
  try {
    tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]).filter(
      (n) => !n.startsWith('sqlite_'),
    );
  } catch (err) {
    if (isSqliteCode(err, 'SQLITE_NOTADB') || isSqliteCode(err, 'SQLITE_CORRUPT')) {
      throw corrupt(path, 'is not an SQLite database (or is damaged).', err);
    }
    throw err;
  }
  if (tables.length === 0) return 'empty';
  if (!tables.includes('meta')) throw corrupt(path, 'is an SQLite database but not a warden audit log.');
  const rows = db.prepare('SELECT key, value FROM meta').all() as { key: unknown; value: unknown }[];
  const meta = new Map(rows.map((r) => [String(r.key), String(r.value)]));
  if (meta.get('application') !== APPLICATION) throw corrupt(path, 'is an SQLite database but not a warden audit log.');
  const version = Number(meta.get('schema_version'));
  if (!Number.isSafeInteger(version) || version < 1) throw corrupt(path, 'has no valid schema version.');
  if (version > SCHEMA_VERSION) {
    throw corrupt(
      path,
      `was written by a newer warden (audit schema v${version}; this warden reads up to v${SCHEMA_VERSION}).`,
    );
  }
  if (!tables.includes('events')) throw corrupt(path, 'is a warden audit log without its events table.');
  return 'ready';
}

/** Creates the schema in an empty db. Run inside the caller's write transaction. */
export function createSchema(db: Database.Database): void {
  db.exec(CREATE_SCHEMA);
  const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
  put.run('application', APPLICATION);
  put.run('schema_version', String(SCHEMA_VERSION));
}

/** Settings every connection gets: a foreign file must not run code through its schema. */
export function applyCommonPragmas(db: Database.Database, busyTimeoutMs: number): void {
  db.pragma('trusted_schema = OFF');
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
}

/**
 * Opens `<stateDir>/audit.db` read-only for verify and queries, or returns null when there is
 * no db file. Never creates anything. Throws `AUDIT_CORRUPT` (not ours / newer schema) or
 * `AUDIT_UNAVAILABLE` (cannot be opened).
 */
export function openReadOnly(
  stateDir: string,
  busyTimeoutMs = 5000,
): { db: Database.Database; state: SchemaState } | null {
  const path = join(stateDir, DB_FILE);
  if (!existsSync(path)) return null;
  let db: Database.Database;
  try {
    db = openSqlite(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new WardenError('AUDIT_UNAVAILABLE', `Cannot open the audit log ${path} for reading.`, { cause: err });
  }
  try {
    applyCommonPragmas(db, busyTimeoutMs);
    return { db, state: checkSchema(db, path) };
  } catch (err) {
    db.close();
    throw err;
  }
}
