import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUILTIN_CONFIG } from '../core/builtin-config.js';
import { DEFAULT_LIMITS, RESERVED_ENV } from '../core/config-defaults.js';
import { configSchema, type WardenConfig } from '../core/config.js';
import { isWardenError, type ErrorCode, type WardenError } from '../core/errors.js';
import { resolveRunPlan, type RunOverrides, type RunPlan } from './plan.js';

let root: string;
let ws: string;

beforeEach(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'warden-plan-')));
  ws = join(root, 'ws');
  mkdirSync(ws);
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function config(profiles: Record<string, unknown> = {}): WardenConfig {
  return configSchema.parse({ version: 1, profiles });
}

function plan(
  overrides: RunOverrides = {},
  cfg: WardenConfig = BUILTIN_CONFIG,
  hostEnv: NodeJS.ProcessEnv = {},
  command: readonly string[] = ['bash', '-c', 'true'],
): Promise<RunPlan> {
  return resolveRunPlan(cfg, command, overrides, ws, hostEnv);
}

async function planError(promise: Promise<unknown>): Promise<WardenError> {
  try {
    await promise;
  } catch (error) {
    if (isWardenError(error)) return error;
    throw error;
  }
  throw new Error('expected resolveRunPlan to fail');
}

async function expectPlanError(promise: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<WardenError> {
  const error = await planError(promise);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
  expect(error.hint, 'every plan error says how to fix it').toBeTruthy();
  return error;
}

const TIMER_MAX_MS = 2 ** 31 - 1;

describe('resolveRunPlan: command and profile', () => {
  it('without a config uses the built-in default profile and defaults', async () => {
    const p = await plan();
    expect(p.profileName).toBe('default');
    expect(p.agentName).toBe('bash');
    expect(p.command).toEqual(['bash', '-c', 'true']);
    expect(p.workspace).toBe(ws);
    expect(p.cwd).toBe(ws);
    expect(p.readOnly).toEqual([]);
    expect(p.writable).toEqual([]);
    expect(p.deny).toEqual([]);
    expect(p.networkAllow).toEqual([]);
    expect(p.env).toEqual({});
    expect(p.acceptMissingLimits).toBe(false);
    expect(p.limits).toEqual({
      memoryBytes: DEFAULT_LIMITS.memoryBytes,
      pids: DEFAULT_LIMITS.pids,
      cpu: Math.round(availableParallelism() * 0.9 * 100) / 100,
      timeoutMs: null,
    });
  });

  it('the plan is deeply frozen', async () => {
    const p = await plan({ env: ['A=1'] });
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.limits)).toBe(true);
    expect(Object.isFrozen(p.env)).toBe(true);
    expect(Object.isFrozen(p.command)).toBe(true);
  });

  it('a default profile in the config replaces the built-in one', async () => {
    const p = await plan({}, config({ default: { network: { allow: ['api.example.com'] } } }));
    expect(p.networkAllow).toEqual(['api.example.com']);
  });

  it('--profile picks a named profile', async () => {
    const p = await plan(
      { profile: 'coding' },
      config({ coding: { network: { allow: ['api.github.com'] }, limits: { pids: 64 } } }),
    );
    expect(p.profileName).toBe('coding');
    expect(p.networkAllow).toEqual(['api.github.com']);
    expect(p.limits.pids).toBe(64);
  });

  it('an unknown profile is PROFILE_NOT_FOUND listing the defined ones', async () => {
    const error = await expectPlanError(
      plan({ profile: 'nope' }, config({ coding: {}, review: {} })),
      'PROFILE_NOT_FOUND',
      /profile 'nope' is not defined/,
    );
    expect(error.hint).toContain('coding, review');
    expect(error.exitCode).toBe(2);
  });

  it('an unknown profile with no profiles defined points at warden.yaml', async () => {
    const error = await expectPlanError(plan({ profile: 'nope' }), 'PROFILE_NOT_FOUND', /nope/);
    expect(error.hint).toMatch(/warden\.yaml/);
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    '--profile %s is PROFILE_NOT_FOUND (the lookup does not reach Object.prototype)',
    async (name) => {
      await expectPlanError(plan({ profile: name }, config({ coding: {} })), 'PROFILE_NOT_FOUND', /is not defined/);
    },
  );

  it('an empty command, a NUL in it, or an over-long command line is USAGE', async () => {
    await expectPlanError(plan({}, BUILTIN_CONFIG, {}, []), 'USAGE', /no command/);
    await expectPlanError(plan({}, BUILTIN_CONFIG, {}, ['echo', 'a\0b']), 'USAGE', /NUL/);
    await expectPlanError(
      plan(
        {},
        BUILTIN_CONFIG,
        {},
        Array.from({ length: 4097 }, () => 'x'),
      ),
      'USAGE',
      /too long/,
    );
    await expectPlanError(plan({}, BUILTIN_CONFIG, {}, ['echo', 'x'.repeat(1024 * 1024)]), 'USAGE', /too long/);
    expect(
      (
        await plan(
          {},
          BUILTIN_CONFIG,
          {},
          Array.from({ length: 4096 }, () => 'x'),
        )
      ).command,
    ).toHaveLength(4096);
  });

  it('the agent name is the command basename, or --agent; bad names are USAGE', async () => {
    expect((await plan({}, BUILTIN_CONFIG, {}, ['/usr/bin/python3', 'x.py'])).agentName).toBe('python3');
    expect((await plan({ agent: 'claude-code' })).agentName).toBe('claude-code');
    await expectPlanError(plan({ agent: 'bad name' }), 'USAGE', /not a valid agent name/);
    await expectPlanError(plan({ agent: '' }), 'USAGE', /not a valid agent name/);
    await expectPlanError(plan({ agent: 'a'.repeat(65) }), 'USAGE', /not a valid agent name/);
  });

  it('--accept-missing-limits is carried into the plan', async () => {
    expect((await plan({ acceptMissingLimits: true })).acceptMissingLimits).toBe(true);
  });
});

