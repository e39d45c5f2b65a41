/**
 * Provenance of MCP servers (SCAN-06), as a user meets it: `warden catalog add|ls|verify` through
 * the built CLI, and the gateway (`warden tools ls`, `warden gateway --stdio` with the SDK's real
 * client) starting only servers whose pin verifies, as root and as an ordinary user.
 *
 * The npm package is the real @modelcontextprotocol/server-memory from node_modules, bundled with
 * its dependencies into one file and packed as a tarball here (CI needs no registry beyond
 * `npm ci`); `warden catalog add --tarball` pins that tarball's sha512 and installs it into the
 * test's own state dir with npm (--ignore-scripts).
 */
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  availableModes,
  gatewayStdioCommand,
  makeWorkspace,
  modeUser,
  removeWorkspace,
  userIds,
  warden,
  type AuditEvent,
  type Mode,
  type WardenResult,
} from '../helpers/warden.js';
import { MODULES } from './scene.js';

const MEMORY = '@modelcontextprotocol/server-memory';
const VERSION = (JSON.parse(readFileSync(join(MODULES, MEMORY, 'package.json'), 'utf8')) as { version: string })
  .version;

/** The packed fixture: a tarball of server-memory with its dependencies bundled in. */
let fixtures = '';
let tarball = '';
let program = '';

beforeAll(() => {
  fixtures = mkdtempSync('/tmp/warden-catalog-fixture-');
  chmodSync(fixtures, 0o755);
  const pkg = join(fixtures, 'pkg');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  const built = spawnSync(
    join(MODULES, '.bin', 'esbuild'),
    [
      join(MODULES, MEMORY, 'dist', 'index.js'),
      '--bundle',
      '--platform=node',
      '--format=esm',
      `--outfile=${join(pkg, 'dist', 'index.js')}`,
      '--log-level=warning',
      "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    ],
    { encoding: 'utf8' },
  );
  expect(built.status, built.stderr).toBe(0);
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: MEMORY, version: VERSION, type: 'module', bin: { 'mcp-server-memory': 'dist/index.js' } }),
  );
  const packed = spawnSync('npm', ['pack', '--json', '--pack-destination', fixtures], { cwd: pkg, encoding: 'utf8' });
  expect(packed.status, packed.stderr).toBe(0);
  tarball = join(fixtures, (JSON.parse(packed.stdout) as { filename: string }[])[0]?.filename ?? '');
  chmodSync(tarball, 0o644);
  // A local program for file pins: the same server as one script outside any workspace.
  program = join(fixtures, 'memory-server.mjs');
  copyFileSync(join(pkg, 'dist', 'index.js'), program);
  chmodSync(program, 0o755);
}, 60_000);

afterAll(() => {
  if (fixtures.startsWith('/tmp/warden-catalog-fixture-')) rmSync(fixtures, { recursive: true, force: true });
});

/** One test's files: workspace, its own state dir (so the store can be tampered with), warden.yaml, the catalog. */
class Project {
  readonly workspace: string;
  readonly root: string;
  readonly stateDir: string;
  readonly config: string;
  readonly catalog: string;
  constructor(readonly mode: Mode) {
    this.workspace = makeWorkspace(mode);
    this.root = dirname(this.workspace);
    this.stateDir = join(this.root, 'state');
    mkdirSync(this.stateDir, { mode: 0o700 });
    const user = modeUser(mode);
    const ids = user === null ? null : userIds(user);
    if (ids !== null) {
      chownSync(this.stateDir, ids.uid, ids.gid);
      // warden (as that user) writes warden.catalog.yaml beside warden.yaml.
      chownSync(this.root, ids.uid, ids.gid);
    }
    this.config = join(this.root, 'warden.yaml');
    this.catalog = join(this.root, 'warden.catalog.yaml');
    writeFileSync(this.config, 'version: 1\n', { mode: 0o644 });
  }

