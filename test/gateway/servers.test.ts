/**
 * The MCP servers' sandboxes, as a user meets them (the built CLI, as root and as an ordinary
 * user, real servers from npm, the SDK's real client):
 *
 *   GW-11 what a profile hides from the agent (filesystem.deny, the state dir) is hidden from
 *         every server that sees the workspace, read-only or read-write; a server config that
 *         would show a hidden path is refused at start, naming both fields;
 *   GW-13 no code the agent can write runs as a server: a server starts in a private empty
 *         directory (so `npx` does not pick up a planted node_modules/.bin or package.json), and a
 *         program, script or search path in the agent's reach is refused at start.
 */
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  availableModes,
  gatewayStdioCommand,
  giveToSandbox,
  makeWorkspace,
  readableBySandbox,
  removeWorkspace,
  warden,
  type Mode,
} from '../helpers/warden.js';
import { FIXTURES, MODULES, SPEC_SERVER } from './scene.js';

const SERVER_FILESYSTEM = join(MODULES, '@modelcontextprotocol/server-filesystem/dist/index.js');
const AGENT_CALLS = join(FIXTURES, 'agent-calls.mjs');

/** The servers' and the fixtures' code must be readable by whoever the sandboxes run as. */
const readable = (mode: Mode): boolean => readableBySandbox(mode, SERVER_FILESYSTEM, SPEC_SERVER, AGENT_CALLS);

/** Writes warden.yaml (JSON is YAML) next to the workspace. */
function writeConfig(workspace: string, config: Record<string, unknown>): string {
  // A test that timed out has its workspace removed while it still runs: never write elsewhere.
  if (!workspace.startsWith('/tmp/')) throw new Error(`not a test workspace: '${workspace}'`);
  const path = join(dirname(workspace), 'warden.yaml');
  writeFileSync(path, `${JSON.stringify({ version: 1, ...config }, null, 2)}\n`, { mode: 0o644 });
  return path;
}

let agents = 0;
function agentName(): string {
  return `gw-servers-${process.pid}-${++agents}-${Date.now().toString(36)}`;
}

/** `warden gateway --stdio` for `config`, with the SDK's client connected to it. */
async function connect(
  mode: Mode,
  workspace: string,
  config: string,
  env: Readonly<Record<string, string>> = {},
): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    ...gatewayStdioCommand(mode, { workspace, config, agent: agentName(), env }),
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'gw-servers-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

interface CallOutcome {
  readonly name: string;
  readonly isError?: boolean;
  readonly text?: string;
  readonly error?: string;
}

async function callAll(client: Client, calls: readonly { name: string; arguments: object }[]): Promise<CallOutcome[]> {
  const out: CallOutcome[] = [];
  for (const call of calls) {
    try {
      const result = await client.callTool({ name: call.name, arguments: call.arguments as Record<string, unknown> });
      const content = (result.content ?? []) as { type: string; text?: string }[];
      out.push({
        name: call.name,
        isError: result.isError === true,
        text: content.map((c) => c.text ?? '').join('\n'),
      });
    } catch (error) {
      out.push({ name: call.name, error: (error as Error).message });
    }
  }
  return out;
}

/** A workspace holding what the profile hides, and the state dir inside it. */
function hiddenWorkspace(mode: Mode): { workspace: string; stateDir: string } {
  const workspace = makeWorkspace(mode);
  writeFileSync(join(workspace, 'notes.txt'), 'visible notes\n');
  writeFileSync(join(workspace, '.env'), 'API_KEY=canary-dotenv-7f3a\n');
  mkdirSync(join(workspace, 'secrets'));
  writeFileSync(join(workspace, 'secrets', 'x'), 'canary-secret-x-91c2\n');
  giveToSandbox(mode, workspace);
  return { workspace, stateDir: join(workspace, '.warden-state') };
}

/** The calls that would read each hidden thing, through server `server`. */
function readsOf(server: string, workspace: string, stateDir: string): { name: string; arguments: object }[] {
  const read = (path: string) => ({ name: `${server}__read_text_file`, arguments: { path } });
  return [
    read(join(workspace, 'notes.txt')),
    read(join(workspace, '.env')),
    read(join(workspace, 'secrets', 'x')),
    read(join(stateDir, 'audit.db')),
    {
      name: `${server}__read_multiple_files`,
      arguments: { paths: [join(workspace, '.env'), join(workspace, 'secrets/x')] },
    },
    { name: `${server}__list_directory`, arguments: { path: join(workspace, 'secrets') } },
  ];
}

/**
 * The profile hides .env and secrets/; two real filesystem servers see the workspace, one of each
 * mode. `agentReadOnly` shows the agent extra paths (the SDK, for an agent inside warden run).
 */
