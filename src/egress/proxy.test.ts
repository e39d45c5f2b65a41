import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEventInput, EventPayloads, EventType } from '../core/events.js';
import {
  AUTH,
  CREDENTIAL,
  basic,
  openConnect,
  openSocks,
  proxyRequest,
  rawExchange,
  readUntil,
  selfSignedCert,
  socksDomainRequest,
  socksLogin,
  startForwarder,
  startHttpServer,
  startProxy,
  tableResolver,
} from '../../test/kits/egress.js';
import type { ProxyFixture } from '../../test/kits/egress.js';

interface Hit {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly raw: readonly string[];
  readonly at: number;
  readonly body: string;
}

function run(file: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function data<T extends EventType>(event: AuditEventInput | undefined, type: T): EventPayloads[T] {
  expect(event?.type).toBe(type);
  return event?.data as EventPayloads[T];
}

function hostOf(event: AuditEventInput): string {
  return event.type === 'egress.allowed' || event.type === 'egress.denied' ? event.data.host : '';
}

function closed(socket: Socket, timeoutMs = 3_000): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.resume();
  });
}

let httpPort: number; // plain HTTP upstream
let tlsPort: number; // HTTPS upstream (cert for allowed.test / other.test)
let bannerPort: number; // server-speaks-first TCP upstream
let unusedPort: number;
let cert: { key: string; cert: string };
let certFile: string;
const hits: Hit[] = [];
const bannerReceived: Buffer[] = [];
let upstream: Awaited<ReturnType<typeof startHttpServer>>;
let tlsServer: HttpsServer;
let bannerServer: NetServer;
let fx: ProxyFixture;
let forwarder: Awaited<ReturnType<typeof startForwarder>>;

const resolver = tableResolver({
  'allowed.test': ['127.0.0.1'],
  'other.test': ['127.0.0.1'],
  'evil.test': ['127.0.0.1'],
  'loopname.test': ['127.0.0.1'],
  'relay.test': ['127.0.0.1'],
  'rebind.test': ['10.0.0.1'],
  'meta.test': ['169.254.169.254'],
  'ula.test': ['fd00::1'],
  'sub.wild.test': ['127.0.0.1'],
  'a.b.wild.test': ['127.0.0.1'],
  'wild.test': ['127.0.0.1'],
  'wild.test.evil.test': ['127.0.0.1'],
  'evilwild.test': ['127.0.0.1'],
  'xn--bcher-kva.test': ['127.0.0.1'],
  'web.test': ['127.0.0.1'],
  'port.test': ['127.0.0.1'],
  'any.test': ['127.0.0.1'],
  'fallback.test': ['2001:db8::dead', '127.0.0.2', '127.0.0.1'],
});

function allowList(): string[] {
  return [
    `127.0.0.1:${httpPort}`,
    `127.0.0.1:${tlsPort}`,
    `127.0.0.1:${bannerPort}`,
    '127.0.0.1:443',
    'allowed.test:*',
    'rebind.test:*',
    'meta.test:*',
    'ula.test:*',
    'loopname.test:*',
    'relay.test:*',
    '*.wild.test:*',
    'bücher.test:*',
    'web.test',
    `port.test:${tlsPort}`,
    'any.test:*',
    'fallback.test:*',
    `127.0.0.2:${bannerPort}`,
  ];
}

beforeAll(async () => {
  cert = selfSignedCert(['allowed.test', 'other.test', 'port.test', 'any.test']);
  upstream = await startHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      hits.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        raw: req.rawHeaders,
        at: Date.now(),
        body,
      });
      if (req.url === '/redirect') {
        res.writeHead(302, { location: `http://evil.test:${httpPort}/landing` });
        res.end();
        return;
      }
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.alloc(1024 * 1024, 1));
        return;
      }
      res.writeHead(200, {
        'content-type': 'application/json',
        connection: 'x-hop',
        'x-hop': 'secret-hop',
        'keep-alive': 'timeout=5',
      });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
  httpPort = upstream.port;
  tlsServer = createHttpsServer({ key: cert.key, cert: cert.cert }, (_req, res) => res.end('tls ok'));
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  tlsPort = (tlsServer.address() as AddressInfo).port;
  bannerServer = createNetServer((socket) => {
    socket.on('error', () => undefined);
    socket.write('BANNER\r\n');
    socket.on('data', (c: Buffer) => {
      bannerReceived.push(c);
      socket.write(c);
    });
  });
  await new Promise<void>((resolve) => bannerServer.listen(0, '127.0.0.1', resolve));
  bannerPort = (bannerServer.address() as AddressInfo).port;
  unusedPort = await freePort();
  fx = await startProxy({ allow: allowList(), resolver });
  certFile = join(fx.dir, 'ca.pem');
  writeFileSync(certFile, cert.cert);
  forwarder = await startForwarder(fx.socketPath);
});

afterAll(async () => {
  await forwarder.close();
  await fx.close();
  await upstream.close();
  tlsServer.closeAllConnections();
  await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
  await new Promise<void>((resolve) => bannerServer.close(() => resolve()));
});

beforeEach(() => {
  fx.sink.clear();
  fx.sink.delayMs = 0;
  fx.sink.fail = false;
  hits.length = 0;
  bannerReceived.length = 0;
});

