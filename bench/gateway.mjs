#!/usr/bin/env node
// MCP gateway, side by side: per-call latency and throughput of `tools/call` through warden's
// gateway vs calling the same upstream MCP server directly, as an MCP client meets them. One MCP
// SDK client per peer lives in this process, connected for the whole run; every peer ends at the
// same upstream, bench/lib/mcp-echo-server.mjs (an SDK stdio server whose tools answer at once):
//   direct:       client ─stdio─ server (a plain child process: no sandbox, no policy, no audit);
//   warden:       client ─stdio─ `warden gateway --stdio` ─stdio─ server in its own sandbox (the
//                 real CLI from this repo's dist/, as a desktop client starts it). Every call is
//                 checked against the inputSchema, decided by the Cedar policy and recorded
//                 durably in the audit log before the answer goes back. Three rows: the tool granted
//                 plainly (a cached decision), one granted with a value condition (decided on
//                 every call) and one with a path condition (its path resolved on the host and
//                 decided on every call, GW-12);
//   ref rows, where warden's time goes: the same gateway code built from src/ with esbuild and
//                 run by bench/lib/gateway-host.mjs, with the server as a plain child process (no
//                 sandbox), with and without the audit log. warden CLI − "no sandbox" ≈ what the
//                 sandbox costs; "no sandbox" − "no sandbox, no audit" ≈ what the audit write costs;
//                 the rest over direct is the gateway's own work (two stdio hops, parsing, policy);
//   supergateway, mcp-proxy (npm, when they install): client ─Streamable HTTP─ proxy ─stdio─
//                 server (unsandboxed). Other transport than the stdio rows, no policy, no audit:
//                 a reference for what a plain MCP proxy costs.
// Each round runs, for every peer in a new random (seeded) order, a block of sequential calls
// (concurrency 1) and a block with 64 calls in flight at all times (closed loop), so machine
// noise is spread over all peers alike. Latency is per call (request sent → result parsed by the
// client); throughput is calls per second of a whole block.
//
// usage: node bench/gateway.mjs [--rounds N] [--calls N] [--calls-c64 N] [--warmup N] [--concurrency 64]
//                               [--no-proxies] [--no-breakdown] [--seed N] [--json FILE] [--cpu-prof DIR]
//                               [--warden-node-flags FLAGS]
// --cpu-prof DIR runs warden's gateway under `node --cpu-prof` (the profile lands in DIR when it exits).
// --warden-node-flags: extra Node flags for every warden gateway process (none by default: warden
// itself turns off JS-to-Wasm inlining before Cedar loads, to avoid a V8 crash; see src/policy/cedar.ts).
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  asUser,
  currentUser,
  ensureNpmPackages,
  fmt,
  loadLine,
  log,
  machineLine,
  median,
  pct,
  REPO,
  seededRandom,
  shuffled,
  sortNum,
  table,
  verdict,
  wardenBuildLine,
  WORK,
} from './lib/common.mjs';

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '8' },
    calls: { type: 'string', default: '400' },
    'calls-c64': { type: 'string', default: '3200' },
    warmup: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '64' },
    'no-proxies': { type: 'boolean', default: false },
    'no-breakdown': { type: 'boolean', default: false },
    'warden-node-flags': { type: 'string', default: '' },
    'cpu-prof': { type: 'string' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
const ROUNDS = Number(opts.rounds);
const CALLS_C1 = Number(opts.calls);
const CALLS_CN = Number(opts['calls-c64']);
const WARMUP = Number(opts.warmup);
const CN = Number(opts.concurrency);
const SEED = Number(opts.seed);
for (const [name, value] of Object.entries({
  rounds: ROUNDS,
  calls: CALLS_C1,
  'calls-c64': CALLS_CN,
  warmup: WARMUP,
  concurrency: CN,
  seed: SEED,
})) {
  if (!Number.isInteger(value) || value < (name === 'warmup' || name === 'seed' ? 0 : 1))
    throw new Error(`--${name} takes a whole number`);
}
if (CALLS_CN < CN) throw new Error('--calls-c64 must be at least --concurrency');
const CONCURRENCIES = [1, CN];

// Targets from the issue: added latency over calling the server directly, at both concurrencies.
const TARGET_ADDED_P50_MS = 0.5;
const TARGET_ADDED_P99_MS = 2;

// The SDK's Streamable HTTP client passes one AbortSignal to every fetch, and Node 20's fetch lets
// go of its abort listener only when the request is garbage-collected: thousands pile up between
// collections (a warning per listener past 1,500). Unlimited, so stderr stays readable.
setMaxListeners(0);

const NODE = '/usr/bin/node';
const SERVER = join(REPO, 'bench', 'lib', 'mcp-echo-server.mjs');
const MODULES = join(REPO, 'node_modules');
// This repo's build, not an installed `warden` (the build line below hashes this repo's bundle).
const WARDEN = process.env.WARDEN_BIN ?? join(REPO, 'bin', 'warden.cjs');
// 64 characters: small, like most tool arguments; the same text comes back.
const MESSAGE = 'warden gateway bench: the same 64-character message on each call';
const me = currentUser();
const cleanEnv = asUser(me).env;

// ------------------------------------------------------------------ scratch, config
const dir = join(WORK, 'gateway');
rmSync(dir, { recursive: true, force: true });
const stateDir = join(dir, 'state');
const workspace = join(dir, 'ws');
mkdirSync(stateDir, { recursive: true, mode: 0o700 });
mkdirSync(workspace, { recursive: true, mode: 0o755 });
writeFileSync(join(workspace, 'notes.txt'), 'the path the path-conditioned row names\n', { mode: 0o644 });
const configPath = join(dir, 'warden.yaml');
// The server sees node_modules (the SDK) and bench/lib (itself) read-only, nothing of the
// workspace. `echo` is granted outright; `echo_checked` only when its message is the bench's;
// `echo_path` only when its path is in the workspace (warden resolves it on the host: one lstat
// per component inside the workspace, here notes.txt, which exists).
writeFileSync(
  configPath,
  `version: 1
servers:
  echo:
    command: ${NODE}
    args: [${JSON.stringify(SERVER)}]
    filesystem: { read_only: [${JSON.stringify(MODULES)}, ${JSON.stringify(join(REPO, 'bench', 'lib'))}] }
profiles:
  default:
    mcp:
      allow:
        - server: echo
          tools: [echo]
        - server: echo
          tools: [echo_checked]
          when: { message: { one_of: [${JSON.stringify(MESSAGE)}] } }
        - server: echo
          tools: [echo_path]
          when: { path: { under: ["\${workspace}"] } }
`,
  { mode: 0o644 },
);

// ------------------------------------------------------------------ peers
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A stdio client whose server process's stderr tail is kept for error messages. */
async function stdioClient(label, command, args, cwd) {
  const transport = new StdioClientTransport({ command, args, cwd, env: cleanEnv, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const client = new Client({ name: 'gateway-bench', version: '1.0.0' });
  try {
    await client.connect(transport, { timeout: 60_000 });
  } catch (error) {
    throw new Error(`${label}: cannot connect (${error.message}): ${stderr.trim().slice(-800)}`);
  }
  return { client, pid: transport.pid, stderr: () => stderr };
}

/** Starts an HTTP proxy process and connects a Streamable HTTP client to it (retrying while it starts). */
async function httpClient(label, command, args, url) {
  const child = spawn(command, args, { cwd: dir, env: cleanEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d) => (output = (output + d).slice(-4000));
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  let exited = null;
  child.on('exit', (code, signal) => (exited = signal ?? code));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new Client({ name: 'gateway-bench', version: '1.0.0' });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(url)), { timeout: 10_000 });
      return { client, child, stderr: () => output };
    } catch (error) {
      await client.close().catch(() => undefined);
      if (exited !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(
          `${label}: cannot connect to ${url} (${error.message}); exit ${exited}: ${output.trim().slice(-800)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

const began = Date.now();
log(`gateway bench: starting peers (${loadLine()})`);
const direct = await stdioClient('direct', NODE, [SERVER], workspace);
// Node 20.20.2's V8 aborts ("Fatal error … unreachable code" in Deoptimizer::DoComputeBuiltinContinuation)
// when it deoptimizes the policy engine's call into Cedar's WebAssembly that Turbofan inlined: under
// a stream of argument-dependent decisions the gateway dies after a few thousand calls. Turning that
// inlining off avoids it; the flag only changes how JS calls into Wasm (the Cedar calls).
const nodeFlags = [
  ...opts['warden-node-flags'].split(' ').filter(Boolean),
  ...(opts['cpu-prof'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts['cpu-prof']}`]),
];
const warden = await stdioClient(
  'warden',
  process.execPath,
  [
    ...nodeFlags,
    WARDEN,
    '--config',
    configPath,
    '--state-dir',
    stateDir,
    'gateway',
    '--stdio',
    '--workspace',
    workspace,
  ],
  workspace,
);
const wardenTools = (await warden.client.listTools()).tools.map((t) => t.name).sort();
if (wardenTools.join(',') !== 'echo__echo,echo__echo_checked,echo__echo_path')
  throw new Error(`warden lists ${wardenTools.join(', ')}`);
const directTools = (await direct.client.listTools()).tools.map((t) => t.name).sort();
if (directTools.join(',') !== 'echo,echo_checked,echo_path')
  throw new Error(`the server lists ${directTools.join(', ')}`);

const peerList = [
  { key: 'direct', label: 'direct (stdio, no sandbox)', client: direct.client, tool: 'echo' },
  { key: 'warden', label: 'warden gateway, plain grant', client: warden.client, tool: 'echo__echo' },
  {
    key: 'wardenCond',
    label: 'warden gateway, grant with condition',
    client: warden.client,
    tool: 'echo__echo_checked',
  },
  {
    key: 'wardenPath',
    label: 'warden gateway, grant with path condition',
    client: warden.client,
    tool: 'echo__echo_path',
    args: { message: MESSAGE, path: 'notes.txt' },
  },
];
const hosts = [];
if (!opts['no-breakdown']) {
  // The gateway from src/, bundled as scripts/build.mjs bundles the CLI (CommonJS, import.meta.url
  // defined; better-sqlite3 and cedar-wasm load from node_modules), but not minified.
  const bundle = join(dir, 'warden-src.cjs');
  await build({
    stdin: {
      contents: [
        // zod first, as in the CLI: its modules are circular, and the MCP SDK's zod import order
        // alone leaves ZodCustom undefined when the SDK's types module runs.
        "import './src/core/config.ts';",
        "export { buildPolicy, MAX_RESULT_BYTES } from './src/runtime/run-gateway.ts';",
        "export { loadConfig } from './src/runtime/config-file.ts';",
        "export { ArgumentRedactor, Gateway, serveStdio } from './src/gateway/index.ts';",
        "export { derivedKey, ensureStateDir, openAuditLog } from './src/audit/index.ts';",
        "export { newRunId } from './src/core/ids.ts';",
      ].join('\n'),
      resolveDir: REPO,
      loader: 'ts',
      sourcefile: 'gateway-bench-entry.ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    outfile: bundle,
    external: ['better-sqlite3', '@cedar-policy/cedar-wasm'],
    banner: { js: 'const __wardenImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    define: { 'import.meta.url': '__wardenImportMetaUrl' },
  });
  const host = join(REPO, 'bench', 'lib', 'gateway-host.mjs');
  for (const [key, label, audit] of [
    ['hostAudit', 'ref: gateway, server not sandboxed', join(dir, 'state-host')],
    ['hostNoAudit', 'ref: gateway, not sandboxed, no audit', 'none'],
  ]) {
    const h = await stdioClient(
      label,
      process.execPath,
      [...nodeFlags.filter((f) => !f.startsWith('--cpu-prof')), host, bundle, configPath, workspace, audit],
      workspace,
    );
    hosts.push(h);
    peerList.push({ key, label, client: h.client, tool: 'echo__echo' });
  }
}
const proxies = [];
const skipped = [];
if (!opts['no-proxies']) {
  const installed = ensureNpmPackages(['supergateway@4.0.0', 'mcp-proxy@6.7.19'], { optional: true });
  const serverCommand = `${NODE} ${SERVER}`;
  if (installed.supergateway) {
    const port = await freePort();
    try {
      const sg = await httpClient(
        'supergateway',
        NODE,
        [
          join(installed.supergateway.dir, 'dist', 'index.js'),
          '--stdio',
          serverCommand,
          '--outputTransport',
          'streamableHttp',
          '--stateful',
          '--port',
          String(port),
          '--logLevel',
          'none',
        ],
        `http://127.0.0.1:${port}/mcp`,
      );
      proxies.push(sg);
      peerList.push({
        key: 'supergateway',
        label: `supergateway ${installed.supergateway.version} (HTTP)`,
        client: sg.client,
        tool: 'echo',
      });
    } catch (error) {
      skipped.push(`supergateway: ${error.message}`);
    }
  } else skipped.push('supergateway: npm install failed');
  if (installed['mcp-proxy']) {
    const port = await freePort();
    try {
      const mp = await httpClient(
        'mcp-proxy',
        NODE,
        [
          join(installed['mcp-proxy'].dir, 'dist', 'bin', 'mcp-proxy.mjs'),
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--',
          NODE,
          SERVER,
        ],
        `http://127.0.0.1:${port}/mcp`,
      );
      proxies.push(mp);
      peerList.push({
        key: 'mcpProxy',
        label: `mcp-proxy ${installed['mcp-proxy'].version} (HTTP)`,
        client: mp.client,
        tool: 'echo',
      });
    } catch (error) {
      skipped.push(`mcp-proxy: ${error.message}`);
    }
  } else skipped.push('mcp-proxy: npm install failed');
}
for (const line of skipped) log(`  skipped ${line}`);

// ------------------------------------------------------------------ measuring
/**
 * `calls` tools/call requests with `concurrency` in flight at all times (a closed loop: each
 * worker sends its next call when the previous one is answered). Returns the per-call latencies
 * (ms) and the block's wall time (ms).
 */
async function block(peer, calls, concurrency) {
  const latencies = new Float64Array(calls);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < calls; i = next++) {
      const start = performance.now();
      const result = await peer.client.callTool({ name: peer.tool, arguments: peer.args ?? { message: MESSAGE } });
      latencies[i] = performance.now() - start;
      if (result.isError || result.content?.[0]?.text !== MESSAGE)
        throw new Error(`${peer.label}: unexpected result ${JSON.stringify(result).slice(0, 300)}`);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, wallMs: performance.now() - start };
}

const callsAt = (c) => (c === 1 ? CALLS_C1 : CALLS_CN);
// Warm-up, unmeasured: JIT, the gateway's caches (validators, policy slices), the audit log's file.
for (const peer of peerList) {
  await block(peer, WARMUP, 1);
  await block(peer, Math.max(WARMUP, CN), CN);
}
const loadBefore = loadLine();
log(
  `gateway bench: ${ROUNDS} interleaved rounds of ${peerList.length} peers × concurrency ${CONCURRENCIES.join(' and ')}; ${CALLS_C1} calls at c=1, ${CALLS_CN} at c=${CN} per block; ${loadBefore}`,
);
const results = Object.fromEntries(peerList.map((p) => [p.key, Object.fromEntries(CONCURRENCIES.map((c) => [c, []]))]));
const random = seededRandom(SEED);
const measureStart = Date.now();
for (let round = 0; round < ROUNDS; round++) {
  // A new random order of (peer, concurrency) blocks every round.
  const blocks = shuffled(
    peerList.flatMap((peer) => CONCURRENCIES.map((c) => ({ peer, c }))),
    random,
  );
  for (const { peer, c } of blocks) {
    try {
      results[peer.key][c].push(await block(peer, callsAt(c), c));
    } catch (error) {
      throw new Error(
        `${peer.label}, c=${c}: ${error.message}\n  warden's stderr: ${warden.stderr().trim().slice(-1500)}`,
      );
    }
  }
  log(`  ${round + 1}/${ROUNDS} rounds (${((Date.now() - measureStart) / 1000).toFixed(0)} s)`);
}
const loadAfter = loadLine();

// ------------------------------------------------------------------ shutdown and audit check
for (const peer of [direct, warden, ...hosts, ...proxies]) await peer.client.close().catch(() => undefined);
for (const p of proxies) p.child.kill('SIGTERM');
// Closing the client ends the gateway's stdin: it stops its server, flushes the audit log and
// exits. Then every call it answered must be in the log, one mcp.call record each.
// Three warden rows (plain, value-conditioned and path-conditioned grant), each with its warm-up and measured blocks.
const wardenCalls = 3 * (WARMUP + Math.max(WARMUP, CN) + CONCURRENCIES.reduce((n, c) => n + ROUNDS * callsAt(c), 0));
const runWarden = (args) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WARDEN, '--state-dir', stateDir, ...args], {
      cwd: workspace,
      env: cleanEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`warden ${args.join(' ')} exited ${code}`)),
    );
  });