function hidingConfig(workspace: string, agentReadOnly: readonly string[] = []): string {
  const server = (mode: string) => ({
    command: 'node',
    args: [SERVER_FILESYSTEM, '${workspace}'],
    workspace: mode,
    filesystem: { read_only: [MODULES] },
  });
  const tools = ['read_text_file', 'read_multiple_files', 'list_directory'];
  return writeConfig(workspace, {
    servers: { ro: server('read-only'), rw: server('read-write') },
    profiles: {
      default: {
        filesystem: { deny: ['.env', 'secrets/'], read_only: agentReadOnly },
        mcp: {
          allow: [
            { server: 'ro', tools },
            { server: 'rw', tools },
          ],
        },
      },
    },
  });
}

/** Every outcome of the reads: the visible file was read, nothing hidden came back. */
function expectHidden(outcomes: readonly CallOutcome[]): void {
  expect(outcomes[0]?.text, JSON.stringify(outcomes[0])).toContain('visible notes');
  const all = JSON.stringify(outcomes.slice(1));
  expect(all).not.toContain('canary');
  expect(all).not.toContain('SQLite format');
  // Each hidden read failed (an error result), rather than returning something else.
  for (const outcome of outcomes.slice(1)) {
    if (outcome.name.endsWith('read_multiple_files')) continue; // it reports per file, inside a successful result
    expect(outcome.isError === true || outcome.error !== undefined, JSON.stringify(outcome)).toBe(true);
  }
}