describe('plain HTTP forwarding', () => {
  it('forwards an allowed request to the checked address and records egress.allowed', async () => {
    const res = await proxyRequest(fx.socketPath, `http://allowed.test:${httpPort}/echo?q=1`);
    expect(res.status).toBe(200);
    const echoed = JSON.parse(res.body) as { url: string; headers: Record<string, string> };
    expect(echoed.url).toBe('/echo?q=1');
    expect(echoed.headers.host).toBe(`allowed.test:${httpPort}`);
    const events = fx.sink.decisions();
    expect(events).toHaveLength(1);
    expect(data(events[0], 'egress.allowed')).toEqual({
      protocol: 'http',
      host: 'allowed.test',
      port: httpPort,
      address: '127.0.0.1',
      rule: 'allowed.test:*',
      method: 'GET',
    });
  });

  it('NET-03 plain HTTP to a non-allowed host gets 403 and an event', async () => {
    const res = await proxyRequest(fx.socketPath, `http://evil.test:${httpPort}/steal`);
    expect(res.status).toBe(403);
    expect(res.headers['x-warden-deny-reason']).toBe('not_allowed');
    expect(res.body).toBe(
      `warden: egress to evil.test:${httpPort} is not allowed by the profile; add 'evil.test:${httpPort}' to network.allow [not_allowed]\n`,
    );
    expect(hits).toHaveLength(0);
    const events = fx.sink.decisions();
    expect(events).toHaveLength(1);
    expect(data(events[0], 'egress.denied')).toMatchObject({
      protocol: 'http',
      host: 'evil.test',
      port: httpPort,
      reason: 'not_allowed',
      method: 'GET',
    });
  });

  it('Proxy-Authorization, Proxy-Connection and hop-by-hop headers never reach the upstream (or come back)', async () => {
    const res = await proxyRequest(fx.socketPath, `http://allowed.test:${httpPort}/h`, {
      headers: {
        'proxy-connection': 'keep-alive',
        connection: 'keep-alive, x-private',
        'x-private': 'drop me',
        'x-end-to-end': 'keep me',
        te: 'trailers',
      },
    });
    expect(res.status).toBe(200);
    const hit = hits[0];
    expect(hit).toBeDefined();
    const names = (hit?.raw ?? []).filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names).not.toContain('proxy-authorization');
    expect(names).not.toContain('proxy-connection');
    expect(names).not.toContain('x-private');
    expect(names).not.toContain('te');
    expect(hit?.headers['x-end-to-end']).toBe('keep me');
    expect(JSON.stringify(hit?.raw)).not.toContain(CREDENTIAL);
    expect(JSON.stringify(hit?.raw)).not.toContain(AUTH.slice(6));
    // The upstream's own hop-by-hop headers stay on its hop.
    expect(res.headers['x-hop']).toBeUndefined();
    expect(res.headers['keep-alive']).not.toBe('timeout=5');
  });

  it('streams request and response bodies both ways', async () => {
    const body = 'x'.repeat(200_000);
    const res = await proxyRequest(fx.socketPath, `http://allowed.test:${httpPort}/post`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'text/plain' },
    });
    expect((JSON.parse(res.body) as { body: string }).body).toBe(body);
    const big = await proxyRequest(fx.socketPath, `http://allowed.test:${httpPort}/big`);
    expect(big.body.length).toBe(1024 * 1024);
  });

  it('refuses origin-form, https:// absolute-form and upgrade requests with clear messages', async () => {
    const origin = await proxyRequest(fx.socketPath, '/relative', { host: `allowed.test:${httpPort}` });
    expect(origin.status).toBe(400);
    expect(origin.headers['x-warden-deny-reason']).toBe('bad_request');
    expect(origin.body).toContain('absolute-form');
    const https = await proxyRequest(fx.socketPath, `https://allowed.test:${tlsPort}/`);
    expect(https.status).toBe(400);
    expect(https.body).toContain('CONNECT');
    const upgrade = (
      await rawExchange(
        fx.socketPath,
        `GET http://allowed.test:${httpPort}/ws HTTP/1.1\r\nHost: allowed.test:${httpPort}\r\nProxy-Authorization: ${AUTH}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
      )
    ).toString();
    expect(upgrade).toMatch(/^HTTP\/1\.1 501 /);
    expect(upgrade).toContain('X-Warden-Deny-Reason: unsupported');
    expect(hits).toHaveLength(0);
    expect(fx.sink.decisions().map((e) => (e.type === 'egress.denied' ? e.data.reason : e.type))).toEqual([
      'bad_request',
      'bad_request',
      'unsupported',
    ]);
  });

  it('keeps body framing across the hop, so a chunked GET body cannot smuggle a second request', async () => {
    const inner = `GET /smuggled HTTP/1.1\r\nHost: evil.test\r\n\r\n`;
    const chunked = `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
    const res = (
      await rawExchange(
        fx.socketPath,
        `GET http://allowed.test:${httpPort}/outer HTTP/1.1\r\nHost: allowed.test:${httpPort}\r\nProxy-Authorization: ${AUTH}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`,
      )
    ).toString();
    expect(res).toMatch(/^HTTP\/1\.1 200 /);
    expect(hits.map((h) => h.url)).toEqual(['/outer']);
    expect(hits[0]?.body).toBe(inner);
  });

  it('refuses a request with two Host headers', async () => {
    const res = (
      await rawExchange(
        fx.socketPath,
        `GET http://allowed.test:${httpPort}/ HTTP/1.1\r\nHost: allowed.test:${httpPort}\r\nHost: evil.test\r\nProxy-Authorization: ${AUTH}\r\n\r\n`,
        1_000,
      )
    ).toString();
    expect(res).toMatch(/^HTTP\/1\.1 400 /);
    expect(hits).toHaveLength(0);
  });
});

