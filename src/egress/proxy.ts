/**
 * The egress proxy: one unix-socket listener that speaks HTTP forward proxying (absolute-form
 * requests), HTTP CONNECT and SOCKS5, and lets a connection through only when the run's
 * allow-list permits it AND the decision is durably recorded.
 *
 * Every decision becomes exactly one `egress.allowed` or `egress.denied` event, and the proxy
 * waits for the sink to confirm the event is durable before it forwards a byte or sends the
 * refusal: what is not in the audit log did not happen (fail closed: a sink that rejects means
 * the connection is refused with `audit_failed`). The upstream TCP connect may run while the
 * event is being written, but no data moves until both succeed.
 *
 * The listener sniffs the first byte of each connection: 0x05 is a SOCKS5 greeting (no HTTP
 * method starts with it); anything else is handed to a `node:http` server.
 */
import { chmod, chown, lstat, unlink } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import { WardenError } from '../core/errors.js';
import type { AgentIdentity, AuditEventInput, EgressDenyReason, EgressProtocol, EventSink } from '../core/events.js';
import { normaliseHost } from '../core/host-pattern.js';
import type { HostPattern } from '../core/host-pattern.js';
import { parseAuthority } from './authority.js';
import { EventRateLimiter, ProxyCredential } from './credential.js';
import type { CredentialCheck } from './credential.js';
import { hostPort, reportableHost, systemResolver } from './policy.js';
import type { BlockedAddress, EgressDenial, EgressPolicy, Resolver } from './policy.js';
import { AUTH_DETAIL, PROXY_AUTHENTICATE, rawRefusal, refusalBody, statusFor } from './refusal.js';
import {
  AUTH_FAILED,
  AUTH_OK,
  ByteReader,
  METHOD_NONE_ACCEPTABLE,
  METHOD_USER_PASS,
  SocksCommand,
  SocksReply,
  parseGreeting,
  parseRequest,
  parseUserPassword,
  socksReply,
} from './socks5.js';
import { startTunnel } from './tunnel.js';
import type { GateRefusal } from './tunnel.js';
import { CheckedAgent, UpstreamError, connectChecked } from './upstream.js';
import type { CheckedRequestOptions } from './upstream.js';

/** Where the proxy sends its events; `append` resolves once the event is durable. */
export type EgressEventSink = EventSink;

/** Time limits, in milliseconds. */
export interface EgressTimeouts {
  /** From accept until the first request is complete (HTTP request head, or the SOCKS5 request). */
  readonly handshakeMs: number;
  /** For resolving a name. */
  readonly resolveMs: number;
  /** For connecting to the upstream (all candidate addresses together). */
  readonly connectMs: number;
  /** Inactivity on a tunnel, a forwarded request or an idle client connection. */
  readonly idleMs: number;
  /** For the rest of a TLS ClientHello once its first byte arrived (NET-05 check). */
  readonly helloMs: number;
}

/** Size and count limits. */
export interface EgressLimits {
  /** Client connections open at once; more are closed on accept. */
  readonly maxConnections: number;
  /** Largest HTTP request head (request line + headers). */
  readonly maxHeaderBytes: number;
  /** Requests served on one keep-alive client connection. */
  readonly maxRequestsPerConnection: number;
  /** Client bytes held while waiting for a complete ClientHello. */
  readonly maxHelloBytes: number;
  /** `auth_failed` events recorded per second; further failures are counted, not recorded. */
  readonly authEventsPerSecond: number;
  /** `egress.denied` records per second for requests the HTTP parser refuses (the rest are counted). */
  readonly parserEventsPerSecond: number;
  /** Distinct denied targets remembered by {@link EgressProxy.stats}. */
  readonly maxDeniedTargets: number;
  /** Upstream sockets the plain-HTTP forwarder keeps (active + idle). */
  readonly maxUpstreamSockets: number;
}

/** Defaults for {@link EgressTimeouts}. */
export const DEFAULT_EGRESS_TIMEOUTS: EgressTimeouts = Object.freeze({
  handshakeMs: 15_000,
  resolveMs: 5_000,
  connectMs: 10_000,
  idleMs: 300_000,
  helloMs: 5_000,
});

/** Defaults for {@link EgressLimits}. */
export const DEFAULT_EGRESS_LIMITS: EgressLimits = Object.freeze({
  maxConnections: 1024,
  maxHeaderBytes: 16 * 1024,
  maxRequestsPerConnection: 1_000,
  maxHelloBytes: 16 * 1024 + 5,
  authEventsPerSecond: 5,
  parserEventsPerSecond: 5,
  maxDeniedTargets: 256,
  maxUpstreamSockets: 512,
});

