#!/usr/bin/env node
// The defence-mutation harness (`npm run test:mutations`): proves that every defence listed in
// test/mutations/registry.mjs has a test that fails without it.
//
// For each named mutation it takes a scratch copy of the checkout, applies the mutation (each
// `find` must occur exactly once, so a mutation that no longer matches the code is reported as
// stale instead of silently passing), rebuilds when a system test is involved, and runs the
// mutation's threat-case tests. A mutation the tests do not notice "survived": the harness then
// exits 1. Before any mutation, the same tests run once on the unmutated copy and must pass,
// so a mutation counts as killed only by tests that pass without it.
//
// usage: node scripts/mutations.mjs [--only ID[,ID...]] [--threat ID] [--list] [--keep]
// Needs what `npm test` needs (root, scripts/setup.sh --test-user, a build).
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { MUTATIONS } from '../test/mutations/registry.mjs';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const args = process.argv.slice(2);
/** The scratch copy, once made (removed on every exit unless --keep). */
let scratch = null;
const option = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};

let selected = MUTATIONS;
const only = option('--only');
if (only !== undefined) {
  const ids = new Set(only.split(','));
  for (const id of ids) if (!MUTATIONS.some((m) => m.id === id)) fail(`no mutation ${id} (see --list)`);
  selected = MUTATIONS.filter((m) => ids.has(m.id));
}
const threat = option('--threat');
if (threat !== undefined) selected = selected.filter((m) => m.threats.includes(threat));
if (args.includes('--list')) {
  for (const m of selected) console.log(`${m.id.padEnd(34)} ${m.threats.join(',').padEnd(16)} ${m.why}`);
  process.exit(0);
}
if (selected.length === 0) fail('no mutation selected');
checkRegistry(MUTATIONS);

// A scratch copy of the sources (node_modules shared by a link; dist rebuilt in the copy). World-
// readable, like a checkout the ordinary test user can read (the system suites run as that user too).
scratch = mkdtempSync('/tmp/warden-mutants-');
chmodSync(scratch, 0o755);
for (const entry of ['bin', 'scripts', 'src', 'test', 'schema', 'package.json', 'tsconfig.json', 'vitest.config.ts']) {
  cpSync(join(root, entry), join(scratch, entry), { recursive: true });
}
// node_modules as hard links where the filesystem allows (fast, never written), else a copy: a
// symlink would not do, since server sandboxes in the system tests see only real paths they bind.
if (spawnSync('cp', ['-al', join(root, 'node_modules'), join(scratch, 'node_modules')]).status !== 0) {
  rmSync(join(scratch, 'node_modules'), { recursive: true, force: true });
  cpSync(join(root, 'node_modules'), join(scratch, 'node_modules'), { recursive: true });
}
spawnSync('chmod', ['-R', 'a+rX', scratch]);

const results = [];
try {
  // Baseline: the selected tests pass on the unmutated copy.
  const needsBuild = selected.some(usesSystemTests);
  if (needsBuild) mustBuild('baseline');
  const baseline = runTests(
    [...new Set(selected.flatMap((m) => m.tests.files))],
    selected.map((m) => m.tests.names),
  );
  if (baseline.failed > 0 || baseline.total === 0) {
    fail(
      `the baseline run of the selected tests did not pass (${baseline.failed} failed of ${baseline.total}):\n${baseline.output}`,
    );
  }
  console.log(`baseline: ${baseline.total} tests pass unmutated`);

  for (const mutation of selected) {
    const started = Date.now();
    const applied = apply(mutation);
    let verdict;
    if (applied !== null) verdict = { result: 'stale', detail: applied };
    else if (usesSystemTests(mutation) && !build())
      verdict = { result: 'error', detail: 'the mutated tree does not build' };
    else {
      const run = runTests(mutation.tests.files, [mutation.tests.names]);
      if (run.total === 0) verdict = { result: 'error', detail: 'no test matched' };
      else
        verdict =
          run.failed > 0
            ? { result: 'killed', detail: `${run.failed}/${run.total} failed` }
            : { result: 'survived', detail: `${run.total} tests passed` };
    }
    restore(mutation);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    results.push({ id: mutation.id, threats: mutation.threats.join(','), ...verdict, seconds });
    console.log(
      `${verdict.result.padEnd(9)} ${mutation.id.padEnd(34)} ${mutation.threats.join(',').padEnd(16)} ${seconds.padStart(6)} s  ${verdict.detail}`,
    );
  }
} finally {
  if (!args.includes('--keep')) rmSync(scratch, { recursive: true, force: true });
}

