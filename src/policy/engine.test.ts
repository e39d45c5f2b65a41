import { describe, expect, it } from 'vitest';
import { configSchema, type McpPolicyConfig } from '../core/config.js';
import { compileProfile } from './compile.js';
import { PolicyEngine, type CallContext } from './engine.js';

const WS = '/work/ws';

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

function engineFor(mcp: unknown, extra: Record<string, string> = {}): PolicyEngine {
  const compiled = compileProfile(mcpOf(mcp), { profileName: 'p', workspace: WS });
  return PolicyEngine.create({
    policies: { ...compiled.policies, ...extra },
    shape: compiled.shape,
    principal: { name: 'agent', profile: 'p' },
  });
}

const noArgs: CallContext = { args: {}, hosts: {}, ports: {} };
const tool = (server: string, name: string) => ({ kind: 'tool' as const, server, name });

describe('policy engine (Cedar)', () => {
  it('GW-01 default deny: nothing granted, nothing listed or callable', () => {
    const engine = engineFor({ allow: [{ server: 'files', tools: ['read_file'] }] });
    expect(engine.decide('list_tool', tool('files', 'write_file')).allow).toBe(false);
    expect(engine.decide('call_tool', tool('files', 'write_file'), noArgs).allow).toBe(false);
    expect(engine.decide('call_tool', tool('other', 'read_file'), noArgs).allow).toBe(false);
    const granted = engine.decide('call_tool', tool('files', 'read_file'), noArgs);
    expect(granted).toEqual({ allow: true, policyIds: ['p.allow[0].tool.read_file.call'], reason: 'granted' });
    expect(engine.decide('list_tool', tool('files', 'read_file')).policyIds).toEqual([
      'p.allow[0].tool.read_file.list',
    ]);
  });

  it('globs match by upstream name within the server only', () => {
    const engine = engineFor({ allow: [{ server: 'files', tools: ['read_*'] }] });
    expect(engine.decide('list_tool', tool('files', 'read_text_file')).allow).toBe(true);
    expect(engine.decide('list_tool', tool('files', 'write_file')).allow).toBe(false);
    expect(engine.decide('list_tool', tool('web', 'read_page')).allow).toBe(false);
  });

  it('forbid wins over permit and names the forbidding policy', () => {
    const engine = engineFor({
      allow: [{ server: 'files', tools: ['*'] }],
      deny: [{ server: 'files', tools: ['write_file'] }],
    });
    const decision = engine.decide('call_tool', tool('files', 'write_file'), noArgs);
    expect(decision.allow).toBe(false);
    expect(decision.policyIds).toEqual(['p.deny[0].tool.write_file.call']);
    expect(engine.decide('list_tool', tool('files', 'write_file')).allow).toBe(false);
    expect(engine.decide('call_tool', tool('files', 'read_file'), noArgs).allow).toBe(true);
  });

  it('GW-04 path conditions: only paths under the workspace (already normalised by the gateway)', () => {
    const engine = engineFor({
      allow: [{ server: 'files', tools: ['read_file'], when: { path: { under: ['${workspace}'] } } }],
    });
    const call = (path?: string) =>
      engine.decide('call_tool', tool('files', 'read_file'), {
        args: path === undefined ? {} : { path },
        hosts: {},
        ports: {},
      });
    expect(call(`${WS}/src/a.ts`).allow).toBe(true);
    expect(call(WS).allow).toBe(true);
    expect(call('/work/wsx/a').allow).toBe(false); // a sibling with the same prefix
    expect(call('/etc/passwd').allow).toBe(false);
    expect(call(undefined).allow).toBe(false);
    // Listed regardless of arguments.
    expect(engine.decide('list_tool', tool('files', 'read_file')).allow).toBe(true);
  });

  it('GW-04 URL host conditions, with ports', () => {
    const engine = engineFor({
      allow: [
        {
          server: 'web',
          tools: ['fetch'],
          when: { url: { host_in: ['docs.example.com', '*.example.org', 'api.example.net:8443'] } },
        },
      ],
    });
    const call = (host: string, port: number) =>
      engine.decide('call_tool', tool('web', 'fetch'), {
        args: { url: `https://${host}:${port}/` },
        hosts: { url: host },
        ports: { url: port },
      }).allow;
    expect(call('docs.example.com', 443)).toBe(true);
    expect(call('docs.example.com', 8080)).toBe(false);
    expect(call('a.b.example.org', 443)).toBe(true);
    expect(call('example.org', 443)).toBe(false);
    expect(call('example.org.evil.net', 443)).toBe(false);
    expect(call('api.example.net', 8443)).toBe(true);
    expect(call('api.example.net', 443)).toBe(false);
  });

  it('one_of compares the argument as text; a conditional deny refuses only matching calls', () => {
    const engine = engineFor({
      allow: [{ server: 'files', tools: ['op'], when: { mode: { one_of: ['read', 2] } } }],
      deny: [{ server: 'files', tools: ['op'], when: { target: { under: ['/secret'] } } }],
    });
    const call = (args: Record<string, string>) =>
      engine.decide('call_tool', tool('files', 'op'), { args, hosts: {}, ports: {} });
    expect(call({ mode: 'read' }).allow).toBe(true);
    expect(call({ mode: '2' }).allow).toBe(true);
    expect(call({ mode: 'write' }).allow).toBe(false);
    expect(call({ mode: 'read', target: '/secret/x' })).toMatchObject({
      allow: false,
      policyIds: ['p.deny[0].tool.op.call'],
    });
    expect(engine.decide('list_tool', tool('files', 'op')).allow).toBe(true);
  });

  it('prompts and resources follow the same grant model', () => {
    const engine = engineFor({ allow: [{ server: 'files', prompts: ['review'], resources: ['file:///docs/*'] }] });
    expect(engine.decide('get_prompt', { kind: 'prompt', server: 'files', name: 'review' }).allow).toBe(true);
    expect(engine.decide('get_prompt', { kind: 'prompt', server: 'files', name: 'other' }).allow).toBe(false);
    expect(engine.decide('read_resource', { kind: 'resource', server: 'files', name: 'file:///docs/a.md' }).allow).toBe(
      true,
    );
    expect(
      engine.decide('read_resource', { kind: 'resource', server: 'files', name: 'file:///etc/passwd' }).allow,
    ).toBe(false);
    expect(engine.decide('list_tool', tool('files', 'review')).allow).toBe(false);
  });

  it('config values cannot inject policy text', () => {
    const engine = engineFor({ allow: [{ server: 'files', resources: ['x" || true || "'] }] });
    expect(engine.decide('read_resource', { kind: 'resource', server: 'files', name: 'file:///anything' }).allow).toBe(
      false,
    );
    expect(engine.decide('read_resource', { kind: 'resource', server: 'files', name: 'x" || true || "' }).allow).toBe(
      true,
    );
  });

  it('user policies: validated at start; a policy error stops the start', () => {
    expect(() =>
      engineFor(
        { allow: [{ server: 'files', tools: ['a'] }] },
        { mine: 'permit(principal, action, resource) when { context.nope == 1 };' },
      ),
    ).toThrow(/POLICY|does not validate/);
    expect(() =>
      engineFor({ allow: [{ server: 'files', tools: ['a'] }] }, { mine: 'permit(principal, action resource);' }),
    ).toThrow();
    const engine = engineFor(
      { allow: [{ server: 'files', tools: ['*'] }] },
      { mine: 'forbid(principal, action == Warden::Action::"call_tool", resource) when { resource.name == "rm" };' },
    );
    expect(engine.decide('call_tool', tool('files', 'rm'), noArgs)).toMatchObject({
      allow: false,
      policyIds: ['mine'],
    });
  });

  it('GW-09 a policy Cedar can only warn about (it can never apply) stops the start like an error', () => {
    const impossible =
      'forbid (principal, action, resource is Warden::Tool) when { resource has annotations && resource.annotations.destructiveHint };';
    expect(() => engineFor({ allow: [{ server: 'files', tools: ['*'] }] }, { mine: impossible })).toThrow(
      /does not validate[\s\S]*policy mine/,
    );
  });

  it('decides 1,000-policy sets by slicing to the policies that can apply', () => {
    const allow = Array.from({ length: 1000 }, (_, i) => ({
      server: 'files',
      tools: [`t${i}`],
      when: { path: { under: [`/ws${i}`] } },
    }));
    const engine = engineFor({ allow });
    expect(engine.size).toBe(2000);
    expect(
      engine.decide('call_tool', tool('files', 't500'), { args: { path: '/ws500/x' }, hosts: {}, ports: {} }).allow,
    ).toBe(true);
    expect(
      engine.decide('call_tool', tool('files', 't500'), { args: { path: '/ws501/x' }, hosts: {}, ports: {} }).allow,
    ).toBe(false);
  });
});
