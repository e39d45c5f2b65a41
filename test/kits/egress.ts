/**
 * Test support for the egress unit suites (src/egress/*.test.ts; kept out of src/ so it never ships): a recording event sink with
 * a durability flag, a proxy on a temporary unix socket, local upstream servers and small raw
 * clients for HTTP, CONNECT and SOCKS5.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, RequestListener, Server } from 'node:http';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEventInput, AuditRecord, EventSink } from '../../src/core/events.js';
import { EgressPolicy } from '../../src/egress/policy.js';
import type { Resolver } from '../../src/egress/policy.js';
import { EgressProxy } from '../../src/egress/proxy.js';
import type { EgressLimits, EgressTimeouts } from '../../src/egress/proxy.js';

/** An event as the recording sink saw it. */
export interface Recorded {
  readonly event: AuditEventInput;
  /** Set once `append` resolved (the event is "durable"). */
  durable: boolean;
  durableAt: number;
}

/** A sink that keeps events in memory, can delay acknowledgement and can be told to fail. */
export class RecordingSink implements EventSink {
  readonly records: Recorded[] = [];
  delayMs = 0;
  fail = false;
  #seq = 0;

  async append(event: AuditEventInput): Promise<AuditRecord> {
    const entry: Recorded = { event, durable: false, durableAt: 0 };
    this.records.push(entry);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.fail) throw new Error('disk full');
    entry.durable = true;
    entry.durableAt = Date.now();
    const seq = ++this.#seq;
    const stored: AuditRecord = {
      ...event,
      seq,
      ts: new Date().toISOString(),
      prev_hash: '0'.repeat(64),
      hash: '0'.repeat(64),
    };
    return stored;
  }

  /** Events of one type, in order. */
  of<T extends AuditEventInput['type']>(type: T): Extract<AuditEventInput, { type: T }>[] {
    return this.records
      .filter((r) => r.event.type === type)
      .map((r) => r.event as Extract<AuditEventInput, { type: T }>);
  }

  /** egress.allowed + egress.denied events. */
  decisions(): AuditEventInput[] {
    return this.records
      .filter((r) => r.event.type === 'egress.allowed' || r.event.type === 'egress.denied')
      .map((r) => r.event);
  }

  clear(): void {
    this.records.length = 0;
  }
}

/** The test credential. */
export const CREDENTIAL = 'c0ffee'.repeat(10) + 'abcd';

/** `Proxy-Authorization` value for a user and password. */
export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** The right `Proxy-Authorization` value. */
export const AUTH = basic('warden', CREDENTIAL);

