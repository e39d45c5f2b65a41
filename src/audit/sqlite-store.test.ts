import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { GENESIS_HASH } from './chain.js';
import { HEAD_FILE, KEY_FILE } from './head.js';
import { DB_FILE, SCHEMA_VERSION } from './schema.js';
import { SqliteAuditStore, type StampedEvent } from './sqlite-store.js';
import { stampEvent } from './stamp.js';
import { egressEvent, newRunId, tamper, tempDir } from '../../test/kits/audit.js';
import { verifyAuditLog } from './verify.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});
function scratch(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return join(t.dir, 'state');
}
function openStore(stateDir: string, opts: { busyTimeoutMs?: number; maxPageCount?: number } = {}): SqliteAuditStore {
  const store = new SqliteAuditStore({ stateDir, ...opts });
  store.open();
  cleanups.push(() => store.close());
  return store;
}
const run = newRunId();
const stamp = (i: number, pad = 0): StampedEvent => {
  const e = egressEvent(run, i);
  return stampEvent(
    pad === 0 ? e : ({ ...e, data: { ...e.data, rule: 'x'.repeat(pad) } } as typeof e),
    () => new Date(),
    1024 * 1024,
  );
};
function rowCount(stateDir: string): number {
  const db = new Database(join(stateDir, DB_FILE), { readonly: true });
  try {
    return db.prepare('SELECT COUNT(*) FROM events').pluck().get() as number;
  } finally {
    db.close();
  }
}

