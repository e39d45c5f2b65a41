/**
 * GW-12: argument conditions are decided on what the server will open. Each attack below got
 * through on a gateway that checked the text of the path:
 *
 *   - a symlink in the workspace that leads out of the granted directory or into a denied one,
 *     which the server follows (`public/link/...`, `public/hop/../key.txt`, a dangling link a
 *     write would create through);
 *   - a tool whose paths have another name or shape (`read_multiple_files` takes `paths: [...]`,
 *     `move_file` takes `source` and `destination`), so one call reads or moves denied files;
 *   - a Unicode spelling (NFD) of a directory denied in NFC.
 *
 * Driven as a user meets warden: the real server-filesystem from npm in its own sandbox behind
 * `warden gateway --stdio` (and inside `warden run`, where the agent plants the symlink itself),
 * the MCP SDK's real client, as root and as an ordinary user; the audit log read back. The denied
 * file holds a canary: "refused" is checked by the error code and by the canary never coming back.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  agentAuditEvents,
  availableModes,
  gatewayStdioCommand,
  giveToSandbox,
  makeWorkspace,
  probeValues,
  readableBySandbox,
  removeWorkspace,
  REPO,
  warden,
  type AuditEvent,
  type Mode,
} from '../helpers/warden.js';
import { fixtureReadable, invalidArguments, Scene } from './scene.js';

const MODULES = join(REPO, 'node_modules');
const SERVER_FILESYSTEM = join(MODULES, '@modelcontextprotocol/server-filesystem/dist/index.js');
const CANARY = 'GW12-CANARY-7f3a9c';
const NFC = 'caf\u00e9';
const NFD = 'cafe\u0301';

/**
 * The workspace every test starts from: public files, a secrets directory holding the canary,
 * symlinks from public into secrets, and a directory whose name is written in NFD on disk.
 */
function plantWorkspace(mode: Mode, workspace: string): void {
  mkdirSync(join(workspace, 'public'));
  mkdirSync(join(workspace, 'secrets', 'sub'), { recursive: true });
  mkdirSync(join(workspace, NFD));
  writeFileSync(join(workspace, 'public', 'readme.txt'), 'public text\n');
  writeFileSync(join(workspace, 'public', 'other.txt'), 'other text\n');
  writeFileSync(join(workspace, 'secrets', 'key.txt'), `${CANARY}\n`);
  writeFileSync(join(workspace, NFD, 'menu.txt'), `${CANARY} menu\n`);
  symlinkSync('../secrets', join(workspace, 'public', 'link'));
  symlinkSync('../secrets/key.txt', join(workspace, 'public', 'keylink'));
  symlinkSync('../secrets/sub', join(workspace, 'public', 'hop'));
  symlinkSync('../secrets/planted.txt', join(workspace, 'public', 'dangling'));
  giveToSandbox(mode, workspace);
}

