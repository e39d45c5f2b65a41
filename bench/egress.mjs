#!/usr/bin/env node
// Egress, side by side: latency and throughput of HTTP through warden's egress proxy vs srt's
// proxy vs no proxy at all, measured the way an agent meets them. One HTTP server runs in this
// process on 127.0.0.2 (outside NO_PROXY, which covers only 127.0.0.1); the client
// (bench/lib/egress-client.mjs) runs
//   direct: bare on the host, talking to the server itself;
//   warden: inside `warden run --allow-domain 127.0.0.2:PORT`, through $HTTP_PROXY (warden's
//           in-sandbox forwarder on 127.0.0.1:3128 → unix socket → warden's proxy → server);
//   srt:    inside srt with allowedDomains ["127.0.0.2:PORT"], through $HTTP_PROXY (socat on
//           localhost:3128 → unix socket → srt's proxy → server), srt as an ordinary user.
// Each client run measures sequential keep-alive GET latency, then one bulk GET (absolute-form,
// the forwarding path) and one bulk download through a CONNECT tunnel (the HTTPS path). Rounds
// are interleaved, in a new random (seeded) order each round, so machine noise is spread over all
// peers alike.
//
// usage: node bench/egress.mjs [--reps N] [--requests N] [--warmup N] [--mib N] [--seed N] [--json FILE]
import { spawn } from 'node:child_process';
import { chownSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  asUser,
  currentUser,
  ensurePeers,
  fmt,
  loadLine,
  log,
  lookupUser,
  machineLine,
  median,
  pct,
  REPO,
  seededRandom,
  shuffled,
  sortNum,
  table,
  verdict,
  wardenBin,
  wardenBuildLine,
  WORK,
} from './lib/common.mjs';

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '200' },
    mib: { type: 'string', default: '256' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
const REPS = Number(opts.reps);
const REQUESTS = Number(opts.requests);
const WARMUP = Number(opts.warmup);
const BULK_BYTES = Number(opts.mib) * 1024 * 1024;
const SEED = Number(opts.seed);
for (const [name, value] of Object.entries({
  reps: REPS,
  requests: REQUESTS,
  warmup: WARMUP,
  mib: BULK_BYTES,
  seed: SEED,
})) {
  if (!Number.isInteger(value) || value < (name === 'warmup' || name === 'seed' ? 0 : 1))
    throw new Error(`--${name} takes a whole number`);
}

const SERVER_HOST = '127.0.0.2';
const isRoot = process.getuid() === 0;
const peers = ensurePeers();
const warden = wardenBin();
const me = currentUser();
// srt refuses nothing here, but it is meant to run as an ordinary user (as is every agent under
// warden-as-root: warden itself drops to the sandbox user).
const tester = isRoot ? lookupUser(process.env.BENCH_USER ?? 'warden-tester') : me;
const sandboxUser = isRoot ? lookupUser('warden-sandbox') : me;
if (tester === null)
  throw new Error('no ordinary user to run srt as: create warden-tester (scripts/setup.sh) or set BENCH_USER');
if (sandboxUser === null) throw new Error('no warden-sandbox user (scripts/setup.sh creates it)');
// The client always runs on the host's Node (what an agent's node would be), whatever runs srt.
const clientNode = '/usr/bin/node';

// ------------------------------------------------------------------ the server
// GET /x → "ok" (2 bytes); GET /bytes?n=N → N bytes, written from one reused 1 MiB buffer with
// back-pressure, so the server costs the same for every peer.
const CHUNK = Buffer.alloc(1024 * 1024, 0x61);
const server = createServer((req, res) => {
  const url = new URL(req.url, `http://${SERVER_HOST}`);
  if (url.pathname === '/x') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    res.end('ok');
    return;
  }
  const n = Number(url.searchParams.get('n'));
  if (url.pathname !== '/bytes' || !Number.isInteger(n) || n < 0) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
  let left = n;
  const pump = () => {
    while (left > 0) {
      const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
});
server.keepAliveTimeout = 60_000;
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, SERVER_HOST, resolve);
});
const PORT = server.address().port;
const TARGET = `http://${SERVER_HOST}:${PORT}`;