describe('CONNECT', () => {
  it('tunnels TLS to an allowed host (SNI matches) and records one event', async () => {
    const { socket, status } = await openConnect(fx.socketPath, `allowed.test:${tlsPort}`);
    expect(status).toBe(200);
    const tls = tlsConnect({ socket, servername: 'allowed.test', ca: cert.cert });
    tls.write(`GET / HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n`);
    const reply = await readUntil(tls, (b) => b.includes('tls ok'));
    expect(reply.toString()).toContain('tls ok');
    tls.destroy();
    expect(fx.sink.decisions()).toHaveLength(1);
    expect(data(fx.sink.decisions()[0], 'egress.allowed')).toEqual({
      protocol: 'connect',
      host: 'allowed.test',
      port: tlsPort,
      address: '127.0.0.1',
      rule: 'allowed.test:*',
    });
  });

  it('NET-04 CONNECT to a non-allowed host:port gets 403 and an event', async () => {
    const { socket, status, head } = await openConnect(fx.socketPath, 'evil.test:443');
    expect(status).toBe(403);
    expect(head).toContain('X-Warden-Deny-Reason: not_allowed');
    expect(await closed(socket)).toBe(true);
    expect(data(fx.sink.decisions()[0], 'egress.denied')).toMatchObject({
      protocol: 'connect',
      host: 'evil.test',
      port: 443,
      reason: 'not_allowed',
    });
  });

  it('NET-04 port rules are honoured: bare name = 80/443, name:port, name:*', async () => {
    const bare443 = await openConnect(fx.socketPath, 'web.test:443');
    // Allowed by `web.test` (and 127.0.0.1:443); nothing listens there, so the connect fails — after the allow decision.
    expect(bare443.status).toBe(502);
    expect(data(fx.sink.decisions()[0], 'egress.allowed')).toMatchObject({
      host: 'web.test',
      port: 443,
      rule: 'web.test',
    });
    fx.sink.clear();
    const bare8443 = await openConnect(fx.socketPath, 'web.test:8443');
    expect(bare8443.status).toBe(403);
    expect(bare8443.head).toContain('X-Warden-Deny-Reason: port_not_allowed');
    const exactPort = await openConnect(fx.socketPath, `port.test:${tlsPort}`);
    expect(exactPort.status).toBe(200);
    exactPort.socket.destroy();
    const otherPort = await openConnect(fx.socketPath, 'port.test:443');
    expect(otherPort.status).toBe(403);
    expect(otherPort.head).toContain('port_not_allowed');
    const anyPort = await openConnect(fx.socketPath, `any.test:${bannerPort}`);
    expect(anyPort.status).toBe(200);
    expect((await readUntil(anyPort.socket, (b) => b.includes('BANNER'))).toString()).toBe('BANNER\r\n');
    anyPort.socket.destroy();
    for (const s of [bare443, bare8443, otherPort]) s.socket.destroy();
    expect(fx.sink.decisions().map((e) => (e.type === 'egress.denied' ? e.data.reason : 'allowed'))).toEqual([
      'port_not_allowed',
      'allowed',
      'port_not_allowed',
      'allowed',
    ]);
  });

  it('lets server-speaks-first protocols work (upstream bytes flow before the client sends)', async () => {
    const { socket, status } = await openConnect(fx.socketPath, `allowed.test:${bannerPort}`);
    expect(status).toBe(200);
    expect((await readUntil(socket, (b) => b.includes('\n'))).toString()).toBe('BANNER\r\n');
    socket.write('EHLO me\r\n');
    expect((await readUntil(socket, (b) => b.includes('EHLO'))).toString()).toBe('EHLO me\r\n');
    socket.destroy();
  });

  it('connects only to checked addresses, falling back to the next when one cannot be reached', async () => {
    // 2001:db8::dead is documentation space (refused by the address check); 127.0.0.2 is allowed
    // exactly but nothing listens there; 127.0.0.1 answers.
    const { socket, status } = await openConnect(fx.socketPath, `fallback.test:${bannerPort}`);
    expect(status).toBe(200);
    expect((await readUntil(socket, (b) => b.includes('\n'))).toString()).toBe('BANNER\r\n');
    socket.destroy();
    expect(data(fx.sink.decisions()[0], 'egress.allowed').address).toBe('127.0.0.2');
  });
});

