import { describe, expect, it } from 'vitest';
import { classifyServer, packageOfRunner, parseSpec, type ProvenanceContext } from './provenance.js';

const INTEGRITY = `sha512-${Buffer.alloc(64, 1).toString('base64')}`;
const MEMORY = '@modelcontextprotocol/server-memory';
const ctx = (unpinned: string[] = [], withCatalog = true): ProvenanceContext => ({
  catalog: withCatalog
    ? {
        path: '/p/warden.catalog.yaml',
        catalog: {
          version: 1,
          servers: {
            memory: { npm: MEMORY, version: '1.2.3', integrity: INTEGRITY },
            tool: { file: '/opt/tool', sha256: 'a'.repeat(64) },
            docs: { url: 'https://mcp.example.com/mcp' },
          },
        },
      }
    : null,
  unpinned: new Set(unpinned),
  stateDir: '/state',
});

describe('what a server runs, against the catalog (SCAN-06)', () => {
  it('reads the package of npx, npm exec, pnpm dlx and bunx lines', () => {
    expect(packageOfRunner('npx', ['-y', `${MEMORY}@1.2.3`, '--flag'])).toEqual({
      name: MEMORY,
      spec: '1.2.3',
      rest: ['--flag'],
    });
    expect(packageOfRunner('/usr/bin/npm', ['exec', '--yes', '--', 'x-server'])).toEqual({
      name: 'x-server',
      spec: 'latest',
      rest: [],
    });
    expect(packageOfRunner('npx', ['--package=x-server@2.0.0', 'x-bin', 'a'])).toEqual({
      name: 'x-server',
      spec: '2.0.0',
      rest: ['a'],
    });
    expect(packageOfRunner('pnpm', ['dlx', 'x-server@^1'])).toMatchObject({ name: 'x-server', spec: '^1' });
    expect(packageOfRunner('npm', ['install', 'x'])).toBeNull();
    expect(packageOfRunner('node', ['x.js'])).toBeNull();
    expect(packageOfRunner('npx', ['./local'])).toBeNull();
    expect(parseSpec('@scope/name')).toEqual({ name: '@scope/name', spec: 'latest' });
  });

  it('SCAN-06 npx at the pinned version runs the store copy; another version is refused naming both', () => {
    expect(
      classifyServer('m', { command: 'npx', args: ['-y', `${MEMORY}@1.2.3`, 'x'] }, '/usr/bin/npx', ctx()),
    ).toMatchObject({
      kind: 'store',
      entry: 'memory',
      args: ['x'],
    });
    const other = classifyServer('m', { command: 'npx', args: ['-y', MEMORY] }, '/usr/bin/npx', ctx());
    expect(other.kind === 'refused' && other.error.message).toMatch(/expected version 1\.2\.3, found latest/);
  });

  it('SCAN-06 a typosquat is refused, or a warning for a server allowed unpinned', () => {
    const squat = classifyServer(
      'm',
      { command: 'npx', args: ['-y', '@modelcontextprotoco1/server-memory'] },
      '/usr/bin/npx',
      ctx([], false),
    );
    expect(squat.kind === 'refused' && squat.error.code).toBe('PROVENANCE_REFUSED');
    const allowed = classifyServer(
      'm',
      { command: 'npx', args: ['-y', '@modelcontextprotoco1/server-memory'] },
      '/usr/bin/npx',
      ctx(['m'], false),
    );
    expect(allowed).toMatchObject({ kind: 'unpinned', warnings: [expect.stringContaining(`typosquat of ${MEMORY}`)] });
  });

  it('SCAN-06 unpinned servers are refused while a catalog exists, allowed when listed or without a catalog', () => {
    const server = { command: 'node', args: ['/srv/other.mjs'] };
    const refused = classifyServer('o', server, '/usr/bin/node', ctx());
    expect(refused.kind === 'refused' && refused.error.message).toMatch(
      /servers\.o runs \/usr\/bin\/node \/srv\/other\.mjs, which the catalog/,
    );
    expect(classifyServer('o', server, '/usr/bin/node', ctx(['o'])).kind).toBe('unpinned');
    expect(classifyServer('o', server, '/usr/bin/node', ctx([], false)).kind).toBe('unpinned');
  });

  it('pins programs, scripts and URLs by their entries, and refuses a missing entry', () => {
    expect(classifyServer('t', { command: '/opt/tool', args: [] }, '/opt/tool', ctx())).toMatchObject({
      kind: 'file',
      entry: 'tool',
    });
    expect(classifyServer('t', { command: 'node', args: ['/opt/tool'] }, '/usr/bin/node', ctx())).toMatchObject({
      kind: 'file',
    });
    expect(classifyServer('d', { url: 'https://mcp.example.com/mcp', args: [] }, null, ctx())).toMatchObject({
      kind: 'url',
    });
    const missing = classifyServer('d', { catalog: 'nope', args: [] }, null, ctx());
    expect(missing.kind === 'refused' && missing.error.message).toMatch(
      /entry 'nope', which .* does not have \(entries: memory, tool, docs\)/,
    );
    const none = classifyServer('d', { catalog: 'memory', args: [] }, null, ctx([], false));
    expect(none.kind === 'refused' && none.error.message).toMatch(/there is no catalog file/);
  });
});
