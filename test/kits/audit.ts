// Shared by the audit unit tests (src/audit/*.test.ts); kept out of src/ so it never ships.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type { AuditEventInput } from '../../src/core/events.js';
import { newRunId } from '../../src/core/ids.js';
import { DB_FILE } from '../../src/audit/schema.js';

/** A fresh private temp dir and its cleanup. */
export function tempDir(prefix = 'warden-audit-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An egress.allowed event for `runId`; `i` varies the host so records differ. */
export function egressEvent(runId: string, i: number, agent = 'test-agent'): AuditEventInput {
  return {
    type: 'egress.allowed',
    run_id: runId,
    agent: { name: agent, run_id: runId },
    data: {
      protocol: 'connect',
      host: `h${i}.example.com`,
      port: 443,
      address: '93.184.216.34',
      rule: '*.example.com',
    },
  };
}

/** A run.started event. */
export function runStarted(runId: string, agent = 'test-agent', profile = 'coding', ts?: string): AuditEventInput {
  return {
    type: 'run.started',
    run_id: runId,
    agent: { name: agent, run_id: runId },
    ...(ts === undefined ? {} : { ts }),
    data: {
      command: ['node', 'agent.js'],
      profile,
      workspace: '/work/ws',
      cwd: '/work/ws',
      network_allow: ['*.example.com'],
      limits: { memory_bytes: 1 << 30, pids: 256, cpu: 1, timeout_ms: 60_000 },
      warden_uid: 0,
    },
  };
}

/** A run.ended event. */
export function runEnded(runId: string, exitCode: number, agent = 'test-agent'): AuditEventInput {
  return {
    type: 'run.ended',
    run_id: runId,
    agent: { name: agent, run_id: runId },
    data: {
      reason: 'exited',
      exit_code: exitCode,
      signal: null,
      duration_ms: 1234,
      egress: { allowed: 5, denied: 2 },
      limits_hit: [],
    },
  };
}

export { newRunId };

/**
 * Opens the db behind warden's back, as an attacker with file access would, with the
 * append-only triggers dropped (they guard against bugs, not attackers).
 */
export function tamper(stateDir: string, edit: (db: Database.Database) => void): void {
  const db = new Database(join(stateDir, DB_FILE));
  try {
    db.exec('DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;');
    edit(db);
  } finally {
    db.close();
  }
}

/**
 * Source of a child process that appends `count` events in bursts of `burst` concurrent appends
 * and prints each acknowledged seq on its own line (stdout to a pipe is synchronous on Linux, so
 * a printed seq was acknowledged before the next line is produced).
 */
const CHILD_SOURCE = `
import { openAuditLog } from '../../src/audit/index.js';
const [stateDir, countArg, burstArg, runId, agent] = process.argv.slice(2);
const count = Number(countArg);
const burst = Number(burstArg);
const log = openAuditLog({ stateDir, busyTimeoutMs: 30000 });
process.stdout.write('ready\\n');
for (let i = 0; i < count; i += burst) {
  const n = Math.min(burst, count - i);
  const pending = [];
  for (let k = 0; k < n; k++) {
    pending.push(
      log.append({
        type: 'egress.allowed',
        run_id: runId,
        agent: { name: agent, run_id: runId },
        data: { protocol: 'http', host: 'h' + (i + k) + '.example.com', port: 80, address: '10.0.0.1', rule: '*.example.com' },
      }).then((r) => { process.stdout.write(r.seq + '\\n'); }),
    );
  }
  await Promise.all(pending);
}
await log.close();
process.stdout.write('done\\n');
`;

/**
 * Bundles the child appender with esbuild into `outDir/child.mjs`. better-sqlite3 stays external
 * but is pinned to its absolute path, because ESM resolves bare names from the importing file's
 * directory and the bundle lives in a temp dir outside the repo.
 */
export async function bundleChild(outDir: string): Promise<string> {
  const { build } = await import('esbuild');
  const require = createRequire(import.meta.url);
  const sqlitePath = require.resolve('better-sqlite3');
  const outfile = join(outDir, 'child.mjs');
  await build({
    stdin: {
      contents: CHILD_SOURCE,
      resolveDir: fileURLToPath(new URL('.', import.meta.url)),
      loader: 'ts',
      sourcefile: 'audit-child.ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'silent',
    // sqlite.ts loads better-sqlite3 with createRequire(import.meta.url); the child lives in a
    // temp dir, so resolve from the real package instead.
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(sqlitePath).href) },
    plugins: [
      {
        name: 'pin-better-sqlite3',
        setup(b) {
          b.onResolve({ filter: /^better-sqlite3$/ }, () => ({ path: sqlitePath, external: true }));
        },
      },
    ],
  });
  return outfile;
}
