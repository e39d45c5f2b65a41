/**
 * Bad configuration of every kind gets a clear error and exit 2, and nothing runs. The error
 * names the file, the position, the path inside the file and how to fix it.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giveToSandbox, makeWorkspace, removeWorkspace, REPO, warden } from '../helpers/warden.js';

let workspace = '';
beforeAll(() => {
  workspace = makeWorkspace('root');
});
afterAll(() => removeWorkspace(workspace));

/** Writes warden.yaml, runs `warden run -- touch ran` and `warden config check`, returns both. */
async function tryConfig(yaml: string | Buffer) {
  writeFileSync(join(workspace, 'warden.yaml'), yaml);
  giveToSandbox('root', join(workspace, 'warden.yaml'));
  const run = await warden('root', ['run', '--', '/bin/sh', '-c', 'touch ran'], { cwd: workspace });
  const check = await warden('root', ['config', 'check'], { cwd: workspace });
  expect(existsSync(join(workspace, 'ran')), 'the command must not run with a bad config').toBe(false);
  return { run, check };
}

const cases: { name: string; yaml: string; message: RegExp }[] = [
  { name: 'not YAML', yaml: 'version: 1\nprofiles: [unclosed\n', message: /warden\.yaml:\d+:\d+: .*/ },
  { name: 'a duplicate key', yaml: 'version: 1\nversion: 1\n', message: /warden\.yaml:2:1: .*(duplicate|unique)/i },
  { name: 'an empty file', yaml: '', message: /the file is empty.*|version/ },
  { name: 'a missing version', yaml: 'profiles: {}\n', message: /\(top level\)|version: expected 1|version/ },
  { name: 'another version', yaml: 'version: 2\n', message: /warden\.yaml:1:\d+ version: must be 1/ },
  { name: 'an unknown top-level field', yaml: 'version: 1\nprofile: {}\n', message: /unknown field 'profile'/ },
  {
    name: 'an unknown profile field',
    yaml: 'version: 1\nprofiles:\n  coding:\n    netwrk: {}\n',
    message: /warden\.yaml:4:5 profiles\.coding: unknown field 'netwrk'/,
  },
  {
    name: 'a wrong type',
    yaml: 'version: 1\nprofiles:\n  coding:\n    limits:\n      pids: many\n',
    message: /warden\.yaml:5:\d+ profiles\.coding\.limits\.pids: expected number/,
  },
  {
    name: 'an unquoted *.host (a YAML alias)',
    yaml: 'version: 1\nprofiles:\n  coding:\n    network:\n      allow:\n        - *.npmjs.org\n',
    message: /warden\.yaml:6:11: \*\.npmjs\.org is read as a YAML alias[^]*quote it: "\*\.npmjs\.org"/,
  },
  {
    name: 'a profile field indented as a profile',
    yaml: 'version: 1\nprofiles:\n  coding:\n    network: { allow: [a.com] }\n  limits: {}\n',
    message: /warden\.yaml:5:3 profiles\.limits: 'limits' is a field of a profile, not a profile name/,
  },
  {
    name: "'*' in the allow-list",
    yaml: "version: 1\nprofiles:\n  coding:\n    network:\n      allow: ['*']\n",
    message: /profiles\.coding\.network\.allow\[0\]: '\*': '\*' would allow every host/,
  },
  {
    name: "'*.com' in the allow-list",
    yaml: "version: 1\nprofiles:\n  coding:\n    network:\n      allow: ['*.com']\n",
    message: /allow\[0\].*top-level domain/,
  },
  {
    name: "'*.co.uk' in the allow-list",
    yaml: "version: 1\nprofiles:\n  coding:\n    network:\n      allow: [api.example.com, '*.co.uk']\n",
    message: /allow\[1\].*public suffix/,
  },
  {
    name: 'a URL in the allow-list',
    yaml: "version: 1\nprofiles:\n  coding:\n    network:\n      allow: ['https://api.example.com/v1']\n",
    message: /write a host, not a URL/,
  },
  {
    name: 'a bad port',
    yaml: "version: 1\nprofiles:\n  coding:\n    network:\n      allow: ['api.example.com:99999']\n",
    message: /port/,
  },
  {
    name: 'a writable system directory',
    yaml: 'version: 1\nprofiles:\n  coding:\n    filesystem:\n      writable: [/usr]\n',
    message: /system directory cannot be writable/,
  },
  {
    name: 'a relative path escaping the workspace',
    yaml: 'version: 1\nprofiles:\n  coding:\n    filesystem:\n      read_only: [../other]\n',
    message: /stay inside the workspace/,
  },
  {
    name: 'a ~ path',
    yaml: 'version: 1\nprofiles:\n  coding:\n    filesystem:\n      read_only: [~/.aws]\n',
    message: /'~' is not expanded/,
  },
  {
    name: 'a reserved env name',
    yaml: 'version: 1\nprofiles:\n  coding:\n    env:\n      set: { HTTPS_PROXY: http://evil }\n',
    message: /HTTPS_PROXY is set by warden/,
  },
  {
    name: 'an invalid env name',
    yaml: "version: 1\nprofiles:\n  coding:\n    env:\n      pass: ['BAD NAME']\n",
    message: /not a valid environment variable name/,
  },
  {
    name: 'a bad memory size',
    yaml: 'version: 1\nprofiles:\n  coding:\n    limits:\n      memory: lots\n',
    message: /'lots' is not a size/,
  },
  {
    name: 'a tiny memory limit',
    yaml: 'version: 1\nprofiles:\n  coding:\n    limits:\n      memory: 1MiB\n',
    message: /at least 16MiB/,
  },
  {
    name: 'a bad duration',
    yaml: 'version: 1\nprofiles:\n  coding:\n    limits:\n      timeout: soon\n',
    message: /'soon' is not a duration/,
  },
  {
    name: 'a bad profile name',
    yaml: 'version: 1\nprofiles:\n  Coding Agent: {}\n',
    message: /profile names are lower-case/,
  },
  {
    name: 'a bad sandbox user',
    yaml: 'version: 1\nsandbox:\n  user: "root; rm -rf /"\n',
    message: /not a valid user name/,
  },
];

