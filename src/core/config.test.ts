import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUILTIN_CONFIG, BUILTIN_DEFAULT_PROFILE } from './builtin-config.js';
import { DEFAULT_LIMITS, RESERVED_ENV, deepFreeze } from './config-defaults.js';
import {
  CONFIG_VERSION,
  DEFAULT_PROFILE,
  DEFAULT_SANDBOX_USER,
  configJsonSchema,
  configSchema,
  hostPatternEntry,
  profileSchema,
  type WardenConfig,
} from './config.js';

interface Issue {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

function pathText(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
}

function issues(input: unknown): Issue[] {
  const result = configSchema.safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((i) => ({ path: pathText(i.path), code: i.code, message: i.message }));
}

function parse(input: unknown): WardenConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) throw new Error(`expected the config to parse: ${JSON.stringify(result.error.issues)}`);
  return result.data;
}

/** A config with one profile `p` holding `profile`. */
function withProfile(profile: unknown): unknown {
  return { version: 1, profiles: { p: profile } };
}

/** Expects exactly one issue, at `path`, whose message matches `message`. */
function expectIssue(input: unknown, path: string, message?: RegExp): void {
  const found = issues(input);
  expect(found, `issues: ${JSON.stringify(found)}`).toHaveLength(1);
  expect(found[0]?.path).toBe(path);
  if (message) expect(found[0]?.message).toMatch(message);
}

const TIMER_MAX_MS = 2 ** 31 - 1;

describe('built-in config', () => {
  it('BUILTIN_CONFIG is what the schema makes of the minimal file', () => {
    expect(parse({ version: 1 })).toEqual(BUILTIN_CONFIG);
    expect(BUILTIN_CONFIG.version).toBe(CONFIG_VERSION);
    expect(BUILTIN_CONFIG.sandbox.user).toBe(DEFAULT_SANDBOX_USER);
  });

  it('BUILTIN_CONFIG parses under the schema unchanged (round trip)', () => {
    expect(parse(JSON.parse(JSON.stringify(BUILTIN_CONFIG)))).toEqual(BUILTIN_CONFIG);
  });

  it('BUILTIN_DEFAULT_PROFILE is what the schema makes of a profile with only its description', () => {
    expect(profileSchema.parse({ description: BUILTIN_DEFAULT_PROFILE.description })).toEqual(BUILTIN_DEFAULT_PROFILE);
  });

  it('a config file defining the default profile with only its description gets the built-in profile', () => {
    const config = parse({
      version: 1,
      profiles: { [DEFAULT_PROFILE]: { description: BUILTIN_DEFAULT_PROFILE.description } },
    });
    expect(config.profiles[DEFAULT_PROFILE]).toEqual(BUILTIN_DEFAULT_PROFILE);
  });

  it("the built-in mcp call_timeout (ms) is what the schema makes of '60s'", () => {
    const parsed = profileSchema.parse({ mcp: { call_timeout: '60s' } });
    expect(parsed.mcp.call_timeout).toBe(BUILTIN_DEFAULT_PROFILE.mcp.call_timeout);
  });

  it('the built-in objects are deeply frozen', () => {
    expect(Object.isFrozen(BUILTIN_CONFIG)).toBe(true);
    expect(Object.isFrozen(BUILTIN_CONFIG.sandbox)).toBe(true);
    expect(Object.isFrozen(BUILTIN_CONFIG.profiles)).toBe(true);
    expect(Object.isFrozen(BUILTIN_DEFAULT_PROFILE.filesystem.writable)).toBe(true);
    expect(Object.isFrozen(BUILTIN_DEFAULT_PROFILE.env.set)).toBe(true);
    expect(() => BUILTIN_DEFAULT_PROFILE.network.allow.push('*')).toThrow(TypeError);
  });

  it('the default limits are 4 GiB, 1024 pids and 90% of the host CPUs', () => {
    expect(DEFAULT_LIMITS).toEqual({ memoryBytes: 4 * 1024 ** 3, pids: 1024, cpuShareOfHost: 0.9 });
  });

  it('deepFreeze freezes nested objects and arrays and returns its argument', () => {
    const value = { a: { b: [1, { c: 2 }] } };
    expect(deepFreeze(value)).toBe(value);
    expect(Object.isFrozen(value.a.b)).toBe(true);
    expect(Object.isFrozen(value.a.b[1])).toBe(true);
    expect(deepFreeze(null)).toBeNull();
    expect(deepFreeze(3)).toBe(3);
  });
});

