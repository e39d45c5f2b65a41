/**
 * GW-05 / GW-08 fuzzing of the gateway's two agent-facing endpoints, in process: the Streamable
 * HTTP endpoint (http-endpoint.ts) on a loopback port, driven over raw sockets so that any bytes
 * and headers can be sent, and the stdio endpoint (stdio-endpoint.ts) on a stream pair. Behind
 * both sits a real Gateway with one tiny in-process upstream MCP server ("fake": tools echo and
 * slow) that records every argument object it receives.
 *
 * Properties: nothing crashes or hangs; every answer is a status from the expected set, with a
 * well-formed JSON-RPC error body when it is one (for a boundary refusal, exactly the
 * boundary's own error); what the boundary refuses reaches neither the session nor the upstream,
 * and what it accepts arrives unchanged; the endpoints keep serving afterwards.
 */
import { StringDecoder } from 'node:string_decoder';
import { connect as netConnect } from 'node:net';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { Server as McpServer } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord, EventSink } from '../core/events.js';
import type { CompiledProfile, PolicyEngine } from '../policy/index.js';
import { Gateway } from './gateway.js';
import { HttpEndpoint, type AuthResult } from './http-endpoint.js';
import { boundaryErrorResponse, parseJsonRpc, type BoundaryLimits } from './jsonrpc-boundary.js';
import { ArgumentRedactor } from './redact.js';
import { createSessionServer } from './session.js';
import type { SessionLimits } from './session-guard.js';
import { serveStdio } from './stdio-endpoint.js';
import type { LaunchUpstream } from './upstream.js';
import {
  cleanJsonObject,
  concatBytes,
  fragmentText,
  INVALID_UTF8,
  mutatedText,
  rpcErrorProblem,
  rpcResponseProblem,
  utf8,
  validId,
  validText,
} from '../../test/kits/gateway-fuzz.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const PROTOCOL_VERSION = '2025-06-18';
const INITIALIZE = {
  protocolVersion: PROTOCOL_VERSION,
  capabilities: {},
  clientInfo: { name: 'fuzz', version: '1.0.0' },
};

// ---------------------------------------------------------------------------------------
// A gateway with one in-process upstream.

/** What the fake upstream received: one entry per tools/call that reached it. */
interface UpstreamCall {
  readonly name: string;
  readonly args: unknown;
}

interface Fixture {
  readonly gateway: Gateway;
  readonly upstreamCalls: UpstreamCall[];
  readonly audit: unknown[];
}

async function startGateway(): Promise<Fixture> {
  const upstreamCalls: UpstreamCall[] = [];
  const audit: unknown[] = [];
  const launch: LaunchUpstream = async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const server = new McpServer({ name: 'fake', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: [
        { name: 'echo', inputSchema: { type: 'object' as const } },
        { name: 'slow', inputSchema: { type: 'object' as const } },
      ],
    }));
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      upstreamCalls.push({ name: request.params.name, args: request.params.arguments });
      // `holdMs` (≤ 2 s) keeps a call in flight for the session guard's tests; else 40 ms.
      const hold = (request.params.arguments as { holdMs?: unknown } | undefined)?.holdMs;
      if (request.params.name === 'slow') await sleep(typeof hold === 'number' && hold <= 2000 ? hold : 40);
      return { content: [{ type: 'text' as const, text: JSON.stringify(request.params.arguments ?? null) }] };
    });
    await server.connect(new StdioServerTransport(stdin, stdout));
    let exit = (): void => undefined;
    const exited = new Promise<void>((resolve) => (exit = resolve));
    return {
      stdin,
      stdout,
      exited,
      stop: async () => {
        await server.close();
        exit();
      },
    };
  };
  const sink: EventSink = {
    append: (event) => {
      audit.push(event);
      return Promise.resolve({} as AuditRecord);
    },
  };
  const policy = { decide: () => ({ allow: true, policyIds: ['fuzz'], reason: 'fuzz' }) } as unknown as PolicyEngine;
  const compiled = { policies: {}, shape: {}, conditionalGrants: [], servers: ['fake'] } as unknown as CompiledProfile;
  const gateway = await Gateway.start({
    profileName: 'fuzz',
    agent: { name: 'fuzz-agent', run_id: 'run-fuzz' },
    workspace: '/tmp',
    policy,
    compiled,
    launch,
    sink,
    redactor: new ArgumentRedactor(Buffer.alloc(32, 7), []),
    callTimeoutMs: 5_000,
    maxResultBytes: 1 << 20,
    startTimeoutMs: 5_000,
  });
  return { gateway, upstreamCalls, audit };
}

/** What a tools/call's arguments look like after a JSON round trip (1e400 -> null, -0 -> 0). */
const overTheWire = (v: unknown): unknown => JSON.parse(JSON.stringify(v ?? null)) as unknown;

// ---------------------------------------------------------------------------------------
// Bodies and lines.

/** Gives generated bytes a short printed form in fast-check's counter-examples. */
function printable(b: Uint8Array): Uint8Array {
  const text = Buffer.from(b).toString('latin1');
  Object.defineProperty(b, fc.toStringMethod, {
    value: () => `bytes(${b.length}):${JSON.stringify(text.slice(0, 300))}${text.length > 300 ? '…' : ''}`,
    enumerable: false,
  });
  return b;
}

/** A tools/call to the fake upstream with arbitrary (clean) arguments. */
const echoCall = fc
  .tuple(validId, cleanJsonObject, fc.constantFrom('fake__echo', 'fake__slow', 'fake__nope', 'echo'))
  .map(([id, args, name]) =>
    JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }),
  );

/**
 * Messages the MCP SDK's own schemas refuse although they are valid JSON-RPC: a `_meta` that is
 * not an object (or has a bad progressToken). Kept out of the general stdio property, which
 * would otherwise stop at the first one; the dedicated property "stdio 4" covers them.
 */
const sdkUnreadable = (text: string): boolean => /"_meta"|\\u005f\\u006d|_meta/i.test(text);

const bodyText = fc.oneof(
  { weight: 4, arbitrary: validText },
  { weight: 4, arbitrary: echoCall },
  { weight: 4, arbitrary: mutatedText },
  { weight: 2, arbitrary: fragmentText },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
);

/** A body as bytes: text, text with invalid UTF-8 spliced in, or random bytes. */
const bodyBytes: fc.Arbitrary<Uint8Array> = fc
  .oneof(
    { weight: 8, arbitrary: bodyText.map(utf8) },
    {
      weight: 1,
      arbitrary: fc.tuple(bodyText, fc.nat(), fc.constantFrom(...INVALID_UTF8)).map(([t, n, seq]) => {
        const b = utf8(t);
        const at = n % (b.length + 1);
        return concatBytes(b.subarray(0, at), seq, b.subarray(at));
      }),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }) },
  )
  .map(printable);

// ---------------------------------------------------------------------------------------
// HTTP over raw sockets.

interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/**
 * Sends raw bytes on a fresh connection and resolves with the first complete response (or null
 * when the server closes without one). Rejects when neither happens within `timeoutMs`: a hang.
 */
function rawExchange(
  port: number,
  bytes: Uint8Array,
  options: { readonly timeoutMs?: number; readonly head?: boolean; readonly halfClose?: boolean } = {},
): Promise<RawResponse | null> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (outcome: () => RawResponse | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      try {
        resolve(outcome());
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(
        new Error(
          `no complete answer within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`,
        ),
      );
    }, timeoutMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const done = parseResponse(Buffer.concat(chunks), options.head === true, false);
      if (done !== undefined) finish(() => done);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(() => parseResponse(Buffer.concat(chunks), options.head === true, true) ?? null));
    if (options.halfClose === true) socket.end(bytes);
    else socket.write(bytes);
  });
}

/**
 * The first response in `all`: undefined while incomplete (unless `closed`), null when nothing
 * was received. A body is framed by Content-Length or chunked encoding, else runs to the close.
 */