/** Settings for {@link EgressProxy}. */
export interface EgressProxyOptions {
  /** Path of the unix socket to listen on (its directory should be private to warden). */
  readonly socketPath: string;
  /** File mode for the socket, e.g. 0o660 (group = the sandbox's forwarder) or 0o666. */
  readonly socketMode: number;
  /** Owner to give the socket, when warden runs as root and the forwarder does not. */
  readonly socketOwner?: { readonly uid: number; readonly gid: number };
  readonly policy: EgressPolicy;
  /** The run's proxy credential; clients authenticate as `warden:<credential>`. */
  readonly credential: string;
  readonly sink: EgressEventSink;
  readonly runId: string;
  readonly agent: AgentIdentity;
  /** Name resolver; the system resolver by default. */
  readonly resolver?: Resolver;
  readonly timeouts?: Partial<EgressTimeouts>;
  readonly limits?: Partial<EgressLimits>;
}

/** One denied target in {@link EgressStats}. */
export interface EgressDeniedTarget {
  /** Normalised when possible; empty when the refusal came before a target was known (e.g. SOCKS5 auth). */
  readonly host: string;
  /** 0 when unknown. */
  readonly port: number;
  readonly reason: EgressDenyReason;
  readonly count: number;
  /** For `blocked_address`: the address the name resolved to and the entry that would admit it (first refusal's). */
  readonly blocked?: BlockedAddress;
}

/** Counters since start. */
export interface EgressStats {
  readonly allowed: number;
  readonly denied: number;
  /** Distinct denied targets, up to `limits.maxDeniedTargets` (the rest only counted in `denied`). */
  readonly deniedTargets: readonly EgressDeniedTarget[];
  /** Bytes received from clients and sent to clients (all protocols, headers included). */
  readonly bytesFromClients: number;
  readonly bytesToClients: number;
  readonly activeConnections: number;
  /** Connections closed on accept because `maxConnections` were open. */
  readonly rejectedConnections: number;
  /** `auth_failed` decisions not recorded individually because of the rate limit. */
  readonly suppressedAuthEvents: number;
}

/** A target the policy allowed, with the checked addresses to connect to. */
interface Allowed {
  readonly allow: true;
  readonly host: string;
  readonly port: number;
  readonly rule: HostPattern;
  readonly addresses: readonly string[];
}

// Hop-by-hop headers (RFC 9110 §7.6.1) plus the proxy's own: never forwarded in either direction.
// Host is rebuilt from the checked target, Expect is answered by the proxy itself.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const REQUEST_DROP = new Set([...HOP_BY_HOP, 'host', 'expect']);

function connectionTokens(value: string | undefined): Set<string> | undefined {
  if (value === undefined || value === '') return undefined;
  const tokens = new Set<string>();
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t !== '') tokens.add(t);
  }
  return tokens;
}

function filterHeaders(
  raw: readonly string[],
  drop: ReadonlySet<string>,
  extra: ReadonlySet<string> | undefined,
  out: string[],
): string[] {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const lower = name.toLowerCase();
    if (drop.has(lower) || extra?.has(lower)) continue;
    out.push(name, raw[i + 1] ?? '');
  }
  return out;
}

function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function endWith(socket: Socket, data: string | Buffer): void {
  if (socket.destroyed) return;
  socket.end(data, () => socket.destroy());
}

function socksReplyFor(reason: EgressDenyReason): number {
  switch (reason) {
    case 'resolve_failed':
      return SocksReply.hostUnreachable;
    case 'unsupported':
      return SocksReply.commandNotSupported;
    case 'bad_request':
    case 'audit_failed':
    case 'auth_failed':
      return SocksReply.generalFailure;
    case 'not_allowed':
    case 'port_not_allowed':
    case 'blocked_address':
    case 'host_mismatch':
      return SocksReply.notAllowed;
  }
}

function socksReplyForUpstream(err: unknown): number {
  const code = err instanceof UpstreamError ? err.code : '';
  if (code === 'ECONNREFUSED') return SocksReply.connectionRefused;
  if (code === 'ENETUNREACH') return SocksReply.networkUnreachable;
  if (code === 'timeout') return SocksReply.ttlExpired;
  return SocksReply.hostUnreachable;
}

function upstreamDetail(host: string, port: number, err: unknown): string {
  const code = err instanceof UpstreamError ? err.code : 'error';
  return `could not connect to ${hostPort(host, port)} (${code})`;
}

/**
 * The egress proxy for one run (or several runs sharing a policy). Create, `start()`, hand the
 * socket path to the sandbox, `close()` in a `finally`.
 */
export class EgressProxy {
  readonly #options: EgressProxyOptions;
  readonly #policy: EgressPolicy;
  readonly #credential: ProxyCredential;
  /** Kept only to scrub it from event text; never logged. */
  readonly #secret: string;
  readonly #resolver: Resolver;
  readonly #timeouts: EgressTimeouts;
  readonly #limits: EgressLimits;
  readonly #authLimiter: EventRateLimiter;
  readonly #parserLimiter: EventRateLimiter;
  readonly #net: NetServer;
  readonly #http: HttpServer;
  readonly #agent: CheckedAgent;
  readonly #clients = new Set<Socket>();
  readonly #upstreams = new Set<Socket>();
  #started = false;
  #closed = false;

