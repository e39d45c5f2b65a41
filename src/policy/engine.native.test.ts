/**
 * The engine decides compiled profile policies in TypeScript (native.ts) instead of Cedar; these
 * properties hold it to Cedar's answers: on random requests against a profile using every kind
 * of grant and condition, both ways give the same decision, policy ids and reason.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configSchema, type McpPolicyConfig } from '../core/config.js';
import { compileProfile } from './compile.js';
import { PolicyEngine, type CallContext, type PolicyResource } from './engine.js';
import { likeMatches } from './native.js';
import { ACTIONS } from './schema.js';

const WS = '/work/ws';

const MCP = {
  allow: [
    { server: 'files', tools: ['read_file', 'list_*'] },
    { server: 'files', tools: ['write_*', 'edit_file'], when: { path: { under: ['${workspace}', '/data/shared'] } } },
    { server: 'files', tools: ['copy'], when: { from: { under: ['${workspace}/src'] }, to: { under: ['/'] } } },
    // GW-12: '*' (every path argument; absent only when the call holds no path) and nested keys.
    { server: 'files', tools: ['bulk*'], when: { '*': { under: ['${workspace}'] } } },
    { server: 'files', tools: ['nested'], when: { 'files.path': { under: ['${workspace}/café'] } } },
    {
      server: 'web',
      tools: ['fetch'],
      when: { url: { host_in: ['api.example.com', '*.docs.example.org', 'h.example.net:8443', '10.0.0.5:*'] } },
    },
    { server: 'web', tools: ['mode*'], when: { mode: { one_of: ['read', 'write', 3, true] } } },
    { server: 'web', tools: ['*'], prompts: ['p*', 'exact'], resources: ['file:///docs/*', 'mem://exact', 'x*y*z'] },
    { server: 'other', tools: ['*'], resources: ['*'] },
  ],
  deny: [
    { server: 'files', tools: ['write_*'], when: { path: { under: ['${workspace}/.git', '/data/shared/secret'] } } },
    { server: 'files', tools: ['bulk_*'], when: { '*': { under: ['${workspace}/secrets'] } } },
    { server: 'web', tools: ['fetch'], when: { url: { host_in: ['*.docs.example.org:443'] } } },
    { server: 'other', tools: ['drop*'] },
    { server: 'web', resources: ['file:///docs/private*'] },
  ],
};

function mcpOf(mcp: unknown): McpPolicyConfig {
  const config = configSchema.parse({
    version: 1,
    servers: { files: { command: 'node' }, web: { command: 'node' }, other: { command: 'node' } },
    profiles: { p: { mcp } },
  });
  const profile = config.profiles.p;
  if (profile === undefined) throw new Error('no profile');
  return profile.mcp;
}

const compiled = compileProfile(mcpOf(MCP), { profileName: 'p', workspace: WS });
const options = {
  policies: compiled.policies,
  native: compiled.native,
  shape: compiled.shape,
  principal: { name: 'agent', profile: 'p' },
};
const nativeEngine = PolicyEngine.create(options);
const cedarEngine = PolicyEngine.create({ ...options, evaluation: 'cedar' });

const names = fc.constantFrom(
  'read_file',
  'list_dir',
  'list_',
  'write_file',
  'write_',
  'edit_file',
  'copy',
  'fetch',
  'mode',
  'mode_x',
  'drop_table',
  'dropx',
  'p',
  'p1',
  'exact',
  'exactly',
  'zzz',
  'x*y',
  'list*',
  'bulk',
  'bulk_read',
  'nested',
);
const uris = fc.constantFrom(
  'file:///docs/a.md',
  'file:///docs/private/k',
  'file:///docs/privatex',
  'file:///docs',
  'mem://exact',
  'mem://exact2',
  'xyz',
  'x1y2z',
  'xzy',
  'x*y*z',
  'other://a',
);
const paths = fc.oneof(
  fc.constantFrom(
    WS,
    `${WS}/`,
    `${WS}/a.txt`,
    `${WS}x`,
    `${WS}/.git`,
    `${WS}/.git/config`,
    `${WS}/.gitx`,
    '/data/shared',
    '/data/shared/secret',
    '/data/shared/secret2',
    '/data/sharedx',
    '/',
    '/etc/passwd',
    '',
    'relative',
    `${WS}/src`,
    `${WS}/src/a`,
    `${WS}/srcx`,
    `${WS}/secrets`,
    `${WS}/secrets/k`,
    `${WS}/café/a`,
    `${WS}/cafe\u0301/a`,
    '*',
    `${WS}/*`,
  ),
  fc.string({ maxLength: 12 }).map((s) => `${WS}/${s}`),
);
const hosts = fc.constantFrom(
  'api.example.com',
  'API.example.com',
  'x.docs.example.org',
  'docs.example.org',
  '.docs.example.org',
  'a.b.docs.example.org',
  'h.example.net',
  '10.0.0.5',
  'evil.com',
  '',
);
const ports = fc.constantFrom(80, 443, 8443, 8080, 1, 65535);
const modes = fc.constantFrom('read', 'write', '3', 'true', 'READ', 'delete', '');

const context: fc.Arbitrary<CallContext> = fc
  .record({
    path: fc.option(paths, { nil: undefined }),
    every: fc.option(paths, { nil: undefined }),
    nested: fc.option(paths, { nil: undefined }),
    from: fc.option(paths, { nil: undefined }),
    to: fc.option(paths, { nil: undefined }),
    mode: fc.option(modes, { nil: undefined }),
    url: fc.option(fc.tuple(hosts, ports), { nil: undefined }),
    hostOnly: fc.boolean(),
  })
  .map((r) => {
    const args: Record<string, string> = {};
    const h: Record<string, string> = {};
    const p: Record<string, number> = {};
    for (const key of ['path', 'from', 'to', 'mode'] as const) if (r[key] !== undefined) args[key] = r[key];
    if (r.every !== undefined) args['*'] = r.every;
    if (r.nested !== undefined) args['files.path'] = r.nested;
    if (r.url !== undefined) {
      args['url'] = `https://${r.url[0]}:${r.url[1]}/`;
      h['url'] = r.url[0];
      if (!r.hostOnly) p['url'] = r.url[1];
    }
    return { args, hosts: h, ports: p };
  });

const anyRequest = fc.record({
  action: fc.constantFrom(...ACTIONS),
  server: fc.constantFrom('files', 'web', 'other', 'nope'),
  name: names,
  uri: uris,
  context: fc.option(context, { nil: undefined }),
});
/** Calls of the conditionally granted tools, with arguments: where the conditions are decided. */
const conditionalCall = fc
  .record({
    action: fc.constant('call_tool' as const),
    pair: fc.constantFrom(
      ['web', 'fetch'],
      ['files', 'write_file'],
      ['files', 'write_'],
      ['files', 'edit_file'],
      ['files', 'copy'],
      ['files', 'bulk'],
      ['files', 'bulk_read'],
      ['files', 'nested'],
      ['web', 'mode'],
      ['web', 'mode_x'],
      ['other', 'drop_table'],
    ),
    uri: uris,
    context,
  })
  .map(({ action, pair, uri, context: c }) => ({
    action,
    server: pair[0] ?? '',
    name: pair[1] ?? '',
    uri,
    context: c,
  }));