function parseResponse(all: Buffer, head: boolean, closed: boolean): RawResponse | null | undefined {
  if (all.length === 0) return closed ? null : undefined;
  const headEnd = all.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    if (closed) throw new Error(`truncated response head: ${JSON.stringify(all.toString('latin1').slice(0, 200))}`);
    return undefined;
  }
  const [statusLine = '', ...headerLines] = all.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(statusLine);
  if (m === null) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(m[1]);
  const rest = all.subarray(headEnd + 4);
  if (head || status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0) };
  if (headers['transfer-encoding'] === 'chunked') {
    const out: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = rest.indexOf('\r\n', at);
      if (eol < 0) break;
      const size = parseInt(rest.subarray(at, eol).toString('latin1'), 16);
      if (size === 0) return { status, headers, body: Buffer.concat(out) };
      if (!(size > 0) || rest.length < eol + 2 + size + 2) break;
      out.push(rest.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    if (closed) throw new Error(`truncated chunked body (status ${status})`);
    return undefined;
  }
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (rest.length >= n) return { status, headers, body: rest.subarray(0, n) };
    if (closed) throw new Error(`truncated body (status ${status}): ${rest.length} of ${n} bytes`);
    return undefined;
  }
  return closed ? { status, headers, body: rest } : undefined;
}

/** The JSON-RPC messages of an SSE body (`data:` lines), or of a JSON body. */
function messagesOf(r: RawResponse): unknown[] {
  const type = r.headers['content-type'] ?? '';
  const text = r.body.toString('utf8');
  if (type.startsWith('text/event-stream')) {
    return text
      .split('\n')
      .filter((l) => l.startsWith('data:') && l.slice(5).trim() !== '')
      .map((l) => JSON.parse(l.slice(5)) as unknown);
  }
  if (type.startsWith('application/json')) return text === '' ? [] : [JSON.parse(text) as unknown];
  return [];
}

interface HttpRequestSpec {
  readonly method: string;
  readonly path: string;
  /** Header name -> value, in order; values are latin1 text. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
  /** How the body is framed: Content-Length, chunked (in pieces), or a Content-Length far over the cap with no body. */
  readonly framing: 'length' | 'chunked' | 'declared-huge';
}

function encodeRequest(
  spec: HttpRequestSpec,
  maxBytes: number,
  chunkSizes: readonly number[] = [7, 50, 1000],
): Uint8Array {
  const head = [
    `${spec.method} ${spec.path} HTTP/1.1`,
    ...spec.headers.map(([k, v]) => `${k}: ${v}`),
    'Connection: close',
  ];
  if (spec.framing === 'length') head.push(`Content-Length: ${spec.body.length}`);
  if (spec.framing === 'declared-huge') head.push(`Content-Length: ${maxBytes + 1 + spec.body.length}`);
  if (spec.framing === 'chunked') head.push('Transfer-Encoding: chunked');
  const parts: (Uint8Array | number[])[] = [Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1')];
  if (spec.framing === 'length') parts.push(spec.body);
  if (spec.framing === 'chunked') {
    let at = 0;
    let k = 0;
    while (at < spec.body.length) {
      const n = Math.min(chunkSizes[k++ % chunkSizes.length] ?? 1, spec.body.length - at);
      parts.push(
        Buffer.from(`${n.toString(16)}\r\n`, 'latin1'),
        spec.body.subarray(at, at + n),
        Buffer.from('\r\n', 'latin1'),
      );
      at += n;
    }
    parts.push(Buffer.from('0\r\n\r\n', 'latin1'));
  }
  // Not concatBytes(...parts): a big body in 1-byte chunks is ~150,000 parts, too many arguments.
  return Buffer.concat(parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p))));
}

// ---------------------------------------------------------------------------------------
// The HTTP fixture.

const TOKEN = 'fuzz-token-0123456789';
const OTHER_TOKEN = 'other-token-0123456789';
const HTTP_LIMITS: BoundaryLimits = { maxBytes: 16 * 1024, maxDepth: 64 };

interface HttpFixture {
  readonly endpoint: HttpEndpoint;
  readonly port: number;
  /** Every message a session's SDK server received from its transport. */
  readonly forwarded: unknown[];
  readonly rejected: { reason: string; code: number }[];
  /** Session ids: one of the main caller, one of another caller. */
  readonly session: string;
  readonly otherSession: string;
}

async function startHttp(
  fx: Fixture,
  maxSessions = 100_000,
  bodyTimeoutMs?: number,
  limits: Partial<SessionLimits> = HTTP_LIMITS,
): Promise<HttpFixture> {
  const forwarded: unknown[] = [];
  const rejected: { reason: string; code: number }[] = [];
  const authenticate = (header: string | undefined): AuthResult => {
    if (header === `Bearer ${TOKEN}`) return { ok: true, caller: { subject: 'agent' } };
    if (header === `Bearer ${OTHER_TOKEN}`) return { ok: true, caller: { subject: 'other' } };
    return { ok: false, status: 401, error: 'invalid_token', description: 'this endpoint needs the run token' };
  };
  const endpoint = new HttpEndpoint({
    createSession: (label): Server => {
      const server = createSessionServer(fx.gateway, label);
      // Record what reaches the session's SDK server, after every check in front of it.
      const connect = server.connect.bind(server);
      server.connect = async (transport: Transport): Promise<void> => {
        await connect(transport);
        const inner = transport.onmessage;
        transport.onmessage = (message, extra) => {
          forwarded.push(message);
          inner?.(message, extra);
        };
      };
      return server;
    },
    authenticate,
    allowedHosts: [],
    allowedOrigins: [],
    limits: { ...limits, maxSessions },
    onRejected: (reason, code) => rejected.push({ reason, code }),
    ...(bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs }),
  });
  const port = (await endpoint.listen({ host: '127.0.0.1', port: 0 })) ?? 0;
  endpoint.allow([`127.0.0.1:${port}`, `localhost:${port}`], [`http://127.0.0.1:${port}`, `http://localhost:${port}`]);
  const partial = { endpoint, port, forwarded, rejected };
  const session = await openSession(partial, TOKEN);
  const otherSession = await openSession(partial, OTHER_TOKEN);
  return { ...partial, session, otherSession };
}

function goodHeaders(port: number, token: string, session?: string): [string, string][] {
  return [
    ['Host', `127.0.0.1:${port}`],
    ['Authorization', `Bearer ${token}`],
    ['Content-Type', 'application/json'],
    ['Accept', 'application/json, text/event-stream'],
    ...(session === undefined
      ? []
      : ([
          ['Mcp-Session-Id', session],
          ['Mcp-Protocol-Version', PROTOCOL_VERSION],
        ] as [string, string][])),
  ];
}

async function post(
  h: Pick<HttpFixture, 'port'>,
  body: unknown,
  token: string,
  session?: string,
): Promise<RawResponse> {
  const spec: HttpRequestSpec = {
    method: 'POST',
    path: '/mcp',
    headers: goodHeaders(h.port, token, session),
    body: utf8(JSON.stringify(body)),
    framing: 'length',
  };
  const r = await rawExchange(h.port, encodeRequest(spec, HTTP_LIMITS.maxBytes));
  if (r === null) throw new Error('connection closed without an answer');
  return r;
}

async function openSession(h: Pick<HttpFixture, 'port'>, token: string): Promise<string> {
  const r = await post(h, { jsonrpc: '2.0', id: 0, method: 'initialize', params: INITIALIZE }, token);
  const id = r.headers['mcp-session-id'];
  if (r.status !== 200 || id === undefined) throw new Error(`initialize failed: ${r.status} ${r.body.toString()}`);
  const done = await post(h, { jsonrpc: '2.0', method: 'notifications/initialized' }, token, id);
  expect(done.status).toBe(202);
  return id;
}

/** A valid request still works: a ping answered in the session, and a tools/call reaching the upstream. */
async function expectHttpServing(h: HttpFixture, fx: Fixture): Promise<void> {
  const ping = await post(h, { jsonrpc: '2.0', id: 'alive', method: 'ping' }, TOKEN, h.session);
  expect(ping.status).toBe(200);
  expect(messagesOf(ping)).toEqual([{ jsonrpc: '2.0', id: 'alive', result: {} }]);
  const before = fx.upstreamCalls.length;
  const call = await post(
    h,
    {
      jsonrpc: '2.0',
      id: 'alive-2',
      method: 'tools/call',
      params: { name: 'fake__echo', arguments: { still: 'serving' } },
    },
    TOKEN,
    h.session,
  );
  expect(call.status).toBe(200);
  expect(messagesOf(call)).toEqual([
    { jsonrpc: '2.0', id: 'alive-2', result: { content: [{ type: 'text', text: '{"still":"serving"}' }] } },
  ]);
  expect(fx.upstreamCalls.slice(before)).toEqual([{ name: 'echo', args: { still: 'serving' } }]);
}