// ------------------------------------------------------------------ scratch and peers
const dir = join(WORK, 'egress');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true, mode: 0o755 });
/** A workspace owned by `user` holding a copy of the client (the sandbox sees only its workspace). */
function workspaceFor(name, user) {
  const ws = join(dir, name);
  mkdirSync(ws, { mode: 0o755 });
  const client = join(ws, 'client.mjs');
  copyFileSync(join(REPO, 'bench', 'lib', 'egress-client.mjs'), client);
  if (isRoot) {
    chownSync(ws, user.uid, user.gid);
    chownSync(client, user.uid, user.gid);
  }
  return ws;
}
const wsWarden = workspaceFor('ws-warden', sandboxUser);
const wsSrt = workspaceFor('ws-srt', tester);
const wsDirect = workspaceFor('ws-direct', me);
const srtSettings = join(dir, 'srt-settings.json');
// srt takes IP literals with a port in allowedDomains (and does not re-judge a listed literal
// against its loopback guard), so both proxies get the same one-entry allow-list.
writeFileSync(
  srtSettings,
  JSON.stringify({
    network: { allowedDomains: [`${SERVER_HOST}:${PORT}`], deniedDomains: [] },
    filesystem: { denyRead: [], allowRead: [], allowWrite: [], denyWrite: [] },
  }),
  { mode: 0o644 },
);
const wardenSummary = join(dir, 'warden-summary.json');

const clientArgs = (mode) => [
  'client.mjs',
  '--target',
  TARGET,
  '--mode',
  mode,
  '--requests',
  String(REQUESTS),
  '--warmup',
  String(WARMUP),
  '--bytes',
  String(BULK_BYTES),
];
const peerList = [
  {
    key: 'direct',
    label: 'direct (no proxy)',
    cmd: clientNode,
    args: clientArgs('direct'),
    spawn: { ...asUser(me), cwd: wsDirect },
  },
  {
    key: 'warden',
    label: isRoot ? 'warden proxy (run as root)' : 'warden proxy',
    cmd: warden,
    args: [
      'run',
      '-q',
      '--workspace',
      wsWarden,
      '--allow-domain',
      `${SERVER_HOST}:${PORT}`,
      '--json',
      wardenSummary,
      '--',
      clientNode,
      ...clientArgs('proxy'),
    ],
    spawn: { ...asUser(me), cwd: wsWarden },
    summary: wardenSummary,
  },
  {
    key: 'srt',
    label: `srt proxy (${tester.name}, node22)`,
    cmd: peers.node22,
    args: [peers.srtCli, '--settings', srtSettings, '--', clientNode, ...clientArgs('proxy')],
    spawn: { ...asUser(tester), cwd: wsSrt },
  },
];

