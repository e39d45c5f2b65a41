import { describe, expect, it } from 'vitest';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { buildCatalog, EXPOSED_NAME } from './catalog.js';

const tool = (name: string): Tool => ({ name, inputSchema: { type: 'object' } });
const offer = (server: string, names: string[]) => ({
  server,
  tools: names.map(tool),
  prompts: [],
  resources: [],
  resourceTemplates: [],
});

describe('catalog', () => {
  it('GW-03 exposes server__tool names that match ^[a-zA-Z0-9_-]{1,64}$ and never collide across servers', () => {
    const catalog = buildCatalog([offer('files', ['read']), offer('web', ['read'])]);
    expect([...catalog.tools.keys()]).toEqual(['files__read', 'web__read']);
    expect([...catalog.tools.keys()].every((n) => EXPOSED_NAME.test(n))).toBe(true);
    expect(catalog.collisions).toEqual([]);
  });

  it('GW-03 case variants within a server are collisions (the gateway refuses to start)', () => {
    const catalog = buildCatalog([offer('files', ['Read', 'read'])]);
    expect(catalog.collisions).toHaveLength(1);
    expect(catalog.collisions[0]).toContain('differ only in case');
    expect([...catalog.tools.keys()]).toEqual(['files__Read']);
  });

  it('GW-03 names that cannot be exposed safely are rejected with a reason, not rewritten', () => {
    const catalog = buildCatalog([offer('files', ['has space', 'dot.name', 'x'.repeat(60), 'ok'])]);
    expect([...catalog.tools.keys()]).toEqual(['files__ok']);
    expect(catalog.rejected.map((r) => r.name)).toEqual(['has space', 'dot.name', 'x'.repeat(60)]);
  });

  it('names: upstream exposes the upstream names unchanged, with server and upstream name kept for policy', () => {
    const catalog = buildCatalog([offer('files', ['read']), offer('web', ['fetch'])], 'upstream');
    expect([...catalog.tools.keys()]).toEqual(['read', 'fetch']);
    expect(catalog.tools.get('fetch')).toMatchObject({ server: 'web', upstreamName: 'fetch' });
    expect(catalog.collisions).toEqual([]);
  });

  it('GW-03 names: upstream — one name offered by two servers is a collision naming both servers and the name', () => {
    const catalog = buildCatalog([offer('files', ['read']), offer('web', ['Read'])], 'upstream');
    expect(catalog.collisions).toEqual(["tool 'Read' is offered by servers files and web"]);
    expect([...catalog.tools.keys()]).toEqual(['read']);
  });

  it('a task-only tool (execution.taskSupport: required) is hidden with the reason; optional stays', () => {
    const catalog = buildCatalog([
      {
        ...offer('jobs', []),
        tools: [
          { ...tool('long'), execution: { taskSupport: 'required' } },
          { ...tool('either'), execution: { taskSupport: 'optional' } },
        ],
      },
    ]);
    expect([...catalog.tools.keys()]).toEqual(['jobs__either']);
    expect(catalog.rejected).toEqual([
      { server: 'jobs', name: 'long', reason: expect.stringContaining('does not support tasks') as string },
    ]);
  });

  it('a resource URI offered by two servers belongs to neither', () => {
    const both = { uri: 'file:///a', name: 'a' };
    const catalog = buildCatalog([
      { ...offer('s1', []), resources: [both] },
      { ...offer('s2', []), resources: [both] },
    ]);
    expect(catalog.resources.has('file:///a')).toBe(false);
  });
});