describe('configSchema: a full, valid config', () => {
  it('parses every field, with sizes and durations converted', () => {
    const config = parse({
      version: 1,
      state_dir: '/var/lib/warden',
      sandbox: { user: 'agent_1' },
      profiles: {
        coding: {
          description: 'Coding agent',
          filesystem: {
            read_only: ['/opt/tools', 'docs'],
            writable: ['/srv/cache/x', 'build'],
            deny: ['.env', 'secrets/'],
          },
          network: { allow: ['api.github.com', '*.npmjs.org', 'host.test:8443', '[2001:db8::1]:443', '203.0.113.7:*'] },
          limits: { memory: '2GiB', pids: 256, cpu: 1.5, timeout: '1h30m' },
          env: { pass: ['TERM', 'LANG'], set: { CI: '1', EMPTY: '' } },
        },
        'ci-2_b': {},
      },
    });
    const coding = config.profiles.coding;
    expect(coding?.limits).toEqual({ memory: 2 * 1024 ** 3, pids: 256, cpu: 1.5, timeout: 5_400_000 });
    expect(coding?.filesystem.deny).toEqual(['.env', 'secrets/']);
    expect(coding?.env.set).toEqual({ CI: '1', EMPTY: '' });
    expect(config.profiles['ci-2_b']).toMatchObject({
      filesystem: { read_only: [], writable: [], deny: [] },
      network: { allow: [] },
      limits: {},
      env: { pass: [], set: {} },
    });
    expect(config.profiles['ci-2_b']?.description).toBeUndefined();
  });

  it('limits accept plain numbers: bytes for memory, seconds for timeout', () => {
    expect(parse(withProfile({ limits: { memory: 16 * 1024 * 1024, timeout: 90 } })).profiles.p?.limits).toEqual({
      memory: 16 * 1024 * 1024,
      timeout: 90_000,
    });
    expect(parse(withProfile({ limits: { timeout: 0.5 } })).profiles.p?.limits.timeout).toBe(500);
  });
});