// ---------------------------------------------------------------------------------------
// The HTTP model: what the endpoint must answer before the SDK sees anything.

type Expected =
  /** A plain-text answer (404 for another path, 405 for another method). */
  | { readonly kind: 'plain'; readonly status: 404 | 405 }
  /** Node's own answer to a request it cannot parse or accept (no JSON-RPC involved). */
  | { readonly kind: 'node'; readonly statuses: readonly number[] }
  /** A JSON-RPC error with this status: exactly `body` when given, else this code and a message starting with `prefix`. */
  | {
      readonly kind: 'rpc-error';
      readonly status: number;
      readonly body?: unknown;
      readonly code?: number;
      readonly prefix?: string;
    }
  /** Handed to the session (or to a new one): the SDK answers. `message` is what it must receive. */
  | { readonly kind: 'sdk'; readonly message: Record<string, unknown>; readonly newSession: boolean };

function predict(spec: HttpRequestSpec, h: HttpFixture): Expected {
  const header = (name: string): string | undefined => spec.headers.find(([k]) => k.toLowerCase() === name)?.[1];
  const host = header('host');
  if (host === undefined) return { kind: 'node', statuses: [400] };
  if (spec.path.split('?')[0] !== '/mcp') return { kind: 'plain', status: 404 };
  if (!(host === `127.0.0.1:${h.port}` || host === `localhost:${h.port}`))
    return {
      kind: 'rpc-error',
      status: 403,
      body: { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'host not allowed' } },
    };
  const origin = header('origin');
  if (origin !== undefined && origin !== `http://127.0.0.1:${h.port}` && origin !== `http://localhost:${h.port}`) {
    return {
      kind: 'rpc-error',
      status: 403,
      body: { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'origin not allowed' } },
    };
  }
  const auth = header('authorization');
  const subject = auth === `Bearer ${TOKEN}` ? 'agent' : auth === `Bearer ${OTHER_TOKEN}` ? 'other' : null;
  if (subject === null)
    return {
      kind: 'rpc-error',
      status: 401,
      body: { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'this endpoint needs the run token' } },
    };
  const sessionId = header('mcp-session-id');
  const own = subject === 'agent' ? h.session : h.otherSession;
  if (sessionId !== undefined && sessionId !== own)
    return {
      kind: 'rpc-error',
      status: 404,
      body: { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'session not found' } },
    };
  // On a session, a protocol version the gateway does not speak is refused before anything else (GW-10).
  const version = header('mcp-protocol-version');
  if (sessionId !== undefined && version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
    return {
      kind: 'rpc-error',
      status: 400,
      body: {
        jsonrpc: '2.0',
        id: null,
        error: {
          code: -32600,
          message: `unsupported MCP-Protocol-Version ${JSON.stringify(version)}; supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`,
        },
      },
    };
  }
  if (spec.method === 'GET' || spec.method === 'DELETE') {
    if (sessionId === undefined)
      return {
        kind: 'rpc-error',
        status: 400,
        body: { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'mcp-session-id header required' } },
      };
    throw new Error('the generator must not GET or DELETE a live session');
  }
  if (spec.method !== 'POST') return { kind: 'plain', status: 405 };
  if (!/^application\/json\s*(;|$)/i.test(header('content-type') ?? '')) {
    return {
      kind: 'rpc-error',
      status: 415,
      body: { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Content-Type must be application/json' } },
    };
  }
  if (spec.framing === 'declared-huge' || spec.body.length > HTTP_LIMITS.maxBytes) {
    return {
      kind: 'rpc-error',
      status: 413,
      body: {
        jsonrpc: '2.0',
        id: null,
        error: { code: -32600, message: `message larger than ${HTTP_LIMITS.maxBytes} bytes` },
      },
    };
  }
  const parsed = parseJsonRpc(spec.body, HTTP_LIMITS);
  if (!parsed.ok) return { kind: 'rpc-error', status: 400, body: boundaryErrorResponse(parsed) };
  const message = parsed.parsed;
  if (sessionId === undefined) {
    if (message.kind !== 'request' || message.method !== 'initialize') {
      return {
        kind: 'rpc-error',
        status: 400,
        body: {
          jsonrpc: '2.0',
          id: message.kind === 'request' ? message.id : null,
          error: { code: -32600, message: 'no session: send initialize first (without mcp-session-id)' },
        },
      };
    }
    if (!validInitializeParams(message.params))
      return { kind: 'rpc-error', status: 400, code: -32602, prefix: 'invalid initialize: ' };
    return { kind: 'sdk', message: message.message, newSession: true };
  }
  // One initialize per session (GW-10), refused with its id as on stdio (session-guard.ts).
  if (message.kind === 'request' && message.method === 'initialize') {
    return {
      kind: 'rpc-error',
      status: 400,
      body: {
        jsonrpc: '2.0',
        id: message.id,
        error: { code: -32600, message: 'this session is already initialized; open a new session to initialize again' },
      },
    };
  }
  return { kind: 'sdk', message: message.message, newSession: false };
}

/** MCP's InitializeRequest params: protocolVersion, capabilities, clientInfo {name, version}. */
function validInitializeParams(params: unknown): boolean {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(params)) return false;
  const info = params.clientInfo;
  return (
    typeof params.protocolVersion === 'string' &&
    params.protocolVersion !== '' &&
    isObject(params.capabilities) &&
    isObject(info) &&
    typeof info.name === 'string' &&
    typeof info.version === 'string'
  );
}

