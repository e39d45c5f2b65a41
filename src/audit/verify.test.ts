import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from './chain.js';
import { HEAD_FILE, KEY_FILE } from './head.js';
import { DB_FILE } from './schema.js';
import { SqliteAuditStore } from './sqlite-store.js';
import { stampEvent } from './stamp.js';
import { egressEvent, newRunId, runEnded, runStarted, tamper, tempDir } from '../../test/kits/audit.js';
import { verifyAuditLog } from './verify.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

const run = newRunId();
const N = 10;

/** A state dir holding a closed log of N records (seq 1..N). */
function makeLog(count = N): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const dir = join(t.dir, 'state');
  const store = new SqliteAuditStore({ stateDir: dir });
  store.open();
  const now = () => new Date('2025-01-01T00:00:00.000Z');
  store.appendBatch([stampEvent(runStarted(run), now)]);
  for (let i = 2; i < count; i++) store.appendBatch([stampEvent(egressEvent(run, i), now)]);
  store.appendBatch([stampEvent(runEnded(run, 0), now)]);
  store.close();
  return dir;
}

function swapRows(dir: string, a: number, b: number): void {
  tamper(dir, (db) => {
    const get = db.prepare<[number], { ts: string; type: string; run_id: string; hash: string; json: string }>(
      'SELECT ts, type, run_id, hash, json FROM events WHERE seq = ?',
    );
    const ra = get.get(a);
    const rb = get.get(b);
    if (ra === undefined || rb === undefined) throw new Error('rows missing');
    const put = db.prepare('UPDATE events SET ts = ?, type = ?, run_id = ?, hash = ?, json = ? WHERE seq = ?');
    db.transaction(() => {
      put.run(rb.ts, rb.type, rb.run_id, rb.hash, rb.json, a);
      put.run(ra.ts, ra.type, ra.run_id, ra.hash, ra.json, b);
    })();
  });
}