describe('configSchema: every bad field is an issue naming its path', () => {
  it.each([
    ['missing version', {}, 'version'],
    ['version 2', { version: 2 }, 'version'],
    ['version as string', { version: '1' }, 'version'],
    ['relative state_dir', { version: 1, state_dir: 'state' }, 'state_dir'],
    ['over-long state_dir', { version: 1, state_dir: `/${'a'.repeat(1024)}` }, 'state_dir'],
    ['upper-case sandbox user', { version: 1, sandbox: { user: 'Root' } }, 'sandbox.user'],
    ['sandbox user with a slash', { version: 1, sandbox: { user: '../x' } }, 'sandbox.user'],
    ['over-long sandbox user', { version: 1, sandbox: { user: 'a'.repeat(33) } }, 'sandbox.user'],
    ['profiles as a list', { version: 1, profiles: [] }, 'profiles'],
    ['profile as a string', { version: 1, profiles: { p: 'x' } }, 'profiles.p'],
    ['profile name with a space', { version: 1, profiles: { 'Bad Name': {} } }, 'profiles.Bad Name'],
    ['profile name with upper case', { version: 1, profiles: { Coding: {} } }, 'profiles.Coding'],
    ['profile name starting with -', { version: 1, profiles: { '-x': {} } }, 'profiles.-x'],
    ['profile name over 64 chars', { version: 1, profiles: { ['a'.repeat(65)]: {} } }, `profiles.${'a'.repeat(65)}`],
    ['description over 500 chars', withProfile({ description: 'x'.repeat(501) }), 'profiles.p.description'],
    ['read_only not a list', withProfile({ filesystem: { read_only: '/opt' } }), 'profiles.p.filesystem.read_only'],
    [
      'read_only entry not a string',
      withProfile({ filesystem: { read_only: [1] } }),
      'profiles.p.filesystem.read_only[0]',
    ],
    ['empty path', withProfile({ filesystem: { read_only: [''] } }), 'profiles.p.filesystem.read_only[0]'],
    [
      'relative path with ..',
      withProfile({ filesystem: { read_only: ['ok', '../outside'] } }),
      'profiles.p.filesystem.read_only[1]',
    ],
    [
      'relative path with .. inside',
      withProfile({ filesystem: { deny: ['a/../../b'] } }),
      'profiles.p.filesystem.deny[0]',
    ],
    ['~ path', withProfile({ filesystem: { writable: ['~/.cache'] } }), 'profiles.p.filesystem.writable[0]'],
    ['NUL in a path', withProfile({ filesystem: { deny: ['a\0b'] } }), 'profiles.p.filesystem.deny[0]'],
    [
      'over-long path',
      withProfile({ filesystem: { deny: [`/${'a'.repeat(4096)}`] } }),
      'profiles.p.filesystem.deny[0]',
    ],
    [
      'too many paths',
      withProfile({ filesystem: { deny: Array.from({ length: 257 }, (_, i) => `/x${i}`) } }),
      'profiles.p.filesystem.deny',
    ],
    ['allow not a list', withProfile({ network: { allow: 'example.com' } }), 'profiles.p.network.allow'],
    ['allow entry not a string', withProfile({ network: { allow: [443] } }), 'profiles.p.network.allow[0]'],
    [
      'too many allow entries',
      withProfile({ network: { allow: Array.from({ length: 1025 }, (_, i) => `h${i}.test`) } }),
      'profiles.p.network.allow',
    ],
    ['memory not a size', withProfile({ limits: { memory: 'lots' } }), 'profiles.p.limits.memory'],
    ['memory below 16MiB', withProfile({ limits: { memory: '15MiB' } }), 'profiles.p.limits.memory'],
    ['memory zero', withProfile({ limits: { memory: 0 } }), 'profiles.p.limits.memory'],
    ['memory fractional bytes', withProfile({ limits: { memory: 1.5 * 1024 ** 3 + 0.5 } }), 'profiles.p.limits.memory'],
    ['memory negative', withProfile({ limits: { memory: -1 } }), 'profiles.p.limits.memory'],
    ['memory beyond MAX_SAFE_INTEGER', withProfile({ limits: { memory: 1e300 } }), 'profiles.p.limits.memory'],
    ['memory as a list', withProfile({ limits: { memory: ['1GiB'] } }), 'profiles.p.limits.memory'],
    ['pids below 16', withProfile({ limits: { pids: 15 } }), 'profiles.p.limits.pids'],
    ['pids above the kernel maximum', withProfile({ limits: { pids: 4_194_305 } }), 'profiles.p.limits.pids'],
    ['pids fractional', withProfile({ limits: { pids: 100.5 } }), 'profiles.p.limits.pids'],
    ['pids as a string', withProfile({ limits: { pids: '100' } }), 'profiles.p.limits.pids'],
    ['cpu zero', withProfile({ limits: { cpu: 0 } }), 'profiles.p.limits.cpu'],
    ['cpu negative', withProfile({ limits: { cpu: -1 } }), 'profiles.p.limits.cpu'],
    ['cpu too large', withProfile({ limits: { cpu: 4097 } }), 'profiles.p.limits.cpu'],
    ['timeout not a duration', withProfile({ limits: { timeout: 'soon' } }), 'profiles.p.limits.timeout'],
    ['timeout zero seconds', withProfile({ limits: { timeout: 0 } }), 'profiles.p.limits.timeout'],
    ['timeout "0s"', withProfile({ limits: { timeout: '0s' } }), 'profiles.p.limits.timeout'],
    ['timeout negative', withProfile({ limits: { timeout: -5 } }), 'profiles.p.limits.timeout'],
    ['env.pass not a list', withProfile({ env: { pass: 'TERM' } }), 'profiles.p.env.pass'],
    ['env.pass bad name', withProfile({ env: { pass: ['1BAD'] } }), 'profiles.p.env.pass[0]'],
    ['env.pass name with =', withProfile({ env: { pass: ['A=B'] } }), 'profiles.p.env.pass[0]'],
    ['env.set bad name', withProfile({ env: { set: { 'A-B': 'x' } } }), 'profiles.p.env.set.A-B'],
    ['env.set non-string value', withProfile({ env: { set: { A: 1 } } }), 'profiles.p.env.set.A'],
    ['env.set over-long value', withProfile({ env: { set: { A: 'x'.repeat(32_769) } } }), 'profiles.p.env.set.A'],
  ])('%s', (_what, input, path) => {
    expectIssue(input, path);
  });

  it('the first-level messages say how to fix the value', () => {
    expectIssue({ version: 1, state_dir: 'state' }, 'state_dir', /absolute path/);
    expectIssue(
      withProfile({ filesystem: { read_only: ['../x'] } }),
      'profiles.p.filesystem.read_only[0]',
      /no '\.\.'/,
    );
    expectIssue(
      withProfile({ filesystem: { read_only: ['~/x'] } }),
      'profiles.p.filesystem.read_only[0]',
      /absolute path/,
    );
    expectIssue(withProfile({ filesystem: { read_only: ['a\0'] } }), 'profiles.p.filesystem.read_only[0]', /NUL/);
    expectIssue(
      withProfile({ limits: { memory: 'lots' } }),
      'profiles.p.limits.memory',
      /'lots' is not a size; write e\.g\. 512MiB/,
    );
    expectIssue(withProfile({ limits: { memory: '1MiB' } }), 'profiles.p.limits.memory', /at least 16MiB/);
    expectIssue(
      withProfile({ limits: { timeout: 'soon' } }),
      'profiles.p.limits.timeout',
      /'soon' is not a duration; write e\.g\. 90s/,
    );
    expectIssue(
      withProfile({ env: { pass: ['1BAD'] } }),
      'profiles.p.env.pass[0]',
      /not a valid environment variable name/,
    );
  });

  it('reports every bad field at once, each at its own path', () => {
    const found = issues(withProfile({ limits: { memory: '1MiB', pids: 3, cpu: 0, timeout: 'soon' } })).map(
      (i) => i.path,
    );
    expect(found.sort()).toEqual([
      'profiles.p.limits.cpu',
      'profiles.p.limits.memory',
      'profiles.p.limits.pids',
      'profiles.p.limits.timeout',
    ]);
  });

  it('the relative-path rule allows absolute paths with .. (they are resolved, not confined) and names with dots', () => {
    expect(issues(withProfile({ filesystem: { read_only: ['/opt/x/../y', '..hidden', 'a/..b', '.env'] } }))).toEqual(
      [],
    );
  });
});