/** Checks one answer against the model, and what reached a session's SDK server meanwhile (`forwardedNow`). */
function checkHttpAnswer(
  spec: HttpRequestSpec,
  expected: Expected,
  r: RawResponse | null,
  forwardedNow: readonly unknown[],
): void {
  const shown = `${spec.method} ${spec.path} ${JSON.stringify(spec.headers)} body=${JSON.stringify(Buffer.from(spec.body).toString('latin1').slice(0, 200))}`;
  if (r === null) throw new Error(`closed without an answer: ${shown}`);
  switch (expected.kind) {
    case 'node':
      expect(expected.statuses, shown).toContain(r.status);
      expect(forwardedNow).toEqual([]);
      return;
    case 'plain':
      expect(r.status, shown).toBe(expected.status);
      expect(r.headers['content-type']).toMatch(/^text\/plain/);
      expect(forwardedNow).toEqual([]);
      return;
    case 'rpc-error': {
      expect(r.status, shown).toBe(expected.status);
      expect(r.headers['content-type']).toBe('application/json');
      expect(forwardedNow, shown).toEqual([]);
      if (spec.method === 'HEAD') return; // no body in an answer to HEAD
      const body = JSON.parse(r.body.toString('utf8')) as unknown;
      expect(rpcErrorProblem(body), shown).toBeNull();
      if (expected.body !== undefined) expect(body, shown).toEqual(expected.body);
      const error = (body as { id: unknown; error: { code: number; message: string } }).error;
      if (expected.code !== undefined)
        expect([error.code, (body as { id: unknown }).id], shown).toEqual([expected.code, null]);
      if (expected.prefix !== undefined) expect(error.message.startsWith(expected.prefix), shown).toBe(true);
      if (expected.status === 401) expect(r.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
      // Refused before the session: nothing reached any session's SDK server.
      expect(forwardedNow, shown).toEqual([]);
      return;
    }
    case 'sdk': {
      const msg = expected.message;
      const isRequest = Object.hasOwn(msg, 'method') && Object.hasOwn(msg, 'id');
      // Statuses the SDK transport uses: 200 (SSE or JSON), 202 (no request), 400/404/406/415 (its own checks).
      expect([200, 202, 400, 404, 406, 415], shown).toContain(r.status);
      if (r.status === 202) expect(isRequest, shown).toBe(false);
      if (r.status === 200) {
        const messages = messagesOf(r).filter((m) => Object.hasOwn(m as object, 'id'));
        expect(messages.length, shown).toBe(1);
        expect(rpcResponseProblem(messages[0], msg.id as string | number), shown).toBeNull();
        if (expected.newSession && (messages[0] as { result?: unknown }).result !== undefined)
          expect(r.headers['mcp-session-id']).toMatch(/^[A-Za-z0-9_-]{32}$/);
      }
      if (r.status >= 400) {
        const body = JSON.parse(r.body.toString('utf8')) as unknown;
        expect(rpcErrorProblem(body), shown).toBeNull();
      }
      // At most the accepted message itself reached the session, unchanged.
      expect(forwardedNow.length, shown).toBeLessThanOrEqual(1);
      for (const f of forwardedNow) expect(f, shown).toEqual(msg);
      if (r.status === 200 || r.status === 202) expect(forwardedNow, shown).toEqual([msg]);
      return;
    }
    default:
      throw new Error('unreachable');
  }
}

// ---------------------------------------------------------------------------------------
// HTTP request generator.

function httpSpec(h: HttpFixture): fc.Arbitrary<HttpRequestSpec> {
  const hostValue = fc.oneof(
    { weight: 40, arbitrary: fc.constantFrom(`127.0.0.1:${h.port}`, `localhost:${h.port}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'evil.example',
        '127.0.0.1',
        `127.0.0.1:${h.port + 1}`,
        `LOCALHOST:${h.port}`,
        `127.0.0.1:${h.port}.evil.example`,
        `[::1]:${h.port}`,
        `localhost:${h.port}.`,
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 })
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    },
  );
  const maybe = <T>(arb: fc.Arbitrary<T>, absentWeight: number, presentWeight: number): fc.Arbitrary<T | undefined> =>
    fc.oneof({ weight: absentWeight, arbitrary: fc.constant(undefined) }, { weight: presentWeight, arbitrary: arb });
  const origin = maybe(
    fc.constantFrom(
      `http://127.0.0.1:${h.port}`,
      `http://localhost:${h.port}`,
      'http://evil.example',
      'null',
      `https://127.0.0.1:${h.port}`,
      `http://127.0.0.1:${h.port}/`,
    ),
    20,
    1,
  );
  const auth = fc.oneof(
    { weight: 40, arbitrary: fc.constant(`Bearer ${TOKEN}`) },
    { weight: 1, arbitrary: fc.constant(`Bearer ${OTHER_TOKEN}`) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        undefined,
        `bearer ${TOKEN}`,
        `Bearer  ${TOKEN}`,
        `Bearer ${TOKEN}x`,
        `Basic ${Buffer.from('a:b').toString('base64')}`,
        'Bearer',
        `Bearer ${TOKEN.slice(0, -1)}`,
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => s.trim()) },
  );
  const contentType = fc.oneof(
    {
      weight: 30,
      arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON'),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        undefined,
        'text/plain',
        'application/jsonx',
        'application/json-rpc',
        'application/json ;x=1',
        'multipart/form-data',
        'application/x-www-form-urlencoded',
        '',
      ),
    },
  );
  const accept = fc.oneof(
    { weight: 8, arbitrary: fc.constant('application/json, text/event-stream') },
    { weight: 1, arbitrary: fc.constantFrom(undefined, 'application/json', 'text/event-stream', '*/*') },
  );
  const session = fc.oneof(
    { weight: 8, arbitrary: fc.constant('own' as const) },
    { weight: 3, arbitrary: fc.constant('none' as const) },
    { weight: 1, arbitrary: fc.constantFrom('garbage' as const, 'other' as const) },
  );
  const method = fc.oneof(
    { weight: 20, arbitrary: fc.constant('POST') },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD') },
  );
  const path = fc.oneof(
    { weight: 20, arbitrary: fc.constant('/mcp') },
    { weight: 1, arbitrary: fc.constantFrom('/mcp?x=1', '/MCP', '/mcp/', '/', '/mcp%00', '//mcp', '/mcp/../mcp', '*') },
  );
  const framing = fc.oneof(
    { weight: 12, arbitrary: fc.constant('length' as const) },
    { weight: 4, arbitrary: fc.constant('chunked' as const) },
    { weight: 1, arbitrary: fc.constant('declared-huge' as const) },
  );
  const body = fc.oneof(
    { weight: 40, arbitrary: bodyBytes },
    // Around and over the cap.
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: -2, max: 2 })
        .map((d) =>
          printable(
            utf8(
              `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"p":"${'x'.repeat(HTTP_LIMITS.maxBytes + d - 52)}"}}`,
            ),
          ),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 1, max: 4 })
        .map((k) => printable(new Uint8Array(HTTP_LIMITS.maxBytes * k + 1).fill(0x5b))),
    },
  );
  return fc
    .record({
      hostValue: maybe(hostValue, 1, 40),
      origin,
      auth,
      contentType,
      accept,
      session,
      method,
      path,
      framing,
      body,
      version: fc.constantFrom(PROTOCOL_VERSION, PROTOCOL_VERSION, PROTOCOL_VERSION, '1999-01-01'),
    })
    .map((g): HttpRequestSpec => {
      const headers: [string, string][] = [];
      if (g.hostValue !== undefined) headers.push(['Host', g.hostValue]);
      if (g.origin !== undefined) headers.push(['Origin', g.origin]);
      if (g.auth !== undefined && g.auth !== '') headers.push(['Authorization', g.auth]);
      if (g.contentType !== undefined) headers.push(['Content-Type', g.contentType]);
      if (g.accept !== undefined) headers.push(['Accept', g.accept]);
      const sessionId = {
        own: h.session,
        none: undefined,
        garbage: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        other: h.otherSession,
      }[g.session];
      // GET or DELETE on a live session would open a stream or end the session: not here.
      const methodName = (g.method === 'GET' || g.method === 'DELETE') && sessionId !== undefined ? 'POST' : g.method;
      if (sessionId !== undefined) headers.push(['Mcp-Session-Id', sessionId], ['Mcp-Protocol-Version', g.version]);
      return { method: methodName, path: g.path, headers, body: g.body, framing: g.framing };
    });
}

// ---------------------------------------------------------------------------------------
// The stdio fixture.

const STDIO_LIMITS: BoundaryLimits = { maxBytes: 4096, maxDepth: 64 };

interface StdioFixture {
  readonly input: PassThrough;
  /** Every line written to the output, in order. */
  readonly lines: string[];
  readonly served: Promise<void>;
  /** Resolves once `predicate` holds, re-checked on every output chunk (rejects after `ms`). */
  waitFor(predicate: () => boolean, ms: number): Promise<void>;
}

function startStdio(fx: Fixture, limits: Partial<SessionLimits> = STDIO_LIMITS): StdioFixture {
  const input = new PassThrough();
  const output = new PassThrough();
  const lines: string[] = [];
  const decoder = new StringDecoder('utf8');
  let partial = '';
  const waiters = new Set<() => void>();
  output.on('data', (chunk: Buffer) => {
    partial += decoder.write(chunk);
    for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
      lines.push(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
    for (const w of waiters) w();
  });
  const served = serveStdio(fx.gateway, { input, output, limits });
  const waitFor = (predicate: () => boolean, ms: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`stdio endpoint: no expected answer within ${ms} ms`));
      }, ms);
      waiters.add(check);
      check();
    });
  return { input, lines, served, waitFor };
}

const parsedLines = (lines: readonly string[]): Record<string, unknown>[] =>
  lines.map((l) => JSON.parse(l) as Record<string, unknown>);

/** Sends one request line and waits for its answer. */
async function stdioCall(
  s: StdioFixture,
  message: Record<string, unknown> & { id: string | number },
  ms = 3_000,
): Promise<Record<string, unknown>> {
  const from = s.lines.length;
  s.input.write(`${JSON.stringify(message)}\n`);
  await s.waitFor(() => parsedLines(s.lines.slice(from)).some((m) => m.id === message.id), ms);
  const answer = parsedLines(s.lines.slice(from)).find((m) => m.id === message.id);
  if (answer === undefined) throw new Error('unreachable');
  return answer;
}

