/**
 * SSE resumability of the gateway's Streamable HTTP endpoint (MCP 2025-11-25, "Resumability and
 * Redelivery"), through `warden gateway --listen` with the SDK's real client and warden's
 * conformance fixture server in its sandbox. The client's connection is cut in the middle of a
 * tool call's SSE stream (after its first progress notification); the client reconnects with
 * Last-Event-ID and must get every notification and the result exactly once.
 *
 *   GW-08 a Last-Event-ID that is not this session's own kept event (another session's, made up)
 *         is refused, and no other session's events are ever replayed.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  availableModes,
  giveToSandbox,
  makeWorkspace,
  removeWorkspace,
  REPO,
  SANDBOX_USER,
  TEST_USER,
  warden,
  type Mode,
  type WardenResult,
} from '../helpers/warden.js';

const MODULES = join(REPO, 'node_modules');
const FIXTURES = join(REPO, 'test', 'conformance', 'fixtures');
const FIXTURE = join(FIXTURES, 'conformance-server.mjs');

function readable(mode: Mode): boolean {
  const user = mode === 'root' ? SANDBOX_USER : TEST_USER;
  return spawnSync('runuser', ['-u', user, '--', 'test', '-r', FIXTURE]).status === 0;
}

interface Listening {
  readonly url: string;
  readonly pid: number;
  readonly done: Promise<WardenResult>;
}

/** warden.yaml granting every tool of the conformance fixture, names as the server has them. */
function writeConfig(workspace: string): string {
  const config = join(dirname(workspace), 'warden.yaml');
  const server = {
    command: 'node',
    args: [FIXTURE, 'stdio', dirname(workspace)],
    filesystem: { read_only: [MODULES, FIXTURES] },
  };
  writeFileSync(
    config,
    `${JSON.stringify({
      version: 1,
      servers: { conformance: server },
      profiles: { default: { mcp: { names: 'upstream', allow: [{ server: 'conformance', tools: ['*'] }] } } },
    })}\n`,
    { mode: 0o644 },
  );
  return config;
}

