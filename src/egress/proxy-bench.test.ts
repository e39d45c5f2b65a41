/**
 * Throughput/latency smoke: prints how much the proxy adds over a direct connection. No timing
 * assertions (this machine is noisy); the numbers are for eyeballing regressions. The real
 * side-by-side with srt lives in bench/.
 */
import { Agent, request } from 'node:http';
import type { AgentOptions } from 'node:http';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, openConnect, startHttpServer, startProxy } from '../../test/kits/egress.js';
import type { ProxyFixture } from '../../test/kits/egress.js';

let fx: ProxyFixture;
let http: Awaited<ReturnType<typeof startHttpServer>>;
let sinkServer: Server;
let sinkPort: number;

beforeAll(async () => {
  http = await startHttpServer((_req, res) => res.end('ok'));
  // Counts bytes and answers "done" once the client half-closes.
  sinkServer = createNetServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    s.on('end', () => s.end('done'));
  });
  await new Promise<void>((resolve) => sinkServer.listen(0, '127.0.0.1', resolve));
  sinkPort = (sinkServer.address() as AddressInfo).port;
  fx = await startProxy({ allow: [`127.0.0.1:${http.port}`, `127.0.0.1:${sinkPort}`] });
});

afterAll(async () => {
  await fx.close();
  await http.close();
  await new Promise<void>((resolve) => sinkServer.close(() => resolve()));
});

function get(
  agent: Agent,
  options: { socketPath?: string; path: string; headers?: Record<string, string>; port?: number },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: '127.0.0.1', ...options }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
      res.on('data', () => undefined);
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end();
  });
}

async function latencies(n: number, once: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < 200; i++) await once();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await once();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out.sort((a, b) => a - b);
}

const pct = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

async function pump(socket: Socket, bytes: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 7);
  const t = process.hrtime.bigint();
  let sent = 0;
  while (sent < bytes) {
    sent += chunk.length;
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  const done = new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.resume();
  socket.end();
  await done;
  return Number(process.hrtime.bigint() - t) / 1e9;
}

describe('egress proxy performance smoke', () => {
  it('prints added latency and tunnel throughput', async () => {
    const opts: AgentOptions = { keepAlive: true, maxSockets: 1 };
    const direct = new Agent(opts);
    const viaProxy = new Agent(opts);
    const url = `http://127.0.0.1:${http.port}/`;
    const d = await latencies(1500, () => get(direct, { port: http.port, path: '/' }));
    const p = await latencies(1500, () =>
      get(viaProxy, {
        socketPath: fx.socketPath,
        path: url,
        headers: { host: `127.0.0.1:${http.port}`, 'proxy-authorization': AUTH },
      }),
    );
    direct.destroy();
    viaProxy.destroy();

    const bytes = 256 * 1024 * 1024;
    const directSocket = netConnect(sinkPort, '127.0.0.1');
    await new Promise((resolve) => directSocket.once('connect', resolve));
    const directSeconds = await pump(directSocket, bytes);
    directSocket.destroy();
    const tunnel = await openConnect(fx.socketPath, `127.0.0.1:${sinkPort}`);
    expect(tunnel.status).toBe(200);
    const tunnelSeconds = await pump(tunnel.socket, bytes);
    tunnel.socket.destroy();

    const mib = bytes / (1024 * 1024);
    console.log(
      [
        'egress proxy smoke (HTTP GET keep-alive, sequential; 256 MiB through CONNECT):',
        `  direct      p50 ${pct(d, 0.5).toFixed(3)} ms  p99 ${pct(d, 0.99).toFixed(3)} ms`,
        `  via proxy   p50 ${pct(p, 0.5).toFixed(3)} ms  p99 ${pct(p, 0.99).toFixed(3)} ms  (added p50 ${(pct(p, 0.5) - pct(d, 0.5)).toFixed(3)} ms)`,
        `  throughput  direct ${(mib / directSeconds).toFixed(0)} MiB/s, tunnel ${(mib / tunnelSeconds).toFixed(0)} MiB/s (ratio ${(directSeconds / tunnelSeconds).toFixed(2)})`,
      ].join('\n'),
    );
    expect(fx.proxy.stats().allowed).toBeGreaterThan(1500);
  }, 60_000);
});
