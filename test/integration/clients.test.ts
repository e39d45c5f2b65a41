/**
 * `warden client add | ls | rm` as a user meets them: the built CLI writes each client's real
 * config file into a temporary HOME (and project), the file is read back the way that client
 * reads it and validated against a schema written from that client's documentation (cited at
 * each schema), merging keeps everything else, the previous file is backed up, a dry run writes
 * nothing, `rm` restores the rest, a malformed file is refused untouched. And end to end: the
 * command line of a written Claude Desktop entry, started as the client starts it (cwd /, a
 * client's environment), reaches a real MCP server through the gateway with the SDK's client.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { parse as parseJsonc, type ParseError } from 'jsonc-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  availableModes,
  makeWorkspace,
  readableBySandbox,
  removeWorkspace,
  REPO,
  TEST_USER,
  testStateDir,
  userIds,
  warden,
  wardenBin,
  type Mode,
} from '../helpers/warden.js';

const MODULES = join(REPO, 'node_modules');
const SERVER_EVERYTHING = join(MODULES, '@modelcontextprotocol/server-everything/dist/index.js');

const stringMap = z.record(z.string(), z.string());

/**
 * Claude Desktop, `claude_desktop_config.json` (on Linux `~/.config/Claude/`): a top-level
 * `mcpServers` object mapping names to `{command, args, env}`; the app keeps its own settings
 * beside it. Source: modelcontextprotocol.io/quickstart/user ("Adding MCP servers"), the MCP
 * docs' Claude Desktop example.
 */
const claudeDesktopEntry = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: stringMap.optional(),
});

/**
 * Claude Code: `~/.claude.json` (user scope, top-level `mcpServers`, beside Claude Code's own
 * state) and `.mcp.json` (project scope, `mcpServers`): `{type: "stdio", command, args, env}`,
 * `type` optional. Source: code.claude.com/docs/en/mcp ("MCP installation scopes", "Project
 * scope"); `claude mcp add` writes `type: "stdio"`.
 */
const claudeCodeEntry = z.strictObject({
  type: z.literal('stdio').optional(),
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: stringMap.optional(),
});

/**
 * Cursor: `~/.cursor/mcp.json` (global) or `.cursor/mcp.json` (project), top-level `mcpServers`;
 * a stdio server is `{command, args, env}` (optionally `type`, `envFile`). Source:
 * cursor.com/docs/context/mcp ("Configuration locations", "STDIO servers").
 */
const cursorEntry = z.strictObject({
  type: z.literal('stdio').optional(),
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: stringMap.optional(),
  envFile: z.string().optional(),
});

/**
 * VS Code: `mcp.json` in the user profile (`~/.config/Code/User/`) or `.vscode/mcp.json`; only
 * `servers` and `inputs` at the top; a stdio server is `{type: "stdio", command, args, env,
 * envFile, cwd, dev}`, nothing else; comments and trailing commas are allowed. Sources:
 * code.visualstudio.com/docs/copilot/reference/mcp-configuration ("Standard I/O (stdio) servers":
 * `type` required) and the schema VS Code validates with, `mcpServerSchema` in microsoft/vscode
 * src/vs/workbench/contrib/mcp/common/mcpConfiguration.ts (`additionalProperties: false`,
 * `allowComments`, `allowTrailingCommas`).
 */
const vscodeEntry = z.strictObject({
  type: z.literal('stdio'),
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.union([z.string(), z.number(), z.null()])).optional(),
  envFile: z.string().optional(),
  cwd: z.string().optional(),
  dev: z.looseObject({}).optional(),
});

interface ClientCase {
  readonly client: 'claude-desktop' | 'claude-code' | 'cursor' | 'vscode';
  readonly scope: 'user' | 'project';
  /** The file, from the temporary HOME and project. */
  readonly file: (home: string, project: string) => string;
  /** Parses the file as the client does. */
  readonly parse: (text: string) => unknown;
  readonly document: z.ZodType;
  /** An existing file with another server and the client's own settings (comments where allowed). */
  readonly existing: string;
  /** What must still be in the file after warden's entry is added. */
  readonly kept: (doc: Record<string, unknown>) => void;
}

const strictJson = (text: string): unknown => JSON.parse(text);
/** JSON with comments, as VS Code (and Cursor, built on it) reads `mcp.json`. */
const jsonc = (text: string): unknown => {
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, { allowTrailingComma: true });
  expect(errors).toEqual([]);
  return value;
};