describe('config errors', () => {
  it.each(cases)('$name is refused with exit 2 and a clear message', async ({ yaml, message }) => {
    const { run, check } = await tryConfig(yaml);
    expect(run.code, run.stderr).toBe(2);
    expect(check.code, check.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/fix: /);
    expect(run.stderr).toMatch(/\(CONFIG_(INVALID|PARSE)/);
  });

  it('a config larger than 1 MiB is refused', async () => {
    const { run } = await tryConfig(`version: 1\n# ${'x'.repeat(1024 * 1024)}\n`);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/larger than 1048576 bytes/);
  });

  it('a file that is not UTF-8 is refused', async () => {
    const { run } = await tryConfig(Buffer.from([0x76, 0x65, 0x72, 0x3a, 0x20, 0xff, 0xfe, 0x0a]));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/not valid UTF-8/);
  });

  it('an unknown --profile is refused and the defined profiles are listed', async () => {
    writeFileSync(join(workspace, 'warden.yaml'), 'version: 1\nprofiles:\n  coding: {}\n  research: {}\n');
    const run = await warden('root', ['run', '--profile', 'codin', '--', '/bin/true'], { cwd: workspace });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/profile 'codin' is not defined/);
    expect(run.stderr).toMatch(/defined profiles: coding, research/);
  });

  it('a missing --config file is refused', async () => {
    const run = await warden('root', ['--config', 'nope.yaml', 'run', '--', '/bin/true'], { cwd: workspace });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/nope\.yaml does not exist/);
  });

  it.each([
    [['--memory', 'lots'], /--memory 'lots' is not valid/],
    [['--pids', '-3'], /--pids '-3' is not valid/],
    [['--pids', '4194305'], /--pids '4194305' is not valid.*\n.*at most 4194304/],
    [['--cpu', '0'], /--cpu '0' is not valid/],
    [['--timeout', 'soon'], /--timeout 'soon' is not valid/],
    [['--allow-domain', '*'], /--allow-domain '\*'/],
    [['--allow-domain', '*.co.uk'], /public suffix/],
    [['--env', 'HTTP_PROXY=x'], /warden sets this variable itself/],
    [['--env', '1BAD'], /not a valid variable name/],
    [['--no-such-flag'], /unknown option/],
  ])('bad flags %j are refused with exit 2', async (flags, message) => {
    writeFileSync(join(workspace, 'warden.yaml'), 'version: 1\n');
    const run = await warden('root', ['run', ...flags, '--', '/bin/sh', '-c', 'touch ran'], { cwd: workspace });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(existsSync(join(workspace, 'ran'))).toBe(false);
  });

  it('`run --json WORD CMD` without `--` is refused: WORD could be the file or the command', async () => {
    writeFileSync(join(workspace, 'warden.yaml'), 'version: 1\n');
    // A global option first, so the harness does not add its own --json FILE.
    const run = await warden('root', ['--config', 'warden.yaml', 'run', '--json', 'touch', 'ran'], { cwd: workspace });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/'--json touch' is ambiguous without '--'/);
    expect(existsSync(join(workspace, 'touch')), 'no summary file may be written').toBe(false);
    expect(existsSync(join(workspace, 'ran'))).toBe(false);
  });

  it('a valid config runs and `config check` lists its profiles', async () => {
    writeFileSync(
      join(workspace, 'warden.yaml'),
      "version: 1\nprofiles:\n  coding:\n    network:\n      allow: ['*.npmjs.org', 'api.github.com:443']\n    limits: { memory: 1GiB, pids: 256, cpu: 1, timeout: 10m }\n    env: { pass: [TERM], set: { CI: '1' } }\n",
    );
    const check = await warden('root', ['config', 'check'], { cwd: workspace });
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/ok; profiles: default, coding/);
    const run = await warden('root', ['run', '--profile', 'coding', '--', '/bin/sh', '-c', 'echo CI=$CI'], {
      cwd: workspace,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('CI=1\n');
  });

  it('a grant naming a tool its server does not have is warned about by `config check --servers` and `tools ls`', async () => {
    const modules = join(REPO, 'node_modules');
    writeFileSync(
      join(workspace, 'warden.yaml'),
      `version: 1
servers:
  everything:
    command: node
    args: [${JSON.stringify(join(modules, '@modelcontextprotocol/server-everything/dist/index.js'))}, stdio]
    filesystem: { read_only: [${JSON.stringify(modules)}] }
profiles:
  default:
    mcp:
      allow:
        - server: everything
          tools: [echo, ech0, 'get-*', 'nope-*']
`,
    );
    const plain = await warden('root', ['config', 'check'], { cwd: workspace });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain('config check --servers');
    for (const args of [
      ['config', 'check', '--servers'],
      ['tools', 'ls'],
    ]) {
      const r = await warden('root', args, { cwd: workspace });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(
        "warning: profiles.default.mcp.allow[0]: 'ech0' is not a tool of server 'everything', so it grants nothing (its tools: echo,",
      );
      expect(r.stderr).toContain("'nope-*' matches no tool of server 'everything'");
      expect(r.stderr).not.toContain("'echo'");
      expect(r.stderr).not.toContain("'get-*'");
    }
  });
});