/**
 * What the stdio endpoint must write for one line (bytes between newlines): nothing for an
 * empty line, accepted notifications and responses; the boundary's exact error for a refused
 * line (id null when unreadable); one answer carrying the id for an accepted request.
 */
type LineExpectation =
  | { readonly kind: 'none' }
  | { readonly kind: 'refusal'; readonly body: unknown }
  | { readonly kind: 'answer'; readonly id: string | number; readonly message: Record<string, unknown> };

function expectLine(line: Uint8Array, limits: BoundaryLimits): LineExpectation {
  const text = line.at(-1) === 13 ? line.subarray(0, -1) : line;
  if (text.length === 0) return { kind: 'none' };
  if (text.length > limits.maxBytes)
    return {
      kind: 'refusal',
      body: {
        jsonrpc: '2.0',
        id: null,
        error: { code: -32600, message: `message larger than ${limits.maxBytes} bytes` },
      },
    };
  const r = parseJsonRpc(text, limits);
  if (!r.ok) return { kind: 'refusal', body: boundaryErrorResponse(r) };
  if (r.parsed.kind === 'request') return { kind: 'answer', id: r.parsed.id, message: r.parsed.message };
  return { kind: 'none' };
}

function splitLines(stream: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < stream.length; i++) {
    if (stream[i] === 10) {
      out.push(stream.subarray(start, i));
      start = i + 1;
    }
  }
  return out;
}

let sentinel = 0;

/**
 * Writes `items` joined by newlines (in the given chunk sizes), then a sentinel ping, and checks
 * every line written back against {@link expectLine}.
 */
async function stdioRound(
  s: StdioFixture,
  fx: Fixture,
  items: readonly Uint8Array[],
  separators: readonly string[],
  chunks: readonly number[],
  limits: BoundaryLimits = STDIO_LIMITS,
  waitMs = 3_000,
): Promise<void> {
  const parts: Uint8Array[] = [];
  items.forEach((item, k) => parts.push(item, utf8(separators[k % separators.length] ?? '\n')));
  const stream = concatBytes(...parts);
  const expectations = splitLines(stream).map((l) => expectLine(l, limits));
  const from = s.lines.length;
  const callsBefore = fx.upstreamCalls.length;
  // Arbitrary chunking: the splitter must not care where chunks end.
  let at = 0;
  let k = 0;
  while (at < stream.length) {
    const n = Math.max(1, chunks[k++ % Math.max(1, chunks.length)] ?? stream.length);
    s.input.write(stream.subarray(at, at + n));
    at += n;
  }
  const mark = `sentinel-${++sentinel}`;
  s.input.write(`{"jsonrpc":"2.0","id":"${mark}","method":"ping"}\n`);

  const answersExpected = new Map<string, number>();
  for (const e of expectations)
    if (e.kind === 'answer')
      answersExpected.set(JSON.stringify(e.id), (answersExpected.get(JSON.stringify(e.id)) ?? 0) + 1);
  const refusals = expectations
    .filter((e): e is Extract<LineExpectation, { kind: 'refusal' }> => e.kind === 'refusal')
    .map((e) => e.body);
  const total = refusals.length + [...answersExpected.values()].reduce((a, b) => a + b, 0) + 1;
  const shown = JSON.stringify(Buffer.from(stream).toString('latin1').slice(0, 400));
  try {
    await s.waitFor(() => s.lines.length - from >= total, waitMs);
  } catch {
    throw new Error(
      `stdio: expected ${total} lines back, got ${s.lines.length - from}: ${JSON.stringify(s.lines.slice(from)).slice(0, 1500)}\nfor input ${shown}`,
    );
  }
  await sleep(5); // anything extra would show up now
  const out = s.lines.slice(from);
  const messages = out.map((l) => {
    // Every line is one complete JSON-RPC message.
    const m = JSON.parse(l) as Record<string, unknown>;
    expect(m.jsonrpc, l).toBe('2.0');
    return m;
  });
  expect(messages.length, `${JSON.stringify(out).slice(0, 1500)}\nfor input ${shown}`).toBe(total);
  // The boundary's refusals, exactly and in order (they are written synchronously); the rest are answers.
  const rest: Record<string, unknown>[] = [];
  let next = 0;
  for (const m of messages) {
    if (next < refusals.length && JSON.stringify(m) === JSON.stringify(refusals[next])) next++;
    else rest.push(m);
  }
  expect({ refusalsWritten: next, input: shown }).toEqual({ refusalsWritten: refusals.length, input: shown });
  const sentinelAnswer = rest.find((m) => m.id === mark);
  expect(sentinelAnswer).toEqual({ jsonrpc: '2.0', id: mark, result: {} });
  const answers = rest.filter((m) => m !== sentinelAnswer);
  const seen = new Map<string, number>();
  for (const a of answers) {
    const id = a.id as string | number;
    expect(rpcResponseProblem(a, id), JSON.stringify(a)).toBeNull();
    seen.set(JSON.stringify(id), (seen.get(JSON.stringify(id)) ?? 0) + 1);
  }
  expect({ answers: Object.fromEntries(seen), input: shown }).toEqual({
    answers: Object.fromEntries(answersExpected),
    input: shown,
  });
  // What reached the upstream is exactly what accepted tools/calls carried, never anything else.
  const sent = expectations.flatMap((e) => {
    if (e.kind !== 'answer' || e.message.method !== 'tools/call') return [];
    const p = e.message.params as { name?: unknown; arguments?: unknown } | undefined;
    return p?.name === 'fake__echo' || p?.name === 'fake__slow'
      ? [{ name: p.name.slice('fake__'.length), args: overTheWire(p.arguments ?? {}) }]
      : [];
  });
  const received = fx.upstreamCalls.slice(callsBefore).map((c) => ({ name: c.name, args: overTheWire(c.args) }));
  for (const r of received) expect(sent, `upstream received ${JSON.stringify(r)}`).toContainEqual(r);
}

// ---------------------------------------------------------------------------------------

let fx: Fixture;
let http: HttpFixture;
let stdio: StdioFixture;

beforeAll(async () => {
  fx = await startGateway();
  http = await startHttp(fx);
  stdio = startStdio(fx);
  const init = await stdioCall(stdio, { jsonrpc: '2.0', id: 'init', method: 'initialize', params: INITIALIZE });
  expect(init.result).toBeDefined();
  stdio.input.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
});

afterAll(async () => {
  stdio.input.end();
  await stdio.served;
  await http.endpoint.close();
  await fx.gateway.close();
});