describe('SqliteAuditStore', () => {
  it('creates db, key and head private, and starts with a genesis head', () => {
    const dir = scratch();
    const store = openStore(dir);
    store.appendBatch([stamp(1)]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`, KEY_FILE, HEAD_FILE]) {
      expect({ f, mode: statSync(join(dir, f)).mode & 0o777 }).toEqual({ f, mode: 0o600 });
    }
    expect(statSync(join(dir, KEY_FILE)).size).toBe(32);
    const empty = scratch();
    openStore(empty);
    expect(JSON.parse(readFileSync(join(empty, HEAD_FILE), 'utf8'))).toMatchObject({ seq: 0, hash: GENESIS_HASH });
  });

  it('numbers records from 1, chains them, and advances the head after each commit', () => {
    const dir = scratch();
    const store = openStore(dir);
    const first = store.appendBatch([stamp(1), stamp(2)]);
    expect(first.map((r) => r.seq)).toEqual([1, 2]);
    expect(first[0]?.prev_hash).toBe(GENESIS_HASH);
    expect(first[1]?.prev_hash).toBe(first[0]?.hash);
    const head = JSON.parse(readFileSync(join(dir, HEAD_FILE), 'utf8')) as { seq: number; hash: string };
    expect(head).toMatchObject({ seq: 2, hash: first[1]?.hash });
    store.close();
    // A new process (here: a new instance) continues the same chain.
    const again = openStore(dir);
    const next = again.appendBatch([stamp(3)]);
    expect(next[0]).toMatchObject({ seq: 3, prev_hash: first[1]?.hash });
    expect(again.head()).toEqual({ seq: 3, hash: next[0]?.hash });
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 3, unanchored: 0 });
  });

  it('is append-only even for code that reaches the db handle by mistake', () => {
    const dir = scratch();
    openStore(dir).appendBatch([stamp(1)]);
    const db = new Database(join(dir, DB_FILE));
    cleanups.push(() => db.close());
    expect(() => db.prepare("UPDATE events SET json = '{}'").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM events').run()).toThrow(/append-only/);
  });

  it('refuses a db that is not a warden audit log, or comes from a newer schema', () => {
    const foreign = scratch();
    openStore(foreign).close();
    // A foreign sqlite db in place of ours.
    writeFileSync(join(foreign, DB_FILE), '');
    const other = new Database(join(foreign, DB_FILE));
    other.exec('CREATE TABLE notes (body TEXT)');
    other.close();
    expect(() => openStore(foreign)).toThrow(
      expect.objectContaining({ code: 'AUDIT_CORRUPT', message: expect.stringMatching(/not a warden audit log/) }),
    );

    const garbage = scratch();
    openStore(garbage).close();
    writeFileSync(join(garbage, DB_FILE), 'this is not sqlite at all, just text padding '.repeat(200));
    expect(() => openStore(garbage)).toThrow(expect.objectContaining({ code: 'AUDIT_CORRUPT' }));

    const newer = scratch();
    openStore(newer).close();
    const db = new Database(join(newer, DB_FILE));
    db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION + 1));
    db.close();
    expect(() => openStore(newer)).toThrow(
      expect.objectContaining({ code: 'AUDIT_CORRUPT', message: expect.stringMatching(/newer warden/) }),
    );
  });

  it('refuses to append to a log whose head no longer matches it (nothing is written)', () => {
    const dir = scratch();
    const store = openStore(dir);
    store.appendBatch([stamp(1), stamp(2), stamp(3)]);
    tamper(dir, (db) => db.prepare('DELETE FROM events WHERE seq = 3').run());
    expect(() => store.appendBatch([stamp(4)])).toThrow(
      expect.objectContaining({ code: 'AUDIT_CORRUPT', message: expect.stringMatching(/vouches for record 3/) }),
    );
    expect(rowCount(dir)).toBe(2);
    store.close();
    expect(() => openStore(dir)).toThrow(expect.objectContaining({ code: 'AUDIT_CORRUPT' }));
  });

  it('AUD-03 a full disk rejects the batch with AUDIT_UNAVAILABLE, writes nothing, and later appends work', () => {
    const dir = scratch();
    const healthy = openStore(dir);
    healthy.appendBatch([stamp(1), stamp(2)]);
    const pages = (() => {
      const db = new Database(join(dir, DB_FILE), { readonly: true });
      try {
        return db.pragma('page_count', { simple: true }) as number;
      } finally {
        db.close();
      }
    })();
    // This connection may not grow the file: a genuine SQLITE_FULL, even as root.
    const full = openStore(dir, { maxPageCount: pages });
    const big = Array.from({ length: 20 }, (_, i) => stamp(10 + i, 3000));
    let error: unknown;
    try {
      full.appendBatch(big);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
      message: expect.stringMatching(/disk .* is full \(SQLITE_FULL\)/),
    });
    expect(rowCount(dir)).toBe(2);
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 2 });
    // The same store stays usable for what still fits...
    expect(full.appendBatch([stamp(3)])[0]?.seq).toBe(3);
    // ...and the healthy one continues the chain after the failure.
    expect(healthy.appendBatch([stamp(4)])[0]?.seq).toBe(4);
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 4, unanchored: 0 });
  });

  it('AUD-03 a db locked past the busy timeout rejects with AUDIT_UNAVAILABLE, then recovers', () => {
    const dir = scratch();
    const store = openStore(dir, { busyTimeoutMs: 50 });
    store.appendBatch([stamp(1)]);
    const other = new Database(join(dir, DB_FILE));
    cleanups.push(() => other.close());
    other.exec('BEGIN IMMEDIATE');
    expect(() => store.appendBatch([stamp(2)])).toThrow(
      expect.objectContaining({
        code: 'AUDIT_UNAVAILABLE',
        message: expect.stringMatching(/locked by another process/),
      }),
    );
    other.exec('ROLLBACK');
    expect(store.appendBatch([stamp(2)])[0]?.seq).toBe(2);
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 2 });
  });

  it('rejects use before open and after close', () => {
    const store = new SqliteAuditStore({ stateDir: scratch() });
    expect(() => store.appendBatch([stamp(1)])).toThrow(expect.objectContaining({ code: 'AUDIT_UNAVAILABLE' }));
    expect(() => new SqliteAuditStore({ stateDir: '' })).toThrow(TypeError);
    expect(() => new SqliteAuditStore({ stateDir: '/x', busyTimeoutMs: -1 })).toThrow(TypeError);
  });
});
