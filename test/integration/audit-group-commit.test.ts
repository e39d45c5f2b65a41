/**
 * The gateway's audit writer under load: records of concurrent calls are committed together in
 * a worker thread (group commit), and each call is still answered only once its record is
 * durable. Through the real CLI (`warden gateway --stdio`), a real fixture server in its sandbox
 * and the SDK's client; each test has a state dir of its own, so `warden audit verify` checks
 * exactly what these calls wrote.
 *
 *   - AUD-01/AUD-02: after many concurrent calls the chain is one linear chain that verifies, with
 *     exactly one record per call;
 *   - AUD-03: a record that cannot be written means that call — and every call that shared its
 *     transaction — is answered with the audit error, never with the result;
 *   - AUD-04: kill -9 of the gateway mid-load leaves a log that verifies and holds a record of
 *     every call the client saw answered.
 */
import { chownSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { availableModes, gatewayStdioCommand, TEST_USER, userIds, warden, type Mode } from '../helpers/warden.js';
import { fixtureReadable, Scene } from '../gateway/scene.js';

/** The JSON-RPC code the gateway answers when the audit log cannot record a call (src/gateway/errors.ts). */
const AUDIT_UNAVAILABLE = -32005;

/** A fresh state dir for `mode` (0700, owned by the user warden runs as). */
function privateStateDir(mode: Mode, tag: string): string {
  const dir = `/var/lib/warden-test-${tag}-${process.pid}-${Date.now().toString(36)}`;
  mkdirSync(dir, { mode: 0o700 });
  const user = mode === 'user' ? userIds(TEST_USER) : null;
  if (user !== null) chownSync(dir, user.uid, user.gid);
  return dir;
}

/** The `text` argument of every mcp.call record of `tool` in the log, with its outcome. */
function recordedCalls(stateDir: string, tool: string): Map<string, string[]> {
  const db = new Database(join(stateDir, 'audit.db'), { readonly: true });
  try {
    const rows = db.prepare("SELECT json FROM events WHERE type = 'mcp.call' ORDER BY seq").pluck().all() as string[];
    const calls = new Map<string, string[]>();
    for (const row of rows) {
      const data = (JSON.parse(row) as { data: { name: string; outcome: string; arguments: { text?: unknown } } }).data;
      if (data.name !== tool) continue;
      const text = String(data.arguments.text);
      calls.set(text, [...(calls.get(text) ?? []), data.outcome]);
    }
    return calls;
  } finally {
    db.close();
  }
}

/** The process that runs the gateway: the transport's own child, or runuser's child as the test user. */
function gatewayPid(mode: Mode, transportPid: number): number {
  if (mode === 'root') return transportPid;
  const children = readFileSync(`/proc/${transportPid}/task/${transportPid}/children`, 'utf8').trim().split(/\s+/);
  const pid = Number(children[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`runuser ${transportPid} has no child`);
  return pid;
}

/** Runs `calls` echo calls with `inFlight` outstanding at a time; resolves with what each call got. */
async function load(
  client: Client,
  texts: readonly string[],
  inFlight: number,
  onAnswer: (text: string) => void = () => undefined,
): Promise<Map<string, { ok: true } | { ok: false; code: number | undefined }>> {
  const outcomes = new Map<string, { ok: true } | { ok: false; code: number | undefined }>();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < texts.length; i = next++) {
      const text = texts[i] as string;
      try {
        const result = await client.callTool({ name: 'fix__echo', arguments: { text } });
        if (!JSON.stringify(result.content).includes(`"text\\":\\"${text}\\"`))
          throw new Error(`call ${text} answered ${JSON.stringify(result).slice(0, 200)}`);
        outcomes.set(text, { ok: true });
        onAnswer(text);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        outcomes.set(text, { ok: false, code: typeof code === 'number' ? code : undefined });
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return outcomes;
}

describe.each(availableModes())('audit group commit through the gateway, warden as %s', (mode: Mode) => {
  let scene: Scene;
  let stateDir = '';
  beforeEach(() => {
    scene = new Scene(mode);
    stateDir = privateStateDir(mode, 'aud-gc');
    scene.spec('fix', { tools: [{ name: 'echo' }] });
    scene.configure(['fix'], { allow: [{ server: 'fix', tools: ['echo'] }] });
  });
  afterEach(() => {
    scene.remove();
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function connect(tag: string): Promise<{ client: Client; transport: StdioClientTransport }> {
    const agent = `${tag}-${process.pid}-${Date.now().toString(36)}`;
    const params = gatewayStdioCommand(mode, {
      workspace: scene.workspace,
      config: scene.config,
      agent,
      env: { WARDEN_STATE_DIR: stateDir },
    });
    const transport = new StdioClientTransport({ ...params, stderr: 'pipe' });
    const client = new Client({ name: tag, version: '1.0.0' });
    await client.connect(transport);
    return { client, transport };
  }

  it('AUD-01 AUD-02 300 calls, 32 in flight: one record each, and the group-committed chain verifies', async () => {
    if (!fixtureReadable(mode)) return expect.fail('the fixture server is not readable by the sandbox user');
    const { client } = await connect('aud-gc');
    const texts = Array.from({ length: 300 }, (_, i) => `call-${i}`);
    let outcomes;
    try {
      outcomes = await load(client, texts, 32);
    } finally {
      await client.close();
    }
    expect([...outcomes.values()].filter((o) => !o.ok)).toEqual([]);
    const recorded = recordedCalls(stateDir, 'fix__echo');
    for (const text of texts) expect(recorded.get(text), text).toEqual(['ok']);
    expect(recorded.size).toBe(texts.length);
    const verify = await warden(mode, ['audit', 'verify'], {
      cwd: scene.workspace,
      env: { WARDEN_STATE_DIR: stateDir },
    });
    expect(verify.code, `${verify.stdout}\n${verify.stderr}`).toBe(0);
    expect(verify.stdout).toMatch(/audit log ok/);
  });

  it('AUD-03 under concurrent load a call whose record cannot be written is answered with the audit error, and no call is answered unrecorded', async () => {
    if (!fixtureReadable(mode)) return expect.fail('the fixture server is not readable by the sandbox user');
    const { client } = await connect('aud-gc-fail');
    try {
      // Control: the log works.
      const first = await load(client, ['warm-0', 'warm-1'], 2);
      expect([...first.values()].every((o) => o.ok)).toBe(true);
      // From now on the record of the call with text "poison" cannot be written (as an I/O error
      // on its transaction would): its whole transaction is rolled back.
      const db = new Database(join(stateDir, 'audit.db'));
      db.exec(
        `CREATE TRIGGER test_fault BEFORE INSERT ON events WHEN NEW.json LIKE '%"text":"poison"%' BEGIN SELECT RAISE(ABORT, 'injected write fault'); END;`,
      );
      db.close();
      const texts = Array.from({ length: 60 }, (_, i) => (i === 20 ? 'poison' : `c-${i}`));
      const outcomes = await load(client, texts, 16);
      expect(outcomes.get('poison')).toEqual({ ok: false, code: AUDIT_UNAVAILABLE });
      const recorded = recordedCalls(stateDir, 'fix__echo');
      expect(recorded.has('poison')).toBe(false);
      for (const [text, outcome] of outcomes) {
        if (outcome.ok) expect(recorded.get(text), `${text} was answered but not recorded`).toEqual(['ok']);
        else expect(outcome.code, text).toBe(AUDIT_UNAVAILABLE);
      }
    } finally {
      await client.close();
    }
  });

  it('AUD-04 kill -9 of the gateway mid-load: the log verifies and records every call the client saw answered', async () => {
    if (!fixtureReadable(mode)) return expect.fail('the fixture server is not readable by the sandbox user');
    const { client, transport } = await connect('aud-gc-kill');
    const pid = gatewayPid(mode, transport.pid ?? -1);
    const answered: string[] = [];
    let killed = false;
    const texts = Array.from({ length: 5000 }, (_, i) => `k-${i}`);
    const running = load(client, texts, 32, (text) => {
      answered.push(text);
      if (!killed && answered.length >= 200) {
        killed = true;
        process.kill(pid, 'SIGKILL');
      }
    });
    const outcomes = await running;
    await client.close().catch(() => undefined);
    expect(killed).toBe(true);
    // Calls were still in flight when it died: some were not answered.
    expect([...outcomes.values()].some((o) => !o.ok)).toBe(true);
    const recorded = recordedCalls(stateDir, 'fix__echo');
    for (const text of answered) expect(recorded.get(text), `${text} was answered but not recorded`).toEqual(['ok']);
    const verify = await warden(mode, ['audit', 'verify'], {
      cwd: scene.workspace,
      env: { WARDEN_STATE_DIR: stateDir },
    });
    expect(verify.code, `${verify.stdout}\n${verify.stderr}`).toBe(0);
    expect(verify.stdout).toMatch(/audit log ok/);
  });
});