let auditLine;
try {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const runs = JSON.parse(await runWarden(['audit', 'ls', '--json']));
  const run = runs.find((r) => r.command.join(' ') === 'warden gateway --stdio');
  const events = JSON.parse(await runWarden(['audit', 'show', run.run_id, '--json']));
  const ok = events.filter(
    (e) => e.type === 'mcp.call' && e.data.decision === 'allow' && e.data.outcome === 'ok',
  ).length;
  auditLine = `audit: ${ok} mcp.call records (allow, ok) for ${wardenCalls} calls through warden ${ok === wardenCalls ? '(every call recorded)' : '(MISMATCH)'}`;
} catch (error) {
  auditLine = `audit: could not check the log (${error.message})`;
}

// ------------------------------------------------------------------ report
const summarise = (key, c) => {
  const blocks = results[key][c];
  const all = sortNum(blocks.flatMap((b) => Array.from(b.latencies)));
  const rates = blocks.map((b) => (b.latencies.length / b.wallMs) * 1000);
  const roundP50 = blocks.map((b) => pct(sortNum(Array.from(b.latencies)), 0.5));
  return {
    p50: pct(all, 0.5),
    p90: pct(all, 0.9),
    p99: pct(all, 0.99),
    max: all[all.length - 1],
    roundP50Min: Math.min(...roundP50),
    roundP50Max: Math.max(...roundP50),
    rate: median(rates),
    rateMin: Math.min(...rates),
    rateMax: Math.max(...rates),
    n: all.length,
  };
};
const s = Object.fromEntries(
  peerList.map((p) => [p.key, Object.fromEntries(CONCURRENCIES.map((c) => [c, summarise(p.key, c)]))]),
);