async function listen(mode: Mode, config: string, workspace: string, agent: string): Promise<Listening> {
  let pid = -1;
  let text = '';
  let found: (url: string) => void = () => undefined;
  const url = new Promise<string>((resolve) => (found = resolve));
  const done = warden(
    mode,
    ['--config', config, 'gateway', '--listen', '127.0.0.1:0', '--workspace', workspace, '--agent', agent],
    {
      cwd: workspace,
      timeoutMs: 90_000,
      onSpawn: (p) => (pid = p),
      onStderr: (chunk) => {
        text += chunk;
        const match = /(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(text);
        if (match?.[1] !== undefined) found(match[1]);
      },
    },
  );
  const first = await Promise.race([url, done.then((r) => r)]);
  if (typeof first !== 'string')
    throw new Error(`the gateway exited before listening (${String(first.code)}): ${first.stderr}`);
  return { url: first, pid, done };
}

/**
 * A fetch that records the SSE event ids each response carried and the Last-Event-ID of each
 * request, and, while `cut.armed`, ends the first SSE response that carries a progress
 * notification right after that chunk: the client's connection to the gateway is torn down.
 */
function cuttingFetch(cut: { armed: boolean; done: boolean }, seenIds: string[], resumedWith: string[]) {
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const last = new Headers(init?.headers).get('last-event-id');
    if (last !== null) resumedWith.push(last);
    const response = await fetch(input, init);
    const body = response.body;
    if (body === null || !(response.headers.get('content-type') ?? '').includes('text/event-stream')) return response;
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = (await reader.read()) as { done: boolean; value?: Uint8Array };
        const value = next.value;
        if (next.done || value === undefined) {
          controller.close();
          return;
        }
        const text = decoder.decode(value, { stream: true });
        for (const m of text.matchAll(/^id: ?(.+)$/gm)) seenIds.push(m[1] ?? '');
        controller.enqueue(value);
        if (cut.armed && text.includes('notifications/progress')) {
          cut.armed = false;
          cut.done = true;
          // The connection goes away mid-stream, as when a network drops.
          await reader.cancel();
          controller.error(new TypeError('connection cut by the test'));
        }
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return new Response(stream, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

describe.each(availableModes())('SSE resumability of the HTTP endpoint (warden as %s)', (mode: Mode) => {
  let workspace = '';
  let gateway: Listening | null = null;
  const clients: Client[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close().catch(() => undefined);
    if (gateway !== null) {
      process.kill(gateway.pid, 'SIGKILL');
      await gateway.done;
      gateway = null;
    }
    if (workspace !== '') removeWorkspace(workspace);
    workspace = '';
  });

  async function start(): Promise<{ url: string; token: string }> {
    workspace = makeWorkspace(mode);
    const config = writeConfig(workspace);
    giveToSandbox(mode, workspace);
    const agent = `resume-${basename(dirname(workspace))}`;
    gateway = await listen(mode, config, workspace, agent);
    const issued = await warden(mode, ['--config', config, 'token', 'issue', '--agent', agent, '--ttl', '10m'], {
      cwd: workspace,
    });
    expect(issued.code, issued.stderr).toBe(0);
    return { url: gateway.url, token: issued.stdout.trim() };
  }

  async function connect(
    url: string,
    token: string,
    fetchImpl?: ReturnType<typeof cuttingFetch>,
  ): Promise<{ client: Client; wire: JSONRPCMessage[]; transport: StreamableHTTPClientTransport }> {
    const transport = new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
      ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
      reconnectionOptions: {
        initialReconnectionDelay: 200,
        maxReconnectionDelay: 1000,
        reconnectionDelayGrowFactor: 1.5,
        maxRetries: 3,
      },
    });
    const client = new Client({ name: 'resume-test', version: '1.0.0' });
    clients.push(client);
    await client.connect(transport);
    // Every message that reaches the client, as it arrives (after the SDK's transport).
    const wire: JSONRPCMessage[] = [];
    const inner = transport.onmessage;
    transport.onmessage = (message: JSONRPCMessage) => {
      wire.push(message);
      inner?.(message);
    };
    return { client, wire, transport };
  }

  it.skipIf(!readable(mode))(
    'a stream cut after the first progress notification is resumed with Last-Event-ID: every notification and the result arrive exactly once',
    async () => {
      const { url, token } = await start();
      const cut = { armed: true, done: false };
      const seenIds: string[] = [];
      const resumedWith: string[] = [];
      const { client, wire } = await connect(url, token, cuttingFetch(cut, seenIds, resumedWith));
      const progress: number[] = [];
      const result = await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, {
        onprogress: (p) => progress.push(p.progress),
        timeout: 30_000,
      });
      expect(cut.done).toBe(true);
      // The client resumed from an event id the gateway gave it on the cut stream.
      expect(resumedWith.length).toBeGreaterThanOrEqual(1);
      expect(seenIds).toContain(resumedWith[0]);
      expect(progress).toEqual([0, 50, 100]);
      const progressOnWire = wire.filter((m) => 'method' in m && m.method === 'notifications/progress');
      expect(progressOnWire).toHaveLength(3);
      const results = wire.filter((m) => 'result' in m && JSON.stringify(m.result).includes('content'));
      expect(results).toHaveLength(1);
      expect(result.content).toEqual([{ type: 'text', text: expect.any(String) as unknown }]);
      // The session goes on serving.
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('test_tool_with_progress');
    },
    90_000,
  );

  it.skipIf(!readable(mode))(
    "GW-08 a Last-Event-ID from another session, or one never issued, is refused (400, -32600), and no other session's events are replayed",
    async () => {
      const { url, token } = await start();
      // Session A: a call whose stream carries event ids.
      const seenA: string[] = [];
      const a = await connect(url, token, cuttingFetch({ armed: false, done: false }, seenA, []));
      await a.client.callTool({ name: 'test_tool_with_progress', arguments: {} });
      const idOfA = seenA.at(-1) ?? '';
      expect(idOfA).not.toBe('');
      // Session B (the same agent: the refusal is about the session, not the credential).
      const b = await connect(url, token);
      const sessionB = b.transport.sessionId ?? '';
      expect(sessionB).not.toBe('');

      const resume = (lastEventId: string): Promise<Response> =>
        fetch(url, {
          method: 'GET',
          headers: {
            Authorization: `Bearer ${token}`,
            Accept: 'text/event-stream',
            'mcp-session-id': sessionB,
            'mcp-protocol-version': '2025-11-25',
            'last-event-id': lastEventId,
          },
        });
      for (const lastEventId of [idOfA, 'made-up', `${idOfA.split('.')[0] ?? ''}.1`]) {
        const r = await resume(lastEventId);
        const body = await r.text();
        expect({ lastEventId, status: r.status, type: r.headers.get('content-type') }).toEqual({
          lastEventId,
          status: 400,
          type: 'application/json',
        });
        const error = (JSON.parse(body) as { error: { code: number; message: string } }).error;
        expect(error.code).toBe(-32600);
        expect(error.message).toContain('Last-Event-ID is not an event of this session');
        // Nothing of session A's stream is in the answer.
        expect(body).not.toContain('notifications/progress');
      }
      // Session A itself may resume from its own id (nothing left to replay after the result:
      // the stream opens, with no event of any other stream).
      const own = await fetch(url, {
        method: 'GET',
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'text/event-stream',
          'mcp-session-id': a.transport.sessionId ?? '',
          'mcp-protocol-version': '2025-11-25',
          'last-event-id': idOfA,
        },
      });
      expect(own.status).toBe(200);
      await own.body?.cancel();
    },
    90_000,
  );
});
