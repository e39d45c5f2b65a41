/**
 * The gateway's Streamable HTTP endpoint (MCP 2025-11-25 transport), on a unix socket (a run's
 * gateway, forwarded into the sandbox) or on a loopback TCP port (`warden gateway --listen`).
 * Before the SDK's transport sees anything: the path, Host and Origin (DNS rebinding, GW-08), the
 * caller's credential, the body's size and strict JSON-RPC parsing (GW-05), and duplicate
 * in-flight ids. Sessions get unguessable ids bound to the identity that opened them (GW-08).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { RPC } from './errors.js';
import {
  oversizedRefusal,
  refusalResponse,
  screenBoundary,
  SessionGuard,
  sessionLimits,
  type Refusal,
  type RefusalKind,
  type SessionLimits,
} from './session-guard.js';
import type { ParsedMessage } from './jsonrpc-boundary.js';
import { SessionEventStore } from './event-store.js';

/** Who is calling, as an authenticator established it. */
export interface Caller {
  /** Stable id of the credential (never the credential itself). */
  readonly subject: string;
}

export type AuthResult =
  | { readonly ok: true; readonly caller: Caller }
  | {
      readonly ok: false;
      readonly status: 401 | 403;
      readonly error: 'invalid_token' | 'insufficient_scope';
      readonly description: string;
    };

export interface HttpEndpointOptions {
  /** Creates the SDK server for a new session (the gateway's session factory), for `caller`. */
  readonly createSession: (sessionLabel: string, caller: Caller) => Server;
  readonly authenticate: (authorization: string | undefined) => AuthResult | Promise<AuthResult>;
  /** Host header values accepted, e.g. ['127.0.0.1:3129', 'localhost:3129'] (more with allow()). */
  readonly allowedHosts: readonly string[];
  /** Origin header values accepted when one is sent (browsers always send one). */
  readonly allowedOrigins: readonly string[];
  /** The session limits (session-guard.ts); the defaults are the fixed ones in docs/config.md. */
  readonly limits?: Partial<SessionLimits>;
  /** A request was refused before reaching a session (for the audit log). */
  readonly onRejected?: (reason: string, code: number, session: string) => void;
  /** Longest a client may take to send a request body (default BODY_TIMEOUT_MS). */
  readonly bodyTimeoutMs?: number;
}

interface Session {
  readonly transport: StreamableHTTPServerTransport;
  readonly server: Server;
  readonly subject: string;
  readonly label: string;
  /** The same guard a stdio session has: one initialize, ids and requests in flight. */
  readonly guard: SessionGuard;
  /** What its SSE streams carried, for a client resuming with Last-Event-ID (event-store.ts). */
  readonly events: SessionEventStore;
  /** Its HTTP exchanges still open (requests being answered, SSE streams). */
  open: number;
  /** When it last had an exchange open or closing (ms since the epoch). */
  lastActive: number;
}

/** The HTTP status a refusal of each kind gets; its body is the same JSON-RPC error as on stdio. */
const REFUSAL_STATUS: Readonly<Record<RefusalKind, number>> = {
  oversized: 413,
  malformed: 400,
  unreadable: 400,
  reinitialize: 400,
  duplicate: 400,
  busy: 429,
};

const MCP_PATH = '/mcp';

export class HttpEndpoint {
  readonly #options: HttpEndpointOptions;
  readonly #limits: SessionLimits;
  readonly #sessions = new Map<string, Session>();
  readonly #http: HttpServer;
  #socketPath: string | null = null;

  readonly #hosts: Set<string>;
  readonly #origins: Set<string>;