describe('NET-05 domain fronting', () => {
  it('NET-05 CONNECT to an allowed host with a TLS SNI for another host is refused before any byte reaches the upstream', async () => {
    const { socket, status } = await openConnect(fx.socketPath, `allowed.test:${bannerPort}`);
    expect(status).toBe(200);
    expect((await readUntil(socket, (b) => b.includes('\n'))).toString()).toBe('BANNER\r\n');
    const tls = tlsConnect({ socket, servername: 'other.test', rejectUnauthorized: false });
    const error = await new Promise<Error | null>((resolve) => {
      tls.once('error', resolve);
      tls.once('secureConnect', () => resolve(null));
    });
    expect(error).not.toBeNull();
    expect(await closed(socket)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(Buffer.concat(bannerReceived).length).toBe(0);
    const types = fx.sink.records.map((r) => r.event.type);
    expect(types).toEqual(['egress.allowed', 'egress.denied', 'violation']);
    expect(data(fx.sink.records[1]?.event, 'egress.denied')).toMatchObject({
      protocol: 'connect',
      host: 'allowed.test',
      reason: 'host_mismatch',
    });
    expect(data(fx.sink.records[1]?.event, 'egress.denied').detail).toContain('other.test');
    expect(data(fx.sink.records[2]?.event, 'violation').kind).toBe('domain_fronting');
  });

  it('NET-05 a real HTTPS client with a mismatching SNI fails; the same client with the right SNI works', async () => {
    const bad = await openConnect(fx.socketPath, `allowed.test:${tlsPort}`);
    const tls = tlsConnect({ socket: bad.socket, servername: 'other.test', ca: cert.cert });
    const err = await new Promise<Error | null>((resolve) => {
      tls.once('error', resolve);
      tls.once('secureConnect', () => resolve(null));
    });
    expect(err).not.toBeNull();
    const good = await openConnect(fx.socketPath, `allowed.test:${tlsPort}`);
    const ok = tlsConnect({
      socket: good.socket,
      servername: 'ALLOWED.test.',
      ca: cert.cert,
      checkServerIdentity: () => undefined,
    });
    await new Promise<void>((resolve, reject) => {
      ok.once('secureConnect', () => resolve());
      ok.once('error', reject);
    });
    ok.destroy();
  });

  it('NET-05 a ClientHello that never completes is refused after the hold timeout', async () => {
    const short = await startProxy({ allow: [`127.0.0.1:${bannerPort}`], resolver, timeouts: { helloMs: 100 } });
    try {
      const { socket, status } = await openConnect(short.socketPath, `127.0.0.1:${bannerPort}`);
      expect(status).toBe(200);
      socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
      expect(await closed(socket)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(Buffer.concat(bannerReceived).length).toBe(0);
      expect(data(short.sink.decisions()[1], 'egress.denied')).toMatchObject({ reason: 'bad_request' });
    } finally {
      await short.close();
    }
  });

  it('NET-05 plain HTTP with a Host header naming another host is refused', async () => {
    const res = await proxyRequest(fx.socketPath, `http://allowed.test:${httpPort}/`, { host: 'evil.test' });
    expect(res.status).toBe(403);
    expect(res.headers['x-warden-deny-reason']).toBe('host_mismatch');
    const otherPort = await proxyRequest(fx.socketPath, `http://allowed.test:${httpPort}/`, { host: 'allowed.test:1' });
    expect(otherPort.status).toBe(403);
    const userinfo = await proxyRequest(fx.socketPath, `http://allowed.test:${httpPort}/`, {
      host: `evil.test@allowed.test:${httpPort}`,
    });
    expect(userinfo.status).toBe(403);
    // The same host spelled differently is not a mismatch.
    const spelled = await proxyRequest(fx.socketPath, `http://allowed.test:${httpPort}/`, {
      host: `ALLOWED.TEST.:${httpPort}`,
    });
    expect(spelled.status).toBe(200);
    const noHost = await proxyRequest(fx.socketPath, `http://allowed.test:${httpPort}/`, { host: null });
    expect(noHost.status).toBe(200);
    expect(hits.map((h) => h.headers.host)).toEqual([`allowed.test:${httpPort}`, `allowed.test:${httpPort}`]);
    const reasons = fx.sink.records.map((r) => (r.event.type === 'egress.denied' ? r.event.data.reason : r.event.type));
    expect(reasons).toEqual([
      'host_mismatch',
      'violation',
      'host_mismatch',
      'violation',
      'host_mismatch',
      'violation',
      'egress.allowed',
      'egress.allowed',
    ]);
  });
});

describe('NET-06 odd spellings', () => {
  it('NET-06 trailing dot and uppercase match the allowed name', async () => {
    const res = await proxyRequest(fx.socketPath, `http://ALLOWED.Test.:${httpPort}/`);
    expect(res.status).toBe(200);
    expect(data(fx.sink.decisions()[0], 'egress.allowed').host).toBe('allowed.test');
  });

  it('NET-06 hex and decimal IPv4 spellings are the address they denote', async () => {
    const hex = await proxyRequest(fx.socketPath, `http://0x7f.1:${httpPort}/`);
    expect(hex.status).toBe(200);
    expect(data(fx.sink.decisions()[0], 'egress.allowed')).toMatchObject({
      host: '127.0.0.1',
      rule: `127.0.0.1:${httpPort}`,
    });
    fx.sink.clear();
    const decimal = await openConnect(fx.socketPath, `2130706433:${unusedPort}`);
    expect(decimal.status).toBe(403);
    decimal.socket.destroy();
    // 127.0.0.1 is allowed on other ports only.
    expect(data(fx.sink.decisions()[0], 'egress.denied')).toMatchObject({
      host: '127.0.0.1',
      port: unusedPort,
      reason: 'port_not_allowed',
    });
    fx.sink.clear();
    const other = await openConnect(fx.socketPath, `0x7f.0.0.9:${bannerPort}`);
    expect(other.status).toBe(403);
    other.socket.destroy();
    expect(data(fx.sink.decisions()[0], 'egress.denied')).toMatchObject({ host: '127.0.0.9', reason: 'not_allowed' });
  });

  it('NET-06 [::ffff:127.0.0.1] is 127.0.0.1', async () => {
    const mapped = await openConnect(fx.socketPath, `[::ffff:127.0.0.1]:${bannerPort}`);
    expect(mapped.status).toBe(200);
    expect((await readUntil(mapped.socket, (b) => b.includes('\n'))).toString()).toBe('BANNER\r\n');
    mapped.socket.destroy();
    const blocked = await openConnect(fx.socketPath, `[::ffff:7f00:1]:${unusedPort}`);
    expect(blocked.status).toBe(403);
    blocked.socket.destroy();
    expect(fx.sink.decisions().map(hostOf)).toEqual(['127.0.0.1', '127.0.0.1']);
  });

  it('NET-06 userinfo tricks (allowed.com@evil.com) are refused, not interpreted', async () => {
    const connect = await openConnect(fx.socketPath, 'allowed.test@evil.test:443');
    expect(connect.status).toBe(400);
    connect.socket.destroy();
    const forward = await proxyRequest(fx.socketPath, `http://allowed.test@evil.test:${httpPort}/`, { host: null });
    expect(forward.status).toBe(400);
    expect(forward.body).toContain('userinfo');
    expect(hits).toHaveLength(0);
    expect(
      fx.sink.decisions().map((e) => (e.type === 'egress.denied' ? `${e.data.reason} ${e.data.host}` : 'allowed')),
    ).toEqual(['bad_request <userinfo>@evil.test:443', 'bad_request evil.test']);
  });

  it('NET-06 IDN names are matched as punycode (SOCKS5 carries UTF-8)', async () => {
    const { socket, code } = await openSocks(fx.socketPath, socksDomainRequest('BÜCHER.test', bannerPort));
    expect(code).toBe(0);
    expect((await readUntil(socket, (b) => b.includes('\n'))).toString()).toBe('BANNER\r\n');
    socket.destroy();
    expect(data(fx.sink.decisions()[0], 'egress.allowed')).toMatchObject({
      protocol: 'socks5',
      host: 'xn--bcher-kva.test',
      rule: 'bücher.test:*',
    });
  });
});

describe('NET-07 resolved-address checks', () => {
  it.each([
    ['rebind.test', '10.0.0.1 (private)'],
    ['meta.test', '169.254.169.254 (linkLocal)'],
    ['ula.test', 'fd00::1 (uniqueLocal)'],
    ['loopname.test', '127.0.0.1 (loopback)'],
  ])('NET-07 %s is refused: %s', async (host, why) => {
    const port = host === 'loopname.test' ? unusedPort : 80;
    const res = await proxyRequest(fx.socketPath, `http://${host}:${port}/`);
    expect(res.status).toBe(403);
    expect(res.headers['x-warden-deny-reason']).toBe('blocked_address');
    expect(res.body).toContain(why);
    const connect = await openConnect(fx.socketPath, `${host}:${port === 80 ? 443 : port}`);
    expect(connect.status).toBe(403);
    connect.socket.destroy();
    expect(fx.sink.decisions().map((e) => (e.type === 'egress.denied' ? e.data.reason : 'allowed'))).toEqual([
      'blocked_address',
      'blocked_address',
    ]);
  });

  it('NET-07 the same loopback address is reachable where that exact address:port is allowed', async () => {
    const res = await proxyRequest(fx.socketPath, `http://loopname.test:${httpPort}/`);
    expect(res.status).toBe(200);
  });
});

describe('NET-08 wildcards through the proxy', () => {
  it.each([
    ['sub.wild.test', 200],
    ['a.b.wild.test', 200],
    ['wild.test', 403],
    ['wild.test.evil.test', 403],
    ['evilwild.test', 403],
  ])('NET-08 %s → %i', async (host, status) => {
    const res = await proxyRequest(fx.socketPath, `http://${host}:${httpPort}/`);
    expect(res.status).toBe(status);
  });
});

describe('NET-09 proxy credential', () => {
  it('NET-09 missing or wrong credential gets 407 with a Basic challenge and an auth_failed event', async () => {
    const cases = [
      null,
      basic('warden', 'nope'),
      basic('admin', CREDENTIAL),
      basic('warden', `${CREDENTIAL}x`),
      'Bearer abc',
      `Basic ${Buffer.from(`warden${CREDENTIAL}`).toString('base64')}`,
    ];
    for (const auth of cases) {
      const res = await proxyRequest(fx.socketPath, `http://allowed.test:${httpPort}/`, { auth });
      expect(res.status).toBe(407);
      expect(res.headers['proxy-authenticate']).toBe('Basic realm="warden"');
      expect(res.headers['x-warden-deny-reason']).toBe('auth_failed');
    }
    const connect = await openConnect(fx.socketPath, `allowed.test:${tlsPort}`, null);
    expect(connect.status).toBe(407);
    expect(connect.head).toContain('Proxy-Authenticate: Basic realm="warden"');
    connect.socket.destroy();
    expect(hits).toHaveLength(0);
    const denied = fx.sink.of('egress.denied');
    expect(denied.length).toBeGreaterThanOrEqual(5);
    for (const e of denied) expect(e.data.reason).toBe('auth_failed');
    expect(JSON.stringify(fx.sink.records)).not.toContain(CREDENTIAL);
  });

  it('NET-09 SOCKS5 needs username/password with the credential', async () => {
    // A fresh proxy: the auth-event rate limit of the shared one may be spent by the test above.
    const own = await startProxy({ allow: allowList(), resolver });
    try {
      const noAuth = await openSocks(own.socketPath, socksDomainRequest('allowed.test', bannerPort), undefined, [0x00]);
      expect(noAuth).toMatchObject({ step: 'method', code: 0xff });
      const wrong = await openSocks(
        own.socketPath,
        socksDomainRequest('allowed.test', bannerPort),
        socksLogin('warden', 'guess'),
      );
      expect(wrong).toMatchObject({ step: 'auth', code: 0x01 });
      const wrongUser = await openSocks(
        own.socketPath,
        socksDomainRequest('allowed.test', bannerPort),
        socksLogin('root', CREDENTIAL),
      );
      expect(wrongUser).toMatchObject({ step: 'auth', code: 0x01 });
      for (const s of [noAuth, wrong, wrongUser]) expect(await closed(s.socket)).toBe(true);
      expect(own.sink.of('egress.denied').map((e) => `${e.data.protocol} ${e.data.reason}`)).toEqual([
        'socks5 auth_failed',
        'socks5 auth_failed',
        'socks5 auth_failed',
      ]);
    } finally {
      await own.close();
    }
  });

  it('NET-09 curl from outside without the credential gets 407; with it, 200', async () => {
    const without = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-x',
      `http://127.0.0.1:${forwarder.port}`,
      `http://allowed.test:${httpPort}/`,
    ]);
    expect(without.stdout).toBe('407');
    const wrong = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-x',
      `http://warden:wrong@127.0.0.1:${forwarder.port}`,
      `http://allowed.test:${httpPort}/`,
    ]);
    expect(wrong.stdout).toBe('407');
    const right = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-x',
      `http://warden:${CREDENTIAL}@127.0.0.1:${forwarder.port}`,
      `http://allowed.test:${httpPort}/`,
    ]);
    expect(right.stdout).toBe('200');
  });

  it('auth_failed events are rate-limited; the rest are counted', async () => {
    const limited = await startProxy({ allow: ['allowed.test'], resolver, limits: { authEventsPerSecond: 3 } });
    try {
      const responses = await Promise.all(
        Array.from({ length: 40 }, () =>
          proxyRequest(limited.socketPath, 'http://allowed.test/', { auth: basic('warden', 'x') }),
        ),
      );
      expect(responses.every((r) => r.status === 407)).toBe(true);
      const recorded = limited.sink.of('egress.denied').length;
      expect(recorded).toBeGreaterThanOrEqual(3);
      expect(recorded).toBeLessThanOrEqual(6);
      const stats = limited.proxy.stats();
      expect(stats.denied).toBe(40);
      expect(stats.suppressedAuthEvents).toBe(40 - recorded);
      await new Promise((resolve) => setTimeout(resolve, 1_050));
      await proxyRequest(limited.socketPath, 'http://allowed.test/', { auth: null });
      expect(limited.sink.of('egress.denied').at(-1)?.data.detail).toMatch(
        /^no proxy credential \(\d+ earlier auth failures were counted but not recorded individually\)$/,
      );
    } finally {
      await limited.close();
    }
  });
});