/** Runs one client (asynchronously: the server lives in this process) and returns its report. */
function runClient(peer) {
  return new Promise((resolve, reject) => {
    const child = spawn(peer.cmd, peer.args, { ...peer.spawn, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{'));
      if (code !== 0 || line === undefined) {
        reject(new Error(`${peer.label} failed (exit ${code}): ${stderr.trim().slice(-600)}`));
        return;
      }
      const report = JSON.parse(line);
      if (peer.summary) {
        // Sanity: warden must have seen (and audited) every request: warm-up + measured + 2 bulk.
        const summary = JSON.parse(readFileSync(peer.summary, 'utf8'));
        const expected = WARMUP + REQUESTS + 2;
        if (summary.egress.allowed !== expected) {
          reject(
            new Error(
              `${peer.label}: warden allowed ${summary.egress.allowed} connections/requests, expected ${expected}`,
            ),
          );
          return;
        }
        report.setupMs = summary.setup_ms;
      }
      resolve(report);
    });
  });
}

// ------------------------------------------------------------------ rounds
const loadBefore = loadLine();
log(
  `egress bench: ${REPS} interleaved rounds of ${peerList.length} peers; ${REQUESTS} GETs (+${WARMUP} warm-up) and 2 × ${opts.mib} MiB per client run; server ${TARGET}; ${loadBefore}`,
);
const results = Object.fromEntries(peerList.map((p) => [p.key, []]));
const began = Date.now();
const random = seededRandom(SEED);
for (let round = 0; round < REPS; round++) {
  // A new random order every round, so no peer always runs first or after the same neighbour.
  for (const peer of shuffled(peerList, random)) {
    const report = await runClient(peer);
    // Fewer reuses than requests means the proxy closed the client connection in between (warden
    // closes one after maxRequestsPerConnection = 1000 requests); reported with the results.
    results[peer.key].push(report);
  }
  log(`  ${round + 1}/${REPS} rounds (${((Date.now() - began) / 1000).toFixed(0)} s)`);
}
const loadAfter = loadLine();
server.close();
server.closeAllConnections();

// ------------------------------------------------------------------ report
const MiB = 1024 * 1024;
const lowest = (values) => (values.length === 0 ? NaN : Math.min(...values));
const highest = (values) => (values.length === 0 ? NaN : Math.max(...values));
const summarise = (key) => {
  const reports = results[key];
  // Latency: all measured requests of all rounds pooled; plus the spread of the per-round p50s.
  const all = sortNum(reports.flatMap((r) => r.latency.samples));
  const roundP50 = reports.map((r) => pct(sortNum(r.latency.samples), 0.5));
  // Rates of the complete transfers only; incomplete ones are counted and reported.
  const rate = (pick) => reports.filter((r) => pick(r).complete).map((r) => pick(r).bytes / MiB / pick(r).seconds);
  const getRates = rate((r) => r.bulkGet);
  const tunnelRates = rate((r) => r.bulkTunnel);
  const incomplete = (pick) => reports.filter((r) => !pick(r).complete).map((r) => pick(r).error ?? 'short');
  return {
    p50: pct(all, 0.5),
    p90: pct(all, 0.9),
    p99: pct(all, 0.99),
    roundP50Min: Math.min(...roundP50),
    roundP50Max: Math.max(...roundP50),
    get: median(getRates),
    getMin: lowest(getRates),
    getMax: highest(getRates),
    tunnel: median(tunnelRates),
    tunnelMin: lowest(tunnelRates),
    tunnelMax: highest(tunnelRates),
    getIncomplete: incomplete((r) => r.bulkGet),
    tunnelIncomplete: incomplete((r) => r.bulkTunnel),
  };
};
const s = Object.fromEntries(peerList.map((p) => [p.key, summarise(p.key)]));
const latencyRows = peerList.map((p) => {
  const x = s[p.key];
  const added = x.p50 - s.direct.p50;
  return [
    p.label,
    fmt(x.p50, 3),
    fmt(x.p90, 3),
    fmt(x.p99, 3),
    `${fmt(x.roundP50Min, 3)}–${fmt(x.roundP50Max, 3)}`,
    p.key === 'direct' ? '' : fmt(added, 3),
    p.key === 'direct' ? '' : fmt(x.p99 - s.direct.p99, 3),
  ];
});
const throughputRows = peerList.map((p) => {
  const x = s[p.key];
  return [
    p.label,
    fmt(x.get, 0),
    `${fmt(x.getMin, 0)}–${fmt(x.getMax, 0)}`,
    p.key === 'direct' ? '' : `${fmt(x.get / s.direct.get, 2)}×`,
    fmt(x.tunnel, 0),
    `${fmt(x.tunnelMin, 0)}–${fmt(x.tunnelMax, 0)}`,
    p.key === 'direct' ? '' : `${fmt(x.tunnel / s.direct.tunnel, 2)}×`,
  ];
});

const wardenAdded = s.warden.p50 - s.direct.p50;
const srtAdded = s.srt.p50 - s.direct.p50;
const getRatio = s.warden.get / s.srt.get;
const tunnelRatio = s.warden.tunnel / s.srt.tunnel;
const out = [];
out.push(`# egress (${new Date().toISOString()})`);
out.push(machineLine());
out.push(wardenBuildLine());
out.push(`load: before ${loadBefore}; after ${loadAfter}`);
out.push(
  `peers: srt ${peers.srtVersion} on node ${peers.node22Version}; warden ${warden}; client on ${clientNode} (${process.version}); server ${TARGET} in the bench process`,
);
out.push(
  `${REPS} interleaved rounds (random order, seed ${SEED}); per client run: ${REQUESTS} sequential keep-alive GETs of 2 bytes after ${WARMUP} warm-up, then a ${opts.mib} MiB GET and a ${opts.mib} MiB download through CONNECT`,
);
out.push('');
out.push('latency per request (ms; all rounds pooled; "round p50s" = spread of the per-round medians):');
out.push(table(['peer', 'p50', 'p90', 'p99', 'round p50s', 'added p50', 'added p99'], latencyRows));
for (const p of peerList) {
  const fresh = results[p.key].reduce((n, r) => n + (REQUESTS - r.latency.reused), 0);
  if (fresh > 0)
    out.push(
      `  ${p.label}: ${fresh} of ${REPS * REQUESTS} measured requests opened a new connection (the proxy had closed the keep-alive one)`,
    );
}
out.push('');
out.push(`throughput (MiB/s; median of ${REPS} rounds, min–max):`);
out.push(table(['peer', 'GET', 'GET range', 'vs direct', 'CONNECT', 'CONNECT range', 'vs direct'], throughputRows));
for (const p of peerList) {
  for (const [what, list] of [
    ['GET', s[p.key].getIncomplete],
    ['CONNECT', s[p.key].tunnelIncomplete],
  ]) {
    if (list.length > 0)
      out.push(
        `  ${p.label}: ${list.length} of ${REPS} ${what} transfers incomplete (left out of the rates): ${[...new Set(list)].join('; ')}`,
      );
  }
}
out.push('');
out.push('ratios:');
out.push(
  `  added p50 latency: warden ${fmt(wardenAdded, 3)} ms, srt ${fmt(srtAdded, 3)} ms (warden/srt ${fmt(wardenAdded / srtAdded, 2)}×) — target warden ≤ 1 ms: ${verdict(wardenAdded <= 1)}`,
);
out.push(
  `  throughput warden/srt: GET ${fmt(getRatio, 2)}×, CONNECT ${fmt(tunnelRatio, 2)}× — target ≥ 1.00× on both: ${verdict(getRatio >= 1 && tunnelRatio >= 1)}`,
);
const setups = sortNum(results.warden.map((r) => r.setupMs));
out.push(
  `  (warden setup_ms in these runs: p50 ${fmt(pct(setups, 0.5), 2)} ms; every request was audited: ${WARMUP + REQUESTS + 2} egress decisions per run)`,
);
out.push('commands (one run each per round):');
for (const p of peerList)
  out.push(
    `  ${p.key} (cwd ${p.spawn.cwd}${p.spawn.uid === undefined ? '' : `, uid ${p.spawn.uid}`}): ${[p.cmd, ...p.args].join(' ')}`,
  );
process.stdout.write(`${out.join('\n')}\n`);

if (opts.json) {
  writeFileSync(
    opts.json,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: machineLine(),
        warden: wardenBuildLine(),
        load: { before: loadBefore, after: loadAfter },
        reps: REPS,
        requests: REQUESTS,
        warmup: WARMUP,
        bulkBytes: BULK_BYTES,
        srt: peers.srtVersion,
        summary: s,
        results,
      },
      null,
      1,
    ),
  );
}