  #allowed = 0;
  #denied = 0;
  readonly #deniedTargets = new Map<
    string,
    { host: string; port: number; reason: EgressDenyReason; count: number; blocked?: BlockedAddress }
  >();
  #bytesIn = 0;
  #bytesOut = 0;
  #rejected = 0;
  #suppressedAuth = 0;

  /**
   * @throws TypeError when an option is unusable (bad credential, empty socket path)
   */
  constructor(options: EgressProxyOptions) {
    if (typeof options.socketPath !== 'string' || options.socketPath.length === 0)
      throw new TypeError('egress proxy needs a socketPath');
    if (!Number.isInteger(options.socketMode) || options.socketMode < 0 || options.socketMode > 0o777)
      throw new TypeError('egress proxy socketMode must be a file mode such as 0o660');
    this.#options = options;
    this.#policy = options.policy;
    this.#credential = new ProxyCredential(options.credential);
    this.#secret = options.credential;
    this.#resolver = options.resolver ?? systemResolver;
    this.#timeouts = { ...DEFAULT_EGRESS_TIMEOUTS, ...options.timeouts };
    this.#limits = { ...DEFAULT_EGRESS_LIMITS, ...options.limits };
    this.#authLimiter = new EventRateLimiter(this.#limits.authEventsPerSecond);
    this.#parserLimiter = new EventRateLimiter(this.#limits.parserEventsPerSecond);

    // allowHalfOpen: a tunnel client may finish sending and still read the reply.
    this.#net = createNetServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => this.#onConnection(socket));
    this.#http = createHttpServer({
      maxHeaderSize: this.#limits.maxHeaderBytes,
      headersTimeout: this.#timeouts.handshakeMs,
      // Bodies may stream for long; inactivity is bounded by `timeout` below instead.
      requestTimeout: 0,
      connectionsCheckingInterval: Math.min(1_000, this.#timeouts.handshakeMs),
      // The policy, not the parser, decides what an absent Host means (absolute-form carries the host).
      requireHostHeader: false,
    });
    this.#http.timeout = this.#timeouts.idleMs;
    this.#http.maxRequestsPerSocket = this.#limits.maxRequestsPerConnection;
    this.#http.on('request', (req: IncomingMessage, res: ServerResponse) =>
      this.#run(this.#onRequest(req, res, false), req.socket),
    );
    // Answering `Expect: 100-continue` ourselves, after the decision, keeps a refused client from sending its body.
    this.#http.on('checkContinue', (req: IncomingMessage, res: ServerResponse) =>
      this.#run(this.#onRequest(req, res, true), req.socket),
    );
    this.#http.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.#run(this.#onConnect(req, socket, head), socket),
    );
    this.#http.on('upgrade', (req: IncomingMessage, socket: Socket) => this.#run(this.#onUpgrade(req, socket), socket));
    // A request Node's parser refuses never reaches the handlers above; it is recorded here (AUD-06).
    this.#http.on('clientError', (error: ParserError, socket: Socket) =>
      this.#run(this.#onParserRefusal(error, socket), socket),
    );

    this.#agent = new CheckedAgent({
      keepAlive: true,
      maxSockets: this.#limits.maxUpstreamSockets,
      maxTotalSockets: this.#limits.maxUpstreamSockets,
      maxFreeSockets: Math.min(64, this.#limits.maxUpstreamSockets),
      timeout: this.#timeouts.idleMs,
      scheduling: 'lifo',
    });
  }

  /** The socket path clients connect to. */
  get socketPath(): string {
    return this.#options.socketPath;
  }

  /**
   * Listens on the unix socket and sets its mode (and owner). A stale socket file from a crashed
   * run is replaced; a live one is an error.
   * @throws WardenError EGRESS_START_FAILED
   */
  async start(): Promise<void> {
    if (this.#started) throw new TypeError('egress proxy already started');
    this.#started = true;
    const path = this.#options.socketPath;
    try {
      await removeStaleSocket(path);
      await new Promise<void>((resolve, reject) => {
        this.#net.once('error', reject);
        this.#net.listen(path, () => {
          this.#net.off('error', reject);
          // The HTTP server never listens itself; this starts its connection tracking, which is
          // what enforces headersTimeout (slow-header clients) on the connections we hand it.
          this.#http.emit('listening');
          resolve();
        });
      });
      await chmod(path, this.#options.socketMode);
      if (this.#options.socketOwner) await chown(path, this.#options.socketOwner.uid, this.#options.socketOwner.gid);
    } catch (err) {
      if (this.#net.listening) await new Promise<void>((resolve) => this.#net.close(() => resolve()));
      if (err instanceof WardenError) throw err;
      throw new WardenError('EGRESS_START_FAILED', `the egress proxy could not listen on ${path}`, {
        cause: err,
        hint: 'check that the directory exists and is writable by warden',
      });
    }
  }

  /** Stops listening (the socket file goes away) and tears down every client and tunnel (NET-12). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = this.#net.listening
      ? new Promise<void>((resolve) => this.#net.close(() => resolve()))
      : Promise.resolve();
    for (const socket of this.#clients) socket.destroy();
    for (const socket of this.#upstreams) socket.destroy();
    this.#agent.destroy();
    this.#http.close();
    await closed;
  }

  /** Counters since start. Cheap; safe to poll. */
  stats(): EgressStats {
    let bytesIn = this.#bytesIn;
    let bytesOut = this.#bytesOut;
    for (const socket of this.#clients) {
      bytesIn += socket.bytesRead;
      bytesOut += socket.bytesWritten;
    }
    return {
      allowed: this.#allowed,
      denied: this.#denied,
      deniedTargets: [...this.#deniedTargets.values()].map((t) => ({ ...t })),
      bytesFromClients: bytesIn,
      bytesToClients: bytesOut,
      activeConnections: this.#clients.size,
      rejectedConnections: this.#rejected,
      suppressedAuthEvents: this.#suppressedAuth,
    };
  }

  // ---------------------------------------------------------------- connections

  #onConnection(socket: Socket): void {
    // Errors are handled by whoever owns the socket at the time; this keeps a reset from ever
    // becoming an uncaught exception.
    socket.on('error', noop);
    if (this.#closed || this.#clients.size >= this.#limits.maxConnections) {
      this.#rejected++;
      socket.destroy();
      return;
    }
    this.#clients.add(socket);
    socket.once('close', () => {
      this.#clients.delete(socket);
      this.#bytesIn += socket.bytesRead;
      this.#bytesOut += socket.bytesWritten;
    });
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(), this.#timeouts.handshakeMs);
    socket.once('close', () => clearTimeout(timer));
    socket.once('data', (first: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      if (first[0] === 0x05) {
        void this.#onSocks(socket, first).catch(() => socket.destroy());
        return;
      }
      socket.unshift(first);
      this.#http.emit('connection', socket);
      socket.resume();
    });
  }

  /** Runs an async handler; an unexpected failure closes that one client, never the proxy. */
  #run(work: Promise<void>, socket: Socket | null): void {
    work.catch(() => socket?.destroy());
  }

  // ---------------------------------------------------------------- events

  #scrub(text: string): string {
    return text.includes(this.#secret) ? text.split(this.#secret).join('[credential]') : text;
  }

  async #append(event: AuditEventInput): Promise<boolean> {
    try {
      await this.#options.sink.append(event);
      return true;
    } catch {
      return false;
    }
  }

  #countDenied(host: string, port: number, reason: EgressDenyReason, blocked?: BlockedAddress): void {
    this.#denied++;
    const key = `${reason} ${port} ${host}`;
    const entry = this.#deniedTargets.get(key);
    if (entry) entry.count++;
    else if (this.#deniedTargets.size < this.#limits.maxDeniedTargets)
      this.#deniedTargets.set(key, {
        host: this.#scrub(host),
        port,
        reason,
        count: 1,
        ...(blocked === undefined ? {} : { blocked }),
      });
  }

  /** Records a refusal durably (or tries to); the caller sends the refusal afterwards either way. */
  #recordDenied(
    protocol: EgressProtocol,
    host: string,
    port: number,
    reason: EgressDenyReason,
    detail: string,
    method?: string,
    blocked?: BlockedAddress,
  ): Promise<boolean> {
    this.#countDenied(host, port, reason, blocked);
    return this.#append({
      type: 'egress.denied',
      run_id: this.#options.runId,
      agent: this.#options.agent,
      data: {
        protocol,
        host: this.#scrub(host),
        port,
        reason,
        detail: this.#scrub(detail),
        ...(method === undefined ? {} : { method }),
      },
    });
  }

  /** Records an allowed connection; resolves false (and counts an `audit_failed` refusal) when the sink fails. */
  async #recordAllowed(protocol: EgressProtocol, target: Allowed, method?: string): Promise<boolean> {
    const ok = await this.#append({
      type: 'egress.allowed',
      run_id: this.#options.runId,
      agent: this.#options.agent,
      data: {
        protocol,
        host: this.#scrub(target.host),
        port: target.port,
        address: target.addresses[0] ?? '',
        rule: target.rule.text,
        ...(method === undefined ? {} : { method }),
      },
    });
    if (ok) this.#allowed++;
    else this.#countDenied(target.host, target.port, 'audit_failed');
    return ok;
  }

  /** Auth failures are rate-limited: a flood is counted, not written event by event. */
  async #recordAuthFailure(
    protocol: EgressProtocol,
    host: string,
    port: number,
    check: CredentialCheck | 'no_method',
    method?: string,
  ): Promise<void> {
    const suppressed = this.#authLimiter.take();
    if (suppressed === undefined) {
      this.#suppressedAuth++;
      this.#countDenied(host, port, 'auth_failed');
      return;
    }
    const what =
      check === 'missing'
        ? 'no proxy credential'
        : check === 'no_method'
          ? 'SOCKS5 client did not offer username/password authentication'
          : 'wrong proxy credential';
    const more =
      suppressed > 0 ? ` (${suppressed} earlier auth failures were counted but not recorded individually)` : '';
    await this.#recordDenied(protocol, host, port, 'auth_failed', `${what}${more}`, method);
  }

  /**
   * A request whose head Node's HTTP parser refused (control characters or bidi marks in the
   * target, a malformed request line, an oversized head): answered 400 (431 when too large) and
   * recorded as `egress.denied` with the raw request line escaped byte by byte, at most
   * `parserEventsPerSecond` records a second (the rest are counted, AUD-06). Timeouts and resets
   * are not requests and are not recorded.
   */
  async #onParserRefusal(error: ParserError, socket: Socket): Promise<void> {
    const code = typeof error.code === 'string' ? error.code : '';
    if (!code.startsWith('HPE_') || !socket.writable) {
      socket.destroy();
      return;
    }
    const line = requestLine(error.rawPacket);
    const method = /^[A-Z]{1,16} /.exec(line)?.[0].trimEnd();
    const target = line.split(' ')[1] ?? '';
    const loose = method === 'CONNECT' ? looseAuthority(target) : looseTarget(target);
    const tooLarge = code === 'HPE_HEADER_OVERFLOW';
    const what = tooLarge ? 'the request head is too large' : `the request could not be parsed (${code})`;
    const suppressed = this.#parserLimiter.take();
    if (suppressed === undefined) {
      this.#countDenied(loose.host, loose.port, 'bad_request');
    } else {
      const more = suppressed > 0 ? ` (${suppressed} earlier refusals were counted but not recorded individually)` : '';
      await this.#recordDenied(
        method === 'CONNECT' ? 'connect' : 'http',
        loose.host,
        loose.port,
        'bad_request',
        `${what}: ${line}${more}`,
        method,
      );
    }
    endWith(socket, rawRefusal(tooLarge ? 431 : 400, what, 'bad_request'));
  }

  // ---------------------------------------------------------------- decision

  async #decide(rawHost: string, port: number): Promise<Allowed | EgressDenial> {
    const decision = this.#policy.decideHost(rawHost, port);
    if (!decision.allow) return decision;
    const resolved = await this.#policy.resolveTarget(decision.target, port, this.#resolver, this.#timeouts.resolveMs);
    if (!resolved.allow) return resolved;
    return { allow: true, host: decision.target.host, port, rule: decision.rule, addresses: resolved.addresses };
  }

  // ---------------------------------------------------------------- HTTP forward

  #refuse(res: ServerResponse, reason: EgressDenyReason, detail: string): void {
    if (res.destroyed || res.headersSent) {
      res.destroy();
      return;
    }
    const body = refusalBody(this.#scrub(detail), reason);
    const headers: Record<string, string | number> = {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-warden-deny-reason': reason,
    };
    if (reason === 'auth_failed') headers['proxy-authenticate'] = PROXY_AUTHENTICATE;
    res.writeHead(statusFor(reason), headers);
    res.end(body);
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '';
    const check = this.#credential.checkBasic(req.headers['proxy-authorization']);
    if (check !== 'ok') {
      const t = looseTarget(rawUrl);
      await this.#recordAuthFailure('http', t.host, t.port, check, method);
      this.#refuse(res, 'auth_failed', AUTH_DETAIL);
      return;
    }

    const denyHere = async (
      host: string,
      port: number,
      reason: EgressDenyReason,
      detail: string,
      blocked?: BlockedAddress,
    ): Promise<void> => {
      await this.#recordDenied('http', host, port, reason, detail, method, blocked);
      this.#refuse(res, reason, detail);
    };

    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(rawUrl)) {
      const host = reportableHost(req.headers.host ?? '');
      await denyHere(
        host,
        0,
        'bad_request',
        'the proxy needs absolute-form requests (GET http://host/path); configure the client to use HTTP_PROXY',
      );
      return;
    }
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      await denyHere(reportableHost(looseTarget(rawUrl).host), 0, 'bad_request', 'the request URL cannot be parsed');
      return;
    }
    const defaultPort = url.protocol === 'https:' ? 443 : 80;
    const port = url.port === '' ? defaultPort : Number(url.port);
    if (url.protocol !== 'http:') {
      const why =
        url.protocol === 'https:'
          ? 'https:// URLs must be requested with CONNECT (use HTTPS_PROXY), not as a plain proxy request'
          : `the proxy forwards only http:// URLs, not ${url.protocol.slice(0, 20)}`;
      await denyHere(reportableHost(url.hostname), port, 'bad_request', why);
      return;
    }
    if (url.username !== '' || url.password !== '') {
      await denyHere(
        reportableHost(url.hostname),
        port,
        'bad_request',
        'userinfo (user@host) is not allowed in a proxied URL',
      );
      return;
    }

    // Several Host headers are a classic way to make two HTTP parsers disagree; refuse them.
    let hostHeaders = 0;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2)
      if ((raw[i] ?? '').length === 4 && (raw[i] ?? '').toLowerCase() === 'host') hostHeaders++;
    if (hostHeaders > 1) {
      await denyHere(reportableHost(url.hostname), port, 'bad_request', 'more than one Host header');
      return;
    }

    const decision = this.#policy.decideHost(url.hostname, port);
    if (!decision.allow) {
      await denyHere(decision.host, port, decision.reason, decision.detail);
      return;
    }
    const host = decision.target.host;

    // NET-05 for plain HTTP: the Host header must name the same host:port as the URL.
    const hostHeader = req.headers.host;
    if (hostHeader !== undefined) {
      const authority = parseAuthority(hostHeader, 80);
      const norm = authority.ok ? normaliseHost(authority.host) : undefined;
      if (!authority.ok || !norm?.ok || norm.value.host !== host || authority.port !== port) {
        const detail = `the Host header (${reportableHost(hostHeader)}) names another host than the request URL (${hostPort(host, port)})`;
        await this.#recordDenied('http', host, port, 'host_mismatch', detail, method);
        await this.#append({
          type: 'violation',
          run_id: this.#options.runId,
          agent: this.#options.agent,
          data: { kind: 'domain_fronting', detail: this.#scrub(detail) },
        });
        this.#refuse(res, 'host_mismatch', detail);
        return;
      }
    }

    const resolved = await this.#policy.resolveTarget(decision.target, port, this.#resolver, this.#timeouts.resolveMs);
    if (!resolved.allow) {
      await denyHere(resolved.host, port, resolved.reason, resolved.detail, resolved.blocked);
      return;
    }
    const target: Allowed = { allow: true, host, port, rule: decision.rule, addresses: resolved.addresses };
    if (!(await this.#recordAllowed('http', target, method))) {
      this.#refuse(
        res,
        'audit_failed',
        `the connection to ${hostPort(host, port)} could not be recorded in the audit log, so it was refused`,
      );
      return;
    }
    if (this.#closed || res.destroyed) return;
    if (expectContinue) res.writeContinue();
    this.#forward(req, res, target, url, method);
  }

  #forward(req: IncomingMessage, res: ServerResponse, target: Allowed, url: URL, method: string): void {
    const headers: string[] = [
      'Host',
      target.port === 80 ? bracketed(target.host) : `${bracketed(target.host)}:${target.port}`,
    ];
    filterHeaders(req.rawHeaders, REQUEST_DROP, connectionTokens(req.headers.connection), headers);
    // Transfer-Encoding is hop-by-hop, but the body's framing must survive the hop: without it,
    // node writes a GET's body unframed and the upstream would read it as a second request
    // (smuggling one past the checks, e.g. with another Host). Content-Length is kept as sent.
    if (req.headers['transfer-encoding'] !== undefined) headers.push('Transfer-Encoding', 'chunked');
    const options: CheckedRequestOptions = {
      host: target.addresses[0] ?? '',
      port: target.port,
      method,
      // WHATWG-normalised path: the same parse that produced the host we checked.
      path: `${url.pathname}${url.search}`,
      headers,
      setHost: false,
      agent: this.#agent,
      timeout: this.#timeouts.idleMs,
      wardenAddresses: target.addresses,
      wardenConnectTimeoutMs: this.#timeouts.connectMs,
    };
    const upstream = httpRequest(options);
    upstream.on('response', (upRes: IncomingMessage) => {
      if (res.destroyed) {
        upRes.destroy();
        return;
      }
      // Redirects are passed to the client as they are; its next request is checked on its own (NET-11).
      const out = filterHeaders(upRes.rawHeaders, HOP_BY_HOP, connectionTokens(upRes.headers.connection), []);
      try {
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, out);
      } catch {
        upRes.destroy();
        this.#refuseUpstream(res, 502, `the response from ${hostPort(target.host, target.port)} has invalid headers`);
        return;
      }
      upRes.on('error', () => res.destroy());
      upRes.on('aborted', () => res.destroy());
      upRes.pipe(res);
    });
    upstream.on('timeout', () => upstream.destroy(new UpstreamError('timeout')));
    upstream.on('error', (err) => {
      const timeout = err instanceof UpstreamError && err.code === 'timeout';
      this.#refuseUpstream(res, timeout ? 504 : 502, upstreamDetail(target.host, target.port, err));
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.on('error', () => upstream.destroy());
    req.pipe(upstream);
  }

  #refuseUpstream(res: ServerResponse, status: number, detail: string): void {
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const body = refusalBody(detail);
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  async #onUpgrade(req: IncomingMessage, socket: Socket): Promise<void> {
    const method = req.method ?? 'GET';
    const t = looseTarget(req.url ?? '');
    const check = this.#credential.checkBasic(req.headers['proxy-authorization']);
    if (check !== 'ok') {
      await this.#recordAuthFailure('http', t.host, t.port, check, method);
      endWith(socket, rawRefusal(407, AUTH_DETAIL, 'auth_failed'));
      return;
    }
    const detail =
      'protocol upgrades (e.g. WebSocket over ws://) are not supported through the plain-HTTP proxy; use wss:// (CONNECT) instead';
    await this.#recordDenied('http', t.host, t.port, 'unsupported', detail, method);
    endWith(socket, rawRefusal(501, detail, 'unsupported'));
  }

  // ---------------------------------------------------------------- CONNECT

  async #onConnect(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const rawTarget = req.url ?? '';
    const check = this.#credential.checkBasic(req.headers['proxy-authorization']);
    if (check !== 'ok') {
      const a = parseAuthority(rawTarget);
      await this.#recordAuthFailure(
        'connect',
        a.ok ? reportableHost(a.host) : reportableHost(rawTarget),
        a.ok ? a.port : 0,
        check,
      );
      endWith(socket, rawRefusal(407, AUTH_DETAIL, 'auth_failed'));
      return;
    }
    const authority = parseAuthority(rawTarget);
    if (!authority.ok) {
      await this.#recordDenied('connect', reportableHost(rawTarget), 0, 'bad_request', authority.reason);
      endWith(socket, rawRefusal(400, authority.reason, 'bad_request'));
      return;
    }
    const decision = await this.#decide(authority.host, authority.port);
    if (!decision.allow) {
      await this.#recordDenied(
        'connect',
        decision.host,
        authority.port,
        decision.reason,
        decision.detail,
        undefined,
        decision.blocked,
      );
      endWith(socket, rawRefusal(statusFor(decision.reason), this.#scrub(decision.detail), decision.reason));
      return;
    }
    const upstream = await this.#openUpstream('connect', decision);
    if (!upstream.ok) {
      endWith(socket, rawRefusal(upstream.status, upstream.detail, upstream.reason));
      return;
    }
    if (socket.destroyed) {
      upstream.socket.destroy();
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    this.#tunnel('connect', socket, upstream.socket, head, decision);
  }

  /**
   * Connects to the checked addresses while the `egress.allowed` event is written; succeeds only
   * when both did.
   */
  async #openUpstream(
    protocol: EgressProtocol,
    target: Allowed,
  ): Promise<
    | { readonly ok: true; readonly socket: Socket }
    | {
        readonly ok: false;
        readonly status: number;
        readonly detail: string;
        readonly reason?: EgressDenyReason;
        readonly socksCode: number;
      }
  > {
    const connecting = connectChecked(target.addresses, target.port, this.#timeouts.connectMs).then((socket) => {
      socket.on('error', noop);
      socket.pause();
      this.#upstreams.add(socket);
      socket.once('close', () => this.#upstreams.delete(socket));
      if (this.#closed) socket.destroy();
      return socket;
    });
    const [durable, connected] = await Promise.allSettled([this.#recordAllowed(protocol, target), connecting]);
    if (durable.status !== 'fulfilled' || !durable.value) {
      if (connected.status === 'fulfilled') connected.value.destroy();
      return {
        ok: false,
        status: 503,
        reason: 'audit_failed',
        detail: `the connection to ${hostPort(target.host, target.port)} could not be recorded in the audit log, so it was refused`,
        socksCode: SocksReply.generalFailure,
      };
    }
    if (connected.status === 'rejected') {
      const timeout = connected.reason instanceof UpstreamError && connected.reason.code === 'timeout';
      return {
        ok: false,
        status: timeout ? 504 : 502,
        detail: upstreamDetail(target.host, target.port, connected.reason),
        socksCode: socksReplyForUpstream(connected.reason),
      };
    }
    if (this.#closed) {
      connected.value.destroy();
      return { ok: false, status: 502, detail: 'the proxy is shutting down', socksCode: SocksReply.generalFailure };
    }
    return { ok: true, socket: connected.value };
  }

  #tunnel(protocol: EgressProtocol, client: Socket, upstream: Socket, head: Buffer, target: Allowed): void {
    startTunnel({
      client,
      upstream,
      head,
      host: target.host,
      maxHoldBytes: this.#limits.maxHelloBytes,
      holdTimeoutMs: this.#timeouts.helloMs,
      idleTimeoutMs: this.#timeouts.idleMs,
      onRefused: (refusal) => void this.#recordGateRefusal(protocol, target, refusal),
    });
  }

  async #recordGateRefusal(protocol: EgressProtocol, target: Allowed, refusal: GateRefusal): Promise<void> {
    let detail: string;
    switch (refusal.kind) {
      case 'sni_mismatch': {
        detail = `TLS server name ${reportableHost(refusal.serverName)} differs from the tunnel's host ${hostPort(target.host, target.port)} (domain fronting); the tunnel was closed`;
        await this.#recordDenied(protocol, target.host, target.port, 'host_mismatch', detail);
        await this.#append({
          type: 'violation',
          run_id: this.#options.runId,
          agent: this.#options.agent,
          data: { kind: 'domain_fronting', detail: this.#scrub(detail) },
        });
        return;
      }
      case 'malformed':
        detail = `the tunnel's first bytes look like TLS but are not a valid ClientHello (${refusal.detail}); the tunnel was closed`;
        break;
      case 'timeout':
        detail = `the TLS ClientHello did not arrive completely within ${this.#timeouts.helloMs} ms; the tunnel was closed`;
        break;
      case 'too_large':
        detail = `the TLS ClientHello is larger than ${this.#limits.maxHelloBytes} bytes; the tunnel was closed`;
        break;
    }
    await this.#recordDenied(protocol, target.host, target.port, 'bad_request', detail);
  }

  // ---------------------------------------------------------------- SOCKS5

  async #onSocks(socket: Socket, first: Buffer): Promise<void> {
    // Greeting ≤ 257 bytes, auth ≤ 513, request ≤ 262: 1 KiB covers any honest handshake.
    const reader = new ByteReader(socket, first, 1024, this.#timeouts.handshakeMs);
    const greeting = await reader.read(parseGreeting);
    if (greeting.kind !== 'ok') {
      socket.destroy();
      return;
    }
    if (!greeting.offersUserPassword) {
      await this.#recordAuthFailure('socks5', '', 0, 'no_method');
      endWith(socket, METHOD_NONE_ACCEPTABLE);
      return;
    }
    socket.write(METHOD_USER_PASS);
    const login = await reader.read(parseUserPassword);
    if (login.kind !== 'ok') {
      socket.destroy();
      return;
    }
    if (!this.#credential.checkUserPassword(login.user, login.password)) {
      await this.#recordAuthFailure('socks5', '', 0, login.password.length === 0 ? 'missing' : 'wrong');
      endWith(socket, AUTH_FAILED);
      return;
    }
    socket.write(AUTH_OK);
    const request = await reader.read(parseRequest);
    if (request.kind === 'failed') {
      socket.destroy();
      return;
    }
    if (request.kind === 'bad') {
      await this.#recordDenied('socks5', '', 0, 'bad_request', request.detail);
      endWith(socket, socksReply(request.reply ?? SocksReply.generalFailure));
      return;
    }
    const rawHost = request.host;
    if (request.command !== SocksCommand.connect) {
      const name =
        request.command === SocksCommand.bind
          ? 'BIND'
          : request.command === SocksCommand.udpAssociate
            ? 'UDP ASSOCIATE'
            : `command ${request.command}`;
      const detail = `SOCKS5 ${name} is not supported; only CONNECT is`;
      await this.#recordDenied('socks5', reportableHost(rawHost), request.port, 'unsupported', detail);
      endWith(socket, socksReply(SocksReply.commandNotSupported));
      return;
    }
    const decision = await this.#decide(rawHost, request.port);
    if (!decision.allow) {
      await this.#recordDenied(
        'socks5',
        decision.host,
        request.port,
        decision.reason,
        decision.detail,
        undefined,
        decision.blocked,
      );
      endWith(socket, socksReply(socksReplyFor(decision.reason)));
      return;
    }
    const upstream = await this.#openUpstream('socks5', decision);
    if (!upstream.ok) {
      endWith(socket, socksReply(upstream.socksCode));
      return;
    }
    if (socket.destroyed) {
      upstream.socket.destroy();
      return;
    }
    socket.write(socksReply(SocksReply.succeeded));
    this.#tunnel('socks5', socket, upstream.socket, reader.rest(), decision);
  }
}