describe('AUD-06 requests the parser refuses', () => {
  it('AUD-06 a CONNECT or request with control characters or bidi marks in the target gets 400 and an escaped egress.denied record', async () => {
    const before = fx.sink.of('egress.denied').length;
    const bidi = Buffer.from('\u202e', 'utf8'); // RIGHT-TO-LEFT OVERRIDE
    const connect = Buffer.concat([
      Buffer.from('CONNECT evil'),
      bidi,
      Buffer.from('.test:443 HTTP/1.1\r\nHost: x\r\n\r\n'),
    ]);
    const control = 'GET http://allowed.test/a\x01b HTTP/1.1\r\nHost: allowed.test\r\n\r\n';
    const answers = [await rawExchange(fx.socketPath, connect), await rawExchange(fx.socketPath, control)];
    for (const answer of answers) {
      expect(answer.toString()).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer.toString()).toContain('X-Warden-Deny-Reason: bad_request');
    }
    const records = fx.sink.of('egress.denied').slice(before);
    expect(records.map((r) => [r.data.protocol, r.data.reason])).toEqual([
      ['connect', 'bad_request'],
      ['http', 'bad_request'],
    ]);
    // The raw target is kept, escaped byte by byte: nothing in the record can act on a terminal.
    expect(records[0]?.data.detail).toContain('CONNECT evil\\xe2\\x80\\xae.test:443 HTTP/1.1');
    expect(records[1]?.data.detail).toContain('GET http://allowed.test/a\\x01b HTTP/1.1');
    for (const record of records) expect(JSON.stringify(record.data)).toMatch(/^[\x20-\x7e]*$/);
  });

  it('AUD-06 parser refusals are rate-limited; the rest are counted', async () => {
    const limited = await startProxy({ allow: ['allowed.test'], resolver, limits: { parserEventsPerSecond: 3 } });
    try {
      const bad = 'CONNECT a\x7fb:443 HTTP/1.1\r\n\r\n';
      const answers = await Promise.all(Array.from({ length: 30 }, () => rawExchange(limited.socketPath, bad)));
      expect(answers.every((a) => a.toString().startsWith('HTTP/1.1 400 '))).toBe(true);
      const recorded = limited.sink.of('egress.denied').length;
      expect(recorded).toBeGreaterThanOrEqual(3);
      expect(recorded).toBeLessThanOrEqual(6);
      expect(limited.proxy.stats().denied).toBe(30);
      await new Promise((resolve) => setTimeout(resolve, 1_050));
      await rawExchange(limited.socketPath, bad);
      expect(limited.sink.of('egress.denied').at(-1)?.data.detail).toMatch(
        /\(\d+ earlier refusals were counted but not recorded individually\)$/,
      );
    } finally {
      await limited.close();
    }
  });
});

