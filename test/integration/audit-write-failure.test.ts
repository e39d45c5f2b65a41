/**
 * AUD-03 when the audit log opens but a write fails: an injected SQLite trigger makes inserting
 * one type of record fail (SQLITE_CONSTRAINT_TRIGGER), as a full disk or an I/O error would,
 * while the log itself opens and every other record is written. Each test uses a state dir of its
 * own, so the fault reaches no other suite.
 *
 *   - `warden run`: the command never starts unless `run.started` is durable;
 *   - the MCP gateway: a tool call whose final record cannot be written is not answered (the
 *     agent gets -32005 instead of the server's result), and every later call is refused, even
 *     once the log could be written again.
 */
import { chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { availableModes, gatewayStdioCommand, runShell, TEST_USER, userIds, type Mode } from '../helpers/warden.js';
import { fixtureReadable, Scene } from '../gateway/scene.js';

/** The JSON-RPC code the gateway answers when the audit log cannot record a call (src/gateway/errors.ts). */
const AUDIT_UNAVAILABLE = -32005;

/** A fresh state dir for `mode` (0700, owned by the user warden runs as), with its audit log created. */
function privateStateDir(mode: Mode, tag: string): string {
  const dir = `/var/lib/warden-test-${tag}-${process.pid}-${Date.now().toString(36)}`;
  mkdirSync(dir, { mode: 0o700 });
  const user = mode === 'user' ? userIds(TEST_USER) : null;
  if (user !== null) chownSync(dir, user.uid, user.gid);
  return dir;
}

/** Makes every insert of a record of `type` fail inside SQLite, as an I/O error would. */
function failWritesOf(stateDir: string, type: string): void {
  const db = new Database(join(stateDir, 'audit.db'));
  db.exec(
    `CREATE TRIGGER test_fault BEFORE INSERT ON events WHEN NEW.type = '${type}' BEGIN SELECT RAISE(ABORT, 'injected write fault'); END;`,
  );
  db.close();
}

function clearFault(stateDir: string): void {
  const db = new Database(join(stateDir, 'audit.db'));
  db.exec('DROP TRIGGER IF EXISTS test_fault');
  db.close();
}

describe.each(availableModes())('AUD-03 audit writes that fail, warden as %s', (mode: Mode) => {
  let scene: Scene;
  let stateDir = '';
  beforeEach(() => {
    scene = new Scene(mode);
    stateDir = privateStateDir(mode, 'aud03w');
  });
  afterEach(() => {
    scene.remove();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('AUD-03 warden run starts nothing when run.started cannot be written (the log opens, the write fails)', async () => {
    const env = { WARDEN_STATE_DIR: stateDir };
    // Control: the same command runs with this state dir (and creates its audit log).
    expect((await runShell(mode, scene.workspace, 'touch control.marker', [], { env })).code).toBe(0);
    expect(existsSync(join(scene.workspace, 'control.marker'))).toBe(true);
    failWritesOf(stateDir, 'run.started');
    const result = await runShell(mode, scene.workspace, 'touch ran.marker', [], { env });
    expect(result.code).toBe(125);
    expect(result.stderr).toMatch(/AUDIT_UNAVAILABLE/);
    expect(existsSync(join(scene.workspace, 'ran.marker'))).toBe(false);
  });

  it('AUD-03 a tool call whose record cannot be written is not answered, and later calls are refused', async () => {
    if (!fixtureReadable(mode)) return expect.fail('the fixture server is not readable by the sandbox user');
    scene.spec('fix', { tools: [{ name: 'echo' }] });
    scene.configure(['fix'], { allow: [{ server: 'fix', tools: ['echo'] }] });
    const agent = `aud03-gw-${process.pid}-${Date.now().toString(36)}`;
    const params = gatewayStdioCommand(mode, {
      workspace: scene.workspace,
      config: scene.config,
      agent,
      env: { WARDEN_STATE_DIR: stateDir },
    });
    const client = new Client({ name: 'aud03', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ ...params, stderr: 'pipe' }));
    try {
      // Control: a call is answered while the log can be written.
      const ok = await client.callTool({ name: 'fix__echo', arguments: { text: 'first' } });
      expect(JSON.stringify(ok.content)).toContain('echo ran with');

      failWritesOf(stateDir, 'mcp.call');
      const withheld = await client.callTool({ name: 'fix__echo', arguments: { text: 'second' } }).then(
        () => null,
        (error: unknown) => error as { code: number },
      );
      expect(withheld?.code).toBe(AUDIT_UNAVAILABLE);
      // The server did run the call; its answer never reached the agent.
      expect(scene.upstreamCalls('fix').map(([, args]) => args?.text)).toEqual(['first', 'second']);

      // Even once the log could be written again, this gateway refuses: it cannot prove what it missed.
      clearFault(stateDir);
      const later = await client.callTool({ name: 'fix__echo', arguments: { text: 'third' } }).then(
        () => null,
        (error: unknown) => error as { code: number },
      );
      expect(later?.code).toBe(AUDIT_UNAVAILABLE);
      expect(scene.upstreamCalls('fix').map(([, args]) => args?.text)).toEqual(['first', 'second']);
    } finally {
      await client.close();
    }
  });
});