describe.each(availableModes())('MCP server sandboxes (warden as %s)', (mode: Mode) => {
  let workspace = '';
  afterEach(() => {
    if (workspace !== '') removeWorkspace(workspace);
    workspace = '';
  });

  it.skipIf(!readable(mode))(
    'GW-11 a read-only and a read-write server through warden gateway --stdio cannot read .env, secrets/x or the state dir the profile hides',
    async () => {
      const scene = hiddenWorkspace(mode);
      workspace = scene.workspace;
      const config = hidingConfig(workspace);
      const { client } = await connect(mode, workspace, config, { WARDEN_STATE_DIR: scene.stateDir });
      try {
        expect(existsSync(join(scene.stateDir, 'audit.db'))).toBe(true);
        for (const server of ['ro', 'rw'])
          expectHidden(await callAll(client, readsOf(server, workspace, scene.stateDir)));
      } finally {
        await client.close();
      }
    },
    120_000,
  );

  it.skipIf(!readable(mode))(
    'GW-11 inside warden run, the agent calling both servers through the gateway gets nothing the profile hides',
    async () => {
      const scene = hiddenWorkspace(mode);
      workspace = scene.workspace;
      // The agent needs the SDK to speak to the gateway: its profile shows it the modules, read-only.
      const config = hidingConfig(workspace, [MODULES, FIXTURES]);
      const calls = [...readsOf('ro', workspace, scene.stateDir), ...readsOf('rw', workspace, scene.stateDir)];
      const run = await warden(mode, ['--config', config, 'run', '--', 'node', AGENT_CALLS, JSON.stringify(calls)], {
        cwd: workspace,
        env: { WARDEN_STATE_DIR: scene.stateDir },
        timeoutMs: 120_000,
      });
      expect(run.code, run.stderr).toBe(0);
      const { tools, results } = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as {
        tools: string[];
        results: CallOutcome[];
      };
      expect(tools).toContain('ro__read_text_file');
      expect(tools).toContain('rw__read_text_file');
      expectHidden(results.slice(0, 6));
      expectHidden(results.slice(6));
    },
    120_000,
  );

  it('GW-11 a server whose own paths would show a hidden path is refused at start, naming both fields (also through a symlink, and for the state dir)', async () => {
    const scene = hiddenWorkspace(mode);
    workspace = scene.workspace;
    symlinkSync('secrets', join(workspace, 'also-secrets'));
    // warden creates the state dir (in the workspace here) before it reads the config's paths.
    const cases: [string[], string, string][] = [
      [[join(workspace, 'secrets')], `${join(workspace, 'secrets')} is denied by`, 'profiles.default.filesystem.deny'],
      [
        [join(workspace, 'also-secrets')],
        `${join(workspace, 'secrets')} is denied by`,
        'profiles.default.filesystem.deny',
      ],
      [
        [join(workspace, 'secrets', 'x')],
        `lies inside ${join(workspace, 'secrets')}`,
        'profiles.default.filesystem.deny',
      ],
      [[scene.stateDir], scene.stateDir, "warden's own state"],
    ];
    for (const [readOnly, what, why] of cases) {
      const config = writeConfig(workspace, {
        servers: {
          leaky: {
            command: 'node',
            args: [SERVER_FILESYSTEM, '${workspace}'],
            filesystem: { read_only: [MODULES, ...readOnly] },
          },
        },
        profiles: {
          default: { filesystem: { deny: ['.env', 'secrets/'] }, mcp: { allow: [{ server: 'leaky', tools: ['*'] }] } },
        },
      });
      const result = await warden(mode, ['--config', config, 'tools', 'ls', '--workspace', workspace], {
        cwd: workspace,
        env: { WARDEN_STATE_DIR: scene.stateDir },
      });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain('servers.leaky.filesystem.read_only');
      expect(result.stderr).toContain(what);
      expect(result.stderr).toContain(why);
      expect(result.stderr).toContain('PATH_POLICY');
    }
  }, 120_000);

  it.skipIf(!readable(mode))(
    'GW-13 a server started by npx does not run the node_modules/.bin and package.json the agent planted in the workspace',
    async () => {
      workspace = makeWorkspace(mode);
      const root = dirname(workspace);
      // The real server: a global install (npm's prefix), where npx finds it without the network.
      const prefix = join(root, 'npm-prefix');
      mkdirSync(join(prefix, 'bin'), { recursive: true, mode: 0o755 });
      const spec = join(root, 'spec.json');
      writeFileSync(spec, JSON.stringify({ tools: [{ name: 'hello' }] }), { mode: 0o644 });
      writeFileSync(join(prefix, 'bin', 'fixture-mcp'), `#!/bin/sh\nexec node ${SPEC_SERVER} ${spec}\n`, {
        mode: 0o755,
      });
      // What the agent planted where the server used to start: npx runs a local package's bin first.
      const marker = join(workspace, 'PLANTED-RAN');
      const planted = `#!/bin/sh\necho "planted code ran as $(id -u)" > ${marker}\nexec node ${SPEC_SERVER} ${spec}\n`;
      mkdirSync(join(workspace, 'node_modules', '.bin'), { recursive: true });
      writeFileSync(join(workspace, 'node_modules', '.bin', 'fixture-mcp'), planted, { mode: 0o755 });
      writeFileSync(join(workspace, 'evil.sh'), planted, { mode: 0o755 });
      writeFileSync(
        join(workspace, 'package.json'),
        JSON.stringify({ name: 'planted', version: '1.0.0', bin: { 'fixture-mcp': 'evil.sh' } }),
      );
      giveToSandbox(mode, workspace);
      const config = writeConfig(workspace, {
        servers: {
          npxed: {
            command: 'npx',
            args: ['fixture-mcp'],
            workspace: 'read-write',
            env: { set: { npm_config_prefix: prefix, npm_config_update_notifier: 'false' } },
            filesystem: { read_only: [MODULES, FIXTURES, prefix, spec] },
          },
        },
        profiles: { default: { mcp: { allow: [{ server: 'npxed', tools: ['*'] }] } } },
      });
      const { client } = await connect(mode, workspace, config);
      try {
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['npxed__hello']);
      } finally {
        await client.close();
      }
      expect(existsSync(marker)).toBe(false);
    },
    120_000,
  );

  it.skipIf(!readable(mode))(
    'SBX-21 a git repository a read-write server planted in the workspace is quarantined when warden gateway stops',
    async () => {
      workspace = makeWorkspace(mode);
      const config = writeConfig(workspace, {
        servers: {
          rw: {
            command: 'node',
            args: [SERVER_FILESYSTEM, '${workspace}'],
            workspace: 'read-write',
            filesystem: { read_only: [MODULES] },
          },
        },
        profiles: { default: { mcp: { allow: [{ server: 'rw', tools: ['create_directory', 'write_file'] }] } } },
      });
      const { client, stderr } = await connect(mode, workspace, config);
      const gitDir = join(workspace, 'vendor', 'lib', '.git');
      try {
        const outcomes = await callAll(client, [
          { name: 'rw__create_directory', arguments: { path: gitDir } },
          { name: 'rw__write_file', arguments: { path: join(gitDir, 'HEAD'), content: 'ref: refs/heads/main\n' } },
          {
            name: 'rw__write_file',
            arguments: {
              path: join(gitDir, 'config'),
              content: '[core]\n\tfsmonitor = touch /tmp/planted-by-server\n',
            },
          },
        ]);
        expect(
          outcomes.every((o) => o.isError === false),
          JSON.stringify(outcomes),
        ).toBe(true);
        expect(existsSync(join(gitDir, 'config'))).toBe(true);
      } finally {
        await client.close();
      }
      // The gateway checks once its servers have stopped; wait for it to finish.
      const warning = `QUARANTINED git ${gitDir}`;
      for (let i = 0; i < 100 && !stderr().includes(warning); i++) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(gitDir)).toBe(false);
      const moved = readdirSync(dirname(gitDir)).find((name) => name.startsWith('.git.warden-quarantine-'));
      expect(moved).toBeDefined();
      expect(stderr()).toContain(warning);
    },
    120_000,
  );

  it.skipIf(!readable(mode))(
    'SBX-21 inside warden run, a repository a read-write server planted in its own writable directory (outside the workspace) is quarantined after the run',
    async () => {
      workspace = makeWorkspace(mode);
      const data = join(dirname(workspace), 'server-data');
      mkdirSync(data);
      giveToSandbox(mode, data);
      const config = writeConfig(workspace, {
        servers: {
          rw: {
            command: 'node',
            args: [SERVER_FILESYSTEM, '${workspace}', data],
            workspace: 'read-write',
            filesystem: { read_only: [MODULES], writable: [data] },
          },
        },
        profiles: {
          default: {
            filesystem: { read_only: [MODULES, FIXTURES] },
            mcp: { allow: [{ server: 'rw', tools: ['create_directory', 'write_file'] }] },
          },
        },
      });
      const gitDir = join(data, 'cache', '.git');
      const calls = [
        { name: 'rw__create_directory', arguments: { path: gitDir } },
        { name: 'rw__write_file', arguments: { path: join(gitDir, 'HEAD'), content: 'ref: refs/heads/main\n' } },
        {
          name: 'rw__write_file',
          arguments: { path: join(gitDir, 'config'), content: '[core]\n\tfsmonitor = touch /tmp/planted-by-server\n' },
        },
      ];
      const run = await warden(mode, ['--config', config, 'run', '--', 'node', AGENT_CALLS, JSON.stringify(calls)], {
        cwd: workspace,
        timeoutMs: 120_000,
      });
      expect(run.code, run.stderr).toBe(0);
      const { results } = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { results: CallOutcome[] };
      expect(
        results.every((r) => r.isError === false),
        JSON.stringify(results),
      ).toBe(true);
      expect(existsSync(gitDir)).toBe(false);
      expect(run.stderr).toContain(`QUARANTINED git ${gitDir}`);
    },
    120_000,
  );

  /** Plants scripts in a fresh workspace and expects each server config to be refused at start, naming its field. */
  async function expectRefused(cases: (ws: string) => readonly [Record<string, unknown>, string][]): Promise<void> {
    workspace = makeWorkspace(mode);
    const marker = join(workspace, 'PLANTED-RAN');
    mkdirSync(join(workspace, 'tools'));
    writeFileSync(join(workspace, 'tools', 'server.sh'), `#!/bin/sh\necho ran > ${marker}\n`, { mode: 0o755 });
    writeFileSync(
      join(workspace, 'server.mjs'),
      `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\n`,
    );
    symlinkSync('/bin/sh', join(workspace, 'tools', 'shell'));
    giveToSandbox(mode, workspace);
    for (const [server, field] of cases(workspace)) {
      const config = writeConfig(workspace, {
        servers: { bad: { workspace: 'read-only', ...server } },
        profiles: { default: { mcp: { allow: [{ server: 'bad', tools: ['*'] }] } } },
      });
      const result = await warden(mode, ['--config', config, 'tools', 'ls', '--workspace', workspace], {
        cwd: workspace,
      });
      expect(result.code, `${JSON.stringify(server)}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toContain(field);
      expect(result.stderr).toContain('GW-13');
      expect(existsSync(marker)).toBe(false);
    }
  }

  it('GW-13 a server whose program is a file the agent can write is refused at start, naming the field (relative, absolute, through a symlink, on its PATH)', async () => {
    await expectRefused((ws) => [
      [{ command: './tools/server.sh' }, 'servers.bad.command: ./tools/server.sh is a relative path'],
      [{ command: join(ws, 'tools', 'server.sh') }, 'servers.bad.command'],
      // A symlink in the workspace to a system program: the agent could repoint it.
      [{ command: join(ws, 'tools', 'shell'), args: ['-c', 'true'] }, 'servers.bad.command'],
      [{ command: 'server.sh', env: { set: { PATH: `${ws}/tools:/usr/bin:/bin` } } }, 'servers.bad.env.set.PATH'],
    ]);
  }, 180_000);

  it('GW-13 a server whose interpreter would run a script the agent can write is refused at start, naming the argument or variable', async () => {
    await expectRefused((ws) => [
      [{ command: 'node', args: ['${workspace}/server.mjs'] }, 'servers.bad.args[0]'],
      [{ command: 'node', args: ['server.mjs'] }, 'servers.bad.args[0]: server.mjs is relative'],
      [{ command: 'sh', args: ['tools/server.sh'] }, 'servers.bad.args[0]: tools/server.sh is relative'],
      [{ command: 'node', args: ['--require', '${workspace}/server.mjs', SPEC_SERVER] }, 'servers.bad.args[1]'],
      [
        { command: 'node', args: [SPEC_SERVER], env: { set: { NODE_OPTIONS: `--require ${ws}/server.mjs` } } },
        'servers.bad.env.set.NODE_OPTIONS',
      ],
    ]);
  }, 180_000);
});
