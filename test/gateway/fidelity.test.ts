/**
 * Fidelity (issue 10): a client must not notice the gateway. The SDK's real client talks to
 * warden's conformance fixture server (test/conformance/fixtures/conformance-server.mjs) once
 * directly and once through `warden gateway --stdio` with `mcp.names: upstream`, and what it
 * sees must be the same.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema, ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import {
  availableModes,
  gatewayStdioCommand,
  giveToSandbox,
  makeWorkspace,
  removeWorkspace,
  REPO,
  SANDBOX_USER,
  TEST_USER,
  warden,
  type Mode,
} from '../helpers/warden.js';
import { fixtureReadable, Scene } from './scene.js';

const MODULES = join(REPO, 'node_modules');
const FIXTURES = join(REPO, 'test', 'conformance', 'fixtures');
const FIXTURE = join(FIXTURES, 'conformance-server.mjs');
const CALLS = 15;
const LISTS = ['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list'] as const;

function readable(mode: Mode): boolean {
  const user = mode === 'root' ? SANDBOX_USER : TEST_USER;
  return spawnSync('runuser', ['-u', user, '--', 'test', '-r', FIXTURE]).status === 0;
}

/** warden.yaml granting everything of the fixture under each of `servers`' names. */
function writeConfig(workspace: string, servers: readonly string[], names: 'upstream' | 'prefixed'): string {
  const config = join(dirname(workspace), 'warden.yaml');
  // The run's own directory as an extra argument: tool pins (SCAN-05) are kept per way of
  // starting a server, so each test pins on first sight and no earlier run's pins apply.
  const server = {
    command: 'node',
    args: [FIXTURE, 'stdio', dirname(workspace)],
    filesystem: { read_only: [MODULES, FIXTURES] },
  };
  writeFileSync(
    config,
    `${JSON.stringify({
      version: 1,
      servers: Object.fromEntries(servers.map((s) => [s, server])),
      profiles: {
        default: {
          mcp: { names, allow: servers.map((s) => ({ server: s, tools: ['*'], prompts: ['*'], resources: ['*'] })) },
        },
      },
    })}\n`,
    { mode: 0o644 },
  );
  return config;
}

/**
 * Calls the fixture's progress tool CALLS times: how many progress notifications the client's
 * transport received (on the wire, before each result) and how many the SDK client handed to onprogress.
 */
async function progressSeen(client: Client): Promise<{ wire: number; handled: number }> {
  let wire = 0;
  let handled = 0;
  const transport = client.transport!;
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if ('method' in message && message.method === 'notifications/progress') wire++;
    deliver?.(message, extra);
  };
  for (let i = 0; i < CALLS; i++) {
    await client.request(
      { method: 'tools/call', params: { name: 'test_tool_with_progress', arguments: {} } },
      CallToolResultSchema,
      { onprogress: () => void handled++ },
    );
  }
  return { wire, handled };
}