/** warden.yaml with server-filesystem on the workspace and the default profile's mcp section (JSON is YAML). */
function writeConfig(workspace: string, mcp: Record<string, unknown>, access = 'read-write'): string {
  const path = join(dirname(workspace), 'warden.yaml');
  const config = {
    version: 1,
    servers: {
      files: {
        command: 'node',
        args: [SERVER_FILESYSTEM, '${workspace}'],
        workspace: access,
        filesystem: { read_only: [MODULES] },
      },
    },
    profiles: { default: { mcp } },
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  return path;
}

const agentOf = (workspace: string) => `gw12-${basename(dirname(workspace))}`;

async function connect(mode: Mode, workspace: string, config: string): Promise<Client> {
  const client = new Client({ name: 'gw12-test', version: '1.0.0' });
  await client.connect(
    new StdioClientTransport({
      ...gatewayStdioCommand(mode, { workspace, config, agent: agentOf(workspace) }),
      stderr: 'pipe',
    }),
  );
  return client;
}

/** The JSON-RPC error a call was refused with; fails the test if it succeeded. */
async function refusal(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  let result: unknown;
  try {
    result = await call;
  } catch (error) {
    return { code: (error as { code: number }).code, message: (error as Error).message };
  }
  throw new Error(`the call succeeded but should have been refused: ${JSON.stringify(result).slice(0, 300)}`);
}

function text(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join('');
}

function calls(events: readonly AuditEvent[]): AuditEvent['data'][] {
  return events.filter((e) => e.type === 'mcp.call').map((e) => e.data);
}

describe.each(availableModes())('GW-12 argument conditions on what the server opens (warden as %s)', (mode: Mode) => {
  let workspace = '';
  const open: Client[] = [];
  afterEach(async () => {
    for (const client of open.splice(0)) await client.close().catch(() => undefined);
    if (workspace !== '') removeWorkspace(workspace);
    workspace = '';
  });
  const runnable = readableBySandbox(mode, SERVER_FILESYSTEM);
  const start = async (mcp: Record<string, unknown>): Promise<Client> => {
    workspace = makeWorkspace(mode);
    plantWorkspace(mode, workspace);
    const client = await connect(mode, workspace, writeConfig(workspace, mcp));
    open.push(client);
    return client;
  };

  it.skipIf(!runnable)(
    "GW-12 a symlink out of the granted directory is refused, also through 'link/../' and a dangling link; the server gets the real path",
    async () => {
      const client = await start({
        allow: [
          {
            server: 'files',
            tools: ['read_text_file', 'write_file', 'list_directory'],
            when: { path: { under: ['${workspace}/public'] } },
          },
        ],
      });
      const read = (path: string) => client.callTool({ name: 'files__read_text_file', arguments: { path } });
      expect(text(await read('public/readme.txt'))).toContain('public text');
      for (const path of [
        'public/keylink', // a link to the file
        'public/link/key.txt', // a link to the directory
        `${workspace}/public/hop/../key.txt`, // lexically public/key.txt; the kernel goes to secrets/key.txt
        'public/hop/../../public/readme.txt', // ends in public, but went through secrets on the way
      ]) {
        const refused = await refusal(read(path));
        expect(refused.code, path).toBe(-32003);
        expect(refused.message).not.toContain(CANARY);
      }
      // Outside the workspace the agent learns nothing about what exists: a link to a host file
      // that exists and one to a file that does not are refused alike.
      symlinkSync('/etc/passwd', join(workspace, 'public', 'probe-yes'));
      symlinkSync('/etc/gw12-not-there/x', join(workspace, 'public', 'probe-no'));
      const yes = await refusal(read('public/probe-yes'));
      const no = await refusal(read('public/probe-no'));
      expect([yes.code, no.code]).toEqual([-32003, -32003]);
      expect(yes.message).toBe(no.message);
      expect(yes.message).not.toMatch(/passwd|gw12-not-there/);
      // A write through a dangling link would create secrets/planted.txt.
      const write = await invalidArguments(
        client.callTool({ name: 'files__write_file', arguments: { path: 'public/dangling', content: 'x' } }),
      );
      expect(write).toMatch(/does not exist/);
      expect(existsSync(join(workspace, 'secrets', 'planted.txt'))).toBe(false);
      await client.close();

      const recorded = calls(await agentAuditEvents(mode, workspace, agentOf(workspace)));
      // The allowed call went out with the resolved, absolute path.
      expect(recorded[0]).toMatchObject({ decision: 'allow', arguments: { path: `${workspace}/public/readme.txt` } });
      expect(recorded.slice(1, 5).map((c) => [c.decision, c.outcome])).toEqual(Array(4).fill(['deny', 'denied']));
      expect(recorded[1]).toMatchObject({ arguments: { path: `${workspace}/secrets/key.txt` } });
      expect(recorded[4]).toMatchObject({
        reason: `argument 'path' ('public/hop/../../public/readme.txt') goes through '${workspace}/secrets/sub', which is not under ${workspace}/public (profiles.default.mcp.allow[0].when.path.under)`,
      });
      // The log keeps what the agent was not told.
      expect(recorded[5]).toMatchObject({ decision: 'deny', arguments: { path: '/etc/passwd' } });
      expect(recorded[6]).toMatchObject({
        decision: 'deny',
        reason: expect.stringMatching(/gw12-not-there.*does not exist/),
      });
    },
  );

  it.skipIf(!runnable)(
    'GW-04 GW-12 a refusal names the argument, its value, the condition and the warden.yaml entry; through a symlink it says where the path resolves, outside the workspace nothing more',
    async () => {
      const client = await start({
        allow: [
          { server: 'files', tools: ['read_text_file'], when: { path: { under: ['${workspace}/public'] } } },
          { server: 'files', tools: ['read_text_file'], when: { path: { under: [`\${workspace}/${NFC}`] } } },
        ],
        deny: [{ server: 'files', tools: ['*'], when: { '*': { under: ['${workspace}/secrets'] } } }],
      });
      const read = (path: string) => client.callTool({ name: 'files__read_text_file', arguments: { path } });
      const refused = async (path: string) => {
        const r = await refusal(read(path));
        expect(r.code, path).toBe(-32003);
        expect(r.message).not.toContain(CANARY);
        return r.message.replace(/^MCP error -32003: Warden policy refused this call to files__read_text_file: /, '');
      };
      const secrets = `${workspace}/secrets`;
      const deny = "(profiles.default.mcp.deny[0].when['*'].under)";
      const told = {
        direct: await refused('secrets/key.txt'),
        link: await refused('public/link/key.txt'),
        neither: await refused('notes/todo.txt'),
      };
      symlinkSync('/etc/passwd', join(workspace, 'public', 'probe-yes'));
      const outside = { plain: await refused('/etc/passwd'), link: await refused('public/probe-yes') };
      await client.close();

      expect(told.direct).toBe(`argument 'path' ('secrets/key.txt') is under ${secrets} ${deny}`);
      expect(told.link).toBe(
        `argument 'path' ('public/link/key.txt' resolves to '${secrets}/key.txt') is under ${secrets} ${deny}`,
      );
      // Two grants of the tool: why each did not admit the call.
      const neither = `no grant admits it: argument 'path' ('notes/todo.txt') is not under ${workspace}/public (profiles.default.mcp.allow[0].when.path.under); argument 'path' ('notes/todo.txt') is not under ${workspace}/${NFC} (profiles.default.mcp.allow[1].when.path.under)`;
      expect(told.neither).toBe(neither);
      // Outside the workspace the agent is told nothing about the host; the audit record says where.
      expect(outside.plain).toBe('a path in this call leads outside the workspace, to a place no grant allows');
      expect(outside.link).toBe(outside.plain);

      const recorded = calls(await agentAuditEvents(mode, workspace, agentOf(workspace)));
      expect(recorded.map((c) => [c.decision, c.outcome])).toEqual(Array(5).fill(['deny', 'denied']));
      expect(recorded.slice(0, 3).map((c) => c.reason)).toEqual([told.direct, told.link, neither]);
      expect(recorded[3]?.reason).toBe(
        `no grant admits it: argument 'path' ('/etc/passwd') is not under ${workspace}/public (profiles.default.mcp.allow[0].when.path.under); argument 'path' ('/etc/passwd') is not under ${workspace}/${NFC} (profiles.default.mcp.allow[1].when.path.under)`,
      );
      expect(recorded[4]?.reason).toContain(
        `argument 'path' ('public/probe-yes' resolves to '/etc/passwd') is not under ${workspace}/public (profiles.default.mcp.allow[0].when.path.under)`,
      );
    },
  );

  it.skipIf(!runnable)(
    'GW-12 a deny with when refuses every spelling that reaches the denied directory: links, arrays of paths, source and destination',
    async () => {
      const client = await start({
        allow: [{ server: 'files', tools: ['*'], when: { '*': { under: ['${workspace}'] } } }],
        deny: [{ server: 'files', tools: ['*'], when: { '*': { under: ['${workspace}/secrets'] } } }],
      });
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain('files__read_multiple_files');
      expect(tools).toContain('files__move_file');

      const readMany = (paths: string[]) =>
        client.callTool({ name: 'files__read_multiple_files', arguments: { paths } });
      const both = text(await readMany(['public/readme.txt', 'public/other.txt']));
      expect(both).toContain('public text');
      expect(both).toContain('other text');
      for (const paths of [
        ['public/readme.txt', 'secrets/key.txt'],
        ['public/readme.txt', 'public/keylink'],
        ['public/link/key.txt'],
      ]) {
        const refused = await refusal(readMany(paths));
        expect(refused.code, paths.join(' ')).toBe(-32003);
        expect(refused.message).not.toContain(CANARY);
      }
      // move_file: out of secrets, or into it.
      for (const args of [
        { source: 'secrets/key.txt', destination: 'public/stolen.txt' },
        { source: 'public/keylink', destination: 'public/stolen.txt' },
        { source: 'public/other.txt', destination: 'public/link/other.txt' },
      ])
        expect((await refusal(client.callTool({ name: 'files__move_file', arguments: args }))).code).toBe(-32003);
      expect(readFileSync(join(workspace, 'secrets', 'key.txt'), 'utf8')).toContain(CANARY);
      expect(existsSync(join(workspace, 'public', 'stolen.txt'))).toBe(false);
      expect(existsSync(join(workspace, 'secrets', 'other.txt'))).toBe(false);
      // An argument the tool does not declare is refused rather than passed on.
      expect(
        await invalidArguments(
          client.callTool({ name: 'files__read_text_file', arguments: { path: 'public/readme.txt', file: 'x' } }),
        ),
      ).toMatch(/not in the tool's inputSchema/);
      await client.close();

      const recorded = calls(await agentAuditEvents(mode, workspace, agentOf(workspace)));
      const denied = recorded.filter((c) => c.outcome === 'denied');
      expect(denied).toHaveLength(6);
      for (const c of denied)
        expect(c.policy_ids).toEqual([expect.stringMatching(/^default\.deny\[0\]\.tool\.\*\.call$/)]);
    },
  );

  it.skipIf(!runnable)(
    'GW-12 a grant with a path condition that does not cover a tool it grants stops the start, naming the tool and the argument',
    async () => {
      workspace = makeWorkspace(mode);
      plantWorkspace(mode, workspace);
      const config = writeConfig(workspace, {
        allow: [
          {
            server: 'files',
            tools: ['read_text_file', 'read_multiple_files'],
            when: { path: { under: ['${workspace}/public'] } },
          },
        ],
      });
      const listed = await warden(mode, ['--config', config, 'tools', 'ls', '--workspace', workspace], {
        cwd: workspace,
      });
      expect(listed.code, listed.stderr).toBe(2);
      expect(listed.stderr).toContain('POLICY_UNCHECKABLE');
      expect(listed.stderr).toContain(
        "default.allow[0] (server 'files'): tool 'read_multiple_files' has no argument 'path' (its path arguments: 'paths')",
      );
      expect(listed.stderr).toMatch(/fix: .*'\*'/);

      // move_file with only its source covered: the destination is named.
      writeConfig(workspace, {
        allow: [{ server: 'files', tools: ['move_file'], when: { source: { under: ['${workspace}/public'] } } }],
      });
      const moved = await warden(mode, ['--config', config, 'gateway', '--stdio', '--workspace', workspace], {
        cwd: workspace,
      });
      expect(moved.code, moved.stderr).toBe(2);
      expect(moved.stderr).toContain("tool 'move_file' takes a path in 'destination'");
    },
  );

  it.skipIf(!runnable)(
    'GW-12 a directory denied in NFC is denied in its NFD spelling too (and the other way round)',
    async () => {
      const client = await start({
        allow: [{ server: 'files', tools: ['read_text_file'], when: { path: { under: ['${workspace}'] } } }],
        deny: [{ server: 'files', tools: ['read_text_file'], when: { path: { under: [`\${workspace}/${NFC}`] } } }],
      });
      for (const path of [`${NFD}/menu.txt`, `${NFC}/menu.txt`]) {
        const refused = await refusal(client.callTool({ name: 'files__read_text_file', arguments: { path } }));
        expect(refused.code, path.normalize('NFD')).toBe(-32003);
        expect(refused.message).not.toContain(CANARY);
      }
      await client.close();
      const recorded = calls(await agentAuditEvents(mode, workspace, agentOf(workspace)));
      // What is forwarded (had it been allowed) is the spelling on disk.
      expect(recorded[0]).toMatchObject({ arguments: { path: `${workspace}/${NFD}/menu.txt` } });
      expect(recorded.map((c) => c.policy_ids)).toEqual([
        ['default.deny[0].tool.read_text_file.call'],
        ['default.deny[0].tool.read_text_file.call'],
      ]);
    },
  );

  it.skipIf(!runnable)('GW-12 warden warns at start when a server can see more than its grants allow', async () => {
    workspace = makeWorkspace(mode);
    plantWorkspace(mode, workspace);
    const config = writeConfig(
      workspace,
      { allow: [{ server: 'files', tools: ['read_text_file'], when: { path: { under: ['${workspace}/public'] } } }] },
      'read-only',
    );
    const listed = await warden(mode, ['--config', config, 'tools', 'ls', '--workspace', workspace], {
      cwd: workspace,
    });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stderr).toContain(
      `warden: warning: server 'files' can see ${workspace}, ${MODULES}, more than its grants' path conditions allow (${workspace}/public)`,
    );
    // Grants that cover what the server sees: no warning.
    writeConfig(workspace, {
      allow: [{ server: 'files', tools: ['read_text_file'], when: { path: { under: ['${workspace}', MODULES] } } }],
    });
    const quiet = await warden(mode, ['--config', config, 'tools', 'ls', '--workspace', workspace], {
      cwd: workspace,
    });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toContain('warning');
  });

  it.skipIf(!runnable)(
    'GW-12 inside warden run: a symlink the agent plants in the sandbox is resolved by the gateway and refused',
    async () => {
      workspace = makeWorkspace(mode);
      plantWorkspace(mode, workspace);
      const config = writeConfig(workspace, {
        allow: [{ server: 'files', tools: ['read_text_file'], when: { path: { under: ['${workspace}'] } } }],
        deny: [{ server: 'files', tools: ['read_text_file'], when: { path: { under: ['${workspace}/secrets'] } } }],
      });
      const curl = `curl -s -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H "Authorization: Bearer $WARDEN_MCP_TOKEN" -H 'MCP-Protocol-Version: 2025-06-18'`;
      const init = JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'sh', version: '1' } },
      });
      const call = (id: number, path: string) =>
        JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'files__read_text_file', arguments: { path } },
        });
      const script = [
        'ln -s ../secrets public/mine',
        `SID=$(${curl} -D - -o /dev/null --data '${init}' "$WARDEN_MCP_URL" | tr -d '\\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')`,
        `${curl} -H "Mcp-Session-Id: $SID" -o /dev/null --data '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$WARDEN_MCP_URL"`,
        `echo PLAIN=$(${curl} -H "Mcp-Session-Id: $SID" --data '${call(2, 'public/readme.txt')}' "$WARDEN_MCP_URL" | tr -d '\\n')`,
        `echo PLANTED=$(${curl} -H "Mcp-Session-Id: $SID" --data '${call(3, 'public/mine/key.txt')}' "$WARDEN_MCP_URL" | tr -d '\\n')`,
      ].join('\n');
      const run = await warden(mode, ['--config', config, 'run', '--', '/bin/sh', '-c', script], { cwd: workspace });
      expect(run.code, run.stderr).toBe(0);
      const values = probeValues(run.stdout);
      expect(values.get('PLAIN')).toContain('public text');
      expect(values.get('PLANTED')).toContain('-32003');
      expect(values.get('PLANTED')).not.toContain(CANARY);
    },
  );
});

