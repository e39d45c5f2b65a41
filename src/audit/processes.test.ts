// AUD-04 and cross-process concurrency, with real child processes running the bundled log.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_FILE } from './schema.js';
import { bundleChild, newRunId, tempDir } from '../../test/kits/audit.js';
import { openAuditLog } from './log.js';
import { verifyAuditLog } from './verify.js';

let work: { dir: string; cleanup: () => void };
let child: string;

beforeAll(async () => {
  work = tempDir('warden-audit-proc-');
  child = await bundleChild(work.dir);
}, 60_000);
afterAll(() => work.cleanup());

interface Child {
  readonly proc: ChildProcess;
  readonly seqs: number[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  /** Resolves once `n` seqs were acknowledged (or the child exited first). */
  waitFor(n: number): Promise<void>;
}

function startChild(stateDir: string, count: number, burst: number, agent: string): Child {
  const proc = spawn(process.execPath, [child, stateDir, String(count), String(burst), newRunId(), agent], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const seqs: number[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let stderr = '';
  let buffered = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (/^\d+$/.test(line)) seqs.push(Number(line));
    for (const w of waiters.splice(0)) {
      if (seqs.length >= w.n) w.resolve();
      else waiters.push(w);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    proc.on('close', (code, signal) => {
      for (const w of waiters.splice(0)) w.resolve();
      resolve({ code, signal, stderr });
    });
  });
  return {
    proc,
    seqs,
    exited,
    waitFor: (n) =>
      seqs.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
  };
}

function storedSeqs(stateDir: string): Set<number> {
  const db = new Database(join(stateDir, DB_FILE), { readonly: true });
  try {
    return new Set(db.prepare('SELECT seq FROM events').pluck().all() as number[]);
  } finally {
    db.close();
  }
}

describe('audit log across processes', () => {
  it('AUD-04 kill -9 mid-stream loses no acknowledged event and the chain still verifies', async () => {
    const stateDir = join(work.dir, 'crash');
    let acknowledged = 0;
    for (let round = 0; round < 6; round++) {
      // Alternate single appends and bursts, and kill at different depths.
      const c = startChild(stateDir, 100_000, round % 2 === 0 ? 1 : 25, `crash-${round}`);
      await c.waitFor(40 + round * 37);
      c.proc.kill('SIGKILL');
      const { signal } = await c.exited;
      expect(signal).toBe('SIGKILL');
      const stored = storedSeqs(stateDir);
      const lost = c.seqs.filter((s) => !stored.has(s));
      expect(lost).toEqual([]);
      acknowledged += c.seqs.length;
      const result = verifyAuditLog(stateDir);
      expect(result).toMatchObject({ ok: true });
      // The head trails by at most the anchor interval: it moved during this child's run (the
      // first anchor follows the first commit at once), and only the newest records, written
      // after the last anchor, are unanchored.
      if (result.ok) expect(result.head.seq).toBeGreaterThanOrEqual(c.seqs[0] ?? 0);
      // The next writer anchors what the killed one left.
      await openAuditLog({ stateDir }).close();
      expect(verifyAuditLog(stateDir)).toMatchObject({ ok: true, unanchored: 0 });
    }
    expect(acknowledged).toBeGreaterThan(0);
  }, 120_000);

  it('concurrent writers in several processes build one linear chain without duplicates or gaps', async () => {
    const stateDir = join(work.dir, 'concurrent');
    const perChild = 600;
    const children = [
      startChild(stateDir, perChild, 1, 'w1'),
      startChild(stateDir, perChild, 10, 'w2'),
      startChild(stateDir, perChild, 50, 'w3'),
      startChild(stateDir, perChild, 3, 'w4'),
    ];
    const t0 = performance.now();
    const exits = await Promise.all(children.map((c) => c.exited));
    const took = performance.now() - t0;
    for (const e of exits) expect(e).toMatchObject({ code: 0, stderr: '' });
    const all = children.flatMap((c) => c.seqs);
    const total = perChild * children.length;
    expect(all.length).toBe(total);
    expect(new Set(all).size).toBe(total);
    expect([...all].sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    // Each child saw its own seqs increase.
    for (const c of children) expect(c.seqs).toEqual([...c.seqs].sort((x, y) => x - y));
    expect(verifyAuditLog(stateDir)).toMatchObject({ ok: true, records: total, lastSeq: total, unanchored: 0 });
    console.log(
      `[audit] ${children.length} processes appended ${total} events concurrently in ${took.toFixed(0)} ms (incl. process start)`,
    );
  }, 120_000);
});
