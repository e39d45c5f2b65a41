import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEventInput } from '../core/events.js';
import { HEAD_FILE } from './head.js';
import { AuditLog, openAuditLog } from './log.js';
import { DB_FILE } from './schema.js';
import { SqliteAuditStore } from './sqlite-store.js';
import { egressEvent, newRunId, tempDir } from '../../test/kits/audit.js';
import { verifyAuditLog } from './verify.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
function scratch(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return join(t.dir, 'state');
}
function openLog(
  stateDir: string,
  opts: Parameters<typeof openAuditLog>[0] extends infer O ? Omit<O, 'stateDir'> : never = {},
): AuditLog {
  const log = openAuditLog({ stateDir, ...opts });
  cleanups.push(() => log.close());
  return log;
}
const run = newRunId();

describe('AuditLog', () => {
  it('fills ts from the clock, returns the stored record, and keeps a copy of the event', async () => {
    const dir = scratch();
    const log = openLog(dir, { now: () => new Date('2025-03-04T05:06:07.089Z') });
    const event = egressEvent(run, 1);
    const pending = log.append(event);
    // Mutating the caller's object after append must not change what is stored.
    (event.data as { host: string }).host = 'evil.example.com';
    const record = await pending;
    expect(record).toMatchObject({
      seq: 1,
      ts: '2025-03-04T05:06:07.089Z',
      type: 'egress.allowed',
      run_id: run,
      data: { host: 'h1.example.com' },
    });
    expect(record.hash).toMatch(/^[0-9a-f]{64}$/);
    const given = await log.append({ ...egressEvent(run, 2), ts: '2024-12-31T23:59:59.999Z' });
    expect(given.ts).toBe('2024-12-31T23:59:59.999Z');
  });

  it('group-commits 1,000 concurrent appends with distinct, increasing seqs', async () => {
    const dir = scratch();
    const log = openLog(dir);
    const t0 = performance.now();
    const records = await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(egressEvent(run, i))));
    const grouped = performance.now() - t0;
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    for (let i = 1; i < records.length; i++) expect(records[i]?.prev_hash).toBe(records[i - 1]?.hash);

    const t1 = performance.now();
    const sequential = 200;
    for (let i = 0; i < sequential; i++) await log.append(egressEvent(run, i));
    const single = performance.now() - t1;
    console.log(
      `[audit] group commit: 1000 appends in ${grouped.toFixed(1)} ms (${Math.round(1000 / (grouped / 1000))}/s); ` +
        `one at a time: ${sequential} in ${single.toFixed(1)} ms (${Math.round(sequential / (single / 1000))}/s, ${((single / sequential) * 1000).toFixed(0)} µs each)`,
    );
    await log.close(); // anchors the signed head (it trails by up to ANCHOR_INTERVAL_MS while open)
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 1200, unanchored: 0 });
  });

  it('splits a burst larger than maxBatch over several transactions, in order', async () => {
    const log = openLog(scratch(), { maxBatch: 7 });
    const records = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(egressEvent(run, i))));
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('rejects an oversized event whole, with a clear error, and records nothing', async () => {
    const dir = scratch();
    const log = openLog(dir);
    const e = egressEvent(run, 1);
    const big = { ...e, data: { ...e.data, rule: 'x'.repeat(70 * 1024) } } as AuditEventInput;
    await expect(log.append(big)).rejects.toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
      message: expect.stringMatching(
        /egress\.allowed event is about \d+ bytes, over the 65536-byte audit record limit; it was not recorded/,
      ),
    });
    // Just under the limit is fine; the limit counts the stored record.
    const fits = { ...e, data: { ...e.data, rule: 'x'.repeat(60 * 1024) } } as AuditEventInput;
    expect((await log.append(fits)).seq).toBe(1);
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 1 });
  });

  it('rejects malformed events with TypeError and never throws synchronously', async () => {
    const log = openLog(scratch());
    const e = egressEvent(run, 1);
    const bad: unknown[] = [
      null,
      { ...e, type: 'egress.sideways' },
      { ...e, run_id: 'run_../../etc' },
      { ...e, agent: { name: '', run_id: run } },
      { ...e, data: [] },
      { ...e, ts: '2025-01-01 00:00:00' },
      { ...e, ts: '2025-02-30T00:00:00.000Z' },
      { ...e, data: { n: Number.NaN } },
    ];
    for (const b of bad) {
      const p = log.append(b as AuditEventInput);
      await expect(p).rejects.toBeInstanceOf(TypeError);
    }
  });

  it('AUD-03 a failed commit rejects every pending append with AUDIT_UNAVAILABLE, and the log stays usable', async () => {
    const dir = scratch();
    const store = new SqliteAuditStore({ stateDir: dir, busyTimeoutMs: 50 });
    store.open();
    const log = new AuditLog(store);
    cleanups.push(() => log.close());
    await log.append(egressEvent(run, 0));
    const locker = new Database(join(dir, DB_FILE));
    cleanups.push(() => {
      locker.close();
    });
    locker.exec('BEGIN IMMEDIATE');
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => log.append(egressEvent(run, i + 1))));
    for (const r of results) {
      expect(r).toMatchObject({ status: 'rejected', reason: { name: 'WardenError', code: 'AUDIT_UNAVAILABLE' } });
    }
    locker.exec('ROLLBACK');
    expect((await log.append(egressEvent(run, 9))).seq).toBe(2);
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 2 });
  });

  it('close() commits what is queued, and later appends reject', async () => {
    const dir = scratch();
    const log = openAuditLog({ stateDir: dir });
    const pending = Array.from({ length: 10 }, (_, i) => log.append(egressEvent(run, i)));
    await log.close();
    expect((await Promise.all(pending)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await expect(log.append(egressEvent(run, 11))).rejects.toMatchObject({
      code: 'AUDIT_UNAVAILABLE',
      message: expect.stringMatching(/closed/),
    });
    await log.close();
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 10 });
  });

  it('deferOpen: nothing is touched until the first append; a fresh and then an existing log both chain and verify', async () => {
    const dir = scratch();
    const first = openAuditLog({ stateDir: dir, deferOpen: true });
    expect(existsSync(dir)).toBe(false);
    expect((await first.append(egressEvent(run, 1))).seq).toBe(1);
    expect((await first.append(egressEvent(run, 2))).seq).toBe(2);
    await first.close();
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 2, unanchored: 0 });
    const second = openAuditLog({ stateDir: dir, deferOpen: true });
    expect((await second.append(egressEvent(run, 3))).seq).toBe(3);
    await second.close();
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 3, unanchored: 0 });
    // Never used: close() neither opens nor creates anything.
    const unused = scratch();
    await openAuditLog({ stateDir: unused, deferOpen: true }).close();
    expect(existsSync(unused)).toBe(false);
  });

  it('deferOpen: a log whose head file was deleted refuses the first append (AUDIT_CORRUPT), nothing is added', async () => {
    const dir = scratch();
    const log = openAuditLog({ stateDir: dir });
    await log.append(egressEvent(run, 1));
    await log.close();
    rmSync(join(dir, HEAD_FILE));
    const reopened = openAuditLog({ stateDir: dir, deferOpen: true });
    await expect(reopened.append(egressEvent(run, 2))).rejects.toMatchObject({ code: 'AUDIT_CORRUPT' });
    await reopened.close();
    const db = new Database(join(dir, DB_FILE), { readonly: true });
    expect(db.prepare('SELECT count(*) FROM events').pluck().get()).toBe(1);
    db.close();
  });

  it('rejects bad options at construction', () => {
    const store = new SqliteAuditStore({ stateDir: '/nonexistent' });
    expect(() => new AuditLog(store, { maxEventBytes: 10 })).toThrow(TypeError);
    expect(() => new AuditLog(store, { maxBatch: 0 })).toThrow(TypeError);
  });
});
