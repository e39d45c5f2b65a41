/**
 * Requests a server sends the agent (sampling, elicitation, roots), relayed by the gateway only
 * where the profile's `mcp.relay` says so: the npm server-everything (which offers its
 * trigger-* tools only to clients that declare those capabilities) behind `warden gateway
 * --stdio`, driven by the MCP SDK's real client acting as the agent.
 */
import { writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  type ClientCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  agentAuditEvents,
  availableModes,
  gatewayStdioCommand,
  makeWorkspace,
  readableBySandbox,
  removeWorkspace,
  REPO,
  type Mode,
} from '../helpers/warden.js';

const MODULES = join(REPO, 'node_modules');
const SERVER_EVERYTHING = join(MODULES, '@modelcontextprotocol/server-everything/dist/index.js');

const modulesReadable = (mode: Mode): boolean => readableBySandbox(mode, SERVER_EVERYTHING);

/** warden.yaml in `dir`: server-everything, and `mcp` as the default profile's mcp section (YAML, indented 6). */
function writeConfig(dir: string, mcp: string): string {
  const path = join(dir, 'warden.yaml');
  writeFileSync(
    path,
    `version: 1
servers:
  everything:
    command: node
    args: [${JSON.stringify(SERVER_EVERYTHING)}, stdio]
    filesystem: { read_only: [${JSON.stringify(MODULES)}] }
profiles:
  default:
    mcp:
${mcp}`,
    { mode: 0o644 },
  );
  return path;
}

/** Everything of server-everything's tools, plus `relay` lines. */
const grantAllTools = (relay = ''): string => `      allow:
        - server: everything
          tools: ["*"]
${relay}`;

const SAMPLED = 'sampled by the test agent';

/** The SDK client as the agent, declaring `capabilities` and answering what the server asks. */
async function connect(
  mode: Mode,
  workspace: string,
  config: string,
  agent: string,
  capabilities: ClientCapabilities,
  seen: { method: string; params: unknown }[],
): Promise<Client> {
  const transport = new StdioClientTransport({
    ...gatewayStdioCommand(mode, { workspace, config, agent }),
    stderr: 'pipe',
  });
  const client = new Client({ name: 'relay-test-agent', version: '1.0.0' }, { capabilities });
  if (capabilities.sampling !== undefined) {
    client.setRequestHandler(CreateMessageRequestSchema, (request) => {
      seen.push({ method: request.method, params: request.params });
      return {
        role: 'assistant',
        content: { type: 'text', text: SAMPLED },
        model: 'test-model',
        stopReason: 'endTurn',
      };
    });
  }
  if (capabilities.elicitation !== undefined) {
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      seen.push({ method: request.method, params: request.params });
      return { action: 'decline' };
    });
  }
  if (capabilities.roots !== undefined) {
    client.setRequestHandler(ListRootsRequestSchema, (request) => {
      seen.push({ method: request.method, params: request.params });
      return { roots: [{ uri: 'file:///relay-test-root', name: 'relay test root' }] };
    });
  }
  await client.connect(transport);
  return client;
}

function text(result: unknown): string {
  return JSON.stringify((result as { content?: unknown }).content ?? result);
}

