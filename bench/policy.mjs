#!/usr/bin/env node
// Policy engine decision latency with a 1,000-policy set, in process: warden's PolicyEngine
// (src/policy, bundled from src/ with esbuild into bench/.work) deciding the kinds of requests the
// gateway asks, side by side with three references on the same requests:
//   a 2-policy engine (one conditional grant): the floor of one decision through the engine;
//   the same engine with every decision through Cedar (no native TypeScript path, see
//   src/policy/native.ts): what an argument-dependent decision costs in cedar-wasm;
//   Cedar without slicing: cedar-wasm's statefulIsAuthorized over the whole preparsed 1,000-policy
//   set (what the engine's per-(action, resource) slices save).
// The set is compiled by compileProfile from grants like those in src/policy/engine.test.ts:
// 480 tool grants over 10 servers (plain, `*` globs, `under` paths, `host_in` URLs, `one_of`
// values, two conditions at once), each giving a list and a call policy; 20 conditional denies;
// 10 prompt and 10 resource grants: exactly 1,000 policies.
//
// Warm: every request kind is a block of decisions, each timed alone; rounds run the blocks in a
// new random (seeded) order. Cold: fresh processes, each loading the module, creating the engine
// (parse + validate all 1,000 policies) and timing its first decisions; plus, in this process, the
// first decision about each of many tools (building that tool's slice).
//
// usage: node bench/policy.mjs [--rounds N] [--decisions N] [--cold-procs N] [--seed N] [--json FILE]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import {
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
    rounds: { type: 'string', default: '10' },
    decisions: { type: 'string', default: '3000' },
    'cold-procs': { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
    // Internal: one cold run in a fresh process (spawned by the parent).
    'cold-child': { type: 'string' },
  },
});
const ROUNDS = Number(opts.rounds);
const DECISIONS = Number(opts.decisions);
const COLD_PROCS = Number(opts['cold-procs']);
const SEED = Number(opts.seed);
for (const [name, value] of Object.entries({
  rounds: ROUNDS,
  decisions: DECISIONS,
  'cold-procs': COLD_PROCS,
  seed: SEED,
})) {
  if (!Number.isInteger(value) || value < (name === 'seed' || name === 'cold-procs' ? 0 : 1))
    throw new Error(`--${name} takes a whole number`);
}
const TARGET_P50_US = 50;
// Cedar without slicing costs milliseconds per decision: fewer of them per block.
const UNSLICED_DECISIONS = Math.max(10, Math.round(DECISIONS / 20));

const dir = join(WORK, 'policy');
const BUNDLE = join(dir, 'policy.cjs');

// ------------------------------------------------------------------ the policy set
const WS = '/work/ws';
const SERVERS = 10;
const TOOL_GRANTS = 480;
const KINDS = ['plain', 'plain', 'plain', 'path', 'url', 'value', 'glob', 'path+value'];
const server = (g) => `s${g % SERVERS}`;
const kindOf = (g) => KINDS[g % KINDS.length];

/** The profile's `mcp` section (before the config schema fills in defaults). */
function mcpSection() {
  const allow = [];
  for (let g = 0; g < TOOL_GRANTS; g++) {
    const s = server(g);
    switch (kindOf(g)) {
      case 'plain':
        allow.push({ server: s, tools: [`t${g}`] });
        break;
      case 'path':
        allow.push({
          server: s,
          tools: [`t${g}`],
          when: { path: { under: [`\${workspace}/p${g}`, `/data/shared${g}`] } },
        });
        break;
      case 'url':
        allow.push({
          server: s,
          tools: [`t${g}`],
          when: { url: { host_in: [`api${g}.example.com`, `*.docs${g}.example.org`, `h${g}.example.net:8443`] } },
        });
        break;
      case 'value':
        allow.push({ server: s, tools: [`t${g}`], when: { mode: { one_of: ['read', 'list', g] } } });
        break;
      case 'glob':
        allow.push({ server: s, tools: [`g${g}_*`] });
        break;
      case 'path+value':
        allow.push({
          server: s,
          tools: [`t${g}`],
          when: { path: { under: ['${workspace}'] }, mode: { one_of: ['read', 'write'] } },
        });
        break;
    }
  }
  // Conditional denies on 20 of the path-conditioned tools: a forbid in their slice (1 policy each).
  const pathGrants = [...Array(TOOL_GRANTS).keys()].filter((g) => kindOf(g) === 'path');
  const deny = pathGrants
    .slice(0, 20)
    .map((g) => ({ server: server(g), tools: [`t${g}`], when: { path: { under: [`\${workspace}/p${g}/secret`] } } }));
  for (let i = 0; i < 10; i++) allow.push({ server: `s${i}`, prompts: [`prompt${i}`] });
  for (let i = 0; i < 10; i++) allow.push({ server: `s${i}`, resources: [`file:///docs/${i}/*`] });
  return { allow, deny };
}