describe('resolveRunPlan: workspace and paths', () => {
  it('the workspace is the real path; cwd inside it is kept, cwd outside it becomes the workspace', async () => {
    const sub = join(ws, 'sub');
    mkdirSync(sub);
    expect((await resolveRunPlan(BUILTIN_CONFIG, ['true'], {}, sub, {})).cwd).toBe(sub);
    expect((await resolveRunPlan(BUILTIN_CONFIG, ['true'], {}, sub, {})).workspace).toBe(sub);
    const p = await resolveRunPlan(BUILTIN_CONFIG, ['true'], { workspace: ws }, root, {});
    expect(p.workspace).toBe(ws);
    expect(p.cwd).toBe(ws);
    const inside = await resolveRunPlan(BUILTIN_CONFIG, ['true'], { workspace: '..' }, sub, {});
    expect(inside.workspace).toBe(ws);
    expect(inside.cwd).toBe(sub);
  });

  it('a symlinked workspace resolves to its target', async () => {
    symlinkSync(ws, join(root, 'link'));
    expect((await plan({ workspace: join(root, 'link') })).workspace).toBe(ws);
  });

  it('--no-workspace (null) means no workspace and cwd /', async () => {
    const p = await plan({ workspace: null });
    expect(p.workspace).toBeNull();
    expect(p.cwd).toBe('/');
  });

  it('a missing workspace, a file, or / is WORKSPACE_INVALID', async () => {
    await expectPlanError(plan({ workspace: join(root, 'missing') }), 'WORKSPACE_INVALID', /does not exist/);
    writeFileSync(join(root, 'file'), '');
    await expectPlanError(plan({ workspace: join(root, 'file') }), 'WORKSPACE_INVALID', /not a directory/);
    await expectPlanError(plan({ workspace: '/' }), 'WORKSPACE_INVALID', /cannot be \//);
    symlinkSync('/', join(root, 'to-root'));
    await expectPlanError(plan({ workspace: join(root, 'to-root') }), 'WORKSPACE_INVALID', /cannot be \//);
  });

  it('profile paths resolve against the workspace, to real paths', async () => {
    mkdirSync(join(ws, 'docs'));
    mkdirSync(join(ws, 'build'));
    writeFileSync(join(ws, '.env'), 'SECRET=1');
    mkdirSync(join(root, 'tools'));
    symlinkSync(join(root, 'tools'), join(root, 'tools-link'));
    symlinkSync(join(ws, 'build'), join(ws, 'build-link'));
    const cfg = config({
      default: {
        filesystem: {
          read_only: ['docs', join(root, 'tools-link'), root],
          writable: ['build-link'],
          deny: ['.env'],
        },
      },
    });
    const p = await plan({}, cfg);
    expect(p.readOnly).toEqual([join(ws, 'docs'), join(root, 'tools'), root]);
    expect(p.writable).toEqual([join(ws, 'build')]);
    expect(p.deny).toEqual([join(ws, '.env')]);
  });

  it.each(['read_only', 'writable'] as const)(
    'SBX-07 a %s path leaving the workspace through a symlink inside it is refused (the agent can change the link)',
    async (list) => {
      mkdirSync(join(root, 'elsewhere'));
      mkdirSync(join(ws, 'sub'));
      symlinkSync(join(root, 'elsewhere'), join(ws, 'sub', 'cache'));
      for (const entry of ['sub/cache', join(ws, 'sub', 'cache'), 'sub/cache/.']) {
        const error = await planError(plan({}, config({ default: { filesystem: { [list]: [entry] } } })));
        expect(error.code, entry).toBe('PATH_POLICY');
        expect(error.message).toContain(`the symlink ${join(ws, 'sub', 'cache')} inside ${ws}`);
        expect(error.hint).toContain(join(root, 'elsewhere'));
      }
      // The same target named by its real path is the user's choice, not the agent's.
      const p = await plan({}, config({ default: { filesystem: { [list]: [join(root, 'elsewhere')] } } }));
      expect(list === 'writable' ? p.writable : p.readOnly).toEqual([join(root, 'elsewhere')]);
    },
  );

  it('missing read_only / writable paths are CONFIG_INVALID; missing deny paths are dropped', async () => {
    await expectPlanError(
      plan({}, config({ default: { filesystem: { read_only: ['nope'] } } })),
      'CONFIG_INVALID',
      /filesystem\.read_only: .*nope does not exist/,
    );
    await expectPlanError(
      plan({}, config({ default: { filesystem: { writable: ['nope'] } } })),
      'CONFIG_INVALID',
      /filesystem\.writable: .*nope does not exist/,
    );
    expect((await plan({}, config({ default: { filesystem: { deny: ['nope'] } } }))).deny).toEqual([]);
  });

  it('SBX-05 a writable profile path that resolves to a system directory through a symlink is refused', async () => {
    symlinkSync('/etc', join(ws, 'etc-link'));
    const error = await planError(plan({}, config({ default: { filesystem: { writable: ['etc-link'] } } })));
    expect(['PATH_POLICY', 'CONFIG_INVALID']).toContain(error.code);
  });

  it('SBX-05 a writable profile path spelled /./usr is refused after resolution', async () => {
    // The schema's NEVER_WRITABLE check compares the text only; the plan resolves the path, so it is the place to check.
    const cfg = structuredClone(config({ default: {} }));
    if (cfg.profiles.default) cfg.profiles.default.filesystem.writable = ['/./usr'];
    const error = await planError(plan({}, cfg));
    expect(['PATH_POLICY', 'CONFIG_INVALID']).toContain(error.code);
  });
});

describe('resolveRunPlan: --ro and home', () => {
  it('--ro paths resolve against the cwd once, to real paths, after the profile read_only list, without duplicates', async () => {
    mkdirSync(join(root, 'shared'));
    writeFileSync(join(root, 'notes.txt'), 'x');
    symlinkSync(join(root, 'shared'), join(ws, 'shared-link'));
    mkdirSync(join(ws, 'docs'));
    const cfg = config({ default: { filesystem: { read_only: ['docs'] } } });
    const p = await plan({ readOnly: ['../shared', 'shared-link', join(root, 'notes.txt')] }, cfg);
    expect(p.readOnly).toEqual([join(ws, 'docs'), join(root, 'shared'), join(root, 'notes.txt')]);
  });

  it('a missing, empty or NUL-bearing --ro value, or too many, is USAGE naming the flag', async () => {
    await expectPlanError(plan({ readOnly: ['nope'] }), 'USAGE', /--ro .*nope does not exist/);
    await expectPlanError(plan({ readOnly: [''] }), 'USAGE', /--ro '' is not a path/);
    await expectPlanError(plan({ readOnly: ['a\0b'] }), 'USAGE', /is not a path/);
    await expectPlanError(plan({ readOnly: Array.from({ length: 257 }, () => '.') }), 'USAGE', /too many --ro/);
  });

  it("the home is the profile's: ephemeral unless it says persistent", async () => {
    expect((await plan()).home).toBe('ephemeral');
    const cfg = config({ keep: { home: 'persistent' }, other: {} });
    expect((await plan({ profile: 'keep' }, cfg)).home).toBe('persistent');
    expect((await plan({ profile: 'other' }, cfg)).home).toBe('ephemeral');
  });
});

describe('resolveRunPlan: network', () => {
  it('NET-08 --allow-domain adds to the profile list, after it', async () => {
    const p = await plan(
      { allowDomains: ['registry.npmjs.org', '*.pypi.org', 'host.test:8443'] },
      config({ default: { network: { allow: ['api.github.com'] } } }),
    );
    expect(p.networkAllow).toEqual(['api.github.com', 'registry.npmjs.org', '*.pypi.org', 'host.test:8443']);
  });

  it.each([
    ['*', /every host/],
    ['*.com', /top-level domain/],
    ['*.co.uk', /public suffix/],
    ['*.github.io', /public suffix/],
    ['https://example.com/', /not a URL/],
    ['example.com:0', /between 1 and 65535/],
    ['2001:db8::1', /brackets/],
  ])('NET-08 --allow-domain %j is USAGE', async (entry, reason) => {
    const error = await expectPlanError(plan({ allowDomains: [entry] }), 'USAGE', reason);
    expect(error.message).toContain(`--allow-domain '${entry}'`);
  });
});

describe('resolveRunPlan: limits', () => {
  it('the profile overrides the defaults; the command line overrides the profile', async () => {
    const cfg = config({ default: { limits: { memory: '1GiB', pids: 256, cpu: 2, timeout: '10m' } } });
    expect((await plan({}, cfg)).limits).toEqual({ memoryBytes: 1024 ** 3, pids: 256, cpu: 2, timeoutMs: 600_000 });
    expect((await plan({ memory: '2GiB', pids: '512', cpu: '1.5', timeout: '90s' }, cfg)).limits).toEqual({
      memoryBytes: 2 * 1024 ** 3,
      pids: 512,
      cpu: 1.5,
      timeoutMs: 90_000,
    });
    expect((await plan({ pids: '100' }, cfg)).limits).toEqual({
      memoryBytes: 1024 ** 3,
      pids: 100,
      cpu: 2,
      timeoutMs: 600_000,
    });
  });

  it.each([
    ['memory', 'lots', /--memory 'lots' is not valid/],
    ['memory', '-1G', /--memory/],
    ['memory', '15MiB', /at least 16MiB/],
    ['memory', '0', /at least 16MiB/],
    ['pids', '15', /at least 16/],
    ['pids', 'many', /--pids 'many' is not valid/],
    ['pids', '1.5', /--pids/],
    ['pids', '-20', /--pids/],
    ['pids', '99999999', /--pids/],
    ['cpu', '0', /--cpu '0' is not valid/],
    ['cpu', '4097', /--cpu/],
    ['cpu', '-1', /--cpu/],
    ['cpu', 'half', /--cpu/],
    ['cpu', '1e2', /--cpu/],
    ['timeout', 'soon', /--timeout 'soon' is not valid/],
    ['timeout', '1h 30m', /--timeout/],
  ])('--%s %j is USAGE', async (flag, value, message) => {
    await expectPlanError(plan({ [flag]: value }), 'USAGE', message);
  });

  it('limits on the command line accept the documented forms', async () => {
    const p = await plan({ memory: '512m', pids: '16', cpu: '0.5', timeout: '1h30m' });
    expect(p.limits).toEqual({ memoryBytes: 512 * 1024 ** 2, pids: 16, cpu: 0.5, timeoutMs: 5_400_000 });
    expect((await plan({ timeout: '30' })).limits.timeoutMs).toBe(30_000);
  });

  it('SBX-15 --timeout 0 is USAGE, as the config refuses a zero timeout (a 0 ms timer kills the run at once)', async () => {
    await expectPlanError(plan({ timeout: '0' }), 'USAGE', /--timeout/);
    await expectPlanError(plan({ timeout: '0s' }), 'USAGE', /--timeout/);
  });

  it('SBX-15 --timeout longer than a Node timer can wait (30d > 2^31-1 ms) is refused rather than killing the run after 1 ms', async () => {
    const result = await plan({ timeout: '30d' }).then(
      (p) => p.limits.timeoutMs,
      (error: unknown) => error,
    );
    if (typeof result === 'number')
      expect(result, `timeoutMs ${result} overflows setTimeout`).toBeLessThanOrEqual(TIMER_MAX_MS);
    else expect(isWardenError(result) && result.code === 'USAGE').toBe(true);
  });
});

describe('resolveRunPlan: environment (SBX-16)', () => {
  const hostEnv = { TERM: 'xterm-256color', HOME: '/root', SECRET_TOKEN: 'host-secret', EMPTY: '' };

  it('SBX-16 nothing from the host enters unless passed', async () => {
    const p = await plan({}, BUILTIN_CONFIG, hostEnv);
    expect(p.env).toEqual({});
  });

  it('SBX-16 env.pass copies named host variables that exist; missing ones are skipped', async () => {
    const p = await plan({}, config({ default: { env: { pass: ['TERM', 'NOT_SET', 'EMPTY'] } } }), hostEnv);
    expect(p.env).toEqual({ TERM: 'xterm-256color', EMPTY: '' });
  });

  it('env.set sets fixed values and wins over env.pass', async () => {
    const p = await plan({}, config({ default: { env: { pass: ['TERM'], set: { TERM: 'dumb', CI: '1' } } } }), hostEnv);
    expect(p.env).toEqual({ TERM: 'dumb', CI: '1' });
  });

  it('--env NAME passes the host value; absent on the host means absent', async () => {
    const p = await plan({ env: ['TERM', 'NOT_SET'] }, BUILTIN_CONFIG, hostEnv);
    expect(p.env).toEqual({ TERM: 'xterm-256color' });
  });

  it('--env NAME=VALUE sets; the value may be empty or contain =', async () => {
    const p = await plan({ env: ['A=1', 'B=', 'C=x=y=z', 'D= spaced '] }, BUILTIN_CONFIG, hostEnv);
    expect(p.env).toEqual({ A: '1', B: '', C: 'x=y=z', D: ' spaced ' });
  });

  it('--env wins over the profile; a later --env wins over an earlier one', async () => {
    const p = await plan(
      { env: ['CI=0', 'TERM', 'X=1', 'X=2'] },
      config({ default: { env: { set: { CI: '1', TERM: 'dumb' } } } }),
      hostEnv,
    );
    expect(p.env).toEqual({ CI: '0', TERM: 'xterm-256color', X: '2' });
  });

  it.each([...RESERVED_ENV, 'WARDEN_RUN_ID', 'WARDEN_SANDBOX', 'WARDEN_X'])(
    'SBX-16 --env %s is refused (warden sets it), in both forms',
    async (name) => {
      await expectPlanError(
        plan({ env: [name] }, BUILTIN_CONFIG, { [name]: 'http://attacker.test' }),
        'USAGE',
        /warden sets this variable itself/,
      );
      await expectPlanError(
        plan({ env: [`${name}=http://attacker.test`] }),
        'USAGE',
        /warden sets this variable itself/,
      );
    },
  );

  it.each(['1BAD', 'A-B', '', '=x', 'A B=1', 'ä=1', 'A\0=1'])(
    '--env %j is USAGE (not a variable name)',
    async (item) => {
      await expectPlanError(plan({ env: [item] }), 'USAGE', /is not a valid variable name/);
    },
  );
});