describe('NET-10 relay through the proxy', () => {
  it('NET-10 CONNECT to the proxy forwarder (127.0.0.1:3128, or any loopback port) gains nothing', async () => {
    const direct = await openConnect(fx.socketPath, '127.0.0.1:3128');
    expect(direct.status).toBe(403);
    expect(direct.head).toContain('not_allowed');
    const viaName = await openConnect(fx.socketPath, 'relay.test:3128');
    expect(viaName.status).toBe(403);
    expect(viaName.head).toContain('blocked_address');
    const toForwarder = await openConnect(fx.socketPath, `relay.test:${forwarder.port}`);
    expect(toForwarder.status).toBe(403);
    for (const c of [direct, viaName, toForwarder]) c.socket.destroy();
  });

  it('NET-10 CONNECT inside an allowed tunnel reaches only the upstream, never the proxy', async () => {
    const { socket, status } = await openConnect(fx.socketPath, `allowed.test:${bannerPort}`);
    expect(status).toBe(200);
    await readUntil(socket, (b) => b.includes('\n'));
    socket.write(`CONNECT evil.test:443 HTTP/1.1\r\nProxy-Authorization: ${AUTH}\r\n\r\n`);
    // The banner server echoes: the inner CONNECT went to it as data, not to the proxy.
    const echoed = (await readUntil(socket, (b) => b.includes('\r\n\r\n'))).toString();
    expect(echoed.startsWith('CONNECT evil.test:443')).toBe(true);
    socket.destroy();
    expect(fx.sink.decisions()).toHaveLength(1);
  });
});

describe('NET-11 redirects', () => {
  it('NET-11 a redirect to a non-allowed host is passed back, not followed; the follow-up is refused', async () => {
    const first = await proxyRequest(fx.socketPath, `http://allowed.test:${httpPort}/redirect`);
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe(`http://evil.test:${httpPort}/landing`);
    expect(hits.map((h) => h.url)).toEqual(['/redirect']);
    const second = await proxyRequest(fx.socketPath, first.headers.location ?? '');
    expect(second.status).toBe(403);
    expect(hits.map((h) => h.url)).toEqual(['/redirect']);
  });

  it('NET-11 curl -L through the proxy ends at the refusal', async () => {
    const res = await run('curl', [
      '-sS',
      '-L',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{num_redirects}',
      '-x',
      `http://warden:${CREDENTIAL}@127.0.0.1:${forwarder.port}`,
      `http://allowed.test:${httpPort}/redirect`,
    ]);
    expect(res.stdout).toBe('403 1');
    expect(hits.map((h) => h.url)).toEqual(['/redirect']);
  });
});