describe('configSchema: unknown keys are refused at every level', () => {
  it.each([
    ['top level', { version: 1, extra: true }, ''],
    ['sandbox', { version: 1, sandbox: { user: 'x', uid: 0 } }, 'sandbox'],
    ['profile', withProfile({ netwrok: {} }), 'profiles.p'],
    ['filesystem', withProfile({ filesystem: { readonly: [] } }), 'profiles.p.filesystem'],
    ['network', withProfile({ network: { deny: [] } }), 'profiles.p.network'],
    ['limits', withProfile({ limits: { memroy: '1GiB' } }), 'profiles.p.limits'],
    ['env', withProfile({ env: { inherit: true } }), 'profiles.p.env'],
  ])('%s', (_where, input, path) => {
    const found = issues(input);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ path, code: 'unrecognized_keys' });
  });

  it('__proto__ and constructor are unknown keys, not prototype tricks', () => {
    const input: unknown = JSON.parse('{"version":1,"__proto__":{"state_dir":"/x"},"constructor":1}');
    const found = issues(input);
    expect(found.some((i) => i.code === 'unrecognized_keys')).toBe(true);
    const polluted: unknown = JSON.parse('{"version":1,"profiles":{"p":{"limits":{"__proto__":{"pids":1}}}}}');
    expect(issues(polluted).length).toBeGreaterThan(0);
  });
});