const OTHER_SERVER = { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'] };

const cases: readonly ClientCase[] = [
  {
    client: 'claude-desktop',
    scope: 'user',
    file: (home) => join(home, '.config', 'Claude', 'claude_desktop_config.json'),
    parse: strictJson,
    document: z.looseObject({ mcpServers: z.record(z.string(), claudeDesktopEntry) }),
    existing: `${JSON.stringify({ globalShortcut: 'Ctrl+Space', mcpServers: { memory: OTHER_SERVER } }, null, 2)}\n`,
    kept: (doc) => {
      expect(doc.globalShortcut).toBe('Ctrl+Space');
      expect((doc.mcpServers as Record<string, unknown>).memory).toEqual(OTHER_SERVER);
    },
  },
  {
    client: 'claude-code',
    scope: 'user',
    file: (home) => join(home, '.claude.json'),
    parse: strictJson,
    document: z.looseObject({ mcpServers: z.record(z.string(), claudeCodeEntry) }),
    existing: `${JSON.stringify(
      {
        numStartups: 7,
        projects: { '/srv/x': { allowedTools: [], mcpServers: {} } },
        mcpServers: { memory: { type: 'stdio', ...OTHER_SERVER, env: {} } },
      },
      null,
      2,
    )}\n`,
    kept: (doc) => {
      expect(doc.numStartups).toBe(7);
      expect(doc.projects).toEqual({ '/srv/x': { allowedTools: [], mcpServers: {} } });
      expect((doc.mcpServers as Record<string, unknown>).memory).toEqual({ type: 'stdio', ...OTHER_SERVER, env: {} });
    },
  },
  {
    client: 'claude-code',
    scope: 'project',
    file: (_home, project) => join(project, '.mcp.json'),
    parse: strictJson,
    document: z.strictObject({ mcpServers: z.record(z.string(), claudeCodeEntry) }),
    existing: `${JSON.stringify({ mcpServers: { memory: OTHER_SERVER } }, null, 2)}\n`,
    kept: (doc) => expect((doc.mcpServers as Record<string, unknown>).memory).toEqual(OTHER_SERVER),
  },
  {
    client: 'cursor',
    scope: 'user',
    file: (home) => join(home, '.cursor', 'mcp.json'),
    parse: jsonc,
    document: z.strictObject({ mcpServers: z.record(z.string(), cursorEntry) }),
    existing: `{\n  "mcpServers": {\n    "memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}\n  }\n}\n`,
    kept: (doc) => expect((doc.mcpServers as Record<string, unknown>).memory).toEqual(OTHER_SERVER),
  },
  {
    client: 'cursor',
    scope: 'project',
    file: (_home, project) => join(project, '.cursor', 'mcp.json'),
    parse: jsonc,
    document: z.strictObject({ mcpServers: z.record(z.string(), cursorEntry) }),
    existing: `${JSON.stringify({ mcpServers: { memory: OTHER_SERVER } }, null, 2)}\n`,
    kept: (doc) => expect((doc.mcpServers as Record<string, unknown>).memory).toEqual(OTHER_SERVER),
  },
  {
    client: 'vscode',
    scope: 'user',
    file: (home) => join(home, '.config', 'Code', 'User', 'mcp.json'),
    parse: jsonc,
    document: z.strictObject({ servers: z.record(z.string(), vscodeEntry), inputs: z.array(z.unknown()).optional() }),
    existing: `// my servers\n{\n\t"inputs": [],\n\t"servers": {\n\t\t// memory for notes\n\t\t"memory": { "type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"] },\n\t},\n}\n`,
    kept: (doc) => {
      expect(doc.inputs).toEqual([]);
      expect((doc.servers as Record<string, unknown>).memory).toEqual({ type: 'stdio', ...OTHER_SERVER });
    },
  },
  {
    client: 'vscode',
    scope: 'project',
    file: (_home, project) => join(project, '.vscode', 'mcp.json'),
    parse: jsonc,
    document: z.strictObject({ servers: z.record(z.string(), vscodeEntry), inputs: z.array(z.unknown()).optional() }),
    existing: `{\n  "servers": {\n    "memory": {"type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}\n  }\n}\n`,
    kept: (doc) => expect((doc.servers as Record<string, unknown>).memory).toEqual({ type: 'stdio', ...OTHER_SERVER }),
  },
];

/** The servers map of a client's document. */
const serversOf = (c: ClientCase, doc: Record<string, unknown>): Record<string, unknown> =>
  doc[c.client === 'vscode' ? 'servers' : 'mcpServers'] as Record<string, unknown>;

interface World {
  /** The temporary HOME (owned by whoever runs warden in this mode). */
  readonly home: string;
  /** The project: the workspace, holding warden.yaml. */
  readonly project: string;
  readonly config: string;
}

/** A temporary HOME and a project with a warden.yaml that grants server-everything's echo. */
function makeWorld(mode: Mode): World {
  const project = makeWorkspace(mode, 'project');
  const home = join(project, '..', 'home');
  mkdirSync(home, { mode: 0o700 });
  const owner = mode === 'user' ? userIds(TEST_USER) : null;
  if (owner !== null) {
    chownSync(home, owner.uid, owner.gid);
    chownSync(project, owner.uid, owner.gid);
  }
  const config = join(project, 'warden.yaml');
  writeFileSync(
    config,
    `version: 1
servers:
  everything:
    command: node
    args: [${JSON.stringify(SERVER_EVERYTHING)}, stdio]
    filesystem: { read_only: [${JSON.stringify(MODULES)}] }
profiles:
  default:
    mcp:
      allow:
        - server: everything
          tools: [echo]
  coding:
    mcp:
      allow:
        - server: everything
          tools: [echo]
  bare: {}
`,
    { mode: 0o644 },
  );
  return { home, project, config };
}

/** Writes `text` as the user of `mode` would have it: created with its parents, owned by that user. */
function plant(mode: Mode, path: string, text: string, fileMode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode: fileMode });
  chmodSync(path, fileMode);
  const owner = mode === 'user' ? userIds(TEST_USER) : null;
  if (owner !== null) spawnSync('chown', ['-R', `${owner.uid}:${owner.gid}`, dirname(path)]);
}

