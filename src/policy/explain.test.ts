/**
 * GW-04: a refused call is explained from the compiled grants — the deny entry that applied with
 * its conditions, or each grant of the tool with the conditions that failed — and the explanation
 * follows the engine's decision, never the other way round.
 */
import { describe, expect, it } from 'vitest';
import { configSchema } from '../core/config.js';
import { compileProfile, configKey } from './compile.js';
import { PolicyEngine, type CallContext } from './engine.js';
import { explainCallDenial } from './explain.js';

const WS = '/work/ws';

function compiled(mcp: unknown) {
  const config = configSchema.parse({
    version: 1,
    servers: { files: { command: 'node' }, web: { command: 'node' } },
    profiles: { p: { mcp } },
  });
  const profile = config.profiles.p;
  if (profile === undefined) throw new Error('no profile');
  const result = compileProfile(profile.mcp, { profileName: 'p', workspace: WS });
  const engine = PolicyEngine.create({
    policies: result.policies,
    native: result.native,
    shape: result.shape,
    principal: { name: 'agent', profile: 'p' },
  });
  return { result, engine };
}

const ctx = (args: Record<string, string>, hosts: Record<string, string> = {}, ports: Record<string, number> = {}) =>
  ({ args, hosts, ports }) satisfies CallContext;