describe('GW-05/GW-08 fuzz: the Streamable HTTP endpoint', () => {
  it('GW-05 http 1: any headers and body get the modelled status and a well-formed JSON-RPC error; nothing refused is forwarded', async () => {
    await fc.assert(
      fc.asyncProperty(
        httpSpec(http),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 4 }),
        async (spec, chunkSizes) => {
          const expected = predict(spec, http);
          const forwardedBefore = http.forwarded.length;
          const callsBefore = fx.upstreamCalls.length;
          const r = await rawExchange(http.port, encodeRequest(spec, HTTP_LIMITS.maxBytes, chunkSizes), {
            head: spec.method === 'HEAD',
          });
          await sleep(1);
          checkHttpAnswer(spec, expected, r, http.forwarded.slice(forwardedBefore));
          // The upstream saw at most the accepted call's arguments, unchanged.
          const calls = fx.upstreamCalls.slice(callsBefore);
          if (expected.kind !== 'sdk') expect(calls).toEqual([]);
          else {
            expect(calls.length).toBeLessThanOrEqual(1);
            const p = expected.message.params as { arguments?: unknown } | undefined;
            for (const c of calls) expect(overTheWire(c.args)).toEqual(overTheWire(p?.arguments ?? {}));
          }
        },
      ),
      { numRuns: 250 },
    );
    await expectHttpServing(http, fx);
  });

  it('GW-05 http 2: raw garbage on the socket never crashes the endpoint; any answer is an HTTP error', async () => {
    const junk = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.string({ unit: 'binary-ascii', maxLength: 200 }).map((s) => Buffer.from(s, 'latin1')),
      fc
        .tuple(fc.string({ unit: 'binary-ascii', maxLength: 60 }), fc.uint8Array({ maxLength: 100 }))
        .map(([line, tail]) => concatBytes(Buffer.from(`POST /mcp HTTP/1.1\r\n${line}\r\n\r\n`, 'latin1'), tail)),
      fc
        .tuple(fc.string({ unit: 'binary-ascii', maxLength: 30 }), fc.string({ unit: 'binary-ascii', maxLength: 30 }))
        .map(([k, v]) =>
          Buffer.from(
            `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${http.port}\r\n${k}: ${v}\r\nContent-Length: 2\r\n\r\n{}`,
            'latin1',
          ),
        ),
      // Framing headers that lie or make no sense, duplicated Host/Authorization headers, other protocol versions.
      fc
        .tuple(
          fc.constantFrom(
            'Content-Length: ',
            'Transfer-Encoding: ',
            'Content-Length: 5\r\nContent-Length: ',
            'Transfer-Encoding: chunked\r\nContent-Length: ',
            'Host: evil.example\r\nX: ',
            `Host: 127.0.0.1:${http.port}\r\nHost: `,
            `Authorization: Bearer ${TOKEN}\r\nAuthorization: `,
          ),
          fc.oneof(
            fc.constantFrom('-1', '1e3', '0x10', ' 10', '99999999999999999999', 'chunked, identity', 'gzip', 'chunked'),
            fc.string({ unit: 'binary-ascii', maxLength: 12 }),
          ),
          fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 extra'),
          bodyBytes,
        )
        .map(([header, value, proto, body]) =>
          concatBytes(
            Buffer.from(
              `POST /mcp ${proto}\r\nHost: 127.0.0.1:${http.port}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\n${header}${value}\r\n\r\n`,
              'latin1',
            ),
            body,
          ),
        ),
      fc.constant(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')),
    );
    await fc.assert(
      fc.asyncProperty(junk, async (bytes) => {
        // Half-close after the bytes so an incomplete request ends instead of waiting for more.
        const r = await rawExchange(http.port, bytes, { halfClose: true });
        if (r !== null) expect([200, 202, 400, 401, 403, 404, 405, 406, 413, 415, 431, 501, 505]).toContain(r.status);
        if (r !== null && r.headers['content-type'] === 'application/json')
          expect(rpcErrorProblem(JSON.parse(r.body.toString('utf8')))).toBeNull();
      }),
      { numRuns: 200 },
    );
    await expectHttpServing(http, fx);
  });

  it('GW-05 http 3: concurrent requests with duplicate ids: each answered once, for itself, or refused as a duplicate', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(1, 2, 'x'), fc.constantFrom('fake__slow', 'fake__echo')), {
          minLength: 2,
          maxLength: 12,
        }),
        async (reqs) => {
          const callsBefore = fx.upstreamCalls.length;
          const answers = await Promise.all(
            reqs.map(([id, name], nonce) =>
              post(
                http,
                { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { nonce } } },
                TOKEN,
                http.session,
              ).then((r) => ({ r, id, nonce })),
            ),
          );
          let served = 0;
          for (const { r, id, nonce } of answers) {
            if (r.status === 400) {
              expect(JSON.parse(r.body.toString('utf8'))).toEqual({
                jsonrpc: '2.0',
                id,
                error: { code: -32600, message: 'duplicate request id: a request with this id is still in flight' },
              });
              continue;
            }
            expect(r.status).toBe(200);
            // Its own answer, not another request's with the same id.
            expect(messagesOf(r)).toEqual([
              { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: JSON.stringify({ nonce }) }] } },
            ]);
            served++;
          }
          // Every distinct id was served at least once; the upstream saw exactly the served calls.
          for (const id of new Set(reqs.map(([i]) => i)))
            expect(answers.some((a) => a.id === id && a.r.status === 200)).toBe(true);
          expect(fx.upstreamCalls.length - callsBefore).toBe(served);
        },
      ),
      { numRuns: 25 },
    );
    await expectHttpServing(http, fx);
  });

  it('GW-05 http 4: bodies over the cap are refused with 413 and a JSON-RPC error, however framed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -3, max: 3 }),
        fc.constantFrom('length' as const, 'chunked' as const, 'declared-huge' as const),
        async (delta, framing) => {
          const pad = 'y'.repeat(HTTP_LIMITS.maxBytes + delta - 67);
          const body = utf8(`{"jsonrpc":"2.0","id":"big","method":"ping","params":{"pad":"${pad}"}}`);
          const spec: HttpRequestSpec = {
            method: 'POST',
            path: '/mcp',
            headers: goodHeaders(http.port, TOKEN, http.session),
            body,
            framing,
          };
          const r = await rawExchange(http.port, encodeRequest(spec, HTTP_LIMITS.maxBytes));
          if (r === null) throw new Error('closed without an answer');
          if (framing === 'declared-huge' || body.length > HTTP_LIMITS.maxBytes) {
            expect(r.status).toBe(413);
            expect(JSON.parse(r.body.toString('utf8'))).toEqual({
              jsonrpc: '2.0',
              id: null,
              error: { code: -32600, message: `message larger than ${HTTP_LIMITS.maxBytes} bytes` },
            });
          } else {
            expect(r.status).toBe(200);
            expect(messagesOf(r)).toEqual([{ jsonrpc: '2.0', id: 'big', result: {} }]);
          }
        },
      ),
      { numRuns: 30 },
    );
    await expectHttpServing(http, fx);
  });

  it('GW-08 http 5: a refused initialize leaves no session behind (nobody could ever use or close it)', async () => {
    await fc.assert(
      fc.asyncProperty(validId, fc.option(cleanJsonObject, { nil: undefined }), async (id, params) => {
        const before = http.endpoint.sessionCount;
        const r = await post(
          http,
          { jsonrpc: '2.0', id, method: 'initialize', ...(params === undefined ? {} : { params }) },
          TOKEN,
        );
        // Not a valid initialize: refused, with no session id handed out ...
        expect(r.status).toBe(400);
        expect(rpcErrorProblem(JSON.parse(r.body.toString('utf8')))).toBeNull();
        expect(r.headers['mcp-session-id']).toBeUndefined();
        // ... so no session may be kept for it.
        expect(http.endpoint.sessionCount - before).toBe(0);
      }),
      { numRuns: 20 },
    );
  });

  it('GW-08 http 6: after maxSessions refused initializes, a real client can still open a session', async () => {
    const small = await startHttp(fx, 4); // two sessions already open (startHttp)
    try {
      for (let k = 0; k < 2; k++) {
        const refused = await post(small, { jsonrpc: '2.0', id: k, method: 'initialize' }, TOKEN);
        expect(refused.status).toBe(400);
      }
      const ok = await post(small, { jsonrpc: '2.0', id: 9, method: 'initialize', params: INITIALIZE }, TOKEN);
      expect({ status: ok.status, body: ok.status === 200 ? '(SSE)' : ok.body.toString('utf8') }).toEqual({
        status: 200,
        body: '(SSE)',
      });
    } finally {
      await small.endpoint.close();
    }
  });

  it('GW-05 http 8: a client that stalls mid-body loses its connection after the body timeout; the endpoint keeps serving', async () => {
    const slow = await startHttp(fx, 100, 300);
    try {
      const started = Date.now();
      const closed = await new Promise<number>((resolve, reject) => {
        const socket = netConnect(slow.port, '127.0.0.1', () => {
          const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
          const head = goodHeaders(slow.port, TOKEN, slow.session)
            .map(([k, v]) => `${k}: ${v}\r\n`)
            .join('');
          // Announce the whole body, send half of it, then nothing.
          socket.write(`POST /mcp HTTP/1.1\r\n${head}Content-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
        });
        socket.on('close', () => resolve(Date.now() - started));
        socket.on('error', () => undefined);
        setTimeout(() => reject(new Error('the stalled connection was not closed within 5 s')), 5000).unref();
      });
      expect(closed).toBeGreaterThanOrEqual(250);
      expect(closed).toBeLessThan(5000);
      const ping = await post(slow, { jsonrpc: '2.0', id: 'after-stall', method: 'ping' }, TOKEN, slow.session);
      expect(messagesOf(ping)).toEqual([{ jsonrpc: '2.0', id: 'after-stall', result: {} }]);
    } finally {
      await slow.endpoint.close();
    }
  });

  it('GW-05 http 7: a request the MCP SDK cannot read (bad params._meta) gets a JSON-RPC error and frees its id', async () => {
    const badMeta = fc.constantFrom<unknown>(
      null,
      1,
      'x',
      [],
      true,
      { progressToken: 1.5 },
      { progressToken: null },
      { 'io.modelcontextprotocol/related-task': 5 },
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(badMeta, fc.constantFrom('ping', 'tools/list', 'tools/call'), async (meta, method) => {
        const id = `http-meta-${++n}`;
        const r = await post(http, { jsonrpc: '2.0', id, method, params: { _meta: meta } }, TOKEN, http.session);
        expect(r.status).toBe(400);
        expect(rpcErrorProblem(JSON.parse(r.body.toString('utf8')))).toBeNull();
        // The id is not stuck in flight: the same id works at once.
        const again = await post(http, { jsonrpc: '2.0', id, method: 'ping' }, TOKEN, http.session);
        expect(messagesOf(again)).toEqual([{ jsonrpc: '2.0', id, result: {} }]);
      }),
      { numRuns: 20 },
    );
  });
});

describe('GW-05 fuzz: the stdio endpoint', () => {
  /** A line's bytes: any body the HTTP fuzzing uses, plus CR endings and oversized lines. */
  const item = fc.oneof(
    { weight: 12, arbitrary: bodyBytes },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 1, max: 3 })
        .map((k) =>
          printable(
            utf8(
              `{"jsonrpc":"2.0","id":"long","method":"ping","params":{"p":"${'z'.repeat(STDIO_LIMITS.maxBytes * k)}"}}`,
            ),
          ),
        ),
    },
    { weight: 1, arbitrary: fc.constantFrom('', '\r', ' ', '\t\t', 'null', '[]').map((t) => printable(utf8(t))) },
  );

  it('GW-05 stdio 1: any lines, in any chunks: one exact refusal per bad line, one answer per request, nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .array(item, { minLength: 1, maxLength: 6 })
          .filter((items) => !items.some((b) => sdkUnreadable(Buffer.from(b).toString('latin1')))),
        fc.array(fc.constantFrom('\n', '\r\n'), { minLength: 1, maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 5 }),
        async (items, seps, chunks) => {
          await stdioRound(stdio, fx, items, seps, chunks);
        },
      ),
      { numRuns: 200 },
    );
    const alive = await stdioCall(stdio, {
      jsonrpc: '2.0',
      id: 'alive',
      method: 'tools/call',
      params: { name: 'fake__echo', arguments: { still: 'serving' } },
    });
    expect(alive).toEqual({
      jsonrpc: '2.0',
      id: 'alive',
      result: { content: [{ type: 'text', text: '{"still":"serving"}' }] },
    });
  });

  it('GW-05 stdio 2: duplicate ids within one chunk: the first is served, the in-flight duplicates refused with their id', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(7, 8, 'dup'), { minLength: 2, maxLength: 6 }), async (ids) => {
        const lines = ids.map((id, nonce) =>
          utf8(
            JSON.stringify({
              jsonrpc: '2.0',
              id,
              method: 'tools/call',
              params: { name: 'fake__slow', arguments: { nonce } },
            }),
          ),
        );
        const from = stdio.lines.length;
        await stdioRound(stdio, fx, lines, ['\n'], [1 << 20]);
        const out = parsedLines(stdio.lines.slice(from)).filter((m) => ids.includes(m.id as never));
        // One chunk: every repeat of an id is refused while its first is in flight.
        for (const id of new Set(ids)) {
          const mine = out.filter((m) => m.id === id);
          expect(mine.filter((m) => m.result !== undefined)).toEqual([
            {
              jsonrpc: '2.0',
              id,
              result: { content: [{ type: 'text', text: JSON.stringify({ nonce: ids.indexOf(id) }) }] },
            },
          ]);
          expect(mine.filter((m) => m.error !== undefined).length).toBe(ids.filter((i) => i === id).length - 1);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('GW-05 stdio 3: a message of exactly the byte cap is accepted, with an LF or a CRLF line ending; one byte more is refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -2, max: 2 }), fc.constantFrom('\n', '\r\n'), async (delta, ending) => {
        const head = '{"jsonrpc":"2.0","id":"edge","method":"ping","params":{"p":"';
        const tail = '"}}';
        const message = head + 'q'.repeat(STDIO_LIMITS.maxBytes + delta - head.length - tail.length) + tail;
        expect(Buffer.byteLength(message)).toBe(STDIO_LIMITS.maxBytes + delta);
        const from = stdio.lines.length;
        stdio.input.write(message + ending);
        await stdio.waitFor(() => stdio.lines.length > from, 2_000);
        const expected =
          delta <= 0
            ? { jsonrpc: '2.0', id: 'edge', result: {} }
            : {
                jsonrpc: '2.0',
                id: null,
                error: { code: -32600, message: `message larger than ${STDIO_LIMITS.maxBytes} bytes` },
              };
        // The line ending is not part of the message (the HTTP endpoint accepts the same message).
        expect({ bytes: STDIO_LIMITS.maxBytes + delta, ending, answer: parsedLines(stdio.lines.slice(from)) }).toEqual({
          bytes: STDIO_LIMITS.maxBytes + delta,
          ending,
          answer: [expected],
        });
      }),
      { numRuns: 20 },
    );
  });

  it('GW-05 stdio 4: a request the MCP SDK cannot read (bad params._meta) still gets exactly one JSON-RPC answer', async () => {
    const badMeta = fc.oneof(
      fc.constantFrom<unknown>(
        null,
        1,
        'x',
        [],
        true,
        { progressToken: 1.5 },
        { progressToken: null },
        { progressToken: {} },
        { 'io.modelcontextprotocol/related-task': 5 },
      ),
      fc.string().map((s) => s as unknown),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(badMeta, fc.constantFrom('ping', 'tools/list', 'tools/call'), async (meta, method) => {
        const id = `meta-${++n}`;
        const line = utf8(JSON.stringify({ jsonrpc: '2.0', id, method, params: { _meta: meta } }));
        // The answer of a ping comes back in milliseconds; 1.5 s of silence is a hang.
        await stdioRound(stdio, fx, [line], ['\n'], [1 << 20], STDIO_LIMITS, 1_500);
      }),
      // Every failing run costs the full wait: report the first failure without shrinking.
      { numRuns: 10, endOnFailure: true },
    );
  }, 15_000);

  it('GW-05 stdio 5: the endpoint survives its input ending mid-line and stops cleanly', async () => {
    await fc.assert(
      fc.asyncProperty(bodyBytes, async (tail) => {
        const s = startStdio(fx);
        const answer = await stdioCall(s, { jsonrpc: '2.0', id: 1, method: 'ping' });
        expect(answer).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
        s.input.end(tail);
        await Promise.race([
          s.served,
          sleep(2_000).then(() => Promise.reject(new Error('serveStdio did not return after end of input'))),
        ]);
      }),
      { numRuns: 20 },
    );
  });
});

describe('GW-05 one session guard: the same abuse is refused the same way on stdio and over HTTP', () => {
  it('GW-05 a duplicate id, too many in flight, an oversized message, a second initialize, an unreadable _meta: the same JSON-RPC refusal on both transports', async () => {
    const limits = { maxBytes: 4096, maxDepth: 64, maxInFlight: 2 };
    const hold = (id: string): Record<string, unknown> & { id: string } => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'fake__slow', arguments: { holdMs: 800 } },
    });
    // Sent while h1 and h2 are in flight (the session's limit of 2).
    const abuse: Record<string, unknown>[] = [
      hold('h1'),
      hold('h3'),
      { jsonrpc: '2.0', id: 'big', method: 'ping', params: { pad: 'p'.repeat(limits.maxBytes) } },
      { jsonrpc: '2.0', id: 'again', method: 'initialize', params: INITIALIZE },
      { jsonrpc: '2.0', id: 'meta', method: 'ping', params: { _meta: 1 } },
    ];
    const expected = [
      { id: 'h1', code: -32600, message: 'duplicate request id: a request with this id is still in flight' },
      {
        id: 'h3',
        code: -32007,
        message: 'too many requests in flight: this session already waits for 2 answers; send more when some have come',
      },
      { id: null, code: -32600, message: `message larger than ${limits.maxBytes} bytes` },
      {
        id: 'again',
        code: -32600,
        message: 'this session is already initialized; open a new session to initialize again',
      },
      {
        id: 'meta',
        code: -32600,
        message: 'the message is not a valid MCP JSON-RPC message (check params and params._meta)',
      },
    ].map(({ id, code, message }) => ({ jsonrpc: '2.0', id, error: { code, message } }));
    const held = async (from: number): Promise<void> => {
      for (let i = 0; i < 200 && fx.upstreamCalls.length < from + 2; i++) await sleep(10);
      expect(fx.upstreamCalls.length).toBe(from + 2);
    };

    const h = await startHttp(fx, 100, undefined, limits);
    const s = startStdio(fx, limits);
    try {
      // Over HTTP: two calls held in flight, then each abuse on its own request.
      let from = fx.upstreamCalls.length;
      const inFlight = [post(h, hold('h1'), TOKEN, h.session), post(h, hold('h2'), TOKEN, h.session)];
      await held(from);
      const overHttp: { status: number; body: unknown }[] = [];
      for (const message of abuse) {
        const r = await post(h, message, TOKEN, h.session);
        overHttp.push({ status: r.status, body: JSON.parse(r.body.toString('utf8')) as unknown });
      }
      for (const r of await Promise.all(inFlight)) expect(r.status).toBe(200);
      // The answers freed the slots: the next request is served.
      expect(messagesOf(await post(h, { jsonrpc: '2.0', id: 'after', method: 'ping' }, TOKEN, h.session))).toEqual([
        { jsonrpc: '2.0', id: 'after', result: {} },
      ]);

      // On stdio: the same.
      expect(
        (await stdioCall(s, { jsonrpc: '2.0', id: 'init', method: 'initialize', params: INITIALIZE })).result,
      ).toBeDefined();
      s.input.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
      from = fx.upstreamCalls.length;
      s.input.write(`${JSON.stringify(hold('h1'))}\n${JSON.stringify(hold('h2'))}\n`);
      await held(from);
      const overStdio: unknown[] = [];
      for (const message of abuse) {
        const before = s.lines.length;
        s.input.write(`${JSON.stringify(message)}\n`);
        await s.waitFor(() => s.lines.length > before, 2_000);
        overStdio.push(...parsedLines(s.lines.slice(before)));
      }
      const answered = (): number =>
        parsedLines(s.lines).filter((m) => (m.id === 'h1' || m.id === 'h2') && m.result !== undefined).length;
      await s.waitFor(() => answered() === 2, 3_000);
      expect(await stdioCall(s, { jsonrpc: '2.0', id: 'after', method: 'ping' }, 3_000)).toEqual({
        jsonrpc: '2.0',
        id: 'after',
        result: {},
      });

      expect(overStdio).toEqual(expected);
      expect(overHttp.map((r) => r.body)).toEqual(expected);
      // HTTP adds only its status: 429 for too many in flight, 413 for too large.
      expect(overHttp.map((r) => r.status)).toEqual([400, 429, 413, 400, 400]);
    } finally {
      s.input.end();
      await s.served;
      await h.endpoint.close();
    }
  });
});

describe('GW-08 SSE resumption through the HTTP endpoint', () => {
  it("GW-08 a Last-Event-ID whose event was dropped as the oldest, or another session's, is refused with 400 -32600", async () => {
    const h = await startHttp(fx, 100, undefined, { ...HTTP_LIMITS, replayEvents: 2 });
    const eventIds = (r: RawResponse): string[] =>
      [...r.body.toString('utf8').matchAll(/^id: ?(.+)$/gm)].map((m) => m[1] ?? '');
    const resume = async (session: string, lastEventId: string): Promise<RawResponse | null> =>
      rawExchange(
        h.port,
        encodeRequest(
          {
            method: 'GET',
            path: '/mcp',
            headers: [
              ...goodHeaders(h.port, TOKEN, session).filter(([k]) => k !== 'Content-Type'),
              ['Last-Event-ID', lastEventId],
            ],
            body: new Uint8Array(),
            framing: 'length',
          },
          HTTP_LIMITS.maxBytes,
        ),
      );
    const refusal = {
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32600,
        message:
          "Last-Event-ID is not an event of this session that is still kept (unknown, dropped as the oldest, or another session's); open the stream again without it",
      },
    };
    try {
      const ids: string[] = [];
      for (const n of [1, 2, 3]) {
        ids.push(...eventIds(await post(h, { jsonrpc: '2.0', id: `r${n}`, method: 'ping' }, TOKEN, h.session)));
      }
      // One event (the answer) per ping; only the two newest are kept.
      expect(ids).toHaveLength(3);
      const dropped = await resume(h.session, ids[0] ?? '');
      expect({
        status: dropped?.status,
        body: JSON.parse(dropped?.body.toString('utf8') ?? 'null') as unknown,
      }).toEqual({
        status: 400,
        body: refusal,
      });
      // The other session's newest event, offered to this session.
      const others = eventIds(await post(h, { jsonrpc: '2.0', id: 'o1', method: 'ping' }, OTHER_TOKEN, h.otherSession));
      expect(others).toHaveLength(1);
      const foreign = await resume(h.session, others[0] ?? '');
      expect({
        status: foreign?.status,
        body: JSON.parse(foreign?.body.toString('utf8') ?? 'null') as unknown,
      }).toEqual({
        status: 400,
        body: refusal,
      });
    } finally {
      await h.endpoint.close();
    }
  });
});

describe('GW-08 a full HTTP endpoint makes room by closing its idlest session', () => {
  it('GW-08 at maxSessions a new initialize closes the session idle the longest; when every session is busy it is refused with 503', async () => {
    // startHttp opens two sessions (one per token): with room for three, one more fits.
    const h = await startHttp(fx, 3);
    const ping = async (session: string, token = TOKEN): Promise<number> =>
      (await post(h, { jsonrpc: '2.0', id: 'p', method: 'ping' }, token, session)).status;
    try {
      const third = await openSession(h, TOKEN);
      // The other token's session was used last of the first two; h.session is the idlest.
      expect(await ping(h.otherSession, OTHER_TOKEN)).toBe(200);
      expect(await ping(third)).toBe(200);
      const fourth = await openSession(h, TOKEN);
      expect(h.endpoint.sessionCount).toBe(3);
      expect(await ping(h.session)).toBe(404);
      expect([await ping(h.otherSession, OTHER_TOKEN), await ping(third), await ping(fourth)]).toEqual([200, 200, 200]);
      expect(h.rejected.at(-1)?.reason).toBe('idle session closed to make room for a new one (at most 3 sessions)');

      // Every session busy (a call held open on each): no room, nothing closed.
      const hold = (id: string): Record<string, unknown> => ({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'fake__slow', arguments: { holdMs: 800 } },
      });
      const from = fx.upstreamCalls.length;
      const held = [
        post(h, hold('b1'), OTHER_TOKEN, h.otherSession),
        post(h, hold('b2'), TOKEN, third),
        post(h, hold('b3'), TOKEN, fourth),
      ];
      for (let i = 0; i < 200 && fx.upstreamCalls.length < from + 3; i++) await sleep(10);
      const refused = await post(h, { jsonrpc: '2.0', id: 0, method: 'initialize', params: INITIALIZE }, TOKEN);
      expect(refused.status).toBe(503);
      for (const r of await Promise.all(held)) expect(r.status).toBe(200);
      expect(h.endpoint.sessionCount).toBe(3);
    } finally {
      await h.endpoint.close();
    }
  });
});