describe.each(availableModes())('gateway fidelity with names: upstream (warden as %s)', (mode: Mode) => {
  let workspace = '';
  const clients: Client[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close().catch(() => undefined);
    if (workspace !== '') removeWorkspace(workspace);
    workspace = '';
  });

  async function throughGateway(
    servers: readonly string[] = ['conformance'],
    names: 'upstream' | 'prefixed' = 'upstream',
  ): Promise<Client> {
    workspace = makeWorkspace(mode);
    const config = writeConfig(workspace, servers, names);
    giveToSandbox(mode, workspace);
    const client = new Client({ name: 'fidelity-test', version: '1.0.0' });
    clients.push(client);
    await client.connect(
      new StdioClientTransport({
        ...gatewayStdioCommand(mode, { workspace, config, agent: `fidelity-${basename(dirname(workspace))}` }),
        stderr: 'pipe',
      }),
    );
    return client;
  }

  async function direct(): Promise<Client> {
    const client = new Client({ name: 'fidelity-test', version: '1.0.0' });
    clients.push(client);
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [FIXTURE, 'stdio'] }));
    return client;
  }

  it.skipIf(!readable(mode))(
    'names: upstream lists the same tool and prompt names as the server itself, and calls reach it',
    async () => {
      const [plain, gateway] = [await direct(), await throughGateway()];
      const names = async (c: Client) => ({
        tools: (await c.listTools()).tools.map((t) => t.name).sort(),
        prompts: (await c.listPrompts()).prompts.map((p) => p.name).sort(),
      });
      expect(await names(gateway)).toEqual(await names(plain));
      expect(await gateway.callTool({ name: 'test_simple_text', arguments: {} })).toEqual(
        await plain.callTool({ name: 'test_simple_text', arguments: {} }),
      );
    },
    60_000,
  );

  it.skipIf(!readable(mode))(
    'list items reach the client as the server sent them (unknown tool fields, prompt argument titles), and a cursor the gateway never issued is -32602',
    async () => {
      const [plain, gateway] = [await direct(), await throughGateway()];
      // The SDK client's own schemas would strip unknown keys: read the lists raw.
      const raw = z.looseObject({});
      const item = async (c: Client, method: string, key: string, name: string) => {
        const page = (await c.request({ method }, raw)) as Record<string, { name: string }[]>;
        return page[key]?.find((i) => i.name === name);
      };
      const tool = await item(gateway, 'tools/list', 'tools', 'test_simple_text');
      expect(tool).toMatchObject({ 'x-fixture': { kept: true } });
      expect(tool).toEqual(await item(plain, 'tools/list', 'tools', 'test_simple_text'));
      const prompt = await item(gateway, 'prompts/list', 'prompts', 'test_prompt_with_arguments');
      expect(prompt).toMatchObject({
        arguments: [
          { name: 'arg1', title: 'First' },
          { name: 'arg2', title: 'Second' },
        ],
      });
      expect(prompt).toEqual(await item(plain, 'prompts/list', 'prompts', 'test_prompt_with_arguments'));

      for (const method of ['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list']) {
        const error = await gateway.request({ method, params: { cursor: 'not-issued' } }, raw).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, method).toBeInstanceOf(McpError);
        expect((error as McpError).code, method).toBe(ErrorCode.InvalidParams);
      }
    },
    60_000,
  );

  it.skipIf(!readable(mode))(
    'list-level _meta reaches the client as the server sent it when one server is granted (tools, prompts, resources, templates)',
    async () => {
      const [plain, gateway] = [await direct(), await throughGateway()];
      const raw = z.looseObject({});
      for (const method of LISTS) {
        const meta = async (c: Client) => ((await c.request({ method }, raw)) as { _meta?: unknown })._meta;
        const sent = await meta(plain);
        expect(sent, method).toMatchObject({ 'fixture.test/list': { generation: 1 } });
        expect(await meta(gateway), method).toEqual(sent);
      }
      // The SDK client's own list methods keep it too.
      expect((await gateway.listTools())._meta).toEqual((await plain.listTools())._meta);
    },
    60_000,
  );

  it.skipIf(!readable(mode))(
    "with several servers granted, each one's list _meta is kept under its name in dev.warden/servers",
    async () => {
      const [plain, gateway] = [await direct(), await throughGateway(['alpha', 'beta'], 'prefixed')];
      const raw = z.looseObject({});
      for (const method of LISTS) {
        const sent = ((await plain.request({ method }, raw)) as { _meta?: unknown })._meta;
        const merged = ((await gateway.request({ method }, raw)) as { _meta?: unknown })._meta;
        expect(merged, method).toEqual({ 'dev.warden/servers': { alpha: sent, beta: sent } });
      }
    },
    60_000,
  );

  it.skipIf(!readable(mode))(
    'every progress notification sent before a result reaches the agent before that result (as many as directly)',
    async () => {
      const [plain, gateway] = [await direct(), await throughGateway()];
      // On the wire: the SDK client itself may then drop the last one (it runs notification
      // handlers a microtask late but settles a response at once), directly as much as through warden.
      expect((await progressSeen(plain)).wire).toBe(CALLS * 3);
      expect((await progressSeen(gateway)).wire).toBe(CALLS * 3);
    },
    90_000,
  );

  it.skipIf(!readable(mode))(
    'GW-03 names: upstream with two granted servers offering one name: the gateway refuses to start, naming both servers and the name',
    async () => {
      workspace = makeWorkspace(mode);
      const config = writeConfig(workspace, ['alpha', 'beta'], 'upstream');
      giveToSandbox(mode, workspace);
      const run = await warden(mode, ['--config', config, 'tools', 'ls'], { cwd: workspace });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('GATEWAY_START_FAILED');
      expect(run.stderr).toMatch(/tool 'test_[a-z_0-9]+' is offered by servers alpha and beta/);
      expect(run.stderr).toContain('mcp.names to prefixed');
      // The same two servers under the default naming start fine (server__tool never collides).
      writeConfig(workspace, ['alpha', 'beta'], 'prefixed');
      const ok = await warden(mode, ['--config', config, 'tools', 'ls'], { cwd: workspace });
      expect(ok.stderr).not.toContain('GATEWAY_START_FAILED');
      expect(ok.stdout).toContain('alpha__test_simple_text');
    },
    90_000,
  );
});

