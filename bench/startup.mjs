#!/usr/bin/env node
// Sandbox start-up, side by side: wall time of `warden run -- /bin/true` (as root, the default
// deployment, and as an ordinary user) vs bare /bin/true vs raw bwrap with comparable flags vs
// Anthropic's srt doing the same. Every peer runs once per round, rounds are interleaved
// (round-robin, rotating the order) so machine noise is spread over all peers alike. Also reports
// warden's in-process `setup_ms` (JSON summary). Targets are reported, not asserted.
//
// usage: node bench/startup.mjs [--runs N] [--warmup N] [--json FILE]
import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { asUser, currentUser, ensurePeers, fmt, log, lookupUser, machineLine, pct, sortNum, table, verdict, wardenBin, which, WORK } from './lib/common.mjs';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '40' },
    warmup: { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});
const RUNS = Number(opts.runs);
const WARMUP = Number(opts.warmup);
if (!Number.isInteger(RUNS) || RUNS < 1 || !Number.isInteger(WARMUP) || WARMUP < 0) throw new Error('--runs and --warmup take whole numbers');

const isRoot = process.getuid() === 0;
const peers = ensurePeers();
const warden = wardenBin();
const node20 = process.execPath;
const bwrap = which('bwrap');
const me = currentUser();
// The ordinary user that runs srt and warden-as-user; the sandbox user that raw bwrap runs as
// (what warden's launcher runs as when warden is root).
const tester = isRoot ? lookupUser(process.env.BENCH_USER ?? 'warden-tester') : me;
const sandboxUser = isRoot ? lookupUser('warden-sandbox') : me;
if (tester === null) throw new Error('no ordinary user to run srt as: create warden-tester (scripts/setup.sh) or set BENCH_USER');
if (sandboxUser === null) throw new Error('no warden-sandbox user (scripts/setup.sh creates it)');

// Scratch: one workspace per identity (writable by whoever the sandbox runs as), summaries, srt settings.
const dir = join(WORK, 'startup');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true, mode: 0o755 });
const mkdirFor = (path, user) => {
  mkdirSync(path, { recursive: true, mode: 0o755 });
  if (isRoot) chownSync(path, user.uid, user.gid);
  return path;
};
const wsRoot = mkdirFor(join(dir, 'ws-sandbox'), sandboxUser); // warden as root: the sandbox user writes here
const wsUser = mkdirFor(join(dir, 'ws-user'), tester);
const outUser = mkdirFor(join(dir, 'out-user'), tester);
const srtSettings = join(dir, 'srt-settings.json');
// No network at all (empty allow-list); default filesystem rules.
writeFileSync(srtSettings, JSON.stringify({ network: { allowedDomains: [], deniedDomains: [] }, filesystem: { denyRead: [], allowRead: [], allowWrite: [], denyWrite: [] } }), { mode: 0o644 });

const bwrapArgs = [
  '--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
  '--ro-bind', '/usr', '/usr',
  '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/sbin', '/sbin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64',
  '--ro-bind', '/etc', '/etc',
  '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
  '--remount-ro', '/',
  '--', '/bin/true',
];

/** Each peer: a command and spawn options; `summary` names the JSON file warden writes. */
const rootSummary = join(dir, 'summary-root.json');
const rootNoWsSummary = join(dir, 'summary-root-nows.json');
const userSummary = join(outUser, 'summary.json');
const peerList = [
  { key: 'bare', label: 'bare /bin/true', cmd: '/bin/true', args: [], spawn: asUser(me) },
  { key: 'node20', label: 'ref: node20 -e 0', cmd: node20, args: ['-e', '0'], spawn: asUser(me), reference: true },
  { key: 'node22', label: 'ref: node22 -e 0', cmd: peers.node22, args: ['-e', '0'], spawn: asUser(me), reference: true },
  { key: 'bwrap', label: `bwrap (as ${sandboxUser.name})`, cmd: bwrap, args: bwrapArgs, spawn: asUser(sandboxUser) },
  ...(isRoot
    ? [
        { key: 'wardenRoot', label: 'warden run (root)', cmd: warden, args: ['run', '-q', '--workspace', wsRoot, '--json', rootSummary, '--', '/bin/true'], spawn: { ...asUser(me), cwd: wsRoot }, summary: rootSummary },
        { key: 'wardenRootNoWs', label: 'warden run --no-workspace (root)', cmd: warden, args: ['run', '-q', '--no-workspace', '--json', rootNoWsSummary, '--', '/bin/true'], spawn: { ...asUser(me), cwd: wsRoot }, summary: rootNoWsSummary },
      ]
    : []),
  { key: 'wardenUser', label: `warden run (${tester.name})`, cmd: warden, args: ['run', '-q', '--workspace', wsUser, '--json', userSummary, '--', '/bin/true'], spawn: { ...asUser(tester), cwd: wsUser }, summary: userSummary },
  { key: 'srt', label: `srt (${tester.name}, node22)`, cmd: peers.node22, args: [peers.srtCli, '--settings', srtSettings, '--', '/bin/true'], spawn: { ...asUser(tester), cwd: wsUser } },
];