/** The engine's inputs: the compiled 1,000-policy set (or a small one), validated like a config. */
function compiled(w, mcp) {
  const config = w.configSchema.parse({
    version: 1,
    servers: Object.fromEntries([...Array(SERVERS).keys()].map((i) => [`s${i}`, { command: 'node' }])),
    profiles: { p: { mcp } },
  });
  return w.compileProfile(config.profiles.p.mcp, { profileName: 'p', workspace: WS });
}
/** The engine as the gateway builds it: compiled policies decided in TypeScript where they can be (`evaluation: 'cedar'`: all through Cedar). */
const makeEngine = (w, c, evaluation = 'native-where-possible') =>
  w.PolicyEngine.create({
    policies: c.policies,
    native: c.native,
    shape: c.shape,
    principal: { name: 'agent', profile: 'p' },
    evaluation,
  });

// ------------------------------------------------------------------ the requests
const ctx = (args = {}, hosts = {}, ports = {}) => ({ args, hosts, ports });
const tool = (g, name = `t${g}`) => ({ kind: 'tool', server: server(g), name });
const grantsOf = (kind) => [...Array(TOOL_GRANTS).keys()].filter((g) => kindOf(g) === kind);

/**
 * The request kinds: [key, label, argument-dependent?, requests]. Each request is
 * { action, resource, context, allow } with the decision it must get.
 */
function requestKinds() {
  const kinds = [];
  const add = (key, label, dependent, requests) => kinds.push({ key, label, dependent, requests });
  add(
    'plainCall',
    'call_tool, plain grant (cached)',
    false,
    grantsOf('plain').map((g) => ({ action: 'call_tool', resource: tool(g), context: ctx(), allow: true })),
  );
  add(
    'globCall',
    'call_tool, `*` glob grant (cached)',
    false,
    grantsOf('glob').map((g) => ({
      action: 'call_tool',
      resource: tool(g, `g${g}_read`),
      context: ctx(),
      allow: true,
    })),
  );
  add(
    'list',
    'list_tool (cached)',
    false,
    grantsOf('path')
      .concat(grantsOf('plain'))
      .map((g) => ({ action: 'list_tool', resource: tool(g), context: undefined, allow: true })),
  );
  add(
    'notGranted',
    'call_tool, not granted (default deny)',
    false,
    grantsOf('plain').map((g) => ({ action: 'call_tool', resource: tool(g, `x${g}`), context: ctx(), allow: false })),
  );
  add(
    'path',
    'call_tool, `under` path (allow and deny)',
    true,
    grantsOf('path').flatMap((g) => [
      { action: 'call_tool', resource: tool(g), context: ctx({ path: `${WS}/p${g}/src/a.ts` }), allow: true },
      { action: 'call_tool', resource: tool(g), context: ctx({ path: '/etc/passwd' }), allow: false },
    ]),
  );
  add(
    'pathForbid',
    'call_tool, `under` with a conditional forbid',
    true,
    grantsOf('path')
      .slice(0, 20)
      .flatMap((g) => [
        { action: 'call_tool', resource: tool(g), context: ctx({ path: `${WS}/p${g}/ok.txt` }), allow: true },
        { action: 'call_tool', resource: tool(g), context: ctx({ path: `${WS}/p${g}/secret/key` }), allow: false },
      ]),
  );
  add(
    'url',
    'call_tool, `host_in` URL (allow and deny)',
    true,
    grantsOf('url').flatMap((g) => [
      {
        action: 'call_tool',
        resource: tool(g),
        context: ctx({ url: `https://a.docs${g}.example.org/x` }, { url: `a.docs${g}.example.org` }, { url: 443 }),
        allow: true,
      },
      {
        action: 'call_tool',
        resource: tool(g),
        context: ctx({ url: `https://h${g}.example.net:443/` }, { url: `h${g}.example.net` }, { url: 443 }),
        allow: false,
      },
    ]),
  );
  add(
    'value',
    'call_tool, `one_of` value (allow and deny)',
    true,
    grantsOf('value').flatMap((g) => [
      { action: 'call_tool', resource: tool(g), context: ctx({ mode: 'read' }), allow: true },
      { action: 'call_tool', resource: tool(g), context: ctx({ mode: 'write' }), allow: false },
    ]),
  );
  add(
    'twoConditions',
    'call_tool, path and value conditions',
    true,
    grantsOf('path+value').flatMap((g) => [
      { action: 'call_tool', resource: tool(g), context: ctx({ path: `${WS}/src/a.ts`, mode: 'write' }), allow: true },
      {
        action: 'call_tool',
        resource: tool(g),
        context: ctx({ path: `${WS}/src/a.ts`, mode: 'delete' }),
        allow: false,
      },
    ]),
  );
  // Mixed: a kind at random (each alike), then a request of that kind: 5 of the 9 kinds depend on
  // the arguments, so the median lands on a Cedar evaluation, not on a cached decision.
  const pools = kinds.map((k) => k.requests);
  add('mixed', 'mixed: a random kind of the above each time', null, pools);
  return kinds;
}