/** A resolver from a fixed table; unknown names fail like NXDOMAIN. */
export function tableResolver(table: Readonly<Record<string, readonly string[]>>): Resolver {
  return (host) => {
    const addresses = table[host];
    if (!addresses)
      return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
    return Promise.resolve(addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
}

/** A running proxy on a temporary socket. */
export interface ProxyFixture {
  readonly proxy: EgressProxy;
  readonly sink: RecordingSink;
  readonly socketPath: string;
  readonly dir: string;
  close(): Promise<void>;
}

/** Starts a proxy with the given allow list. */
export async function startProxy(options: {
  allow: readonly string[];
  resolver?: Resolver;
  timeouts?: Partial<EgressTimeouts>;
  limits?: Partial<EgressLimits>;
  sink?: RecordingSink;
}): Promise<ProxyFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-egress-'));
  const socketPath = join(dir, 'egress.sock');
  const sink = options.sink ?? new RecordingSink();
  const proxy = new EgressProxy({
    socketPath,
    socketMode: 0o660,
    policy: new EgressPolicy(options.allow),
    credential: CREDENTIAL,
    sink,
    runId: 'run_TEST',
    agent: { name: 'test-agent', run_id: 'run_TEST' },
    ...(options.resolver ? { resolver: options.resolver } : {}),
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  await proxy.start();
  return {
    proxy,
    sink,
    socketPath,
    dir,
    async close() {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A local HTTP server on 127.0.0.1 with an ephemeral port. */
export async function startHttpServer(
  handler: RequestListener,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A TCP listener on 127.0.0.1 that forwards each connection to a unix socket (like socat in the sandbox). */
export async function startForwarder(socketPath: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer((client) => {
    const upstream = netConnect(socketPath);
    sockets.add(client).add(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A response read through the proxy. */
export interface ProxyResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Sends one absolute-form request to the proxy over its unix socket. */
export function proxyRequest(
  socketPath: string,
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    auth?: string | null;
    host?: string | null;
  } = {},
): Promise<ProxyResponse> {
  const headers: Record<string, string> = {};
  // Like curl: Host names the URL's authority unless the test says otherwise.
  if (options.host !== null) {
    const host = options.host ?? (/^[a-z]+:\/\//i.test(url) ? hostOf(url) : undefined);
    if (host !== undefined) headers.host = host;
  }
  Object.assign(headers, options.headers);
  if (options.auth !== null) headers['proxy-authorization'] = options.auth ?? AUTH;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { socketPath, path: url, method: options.method ?? 'GET', headers, agent: false, setHost: false },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

/** Writes raw bytes to the proxy and collects everything it answers until it closes or `waitMs` passes. */
export function rawExchange(socketPath: string, bytes: Buffer | string, waitMs = 2_000): Promise<Buffer> {
  return new Promise((resolve) => {
    const socket = netConnect(socketPath);
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', done);
    socket.on('error', done);
    socket.write(bytes);
  });
}

/** Reads from a socket until `predicate(buffer)` holds (or the socket ends). */
export function readUntil(socket: Socket, predicate: (b: Buffer) => boolean, timeoutMs = 3_000): Promise<Buffer> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const finish = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', finish);
      socket.pause();
      resolve(buf);
    };
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      if (predicate(buf)) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', onData);
    socket.on('close', finish);
    socket.resume();
  });
}

/** Opens a CONNECT tunnel; resolves with the socket and the proxy's response head. */
export async function openConnect(
  socketPath: string,
  authority: string,
  auth: string | null = AUTH,
  extraHead = '',
): Promise<{ socket: Socket; head: string; status: number }> {
  const socket = netConnect(socketPath);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth === null ? '' : `Proxy-Authorization: ${auth}\r\n`}${extraHead}\r\n`,
  );
  const buf = await readUntil(socket, (b) => b.includes('\r\n\r\n'));
  const end = buf.indexOf('\r\n\r\n');
  const head = buf.subarray(0, end < 0 ? buf.length : end + 4).toString('latin1');
  if (end >= 0 && buf.length > end + 4) socket.unshift(buf.subarray(end + 4));
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  return { socket, head, status };
}

/** Builds a SOCKS5 CONNECT request for a domain name. */
export function socksDomainRequest(host: string, port: number, command = 1): Buffer {
  const name = Buffer.from(host, 'utf8');
  return Buffer.concat([Buffer.from([5, command, 0, 3, name.length]), name, Buffer.from([port >> 8, port & 0xff])]);
}

/** Builds an RFC 1929 username/password message. */
export function socksLogin(user: string, password: string): Buffer {
  const u = Buffer.from(user);
  const p = Buffer.from(password);
  return Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p]);
}

/** Runs a SOCKS5 handshake; resolves with the socket and the reply code of the request (or of the failed step). */
export async function openSocks(
  socketPath: string,
  request: Buffer,
  login: Buffer = socksLogin('warden', CREDENTIAL),
  methods: readonly number[] = [0x00, 0x02],
): Promise<{ socket: Socket; step: 'method' | 'auth' | 'request'; code: number }> {
  const socket = netConnect(socketPath);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(Buffer.from([5, methods.length, ...methods]));
  const method = await readUntil(socket, (b) => b.length >= 2);
  if (method[1] !== 0x02) return { socket, step: 'method', code: method[1] ?? -1 };
  socket.write(login);
  const auth = await readUntil(socket, (b) => b.length >= 2);
  if (auth[1] !== 0x00) return { socket, step: 'auth', code: auth[1] ?? -1 };
  socket.write(request);
  const reply = await readUntil(socket, (b) => b.length >= 10);
  if (reply.length > 10) socket.unshift(reply.subarray(10));
  return { socket, step: 'request', code: reply[1] ?? -1 };
}

/** A self-signed certificate for the given DNS names, made with openssl. */
export function selfSignedCert(names: readonly string[]): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'warden-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${names[0] ?? 'localhost'}`,
        '-addext',
        `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
