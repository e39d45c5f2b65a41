/**
 * The MCP gateway end to end, as a user meets it: real MCP servers from npm
 * (server-filesystem, server-everything) each in its own sandbox behind `warden gateway --stdio`,
 * driven by the MCP SDK's real client; and a `warden run` agent reaching the gateway at
 * $WARDEN_MCP_URL over the forwarded Streamable HTTP endpoint.
 */
import { writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  agentAuditEvents,
  availableModes,
  gatewayStdioCommand,
  giveToSandbox,
  makeWorkspace,
  probeValues,
  readableBySandbox,
  removeWorkspace,
  REPO,
  warden,
  type Mode,
} from '../helpers/warden.js';
import { invalidArguments } from './scene.js';

const MODULES = join(REPO, 'node_modules');
const SERVER_FILESYSTEM = join(MODULES, '@modelcontextprotocol/server-filesystem/dist/index.js');
const SERVER_EVERYTHING = join(MODULES, '@modelcontextprotocol/server-everything/dist/index.js');

/** The servers' code must be readable by whoever the sandboxes run as. */
const modulesReadable = (mode: Mode): boolean => readableBySandbox(mode, SERVER_FILESYSTEM);

function writeConfig(dir: string): string {
  const path = join(dir, 'warden.yaml');
  writeFileSync(
    path,
    `version: 1
servers:
  files:
    command: node
    args: [${JSON.stringify(SERVER_FILESYSTEM)}, "\${workspace}"]
    workspace: read-write
    filesystem: { read_only: [${JSON.stringify(MODULES)}] }
  everything:
    command: node
    args: [${JSON.stringify(SERVER_EVERYTHING)}, stdio]
    filesystem: { read_only: [${JSON.stringify(MODULES)}] }
profiles:
  default:
    mcp:
      allow:
        - server: files
          tools: [read_text_file, list_directory, write_file]
          when: { path: { under: ["\${workspace}"] } }
        - server: everything
          tools: [echo]
          prompts: [simple-prompt]
      deny:
        - server: files
          tools: [write_file]
`,
    { mode: 0o644 },
  );
  return path;
}

async function connect(mode: Mode, workspace: string, config: string): Promise<Client> {
  // A unique agent name finds this gateway's run in the audit log (other suites write there too).
  const client = new Client({ name: 'gateway-test', version: '1.0.0' });
  await client.connect(
    new StdioClientTransport({
      ...gatewayStdioCommand(mode, { workspace, config, agent: `gw-test-${basename(dirname(workspace))}` }),
      stderr: 'pipe',
    }),
  );
  return client;
}

async function rpcError(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
  } catch (error) {
    return { code: (error as { code: number }).code, message: (error as Error).message };
  }
  throw new Error('the call succeeded but should have been refused');
}