// ------------------------------------------------------------------ bundle
async function bundle() {
  mkdirSync(dir, { recursive: true });
  await build({
    stdin: {
      // zod (the config schema) first, as in the CLI bundle.
      contents:
        "export { configSchema } from './src/core/config.ts';\nexport { compileProfile, PolicyEngine } from './src/policy/index.ts';",
      resolveDir: REPO,
      loader: 'ts',
      sourcefile: 'policy-bench-entry.ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    outfile: BUNDLE,
    external: ['@cedar-policy/cedar-wasm'],
    banner: { js: 'const __wardenImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    define: { 'import.meta.url': '__wardenImportMetaUrl' },
  });
}

// ------------------------------------------------------------------ cold child
if (opts['cold-child'] !== undefined) {
  const t0 = performance.now();
  const w = createRequire(import.meta.url)(opts['cold-child']);
  const t1 = performance.now();
  const c = compiled(w, mcpSection());
  const t2 = performance.now();
  const engine = makeEngine(w, c); // loads cedar-wasm, parses and validates every policy
  const t3 = performance.now();
  const g = grantsOf('path')[7];
  const first = engine.decide('call_tool', tool(g), ctx({ path: `${WS}/p${g}/a` }));
  const t4 = performance.now();
  const g2 = grantsOf('url')[3];
  const second = engine.decide(
    'call_tool',
    tool(g2),
    ctx({ url: `https://api${g2}.example.com/` }, { url: `api${g2}.example.com` }, { url: 443 }),
  );
  const t5 = performance.now();
  const again = engine.decide('call_tool', tool(g), ctx({ path: `${WS}/p${g}/b` }));
  const t6 = performance.now();
  if (!first.allow || !second.allow || !again.allow) throw new Error('cold decisions came out wrong');
  process.stdout.write(
    `${JSON.stringify({ load: t1 - t0, compile: t2 - t1, create: t3 - t2, first: t4 - t3, firstOtherSlice: t5 - t4, again: t6 - t5, policies: engine.size })}\n`,
  );
  process.exit(0);
}

// ------------------------------------------------------------------ main
const began = Date.now();
await bundle();
const w = createRequire(import.meta.url)(BUNDLE);
const cedar = createRequire(join(REPO, 'package.json'))('@cedar-policy/cedar-wasm/nodejs');
const big = compiled(w, mcpSection());
const policyCount = Object.keys(big.policies).length;
if (policyCount !== 1000) throw new Error(`the set has ${policyCount} policies, not 1000`);
const kinds = requestKinds();
const random = seededRandom(SEED);

// Cold, in fresh processes (one after another; nothing else runs meanwhile).
const loadBefore = loadLine();
log(
  `policy bench: ${policyCount} policies; ${COLD_PROCS} cold processes, then ${ROUNDS} rounds of ${kinds.length} request kinds × ${DECISIONS} decisions; ${loadBefore}`,
);
const cold = [];
for (let i = 0; i < COLD_PROCS; i++) {
  const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--cold-child', BUNDLE], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`cold run failed: ${r.stderr.slice(-800)}`);
  cold.push(JSON.parse(r.stdout.trim().split('\n').pop()));
}

// In this process: engine creation, then the first decision about each tool (its slice is built).
const createMs = [];
let engine;
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  engine = makeEngine(w, big);
  createMs.push(performance.now() - t);
}
const cedarEngine = makeEngine(w, big, 'cedar');
const firstPerTool = { dependent: [], cached: [] };
for (const k of kinds.filter((x) => x.key !== 'mixed')) {
  const seen = new Set();
  for (const r of k.requests) {
    const id = `${r.action}/${r.resource.server}/${r.resource.name}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const t = performance.now();
    engine.decide(r.action, r.resource, r.context);
    (k.dependent ? firstPerTool.dependent : firstPerTool.cached).push(performance.now() - t);
  }
}

// References: a 2-policy engine (one conditional grant), and Cedar over the whole set.
const small = compiled(w, { allow: [{ server: 's0', tools: ['t3'], when: { path: { under: ['${workspace}'] } } }] });
const smallEngine = makeEngine(w, small);
const smallRequests = [
  { action: 'call_tool', resource: tool(0, 't3'), context: ctx({ path: `${WS}/a` }), allow: true },
  { action: 'call_tool', resource: tool(0, 't3'), context: ctx({ path: '/etc/passwd' }), allow: false },
];
const WHOLE_SET = 'policy-bench-whole-set';
if (cedar.preparsePolicySet(WHOLE_SET, { staticPolicies: { ...big.policies } }).type !== 'success')
  throw new Error('cedar could not preparse the whole set');
const principal = { type: 'Warden::Agent', id: 'agent' };
/** What the engine sends Cedar for one request, but against the whole preparsed set. */
function unsliced(r) {
  const type = 'Warden::Tool';
  const uid = { type, id: `${r.resource.server}/${r.resource.name}` };
  const answer = cedar.statefulIsAuthorized({
    principal,
    action: { type: 'Warden::Action', id: r.action },
    resource: uid,
    context:
      r.action === 'call_tool'
        ? { args: { ...r.context.args }, hosts: { ...r.context.hosts }, ports: { ...r.context.ports } }
        : {},
    preparsedPolicySetId: WHOLE_SET,
    entities: [
      { uid: principal, attrs: { name: 'agent', profile: 'p' }, parents: [] },
      {
        uid,
        attrs: { name: r.resource.name, server: r.resource.server },
        parents: [{ type: 'Warden::Server', id: r.resource.server }],
      },
      { uid: { type: 'Warden::Server', id: r.resource.server }, attrs: {}, parents: [] },
    ],
  });
  if (answer.type !== 'success') throw new Error('cedar failed');
  return { allow: answer.response.decision === 'allow' };
}
const dependentRequests = kinds.filter((k) => k.dependent).flatMap((k) => k.requests);

const peers = [
  ...kinds.map((k) => ({
    key: k.key,
    label: k.label,
    dependent: k.dependent,
    decide: (r) => engine.decide(r.action, r.resource, r.context),
    requests: k.requests,
    n: DECISIONS,
  })),
  {
    key: 'refSmall',
    label: 'ref: 2-policy engine, `under` path',
    dependent: true,
    ref: true,
    decide: (r) => smallEngine.decide(r.action, r.resource, r.context),
    requests: smallRequests,
    n: DECISIONS,
  },
  {
    key: 'refCedar',
    label: 'ref: argument-dependent, all through Cedar (no native path)',
    dependent: true,
    ref: true,
    decide: (r) => cedarEngine.decide(r.action, r.resource, r.context),
    requests: dependentRequests,
    n: DECISIONS,
  },
  {
    key: 'refUnsliced',
    label: 'ref: Cedar, whole 1,000-policy set (no slices)',
    dependent: true,
    ref: true,
    decide: unsliced,
    requests: dependentRequests,
    n: UNSLICED_DECISIONS,
  },
];

/** One block: `n` decisions on requests drawn at random from the peer's pool, each timed alone. */
function block(peer) {
  const times = new Float64Array(peer.n);
  let wrong = 0;
  for (let i = 0; i < peer.n; i++) {
    let pool = peer.requests;
    if (peer.key === 'mixed') pool = pool[Math.floor(random() * pool.length)];
    const r = pool[Math.floor(random() * pool.length)];
    const t = performance.now();
    const d = peer.decide(r);
    times[i] = performance.now() - t;
    if (d.allow !== r.allow) wrong++;
  }
  return { times, wrong };
}

// Warm-up (unmeasured): every request once, then a block per peer.
for (const peer of peers) {
  for (const r of peer.requests.flat()) peer.decide(r);
  block(peer);
}
const results = Object.fromEntries(peers.map((p) => [p.key, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const peer of shuffled(peers, random)) results[peer.key].push(block(peer));
}
const loadAfter = loadLine();

// ------------------------------------------------------------------ report
const US = 1000;
const summary = Object.fromEntries(
  peers.map((p) => {
    const blocks = results[p.key];
    const all = sortNum(blocks.flatMap((b) => Array.from(b.times)));
    const roundP50 = blocks.map((b) => pct(sortNum(Array.from(b.times)), 0.5));
    return [
      p.key,
      {
        p50: pct(all, 0.5) * US,
        p90: pct(all, 0.9) * US,
        p99: pct(all, 0.99) * US,
        max: all[all.length - 1] * US,
        roundP50Min: Math.min(...roundP50) * US,
        roundP50Max: Math.max(...roundP50) * US,
        n: all.length,
        wrong: blocks.reduce((n, b) => n + b.wrong, 0),
      },
    ];
  }),
);
const col = (values, p) => pct(sortNum(values), p);
const out = [];
out.push(`# policy engine (${new Date().toISOString()})`);
out.push(machineLine());
out.push(wardenBuildLine());
out.push(`load: before ${loadBefore}; after ${loadAfter}`);
out.push(
  `engine: src/policy bundled by esbuild (${BUNDLE}); cedar-wasm ${cedar.getCedarSDKVersion?.() ?? '?'} (Cedar ${cedar.getCedarVersion?.() ?? '?'}); in process on ${process.version}`,
);
out.push(
  `set: ${policyCount} policies compiled from ${TOOL_GRANTS} tool grants over ${SERVERS} servers (${[...new Set(KINDS)].join(', ')}), 20 conditional denies, 10 prompt and 10 resource grants`,
);
out.push(
  `${ROUNDS} rounds (random block order, seed ${SEED}); ${DECISIONS} decisions per block (${UNSLICED_DECISIONS} for Cedar without slices), each timed alone; requests drawn at random from each kind's pool`,
);
out.push('');
out.push('cold (ms):');
const coldRows = [
  ['load the engine module (no Cedar yet)', cold.map((c) => c.load)],
  ['compile 1,000 grants to Cedar text', cold.map((c) => c.compile)],
  ['PolicyEngine.create: load cedar-wasm, parse + validate 1,000 policies', cold.map((c) => c.create)],
  ['first decision (builds its slice)', cold.map((c) => c.first)],
  ['first decision on another tool (another slice)', cold.map((c) => c.firstOtherSlice)],
  ['the first tool again (warm slice, same process)', cold.map((c) => c.again)],
];
out.push(
  table(
    ['fresh process (' + COLD_PROCS + ' runs)', 'p50', 'min', 'max'],
    coldRows.map(([label, v]) => [label, fmt(col(v, 0.5), 3), fmt(Math.min(...v), 3), fmt(Math.max(...v), 3)]),
  ),
);
out.push(
  table(
    ['in this process', 'p50', 'p99', 'n'],
    [
      [
        'PolicyEngine.create again (cedar-wasm loaded)',
        fmt(median(createMs), 3),
        fmt(Math.max(...createMs), 3),
        String(createMs.length),
      ],
      [
        'first decision per tool, argument-dependent',
        fmt(col(firstPerTool.dependent, 0.5), 3),
        fmt(col(firstPerTool.dependent, 0.99), 3),
        String(firstPerTool.dependent.length),
      ],
      [
        'first decision per tool, cacheable',
        fmt(col(firstPerTool.cached, 0.5), 3),
        fmt(col(firstPerTool.cached, 0.99), 3),
        String(firstPerTool.cached.length),
      ],
    ],
  ),
);
out.push('');
out.push('warm (µs per decision; all rounds pooled; "round p50s" = spread of the per-round medians):');
const small50 = summary.refSmall.p50;
out.push(
  table(
    ['request kind', 'p50', 'p90', 'p99', 'round p50s', 'vs 2-policy p50', 'wrong'],
    peers.map((p) => {
      const x = summary[p.key];
      return [
        p.label,
        fmt(x.p50, 2),
        fmt(x.p90, 2),
        fmt(x.p99, 2),
        `${fmt(x.roundP50Min, 2)}–${fmt(x.roundP50Max, 2)}`,
        p.key === 'refSmall' ? '' : `${fmt(x.p50 / small50, 2)}×`,
        String(x.wrong),
      ];
    }),
  ),
);
out.push('');
const dependentKeys = peers.filter((p) => p.dependent === true && !p.ref).map((p) => p.key);
const worst = dependentKeys.reduce((a, k) => (summary[k].p50 > summary[a].p50 ? k : a), dependentKeys[0]);
const allDependent = sortNum(dependentKeys.flatMap((k) => results[k].flatMap((b) => Array.from(b.times))));
out.push(`ratios and targets (p50 ≤ ${TARGET_P50_US} µs per decision):`);
out.push(
  `  mixed requests: p50 ${fmt(summary.mixed.p50, 2)} µs, p99 ${fmt(summary.mixed.p99, 2)} µs — ${verdict(summary.mixed.p50 <= TARGET_P50_US)}`,
);
out.push(
  `  argument-dependent requests only (each decided on its arguments, not cached): p50 ${fmt(pct(allDependent, 0.5) * US, 2)} µs, p99 ${fmt(pct(allDependent, 0.99) * US, 2)} µs; slowest kind "${peers.find((p) => p.key === worst).label}" p50 ${fmt(summary[worst].p50, 2)} µs — ${verdict(summary[worst].p50 <= TARGET_P50_US)}`,
);
const cacheable = peers.filter((p) => p.dependent === false);
out.push(
  `  cacheable requests (${cacheable.map((p) => p.key).join(', ')}): p50 ${cacheable.map((p) => fmt(summary[p.key].p50, 2)).join(' / ')} µs — ${verdict(cacheable.every((p) => summary[p.key].p50 <= TARGET_P50_US))}`,
);
out.push(
  `  1,000 policies vs 2 (argument-dependent p50): ${fmt((pct(allDependent, 0.5) * US) / small50, 2)}×; Cedar without slices vs the engine: ${fmt(summary.refUnsliced.p50 / (pct(allDependent, 0.5) * US), 1)}× slower`,
);
out.push(
  `  cold: a fresh process's first decision p50 ${fmt(
    col(
      cold.map((c) => c.first),
      0.5,
    ),
    2,
  )} ms after PolicyEngine.create p50 ${fmt(
    col(
      cold.map((c) => c.create),
      0.5,
    ),
    1,
  )} ms`,
);
const wrong = peers.reduce((n, p) => n + summary[p.key].wrong, 0);
out.push(`  decisions that came out wrong: ${wrong}${wrong === 0 ? '' : ' (CHECK THE ENGINE)'}`);
out.push(`  total wall time ${((Date.now() - began) / 1000).toFixed(0)} s`);
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
        rounds: ROUNDS,
        decisions: DECISIONS,
        cold,
        createMs,
        firstPerTool,
        summary,
        results: Object.fromEntries(peers.map((p) => [p.key, results[p.key].map((b) => Array.from(b.times))])),
      },
      null,
      1,
    ),
  );
}