const bad = results.filter((r) => r.result !== 'killed');
console.log(`\n${results.length - bad.length} of ${results.length} mutations killed`);
if (bad.length > 0) {
  for (const r of bad) console.log(`  ${r.result}: ${r.id} (${r.threats}) — ${r.detail}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------

function fail(message) {
  console.error(`mutations: ${message}`);
  if (scratch !== null && !args.includes('--keep')) rmSync(scratch, { recursive: true, force: true });
  process.exit(2);
}

function checkRegistry(list) {
  const seen = new Set();
  for (const m of list) {
    if (seen.has(m.id)) fail(`duplicate mutation id ${m.id}`);
    seen.add(m.id);
    if (!Array.isArray(m.edits) || m.edits.length === 0) fail(`${m.id}: no edits`);
    if (!Array.isArray(m.threats) || m.threats.length === 0) fail(`${m.id}: name the threat cases it proves`);
    if (!Array.isArray(m.tests?.files) || typeof m.tests?.names !== 'string')
      fail(`${m.id}: tests needs files and names`);
  }
}

function usesSystemTests(mutation) {
  return mutation.tests.files.some((f) => f.startsWith('test/'));
}

/** Applies a mutation's edits in the scratch copy; returns why it cannot be applied, or null. */
function apply(mutation) {
  for (const edit of mutation.edits) {
    const path = join(scratch, edit.file);
    const text = readFileSync(path, 'utf8');
    const count = text.split(edit.find).length - 1;
    if (count !== 1)
      return `${edit.file}: the text to mutate occurs ${count} times (expected once); update the registry`;
    const mutated = text.replace(edit.find, () => edit.replace);
    // A mutation must change behaviour, not break the syntax (that would "kill" it for nothing).
    try {
      if (/\.(ts|m?js)$/.test(edit.file))
        transformSync(mutated, { loader: edit.file.endsWith('.ts') ? 'ts' : 'js', sourcefile: edit.file });
    } catch (error) {
      return `${edit.file}: the mutated text does not parse (${String(error.message).split('\n')[0]})`;
    }
    writeFileSync(path, mutated);
  }
  return null;
}

function restore(mutation) {
  for (const edit of mutation.edits) cpSync(join(root, edit.file), join(scratch, edit.file));
}

function build() {
  return spawnSync('node', ['scripts/build.mjs'], { cwd: scratch, stdio: 'pipe' }).status === 0;
}

function mustBuild(what) {
  if (!build()) fail(`the ${what} copy does not build`);
}

/** Runs vitest on `files`, keeping tests whose full name matches any of `names`; counts from its JSON report. */
function runTests(files, names) {
  const report = join(scratch, '.mutation-report.json');
  rmSync(report, { force: true });
  const pattern = names.map((n) => `(?:${n})`).join('|');
  const run = spawnSync(
    'npx',
    ['vitest', 'run', ...files, '-t', pattern, '--reporter=json', `--outputFile=${report}`, '--testTimeout=120000'],
    { cwd: scratch, stdio: 'pipe', encoding: 'utf8', env: { ...process.env, CI: '1' }, maxBuffer: 64 * 1024 * 1024 },
  );
  let total = 0;
  let failed = 0;
  try {
    const json = JSON.parse(readFileSync(report, 'utf8'));
    total = json.numPassedTests + json.numFailedTests;
    failed = json.numFailedTests;
  } catch {
    // no report: vitest itself failed (e.g. a file does not load); count it as a failure of the run
    failed = run.status === 0 ? 0 : 1;
    total = failed;
  }
  return {
    total,
    failed,
    output: `${run.stdout ?? ''}${run.stderr ?? ''}`.slice(-4000),
    files: files.map((f) => relative(root, join(root, f))),
  };
}
