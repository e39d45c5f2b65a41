/**
 * Threat cases of the MCP gateway, each named by its id in ../shared/threat-cases.md:
 *
 *   GW-02 a newly added or restarted upstream server appears with nothing granted by default;
 *         tools an upstream adds at runtime are granted only by a grant that names them (or a
 *         glob that matches them, as documented);
 *   GW-09 tool annotations (readOnlyHint, destructiveHint, title, …) are untrusted hints, never grants;
 *   GW-10 a protocol-version downgrade (older, unknown, changed or missing versions, over stdio and
 *         Streamable HTTP) skips no check: grants, argument validation, one audit record per call.
 *
 * Driven as a user meets warden: the built CLI (`warden gateway --stdio`, `warden run`), as root
 * and as an ordinary user, with a small SDK-built MCP server (fixtures/spec-server.mjs) in its own
 * sandbox as the upstream, the MCP SDK's real client, and the audit log read back with
 * `warden audit`. The fixture logs every call that reaches it, so "refused" is checked on both
 * sides: the agent gets the error, and the upstream never saw the call.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { basename, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, type StdioServerParameters } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  InitializeResultSchema,
  ToolListChangedNotificationSchema,
  type JSONRPCMessage,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  agentAuditEvents,
  auditEvents,
  availableModes,
  giveToSandbox,
  testStateDir,
  TEST_USER,
  userIds,
  warden,
  wardenBin,
  type AuditEvent,
  type Mode,
  type WardenResult,
} from '../helpers/warden.js';
import {
  LATEST,
  Scene,
  SPEC_SERVER,
  fixtureReadable,
  type McpSection,
  type ServerSpec,
  type ToolSpec,
  invalidArguments,
  invalidArgumentsAnswer,
} from './scene.js';

// ---------------------------------------------------------------------------------------------
// The agent side: `warden gateway --stdio` through the SDK's real client

/**
 * The SDK's stdio client transport, except that `initialize` asks for `requested` instead of the
 * SDK's newest version (the SDK client has no option for that), and the version the server
 * answered is kept.
 */
class VersionedStdioTransport extends StdioClientTransport {
  negotiated: string | null = null;

  constructor(
    params: StdioServerParameters,
    private readonly requested: string | null,
  ) {
    super(params);
  }

  override send(message: JSONRPCMessage): Promise<void> {
    if (this.requested !== null && 'method' in message && message.method === 'initialize' && 'id' in message) {
      return super.send({ ...message, params: { ...message.params, protocolVersion: this.requested } });
    }
    return super.send(message);
  }

  setProtocolVersion(version: string): void {
    this.negotiated = version;
  }
}

interface Agent {
  readonly client: Client;
  readonly transport: VersionedStdioTransport;
  /** The agent name the gateway records, unique per connection (finds the run in the audit log). */
  readonly name: string;
  /** Resolves at the next notifications/tools/list_changed the gateway sends. */
  nextListChange(timeoutMs?: number): Promise<void>;
}

function gatewayParams(scene: Scene, agentName: string): StdioServerParameters {
  const user = scene.mode === 'user' ? userIds(TEST_USER) : null;
  const args = [
    wardenBin(scene.mode),
    '--config',
    scene.config,
    'gateway',
    '--stdio',
    '--workspace',
    scene.workspace,
    '--agent',
    agentName,
  ];
  return {
    command: user === null ? process.execPath : 'runuser',
    args: user === null ? args : ['-u', TEST_USER, '--', process.execPath, ...args],
    cwd: scene.workspace,
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
      HOME: user?.home ?? '/root',
      WARDEN_STATE_DIR: testStateDir(scene.mode),
    },
    stderr: 'pipe',
  };
}

let agentCounter = 0;
function agentName(): string {
  return `gw-threats-${process.pid}-${++agentCounter}-${Date.now().toString(36)}`;
}