describe('configSchema: filesystem.writable refuses system directories (SBX-05, NEVER_WRITABLE)', () => {
  const SYSTEM = [
    '/',
    '/usr',
    '/etc',
    '/bin',
    '/sbin',
    '/lib',
    '/lib32',
    '/lib64',
    '/boot',
    '/proc',
    '/sys',
    '/dev',
    '/run',
    '/var',
    '/home',
    '/root',
    '/opt',
    '/srv',
  ];

  it.each(SYSTEM)('SBX-05 %s cannot be writable', (dir) => {
    expectIssue(
      withProfile({ filesystem: { writable: [dir] } }),
      'profiles.p.filesystem.writable',
      /system directory cannot be writable.*narrower/,
    );
  });

  it.each(['/usr/', '/etc//', '//', '///'])('SBX-05 trailing slashes do not get past the refusal: %j', (dir) => {
    expectIssue(withProfile({ filesystem: { writable: [dir] } }), 'profiles.p.filesystem.writable');
  });

  it('SBX-05 one system directory in a list of fine ones is still refused', () => {
    expectIssue(
      withProfile({ filesystem: { writable: ['/srv/data/x', 'build', '/etc'] } }),
      'profiles.p.filesystem.writable',
    );
  });

  it.each(['/usr/local/cache', '/home/user/project', '/var/tmp/x', '/opt/tools/cache', 'etc', 'usr', 'build'])(
    'SBX-05 the narrower or workspace-relative %j is fine',
    (dir) => {
      expect(issues(withProfile({ filesystem: { writable: [dir] } }))).toEqual([]);
    },
  );

  it('SBX-05 read_only and deny may name system directories', () => {
    expect(issues(withProfile({ filesystem: { read_only: ['/etc', '/opt'], deny: ['/usr'] } }))).toEqual([]);
  });

  it.each(['//etc', '/./etc', '/etc/.', '/usr/../usr', '/tmp/../etc'])(
    'SBX-05 another spelling of a system directory is refused too: %j',
    (dir) => {
      expectIssue(
        withProfile({ filesystem: { writable: [dir] } }),
        'profiles.p.filesystem.writable',
        /system directory/,
      );
    },
  );
});

describe('configSchema: network.allow (NET-08)', () => {
  it('NET-08 accepts the documented entry forms', () => {
    const allow = [
      'api.example.com',
      'host.test:8443',
      'host.test:*',
      '*.example.com',
      '203.0.113.7:443',
      '[2001:db8::1]:443',
      '*.example.co.uk',
    ];
    expect(parse(withProfile({ network: { allow } })).profiles.p?.network.allow).toEqual(allow);
  });

  it.each([
    ['*', /every host/],
    ['*.com', /top-level domain/],
    ['*.co.uk', /public suffix/],
    ['*.github.io', /public suffix/],
    ['http://example.com', /not a URL/],
    ['2001:db8::1', /brackets/],
    ['example.com:0', /between 1 and 65535/],
    ['0.0.0.0', /unspecified/],
    ['a.*.com', /leading/],
  ])('NET-08 refuses %j, quoting the entry, at its index', (entry, reason) => {
    expectIssue(withProfile({ network: { allow: ['ok.example.com', entry] } }), 'profiles.p.network.allow[1]', reason);
    expect(
      issues(withProfile({ network: { allow: ['ok.example.com', entry] } }))[0]?.message.startsWith(`'${entry}': `),
    ).toBe(true);
  });

  it('NET-08 hostPatternEntry on its own validates one entry', () => {
    expect(hostPatternEntry.safeParse('*.npmjs.org').success).toBe(true);
    expect(hostPatternEntry.safeParse('*.co.uk').success).toBe(false);
    expect(hostPatternEntry.safeParse(7).success).toBe(false);
  });
});