function runOnce(peer) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(peer.cmd, peer.args, { ...peer.spawn, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 30_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error || r.status !== 0) {
    throw new Error(`${peer.label} failed (status ${r.status}, ${r.error?.message ?? ''}): ${String(r.stderr).trim().slice(0, 400)}`);
  }
  let setupMs = null;
  if (peer.summary) {
    const summary = JSON.parse(readFileSync(peer.summary, 'utf8'));
    if (summary.exit_code !== 0) throw new Error(`${peer.label}: run summary says ${summary.reason} (${summary.error})`);
    setupMs = summary.setup_ms;
  }
  return { ms, setupMs };
}

log(`startup bench: ${RUNS} interleaved rounds (+${WARMUP} warm-up) of ${peerList.length} peers; warden = ${warden}`);
const samples = Object.fromEntries(peerList.map((p) => [p.key, { wall: [], setup: [] }]));
const began = Date.now();
for (let round = -WARMUP; round < RUNS; round++) {
  // Rotate the order each round so no peer always runs right after the same neighbour.
  const offset = ((round % peerList.length) + peerList.length) % peerList.length;
  for (let i = 0; i < peerList.length; i++) {
    const peer = peerList[(i + offset) % peerList.length];
    const { ms, setupMs } = runOnce(peer);
    if (round < 0) continue;
    samples[peer.key].wall.push(ms);
    if (setupMs !== null) samples[peer.key].setup.push(setupMs);
  }
  if (round >= 0 && (round + 1) % 10 === 0) log(`  ${round + 1}/${RUNS} rounds (${((Date.now() - began) / 1000).toFixed(0)} s)`);
}

// ------------------------------------------------------------------ report
const stat = (key) => {
  const wall = sortNum(samples[key].wall);
  return { p50: pct(wall, 0.5), p90: pct(wall, 0.9), min: wall[0], n: wall.length };
};
const bare = stat('bare');
const srt = stat('srt');
const srtAdded = srt.p50 - bare.p50;
const rows = peerList.map((p) => {
  const s = stat(p.key);
  const added = s.p50 - bare.p50;
  return [p.label, fmt(s.p50), fmt(s.p90), fmt(s.min), p.key === 'bare' ? '' : fmt(added), p.key === 'bare' || p.key === 'srt' ? '' : `${fmt(added / srtAdded, 2)}×`];
});

const out = [];
out.push(`# sandbox start-up (${new Date().toISOString()})`);
out.push(machineLine());
out.push(`peers: srt ${peers.srtVersion} on node ${peers.node22Version}; warden ${warden}; ${RUNS} rounds, medians of wall time (spawn → exit, ms)`);
out.push('');
out.push(table(['peer', 'p50 ms', 'p90 ms', 'min ms', 'added p50', 'added / srt added'], rows));
out.push('');
const ratioLines = [];
const setupLines = [];
for (const key of ['wardenRoot', 'wardenRootNoWs', 'wardenUser']) {
  if (!samples[key]) continue;
  const label = peerList.find((p) => p.key === key).label;
  const added = stat(key).p50 - bare.p50;
  const ratio = added / srtAdded;
  ratioLines.push(`${label}: added ${fmt(added)} ms vs srt added ${fmt(srtAdded)} ms → ${fmt(ratio, 2)}× (target ≤ 0.50×: ${verdict(ratio <= 0.5)})`);
  const setup = sortNum(samples[key].setup);
  setupLines.push(`${label}: setup_ms p50 ${fmt(pct(setup, 0.5), 2)} p90 ${fmt(pct(setup, 0.9), 2)} min ${fmt(setup[0], 2)} (target p50 ≤ 15 ms: ${verdict(pct(setup, 0.5) <= 15)})`);
}
out.push('ratios (wall-time added over bare /bin/true, p50):');
for (const l of ratioLines) out.push(`  ${l}`);
out.push(`  raw bwrap added ${fmt(stat('bwrap').p50 - bare.p50)} ms; node20 -e 0 ${fmt(stat('node20').p50)} ms, node22 -e 0 ${fmt(stat('node22').p50)} ms (the floor of any Node launcher)`);
out.push('in-process latency, warden JSON summary setup_ms ("create sandbox" → "child running"):');
for (const l of setupLines) out.push(`  ${l}`);
process.stdout.write(`${out.join('\n')}\n`);

if (opts.json) {
  writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), machine: machineLine(), runs: RUNS, srt: peers.srtVersion, peers: peerList.map((p) => ({ key: p.key, label: p.label, cmd: [p.cmd, ...p.args].join(' ') })), samples }, null, 1));
}