  constructor(options: HttpEndpointOptions) {
    this.#options = options;
    this.#limits = sessionLimits(options.limits);
    this.#hosts = new Set(options.allowedHosts);
    this.#origins = new Set(options.allowedOrigins);
    this.#http = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.#jsonError(res, 500, null, RPC.internal, 'internal error');
        else res.destroy(error as Error);
      });
    });
    // Slow-loris and idle limits: a stuck client cannot hold the endpoint.
    this.#http.headersTimeout = 10_000;
    this.#http.requestTimeout = 0; // SSE streams are long-lived; bodies are bounded by size and time in readBody.
    this.#http.keepAliveTimeout = 60_000;
    this.#http.maxHeadersCount = 64;
  }

  /**
   * Accepts these Host and Origin values too; for names that contain the port, which a listener on
   * port 0 knows only after listen().
   */
  allow(hosts: readonly string[], origins: readonly string[]): void {
    for (const host of hosts) this.#hosts.add(host);
    for (const origin of origins) this.#origins.add(origin);
  }

  /** Listens on a unix socket (mode 0660) or host:port; resolves with the TCP port when any. */
  async listen(
    target: { readonly socketPath: string; readonly mode?: number } | { readonly host: string; readonly port: number },
  ): Promise<number | null> {
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      if ('socketPath' in target) {
        rmSync(target.socketPath, { force: true });
        this.#http.listen(target.socketPath, () => resolve());
      } else {
        this.#http.listen(target.port, target.host, () => resolve());
      }
    });
    if ('socketPath' in target) {
      this.#socketPath = target.socketPath;
      chmodSync(target.socketPath, target.mode ?? 0o660);
      return null;
    }
    return (this.#http.address() as AddressInfo).port;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  async close(): Promise<void> {
    for (const session of this.#sessions.values()) await session.transport.close().catch(() => undefined);
    this.#sessions.clear();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
    if (this.#socketPath !== null) rmSync(this.#socketPath, { force: true });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path !== MCP_PATH) return this.#plain(res, 404, 'not found: the MCP endpoint is /mcp');
    // GW-08: a page in a browser that resolved some name to 127.0.0.1 sends its own Host/Origin.
    const host = req.headers.host ?? '';
    if (!this.#hosts.has(host)) return this.#reject(res, 403, 'host not allowed', '-');
    const origin = req.headers.origin;
    if (origin !== undefined && !this.#origins.has(origin)) return this.#reject(res, 403, 'origin not allowed', '-');

    const auth = await this.#options.authenticate(req.headers.authorization);
    if (!auth.ok) {
      res.setHeader(
        'WWW-Authenticate',
        `Bearer error="${auth.error}", error_description="${auth.description.replace(/["\\]/g, '')}"`,
      );
      return this.#reject(res, auth.status, auth.description, '-');
    }

    const sessionHeader = req.headers['mcp-session-id'];
    const sessionId = typeof sessionHeader === 'string' ? sessionHeader : undefined;
    const session = sessionId === undefined ? undefined : this.#sessions.get(sessionId);
    // A session belongs to the credential that opened it; to anyone else it does not exist.
    if (sessionId !== undefined && (session === undefined || session.subject !== auth.caller.subject)) {
      return this.#jsonError(res, 404, null, RPC.invalidRequest, 'session not found');
    }

    // GW-10: a version this gateway does not speak is refused here, on the record, before the
    // SDK's transport sees the request (on a session, the version was fixed at initialize).
    const version = req.headers['mcp-protocol-version'];
    if (
      session !== undefined &&
      version !== undefined &&
      (typeof version !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(version))
    ) {
      return this.#reject(
        res,
        400,
        `unsupported MCP-Protocol-Version ${JSON.stringify(version)}; supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`,
        session.label,
      );
    }

    if (req.method === 'GET' || req.method === 'DELETE') {
      if (session === undefined)
        return this.#jsonError(res, 400, null, RPC.invalidRequest, 'mcp-session-id header required');
      // GW-08: a resumption replays only this session's own kept events; any other id (unknown,
      // dropped as the oldest, another session's) is refused here, before the SDK sees it.
      const lastEventId = req.headers['last-event-id'];
      if (
        req.method === 'GET' &&
        lastEventId !== undefined &&
        (typeof lastEventId !== 'string' || !session.events.has(lastEventId))
      )
        return this.#reject(
          res,
          400,
          "Last-Event-ID is not an event of this session that is still kept (unknown, dropped as the oldest, or another session's); open the stream again without it",
          session.label,
        );
      return this.#forward(session, req, res);
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'GET, POST, DELETE');
      return this.#plain(res, 405, 'method not allowed');
    }
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type))
      return this.#jsonError(res, 415, null, RPC.invalidRequest, 'Content-Type must be application/json');

    const body = await readBody(req, this.#limits.maxBytes, this.#options.bodyTimeoutMs);
    if (body === null) return this.#refuse(res, oversizedRefusal(this.#limits), session?.label ?? '-');

    if (session === undefined) {
      const screened = screenBoundary(body, this.#limits);
      if (!screened.ok) return this.#refuse(res, screened.refusal, '-');
      const message = screened.parsed;
      if (message.kind !== 'request' || message.method !== 'initialize')
        return this.#jsonError(
          res,
          400,
          message.kind === 'request' ? message.id : null,
          RPC.invalidRequest,
          'no session: send initialize first (without mcp-session-id)',
        );
      return this.#openSession(req, res, message, auth.caller);
    }
    // The same guard as a stdio session's: size, strict parse, one initialize, ids in flight.
    const admission = session.guard.admit(body);
    if (!admission.ok) return this.#refuse(res, admission.refusal, session.label);
    const message = admission.parsed;
    if (message.kind === 'request') res.once('close', () => session.guard.settle(message.id));
    return this.#forward(session, req, res, message.message);
  }

  /** Hands a request to a session's SDK transport; whatever it refuses is on the record too. */
  async #forward(session: Session, req: IncomingMessage, res: ServerResponse, body?: unknown): Promise<void> {
    const { label, transport } = session;
    // Activity, for choosing which idle session makes room when the endpoint is full.
    session.open++;
    session.lastActive = Date.now();
    res.once('close', () => {
      session.open--;
      session.lastActive = Date.now();
    });
    res.once('finish', () => {
      if (res.statusCode >= 400)
        this.#options.onRejected?.(
          `refused by the MCP transport with HTTP ${res.statusCode}`,
          RPC.invalidRequest,
          label,
        );
    });
    await transport.handleRequest(req, res, body);
  }

  async #openSession(req: IncomingMessage, res: ServerResponse, parsed: ParsedMessage, caller: Caller): Promise<void> {
    const initialize = parsed.message;
    const problem = initializeProblem(initialize);
    if (problem !== null) return this.#reject(res, 400, `invalid initialize: ${problem}`, '-', RPC.invalidParams);
    if (this.#sessions.size >= this.#limits.maxSessions && !(await this.#closeIdlest()))
      return this.#reject(res, 503, 'too many sessions; close one first', '-', RPC.internal);
    const id = randomBytes(24).toString('base64url');
    const label = id.slice(0, 8);
    const server = this.#options.createSession(label, caller);
    const events = new SessionEventStore({
      maxEvents: this.#limits.replayEvents,
      maxBytes: this.#limits.replayBytes,
    });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      // Resumability (2025-11-25): event ids on SSE events, a priming event, replay on Last-Event-ID.
      eventStore: events,
      onsessionclosed: (closed) => void this.#sessions.delete(closed),
    });
    transport.onclose = () => {
      this.#sessions.delete(id);
      events.clear();
    };
    await server.connect(transport);
    const guard = new SessionGuard(this.#limits);
    // The initialize is the session's first request: admitted (a new guard refuses nothing), so a
    // second one is refused, and in flight until answered.
    guard.admitParsed(parsed);
    if (parsed.kind === 'request') res.once('close', () => guard.settle(parsed.id));
    const session: Session = {
      transport,
      server,
      subject: caller.subject,
      label,
      guard,
      events,
      open: 0,
      lastActive: 0,
    };
    this.#sessions.set(id, session);
    await this.#forward(session, req, res, initialize);
    // The SDK refused the initialize: no session exists for the client, so none may hold a slot.
    if (transport.sessionId === undefined) {
      this.#sessions.delete(id);
      await transport.close().catch(() => undefined);
    }
  }

  /**
   * Makes room for a new session: closes the session idle the longest (no exchange open, nothing
   * in flight). Clients that go away without DELETE (the SDK's client does not send one on close)
   * would otherwise fill every slot for good. Resolves false when every session is busy.
   */
  async #closeIdlest(): Promise<boolean> {
    let idlest: [string, Session] | undefined;
    for (const entry of this.#sessions) {
      const s = entry[1];
      if (s.open > 0 || s.guard.inFlight > 0) continue;
      if (idlest === undefined || s.lastActive < idlest[1].lastActive) idlest = entry;
    }
    if (idlest === undefined) return false;
    const [id, session] = idlest;
    this.#options.onRejected?.(
      `idle session closed to make room for a new one (at most ${this.#limits.maxSessions} sessions)`,
      RPC.invalidRequest,
      session.label,
    );
    this.#sessions.delete(id);
    await session.transport.close().catch(() => undefined);
    return true;
  }

  /** Answers a refusal of the session guard: its HTTP status, the same JSON-RPC error as on stdio. */
  #refuse(res: ServerResponse, refusal: Refusal, session: string): void {
    this.#options.onRejected?.(refusal.reason, refusal.code, session);
    res
      .writeHead(REFUSAL_STATUS[refusal.kind], { 'content-type': 'application/json' })
      .end(JSON.stringify(refusalResponse(refusal)));
  }

  #reject(
    res: ServerResponse,
    status: number,
    reason: string,
    session: string,
    code: number = RPC.invalidRequest,
  ): void {
    this.#options.onRejected?.(reason, code, session);
    this.#jsonError(res, status, null, code, reason);
  }

  #jsonError(res: ServerResponse, status: number, id: string | number | null, code: number, message: string): void {
    res
      .writeHead(status, { 'content-type': 'application/json' })
      .end(JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } }));
  }

  #plain(res: ServerResponse, status: number, text: string): void {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
  }
}