function noop(): void {}

/** Best-effort host and port from a request target, for reporting only (never for decisions). */
/** What Node's parser attaches to a `clientError`: its code and the bytes it refused. */
type ParserError = Error & { code?: unknown; rawPacket?: unknown };

/** The longest request line kept in a record (after escaping). */
const MAX_RECORDED_LINE = 512;

/**
 * The first line of a refused request, with every byte outside printable ASCII written as \xNN,
 * so a control character or bidi mark in the target is visible in the record instead of acting
 * on the terminal that shows it.
 */
function requestLine(raw: unknown): string {
  if (!Buffer.isBuffer(raw)) return '';
  const end = raw.indexOf(0x0a);
  const bytes = raw.subarray(0, end < 0 ? Math.min(raw.length, MAX_RECORDED_LINE) : end);
  let text = '';
  for (const byte of bytes) {
    if (text.length >= MAX_RECORDED_LINE) return `${text}…`;
    text +=
      byte >= 0x20 && byte < 0x7f && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return text.replace(/\\x0d$/, '');
}

/** host and port of a CONNECT target as far as they can be read, for the summary's denied targets. */
function looseAuthority(target: string): { host: string; port: number } {
  const colon = target.lastIndexOf(':');
  const port = colon < 0 ? 0 : Number(target.slice(colon + 1));
  return {
    host: colon < 0 ? target : target.slice(0, colon),
    port: Number.isInteger(port) && port <= 65535 ? port : 0,
  };
}

function looseTarget(rawUrl: string): { host: string; port: number } {
  try {
    const url = new URL(rawUrl);
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    return { host: reportableHost(url.hostname), port };
  } catch {
    return { host: '', port: 0 };
  }
}

/** Removes a socket file left by a crashed run; refuses to touch a live socket or another file. */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return;
    throw err;
  }
  if (!isSocket)
    throw new WardenError('EGRESS_START_FAILED', `${path} exists and is not a socket`, {
      hint: 'remove it or choose another state directory',
    });
  const live = await new Promise<boolean>((resolve) => {
    const probe = netConnect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live)
    throw new WardenError('EGRESS_START_FAILED', `another process is already listening on ${path}`, {
      hint: 'is another warden using the same state directory?',
    });
  await unlink(path);
}
