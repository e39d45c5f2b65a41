/**
 * GW-04 / GW-12: the words of a refusal, from a real tree through the same steps as the gateway
 * (prepareArguments resolves the paths, the engine decides, explainCallDenial and describeRefusal
 * explain): the argument, its value (quoted, escaped, bounded), "resolves to" where a symlink took
 * it, the condition and the warden.yaml entry; paths outside the workspace only where `shows`
 * allows them; sensitive values never.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../core/config.js';
import { compileProfile, explainCallDenial, PolicyEngine } from '../policy/index.js';
import { prepareArguments } from './arguments.js';
import { describeRefusal, quoteValue } from './refusal.js';
import { CallPathResolver } from './resolve-path.js';
import { planTool } from './tool-plan.js';

let root = '';
let ws = '';
beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'warden-refusal-')));
  ws = join(root, 'ws');
  mkdirSync(join(ws, 'public'), { recursive: true });
  mkdirSync(join(ws, 'secrets', 'sub'), { recursive: true });
  mkdirSync(join(root, 'host'));
  symlinkSync('../secrets', join(ws, 'public', 'link'));
  symlinkSync('../secrets/sub', join(ws, 'public', 'hop'));
  symlinkSync(join(root, 'host'), join(ws, 'public', 'out'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SCHEMAS: Record<string, unknown> = {
  read_file: {
    type: 'object',
    properties: { path: { type: 'string' }, mode: { type: 'string' }, token: { type: 'string' } },
  },
  read_many: { type: 'object', properties: { paths: { type: 'array', items: { type: 'string' } } } },
};

/** The gateway's steps for one call of `tool` on server `files`; the texts for the audit and for the agent. */
function refuse(mcp: unknown, args: Record<string, unknown>, tool = 'read_file') {
  const config = configSchema.parse({
    version: 1,
    servers: { files: { command: 'node' } },
    profiles: { default: { mcp } },
  });
  const profile = config.profiles.default;
  if (profile === undefined) throw new Error('no profile');
  const compiled = compileProfile(profile.mcp, { profileName: 'default', workspace: ws });
  const engine = PolicyEngine.create({
    policies: compiled.policies,
    native: compiled.native,
    shape: compiled.shape,
    principal: { name: 'agent', profile: 'default' },
  });
  const plan = planTool(compiled.conditionalGrants, 'files', tool, SCHEMAS[tool]);
  if (!plan.ok) throw new Error(plan.reason);
  const prepared = prepareArguments(args, plan.plan, () => new CallPathResolver(ws, ws));
  if (!prepared.ok) throw new Error(prepared.reason);
  const denied = prepared.contexts
    .map((context) => ({
      context,
      decision: engine.decide('call_tool', { kind: 'tool', server: 'files', name: tool }, context),
    }))
    .find((d) => !d.decision.allow);
  if (denied === undefined) throw new Error('allowed');
  const explanation = explainCallDenial(compiled.toolGrants, 'files', tool, denied.context, denied.decision);
  const options = {
    tool,
    paths: prepared.paths,
    workspace: ws,
    sensitive: (arg: string) => arg === 'token',
  };
  return {
    audit: describeRefusal(explanation, { ...options, shows: () => true }),
    agent: describeRefusal(explanation, { ...options, shows: (p: string) => p === ws || p.startsWith(`${ws}/`) }),
    decision: denied.decision,
  };
}

const PUBLIC = { server: 'files', tools: ['read_file'], when: { path: { under: ['${workspace}/public'] } } };
const SECRETS = { server: 'files', tools: ['*'], when: { '*': { under: ['${workspace}/secrets'] } } };