describe.each(availableModes())('relayed server requests (warden as %s)', (mode: Mode) => {
  let workspace = '';
  afterEach(() => removeWorkspace(workspace));

  it.skipIf(!modulesReadable(mode))(
    'GW-01 sampling, elicitation and roots reach the agent only where mcp.relay grants them, each on record',
    async () => {
      workspace = makeWorkspace(mode);
      const config = writeConfig(
        join(workspace, '..'),
        grantAllTools('      relay:\n        everything: [sampling, elicitation, roots]\n'),
      );
      const agent = `relay-test-${basename(dirname(workspace))}`;
      const seen: { method: string; params: unknown }[] = [];
      const client = await connect(mode, workspace, config, agent, { sampling: {}, elicitation: {}, roots: {} }, seen);
      try {
        const names = (await client.listTools()).tools.map((t) => t.name);
        expect(names).toEqual(
          expect.arrayContaining([
            'everything__trigger-sampling-request',
            'everything__trigger-elicitation-request',
            'everything__get-roots-list',
          ]),
        );

        const sampled = await client.callTool({
          name: 'everything__trigger-sampling-request',
          arguments: { prompt: 'hello from the test', maxTokens: 10 },
        });
        expect(text(sampled)).toContain(SAMPLED);
        const elicited = await client.callTool({ name: 'everything__trigger-elicitation-request', arguments: {} });
        expect(text(elicited)).toMatch(/decline/i);
        const roots = await client.callTool({ name: 'everything__get-roots-list', arguments: {} });
        expect(text(roots)).toContain('file:///relay-test-root');
      } finally {
        await client.close();
      }
      // The agent saw the server's own requests, unchanged.
      expect(seen.map((s) => s.method)).toEqual(
        expect.arrayContaining(['sampling/createMessage', 'elicitation/create', 'roots/list']),
      );
      const sampling = seen.find((s) => s.method === 'sampling/createMessage')?.params as {
        messages: { content: { text: string } }[];
      };
      expect(sampling.messages[0]?.content.text).toContain('hello from the test');

      const events = await agentAuditEvents(mode, workspace, agent);
      const relayed = events.filter(
        (e) =>
          e.type === 'mcp.call' &&
          ['sampling', 'elicitation', 'roots'].includes(String(e.data.subject)) &&
          e.data.decision === 'allow',
      );
      expect(
        relayed.map((e) => [e.data.subject, e.data.name, e.data.outcome, (e.data.policy_ids as string[])[0]]),
      ).toEqual(
        expect.arrayContaining([
          ['sampling', 'sampling/createMessage', 'ok', 'default.relay.everything.sampling'],
          ['elicitation', 'elicitation/create', 'ok', 'default.relay.everything.elicitation'],
          ['roots', 'roots/list', 'ok', 'default.relay.everything.roots'],
        ]),
      );
      const samplingRecord = relayed.find((e) => e.data.subject === 'sampling');
      expect(samplingRecord?.data.arguments).toMatchObject({
        bytes: expect.any(Number),
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      const elicitationRecord = relayed.find((e) => e.data.subject === 'elicitation');
      expect(elicitationRecord?.data.arguments).toMatchObject({
        message: 'Please provide inputs for the following fields:',
      });
    },
    90_000,
  );

  it.skipIf(!modulesReadable(mode))(
    'GW-01 without mcp.relay the server is not offered sampling or elicitation: its tools that need them do not exist, even for an agent that supports both',
    async () => {
      workspace = makeWorkspace(mode);
      const config = writeConfig(join(workspace, '..'), grantAllTools());
      const agent = `relay-none-${basename(dirname(workspace))}`;
      const seen: { method: string; params: unknown }[] = [];
      const client = await connect(mode, workspace, config, agent, { sampling: {}, elicitation: {}, roots: {} }, seen);
      try {
        const names = (await client.listTools()).tools.map((t) => t.name);
        expect(names).toContain('everything__echo');
        expect(names.filter((n) => /sampling|elicitation|roots/.test(n))).toEqual([]);
        await expect(
          client.callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: 'x' } }),
        ).rejects.toMatchObject({ code: -32602 });
      } finally {
        await client.close();
      }
      expect(seen).toEqual([]);
    },
    90_000,
  );

  it.skipIf(!modulesReadable(mode))(
    'logging/setLevel reaches the server and its log messages reach the agent; resources/subscribe and completion/complete are decided like a read or a prompt and on record',
    async () => {
      workspace = makeWorkspace(mode);
      const config = writeConfig(
        join(workspace, '..'),
        `      allow:
        - server: everything
          tools: [toggle-simulated-logging]
          prompts: [completable-prompt]
          resources: ["demo://resource/static/*"]
`,
      );
      const agent = `relay-logs-${basename(dirname(workspace))}`;
      const client = await connect(mode, workspace, config, agent, {}, []);
      const logs: unknown[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
      let granted = '';
      try {
        await client.setLoggingLevel('debug');
        await client.callTool({ name: 'everything__toggle-simulated-logging', arguments: {} });
        for (let i = 0; i < 50 && logs.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
        expect(logs.length).toBeGreaterThan(0);
        expect(logs[0]).toMatchObject({ level: expect.any(String), data: expect.anything() });

        const resources = (await client.listResources()).resources.map((r) => r.uri);
        granted = resources[0] ?? '';
        expect(granted).toMatch(/^demo:\/\/resource\/static\//);
        await expect(client.subscribeResource({ uri: granted })).resolves.toEqual({});
        await expect(client.unsubscribeResource({ uri: granted })).resolves.toEqual({});
        // Not granted (and not a resource the server lists): refused like a read would be.
        await expect(client.subscribeResource({ uri: 'test://watched-resource' })).rejects.toMatchObject({
          code: -32602,
        });

        // completion/complete for a granted prompt's argument comes from its server, by the upstream name.
        const completion = await client.complete({
          ref: { type: 'ref/prompt', name: 'everything__completable-prompt' },
          argument: { name: 'department', value: 'S' },
        });
        expect(completion.completion.values).toEqual(['Sales', 'Support']);
        const withContext = await client.complete({
          ref: { type: 'ref/prompt', name: 'everything__completable-prompt' },
          argument: { name: 'name', value: '' },
          context: { arguments: { department: 'Engineering' } },
        });
        expect(withContext.completion.values).toEqual(['Alice', 'Bob', 'Charlie']);
        // A prompt that is not granted gets nothing, like getting it.
        await expect(
          client.complete({
            ref: { type: 'ref/prompt', name: 'everything__args-prompt' },
            argument: { name: 'city', value: '' },
          }),
        ).rejects.toMatchObject({ code: -32602 });
      } finally {
        await client.close();
      }
      const events = await agentAuditEvents(mode, workspace, agent);
      const subscriptions = events
        .filter((e) => e.type === 'mcp.call' && typeof e.data.method === 'string')
        .map((e) => [e.data.method, e.data.name, e.data.decision, e.data.outcome]);
      expect(subscriptions).toEqual([
        ['resources/subscribe', granted, 'allow', 'ok'],
        ['resources/unsubscribe', granted, 'allow', 'ok'],
        ['resources/subscribe', 'test://watched-resource', 'deny', 'unknown'],
        ['completion/complete', 'everything__completable-prompt', 'allow', 'ok'],
        ['completion/complete', 'everything__completable-prompt', 'allow', 'ok'],
        ['completion/complete', 'everything__args-prompt', 'deny', 'denied'],
      ]);
    },
    90_000,
  );

  it.skipIf(!modulesReadable(mode))(
    'a relayed request to an agent that does not support it fails for the server, and is on record as agent_error',
    async () => {
      workspace = makeWorkspace(mode);
      const config = writeConfig(
        join(workspace, '..'),
        grantAllTools('      relay:\n        everything: [sampling]\n'),
      );
      const agent = `relay-unsupported-${basename(dirname(workspace))}`;
      const seen: { method: string; params: unknown }[] = [];
      const client = await connect(mode, workspace, config, agent, {}, seen);
      try {
        const result = await client
          .callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: 'x', maxTokens: 5 } })
          .catch((error: unknown) => ({ error }));
        expect(JSON.stringify(result)).toMatch(/sampling/i);
      } finally {
        await client.close();
      }
      expect(seen).toEqual([]);
      const events = await agentAuditEvents(mode, workspace, agent);
      const record = events.find((e) => e.type === 'mcp.call' && e.data.subject === 'sampling');
      expect(record?.data).toMatchObject({ decision: 'allow', outcome: 'agent_error', name: 'sampling/createMessage' });
      expect(String(record?.data.error)).toMatch(/sampling/i);
    },
    90_000,
  );
});
