/**
 * GW-12: a call's path arguments prepared for the decision and for the server, on a real tree:
 * every path (arrays, nested fields, other names) resolved and replaced by its real path, one
 * decision context per combination, undeclared and missing arguments refused.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionContexts, MAX_DECISIONS_PER_CALL, MAX_PATHS_PER_CALL, prepareArguments } from './arguments.js';
import { CallPathResolver } from './resolve-path.js';
import type { ToolPlan } from './tool-plan.js';

let ws = '';
beforeAll(() => {
  ws = join(realpathSync(mkdtempSync(join(tmpdir(), 'warden-args-'))), 'ws');
  mkdirSync(join(ws, 'public'), { recursive: true });
  mkdirSync(join(ws, 'secrets'));
  symlinkSync('../secrets', join(ws, 'public', 'peek'));
});
afterAll(() => rmSync(join(ws, '..'), { recursive: true, force: true }));

const resolver = () => new CallPathResolver(ws, ws);
const plan = (over: Partial<ToolPlan>): ToolPlan => ({
  paths: [],
  pathConditions: [],
  urls: [],
  values: [],
  declared: null,
  ...over,
});

describe('prepareArguments (GW-12)', () => {
  it('GW-12 resolves every element of a path array and decides each one', () => {
    const prepared = prepareArguments(
      { paths: ['public/a', 'public/peek/key'] },
      plan({ paths: ['paths'], pathConditions: ['paths'], declared: new Set(['paths']) }),
      resolver,
    );
    expect(prepared).toMatchObject({ ok: true, forwarded: { paths: [`${ws}/public/a`, `${ws}/secrets/key`] } });
    if (!prepared.ok) return;
    expect(prepared.contexts.map((c) => c.args['paths'])).toEqual([
      `${ws}/public/a`,
      `${ws}/secrets/key`,
      `${ws}/secrets`,
    ]);
  });

  it("GW-12 '*' sees the paths of every argument, nested ones included; other arguments are left alone", () => {
    const prepared = prepareArguments(
      { files: [{ path: 'public/x', content: 'public/peek' }], source: 'public/peek/k', note: 'public/peek' },
      plan({
        paths: ['files.path', 'source'],
        pathConditions: ['*'],
        declared: new Set(['files', 'source', 'note']),
      }),
      resolver,
    );
    expect(prepared).toMatchObject({
      ok: true,
      forwarded: {
        files: [{ path: `${ws}/public/x`, content: 'public/peek' }],
        source: `${ws}/secrets/k`,
        note: 'public/peek',
      },
    });
    if (prepared.ok)
      expect(prepared.contexts.map((c) => c.args['*']).sort()).toEqual(
        [`${ws}/public/x`, `${ws}/secrets`, `${ws}/secrets/k`].sort(),
      );
  });

  it('GW-12 refuses arguments the schema does not declare, missing path arguments, and non-strings', () => {
    const p = plan({ paths: ['path'], pathConditions: ['path'], declared: new Set(['path']) });
    expect(prepareArguments({ path: 'a', file: '/etc/passwd' }, p, resolver)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/argument 'file' is not in the tool's inputSchema/),
    });
    expect(prepareArguments({}, p, resolver)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/'path' is missing/),
    });
    expect(prepareArguments({ path: null }, p, resolver)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/missing/),
    });
    expect(prepareArguments({ path: 5 }, p, resolver)).toMatchObject({
      ok: false,
      reason: "argument 'path' must be a path",
    });
    const nested = plan({ paths: ['files.path'], pathConditions: ['*'], declared: null });
    expect(prepareArguments({ files: [{ content: 'x' }] }, nested, resolver)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/'files.path' is missing/),
    });
    expect(prepareArguments({ files: 'x' }, nested, resolver)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/must be an object/),
    });
    // An empty array names no path: nothing to resolve, nothing to decide on.
    expect(prepareArguments({ files: [] }, nested, resolver)).toMatchObject({ ok: true, contexts: [{ args: {} }] });
  });

  it('bounds the paths and the combinations of one call', () => {
    const p = plan({ paths: ['paths'], pathConditions: ['paths'] });
    const many = Array.from({ length: MAX_PATHS_PER_CALL + 1 }, (_, i) => `public/f${i}`);
    expect(prepareArguments({ paths: many }, p, resolver)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/more than 256 paths/),
    });
    const base = { args: {}, hosts: {}, ports: {} };
    const values = Array.from({ length: 40 }, (_, i) => `v${i}`);
    expect(
      decisionContexts(base, [
        ['a', values],
        ['b', values],
      ]),
    ).toBeNull();
    expect(
      decisionContexts(base, [
        ['a', values.slice(0, 32)],
        ['b', values.slice(0, 32)],
      ]),
    ).toHaveLength(MAX_DECISIONS_PER_CALL);
    expect(decisionContexts(base, [])).toEqual([base]);
  });
});

describe('GW-12 timing (printed, not asserted)', () => {
  it('GW-12 µs and filesystem lookups per prepared call', () => {
    mkdirSync(join(ws, 'public', 'a', 'b', 'c'), { recursive: true });
    const cases: [string, Record<string, unknown>, ToolPlan][] = [
      ['one_of value (no path)', { mode: 'read' }, plan({ values: ['mode'] })],
      ['path, 1 component', { path: 'notes.txt' }, plan({ paths: ['path'], pathConditions: ['path'] })],
      ['path, 5 components', { path: 'public/a/b/c/notes.txt' }, plan({ paths: ['path'], pathConditions: ['path'] })],
      ['path through a symlink', { path: 'public/peek/key' }, plan({ paths: ['path'], pathConditions: ['path'] })],
      [
        '10 paths (read_multiple_files)',
        { paths: Array.from({ length: 10 }, (_, i) => `public/a/f${i}`) },
        plan({ paths: ['paths'], pathConditions: ['paths'] }),
      ],
    ];
    const lines: string[] = [];
    for (const [label, args, p] of cases) {
      let lookups = 0;
      const counting = () => {
        const r = resolver();
        const resolve = r.resolve.bind(r);
        r.resolve = (value: string) => {
          const out = resolve(value);
          lookups = r.lookups;
          return out;
        };
        return r;
      };
      for (let i = 0; i < 200; i++) prepareArguments(args, p, resolver);
      const runs = 2000;
      const started = performance.now();
      for (let i = 0; i < runs; i++) prepareArguments(args, p, resolver);
      const us = ((performance.now() - started) * 1000) / runs;
      expect(prepareArguments(args, p, counting)).toMatchObject({ ok: true });
      lines.push(`  ${label.padEnd(32)} ${us.toFixed(1).padStart(7)} µs  ${lookups} lookups`);
    }
    process.stdout.write(`GW-12 prepareArguments per call (workspace ${ws}):\n${lines.join('\n')}\n`);
  });
});
