#!/usr/bin/env node
// The scanners' measured quality on the development corpora (../shared/corpora, see its
// README.md): tool-definition poisoning (tool-poisoning.dev.jsonl, each tool through
// Scanner.scanTool) and injection in tool outputs (injection.dev.jsonl, each text as a tool
// result's text block through Scanner.scanOutput). Per category and overall: precision, recall,
// false-positive rate on the benign items, time per item; side by side with npm peers that detect
// prompt injection locally, installed from bench/peers/package.json into bench/peers/node_modules
// (never warden dependencies; no network once installed). A positive is a finding of severity
// medium or above (the ≥ high line is printed too). The corpora are development sets: the rules
// describe techniques, never items, and a held-out set is checked separately.
//
// usage: node bench/scanner.mjs [--corpora DIR] [--reps N] [--no-peers] [--json FILE]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import {
  fmt,
  loadLine,
  log,
  machineLine,
  pct,
  REPO,
  sortNum,
  table,
  verdict,
  wardenBuildLine,
  WORK,
} from './lib/common.mjs';

const { values: opts } = parseArgs({
  options: {
    corpora: { type: 'string', default: join(REPO, '..', 'shared', 'corpora') },
    reps: { type: 'string', default: '5' },
    'no-peers': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const CORPORA = resolve(opts.corpora);
const REPS = Number(opts.reps);
if (!Number.isInteger(REPS) || REPS < 1) throw new Error('--reps takes a whole number ≥ 1');
const RANK = { low: 1, medium: 2, high: 3 };
const PEERS_DIR = join(REPO, 'bench', 'peers');

// ------------------------------------------------------------------ warden's scanner, bundled from src/
const dir = join(WORK, 'scanner');
mkdirSync(dir, { recursive: true });
await build({
  entryPoints: [join(REPO, 'src', 'scan', 'index.ts')],
  bundle: true,
  format: 'esm',
  platform: 'node',
  outfile: join(dir, 'scan.mjs'),
  logLevel: 'error',
});
const { Scanner } = await import(join(dir, 'scan.mjs'));
const scanner = new Scanner();

// ------------------------------------------------------------------ the peers
/** Every string of a tool definition, one per line: what a text detector can be given. */
function toolText(tool) {
  const out = [];
  const walk = (v) => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object')
      for (const [k, c] of Object.entries(v)) {
        if (k === '$schema' || k === 'type') continue;
        walk(c);
      }
  };
  walk(tool);
  return out.join('\n');
}

async function loadPeers() {
  if (opts['no-peers']) return [];
  if (!existsSync(join(PEERS_DIR, 'node_modules'))) {
    log('setup: npm ci --prefix bench/peers (the peers, pinned in bench/peers/package-lock.json)');
    const r = spawnSync('npm', ['ci', '--prefix', PEERS_DIR, '--no-audit', '--no-fund', '--loglevel=error'], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (r.status !== 0) {
      log('note: the peers could not be installed (no registry?); measuring warden alone');
      return [];
    }
  }
  const lock = JSON.parse(readFileSync(join(PEERS_DIR, 'package-lock.json'), 'utf8')).packages;
  const version = (name) => lock[`node_modules/${name}`]?.version ?? '?';
  const from = (name) =>
    import(
      join(
        PEERS_DIR,
        'node_modules',
        name,
        JSON.parse(readFileSync(join(PEERS_DIR, 'node_modules', name, 'package.json'), 'utf8')).main ?? 'index.js',
      )
    );
  const peers = [];
  const add = async (name, label, make) => {
    try {
      peers.push({ name, label: `${label} ${version(name)}`, detect: await make() });
    } catch (error) {
      log(`note: peer ${name} did not load (${error.message}); left out`);
    }
  };
  await add('@andersmyrmel/vard', 'vard', async () => {
    const vard = (await from('@andersmyrmel/vard')).default;
    return (text) => !vard.safe(text).safe;
  });
  await add('llm_guardrail', 'llm_guardrail (local model)', async () => {
    const g = await from('llm_guardrail');
    return async (text) => (await g.checkInjection(text)).detected;
  });
  await add('@claude-flow/aidefence', 'aidefence', async () => {
    const a = await from('@claude-flow/aidefence');
    return (text) => !a.isSafe(text);
  });
  await add('llmverify', 'llmverify', async () => {
    const v = await from('llmverify');
    return async (text) => !(await v.isInputSafe(text));
  });
  return peers;
}

// ------------------------------------------------------------------ the corpora
function readCorpus(name) {
  const path = join(CORPORA, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: pass --corpora DIR`);
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

const corpora = [
  {
    key: 'tool-poisoning',
    file: 'tool-poisoning.dev.jsonl',
    records: readCorpus('tool-poisoning.dev.jsonl'),
    warden: (r) => scanner.scanTool(r.tool),
    text: (r) => toolText(r.tool),
  },
  {
    key: 'injection',
    file: 'injection.dev.jsonl',
    records: readCorpus('injection.dev.jsonl'),
    warden: (r) => scanner.scanOutput({ content: [{ type: 'text', text: r.text }] }),
    text: (r) => r.text,
  },
];

const peers = await loadPeers();

console.log('# Scanner quality: warden vs local prompt-injection detectors');
console.log(machineLine());
console.log(wardenBuildLine());
console.log(`corpora: ${CORPORA}; ${loadLine()}`);
console.log(`peers: ${peers.length === 0 ? 'none' : peers.map((p) => p.label).join('; ')}`);
console.log('');

const raw = {};
const verdicts = [];
for (const corpus of corpora) {
  const detectors = [
    { key: 'warden', label: 'warden ≥ medium' },
    { key: 'warden-high', label: 'warden ≥ high' },
    ...peers.map((p) => ({ key: p.name, label: p.label })),
  ];
  const verdictsOf = new Map(detectors.map((d) => [d.key, []]));
  const times = new Map(detectors.map((d) => [d.key, []]));
  const rules = new Map();
  // warden: warm up once over the corpus, then REPS timed passes; the verdict of the first pass.
  for (const r of corpus.records) corpus.warden(r);
  const wardenTimes = corpus.records.map(() => []);
  for (let rep = 0; rep < REPS; rep++)
    corpus.records.forEach((r, i) => {
      const start = performance.now();
      const report = corpus.warden(r);
      wardenTimes[i].push(performance.now() - start);
      if (rep > 0) return;
      const worst = report.severity === null ? 0 : RANK[report.severity];
      verdictsOf.get('warden').push(worst >= 2);
      verdictsOf.get('warden-high').push(worst >= 3);
      for (const f of report.findings) rules.set(f.rule, (rules.get(f.rule) ?? 0) + 1);
    });
  const perItem = wardenTimes.map((t) => sortNum(t)[t.length >> 1]);
  times.set('warden', perItem);
  times.set('warden-high', perItem);
  for (const peer of peers) {
    for (const r of corpus.records.slice(0, 20)) await peer.detect(corpus.text(r));
    for (const r of corpus.records) {
      const text = corpus.text(r);
      const start = performance.now();
      const positive = await peer.detect(text);
      times.get(peer.name).push(performance.now() - start);
      verdictsOf.get(peer.name).push(Boolean(positive));
    }
  }

  // Per category.
  const categories = [...new Set(corpus.records.map((r) => r.category.split(':').slice(0, 2).join(':')))].sort();
  const rows = categories.map((cat) => {
    const idx = corpus.records.flatMap((r, i) => (r.category.split(':').slice(0, 2).join(':') === cat ? [i] : []));
    const label = corpus.records[idx[0]].label;
    return [cat, label, idx.length, ...detectors.map((d) => idx.filter((i) => verdictsOf.get(d.key)[i]).length)];
  });
  console.log(`## ${corpus.file}: items flagged per category (of n)`);
  console.log(table(['category', 'label', 'n', ...detectors.map((d) => d.label)], rows));
  console.log('');

  // Overall.
  const isMal = corpus.records.map((r) => r.label === 'malicious');
  const visible = corpus.records.map((r) => r.label === 'malicious' && r.meta?.definition_signal !== 'name_only');
  const official = corpus.records.map((r) => r.category === 'benign:official_server');
  const stats = (key) => {
    const v = verdictsOf.get(key);
    const count = (pred) => v.filter((x, i) => pred(i, x)).length;
    const tp = count((i, x) => isMal[i] && x);
    const fp = count((i, x) => !isMal[i] && x);
    const mal = isMal.filter(Boolean).length;
    const ben = isMal.length - mal;
    const vis = visible.filter(Boolean).length;
    const offN = official.filter(Boolean).length;
    const t = sortNum(times.get(key));
    return {
      precision: tp + fp === 0 ? NaN : tp / (tp + fp),
      recall: tp / mal,
      recallVisible: vis === 0 ? NaN : count((i, x) => visible[i] && x) / vis,
      fpr: fp / ben,
      fprOfficial: offN === 0 ? NaN : count((i, x) => official[i] && x) / offN,
      fp,
      meanMs: t.reduce((a, b) => a + b, 0) / t.length,
      p50Ms: pct(t, 0.5),
      p99Ms: pct(t, 0.99),
    };
  };
  const all = Object.fromEntries(detectors.map((d) => [d.key, stats(d.key)]));
  const tp = corpus.key === 'tool-poisoning';
  const header = [
    'detector',
    'precision',
    'recall',
    ...(tp ? ['recall (not name_only)'] : []),
    'FP rate (benign)',
    ...(tp ? ['FP rate (official servers)'] : []),
    'ms/item mean',
    'p50',
    'p99',
  ];
  console.log(`## ${corpus.file}: overall (positive = flagged)`);
  console.log(
    table(
      header,
      detectors.map((d) => {
        const s = all[d.key];
        return [
          d.label,
          fmt(s.precision, 3),
          fmt(s.recall, 3),
          ...(tp ? [fmt(s.recallVisible, 3)] : []),
          `${fmt(s.fpr * 100, 1)}% (${s.fp})`,
          ...(tp ? [`${fmt(s.fprOfficial * 100, 1)}%`] : []),
          fmt(s.meanMs, 3),
          fmt(s.p50Ms, 3),
          fmt(s.p99Ms, 3),
        ];
      }),
    ),
  );
  console.log(
    `warden's findings by rule: ${[...rules]
      .sort((a, b) => b[1] - a[1])
      .map(([r, n]) => `${r} ${n}`)
      .join(', ')}`,
  );
  if (tp)
    console.log(
      "note: name_only items (msb name_overlap / tool_transfer, mcpsecbench tool_name_squatting) carry no attack text in the definition: a definition scanner cannot see them; the gateway's output scanning (tool_transfer's 'no longer available, use X' result is fake-error) and name checks cover them.",
    );
  console.log('');
  const w = all.warden;
  if (tp) {
    verdicts.push([
      'tool poisoning: recall ≥ 0.95 (definitions carrying the attack) at ≤ 1% FP on official servers',
      `recall ${fmt(w.recallVisible, 3)} (all malicious: ${fmt(w.recall, 3)}), FP ${fmt(w.fprOfficial * 100, 1)}% official, ${fmt(w.fpr * 100, 1)}% all benign`,
      verdict(w.recallVisible >= 0.95 && w.fprOfficial <= 0.01),
    ]);
    verdicts.push([
      'scan time ≤ 1 ms per tool definition',
      `mean ${fmt(w.meanMs, 3)} ms, p99 ${fmt(w.p99Ms, 3)} ms`,
      verdict(w.p99Ms <= 1),
    ]);
  } else
    verdicts.push([
      'injection in tool outputs: recall ≥ 0.85 at ≤ 3% FP',
      `recall ${fmt(w.recall, 3)}, FP ${fmt(w.fpr * 100, 1)}%`,
      verdict(w.recall >= 0.85 && w.fpr <= 0.03),
    ]);
  raw[corpus.key] = {
    stats: all,
    items: corpus.records.map((r, i) => ({
      id: r.id,
      label: r.label,
      category: r.category,
      ...Object.fromEntries(detectors.map((d) => [d.key, verdictsOf.get(d.key)[i]])),
    })),
  };
}

console.log('## Targets');
console.log(table(['target', 'measured', 'verdict'], verdicts));
console.log(loadLine());
if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify(raw, null, 2)}\n`);