describe.each(availableModes())('MCP gateway (warden as %s)', (mode: Mode) => {
  let workspace = '';
  afterEach(() => removeWorkspace(workspace));

  it.skipIf(!modulesReadable(mode))(
    'GW-01 GW-04 AUD-01 real servers behind the stdio gateway: hidden tools absent and refused, path conditions enforced, every call audited',
    async () => {
      workspace = makeWorkspace(mode);
      const config = writeConfig(join(workspace, '..'));
      writeFileSync(join(workspace, 'notes.txt'), 'hello from the workspace\n');
      giveToSandbox(mode, workspace);
      const client = await connect(mode, workspace, config);
      try {
        // GW-01: only the granted tools are listed; a forbidden one is absent.
        const names = (await client.listTools()).tools.map((t) => t.name).sort();
        expect(names).toEqual(['everything__echo', 'files__list_directory', 'files__read_text_file']);
        expect(names.every((n) => /^[a-zA-Z0-9_-]{1,64}$/.test(n))).toBe(true);

        // Allowed calls reach the real servers.
        const echo = await client.callTool({ name: 'everything__echo', arguments: { message: 'ping' } });
        expect(echo.content).toEqual([{ type: 'text', text: 'Echo: ping' }]);
        const read = await client.callTool({
          name: 'files__read_text_file',
          arguments: { path: join(workspace, 'notes.txt') },
        });
        expect(JSON.stringify(read.content)).toContain('hello from the workspace');

        // GW-01: hidden is not callable: forbidden (write_file) and never granted (edit_file).
        expect(
          (
            await rpcError(
              client.callTool({ name: 'files__write_file', arguments: { path: join(workspace, 'x'), content: 'x' } }),
            )
          ).code,
        ).toBe(-32602);
        expect(
          (
            await rpcError(
              client.callTool({ name: 'files__edit_file', arguments: { path: join(workspace, 'x'), edits: [] } }),
            )
          ).code,
        ).toBe(-32602);
        // GW-04: argument conditions on normalised paths, and the inputSchema.
        expect(
          (await rpcError(client.callTool({ name: 'files__read_text_file', arguments: { path: '/etc/passwd' } }))).code,
        ).toBe(-32003);
        expect(
          (
            await rpcError(
              client.callTool({ name: 'files__read_text_file', arguments: { path: `${workspace}/../../etc/passwd` } }),
            )
          ).code,
        ).toBe(-32003);
        expect(await invalidArguments(client.callTool({ name: 'files__read_text_file', arguments: {} }))).toContain(
          'files__read_text_file',
        );
        // Prompts follow the same grants.
        expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(['everything__simple-prompt']);
      } finally {
        await client.close();
      }

      // AUD-01: exactly one final record per call, denied and invalid ones included, with policy ids.
      const events = await agentAuditEvents(mode, workspace, `gw-test-${basename(dirname(workspace))}`);
      const calls = events
        .filter((e) => e.type === 'mcp.call')
        .map((e) => [e.data.name, e.data.decision, e.data.outcome]);
      expect(calls).toEqual([
        ['everything__echo', 'allow', 'ok'],
        ['files__read_text_file', 'allow', 'ok'],
        ['files__write_file', 'deny', 'denied'],
        ['files__edit_file', 'deny', 'denied'],
        ['files__read_text_file', 'deny', 'denied'],
        ['files__read_text_file', 'deny', 'denied'],
        ['files__read_text_file', 'deny', 'invalid'],
      ]);
      const allowedRead = events.find(
        (e) => e.type === 'mcp.call' && e.data.name === 'files__read_text_file' && e.data.decision === 'allow',
      );
      expect(allowedRead?.data.policy_ids).toEqual(['default.allow[0].tool.read_text_file.call']);
      const forbidden = events.find((e) => e.type === 'mcp.call' && e.data.name === 'files__write_file');
      expect(forbidden?.data.policy_ids).toEqual(['default.deny[0].tool.write_file.call']);
      expect(
        events
          .filter((e) => e.type === 'mcp.server' && e.data.state === 'started')
          .map((e) => e.data.server)
          .sort(),
      ).toEqual(['everything', 'files']);
    },
  );

  it.skipIf(!modulesReadable(mode))(
    'GW-08 an agent under warden run finds the gateway at WARDEN_MCP_URL with its token; without the token it gets 401, a foreign Host 403',
    async () => {
      workspace = makeWorkspace(mode);
      const configDir = join(workspace, '..');
      writeConfig(configDir);
      const init = JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
      });
      const script = [
        `echo CONFIG_URL=$(sed -n 's/.*"url": "\\(.*\\)".*/\\1/p' "$WARDEN_MCP_CONFIG")`,
        `echo URL=$WARDEN_MCP_URL`,
        `echo AUTHED=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $WARDEN_MCP_TOKEN" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' --data '${init}' "$WARDEN_MCP_URL")`,
        `echo ANON=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' --data '${init}' "$WARDEN_MCP_URL")`,
        `echo EVIL_HOST=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' -H "Authorization: Bearer $WARDEN_MCP_TOKEN" -H 'Content-Type: application/json' --data '${init}' "$WARDEN_MCP_URL")`,
      ].join('; ');
      const run = await warden(
        mode,
        ['--config', join(configDir, 'warden.yaml'), 'run', '--', '/bin/sh', '-c', script],
        { cwd: workspace },
      );
      const values = probeValues(run.stdout);
      expect(run.code, run.stderr).toBe(0);
      expect(values.get('URL')).toBe('http://127.0.0.1:3129/mcp');
      expect(values.get('CONFIG_URL')).toBe('http://127.0.0.1:3129/mcp');
      expect(values.get('AUTHED')).toBe('200');
      expect(values.get('ANON')).toBe('401');
      // GW-08: DNS rebinding — a foreign Host header is refused.
      expect(values.get('EVIL_HOST')).toBe('403');
    },
  );
});