function client(mode: Mode, world: World, args: readonly string[], cwd = world.project) {
  return warden(mode, ['client', ...args], { cwd, env: { HOME: world.home } });
}

/** Every path under the temporary HOME and the project. */
function tree(world: World): string[] {
  return [world.home, world.project].flatMap((dir) =>
    (readdirSync(dir, { recursive: true }) as string[]).map((p) => join(dir, p)).sort(),
  );
}

const backupsOf = (file: string): string[] =>
  existsSync(dirname(file))
    ? readdirSync(dirname(file))
        .filter((n) => n.startsWith(`${file.slice(dirname(file).length + 1)}.warden-backup-`))
        .map((n) => join(dirname(file), n))
    : [];

describe.each(availableModes())('warden client (warden as %s)', (mode: Mode) => {
  let world: World | null = null;
  afterEach(() => {
    if (world !== null) removeWorkspace(world.project);
    world = null;
  });

  it.each(cases)(
    'add $client ($scope): the file passes the documented schema, keeps everything else, and the previous file is backed up',
    async (c) => {
      world = makeWorld(mode);
      const file = c.file(world.home, world.project);
      plant(mode, file, c.existing);
      const before = statSync(file);

      const added = await client(mode, world, ['add', c.client, '--scope', c.scope]);
      expect(added.code, added.stderr).toBe(0);
      expect(added.stdout).toContain(`added: 'warden'`);

      // Read back the way the client reads it, and validated against its documented schema.
      const text = readFileSync(file, 'utf8');
      const doc = c.parse(text) as Record<string, unknown>;
      expect(() => c.document.parse(doc)).not.toThrow();
      c.kept(doc);
      if (c.client === 'vscode' && c.scope === 'user') {
        expect(text).toContain('// my servers');
        expect(text).toContain('// memory for notes');
      }
      const entry = serversOf(c, doc).warden as { command: string; args: string[] };
      // Absolute everything: the client starts it from / with its own PATH.
      expect(entry.command).toBe(process.execPath);
      expect(entry.args).toEqual([
        wardenBin(mode),
        'gateway',
        '--stdio',
        '--profile',
        'default',
        '--workspace',
        world.project,
        '--config',
        world.config,
        '--state-dir',
        testStateDir(mode),
        '--agent',
        c.client,
      ]);

      // Same mode and owner as before; the backup holds the previous text.
      const after = statSync(file);
      expect(after.mode & 0o777).toBe(before.mode & 0o777);
      expect([after.uid, after.gid]).toEqual([before.uid, before.gid]);
      const backups = backupsOf(file);
      expect(backups).toHaveLength(1);
      expect(readFileSync(backups[0] ?? '', 'utf8')).toBe(c.existing);
      expect(added.stdout).toContain(backups[0] ?? '');

      // Listed with its profile and workspace.
      const listed = await client(mode, world, ['ls', '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      const { entries } = JSON.parse(listed.stdout) as {
        entries: { client: string; scope: string; name: string; entry: { profile: string; workspace: string } }[];
      };
      expect(entries).toContainEqual(
        expect.objectContaining({
          client: c.client,
          scope: c.scope,
          name: 'warden',
          entry: expect.objectContaining({ profile: 'default', workspace: world.project }) as unknown,
        }),
      );

      // Adding the same again changes nothing; rm takes out warden's entry and restores the rest.
      const again = await client(mode, world, ['add', c.client, '--scope', c.scope]);
      expect(again.stdout).toContain('already configured');
      expect(backupsOf(file)).toHaveLength(1);
      const removed = await client(mode, world, ['rm', c.client, '--scope', c.scope]);
      expect(removed.code, removed.stderr).toBe(0);
      expect(removed.stdout).toContain(`removed: 'warden'`);
      expect(readFileSync(file, 'utf8')).toBe(c.existing);
      expect(backupsOf(file)).toHaveLength(2);
    },
  );

  it.each(cases)(
    'add $client ($scope) into no file creates one the client accepts; --dry-run writes nothing',
    async (c) => {
      world = makeWorld(mode);
      const file = c.file(world.home, world.project);
      const untouched = tree(world);
      const dry = await client(mode, world, ['add', c.client, '--scope', c.scope, '--profile', 'coding', '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain(`+++ ${file}`);
      expect(dry.stdout).toContain(`"warden-coding"`);
      expect(dry.stderr).toContain('dry run, nothing written');
      expect(tree(world)).toEqual(untouched);

      const added = await client(mode, world, ['add', c.client, '--scope', c.scope, '--profile', 'coding']);
      expect(added.code, added.stderr).toBe(0);
      const doc = c.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      expect(() => c.document.parse(doc)).not.toThrow();
      expect(Object.keys(serversOf(c, doc))).toEqual(['warden-coding']);
      expect(backupsOf(file)).toEqual([]);
      // Created for the user whose client reads it: owned like the directory it sits in.
      const parentOwner = statSync(c.scope === 'project' ? world.project : world.home).uid;
      expect(statSync(file).uid).toBe(parentOwner);
      expect(statSync(dirname(file)).uid).toBe(parentOwner);
    },
  );

  it('a malformed file is refused with the line and left untouched; so is a server of that name that is not warden', async () => {
    world = makeWorld(mode);
    // Claude Desktop reads strict JSON: a comment breaks the file for it too.
    const desktop = cases[0]!.file(world.home, world.project);
    const broken = '{\n  "mcpServers": {\n    // notes\n    "memory": {"command": "npx"}\n  }\n}\n';
    plant(mode, desktop, broken);
    const refused = await client(mode, world, ['add', 'claude-desktop']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('is not valid JSON at line 3');
    expect(refused.stderr).toContain('CLIENT_CONFIG');
    expect(readFileSync(desktop, 'utf8')).toBe(broken);
    expect(backupsOf(desktop)).toEqual([]);

    // VS Code accepts comments but not broken JSON.
    const vscode = cases[5]!.file(world.home, world.project);
    plant(mode, vscode, '{ "servers": { "a": { "command": "x" }\n');
    const refusedVs = await client(mode, world, ['add', 'vscode']);
    expect(refusedVs.code).toBe(2);
    expect(refusedVs.stderr).toContain('is not valid JSON with comments');
    expect(readFileSync(vscode, 'utf8')).toBe('{ "servers": { "a": { "command": "x" }\n');

    // Someone else's server called "warden" is neither replaced nor removed.
    const cursor = cases[3]!.file(world.home, world.project);
    const theirs = `${JSON.stringify({ mcpServers: { warden: OTHER_SERVER } }, null, 2)}\n`;
    plant(mode, cursor, theirs);
    for (const verb of ['add', 'rm']) {
      const r = await client(mode, world, [verb, 'cursor']);
      expect(r.code, verb).toBe(2);
      expect(r.stderr).toContain("is not warden's");
      expect(readFileSync(cursor, 'utf8')).toBe(theirs);
    }
  });

  it('SBX-04 the workspace is absolute and never the home, / or a temporary directory taken silently; -c works after the subcommand', async () => {
    world = makeWorld(mode);
    // From the home directory, with no --workspace: refused with the fix.
    const fromHome = await client(mode, world, ['add', 'claude-desktop', '-c', world.config], world.home);
    expect(fromHome.code).toBe(2);
    expect(fromHome.stderr).toContain('is your home directory, not a project');
    expect(fromHome.stderr).toContain('warden client add claude-desktop --workspace DIR');
    for (const dir of ['/', '/tmp']) {
      const r = await client(mode, world, ['add', 'claude-desktop', '-c', world.config], dir);
      expect(r.code, dir).toBe(2);
      expect(r.stderr).toContain('WORKSPACE_INVALID');
    }
    // A relative --workspace is resolved once, to an absolute path, in the entry; the config is
    // found in the workspace.
    const relative = await client(
      mode,
      world,
      ['add', 'claude-desktop', '--workspace', 'project'],
      dirname(world.project),
    );
    expect(relative.code, relative.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(cases[0]!.file(world.home, world.project), 'utf8')) as {
      mcpServers: { warden: { args: string[] } };
    };
    expect(doc.mcpServers.warden.args).toContain(world.project);
    expect(doc.mcpServers.warden.args).toContain(world.config);
    // --config after the subcommand (where a client's command line puts it); twice with different values is refused.
    const check = await warden(mode, ['config', 'check', '--config', world.config], {
      cwd: '/',
      env: { HOME: world.home },
    });
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain(`${world.config}: ok`);
    const twice = await warden(mode, ['-c', world.config, 'config', 'check', '-c', '/nonexistent.yaml'], {
      cwd: '/',
      env: { HOME: world.home },
    });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('--config was given twice');
    // A profile that grants no MCP server would give the client a gateway that cannot start.
    const bare = await client(mode, world, ['add', 'cursor', '--profile', 'bare']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("profile 'bare' grants no MCP server");

    // The gateway itself, started where a desktop client starts it without --workspace: refused, naming the fix.
    const gateway = await warden(mode, ['gateway', '--stdio', '--config', world.config], {
      cwd: '/',
      env: { HOME: world.home },
    });
    expect(gateway.code).toBe(2);
    expect(gateway.stderr).toContain('no --workspace given, and the current directory / is the root directory');
    expect(gateway.stderr).toContain('warden client add CLIENT --workspace DIR');
  });

  it.skipIf(!readableBySandbox(mode, SERVER_EVERYTHING))(
    "a written Claude Desktop entry, started as the client starts it (cwd /, the client's environment), reaches a real server through the gateway",
    async () => {
      world = makeWorld(mode);
      const added = await client(mode, world, ['add', 'claude-desktop']);
      expect(added.code, added.stderr).toBe(0);
      const doc = JSON.parse(readFileSync(cases[0]!.file(world.home, world.project), 'utf8')) as {
        mcpServers: { warden: { command: string; args: string[]; env?: Record<string, string> } };
      };
      const entry = doc.mcpServers.warden;
      const user = mode === 'user' ? userIds(TEST_USER) : null;
      // What a desktop client gives a server: its own small environment, cwd /, the entry's env.
      const clientEnv = {
        HOME: world.home,
        PATH: '/usr/local/bin:/usr/bin:/bin',
        USER: user === null ? 'root' : TEST_USER,
        LOGNAME: user === null ? 'root' : TEST_USER,
        SHELL: '/bin/sh',
        ...(entry.env ?? {}),
      };
      const transport = new StdioClientTransport({
        // The client runs as an ordinary user in user mode: start the entry as that user.
        command: user === null ? entry.command : '/usr/sbin/runuser',
        args: user === null ? entry.args : ['-u', TEST_USER, '--', entry.command, ...entry.args],
        cwd: '/',
        env: clientEnv,
        stderr: 'pipe',
      });
      const mcp = new Client({ name: 'claude-desktop-stand-in', version: '1.0.0' });
      let stderr = '';
      transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      try {
        await mcp.connect(transport);
        const tools = (await mcp.listTools()).tools.map((t) => t.name);
        expect(tools).toEqual(['everything__echo']);
        const echo = await mcp.callTool({ name: 'everything__echo', arguments: { message: 'from the desktop' } });
        expect(echo.content).toEqual([{ type: 'text', text: 'Echo: from the desktop' }]);
      } catch (error) {
        throw new Error(`${(error as Error).message}\ngateway stderr:\n${stderr}`);
      } finally {
        await mcp.close();
      }
    },
  );
});
