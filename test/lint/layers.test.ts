/**
 * The layer rule (eslint.config.js, docs/architecture.md) is a guard only if it fires. These tests
 * lint in-memory fixtures placed in the layers with ESLint's own API and the project's config, and
 * expect the boundaries errors: an upward import, a lazy import() and a re-export that cross the
 * table, a folder outside it, library code reaching into test/, and I/O in core. Without a TypeScript-aware
 * resolver the `./x.js` → `x.ts` imports resolve to nothing and no layer error is reported.
 * A second test walks the import graph of src/ (type imports too) and refuses any cycle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ESLint } from 'eslint';
import ts from 'typescript';
import tseslint from 'typescript-eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..', '..');
/** Fixture file names: linted as text, never written to disk (other work may be linting the tree). */
const PROBE = '__layer-probe';

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({
    cwd: REPO,
    // The fixtures are not on disk, so not in the TypeScript project: lint them without type
    // information. Everything else (elements, resolver, the layer table) comes from eslint.config.js.
    overrideConfig: [{ files: [`**/${PROBE}*.ts`], ...tseslint.configs.disableTypeChecked }],
    ruleFilter: ({ ruleId }) => ruleId.startsWith('boundaries/') || ruleId.startsWith('no-restricted-'),
  });
});

interface Finding {
  readonly line: number;
  readonly rule: string | null;
  readonly message: string;
}

async function lint(path: string, code: string): Promise<Finding[]> {
  const [result] = await eslint.lintText(code, { filePath: join(REPO, path) });
  return (result?.messages ?? []).map((m) => ({ line: m.line, rule: m.ruleId, message: m.message }));
}

/** The layer a fixture in `src/<from>/` may not import `to` from, as the rule words it. */
function layerError(line: number, from: string, to: string): Finding {
  return {
    line,
    rule: 'boundaries/element-types',
    message: `No rule allowing this dependency was found. File is of type '${from}'. Dependency is of type '${to}'`,
  };
}