describe('configSchema: env (SBX-16)', () => {
  it.each([...RESERVED_ENV, 'WARDEN_RUN_ID', 'WARDEN_SANDBOX', 'WARDEN_ANYTHING'])(
    'SBX-16 %s may not be passed or set by a profile',
    (name) => {
      expectIssue(withProfile({ env: { pass: [name] } }), 'profiles.p.env', /set by warden/);
      expectIssue(withProfile({ env: { set: { [name]: 'http://attacker.test' } } }), 'profiles.p.env', /set by warden/);
    },
  );

  it('SBX-16 the reserved list covers every proxy variable spelling', () => {
    for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY']) {
      expect(RESERVED_ENV).toContain(name);
      expect(RESERVED_ENV).toContain(name.toLowerCase());
    }
    expect(RESERVED_ENV).toContain('NODE_USE_ENV_PROXY');
  });

  it('SBX-16 ordinary names are fine, including ones that merely contain PROXY', () => {
    expect(
      issues(withProfile({ env: { pass: ['TERM', 'MY_HTTP_PROXY_HOST'], set: { _X: '1', warden_lower: 'x' } } })),
    ).toEqual([]);
  });
});

describe('configSchema: limits', () => {
  it.each([
    ['16MiB', 16 * 1024 ** 2],
    ['512m', 512 * 1024 ** 2],
    ['2GiB', 2 * 1024 ** 3],
    ['1.5GB', 1_500_000_000],
  ])('memory %s is %i bytes', (memory, bytes) => {
    expect(parse(withProfile({ limits: { memory } })).profiles.p?.limits.memory).toBe(bytes);
  });

  it('pids and cpu bounds are inclusive', () => {
    expect(parse(withProfile({ limits: { pids: 16, cpu: 4096 } })).profiles.p?.limits).toEqual({ pids: 16, cpu: 4096 });
    expect(parse(withProfile({ limits: { pids: 4_194_304, cpu: 0.01 } })).profiles.p?.limits).toEqual({
      pids: 4_194_304,
      cpu: 0.01,
    });
  });

  it.each([
    ['30d', '30 days in ms exceeds the 2^31-1 ms a Node timer can wait; Node fires it after 1 ms'],
    ['25d', '25 days'],
    ['596h', '596 hours'],
    [1e306, 'a number of seconds whose milliseconds overflow to Infinity'],
    ['99999999999999999999999d', 'a duration beyond Number.MAX_SAFE_INTEGER'],
  ])(
    'SBX-15 a timeout longer than a timer can wait (%j) is refused rather than firing at once (%s)',
    (timeout, _why) => {
      const result = configSchema.safeParse(withProfile({ limits: { timeout } }));
      if (result.success) {
        const ms = result.data.profiles.p?.limits.timeout;
        expect(
          ms !== undefined && Number.isSafeInteger(ms) && ms > 0 && ms <= TIMER_MAX_MS,
          `timeout parsed to ${String(ms)} ms`,
        ).toBe(true);
      } else {
        expect(result.error.issues[0]?.path).toEqual(['profiles', 'p', 'limits', 'timeout']);
      }
    },
  );

  it('SBX-15 24 days still fits a timer and is accepted', () => {
    expect(parse(withProfile({ limits: { timeout: '24d' } })).profiles.p?.limits.timeout).toBe(24 * 86_400_000);
  });
});

