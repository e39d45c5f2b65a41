import fc from 'fast-check';
import { createServer as createNetServer, connect as netConnect } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTH,
  CREDENTIAL,
  proxyRequest,
  socksLogin,
  startHttpServer,
  startProxy,
  tableResolver,
} from '../../test/kits/egress.js';
import type { ProxyFixture } from '../../test/kits/egress.js';

let fx: ProxyFixture;
let http: Awaited<ReturnType<typeof startHttpServer>>;
let echo: Server;
let echoPort: number;

beforeAll(async () => {
  http = await startHttpServer((_req, res) => res.end('ok'));
  echo = createNetServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as AddressInfo).port;
  fx = await startProxy({
    allow: [`127.0.0.1:${http.port}`, `127.0.0.1:${echoPort}`, 'allowed.test:*'],
    resolver: tableResolver({ 'allowed.test': ['127.0.0.1'] }),
    timeouts: { handshakeMs: 500, helloMs: 200 },
  });
});

afterAll(async () => {
  await fx.close();
  await http.close();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

/** Sends bytes, optionally half-closes, and waits briefly for the proxy to answer or close. */
function poke(bytes: Uint8Array, end: boolean): Promise<void> {
  return new Promise((resolve) => {
    const socket = netConnect(fx.socketPath);
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(finish, 60);
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('data', () => undefined);
    socket.write(bytes);
    if (end) socket.end();
  });
}

const text = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const junk = fc.uint8Array({ maxLength: 300 });
const junkText = fc.string({ unit: 'binary-ascii', maxLength: 120 });

const inputs = fc.oneof(
  junk,
  junk.map((b) => Buffer.concat([Buffer.from([5]), b])),
  junk.map((b) => Buffer.concat([Buffer.from([5, 1, 2]), socksLogin('warden', CREDENTIAL), b])),
  fc
    .tuple(junkText, junk)
    .map(([target, tail]) =>
      Buffer.concat([text(`CONNECT ${target} HTTP/1.1\r\nProxy-Authorization: ${AUTH}\r\n\r\n`), tail]),
    ),
  fc
    .tuple(junkText, junkText)
    .map(([target, header]) => text(`GET ${target} HTTP/1.1\r\nProxy-Authorization: ${AUTH}\r\n${header}\r\n\r\n`)),
  junk.map((b) =>
    Buffer.concat([
      text(`CONNECT allowed.test:${echoPort} HTTP/1.1\r\nProxy-Authorization: ${AUTH}\r\n\r\n`),
      Buffer.from([0x16, 3, 1]),
      b,
    ]),
  ),
  junkText.map((t) =>
    text(`GET http://allowed.test:${http.port}/ HTTP/1.1\r\nProxy-Authorization: ${AUTH}\r\nHost: ${t}\r\n\r\n`),
  ),
);

describe('fuzzing the front (HTTP, CONNECT, SOCKS5 over raw bytes)', () => {
  it('survives arbitrary input, leaks no connections and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(inputs, fc.boolean(), async (bytes, end) => {
        await poke(bytes, end);
      }),
      { numRuns: 300 },
    );
    const ok = await proxyRequest(fx.socketPath, `http://allowed.test:${http.port}/`);
    expect(ok.status).toBe(200);
    for (let i = 0; i < 100 && fx.proxy.stats().activeConnections > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fx.proxy.stats().activeConnections).toBe(0);
    for (const record of fx.sink.records) {
      const data = record.event.data as { host?: string; detail?: string };
      if (data.host !== undefined) {
        expect(data.host.length).toBeLessThanOrEqual(270);
        expect(data.host).not.toMatch(/[\x00-\x1f\x7f]/);
      }
      expect(JSON.stringify(record.event)).not.toContain(CREDENTIAL);
    }
  }, 60_000);
});