describe('the layer rule fires (eslint-plugin-boundaries with the TypeScript resolver)', () => {
  it('core may import nothing internal: an import from the gateway is an error', async () => {
    const code = `import { Gateway } from '../gateway/index.js';\nexport const g = Gateway;\n`;
    expect(await lint(`src/core/${PROBE}.ts`, code)).toEqual([layerError(1, 'core', 'gateway')]);
  });

  it('the gateway depends on core and policy only: sandbox, audit, egress and runtime are errors, however imported', async () => {
    const code = [
      `import { startSandbox } from '../sandbox/index.js';`,
      `export { openAuditLog } from '../audit/index.js';`,
      `import type { EgressProxy } from '../egress/index.js';`,
      `export const run = () => import('../runtime/run-gateway.js');`,
      `import { PolicyEngine } from '../policy/index.js';`,
      `import { WardenError } from '../core/errors.js';`,
      `import { ArgumentRedactor } from './redact.js';`,
      `export type T = [typeof startSandbox, EgressProxy, typeof PolicyEngine, typeof WardenError, typeof ArgumentRedactor];`,
      '',
    ].join('\n');
    expect(await lint(`src/gateway/${PROBE}.ts`, code)).toEqual([
      layerError(1, 'gateway', 'sandbox'),
      layerError(2, 'gateway', 'audit'),
      layerError(3, 'gateway', 'egress'),
      layerError(4, 'gateway', 'runtime'),
    ]);
  });

  it('a capability layer never imports the cli (sandbox → cli) nor identity the audit log', async () => {
    const sandbox = `import { main } from '../cli/main.js';\nexport const m = main;\n`;
    expect(await lint(`src/sandbox/${PROBE}.ts`, sandbox)).toEqual([layerError(1, 'sandbox', 'cli')]);
    const identity = `import { derivedKey } from '../audit/index.js';\nexport const k = derivedKey;\n`;
    expect(await lint(`src/identity/${PROBE}.ts`, identity)).toEqual([layerError(1, 'identity', 'audit')]);
  });

  it('the composition layers may import what they compose', async () => {
    const code = [
      `import { startSandbox } from '../sandbox/index.js';`,
      `import { openAuditLog } from '../audit/index.js';`,
      `export const run = () => import('../gateway/index.js');`,
      `export { issueToken } from '../identity/index.js';`,
      `export type T = [typeof startSandbox, typeof openAuditLog];`,
      '',
    ].join('\n');
    expect(await lint(`src/runtime/${PROBE}.ts`, code)).toEqual([]);
  });

  it('core does no I/O: file, process and network modules and the process streams are errors', async () => {
    const code = [
      `import { writeFileSync } from 'node:fs';`,
      `import { spawn } from 'child_process';`,
      `import { createHash } from 'node:crypto';`,
      `export const f = () => process.stderr.write('x');`,
      `export const g = () => process.once('exit', () => undefined);`,
      `export type T = [typeof writeFileSync, typeof spawn, typeof createHash];`,
      '',
    ].join('\n');
    const findings = await lint(`src/core/${PROBE}.ts`, code);
    expect(findings.map((f) => [f.line, f.rule])).toEqual([
      [1, 'no-restricted-imports'],
      [2, 'no-restricted-imports'],
      [4, 'no-restricted-properties'],
      [5, 'no-restricted-properties'],
    ]);
    expect(findings[0]?.message).toContain('core does no I/O');
  });

  it('a folder missing from the layer table is an error, so no new module escapes the rule', async () => {
    expect(await lint(`src/newlayer/${PROBE}.ts`, 'export const x = 1;\n')).toEqual([
      { line: 1, rule: 'boundaries/no-unknown-files', message: 'File is not of any known element type' },
    ]);
  });

  it('library code may not import test kits (they never ship)', async () => {
    const code = `import { tableResolver } from '../../test/kits/egress.js';\nexport const r = tableResolver;\n`;
    expect(await lint(`src/egress/${PROBE}.ts`, code)).toEqual([
      { line: 1, rule: 'boundaries/no-ignored', message: 'Importing ignored files is not allowed' },
    ]);
  });

  it('docs/architecture.md shows the table eslint.config.js enforces', async () => {
    const config = (await eslint.calculateConfigForFile(join(REPO, 'src/core/errors.ts'))) as {
      rules: Record<string, [unknown, { rules: { from: string; allow: string[] }[] }]>;
    };
    const enforced = new Map(
      (config.rules['boundaries/element-types']?.[1].rules ?? []).map((r) => [
        r.from,
        r.allow.filter((to) => to !== r.from).sort(),
      ]),
    );
    const doc = readFileSync(join(REPO, 'docs/architecture.md'), 'utf8');
    const table = doc.slice(doc.indexOf('| layer | may import |'));
    const documented = new Map<string, string[]>();
    for (const row of table.split('\n').slice(2)) {
      const cells = row.split('|').map((c) => c.trim());
      if (cells.length < 4) break;
      const names = (cell: string): string[] => [...cell.matchAll(/`([a-z]+)`/g)].map((m) => m[1] ?? '');
      documented.set(names(cells[1] ?? '')[0] ?? '', names(cells[2] ?? '').sort());
    }
    expect(enforced.size).toBeGreaterThan(5);
    expect(documented).toEqual(enforced);
  });
});

/** Every non-test .ts file under `dir`. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
}

/** file → the files it imports (value and type imports, re-exports, import()), resolved as tsc does. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((i) => ts.resolveModuleName(i.fileName, file, options, ts.sys).resolvedModule?.resolvedFileName)
      .filter((target): target is string => target !== undefined && known.has(target));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Each cycle of the graph once, as the list of files around it (depth-first search, back edges). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push(path.slice(path.indexOf(next)));
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

describe('no import cycles in src/', () => {
  it('finds a cycle when there is one (the walker itself works)', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(cycles(graph)).toEqual([['a', 'b', 'c']]);
  });

  it('resolves the `./x.js` imports of the real tree (the graph is not empty)', () => {
    const graph = importGraph(sourceFiles(join(REPO, 'src')));
    const edges = [...graph.values()].reduce((n, targets) => n + targets.length, 0);
    expect(graph.get(join(REPO, 'src/core/config.ts'))).toContain(join(REPO, 'src/core/config-defaults.ts'));
    expect(edges).toBeGreaterThan(200);
  });

  it('no module reaches itself through its imports, type imports included', () => {
    const graph = importGraph(sourceFiles(join(REPO, 'src')));
    const named = cycles(graph).map((cycle) => cycle.map((file) => relative(REPO, file)).join(' → '));
    expect(named).toEqual([]);
  });
});