describe('verifyAuditLog', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeLog();
  });

  it('AUD-02 an untouched log verifies', () => {
    const result = verifyAuditLog(dir);
    expect(result).toMatchObject({ ok: true, records: N, lastSeq: N, unanchored: 0, head: { seq: N } });
  });

  it('AUD-02 an edited record is detected', () => {
    tamper(dir, (db) =>
      db.prepare("UPDATE events SET json = replace(json, 'h4.example.com', 'h4.attacker.net') WHERE seq = 4").run(),
    );
    const result = verifyAuditLog(dir);
    expect(result).toMatchObject({ ok: false, problem: 'hash_mismatch', firstBadSeq: 4 });
    expect(result.ok ? '' : result.detail).toMatch(/record 4 was edited/);
  });

  it('AUD-02 an edited record with a recomputed hash is detected at the next record', () => {
    tamper(dir, (db) => {
      const json = (db.prepare('SELECT json FROM events WHERE seq = 4').pluck().get() as string).replace(
        'h4.example.com',
        'h4.attacker.net',
      );
      db.prepare('UPDATE events SET json = ?, hash = ? WHERE seq = 4').run(json, sha256Hex(json));
    });
    expect(verifyAuditLog(dir)).toMatchObject({ ok: false, problem: 'chain_broken', firstBadSeq: 5 });
  });

  it('AUD-02 an edited index column is detected', () => {
    tamper(dir, (db) => db.prepare("UPDATE events SET type = 'egress.denied' WHERE seq = 3").run());
    expect(verifyAuditLog(dir)).toMatchObject({ ok: false, problem: 'index_mismatch', firstBadSeq: 3 });
  });

  it('AUD-02 a deleted record is detected', () => {
    tamper(dir, (db) => db.prepare('DELETE FROM events WHERE seq = 5').run());
    const result = verifyAuditLog(dir);
    expect(result).toMatchObject({ ok: false, problem: 'missing_record', firstBadSeq: 5 });
    expect(result.ok ? '' : result.detail).toMatch(/record 5 is missing/);
  });

  it('AUD-02 a deleted record with the later ones renumbered is detected', () => {
    tamper(dir, (db) => {
      db.prepare('DELETE FROM events WHERE seq = 5').run();
      db.prepare('UPDATE events SET seq = seq - 1 WHERE seq > 5').run();
    });
    expect(verifyAuditLog(dir)).toMatchObject({ ok: false, problem: 'out_of_order', firstBadSeq: 5 });
  });

  it('AUD-02 reordered records are detected', () => {
    swapRows(dir, 3, 6);
    const result = verifyAuditLog(dir);
    expect(result).toMatchObject({ ok: false, problem: 'out_of_order', firstBadSeq: 3 });
    expect(result.ok ? '' : result.detail).toMatch(/record 3 holds the record chained as seq 6/);
  });

  it('AUD-02 a truncated tail is detected', () => {
    tamper(dir, (db) => db.prepare('DELETE FROM events WHERE seq > 7').run());
    const result = verifyAuditLog(dir);
    expect(result).toMatchObject({ ok: false, problem: 'truncated', firstBadSeq: 8 });
    expect(result.ok ? '' : result.detail).toMatch(/ends at record 7 .* vouches for record 10/);
  });

  it('AUD-02 a truncated tail with a head forged without the key is detected', () => {
    tamper(dir, (db) => db.prepare('DELETE FROM events WHERE seq > 7').run());
    const last = rowHashes(dir);
    writeFileSync(join(dir, HEAD_FILE), JSON.stringify({ seq: 7, hash: last[7], mac: 'f'.repeat(64) }));
    expect(verifyAuditLog(dir)).toMatchObject({ ok: false, problem: 'head_invalid', firstBadSeq: 1 });
  });

  it('AUD-02 a rewritten log (every hash recomputed) is detected by the head', () => {
    tamper(dir, (db) => {
      const rows = db.prepare<[], { seq: number; json: string }>('SELECT seq, json FROM events ORDER BY seq').all();
      let prev = '0'.repeat(64);
      for (const row of rows) {
        const rec = JSON.parse(row.json) as Record<string, unknown>;
        rec['prev_hash'] = prev;
        if (row.seq === 4) rec['data'] = { ...(rec['data'] as object), host: 'h4.attacker.net' };
        const keys = Object.keys(rec).sort();
        const json = `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(rec[k])}`).join(',')}}`;
        prev = sha256Hex(json);
        db.prepare('UPDATE events SET json = ?, hash = ? WHERE seq = ?').run(json, prev, row.seq);
      }
    });
    expect(verifyAuditLog(dir)).toMatchObject({ ok: false, problem: 'head_mismatch', firstBadSeq: N });
  });

  it('AUD-02 an edited head file is detected', () => {
    const head = JSON.parse(readFileSync(join(dir, HEAD_FILE), 'utf8')) as { seq: number; hash: string; mac: string };
    writeFileSync(join(dir, HEAD_FILE), JSON.stringify({ ...head, seq: head.seq - 3 }));
    const result = verifyAuditLog(dir);
    expect(result).toMatchObject({ ok: false, problem: 'head_invalid', firstBadSeq: 1 });
    expect(result.ok ? '' : result.detail).toMatch(/edited or forged \(MAC does not match/);
  });

  it('AUD-02 a deleted head file is detected', () => {
    rmSync(join(dir, HEAD_FILE));
    const result = verifyAuditLog(dir);
    expect(result).toMatchObject({ ok: false, problem: 'head_missing', firstBadSeq: 1 });
    expect(result.ok ? '' : result.detail).toMatch(/audit\.head is missing but the log holds 10 records/);
  });

  it('AUD-02 an oversized row is flagged without being loaded', () => {
    tamper(dir, (db) => db.prepare('UPDATE events SET json = ? WHERE seq = 6').run('x'.repeat(2 * 1024 * 1024)));
    expect(verifyAuditLog(dir)).toMatchObject({ ok: false, problem: 'malformed', firstBadSeq: 6 });
  });

  it('AUD-02 a deleted key is reported (the head cannot be authenticated)', () => {
    rmSync(join(dir, KEY_FILE));
    expect(verifyAuditLog(dir)).toMatchObject({ ok: false, problem: 'key_missing', firstBadSeq: 1 });
  });

  it('reports records appended after the head as unanchored, not as tampering', () => {
    // What a writer killed between COMMIT and the head update leaves behind.
    const headText = readFileSync(join(dir, HEAD_FILE), 'utf8');
    const store = new SqliteAuditStore({ stateDir: dir });
    store.open();
    store.appendBatch([stampEvent(egressEvent(run, 99), () => new Date())]);
    store.close();
    writeFileSync(join(dir, HEAD_FILE), headText);
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: N + 1, head: { seq: N }, unanchored: 1 });
  });

  it('treats a state dir with no log as an empty, valid log, and creates nothing', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    expect(verifyAuditLog(t.dir)).toMatchObject({ ok: true, records: 0 });
    expect(() => readFileSync(join(t.dir, DB_FILE))).toThrow();
  });
});

/** seq → hash of the rows left in the db. */
function rowHashes(dir: string): Record<number, string> {
  const out: Record<number, string> = {};
  tamper(dir, (db) => {
    for (const r of db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM events').all())
      out[r.seq] = r.hash;
  });
  return out;
}

describe('verifyAuditLog at scale', () => {
  it('streams 100k records', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const dir = join(t.dir, 'state');
    const store = new SqliteAuditStore({ stateDir: dir });
    store.open();
    const total = 100_000;
    const now = () => new Date();
    const t0 = performance.now();
    for (let i = 0; i < total; i += 1000) {
      store.appendBatch(Array.from({ length: 1000 }, (_, k) => stampEvent(egressEvent(run, i + k), now)));
    }
    const written = performance.now() - t0;
    store.close();
    const heapBefore = process.memoryUsage().heapUsed;
    const t1 = performance.now();
    const result = verifyAuditLog(dir);
    const took = performance.now() - t1;
    const heapDelta = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    console.log(
      `[audit] wrote ${total} records in batches of 1000 in ${written.toFixed(0)} ms (${Math.round(total / (written / 1000))}/s); ` +
        `verify: ${took.toFixed(0)} ms (${Math.round(total / (took / 1000))} records/s, heap ${heapDelta >= 0 ? '+' : ''}${heapDelta.toFixed(1)} MB)`,
    );
    expect(result).toMatchObject({ ok: true, records: total, lastSeq: total, unanchored: 0 });
  }, 120_000);
});