const request = fc.oneof({ weight: 1, arbitrary: anyRequest }, { weight: 3, arbitrary: conditionalCall });

function resourceOf(action: (typeof ACTIONS)[number], server: string, name: string, uri: string): PolicyResource {
  if (action.endsWith('_resource')) return { kind: 'resource', server, name: uri };
  if (action.endsWith('_prompt')) return { kind: 'prompt', server, name };
  return { kind: 'tool', server, name };
}

describe('policy engine: native decisions equal Cedar decisions', () => {
  it('GW-04 on random requests, the TypeScript path decides exactly as Cedar (decision, policy ids, reason)', () => {
    fc.assert(
      fc.property(request, ({ action, server, name, uri, context }) => {
        const resource = resourceOf(action, server, name, uri);
        expect(nativeEngine.decide(action, resource, context)).toEqual(cedarEngine.decide(action, resource, context));
      }),
      { numRuns: 6000 },
    );
  });

  it('the native path is really taken for compiled policies, and Cedar still for user policies', () => {
    const withUserPolicy = PolicyEngine.create({
      ...options,
      policies: {
        ...compiled.policies,
        'mine#0':
          'forbid (principal, action, resource) when { context has args && context.args has "path" && context.args["path"] like "*secret*" };',
      },
    });
    const call = { kind: 'tool' as const, server: 'files', name: 'write_file' };
    const ctx = { args: { path: `${WS}/my-secret.txt` }, hosts: {}, ports: {} };
    // The compiled grant alone allows it (native); the user's forbid (Cedar) refuses it.
    expect(nativeEngine.decide('call_tool', call, ctx).allow).toBe(true);
    expect(withUserPolicy.decide('call_tool', call, ctx)).toMatchObject({ allow: false, policyIds: ['mine#0'] });
  });

  it('likeMatches is Cedar like with * as the only wildcard', () => {
    expect(likeMatches('abc', 'abc')).toBe(true);
    expect(likeMatches('abc', 'a*')).toBe(true);
    expect(likeMatches('abc', '*c')).toBe(true);
    expect(likeMatches('abc', 'a*b*c')).toBe(true);
    expect(likeMatches('ac', 'a*b*c')).toBe(false);
    expect(likeMatches('aXbYc', 'a*b*c')).toBe(true);
    expect(likeMatches('ab', 'a*b*b')).toBe(false);
    expect(likeMatches('abb', 'a*b*b')).toBe(true);
    expect(likeMatches('', '*')).toBe(true);
    expect(likeMatches('a.b', 'a?b')).toBe(false);
  });
});
