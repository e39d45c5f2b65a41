/**
 * The audit log as a user meets it through the CLI: every decision recorded before it takes
 * effect, tampering detected by `warden audit verify`, and failure to record stops the run.
 */
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditEvents,
  availableModes,
  makeWorkspace,
  modeUser,
  removeWorkspace,
  runShell,
  testStateDir,
  userIds,
  warden,
  type AuditEvent,
  type Mode,
} from '../helpers/warden.js';

let server: Server;
let port = 0;
beforeAll(async () => {
  server = createServer((req, res) => res.end(`ok ${req.url ?? ''}\n`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe.each(availableModes())('audit log as %s', (mode: Mode) => {
  it('records a run as an ordered decision chain', async () => {
    const workspace = makeWorkspace(mode);
    try {
      const result = await runShell(
        mode,
        workspace,
        `curl -s -o /dev/null http://127.0.0.2:${port}/a; curl -s -o /dev/null https://denied.example.com/; true`,
        ['--allow-domain', `127.0.0.2:${port}`],
      );
      expect(result.code, result.stderr).toBe(0);
      const runId = result.summary?.run_id ?? '';
      const events = await auditEvents(mode, workspace, runId);
      expect(events.map((e) => e.type)).toEqual([
        'run.started',
        'sandbox.created',
        'egress.allowed',
        'egress.denied',
        'sandbox.destroyed',
        'run.ended',
      ]);
      expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => a - b));
      // Who started it: the user warden ran as (the mode's), by name.
      const user = modeUser(mode) ?? 'root';
      expect(events[0]?.data['started_by']).toMatchObject({ uid: userIds(user)?.uid ?? 0, user });
      expect(events[2]?.data).toMatchObject({ host: '127.0.0.2', port, protocol: 'http' });
      expect(events[3]?.data).toMatchObject({ host: 'denied.example.com', port: 443, reason: 'not_allowed' });
      const text = await warden(mode, ['audit', 'show', runId], { cwd: workspace });
      expect(text.stdout).toContain('DENY');
      expect(text.stdout).toContain('denied.example.com:443');
    } finally {
      removeWorkspace(workspace);
    }
  });

  it('AUD-04 kill -9 of warden mid-run loses no acknowledged event and the chain still verifies', async () => {
    const workspace = makeWorkspace(mode);
    const stateDir = join(testStateDir(mode), '..', `aud04-${mode}-${process.pid}`);
    try {
      // Every response the agent saw was sent only after its egress event was durable; the agent
      // logs each one, so after the kill each logged request must have its event.
      const script = `i=0; while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.2:${port}/r$i); echo "allowed $i $code" >> seen.log
        code=$(curl -s -o /dev/null -w '%{http_code}' http://blocked-$i.example.com/); echo "denied $i $code" >> seen.log
        i=$((i + 1)); done`;
      let wardenPid = -1;
      const running = runShell(mode, workspace, script, ['--allow-domain', `127.0.0.2:${port}`], {
        env: { WARDEN_STATE_DIR: stateDir },
        onSpawn: (pid) => (wardenPid = pid),
      });
      const deadline = Date.now() + 20_000;
      while (
        Date.now() < deadline &&
        (!existsSync(join(workspace, 'seen.log')) ||
          readFileSync(join(workspace, 'seen.log'), 'utf8').split('\n').length < 40)
      ) {
        await new Promise((r) => setTimeout(r, 50));
      }
      process.kill(wardenPid, 'SIGKILL');
      const result = await running;
      expect(result.signal).toBe('SIGKILL');

      const seen = readFileSync(join(workspace, 'seen.log'), 'utf8').trim().split('\n');
      const allowedSeen = seen
        .filter((l) => / 200$/.test(l) && l.startsWith('allowed'))
        .map((l) => `/r${l.split(' ')[1] ?? ''}`);
      const deniedSeen = seen
        .filter((l) => / 403$/.test(l) && l.startsWith('denied'))
        .map((l) => `blocked-${l.split(' ')[1] ?? ''}.example.com`);
      expect(allowedSeen.length).toBeGreaterThan(10);
      expect(deniedSeen.length).toBeGreaterThan(10);

      const db = new Database(join(stateDir, 'audit.db'), { readonly: true });
      const rows = db
        .prepare("SELECT json FROM events WHERE type IN ('egress.allowed','egress.denied')")
        .pluck()
        .all() as string[];
      db.close();
      const recordedDenied = new Set(
        rows
          .map((r) => JSON.parse(r) as AuditEvent)
          .filter((e) => e.type === 'egress.denied')
          .map((e) => String(e.data.host)),
      );
      const recordedAllowedCount = rows
        .map((r) => JSON.parse(r) as AuditEvent)
        .filter((e) => e.type === 'egress.allowed').length;
      for (const host of deniedSeen)
        expect(recordedDenied.has(host), `denied ${host} was answered but not recorded`).toBe(true);
      expect(recordedAllowedCount).toBeGreaterThanOrEqual(allowedSeen.length);

      const verify = await warden(mode, ['audit', 'verify'], { cwd: workspace, env: { WARDEN_STATE_DIR: stateDir } });
      expect(verify.code, verify.stdout).toBe(0);
      expect(verify.stdout).toMatch(/audit log ok/);
    } finally {
      removeWorkspace(workspace);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('audit tampering and failure (as root)', () => {
  const mode: Mode = 'root';

  it('AUD-02 warden audit verify names the first edited record and exits 3', async () => {
    const workspace = makeWorkspace(mode);
    const stateDir = `/var/lib/warden-test-aud02-${process.pid}`;
    try {
      for (let i = 0; i < 2; i++) {
        const run = await runShell(mode, workspace, 'true', [], { env: { WARDEN_STATE_DIR: stateDir } });
        expect(run.code).toBe(0);
      }
      expect(
        (await warden(mode, ['audit', 'verify'], { cwd: workspace, env: { WARDEN_STATE_DIR: stateDir } })).code,
      ).toBe(0);
      // Edit one record as an attacker with write access to the database would.
      const db = new Database(join(stateDir, 'audit.db'));
      for (const trigger of db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .pluck()
        .all() as string[])
        db.exec(`DROP TRIGGER ${trigger}`);
      const target = db.prepare("SELECT min(seq) FROM events WHERE type = 'run.ended'").pluck().get() as number;
      const changed = db
        .prepare('UPDATE events SET json = replace(json, \'"exit_code":0\', \'"exit_code":1\') WHERE seq = ?')
        .run(target);
      db.close();
      expect(changed.changes).toBe(1);
      const verify = await warden(mode, ['audit', 'verify'], { cwd: workspace, env: { WARDEN_STATE_DIR: stateDir } });
      expect(verify.code).toBe(3);
      expect(verify.stdout).toMatch(new RegExp(`FAILED verification: hash_mismatch at record #${target}\\b`));
      const json = await warden(mode, ['audit', 'verify', '--json'], {
        cwd: workspace,
        env: { WARDEN_STATE_DIR: stateDir },
      });
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, firstBadSeq: target, problem: 'hash_mismatch' });
    } finally {
      removeWorkspace(workspace);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('AUD-02 truncating the newest records is detected through the signed head', async () => {
    const workspace = makeWorkspace(mode);
    const stateDir = `/var/lib/warden-test-aud02t-${process.pid}`;
    try {
      for (let i = 0; i < 2; i++)
        expect((await runShell(mode, workspace, 'true', [], { env: { WARDEN_STATE_DIR: stateDir } })).code).toBe(0);
      const db = new Database(join(stateDir, 'audit.db'));
      for (const trigger of db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .pluck()
        .all() as string[])
        db.exec(`DROP TRIGGER ${trigger}`);
      const last = db.prepare('SELECT max(seq) FROM events').pluck().get() as number;
      db.prepare('DELETE FROM events WHERE seq > ?').run(last - 3);
      db.close();
      const verify = await warden(mode, ['audit', 'verify'], { cwd: workspace, env: { WARDEN_STATE_DIR: stateDir } });
      expect(verify.code).toBe(3);
      expect(verify.stdout).toMatch(/truncated/);
    } finally {
      removeWorkspace(workspace);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('AUD-03 an audit store that cannot be written stops the run before the command starts', async () => {
    const workspace = makeWorkspace(mode);
    const stateDir = `/var/lib/warden-test-aud03-${process.pid}`;
    mkdirSync(stateDir, { mode: 0o700 });
    try {
      expect((await runShell(mode, workspace, 'true', [], { env: { WARDEN_STATE_DIR: stateDir } })).code).toBe(0);
      // Immutable files cannot be written even by root (ext4 attribute): the store is unwritable.
      for (const name of readdirSync(stateDir)) spawnSync('chattr', ['+i', join(stateDir, name)]);
      spawnSync('chattr', ['+i', stateDir]);
      const result = await runShell(mode, workspace, 'touch ran.marker', [], { env: { WARDEN_STATE_DIR: stateDir } });
      expect(result.code).toBe(125);
      expect(result.stderr).toMatch(/AUDIT_UNAVAILABLE|audit/i);
      expect(existsSync(join(workspace, 'ran.marker'))).toBe(false);
    } finally {
      spawnSync('chattr', ['-i', stateDir]);
      for (const name of readdirSync(stateDir)) spawnSync('chattr', ['-i', join(stateDir, name)]);
      removeWorkspace(workspace);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