describe('SOCKS5', () => {
  it('connects by domain, IPv4 and IPv6 address types', async () => {
    const byName = await openSocks(fx.socketPath, socksDomainRequest('allowed.test', bannerPort));
    expect(byName.code).toBe(0);
    expect((await readUntil(byName.socket, (b) => b.includes('\n'))).toString()).toBe('BANNER\r\n');
    byName.socket.destroy();
    const v4 = await openSocks(
      fx.socketPath,
      Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, bannerPort >> 8, bannerPort & 0xff]),
    );
    expect(v4.code).toBe(0);
    v4.socket.destroy();
    const mapped = Buffer.from([
      5,
      1,
      0,
      4,
      ...Buffer.from('00000000000000000000ffff7f000001', 'hex'),
      bannerPort >> 8,
      bannerPort & 0xff,
    ]);
    const v6 = await openSocks(fx.socketPath, mapped);
    expect(v6.code).toBe(0);
    v6.socket.destroy();
    expect(fx.sink.decisions().map((e) => (e.type === 'egress.allowed' ? e.data.host : 'denied'))).toEqual([
      'allowed.test',
      '127.0.0.1',
      '127.0.0.1',
    ]);
  });

  it('refuses non-allowed targets with 0x02, BIND/UDP ASSOCIATE with 0x07, unknown address types with 0x08', async () => {
    const denied = await openSocks(fx.socketPath, socksDomainRequest('evil.test', 443));
    expect(denied).toMatchObject({ step: 'request', code: 0x02 });
    const bind = await openSocks(fx.socketPath, socksDomainRequest('allowed.test', 443, 2));
    expect(bind).toMatchObject({ step: 'request', code: 0x07 });
    const udp = await openSocks(fx.socketPath, socksDomainRequest('allowed.test', 443, 3));
    expect(udp).toMatchObject({ step: 'request', code: 0x07 });
    const atyp = await openSocks(fx.socketPath, Buffer.from([5, 1, 0, 9, 1, 2, 3, 4, 0, 80]));
    expect(atyp).toMatchObject({ step: 'request', code: 0x08 });
    const blocked = await openSocks(fx.socketPath, socksDomainRequest('meta.test', 80));
    expect(blocked).toMatchObject({ step: 'request', code: 0x02 });
    for (const s of [denied, bind, udp, atyp, blocked]) expect(await closed(s.socket)).toBe(true);
    expect(fx.sink.of('egress.denied').map((e) => e.data.reason)).toEqual([
      'not_allowed',
      'unsupported',
      'unsupported',
      'bad_request',
      'blocked_address',
    ]);
  });

  it('NET-05 SOCKS5 tunnels get the same SNI check', async () => {
    const { socket, code } = await openSocks(fx.socketPath, socksDomainRequest('allowed.test', tlsPort));
    expect(code).toBe(0);
    const tls = tlsConnect({ socket, servername: 'evil.test', rejectUnauthorized: false });
    const err = await new Promise<Error | null>((resolve) => {
      tls.once('error', resolve);
      tls.once('secureConnect', () => resolve(null));
    });
    expect(err).not.toBeNull();
    expect(fx.sink.records.map((r) => r.event.type)).toEqual(['egress.allowed', 'egress.denied', 'violation']);
  });

  it('curl --socks5-hostname works through the forwarder', async () => {
    const res = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-x',
      `socks5h://warden:${CREDENTIAL}@127.0.0.1:${forwarder.port}`,
      `http://allowed.test:${httpPort}/`,
    ]);
    expect(res.stdout).toBe('200');
    const https = await run('curl', [
      '-sS',
      '--cacert',
      certFile,
      '-x',
      `socks5h://warden:${CREDENTIAL}@127.0.0.1:${forwarder.port}`,
      `https://allowed.test:${tlsPort}/`,
    ]);
    expect(https.stdout).toBe('tls ok');
    const denied = await run('curl', [
      '-sS',
      '-x',
      `socks5h://warden:${CREDENTIAL}@127.0.0.1:${forwarder.port}`,
      'http://evil.test/',
    ]);
    expect(denied.code).not.toBe(0);
  });
});