describe('configSchema: servers and mcp grants', () => {
  const servers = { fs: { command: 'mcp-fs', args: ['${workspace}'] }, web: { url: 'https://mcp.example.com/mcp' } };
  const withGrant = (mcp: unknown): unknown => ({ version: 1, servers, profiles: { p: { mcp } } });

  it('parses servers and grants, filling defaults', () => {
    const config = parse(
      withGrant({
        allow: [{ server: 'fs', tools: ['read_*'] }],
        deny: [{ server: 'web', tools: ['*'], when: { url: { host_in: ['*.example.com'] } } }],
        call_timeout: '30s',
      }),
    );
    expect(config.servers.fs).toMatchObject({ command: 'mcp-fs', args: ['${workspace}'], workspace: 'none' });
    expect(config.profiles.p?.mcp).toMatchObject({
      allow: [{ server: 'fs', tools: ['read_*'], prompts: [], resources: [], when: {} }],
      call_timeout: 30_000,
      relay: {},
      required: [],
    });
    expect(
      parse(withGrant({ allow: [{ server: 'fs', tools: ['x'] }], required: ['fs'] })).profiles.p?.mcp.required,
    ).toEqual(['fs']);
    expect(
      parse(withGrant({ allow: [{ server: 'fs', tools: ['x'] }], relay: { fs: ['sampling', 'roots'] } })).profiles.p
        ?.mcp.relay,
    ).toEqual({ fs: ['sampling', 'roots'] });
  });

  it.each([
    [
      'a grant naming an unknown server',
      withGrant({ allow: [{ server: 'nope', tools: ['x'] }] }),
      'profiles.p.mcp.allow[0].server',
      /no server 'nope' in servers \(known: fs, web\)/,
    ],
    [
      'a deny grant naming an unknown server',
      withGrant({ deny: [{ server: 'nope', tools: ['x'] }] }),
      'profiles.p.mcp.deny[0].server',
      /no server 'nope'/,
    ],
    [
      'a grant naming a built-in object key as server',
      withGrant({ allow: [{ server: 'constructor', tools: ['x'] }] }),
      'profiles.p.mcp.allow[0].server',
      /no server 'constructor'/,
    ],
    [
      'a grant that grants nothing',
      withGrant({ allow: [{ server: 'fs' }] }),
      'profiles.p.mcp.allow[0]',
      /at least one of tools, prompts, resources/,
    ],
    [
      'a bad tool name',
      withGrant({ allow: [{ server: 'fs', tools: ['bad name'] }] }),
      'profiles.p.mcp.allow[0].tools[0]',
      /not a tool name/,
    ],
    [
      'two kinds in one argument condition',
      withGrant({ allow: [{ server: 'fs', tools: ['x'], when: { path: { under: ['/w'], one_of: ['a'] } } }] }),
      'profiles.p.mcp.allow[0].when.path',
      /exactly one of/,
    ],
    [
      'NET-08 a too-broad host_in',
      withGrant({ allow: [{ server: 'fs', tools: ['x'], when: { url: { host_in: ['*.com'] } } }] }),
      'profiles.p.mcp.allow[0].when.url.host_in[0]',
      /top-level domain/,
    ],
    ['a bad call_timeout', withGrant({ call_timeout: 'soon' }), 'profiles.p.mcp.call_timeout', /not a duration/],
    [
      'relay for an unknown server',
      withGrant({ relay: { nope: ['sampling'] } }),
      'profiles.p.mcp.relay.nope',
      /no server 'nope'/,
    ],
    [
      'relay of an unknown feature',
      withGrant({ relay: { fs: ['telepathy'] } }),
      'profiles.p.mcp.relay.fs[0]',
      undefined,
    ],
    [
      'a required server the profile does not grant',
      withGrant({ allow: [{ server: 'fs', tools: ['x'] }], required: ['web'] }),
      'profiles.p.mcp.required[0]',
      /'web' is not granted by this profile's mcp.allow/,
    ],
    ['an unknown mcp key', withGrant({ alow: [] }), 'profiles.p.mcp', undefined],
    ['a server name with _', { version: 1, servers: { my_srv: { command: 'x' } } }, 'servers.my_srv', undefined],
    [
      'a server with both command and url',
      { version: 1, servers: { a: { command: 'x', url: 'https://x.test/mcp' } } },
      'servers.a',
      /one of command .* url .* or catalog/,
    ],
    [
      'a server with neither command nor url',
      { version: 1, servers: { a: {} } },
      'servers.a',
      /one of command .* url .* or catalog/,
    ],
    [
      'a non-http server url',
      { version: 1, servers: { a: { url: 'ftp://x.test/' } } },
      'servers.a.url',
      /http\(s\) URL/,
    ],
    [
      'a wildcard server url',
      { version: 1, servers: { a: { url: 'https://*.example.com/mcp' } } },
      'servers.a.url',
      /one host, not a wildcard/,
    ],
    [
      'headers on a stdio server',
      { version: 1, servers: { a: { command: 'x', headers: { Authorization: { from_env: 'T' } } } } },
      'servers.a',
      /remote \(url\) server only/,
    ],
    [
      'a reserved header',
      { version: 1, servers: { a: { url: 'https://x.test/mcp', headers: { Host: { from_env: 'T' } } } } },
      'servers.a.headers.Host',
      /set by the MCP transport or the proxy/,
    ],
    [
      'a header value in the file',
      { version: 1, servers: { a: { url: 'https://x.test/mcp', headers: { Authorization: 'Bearer x' } } } },
      'servers.a.headers.Authorization',
      undefined,
    ],
    [
      'a bad workspace mode',
      { version: 1, servers: { a: { command: 'x', workspace: 'rw' } } },
      'servers.a.workspace',
      undefined,
    ],
    [
      'a NUL in a server argument',
      { version: 1, servers: { a: { command: 'x', args: ['a\0b'] } } },
      'servers.a.args[0]',
      /NUL/,
    ],
    [
      'SBX-16 a server passing a proxy variable',
      { version: 1, servers: { a: { command: 'x', env: { pass: ['HTTPS_PROXY'] } } } },
      'servers.a.env',
      /set by warden/,
    ],
    [
      'SBX-05 a server with a writable system directory',
      { version: 1, servers: { a: { command: 'x', filesystem: { writable: ['/etc'] } } } },
      'servers.a.filesystem.writable',
      /system directory/,
    ],
  ])('%s', (_what, input, path, message) => {
    expectIssue(input, path, message);
  });
});