/** Why an initialize request's params are not what MCP requires, or null when they are. */
function initializeProblem(message: Record<string, unknown>): string | null {
  const params = message['params'];
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return 'params must be an object';
  const p = params as Record<string, unknown>;
  if (typeof p['protocolVersion'] !== 'string' || p['protocolVersion'] === '')
    return 'params.protocolVersion must be a non-empty string';
  if (typeof p['capabilities'] !== 'object' || p['capabilities'] === null || Array.isArray(p['capabilities']))
    return 'params.capabilities must be an object';
  const info = p['clientInfo'];
  if (typeof info !== 'object' || info === null || Array.isArray(info)) return 'params.clientInfo must be an object';
  const { name, version } = info as Record<string, unknown>;
  if (typeof name !== 'string' || typeof version !== 'string')
    return 'params.clientInfo needs name and version strings';
  return null;
}

/**
 * Longest a client may take to send a request body. The server's own requestTimeout is off
 * (it would also cut long-lived SSE streams), so a client that stalls mid-body is cut here.
 */
export const BODY_TIMEOUT_MS = 30_000;

/**
 * The request body, or null when it exceeds `max` bytes (reading stops there). A body not
 * complete within `timeoutMs` destroys the connection (the promise rejects): a stalled upload
 * must not hold a connection, or a session's request slot, forever.
 */
function readBody(req: IncomingMessage, max: number, timeoutMs: number = BODY_TIMEOUT_MS): Promise<Buffer | null> {
  // The timer runs until the body has ended, also while an oversized one is drained (after the
  // caller's 413): a client trickling bytes past the cap must not hold the connection either.
  const timer = setTimeout(() => req.destroy(new Error(`request body not complete after ${timeoutMs} ms`)), timeoutMs);
  const stop = (): void => clearTimeout(timer);
  req.once('end', stop);
  req.once('close', stop);
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > max) {
    req.resume();
    return Promise.resolve(null);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (value: Buffer | null): void => {
      if (settled) return;
      settled = true;
      resolve(value);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return; // an oversized body being drained
      size += chunk.length;
      if (size > max) {
        chunks.length = 0;
        settle(null);
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => settle(size > max ? null : Buffer.concat(chunks, size)));
    req.once('error', (error) => {
      if (!settled) {
        settled = true;
        reject(error);
      }
    });
    req.once('close', () => {
      if (!settled) {
        settled = true;
        reject(new Error(`request body not complete after ${timeoutMs} ms, or the client went away`));
      }
    });
  });
}