describe('curl over HTTPS_PROXY', () => {
  it('fetches an allowed https URL through CONNECT and is refused for another', async () => {
    const ok = await run('curl', [
      '-sS',
      '--cacert',
      certFile,
      '-x',
      `http://warden:${CREDENTIAL}@127.0.0.1:${forwarder.port}`,
      `https://allowed.test:${tlsPort}/`,
    ]);
    expect(ok.stdout).toBe('tls ok');
    const refused = await run('curl', [
      '-sS',
      '--cacert',
      certFile,
      '-x',
      `http://warden:${CREDENTIAL}@127.0.0.1:${forwarder.port}`,
      `https://other.test:${tlsPort}/`,
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('403');
  });
});

describe('audit durability', () => {
  it('every decision yields exactly one durable event before the response and before any upstream byte', async () => {
    fx.sink.delayMs = 60;
    const cases: (() => Promise<number>)[] = [
      async () => (await proxyRequest(fx.socketPath, `http://allowed.test:${httpPort}/`)).status,
      async () => (await proxyRequest(fx.socketPath, `http://evil.test:${httpPort}/`)).status,
      async () => (await proxyRequest(fx.socketPath, `http://rebind.test/`)).status,
      async () => {
        const c = await openConnect(fx.socketPath, `allowed.test:${bannerPort}`);
        c.socket.destroy();
        return c.status;
      },
      async () => {
        const c = await openConnect(fx.socketPath, 'evil.test:443');
        c.socket.destroy();
        return c.status;
      },
      async () => {
        const s = await openSocks(fx.socketPath, socksDomainRequest('allowed.test', bannerPort));
        s.socket.destroy();
        return s.code;
      },
      async () => {
        const s = await openSocks(fx.socketPath, socksDomainRequest('evil.test', 443));
        s.socket.destroy();
        return s.code;
      },
    ];
    for (const send of cases) {
      fx.sink.clear();
      hits.length = 0;
      const started = Date.now();
      await send();
      const answered = Date.now();
      const events = fx.sink.decisions();
      expect(events).toHaveLength(1);
      const record = fx.sink.records[0];
      expect(record?.durable).toBe(true);
      expect(record?.durableAt).toBeLessThanOrEqual(answered);
      expect(answered - started).toBeGreaterThanOrEqual(55);
      for (const hit of hits) expect(hit.at).toBeGreaterThanOrEqual(record?.durableAt ?? Infinity);
    }
  });

  it('a failing sink means refusal with audit_failed; nothing reaches the upstream', async () => {
    fx.sink.fail = true;
    const res = await proxyRequest(fx.socketPath, `http://allowed.test:${httpPort}/`);
    expect(res.status).toBe(503);
    expect(res.headers['x-warden-deny-reason']).toBe('audit_failed');
    const connect = await openConnect(fx.socketPath, `allowed.test:${bannerPort}`);
    expect(connect.status).toBe(503);
    expect(connect.head).toContain('X-Warden-Deny-Reason: audit_failed');
    const socks = await openSocks(fx.socketPath, socksDomainRequest('allowed.test', bannerPort));
    expect(socks.code).toBe(0x01);
    const denied = await proxyRequest(fx.socketPath, `http://evil.test:${httpPort}/`);
    expect(denied.status).toBe(403);
    expect(hits).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(Buffer.concat(bannerReceived).length).toBe(0);
    connect.socket.destroy();
    socks.socket.destroy();
  });
});

describe('stats', () => {
  it('counts allowed and denied decisions, denied targets and bytes', async () => {
    const own = await startProxy({ allow: allowList(), resolver });
    try {
      await proxyRequest(own.socketPath, `http://allowed.test:${httpPort}/`);
      await proxyRequest(own.socketPath, `http://allowed.test:${httpPort}/big`);
      await proxyRequest(own.socketPath, `http://evil.test:${httpPort}/`);
      await proxyRequest(own.socketPath, `http://evil.test:${httpPort}/again`);
      const c = await openConnect(own.socketPath, 'evil.test:443');
      c.socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 20));
      const stats = own.proxy.stats();
      expect(stats.allowed).toBe(2);
      expect(stats.denied).toBe(3);
      expect(stats.deniedTargets).toEqual(
        expect.arrayContaining([
          { host: 'evil.test', port: httpPort, reason: 'not_allowed', count: 2 },
          { host: 'evil.test', port: 443, reason: 'not_allowed', count: 1 },
        ]),
      );
      expect(stats.bytesToClients).toBeGreaterThan(1024 * 1024);
      expect(stats.bytesFromClients).toBeGreaterThan(100);
    } finally {
      await own.close();
    }
  });
});

describe('bounds and timeouts', () => {
  it('closes connections beyond maxConnections', async () => {
    const small = await startProxy({ allow: [], limits: { maxConnections: 2 } });
    try {
      const a = netConnect(small.socketPath);
      const b = netConnect(small.socketPath);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const c = netConnect(small.socketPath);
      c.on('error', () => undefined);
      expect(await closed(c, 1_000)).toBe(true);
      expect(small.proxy.stats().rejectedConnections).toBe(1);
      a.destroy();
      b.destroy();
    } finally {
      await small.close();
    }
  });

  it('answers 431 to an oversized request head', async () => {
    const res = (
      await rawExchange(fx.socketPath, `GET http://allowed.test/ HTTP/1.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    ).toString();
    expect(res).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('closes clients that are too slow to send a request (headers or SOCKS5 handshake)', async () => {
    const quick = await startProxy({ allow: [], timeouts: { handshakeMs: 200 } });
    try {
      const silent = netConnect(quick.socketPath);
      const slowHttp = netConnect(quick.socketPath);
      slowHttp.write('GET http://a.test/ HTTP/1.1\r\nX-Slow: ');
      const slowSocks = netConnect(quick.socketPath);
      slowSocks.write(Buffer.from([5, 1]));
      for (const s of [silent, slowHttp, slowSocks]) s.on('error', () => undefined);
      const results = await Promise.all([closed(silent, 2_500), closed(slowHttp, 2_500), closed(slowSocks, 2_500)]);
      expect(results).toEqual([true, true, true]);
    } finally {
      await quick.close();
    }
  });
});

describe('NET-12 proxy down', () => {
  it('NET-12 once closed, clients get connection errors, open tunnels die, and nothing falls back to direct', async () => {
    const own = await startProxy({ allow: allowList(), resolver });
    const port = await freePort();
    const socat: ChildProcess = spawn(
      'socat',
      [`TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${own.socketPath}`],
      { stdio: 'ignore' },
    );
    try {
      let before = { code: 1, stdout: '', stderr: '' };
      for (let i = 0; i < 50 && before.stdout !== '200'; i++) {
        before = await run('curl', [
          '-sS',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '-x',
          `http://warden:${CREDENTIAL}@127.0.0.1:${port}`,
          `http://allowed.test:${httpPort}/`,
        ]);
        if (before.stdout !== '200') await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(before.stdout).toBe('200');
      const tunnel = await openConnect(own.socketPath, `allowed.test:${bannerPort}`);
      expect(tunnel.status).toBe(200);
      await own.close();
      expect(await closed(tunnel.socket)).toBe(true);
      const after = await run('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-x',
        `http://warden:${CREDENTIAL}@127.0.0.1:${port}`,
        `http://127.0.0.1:${httpPort}/`,
      ]);
      expect(after.code).not.toBe(0);
      expect(after.stdout).not.toBe('200');
      const direct = await new Promise<string>((resolve) => {
        const s = netConnect(own.socketPath);
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        s.on('connect', () => resolve('connected'));
      });
      expect(['ENOENT', 'ECONNREFUSED']).toContain(direct);
      expect(hits.filter((h) => h.url === '/').length).toBe(1);
    } finally {
      socat.kill();
      await own.close();
    }
  });
});