describe('configJsonSchema', () => {
  const committedPath = new URL('../../schema/warden.schema.json', import.meta.url);

  it('matches the committed schema/warden.schema.json byte for byte (as `warden config schema` prints it for scripts/build.mjs)', () => {
    // scripts/build.mjs writes the stdout of `warden config schema`, which is printJson: 2-space JSON plus a newline.
    expect(readFileSync(committedPath, 'utf8')).toBe(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  });

  it('is a draft 2020-12 schema with an id and title', () => {
    const schema = configJsonSchema();
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe('https://github.com/warden-dev/warden/schema/warden.schema.json');
    expect(schema.title).toBe('warden.yaml');
    expect(schema.type).toBe('object');
  });

  it('refuses unknown keys (additionalProperties: false) on every object, like the zod schema', () => {
    const schema = configJsonSchema() as {
      additionalProperties?: unknown;
      properties: Record<string, { additionalProperties?: unknown; properties?: unknown }>;
    };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.sandbox?.additionalProperties).toBe(false);
    const profile = schema.properties.profiles?.additionalProperties as {
      additionalProperties?: unknown;
      properties: Record<string, { additionalProperties?: unknown }>;
    };
    expect(profile.additionalProperties).toBe(false);
    for (const section of ['filesystem', 'network', 'limits', 'env'])
      expect(profile.properties[section]?.additionalProperties, section).toBe(false);
  });

  it('every property carries a description for editors', () => {
    const missing: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (node === null || typeof node !== 'object') return;
      const props = (node as { properties?: Record<string, unknown> }).properties;
      if (props) {
        for (const [name, child] of Object.entries(props)) {
          const description = (child as { description?: unknown }).description;
          if (typeof description !== 'string' || description.length === 0) missing.push(`${path}.${name}`);
          walk(child, `${path}.${name}`);
        }
      }
      const additional = (node as { additionalProperties?: unknown }).additionalProperties;
      if (typeof additional === 'object') walk(additional, `${path}.*`);
    };
    walk(configJsonSchema(), '$');
    expect(missing).toEqual([]);
  });

  it('uses only the standard JSON Schema formats (validators such as Ajv refuse unknown ones)', () => {
    const standard = new Set([
      'date-time',
      'date',
      'time',
      'duration',
      'email',
      'idn-email',
      'hostname',
      'idn-hostname',
      'ipv4',
      'ipv6',
      'uri',
      'uri-reference',
      'iri',
      'iri-reference',
      'uuid',
      'uri-template',
      'json-pointer',
      'relative-json-pointer',
      'regex',
    ]);
    const formats: string[] = [];
    const walk = (node: unknown): void => {
      if (node === null || typeof node !== 'object') return;
      for (const [key, value] of Object.entries(node)) {
        if (key === 'format' && typeof value === 'string') formats.push(value);
        else walk(value);
      }
    };
    walk(configJsonSchema());
    expect(formats.filter((f) => !standard.has(f))).toEqual([]);
  });
});