describe.each(availableModes())('GW-12 tools that appear later (warden as %s)', (mode: Mode) => {
  let scene: Scene | null = null;
  afterEach(() => {
    scene?.remove();
    scene = null;
  });

  it.skipIf(!fixtureReadable(mode))(
    'GW-12 a tool added at runtime that a glob grant with a path condition cannot be checked on is hidden and refused',
    async () => {
      const s = (scene = new Scene(mode));
      const pathSchema = { type: 'object', properties: { path: { type: 'string' } } };
      s.spec('alpha', {
        tools: [{ name: 'grow', action: 'add_late', inputSchema: pathSchema }],
        late: [
          { name: 'read_one', inputSchema: pathSchema },
          {
            name: 'read_many',
            inputSchema: { type: 'object', properties: { paths: { type: 'array', items: { type: 'string' } } } },
          },
        ],
      });
      s.configure(['alpha'], {
        // About grants, not pins: with pinning on, a tool that appears later is hidden until approved (SCAN-05).
        scan: { pin: 'off' },
        allow: [{ server: 'alpha', tools: ['*'], when: { path: { under: ['${workspace}'] } } }],
      });
      const client = new Client({ name: 'gw12-late', version: '1.0.0' });
      const agent = `gw12-late-${basename(s.root)}`;
      await client.connect(
        new StdioClientTransport({
          ...gatewayStdioCommand(mode, { workspace: s.workspace, config: s.config, agent }),
          stderr: 'pipe',
        }),
      );
      try {
        await client.callTool({ name: 'alpha__grow', arguments: { path: 'x' } });
        let names: string[] = [];
        for (let i = 0; i < 100 && !names.includes('alpha__read_one'); i++) {
          names = (await client.listTools()).tools.map((t) => t.name).sort();
          if (!names.includes('alpha__read_one')) await new Promise((r) => setTimeout(r, 100));
        }
        expect(names).toEqual(['alpha__grow', 'alpha__read_one']);
        expect(
          (await refusal(client.callTool({ name: 'alpha__read_many', arguments: { paths: ['/etc/passwd'] } }))).code,
        ).toBe(-32602);
      } finally {
        await client.close();
      }
      expect(s.upstreamCalls('alpha').map(([name]) => name)).toEqual(['grow']);
      const events = await agentAuditEvents(mode, s.workspace, agent);
      const hidden = events
        .filter((e) => e.type === 'mcp.listed')
        .flatMap((e) => (e.data.hidden as { name: string; reason: string }[]) ?? []);
      expect(hidden).toContainEqual({
        name: 'alpha__read_many',
        reason: expect.stringContaining(
          "argument conditions cannot be checked: tool 'read_many' has no argument 'path'",
        ),
      });
      const refused = calls(events).find((c) => c.name === 'alpha__read_many');
      expect(refused).toMatchObject({ decision: 'deny', reason: expect.stringContaining('cannot be checked') });
    },
  );
});
