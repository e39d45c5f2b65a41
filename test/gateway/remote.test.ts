/**
 * Remote (url:) MCP servers: the npm server-everything served over Streamable HTTP on the host,
 * reached by the gateway through the remote bridge, which runs in a server sandbox whose only way
 * out is its egress proxy (allowing the server's host:port and nothing else). The grant model,
 * the audit trail and the egress records are the same as for a local server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  agentAuditEvents,
  availableModes,
  gatewayStdioCommand,
  makeWorkspace,
  removeWorkspace,
  REPO,
  warden,
  type Mode,
} from '../helpers/warden.js';

const SERVER_EVERYTHING = join(REPO, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
/** Host loopback, but not 127.0.0.1: the bridge's proxy must allow exactly this address. */
const REMOTE_HOST = '127.0.0.2';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, REMOTE_HOST, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

let server: ChildProcess | null = null;
let port = 0;

beforeAll(async () => {
  port = await freePort();
  server = spawn(process.execPath, [SERVER_EVERYTHING, 'streamableHttp'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Ready once it accepts connections.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const up = await fetch(`http://${REMOTE_HOST}:${port}/mcp`, { method: 'GET' }).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) throw new Error('server-everything (streamableHttp) did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}, 30_000);

afterAll(() => {
  server?.kill('SIGKILL');
});

function writeConfig(dir: string, url: string, required = false): string {
  const path = join(dir, 'warden.yaml');
  writeFileSync(
    path,
    `version: 1
servers:
  remote:
    url: ${JSON.stringify(url)}
profiles:
  default:
    mcp:
      allow:
        - server: remote
          tools: [echo]
          prompts: [simple-prompt]
${required ? '      required: [remote]\n' : ''}`,
    { mode: 0o644 },
  );
  return path;
}

async function connect(
  mode: Mode,
  workspace: string,
  config: string,
  agent: string,
  env: Record<string, string> = {},
): Promise<Client> {
  const client = new Client({ name: 'remote-test', version: '1.0.0' });
  await client.connect(
    new StdioClientTransport({ ...gatewayStdioCommand(mode, { workspace, config, agent, env }), stderr: 'pipe' }),
  );
  return client;
}

/** The bridge runs under the host's node: the sandbox must find it on /usr/local/bin:/usr/bin:/bin. */
const nodeOnSandboxPath =
  spawnSync('/bin/sh', ['-c', 'PATH=/usr/local/bin:/usr/bin:/bin command -v node']).status === 0;

describe.each(availableModes())('remote MCP servers (warden as %s)', (mode: Mode) => {
  let workspace = '';
  afterEach(() => removeWorkspace(workspace));

  it.skipIf(!nodeOnSandboxPath)(
    'GW-01 a remote server over Streamable HTTP: granted tools listed and called, ungranted hidden and refused, reached only through its egress proxy and audited',
    async () => {
      workspace = makeWorkspace(mode);
      const url = `http://${REMOTE_HOST}:${port}/mcp`;
      const config = writeConfig(join(workspace, '..'), url);
      const agent = `remote-test-${basename(dirname(workspace))}`;
      const client = await connect(mode, workspace, config, agent);
      try {
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['remote__echo']);
        const echo = await client.callTool({ name: 'remote__echo', arguments: { message: 'over the bridge' } });
        expect(echo.content).toEqual([{ type: 'text', text: 'Echo: over the bridge' }]);
        await expect(client.callTool({ name: 'remote__get-sum', arguments: { a: 1, b: 2 } })).rejects.toMatchObject({
          code: -32602,
        });
        expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(['remote__simple-prompt']);
        const prompt = await client.getPrompt({ name: 'remote__simple-prompt' });
        expect(prompt.messages.length).toBeGreaterThan(0);
      } finally {
        await client.close();
      }

      const events = await agentAuditEvents(mode, workspace, agent);
      const calls = events
        .filter((e) => e.type === 'mcp.call')
        .map((e) => [e.data.name, e.data.decision, e.data.outcome]);
      expect(calls).toEqual([
        ['remote__echo', 'allow', 'ok'],
        ['remote__get-sum', 'deny', 'denied'],
        ['remote__simple-prompt', 'allow', 'ok'],
      ]);
      // The bridge reached the server through its own egress proxy, which allowed exactly that address.
      const egress = events.filter((e) => e.type === 'egress.allowed' || e.type === 'egress.denied');
      expect(egress.length).toBeGreaterThan(0);
      expect(
        egress.every(
          (e) =>
            e.type === 'egress.allowed' &&
            e.agent.name === 'mcp:remote' &&
            e.data.host === REMOTE_HOST &&
            e.data.port === port,
        ),
      ).toBe(true);
    },
    60_000,
  );

  it.skipIf(!nodeOnSandboxPath)(
    'GW-06 a required remote server that cannot be reached stops the gateway start with a clear error (GATEWAY_START_FAILED), on record; one not required is left out with a warning',
    async () => {
      workspace = makeWorkspace(mode);
      const closedPort = await freePort();
      const url = `http://${REMOTE_HOST}:${closedPort}/mcp`;
      const optional = writeConfig(join(workspace, '..'), url);
      const left = await warden(
        mode,
        [
          '--config',
          optional,
          'gateway',
          '--stdio',
          '--workspace',
          workspace,
          '--agent',
          `remote-optional-${basename(dirname(workspace))}`,
        ],
        { cwd: workspace, input: '', timeoutMs: 45_000 },
      );
      expect(left.code, left.stderr).toBe(0);
      expect(left.stderr).toContain("warning: MCP server 'remote' did not start; continuing without its tools");
      expect(left.stderr).toContain('the remote MCP server could not be reached');
      const config = writeConfig(join(workspace, '..'), url, true);
      const agent = `remote-down-${basename(dirname(workspace))}`;
      const result = await warden(
        mode,
        ['--config', config, 'gateway', '--stdio', '--workspace', workspace, '--agent', agent],
        { cwd: workspace, input: '', timeoutMs: 45_000 },
      );
      expect(result.code, result.stderr).toBe(125);
      expect(result.stderr).toContain("MCP server 'remote' did not start");
      expect(result.stderr).toContain('the remote MCP server could not be reached');
      expect(result.stderr).toContain('GATEWAY_START_FAILED');
      const events = await agentAuditEvents(mode, workspace, agent);
      const failed = events.find((e) => e.type === 'mcp.server' && e.data.state === 'failed');
      expect(String(failed?.data.detail)).toContain('could not be reached');
      // The bridge's attempt went through its proxy, which allowed the address (nothing listened there).
      expect(
        events.some((e) => e.type === 'egress.allowed' && e.agent.name === 'mcp:remote' && e.data.port === closedPort),
      ).toBe(true);
    },
    60_000,
  );

  it.skipIf(!nodeOnSandboxPath)(
    "SEC-04 a remote server's credentials come from warden's environment or the secret store, reach the server, and nothing else: not the agent, not the audit log",
    async () => {
      workspace = makeWorkspace(mode);
      const secret = `s3cret-${basename(dirname(workspace))}`;
      const authPort = await freePort();
      const log = join(dirname(workspace), 'auth-requests.jsonl');
      writeFileSync(log, '');
      const fixture = spawn(
        process.execPath,
        [join(REPO, 'test/gateway/fixtures/auth-http-server.mjs'), REMOTE_HOST, String(authPort), secret, log],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      try {
        await new Promise<void>((resolve, reject) => {
          fixture.stdout?.once('data', () => resolve());
          fixture.once('exit', (code) => reject(new Error(`the fixture exited (${String(code)})`)));
        });
        const config = join(dirname(workspace), 'warden.yaml');
        writeFileSync(
          config,
          `version: 1
servers:
  remote:
    url: "http://${REMOTE_HOST}:${authPort}/mcp"
    headers:
      Authorization: { from_env: REMOTE_TEST_AUTH }
profiles:
  default:
    mcp:
      allow:
        - server: remote
          tools: [whoami]
`,
          { mode: 0o644 },
        );
        // Without the variable the gateway does not start, and says which variable is missing.
        const missing = await warden(mode, ['--config', config, 'gateway', '--stdio', '--workspace', workspace], {
          cwd: workspace,
          input: '',
        });
        expect(missing.code).toBe(125);
        expect(missing.stderr).toContain('REMOTE_TEST_AUTH');

        const agent = `remote-auth-${basename(dirname(workspace))}`;
        const client = await connect(mode, workspace, config, agent, { REMOTE_TEST_AUTH: `Bearer ${secret}` });
        try {
          expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['remote__whoami']);
          const answer = await client.callTool({ name: 'remote__whoami', arguments: {} });
          expect(JSON.stringify(answer.content)).toContain('authorized caller');
          expect(JSON.stringify(answer)).not.toContain(secret);
        } finally {
          await client.close();
        }
        // The server saw the header on its requests; the audit log of the run holds no trace of it.
        const seen = readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, string>);
        expect(seen.some((h) => h['authorization'] === `Bearer ${secret}`)).toBe(true);
        const events = await agentAuditEvents(mode, workspace, agent);
        expect(events.length).toBeGreaterThan(0);
        expect(JSON.stringify(events)).not.toContain(secret);

        // The same header from the encrypted secret store (from_secret), with nothing in the environment.
        const stored = `remote-auth-${basename(dirname(workspace))}`.toLowerCase().slice(0, 60);
        writeFileSync(
          config,
          readFileSync(config, 'utf8').replace('{ from_env: REMOTE_TEST_AUTH }', `{ from_secret: ${stored} }`),
        );
        const set = await warden(mode, ['--config', config, 'secrets', 'set', stored], {
          cwd: workspace,
          input: `Bearer ${secret}\n`,
        });
        expect(set.code, set.stderr).toBe(0);
        try {
          const fromStore = await connect(mode, workspace, config, `${agent}-store`);
          try {
            const answer = await fromStore.callTool({ name: 'remote__whoami', arguments: {} });
            expect(JSON.stringify(answer.content)).toContain('authorized caller');
          } finally {
            await fromStore.close();
          }
        } finally {
          await warden(mode, ['--config', config, 'secrets', 'rm', stored], { cwd: workspace });
        }
      } finally {
        fixture.kill('SIGKILL');
      }
    },
    60_000,
  );
});