describe('explainCallDenial (GW-04)', () => {
  it('GW-04 names the deny entry and the condition that applied, with the directory matched', () => {
    const { result, engine } = compiled({
      allow: [{ server: 'files', tools: ['*'], when: { '*': { under: ['${workspace}'] } } }],
      deny: [
        { server: 'files', tools: ['write_*'] },
        {
          server: 'files',
          tools: ['read_file'],
          when: { path: { under: ['${workspace}/a', '${workspace}/secrets'] } },
        },
      ],
    });
    const context = ctx({ path: `${WS}/secrets/key`, '*': `${WS}/secrets/key` });
    const decision = engine.decide('call_tool', { kind: 'tool', server: 'files', name: 'read_file' }, context);
    expect(decision.allow).toBe(false);
    const explained = explainCallDenial(result.toolGrants, 'files', 'read_file', context, decision);
    expect(explained.kind).toBe('forbidden');
    if (explained.kind !== 'forbidden') return;
    expect(explained.others).toEqual([]);
    expect(explained.forbids.map((f) => f.grant.config)).toEqual(['profiles.p.mcp.deny[1]']);
    expect(explained.forbids[0]?.conditions).toMatchObject([
      {
        holds: true,
        value: `${WS}/secrets/key`,
        matched: `${WS}/secrets`,
        condition: { argument: 'path', config: 'profiles.p.mcp.deny[1].when.path.under' },
      },
    ]);
  });

  it('GW-04 for a tool with several grants, says which condition of each failed (config order)', () => {
    const { result, engine } = compiled({
      allow: [
        { server: 'files', tools: ['read_*'], when: { path: { under: ['${workspace}/public'] } } },
        { server: 'web', tools: ['read_file'], when: { path: { under: ['/'] } } },
        {
          server: 'files',
          tools: ['read_file'],
          when: { path: { under: ['${workspace}/docs'] }, mode: { one_of: ['r', 1] } },
        },
        { server: 'files', tools: ['fetch'], when: { url: { host_in: ['*.example.com'] } } },
      ],
    });
    const context = ctx({ path: '/etc/passwd', mode: 'r' });
    const decision = engine.decide('call_tool', { kind: 'tool', server: 'files', name: 'read_file' }, context);
    const explained = explainCallDenial(result.toolGrants, 'files', 'read_file', context, decision);
    expect(explained.kind).toBe('not-granted');
    if (explained.kind !== 'not-granted') return;
    // The web server's grant and the grant of another tool are not about this call.
    expect(explained.grants.map((g) => g.grant.config)).toEqual(['profiles.p.mcp.allow[0]', 'profiles.p.mcp.allow[2]']);
    // Only failed conditions are reported: mode 'r' held.
    expect(explained.grants.map((g) => g.conditions.map((c) => c.condition.config))).toEqual([
      ['profiles.p.mcp.allow[0].when.path.under'],
      ['profiles.p.mcp.allow[2].when.path.under'],
    ]);
    expect(explained.grants[1]?.conditions[0]).toMatchObject({ holds: false, value: '/etc/passwd' });
  });

  it('GW-04 a URL condition reports the host and port it compared', () => {
    const { result, engine } = compiled({
      allow: [{ server: 'web', tools: ['fetch'], when: { url: { host_in: ['api.example.com'] } } }],
    });
    const context = ctx({ url: 'https://evil.test/' }, { url: 'evil.test' }, { url: 443 });
    const decision = engine.decide('call_tool', { kind: 'tool', server: 'web', name: 'fetch' }, context);
    const explained = explainCallDenial(result.toolGrants, 'web', 'fetch', context, decision);
    expect(explained).toMatchObject({
      kind: 'not-granted',
      grants: [{ conditions: [{ host: 'evil.test', port: 443, holds: false }] }],
    });
  });

  it('GW-04 an allowed call, an evaluation error or a forbid from a Cedar file is never explained as a config entry', () => {
    const { result, engine } = compiled({
      allow: [{ server: 'files', tools: ['read_file'], when: { path: { under: ['${workspace}'] } } }],
    });
    const context = ctx({ path: `${WS}/x` });
    const allowed = engine.decide('call_tool', { kind: 'tool', server: 'files', name: 'read_file' }, context);
    expect(allowed.allow).toBe(true);
    expect(explainCallDenial(result.toolGrants, 'files', 'read_file', context, allowed)).toEqual({
      kind: 'unexplained',
    });
    const error = { allow: false, policyIds: ['x'], reason: 'policy evaluation error: boom' };
    expect(explainCallDenial(result.toolGrants, 'files', 'read_file', context, error)).toEqual({
      kind: 'unexplained',
    });
    const fromFile = { allow: false, policyIds: ['mine.cedar#0'], reason: 'forbidden' };
    expect(explainCallDenial(result.toolGrants, 'files', 'read_file', context, fromFile)).toEqual({
      kind: 'forbidden',
      forbids: [],
      others: ['mine.cedar#0'],
    });
    // A tool no conditional grant names: nothing to say beyond the engine's reason.
    const none = engine.decide('call_tool', { kind: 'tool', server: 'files', name: 'other' }, context);
    expect(explainCallDenial(result.toolGrants, 'files', 'other', context, none)).toEqual({ kind: 'unexplained' });
  });

  it('GW-04 the explanation is the same whether the decision came from Cedar or from the compiled predicates', () => {
    const mcp = {
      allow: [
        { server: 'files', tools: ['*'], when: { '*': { under: ['${workspace}'] } } },
        { server: 'files', tools: ['read_file'], when: { path: { under: ['${workspace}/public'] } } },
      ],
      deny: [{ server: 'files', tools: ['read_*'], when: { path: { under: ['${workspace}/secrets'] } } }],
    };
    const { result } = compiled(mcp);
    const cedarOnly = PolicyEngine.create({
      policies: result.policies,
      native: result.native,
      shape: result.shape,
      principal: { name: 'agent', profile: 'p' },
      evaluation: 'cedar',
    });
    const { engine } = compiled(mcp);
    for (const path of [`${WS}/secrets/k`, '/etc/passwd']) {
      const context = ctx({ path, '*': path });
      const request = { kind: 'tool' as const, server: 'files', name: 'read_file' };
      const [a, b] = [cedarOnly, engine].map((e) =>
        explainCallDenial(result.toolGrants, 'files', 'read_file', context, e.decide('call_tool', request, context)),
      );
      expect(a?.kind).not.toBe('unexplained');
      expect(a).toEqual(b);
    }
  });

  it('each compiled policy carries the config path of its entry as an annotation', () => {
    const { result } = compiled({
      allow: [{ server: 'files', tools: ['read_file'], when: { 'files.path': { under: ['${workspace}'] } } }],
      deny: [{ server: 'files', tools: ['rm'] }],
    });
    expect(result.policies['p.allow[0].tool.read_file.call']).toMatch(/^@config\("profiles\.p\.mcp\.allow\[0\]"\)\n/);
    expect(result.policies['p.deny[0].tool.rm.call']).toMatch(/^@config\("profiles\.p\.mcp\.deny\[0\]"\)\n/);
    expect(result.toolGrants[0]?.conditions[0]?.config).toBe("profiles.p.mcp.allow[0].when['files.path'].under");
    expect([configKey('path'), configKey('*'), configKey("a'b")]).toEqual(['.path', "['*']", "['a\\'b']"]);
  });
});