describe('policy refusals in words (GW-04, GW-12)', () => {
  it('GW-04 a path outside the granted directory: the argument, its value, the directory and the config field', () => {
    const { audit, decision } = refuse({ allow: [PUBLIC] }, { path: '/etc/passwd' });
    expect(decision.allow).toBe(false);
    expect(audit).toBe(
      `argument 'path' ('/etc/passwd') is not under ${ws}/public (profiles.default.mcp.allow[0].when.path.under)`,
    );
  });

  it('GW-12 a path that reaches a denied directory through a symlink says what it resolves to', () => {
    const { audit, agent } = refuse(
      { allow: [{ server: 'files', tools: ['*'], when: { '*': { under: ['${workspace}'] } } }], deny: [SECRETS] },
      { path: 'public/link/key.txt' },
    );
    const expected = `argument 'path' ('public/link/key.txt' resolves to '${ws}/secrets/key.txt') is under ${ws}/secrets (profiles.default.mcp.deny[0].when['*'].under)`;
    expect(audit).toBe(expected);
    expect(agent).toBe(expected);
  });

  it('GW-12 a path that ends in the granted directory but went through a denied one names the place it went through', () => {
    const { audit } = refuse({ allow: [PUBLIC] }, { path: 'public/hop/../../public/x' });
    expect(audit).toBe(
      `argument 'path' ('public/hop/../../public/x') goes through '${ws}/secrets/sub', which is not under ${ws}/public (profiles.default.mcp.allow[0].when.path.under)`,
    );
  });

  it('GW-12 where a path resolves outside the workspace, the agent text does not show where; the audit text does', () => {
    const { audit, agent } = refuse({ allow: [PUBLIC] }, { path: 'public/out/x' });
    expect(audit).toContain(`resolves to '${root}/host/x'`);
    expect(agent).not.toContain(root + '/host');
    // (The gateway tells the agent only LEADS_OUTSIDE in this case; the text itself holds no host path either.)
  });

  it('GW-04 several grants of one tool: each says why it did not admit the call, at most three', () => {
    const grants = [0, 1, 2, 3].map((i) => ({
      server: 'files',
      tools: ['read_file'],
      when: { path: { under: [`\${workspace}/d${i}`] }, mode: { one_of: ['r'] } },
    }));
    const { audit } = refuse({ allow: grants }, { path: 'public/a', mode: 'w' });
    expect(audit).toMatch(/^no grant admits it: /);
    expect(audit).toContain(
      `argument 'path' ('public/a') is not under ${ws}/d0 (profiles.default.mcp.allow[0].when.path.under) and argument 'mode' ('w') is not one of 'r' (profiles.default.mcp.allow[0].when.mode.one_of)`,
    );
    expect(audit).toContain('profiles.default.mcp.allow[2].when.mode.one_of');
    expect(audit).not.toContain('allow[3]');
    expect(audit).toMatch(/; and 1 more grants of this tool$/);
  });

  it('GW-04 a deny without conditions and one from several paths name their entry', () => {
    expect(
      refuse({ allow: [PUBLIC], deny: [{ server: 'files', tools: ['read_file'] }] }, { path: 'public/a' }).audit,
    ).toBe("tool 'read_file' is denied (profiles.default.mcp.deny[0])");
    const many = refuse(
      {
        allow: [{ server: 'files', tools: ['read_many'], when: { paths: { under: ['${workspace}'] } } }],
        deny: [SECRETS],
      },
      { paths: ['public/a', 'public/link/b'] },
      'read_many',
    );
    expect(many.audit).toBe(
      `argument 'paths' ('public/link/b' resolves to '${ws}/secrets/b') is under ${ws}/secrets (profiles.default.mcp.deny[0].when['*'].under)`,
    );
  });

  it('GW-04 values are quoted with control and bidi characters escaped, bounded, and withheld for sensitive arguments', () => {
    const odd = refuse(
      { allow: [{ server: 'files', tools: ['read_file'], when: { mode: { one_of: ['r'] } } }] },
      { mode: "a'\n\u202e" + 'x'.repeat(300) },
    ).audit;
    expect(odd).toContain("('a\\'\\u{a}\\u{202e}xxx");
    expect(odd).toContain("…' (304 characters)");
    expect(odd).not.toContain('\n');
    const secret = refuse(
      { allow: [{ server: 'files', tools: ['read_file'], when: { token: { one_of: ['ok'] } } }] },
      { token: 'hunter2' },
    ).audit;
    expect(secret).toBe("argument 'token' is not one of 'ok' (profiles.default.mcp.allow[0].when.token.one_of)");
    expect(quoteValue('\u200b\ud800')).toBe("'\\u{200b}\\u{d800}'");
  });
});