const out = [];
out.push(`# MCP gateway (${new Date().toISOString()})`);
out.push(machineLine());
out.push(wardenBuildLine());
out.push(`load: before ${loadBefore}; after ${loadAfter}`);
out.push(
  `warden: ${WARDEN} gateway --stdio (a child process of the bench, as root; its server sandboxed as warden-sandbox); audit log in ${stateDir}; node flags: ${nodeFlags.join(' ') || 'none'}`,
);
out.push(
  `upstream: ${NODE} ${SERVER} (${process.version}); client: @modelcontextprotocol/sdk Client in the bench process, Client.callTool`,
);
out.push(
  `${ROUNDS} interleaved rounds (random order, seed ${SEED}); per block ${CALLS_C1} calls at c=1 or ${CALLS_CN} calls at c=${CN} (closed loop); ${WARMUP} warm-up calls per peer and concurrency before the first round`,
);
if (skipped.length > 0) out.push(`skipped: ${skipped.join('; ')}`);
for (const c of CONCURRENCIES) {
  out.push('');
  out.push(
    `concurrency ${c}: latency per call (ms; all rounds pooled; "round p50s" = spread of the per-round medians), throughput (calls/s; median of ${ROUNDS} blocks, min–max):`,
  );
  const base = s.direct[c];
  const rows = peerList.map((p) => {
    const x = s[p.key][c];
    const isBase = p.key === 'direct';
    return [
      p.label,
      fmt(x.p50, 3),
      fmt(x.p90, 3),
      fmt(x.p99, 3),
      `${fmt(x.roundP50Min, 3)}–${fmt(x.roundP50Max, 3)}`,
      isBase ? '' : fmt(x.p50 - base.p50, 3),
      isBase ? '' : fmt(x.p99 - base.p99, 3),
      fmt(x.rate, 0),
      `${fmt(x.rateMin, 0)}–${fmt(x.rateMax, 0)}`,
      isBase ? '' : `${fmt(x.rate / base.rate, 2)}×`,
    ];
  });
  out.push(
    table(['peer', 'p50', 'p90', 'p99', 'round p50s', 'added p50', 'added p99', 'calls/s', 'range', 'vs direct'], rows),
  );
}
out.push('');
out.push(
  `targets (warden's added latency over direct: p50 ≤ ${TARGET_ADDED_P50_MS} ms, p99 ≤ ${TARGET_ADDED_P99_MS} ms, at c=1 and c=${CN}):`,
);
const verdicts = [];
for (const key of ['warden', 'wardenCond', 'wardenPath']) {
  for (const c of CONCURRENCIES) {
    const added50 = s[key][c].p50 - s.direct[c].p50;
    const added99 = s[key][c].p99 - s.direct[c].p99;
    const ok = added50 <= TARGET_ADDED_P50_MS && added99 <= TARGET_ADDED_P99_MS;
    verdicts.push(ok);
    const label = peerList.find((p) => p.key === key).label;
    out.push(
      `  ${label}, c=${c}: added p50 ${fmt(added50, 3)} ms, p99 ${fmt(added99, 3)} ms; throughput ${fmt(s[key][c].rate / s.direct[c].rate, 2)}× direct — ${verdict(ok)}`,
    );
  }
}
for (const p of peerList.filter((x) => x.key === 'supergateway' || x.key === 'mcpProxy')) {
  out.push(
    `  (ref) ${p.label}: added p50 ${CONCURRENCIES.map((c) => `c=${c} ${fmt(s[p.key][c].p50 - s.direct[c].p50, 3)} ms`).join(', ')}; warden plain / it, p50 at c=1: ${fmt((s.warden[1].p50 - s.direct[1].p50) / (s[p.key][1].p50 - s.direct[1].p50), 2)}× its added time`,
  );
}
if (s.hostAudit && s.hostNoAudit) {
  out.push("where warden's added p50 goes (differences of p50s; noisy at the 0.05 ms level):");
  for (const c of CONCURRENCIES) {
    const parts = [
      ['gateway itself (hops, parsing, policy)', s.hostNoAudit[c].p50 - s.direct[c].p50],
      ['audit write', s.hostAudit[c].p50 - s.hostNoAudit[c].p50],
      ['sandboxed server (and the CLI build)', s.warden[c].p50 - s.hostAudit[c].p50],
    ];
    out.push(
      `  c=${c}: ${parts.map(([what, ms]) => `${what} ${fmt(ms, 3)} ms`).join('; ')}; total ${fmt(s.warden[c].p50 - s.direct[c].p50, 3)} ms`,
    );
  }
}
out.push(`  ${auditLine}`);
out.push(`  total wall time ${((Date.now() - began) / 1000).toFixed(0)} s`);
process.stdout.write(`${out.join('\n')}\n`);

if (opts.json) {
  const raw = Object.fromEntries(
    peerList.map((p) => [
      p.key,
      Object.fromEntries(
        CONCURRENCIES.map((c) => [
          c,
          results[p.key][c].map((b) => ({ wallMs: b.wallMs, latencies: Array.from(b.latencies) })),
        ]),
      ),
    ]),
  );
  writeFileSync(
    opts.json,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: machineLine(),
        warden: wardenBuildLine(),
        load: { before: loadBefore, after: loadAfter },
        rounds: ROUNDS,
        calls: { 1: CALLS_C1, [CN]: CALLS_CN },
        warmup: WARMUP,
        summary: s,
        results: raw,
      },
      null,
      1,
    ),
  );
}
process.exit(0);
