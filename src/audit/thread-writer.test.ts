import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, openAuditLog } from './log.js';
import { DB_FILE } from './schema.js';
import { SqliteAuditStore } from './sqlite-store.js';
import { StoreWriter } from './store-writer.js';
import { HandoverWriter, ThreadWriter } from './thread-writer.js';
import { verifyAuditLog } from './verify.js';
import { egressEvent, newRunId, tempDir } from '../../test/kits/audit.js';

// The writer thread built from this source as scripts/build.mjs builds it, placed under the repo's
// node_modules so that better-sqlite3's addon is found as from dist/assets.
const buildDir = join(import.meta.dirname, '..', '..', 'node_modules', '.cache', `warden-audit-writer-${process.pid}`);
const script = join(buildDir, 'audit-writer.cjs');
beforeAll(async () => {
  mkdirSync(buildDir, { recursive: true });
  await build({
    entryPoints: [join(import.meta.dirname, 'writer-thread.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    banner: { js: 'const __wardenImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    define: { 'import.meta.url': '__wardenImportMetaUrl' },
    external: ['bindings'],
    outfile: script,
  });
});
afterAll(() => rmSync(buildDir, { recursive: true, force: true }));

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
function scratch(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return join(t.dir, 'state');
}
const run = newRunId();

describe('the audit writer thread', () => {
  it('group-commits concurrent appends in order; the chain verifies and close() anchors it', async () => {
    const dir = scratch();
    const log = openAuditLog({ stateDir: dir, writerThread: script });
    const first = await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(egressEvent(run, i))));
    const second = await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(egressEvent(run, 300 + i))));
    const records = [...first, ...second];
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    for (let i = 1; i < records.length; i++) expect(records[i]?.prev_hash).toBe(records[i - 1]?.hash);
    expect(records[42]?.data).toMatchObject({ host: 'h42.example.com' });
    await log.close();
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 600, unanchored: 0 });
  });

  it('commits inline until the thread is ready, then in the thread; one linear chain across the handover', async () => {
    const dir = scratch();
    const store = new SqliteAuditStore({ stateDir: dir });
    store.open();
    const thread = new ThreadWriter(script, { stateDir: dir });
    const writer = new HandoverWriter(new StoreWriter(store), thread);
    const log = new AuditLog(writer);
    const before = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(egressEvent(run, i))));
    expect(await thread.ready).toBe(true);
    const after = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(egressEvent(run, 50 + i))));
    expect(writer.handedOver).toBe(true);
    const records = [...before, ...after];
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    for (let i = 1; i < records.length; i++) expect(records[i]?.prev_hash).toBe(records[i - 1]?.hash);
    await log.close();
    expect(verifyAuditLog(dir)).toMatchObject({ ok: true, records: 100, unanchored: 0 });
  });

  it('AUD-03 a batch that cannot be written rejects every event in it; the log stays usable', async () => {
    const dir = scratch();
    const log = openAuditLog({ stateDir: dir, writerThread: script });
    cleanups.push(() => log.close());
    // Past the handover (the thread takes over within a few hundred milliseconds).
    for (let i = 0; i < 100; i++) {
      await log.append(egressEvent(run, 0));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const db = new Database(join(dir, DB_FILE));
    db.exec(
      `CREATE TRIGGER test_fault BEFORE INSERT ON events WHEN NEW.json LIKE '%h13.example.com%' BEGIN SELECT RAISE(ABORT, 'injected'); END;`,
    );
    const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => log.append(egressEvent(run, i))));
    // h13's transaction failed as a whole: none of its events is acknowledged.
    const failed = settled.filter((s) => s.status === 'rejected');
    expect(settled[13]?.status).toBe('rejected');
    for (const f of failed) expect(f.reason).toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    db.exec('DROP TRIGGER test_fault');
    db.close();
    const later = await log.append(egressEvent(run, 99));
    expect(later.seq).toBe(100 + settled.length - failed.length + 1);
  });

  it('AUD-03 a writer thread that dies fails what is pending and everything after it', async () => {
    const dir = scratch();
    const dying = join(dir, '..', 'dying-writer.cjs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(dying, "require('node:worker_threads').parentPort.on('message', () => process.exit(3));\n");
    const log = new AuditLog(new ThreadWriter(dying, { stateDir: dir }));
    await expect(log.append(egressEvent(run, 1))).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    await expect(log.append(egressEvent(run, 2))).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    await log.close();
  });

  it('refuses a missing writer script before anything is appended', () => {
    const dir = scratch();
    expect(() => openAuditLog({ stateDir: dir, writerThread: join(dir, '..', 'missing.cjs') })).toThrow(
      expect.objectContaining({ code: 'INTERNAL' }),
    );
  });
});
