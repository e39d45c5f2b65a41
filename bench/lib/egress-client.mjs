// The HTTP client of bench/egress.mjs. It runs as the "agent": inside `warden run`, inside srt, or
// bare on the host (direct). It must stay self-contained (no imports from this repo): egress.mjs
// copies it into the sandbox workspace, where nothing else of the repo is visible.
//
// usage: node egress-client.mjs --target http://HOST:PORT --mode direct|proxy
//          [--requests N] [--warmup N] [--bytes N]
//
// --mode proxy reads the proxy from $HTTP_PROXY (or $http_proxy), exactly as an agent would, and
// sends absolute-form requests (`GET http://HOST:PORT/x`) with `Proxy-Authorization: Basic ...`
// built from the URL's userinfo. --mode direct talks to the target itself.
//
// It measures, in this order, and prints one JSON line on stdout:
//   1. latency: `requests` sequential GETs of a 2-byte body over one keep-alive connection, after
//      `warmup` unmeasured ones; per-request time from request() to the response's last byte.
//   2. bulk GET: one GET of `bytes` bytes (absolute-form through the proxy: the forwarding path).
//   3. bulk tunnel: a CONNECT tunnel to the target (direct: a plain TCP connection), then a raw
//      `GET /bytes` of `bytes` bytes over it (the path HTTPS traffic takes).
// A bulk transfer that ends short is reported with `complete: false` (not thrown), so one
// truncated download does not discard the round's latency samples.
import { Agent, request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    target: { type: 'string' },
    mode: { type: 'string', default: 'proxy' },
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '200' },
    bytes: { type: 'string', default: String(256 * 1024 * 1024) },
  },
});
const target = new URL(opts.target);
const REQUESTS = Number(opts.requests);
const WARMUP = Number(opts.warmup);
const BYTES = Number(opts.bytes);
const targetAuthority = `${target.hostname}:${target.port}`;

/** Where requests go: the proxy (from the environment) or the target itself. */
function route() {
  if (opts.mode === 'direct') return { host: target.hostname, port: Number(target.port), headers: {}, absolute: false };
  const raw = process.env.HTTP_PROXY ?? process.env.http_proxy;
  if (!raw) throw new Error('--mode proxy but HTTP_PROXY is not set');
  const proxy = new URL(raw);
  const headers = {};
  if (proxy.username !== '') {
    const user = decodeURIComponent(proxy.username);
    const password = decodeURIComponent(proxy.password);
    headers['proxy-authorization'] = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
  // srt advertises `localhost`; its in-sandbox listener is IPv4-only, so ask for IPv4 up front
  // instead of paying a failed ::1 attempt (harmless either way with keep-alive).
  const host = proxy.hostname === 'localhost' ? '127.0.0.1' : proxy.hostname;
  return { host, port: Number(proxy.port || 80), headers, absolute: true, display: `${host}:${proxy.port}` };
}

const via = route();

/** One GET; resolves with the body length and whether the keep-alive socket was reused. */
function get(agent, path) {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: via.host,
        port: via.port,
        path: via.absolute ? `http://${targetAuthority}${path}` : path,
        headers: { host: targetAuthority, ...via.headers },
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`GET ${path}: status ${res.statusCode} ${res.headers['x-warden-reason'] ?? ''}`));
          return;
        }
        let length = 0;
        res.on('data', (chunk) => {
          length += chunk.length;
        });
        res.on('end', () => resolve({ length, reused: req.reusedSocket }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function latency() {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < WARMUP; i++) await get(agent, '/x');
  const samples = [];
  let reused = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = process.hrtime.bigint();
    const r = await get(agent, '/x');
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.reused) reused++;
  }
  agent.destroy();
  return { samples, reused };
}

async function bulkGet() {
  const agent = new Agent({ keepAlive: false });
  const t0 = process.hrtime.bigint();
  try {
    const { length } = await get(agent, `/bytes?n=${BYTES}`);
    return { bytes: length, seconds: Number(process.hrtime.bigint() - t0) / 1e9, complete: length === BYTES };
  } catch (error) {
    return { bytes: 0, seconds: Number(process.hrtime.bigint() - t0) / 1e9, complete: false, error: error.message };
  } finally {
    agent.destroy();
  }
}

/** A raw socket to the target: a CONNECT tunnel through the proxy, or a plain TCP connection. */
function openTunnel() {
  if (!via.absolute) {
    return new Promise((resolve, reject) => {
      const socket = netConnect(Number(target.port), target.hostname, () => resolve(socket));
      socket.once('error', reject);
    });
  }
  return new Promise((resolve, reject) => {
    const req = request({
      host: via.host,
      port: via.port,
      method: 'CONNECT',
      path: targetAuthority,
      headers: { host: targetAuthority, ...via.headers },
    });
    req.on('connect', (res, socket, head) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`CONNECT ${targetAuthority}: status ${res.statusCode}`));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.on('error', reject);
    req.end();
  });
}

async function bulkTunnel() {
  const socket = await openTunnel();
  return new Promise((resolve) => {
    let received = 0;
    let headerBytes = -1; // unknown until the end of the response head is seen
    let head = Buffer.alloc(0);
    let status = '';
    const t0 = process.hrtime.bigint();
    // Ends once, on EOF or on an error. A short body is reported, not thrown: the bench counts it
    // and leaves it out of the rates.
    let done = false;
    const finish = (error) => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const body = headerBytes < 0 ? 0 : received - headerBytes;
      socket.destroy();
      const complete = error === undefined && status.startsWith('HTTP/1.1 200') && body === BYTES;
      resolve({
        bytes: body,
        seconds,
        complete,
        ...(complete ? {} : { error: error?.message ?? `status "${status}", ${body} of ${BYTES} bytes` }),
      });
    };
    socket.on('data', (chunk) => {
      received += chunk.length;
      if (headerBytes < 0) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end >= 0) {
          headerBytes = end + 4;
          status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
          head = null;
        }
      }
    });
    socket.on('end', () => finish());
    socket.on('error', (error) => finish(error));
    socket.write(`GET /bytes?n=${BYTES} HTTP/1.1\r\nHost: ${targetAuthority}\r\nConnection: close\r\n\r\n`);
  });
}

const lat = await latency();
const get1 = await bulkGet();
const tunnel = await bulkTunnel();
process.stdout.write(
  `${JSON.stringify({ via: via.display ?? 'direct', latency: lat, bulkGet: get1, bulkTunnel: tunnel })}\n`,
);