  /** warden.yaml with `servers`, all granted (and required, so a refusal stops `tools ls`). */
  configure(servers: Record<string, Record<string, unknown>>, extra: Record<string, unknown> = {}): void {
    const names = Object.keys(servers);
    const config = {
      version: 1,
      ...extra,
      servers,
      profiles: { default: { mcp: { allow: names.map((server) => ({ server, tools: ['*'] })), required: names } } },
    };
    writeFileSync(this.config, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  }

  warden(args: readonly string[]): Promise<WardenResult> {
    return warden(this.mode, ['--config', this.config, ...args], {
      cwd: this.workspace,
      env: { WARDEN_STATE_DIR: this.stateDir },
      timeoutMs: 120_000,
    });
  }

  /** Pins the fixture package (offline, from the tarball) as entry `memory`. */
  async pinPackage(): Promise<void> {
    const added = await this.warden([
      'catalog',
      'add',
      `npm:${MEMORY}@${VERSION}`,
      '--tarball',
      tarball,
      '--name',
      'memory',
    ]);
    expect(added.code, added.stderr).toBe(0);
  }

  /** The installed package's main file in the store. */
  storeFile(): string {
    return join(
      this.stateDir,
      'store',
      'npm',
      MEMORY.replace('/', '+'),
      VERSION,
      'root',
      'node_modules',
      MEMORY,
      'dist',
      'index.js',
    );
  }

  /** Every mcp.server event recorded in this project's state dir. */
  async serverEvents(): Promise<AuditEvent[]> {
    const listed = await this.warden(['audit', 'ls', '--json', '--limit', '100']);
    expect(listed.code, listed.stderr).toBe(0);
    const events: AuditEvent[] = [];
    for (const run of JSON.parse(listed.stdout) as { run_id: string }[]) {
      const shown = await this.warden(['audit', 'show', run.run_id, '--json']);
      events.push(...(JSON.parse(shown.stdout) as AuditEvent[]).filter((e) => e.type === 'mcp.server'));
    }
    return events;
  }

  remove(): void {
    removeWorkspace(this.workspace);
  }
}

const MEMORY_ENV = { env: { set: { MEMORY_FILE_PATH: '/tmp/memory.json' } } };

describe.each(availableModes())('SCAN-06 catalog and provenance (warden as %s)', (mode: Mode) => {
  let project: Project | null = null;
  const open = (): Project => (project = new Project(mode));
  afterEach(() => {
    project?.remove();
    project = null;
  });

  it('SCAN-06 warden catalog add pins a package by exact version and integrity, ls lists it, verify checks the store', async () => {
    const p = open();
    await p.pinPackage();
    const catalog = readFileSync(p.catalog, 'utf8');
    expect(catalog).toContain(`npm: "${MEMORY}"`);
    expect(catalog).toContain(`version: ${VERSION}`);
    expect(catalog).toMatch(/integrity: sha512-[A-Za-z0-9+/]{86}==/);
    const ls = await p.warden(['catalog', 'ls', '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([
      expect.objectContaining({ entry: 'memory', kind: 'npm', name: MEMORY, version: VERSION }),
    ]);
    const verified = await p.warden(['catalog', 'verify']);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toContain('1 entry verified');
    // A changed store file: verify names it and exits 3.
    appendFileSync(p.storeFile(), '\n// changed\n');
    const broken = await p.warden(['catalog', 'verify']);
    expect(broken.code).toBe(3);
    expect(broken.stdout).toContain(`node_modules/${MEMORY}/dist/index.js changed`);
    // `catalog install` repairs it from the store's own tarball (its sha512 still the pin's), offline.
    const repaired = await p.warden(['catalog', 'install']);
    expect(repaired.code, repaired.stdout + repaired.stderr).toBe(0);
    expect((await p.warden(['catalog', 'verify'])).code).toBe(0);
  }, 120_000);

  it('SCAN-06 the CLI refuses bad catalog input with the file, line and field; config check checks the catalog', async () => {
    const p = open();
    const noCatalog = await p.warden(['catalog', 'verify']);
    expect(noCatalog.code).toBe(2);
    expect(noCatalog.stderr).toContain('there is no catalog at');
    const bad = await p.warden(['catalog', 'add', 'left-pad']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('npm:NAME@VERSION, file:/absolute/path or an https:// URL');
    const range = await p.warden(['catalog', 'add', `npm:${MEMORY}@^1`, '--tarball', tarball]);
    expect(range.code).toBe(2);
    expect(range.stderr).toContain('with --tarball, give the exact version');
    writeFileSync(p.catalog, 'version: 1\nservers:\n  memory:\n    npm: x-server\n    version: latest\n');
    const invalid = await p.warden(['catalog', 'ls']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/warden\.catalog\.yaml:5:\d+ servers\.memory\.version: must be an exact version/);
    expect(invalid.stderr).toContain('servers.memory.integrity: required');
    rmSync(p.catalog);
    await p.pinPackage();
    p.configure({ mem: { catalog: 'memory' }, other: { catalog: 'nope' } });
    const check = await p.warden(['config', 'check']);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain(`servers.other.catalog: ${p.catalog} has no entry 'nope'`);
    p.configure({ mem: { catalog: 'memory' } });
    const ok = await p.warden(['config', 'check']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`${p.catalog}: ok; 1 pinned server(s)`);
  }, 120_000);

  it('SCAN-06 a catalog-pinned npm server starts from the store and its tools work through the gateway', async () => {
    const p = open();
    await p.pinPackage();
    p.configure({ mem: { catalog: 'memory', ...MEMORY_ENV } });
    const transport = new StdioClientTransport({
      ...gatewayStdioCommand(mode, {
        workspace: p.workspace,
        config: p.config,
        agent: `catalog-${process.pid}`,
        env: { WARDEN_STATE_DIR: p.stateDir },
      }),
      stderr: 'pipe',
    });
    const client = new Client({ name: 'catalog-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('mem__create_entities');
      await client.callTool({
        name: 'mem__create_entities',
        arguments: { entities: [{ name: 'pinned', entityType: 'test', observations: ['from the store'] }] },
      });
      const graph = await client.callTool({ name: 'mem__read_graph', arguments: {} });
      expect(JSON.stringify(graph)).toContain('from the store');
    } finally {
      await client.close();
    }
  }, 120_000);

  it('SCAN-06 a tampered store file keeps the server from starting: the error names the file, and an mcp.server failed event records it', async () => {
    const p = open();
    await p.pinPackage();
    p.configure({ mem: { catalog: 'memory', ...MEMORY_ENV } });
    appendFileSync(p.storeFile(), '\nprocess.stderr.write("tampered");\n');
    const result = await p.warden(['tools', 'ls']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`MCP server 'mem' did not start`);
    expect(result.stderr).toMatch(new RegExp(`dist/index.js changed \\(expected sha256 [0-9a-f]{16}…`));
    const failed = (await p.serverEvents()).filter((e) => e.data['state'] === 'failed');
    expect(failed.map((e) => e.data['detail'])).toEqual([expect.stringContaining('dist/index.js changed')]);
  }, 120_000);

  it('SCAN-06 a catalog whose integrity differs from the store (wrong integrity) is refused, naming expected and found', async () => {
    const p = open();
    await p.pinPackage();
    const original = readFileSync(p.catalog, 'utf8');
    const found = /integrity: (sha512-\S+)/.exec(original)?.[1] ?? '';
    const wrong = `sha512-${Buffer.alloc(64, 7).toString('base64')}`;
    writeFileSync(p.catalog, original.replace(found, wrong));
    p.configure({ mem: { catalog: 'memory', ...MEMORY_ENV } });
    const result = await p.warden(['tools', 'ls']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`integrity differs from the catalog's pin: expected ${wrong}, found ${found}`);
  }, 120_000);

  it('SCAN-06 npx with another version than the catalog pins (wrong version) is refused, naming both', async () => {
    const p = open();
    await p.pinPackage();
    p.configure({ mem: { command: 'npx', args: ['-y', `${MEMORY}@0.0.1`], ...MEMORY_ENV } });
    const result = await p.warden(['tools', 'ls']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`expected version ${VERSION}, found 0.0.1`);
    const failed = (await p.serverEvents()).filter((e) => e.data['state'] === 'failed');
    expect(failed).toHaveLength(1);
  }, 120_000);

  it('SCAN-06 npx of the pinned version runs the store copy, not the registry', async () => {
    const p = open();
    await p.pinPackage();
    p.configure({ mem: { command: 'npx', args: ['-y', `${MEMORY}@${VERSION}`], ...MEMORY_ENV } });
    const result = await p.warden(['tools', 'ls']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('mem__read_graph');
  }, 120_000);

  it('SCAN-06 a changed local program (file pin) is refused with expected and found sha256', async () => {
    const p = open();
    const local = join(p.root, 'memory-server.mjs');
    copyFileSync(program, local);
    chmodSync(local, 0o755);
    const added = await p.warden(['catalog', 'add', `file:${local}`, '--name', 'local-memory']);
    expect(added.code, added.stderr).toBe(0);
    p.configure({ mem: { command: 'node', args: [local], filesystem: { read_only: [p.root] }, ...MEMORY_ENV } });
    const ok = await p.warden(['tools', 'ls']);
    expect(ok.code, ok.stderr).toBe(0);
    const pinned = /sha256: ([0-9a-f]{64})/.exec(readFileSync(p.catalog, 'utf8'))?.[1] ?? '';
    appendFileSync(local, '\n// changed after review\n');
    const refused = await p.warden(['tools', 'ls']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(
      `${local} differs from the catalog's pin (entry 'local-memory'): expected sha256 ${pinned}, found `,
    );
  }, 120_000);

  it('SCAN-06 while a catalog exists, an unpinned server is refused unless catalog.unpinned lists it; a typosquat name is flagged', async () => {
    const p = open();
    await p.pinPackage();
    p.configure({
      other: { command: 'node', args: [program], filesystem: { read_only: [dirname(program)] }, ...MEMORY_ENV },
    });
    const refused = await p.warden(['tools', 'ls']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('which the catalog');
    expect(refused.stderr).toContain('unpinned servers are not started');
    p.configure(
      { other: { command: 'node', args: [program], filesystem: { read_only: [dirname(program)] }, ...MEMORY_ENV } },
      { catalog: { unpinned: ['other'] } },
    );
    const allowed = await p.warden(['tools', 'ls']);
    expect(allowed.code, allowed.stderr).toBe(0);
    // A typosquat of the pinned name is refused before anything is fetched.
    p.configure({ squat: { command: 'npx', args: ['-y', '@modelcontextprotoco1/server-memory@1.0.0'] } });
    const squat = await p.warden(['tools', 'ls']);
    expect(squat.code).not.toBe(0);
    expect(squat.stderr).toContain(`@modelcontextprotoco1/server-memory, which looks like a typosquat of ${MEMORY}`);
    // And `catalog add` refuses a lookalike unless told.
    const add = await p.warden(['catalog', 'add', 'npm:@modelcontextprotocol/server-memroy@1.0.0']);
    expect(add.code).toBe(2);
    expect(add.stderr).toContain(`looks like a typosquat of ${MEMORY}`);
  }, 120_000);
});