/** Starts `warden gateway --stdio` for the scene and connects the SDK client (asking for `protocolVersion`, if given). */
async function connect(scene: Scene, protocolVersion: string | null = null): Promise<Agent> {
  const name = agentName();
  const transport = new VersionedStdioTransport(gatewayParams(scene, name), protocolVersion);
  const client = new Client({ name: 'gateway-threats', version: '1.0.0' });
  let changes = 0;
  const waiting: (() => void)[] = [];
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    changes++;
    for (const resolve of waiting.splice(0)) resolve();
  });
  await client.connect(transport);
  return {
    client,
    transport,
    name,
    nextListChange: (timeoutMs = 20_000) => {
      const before = changes;
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no tools/list_changed within ${timeoutMs} ms`)), timeoutMs);
        waiting.push(() => {
          if (changes > before) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    },
  };
}

/** The JSON-RPC error a call was refused with; fails the test if the call succeeded. */
async function refusal(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
  } catch (error) {
    return { code: (error as { code: number }).code, message: (error as Error).message };
  }
  throw new Error('the call succeeded but should have been refused');
}

async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((t) => t.name).sort();
}

function text(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join('');
}

// ---------------------------------------------------------------------------------------------
// The audit log

/** The final record of every call, in order, as [name, decision, outcome]. */
function callRecords(events: readonly AuditEvent[]): [unknown, unknown, unknown][] {
  return events.filter((e) => e.type === 'mcp.call').map((e) => [e.data.name, e.data.decision, e.data.outcome]);
}

function serverStates(events: readonly AuditEvent[], server: string): unknown[] {
  return events.filter((e) => e.type === 'mcp.server' && e.data.server === server).map((e) => e.data.state);
}

// ---------------------------------------------------------------------------------------------
// Process control for the restart case

/** Host pids of the fixture processes started with this spec file (inside their sandboxes). */
function fixturePids(specPath: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (basename(argv[0] ?? '') === 'node' && argv[1] === SPEC_SERVER && argv[2] === specPath) pids.push(Number(entry));
  }
  return pids;
}

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------------
// Streamable HTTP: the gateway of a `warden run`, reached on its unix socket from the host

interface HttpReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** JSON-RPC messages of the body (a JSON body, or the data lines of an SSE stream). */
  readonly messages: Record<string, unknown>[];
}

function httpPost(socketPath: string, body: string, headers: Readonly<Record<string, string>>): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path: '/mcp',
        method: 'POST',
        headers: {
          host: '127.0.0.1:3129',
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
      },
      (res) => {
        let raw = '';
        res.setEncoding('utf8').on('data', (d: string) => (raw += d));
        res.on('end', () => {
          const sse = (res.headers['content-type'] ?? '').startsWith('text/event-stream');
          const messages = sse
            ? raw
                .split('\n')
                // A priming event (2025-11-25 resumability) has an id and no data.
                .filter((l) => l.startsWith('data: ') && l.slice(6).trim() !== '')
                .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>)
            : raw.trim() === ''
              ? []
              : [JSON.parse(raw) as Record<string, unknown>];
          resolve({ status: res.statusCode ?? 0, headers: res.headers, messages });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface HttpGateway {
  readonly socket: string;
  readonly token: string;
  readonly runId: string;
}

/** One MCP session on the run's endpoint; `version: null` sends no MCP-Protocol-Version header. */
class HttpSession {
  #id = 100;
  constructor(
    private readonly gw: HttpGateway,
    readonly sessionId: string,
    readonly negotiated: string,
  ) {}

  /** The session's label in the audit log. */
  get label(): string {
    return this.sessionId.slice(0, 8);
  }

  post(body: unknown, options: { version?: string | null; token?: string | null } = {}): Promise<HttpReply> {
    const headers: Record<string, string> = { 'mcp-session-id': this.sessionId };
    const version = options.version === undefined ? this.negotiated : options.version;
    if (version !== null) headers['mcp-protocol-version'] = version;
    const token = options.token === undefined ? this.gw.token : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    return httpPost(this.gw.socket, JSON.stringify(body), headers);
  }

  request(
    method: string,
    params: Record<string, unknown>,
    options: { version?: string | null; token?: string | null } = {},
  ): Promise<HttpReply> {
    return this.post({ jsonrpc: '2.0', id: ++this.#id, method, params }, options);
  }

  call(name: string, args: Record<string, unknown>, options: { version?: string | null } = {}): Promise<HttpReply> {
    return this.request('tools/call', { name, arguments: args }, options);
  }
}

function initializeBody(protocolVersion: string): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'gateway-threats', version: '1' } },
  });
}

async function openHttpSession(
  gw: HttpGateway,
  protocolVersion: string,
): Promise<{ session: HttpSession; reply: HttpReply }> {
  const reply = await httpPost(gw.socket, initializeBody(protocolVersion), { authorization: `Bearer ${gw.token}` });
  expect(reply.status, JSON.stringify(reply.messages)).toBe(200);
  const id = reply.headers['mcp-session-id'];
  if (typeof id !== 'string') throw new Error('initialize answered without an mcp-session-id');
  const negotiated = (reply.messages[0]?.result as { protocolVersion?: string } | undefined)?.protocolVersion ?? '';
  const session = new HttpSession(gw, id, negotiated);
  expect((await session.post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
  return { session, reply };
}

function rpcErrorOf(reply: HttpReply): { code: unknown; message: unknown } | null {
  const error = reply.messages[0]?.error as { code: unknown; message: unknown } | undefined;
  return error === undefined ? null : { code: error.code, message: error.message };
}

function resultOf(reply: HttpReply): Record<string, unknown> | null {
  return (reply.messages[0]?.result as Record<string, unknown> | undefined) ?? null;
}

/**
 * Runs `warden run` with an agent that hands its gateway token and run id to the test (through
 * the workspace) and waits; `use` talks to the run's gateway on its unix socket (the socket the
 * sandbox's 127.0.0.1:3129 forwards to), then the agent is told to exit.
 */
async function withRunGateway(scene: Scene, use: (gw: HttpGateway) => Promise<void>): Promise<WardenResult> {
  const runtime = join(scene.root, 'runtime');
  mkdirSync(runtime, { mode: 0o755 });
  if (scene.mode === 'user') giveToSandbox('user', runtime);
  const handoff = join(scene.workspace, '.gw-agent');
  const done = join(scene.workspace, '.gw-done');
  const script = `printf '%s\\n%s\\n' "$WARDEN_MCP_TOKEN" "$WARDEN_RUN_ID" > .gw-agent.tmp && mv .gw-agent.tmp .gw-agent; i=0; while [ ! -e .gw-done ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done`;
  const run = warden(scene.mode, ['--config', scene.config, 'run', '--', '/bin/sh', '-c', script], {
    cwd: scene.workspace,
    env: { WARDEN_RUNTIME_DIR: runtime },
    timeoutMs: 90_000,
  });
  let finished = false;
  void run.then(() => (finished = true));
  try {
    const [token, runId] = await until('the agent to start', () => {
      if (finished) throw new Error('warden run ended before the agent started');
      return existsSync(handoff) ? readFileSync(handoff, 'utf8').trim().split('\n') : undefined;
    });
    if (token === undefined || runId === undefined) throw new Error('the agent did not hand over its token and run id');
    const socket = join(runtime, runId, 'sock', 'mcp.sock');
    expect(existsSync(socket), socket).toBe(true);
    await use({ socket, token, runId });
  } finally {
    // Let the agent exit, and warden tear the run down, before the scene is removed.
    writeFileSync(done, '');
    await run;
  }
  return run;
}

// ---------------------------------------------------------------------------------------------

describe.each(availableModes())('MCP gateway threats (warden as %s)', (mode: Mode) => {
  let scene: Scene | null = null;
  const open: Client[] = [];
  afterEach(async () => {
    for (const client of open.splice(0)) await client.close().catch(() => undefined);
    scene?.remove();
    scene = null;
  });
  const newScene = (): Scene => (scene = new Scene(mode));
  const start = async (s: Scene, protocolVersion: string | null = null): Promise<Agent> => {
    const agent = await connect(s, protocolVersion);
    open.push(agent.client);
    return agent;
  };
  const stop = async (agent: Agent): Promise<void> => {
    await agent.client.close();
    open.splice(open.indexOf(agent.client), 1);
  };
  const runnable = fixtureReadable(mode);

  // ------------------------------------------------------------------------------- GW-02

  it.skipIf(!runnable)(
    'GW-02 a server added to warden.yaml between two gateway starts gets nothing by default: absent, refused, until a grant names its tools',
    async () => {
      const s = newScene();
      s.spec('alpha', { tools: [{ name: 'a_read' }, { name: 'a_write' }] });
      s.spec('beta', { tools: [{ name: 'one' }, { name: 'two' }], prompts: ['hi'] });

      // First start: only alpha exists.
      s.configure(['alpha'], { allow: [{ server: 'alpha', tools: ['a_read'] }] });
      let agent = await start(s);
      expect(await toolNames(agent.client)).toEqual(['alpha__a_read']);
      await stop(agent);

      // beta added to servers:, the profile unchanged: nothing of beta is granted, so it is not even started.
      s.configure(['alpha', 'beta'], { allow: [{ server: 'alpha', tools: ['a_read'] }] });
      agent = await start(s);
      expect(await toolNames(agent.client)).toEqual(['alpha__a_read']);
      expect(await refusal(agent.client.callTool({ name: 'beta__one', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      await stop(agent);
      let events = await agentAuditEvents(s.mode, s.workspace, agent.name);
      expect(callRecords(events)).toEqual([['beta__one', 'deny', 'unknown']]);
      expect(serverStates(events, 'beta')).toEqual([]);
      expect(s.upstreamLog('beta')).toEqual([]);

      // Granting beta's prompt starts beta, and still grants none of its tools.
      s.configure(['alpha', 'beta'], {
        allow: [
          { server: 'alpha', tools: ['a_read'] },
          { server: 'beta', prompts: ['hi'] },
        ],
      });
      agent = await start(s);
      expect(await toolNames(agent.client)).toEqual(['alpha__a_read']);
      expect((await agent.client.listPrompts()).prompts.map((p) => p.name)).toEqual(['beta__hi']);
      expect(await refusal(agent.client.callTool({ name: 'beta__one', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      expect(await refusal(agent.client.callTool({ name: 'beta__two', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      await stop(agent);
      events = await agentAuditEvents(s.mode, s.workspace, agent.name);
      expect(serverStates(events, 'beta')).toContain('started');
      expect(callRecords(events)).toEqual([
        ['beta__one', 'deny', 'denied'],
        ['beta__two', 'deny', 'denied'],
      ]);
      const denied = events.filter((e) => e.type === 'mcp.call').map((e) => [e.data.policy_ids, e.data.reason]);
      expect(denied).toEqual([
        [[], 'no policy grants call_tool on tool beta/one'],
        [[], 'no policy grants call_tool on tool beta/two'],
      ]);
      const listed = events.find((e) => e.type === 'mcp.listed' && e.data.subject === 'tool');
      expect((listed?.data.hidden as { name: string }[]).map((h) => h.name).sort()).toEqual([
        'alpha__a_write',
        'beta__one',
        'beta__two',
      ]);
      expect(s.upstreamCalls('beta')).toEqual([]);
      // `warden tools ls` says the same: beta's tools are there, and nothing grants them.
      const ls = await s.warden(['tools', 'ls', '--json', '--workspace', s.workspace]);
      expect(ls.code, ls.stderr).toBe(0);
      const grants = (JSON.parse(ls.stdout) as { name: string; granted: boolean; policyIds: string[] }[]).filter((g) =>
        g.name.startsWith('beta__'),
      );
      expect(grants.map((g) => [g.name, g.granted, g.policyIds]).sort()).toEqual([
        ['beta__one', false, []],
        ['beta__two', false, []],
      ]);

      // A grant that names beta's tool `one` grants exactly that tool.
      s.configure(['alpha', 'beta'], {
        allow: [
          { server: 'alpha', tools: ['a_read'] },
          { server: 'beta', tools: ['one'] },
        ],
      });
      agent = await start(s);
      expect(await toolNames(agent.client)).toEqual(['alpha__a_read', 'beta__one']);
      expect(text(await agent.client.callTool({ name: 'beta__one', arguments: { text: 'x' } }))).toBe(
        'one ran with {"text":"x"}',
      );
      expect(await refusal(agent.client.callTool({ name: 'beta__two', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      await stop(agent);
      expect(s.upstreamCalls('beta')).toEqual([['one', { text: 'x' }]]);

      // No grant can be written in advance for servers not yet in the file.
      for (const server of ['*', 'gamma']) {
        s.configure(['alpha', 'beta'], { allow: [{ server, tools: ['*'] }] });
        const check = await s.warden(['config', 'check']);
        expect(check.code, `server: '${server}'`).toBe(2);
        expect(check.stderr).toContain('CONFIG_INVALID');
      }
    },
  );

  it.skipIf(!runnable)(
    'GW-02 a server killed mid-session is restarted with nothing new granted: its new tools are hidden and refused, old grants unchanged',
    async () => {
      const s = newScene();
      s.spec('gamma', { tools: [{ name: 'kept' }, { name: 'hidden' }] });
      s.configure(['gamma'], { allow: [{ server: 'gamma', tools: ['kept'] }] });
      const agent = await start(s);
      expect(await toolNames(agent.client)).toEqual(['gamma__kept']);
      expect(text(await agent.client.callTool({ name: 'gamma__kept', arguments: {} }))).toBe('kept ran with {}');

      // The restarted server offers more (and claims to be harmless); the profile did not change.
      s.spec('gamma', {
        tools: [
          { name: 'kept' },
          { name: 'hidden' },
          { name: 'new_after_restart', annotations: { readOnlyHint: true } },
        ],
      });
      const [pid, ...others] = fixturePids(s.specPath('gamma'));
      expect(pid, 'the fixture process of gamma').toBeDefined();
      expect(others).toEqual([]);
      const changed = agent.nextListChange();
      process.kill(pid ?? -1, 'SIGKILL');
      await changed;
      const starts = s.upstreamLog('gamma').filter((e) => e.event === 'start');
      expect(starts.map((e) => e.tools)).toEqual([
        ['kept', 'hidden'],
        ['kept', 'hidden', 'new_after_restart'],
      ]);
      expect(fixturePids(s.specPath('gamma'))).not.toContain(pid);

      expect(await toolNames(agent.client)).toEqual(['gamma__kept']);
      expect(await refusal(agent.client.callTool({ name: 'gamma__new_after_restart', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      expect(await refusal(agent.client.callTool({ name: 'gamma__hidden', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      expect(text(await agent.client.callTool({ name: 'gamma__kept', arguments: { text: 'again' } }))).toBe(
        'kept ran with {"text":"again"}',
      );
      await stop(agent);

      expect(s.upstreamCalls('gamma')).toEqual([
        ['kept', {}],
        ['kept', { text: 'again' }],
      ]);
      const events = await agentAuditEvents(s.mode, s.workspace, agent.name);
      expect(serverStates(events, 'gamma').filter((st) => st === 'started' || st === 'restarting')).toEqual([
        'started',
        'restarting',
        'started',
      ]);
      expect(callRecords(events)).toEqual([
        ['gamma__kept', 'allow', 'ok'],
        ['gamma__new_after_restart', 'deny', 'denied'],
        ['gamma__hidden', 'deny', 'denied'],
        ['gamma__kept', 'allow', 'ok'],
      ]);
      // The listing after the restart knew the new tool and hid it.
      const lastListing = events.filter((e) => e.type === 'mcp.listed' && e.data.subject === 'tool').at(-1);
      expect((lastListing?.data.hidden as { name: string }[]).map((h) => h.name).sort()).toEqual([
        'gamma__hidden',
        'gamma__new_after_restart',
      ]);
    },
  );

  it.skipIf(!runnable)(
    'GW-02 tools an upstream adds at runtime (tools/list_changed) are not granted by grants for other tools; globs match them as documented',
    async () => {
      const s = newScene();
      const spec: ServerSpec = {
        tools: [{ name: 'grow', action: 'add_late' }, { name: 'read_a' }],
        late: [
          { name: 'read_late' },
          { name: 'write_late', annotations: { readOnlyHint: true, destructiveHint: false } },
          { name: 'Read_upper' },
        ],
      };
      for (const server of ['exact', 'globbed', 'star']) s.spec(server, spec);
      s.configure(['exact', 'globbed', 'star'], {
        // About grants, not pins: with pinning on, a tool that appears later is hidden until approved (SCAN-05).
        scan: { pin: 'off' },
        allow: [
          { server: 'exact', tools: ['grow', 'read_a'] },
          { server: 'globbed', tools: ['grow', 'read_*'] },
          { server: 'star', tools: ['*'] },
        ],
        deny: [{ server: 'star', tools: ['write_*'] }],
      });
      const agent = await start(s);
      expect(await toolNames(agent.client)).toEqual([
        'exact__grow',
        'exact__read_a',
        'globbed__grow',
        'globbed__read_a',
        'star__grow',
        'star__read_a',
      ]);

      for (const server of ['exact', 'globbed', 'star']) {
        const changed = agent.nextListChange();
        expect(text(await agent.client.callTool({ name: `${server}__grow`, arguments: {} }))).toBe('grow ran with {}');
        await changed;
      }
      // exact: a grant naming other tools grants none of the new ones.
      // globbed: 'read_*' matches read_late (documented), not write_late, and not Read_upper (names are case-sensitive).
      // star: '*' is every tool the server lists, including ones it adds later (documented), minus the denied 'write_*'.
      expect(await toolNames(agent.client)).toEqual([
        'exact__grow',
        'exact__read_a',
        'globbed__grow',
        'globbed__read_a',
        'globbed__read_late',
        'star__Read_upper',
        'star__grow',
        'star__read_a',
        'star__read_late',
      ]);
      expect(await refusal(agent.client.callTool({ name: 'exact__read_late', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      expect(await refusal(agent.client.callTool({ name: 'exact__write_late', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      expect(await refusal(agent.client.callTool({ name: 'globbed__write_late', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      expect(await refusal(agent.client.callTool({ name: 'globbed__Read_upper', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      expect(await refusal(agent.client.callTool({ name: 'star__write_late', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      expect(text(await agent.client.callTool({ name: 'globbed__read_late', arguments: {} }))).toBe(
        'read_late ran with {}',
      );
      expect(text(await agent.client.callTool({ name: 'star__read_late', arguments: {} }))).toBe(
        'read_late ran with {}',
      );
      await stop(agent);

      expect(s.upstreamCalls('exact')).toEqual([['grow', {}]]);
      expect(s.upstreamCalls('globbed')).toEqual([
        ['grow', {}],
        ['read_late', {}],
      ]);
      expect(s.upstreamCalls('star')).toEqual([
        ['grow', {}],
        ['read_late', {}],
      ]);
      const events = await agentAuditEvents(s.mode, s.workspace, agent.name);
      const decided = events
        .filter((e) => e.type === 'mcp.call' && typeof e.data.name === 'string' && !e.data.name.endsWith('__grow'))
        .map((e) => [e.data.name, e.data.outcome, e.data.policy_ids]);
      expect(decided).toEqual([
        ['exact__read_late', 'denied', []],
        ['exact__write_late', 'denied', []],
        ['globbed__write_late', 'denied', []],
        ['globbed__Read_upper', 'denied', []],
        ['star__write_late', 'denied', ['default.deny[0].tool.write_*.call']],
        ['globbed__read_late', 'ok', ['default.allow[1].tool.read_*.call']],
        ['star__read_late', 'ok', ['default.allow[2].tool.*.call']],
      ]);
    },
  );

  // ------------------------------------------------------------------------------- GW-09

  it.skipIf(!runnable)(
    'GW-09 annotations are never grants: an ungranted readOnlyHint tool is hidden and refused, a deny wins over readOnlyHint, hints reach the agent unchanged',
    async () => {
      const s = newScene();
      const harmless = {
        title: 'Peek (read-only)',
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      };
      const tools: ToolSpec[] = [
        { name: 'peek', annotations: harmless },
        { name: 'look', annotations: harmless },
        {
          name: 'wipe',
          title: 'Wipe',
          annotations: {
            title: 'Wipe everything',
            readOnlyHint: false,
            destructiveHint: true,
            idempotentHint: false,
            openWorldHint: true,
          },
        },
        // A tool whose titles claim to be the granted one: names decide, titles do not.
        { name: 'impostor', title: 'wipe', annotations: { title: 'anno__wipe', readOnlyHint: true } },
      ];
      s.spec('anno', { tools });
      s.configure(['anno'], {
        allow: [{ server: 'anno', tools: ['look', 'wipe'] }],
        deny: [{ server: 'anno', tools: ['look'] }],
      });
      const agent = await start(s);

      const listed = (await agent.client.listTools()).tools;
      expect(listed.map((t) => t.name)).toEqual(['anno__wipe']);
      // Passed through as the upstream sent them: hints for the agent, nothing added or upgraded.
      const wipe = listed[0] as Tool;
      expect(wipe.title).toBe('Wipe');
      expect(wipe.annotations).toEqual(tools[2]?.annotations);

      expect(await refusal(agent.client.callTool({ name: 'anno__peek', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      expect(await refusal(agent.client.callTool({ name: 'anno__look', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      expect(await refusal(agent.client.callTool({ name: 'anno__impostor', arguments: {} }))).toMatchObject({
        code: -32602,
      });
      // destructiveHint does not refuse a granted tool either: annotations are not read at all.
      expect(text(await agent.client.callTool({ name: 'anno__wipe', arguments: {} }))).toBe('wipe ran with {}');
      await stop(agent);

      expect(s.upstreamCalls('anno')).toEqual([['wipe', {}]]);
      const events = await agentAuditEvents(s.mode, s.workspace, agent.name);
      expect(
        events
          .filter((e) => e.type === 'mcp.call')
          .map((e) => [e.data.name, e.data.decision, e.data.outcome, e.data.policy_ids]),
      ).toEqual([
        ['anno__peek', 'deny', 'denied', []],
        ['anno__look', 'deny', 'denied', ['default.deny[0].tool.look.call']],
        ['anno__impostor', 'deny', 'denied', []],
        ['anno__wipe', 'allow', 'ok', ['default.allow[0].tool.wipe.call']],
      ]);

      // `warden tools ls` agrees: the read-only-looking tools are not granted.
      const ls = await s.warden(['tools', 'ls', '--json', '--workspace', s.workspace]);
      expect(ls.code, ls.stderr).toBe(0);
      const grants = JSON.parse(ls.stdout) as { name: string; granted: boolean }[];
      expect(grants.map((g) => [g.name, g.granted]).sort()).toEqual([
        ['anno__impostor', false],
        ['anno__look', false],
        ['anno__peek', false],
        ['anno__wipe', true],
      ]);
    },
  );

  /** `warden tools ls --json` with one Cedar policy file added to the profile. */
  const lsWithPolicy = async (
    s: Scene,
    mcp: McpSection,
    cedar: string,
  ): Promise<{
    code: number | null;
    stderr: string;
    grants: { name: string; granted: boolean; policyIds: string[] }[];
  }> => {
    writeFileSync(join(s.root, 'extra.cedar'), cedar, { mode: 0o644 });
    s.configure(['anno'], { ...mcp, policies: ['extra.cedar'] });
    const ls = await s.warden(['tools', 'ls', '--json', '--workspace', s.workspace]);
    return {
      code: ls.code,
      stderr: ls.stderr,
      grants: ls.code === 0 ? (JSON.parse(ls.stdout) as { name: string; granted: boolean; policyIds: string[] }[]) : [],
    };
  };
  const TOOL_ACTIONS =
    'action in [Warden::Action::"list_tool", Warden::Action::"call_tool"], resource is Warden::Tool in Warden::Server::"anno"';

  it.skipIf(!runnable)(
    'GW-09 policy cannot read annotations: a Cedar permit on readOnlyHint is refused at start (POLICY_INVALID) or grants nothing; keyed on the name it grants',
    async () => {
      const s = newScene();
      s.spec('anno', {
        tools: [{ name: 'peek', annotations: { readOnlyHint: true, destructiveHint: false } }, { name: 'other' }],
      });
      const allowOther = { allow: [{ server: 'anno', tools: ['other'] }] };
      for (const condition of [
        'resource.readOnlyHint == true',
        'resource.annotations.readOnlyHint == true',
        'resource.annotations has readOnlyHint',
      ]) {
        const ls = await lsWithPolicy(
          s,
          allowOther,
          `@id("by-hint")\npermit (principal, ${TOOL_ACTIONS}) when { ${condition} };\n`,
        );
        expect(ls.code, `${condition}: ${ls.stderr}`).toBe(2);
        expect(ls.stderr).toContain('POLICY_INVALID');
      }
      // Guarded by `has`, Cedar's validator only warns that it can never apply: warden refuses it too.
      const guarded = await lsWithPolicy(
        s,
        allowOther,
        `@id("by-hint")\npermit (principal, ${TOOL_ACTIONS}) when { resource has annotations && resource.annotations.readOnlyHint };\n`,
      );
      expect(guarded.code, guarded.stderr).toBe(2);
      expect(guarded.stderr).toMatch(/POLICY_INVALID[\s\S]*by-hint[\s\S]*impossible/);
      // Control: the same mechanism keyed on the tool's name is accepted and grants.
      const byName = await lsWithPolicy(
        s,
        allowOther,
        `@id("by-name")\npermit (principal, ${TOOL_ACTIONS}) when { resource.name == "peek" };\n`,
      );
      expect(byName.code, byName.stderr).toBe(0);
      expect(byName.grants.find((g) => g.name === 'anno__peek')).toMatchObject({
        granted: true,
        policyIds: ['by-name'],
      });
    },
  );

  it.skipIf(!runnable)(
    'GW-09 a Cedar forbid written against annotations is refused at start, never accepted as a deny that can never match',
    async () => {
      const s = newScene();
      s.spec('anno', {
        tools: [
          { name: 'wipe', annotations: { destructiveHint: true, readOnlyHint: false } },
          { name: 'peek', annotations: { readOnlyHint: true } },
        ],
      });
      const allowAll = { allow: [{ server: 'anno', tools: ['*'] }] };
      // Unguarded, the schema refuses it: the author learns annotations are not policy inputs.
      const plain = await lsWithPolicy(
        s,
        allowAll,
        `@id("no-destructive")\nforbid (principal, ${TOOL_ACTIONS}) when { resource.annotations.destructiveHint };\n`,
      );
      expect(plain.code, plain.stderr).toBe(2);
      expect(plain.stderr).toContain('POLICY_INVALID');
      // Guarded by `has`, Cedar validates it with only an "impossible policy" warning: a deny the
      // author believes in that can never match. Fail closed: refuse it like the unguarded one
      // (schema.ts: "a typo in an attribute name is a start-up error, never a policy that silently never matches").
      const guarded = await lsWithPolicy(
        s,
        allowAll,
        `@id("no-destructive")\nforbid (principal, ${TOOL_ACTIONS}) when { resource has annotations && resource.annotations.destructiveHint };\n`,
      );
      expect(
        { code: guarded.code, wipe: guarded.grants.find((g) => g.name === 'anno__wipe')?.granted },
        guarded.stderr,
      ).toEqual({ code: 2, wipe: undefined });
      expect(guarded.stderr).toContain('POLICY_INVALID');
    },
  );

  // ------------------------------------------------------------------------------- GW-10

  /** One server `ver`: `say` granted only for text 'hello' or 'hi', `secret` never granted. */
  const versionScene = (): Scene => {
    const s = newScene();
    s.spec('ver', {
      tools: [
        {
          name: 'say',
          inputSchema: {
            type: 'object',
            properties: { text: { type: 'string', maxLength: 100 } },
            required: ['text'],
            additionalProperties: false,
          },
        },
        { name: 'secret', annotations: { readOnlyHint: true } },
      ],
    });
    s.configure(['ver'], { allow: [{ server: 'ver', tools: ['say'], when: { text: { one_of: ['hello', 'hi'] } } }] });
    return s;
  };

  /** The checks every session must get, whatever its protocol version; returns the records they must leave. */
  const exerciseChecks = async (client: Client): Promise<[string, string, string][]> => {
    expect(await toolNames(client)).toEqual(['ver__say']);
    expect(text(await client.callTool({ name: 'ver__say', arguments: { text: 'hello' } }))).toBe(
      'say ran with {"text":"hello"}',
    );
    expect(await refusal(client.callTool({ name: 'ver__say', arguments: { text: 'bye' } }))).toMatchObject({
      code: -32003,
    });
    expect(await invalidArguments(client.callTool({ name: 'ver__say', arguments: { text: 7 } }))).toContain('ver__say');
    expect(
      await invalidArguments(client.callTool({ name: 'ver__say', arguments: { text: 'hello', extra: 'x' } })),
    ).toContain('ver__say');
    expect(await refusal(client.callTool({ name: 'ver__secret', arguments: {} }))).toMatchObject({ code: -32602 });
    return [
      ['ver__say', 'allow', 'ok'],
      ['ver__say', 'deny', 'denied'],
      ['ver__say', 'deny', 'invalid'],
      ['ver__say', 'deny', 'invalid'],
      ['ver__secret', 'deny', 'denied'],
    ];
  };

  it.skipIf(!runnable).each([
    ['2024-11-05', '2024-11-05'],
    ['2025-03-26', '2025-03-26'],
    ['2024-10-07', '2024-10-07'],
    ['1999-01-01', LATEST],
    ['not-a-version', LATEST],
  ])(
    'GW-10 stdio session initialized with protocolVersion %s (answered %s): grants, argument checks and one audit record per call all apply',
    async (requested, expected) => {
      const s = versionScene();
      const agent = await start(s, requested);
      expect(agent.transport.negotiated).toBe(expected);
      const records = await exerciseChecks(agent.client);
      await stop(agent);
      expect(s.upstreamCalls('ver')).toEqual([['say', { text: 'hello' }]]);
      expect(callRecords(await agentAuditEvents(s.mode, s.workspace, agent.name))).toEqual(records);
    },
  );

  it.skipIf(!runnable)(
    'GW-10 stdio: a session cannot change its protocol version after initialize (a second initialize is refused), and the checks still apply',
    async () => {
      const s = versionScene();
      const agent = await start(s);
      expect(agent.transport.negotiated).toBe(LATEST);
      const second = await agent.client
        .request(
          {
            method: 'initialize',
            params: {
              protocolVersion: '2024-11-05',
              capabilities: { sampling: {}, roots: {} },
              clientInfo: { name: 'downgrader', version: '1' },
            },
          },
          InitializeResultSchema,
        )
        .then(
          (result) => ({ accepted: result.protocolVersion }),
          (error: unknown) => ({ code: (error as { code?: number }).code }),
        );
      // MCP lifecycle: initialize is the first interaction of a session, once. A second one must be
      // an error (-32600 Invalid Request, as the SDK's Streamable HTTP transport answers), not a renegotiation.
      expect.soft(second, 'second initialize on the same stdio session').toEqual({ code: -32600 });
      const records = await exerciseChecks(agent.client);
      await stop(agent);
      expect(callRecords(await agentAuditEvents(s.mode, s.workspace, agent.name))).toEqual(records);
    },
  );

  it.skipIf(!runnable)(
    'GW-10 stdio: a client that skips initialize entirely is still held to every check',
    async () => {
      const s = versionScene();
      const name = agentName();
      const transport = new StdioClientTransport(gatewayParams(s, name));
      const answers = new Map<number, Record<string, unknown>>();
      transport.onmessage = (message) => {
        if ('id' in message && typeof message.id === 'number') answers.set(message.id, message);
      };
      await transport.start();
      let id = 0;
      const ask = async (method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> => {
        const mine = ++id;
        await transport.send({ jsonrpc: '2.0', id: mine, method, params });
        return until(`an answer to ${method}`, () => answers.get(mine));
      };
      try {
        const listed = await ask('tools/list', {});
        expect(((listed.result as { tools: Tool[] } | undefined)?.tools ?? []).map((t) => t.name)).toEqual([
          'ver__say',
        ]);
        expect((await ask('tools/call', { name: 'ver__secret', arguments: {} })).error).toMatchObject({ code: -32602 });
        expect((await ask('tools/call', { name: 'ver__say', arguments: { text: 'bye' } })).error).toMatchObject({
          code: -32003,
        });
        expect(invalidArgumentsAnswer(await ask('tools/call', { name: 'ver__say', arguments: { text: 7 } }))).toContain(
          'ver__say',
        );
        expect(text((await ask('tools/call', { name: 'ver__say', arguments: { text: 'hi' } })).result)).toBe(
          'say ran with {"text":"hi"}',
        );
      } finally {
        await transport.close();
      }
      expect(s.upstreamCalls('ver')).toEqual([['say', { text: 'hi' }]]);
      expect(callRecords(await agentAuditEvents(s.mode, s.workspace, name))).toEqual([
        ['ver__secret', 'deny', 'denied'],
        ['ver__say', 'deny', 'denied'],
        ['ver__say', 'deny', 'invalid'],
        ['ver__say', 'allow', 'ok'],
      ]);
    },
  );

  it.skipIf(!runnable)(
    'GW-10 Streamable HTTP: old, unknown, mismatched and missing MCP-Protocol-Version are handled per the spec and never skip auth, policy or audit',
    async () => {
      const s = versionScene();
      let sessions: HttpSession[] = [];
      let runId = '';
      const run = await withRunGateway(s, async (gw) => {
        runId = gw.runId;
        // Auth comes before anything version-related: no token, any version -> 401.
        for (const version of ['2024-11-05', '2099-01-01']) {
          const anon = await httpPost(gw.socket, initializeBody(version), { 'mcp-protocol-version': version });
          expect(anon.status, `anonymous initialize (${version})`).toBe(401);
        }

        // A session negotiated down to 2024-11-05.
        const { session: old, reply } = await openHttpSession(gw, '2024-11-05');
        expect(old.negotiated).toBe('2024-11-05');
        expect((resultOf(reply)?.serverInfo as { name?: string } | undefined)?.name).toBe('warden-gateway');
        expect(((resultOf(await old.request('tools/list', {}))?.tools ?? []) as Tool[]).map((t) => t.name)).toEqual([
          'ver__say',
        ]);
        expect(rpcErrorOf(await old.call('ver__secret', {}))).toMatchObject({ code: -32602 });
        expect(rpcErrorOf(await old.call('ver__say', { text: 'bye' }))).toMatchObject({ code: -32003 });
        expect(invalidArgumentsAnswer((await old.call('ver__say', { text: 7 })).messages[0] ?? null)).toContain(
          'ver__say',
        );
        expect(text(resultOf(await old.call('ver__say', { text: 'hello' })))).toBe('say ran with {"text":"hello"}');

        // No MCP-Protocol-Version header: the request is served (spec: assume the negotiated version
        // or 2025-03-26) with every check.
        const bare = await old.call('ver__secret', {}, { version: null });
        expect(bare.status).toBe(200);
        expect(rpcErrorOf(bare)).toMatchObject({ code: -32602 });
        expect(rpcErrorOf(await old.call('ver__say', { text: 'bye' }, { version: null }))).toMatchObject({
          code: -32003,
        });
        expect(text(resultOf(await old.call('ver__say', { text: 'hi' }, { version: null })))).toBe(
          'say ran with {"text":"hi"}',
        );

        // A header naming another supported version than the negotiated one: served, every check.
        const mismatched = await old.call('ver__secret', {}, { version: LATEST });
        expect(mismatched.status).toBe(200);
        expect(rpcErrorOf(mismatched)).toMatchObject({ code: -32602 });
        expect(rpcErrorOf(await old.call('ver__say', { text: 'bye' }, { version: '2025-03-26' }))).toMatchObject({
          code: -32003,
        });

        // An invalid or unsupported version: 400 Bad Request (spec MUST); the call is not made.
        for (const version of ['2099-01-01', 'not-a-version', '']) {
          const bad = await old.call('ver__say', { text: 'hello' }, { version });
          expect(bad.status, `MCP-Protocol-Version: '${version}'`).toBe(400);
          expect(resultOf(bad)).toBeNull();
        }
        // ... and without the token it is 401 whatever the header says.
        expect(
          (await old.request('tools/call', { name: 'ver__say', arguments: { text: 'hello' } }, { token: null })).status,
        ).toBe(401);
        expect(
          (
            await old.request(
              'tools/call',
              { name: 'ver__say', arguments: { text: 'hello' } },
              { token: 'wrong', version: null },
            )
          ).status,
        ).toBe(401);

        // The session cannot be renegotiated to another version.
        const again = await old.post({
          jsonrpc: '2.0',
          id: 900,
          method: 'initialize',
          params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'again', version: '1' } },
        });
        expect(again.status).toBe(400);
        expect(rpcErrorOf(again)).toMatchObject({ code: -32600 });
        // 2025-03-26 allowed JSON-RPC batches; the gateway refuses them whatever the session's version.
        const batch = await old.post([
          { jsonrpc: '2.0', id: 901, method: 'tools/call', params: { name: 'ver__say', arguments: { text: 'hello' } } },
          { jsonrpc: '2.0', id: 902, method: 'tools/call', params: { name: 'ver__secret', arguments: {} } },
        ]);
        expect(batch.status).toBe(400);
        expect(rpcErrorOf(batch)).toMatchObject({ code: -32600 });
        // Still the old version afterwards, and still checked.
        expect(rpcErrorOf(await old.call('ver__secret', {}))).toMatchObject({ code: -32602 });

        // Unknown versions are answered with the gateway's own (newest) version; same checks.
        const { session: unknown } = await openHttpSession(gw, '2099-01-01');
        expect(unknown.negotiated).toBe(LATEST);
        expect(rpcErrorOf(await unknown.call('ver__secret', {}))).toMatchObject({ code: -32602 });
        expect(
          invalidArgumentsAnswer((await unknown.call('ver__say', { text: 'hello', extra: 1 })).messages[0] ?? null),
        ).toContain('ver__say');
        const { session: mid } = await openHttpSession(gw, '2025-03-26');
        expect(mid.negotiated).toBe('2025-03-26');
        expect(rpcErrorOf(await mid.call('ver__say', { text: 'bye' }, { version: null }))).toMatchObject({
          code: -32003,
        });
        sessions = [old, unknown, mid];
      });
      expect(run.code, run.stderr).toBe(0);

      // Only the allowed calls reached the server: none of the 400s, 401s or the batch.
      expect(s.upstreamCalls('ver')).toEqual([
        ['say', { text: 'hello' }],
        ['say', { text: 'hi' }],
      ]);
      const events = await auditEvents(mode, s.workspace, runId);
      const [old, unknown, mid] = sessions.map((x) => x.label);
      expect(
        events
          .filter((e) => e.type === 'mcp.call')
          .map((e) => [e.data.session, e.data.name, e.data.decision, e.data.outcome]),
      ).toEqual([
        [old, 'ver__secret', 'deny', 'denied'],
        [old, 'ver__say', 'deny', 'denied'],
        [old, 'ver__say', 'deny', 'invalid'],
        [old, 'ver__say', 'allow', 'ok'],
        [old, 'ver__secret', 'deny', 'denied'],
        [old, 'ver__say', 'deny', 'denied'],
        [old, 'ver__say', 'allow', 'ok'],
        [old, 'ver__secret', 'deny', 'denied'],
        [old, 'ver__say', 'deny', 'denied'],
        [old, 'ver__secret', 'deny', 'denied'],
        [unknown, 'ver__secret', 'deny', 'denied'],
        [unknown, 'ver__say', 'deny', 'invalid'],
        [mid, 'ver__say', 'deny', 'denied'],
      ]);
      // The refusals warden makes itself are recorded: the four 401s, and the batch at the boundary.
      const rejected = events.filter((e) => e.type === 'mcp.rejected').map((e) => [e.data.session, e.data.reason]);
      expect(rejected.filter(([, reason]) => String(reason).includes('run token'))).toHaveLength(4);
      expect(rejected.filter(([, reason]) => String(reason).includes('batch'))).toEqual([
        [old, 'batches are not supported'],
      ]);
    },
  );

  it.skipIf(!runnable)(
    'GW-10 AUD-01 Streamable HTTP: a call refused for its MCP-Protocol-Version header, and an attempt to re-initialize, each leave an audit record',
    async () => {
      const s = versionScene();
      let label = '';
      let runId = '';
      const run = await withRunGateway(s, async (gw) => {
        runId = gw.runId;
        const { session } = await openHttpSession(gw, '2024-11-05');
        label = session.label;
        const bad = await session.call('ver__say', { text: 'hello' }, { version: '2099-01-01' });
        expect(bad.status).toBe(400);
        const again = await session.post({
          jsonrpc: '2.0',
          id: 900,
          method: 'initialize',
          params: { protocolVersion: LATEST, capabilities: {}, clientInfo: { name: 'again', version: '1' } },
        });
        expect(again.status).toBe(400);
        // A refusal warden makes itself, for comparison: recorded as mcp.rejected with the code the caller got.
        expect((await session.post([{ jsonrpc: '2.0', id: 901, method: 'ping' }])).status).toBe(400);
      });
      expect(run.code, run.stderr).toBe(0);
      expect(s.upstreamCalls('ver')).toEqual([]);
      const events = await auditEvents(mode, s.workspace, runId);
      const trail = events
        .filter((e) => (e.type === 'mcp.rejected' || e.type === 'mcp.call') && e.data.session === label)
        .map((e) => [e.type, e.data.code]);
      // Every refused request of the session, in order: the unsupported version, the re-initialize,
      // the batch (each -32600, as the agent got it).
      expect(trail).toEqual([
        ['mcp.rejected', -32600],
        ['mcp.rejected', -32600],
        ['mcp.rejected', -32600],
      ]);
    },
  );

  it.skipIf(!runnable)(
    'GW-10 Streamable HTTP: initialize requests without a usable protocolVersion are refused and do not use up the sessions',
    async () => {
      const s = versionScene();
      const run = await withRunGateway(s, async (gw) => {
        // More broken initializes than the endpoint has session slots (64 by default).
        const broken = [{}, { protocolVersion: 20241105 }, { protocolVersion: null }];
        const statuses = new Set<number>();
        for (let i = 0; i < 70; i++) {
          const params = {
            ...broken[i % broken.length],
            capabilities: {},
            clientInfo: { name: 'broken', version: '1' },
          };
          const reply = await httpPost(
            gw.socket,
            JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params }),
            { authorization: `Bearer ${gw.token}` },
          );
          expect(reply.headers['mcp-session-id'], 'a refused initialize opens no session').toBeUndefined();
          statuses.add(reply.status);
        }
        expect.soft([...statuses], 'statuses of the broken initializes').toEqual([400]);
        // None of them holds a session slot: a well-formed initialize still opens a session.
        const { session } = await openHttpSession(gw, LATEST);
        expect(rpcErrorOf(await session.call('ver__secret', {}))).toMatchObject({ code: -32602 });
      });
      expect(run.code, run.stderr).toBe(0);
    },
  );
});