describe.each(availableModes())('gateway fidelity with a fixture server (warden as %s)', (mode: Mode) => {
  let scene: Scene | null = null;
  const clients: Client[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close().catch(() => undefined);
    scene?.remove();
    scene = null;
  });

  async function connect(s: Scene): Promise<Client> {
    const client = new Client({ name: 'fidelity-test', version: '1.0.0' });
    clients.push(client);
    const agent = `fidelity-${basename(s.root)}`;
    await client.connect(
      new StdioClientTransport({
        ...gatewayStdioCommand(mode, { workspace: s.workspace, config: s.config, agent }),
        stderr: 'pipe',
      }),
    );
    return client;
  }

  it("an upstream's JSON-RPC error reaches the agent with the same code, message and data; oversized data is left out", async () => {
    const s = (scene = new Scene(mode));
    if (!fixtureReadable(mode)) return expect.fail('the fixture server is not readable by the sandbox user');
    const data = { retryAfter: 3, reason: { field: 'url', allowed: ['https'] } };
    s.spec('fix', {
      tools: [
        { name: 'strict', error: { code: -32042, message: 'needs an https URL', data } },
        { name: 'plain', error: { code: -32050, message: 'no data here' } },
        { name: 'huge', error: { code: -32042, message: 'big', data: { blob: 'x'.repeat(20_000) } } },
      ],
    });
    s.configure(['fix'], { allow: [{ server: 'fix', tools: ['*'] }] });
    const client = await connect(s);
    const failure = (name: string) =>
      client.callTool({ name: `fix__${name}`, arguments: {} }).then(
        () => expect.fail(`${name} answered a result`),
        (e: unknown) => e as McpError,
      );
    const strict = await failure('strict');
    expect(strict).toBeInstanceOf(McpError);
    expect({ code: strict.code, message: strict.message, data: strict.data }).toEqual({
      code: -32042,
      message: 'MCP error -32042: MCP error -32042: needs an https URL',
      data,
    });
    const plain = await failure('plain');
    expect([plain.code, plain.data]).toEqual([-32050, undefined]);
    const huge = await failure('huge');
    expect([huge.code, huge.data]).toEqual([-32042, undefined]);
  }, 60_000);

  it('a task-only tool (execution.taskSupport: required) is hidden, with the reason in `warden tools ls`; an optional-task tool is listed and works when called without a task', async () => {
    const s = (scene = new Scene(mode));
    if (!fixtureReadable(mode)) return expect.fail('the fixture server is not readable by the sandbox user');
    s.spec('fix', {
      tools: [
        { name: 'long_job', execution: { taskSupport: 'required' } },
        { name: 'either_way', execution: { taskSupport: 'optional' }, result: 'done without a task' },
        { name: 'plain' },
      ],
    });
    s.configure(['fix'], { allow: [{ server: 'fix', tools: ['*'] }] });
    const client = await connect(s);
    const tools = (await client.listTools()).tools;
    expect(tools.map((t) => t.name).sort()).toEqual(['fix__either_way', 'fix__plain']);
    expect(tools.find((t) => t.name === 'fix__either_way')?.execution).toEqual({ taskSupport: 'optional' });
    expect(await client.callTool({ name: 'fix__either_way', arguments: {} })).toMatchObject({
      content: [{ type: 'text', text: 'done without a task' }],
    });
    await expect(client.callTool({ name: 'fix__long_job', arguments: {} })).rejects.toMatchObject({ code: -32602 });
    expect(s.upstreamCalls('fix').map(([name]) => name)).toEqual(['either_way']);

    const listed = await s.warden(['tools', 'ls', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const rows = JSON.parse(listed.stdout) as { name: string; granted: boolean; reason: string }[];
    expect(rows.find((r) => r.name.includes('long_job'))).toMatchObject({
      granted: false,
      reason: expect.stringContaining('execution.taskSupport: required'),
    });
  }, 60_000);
});
