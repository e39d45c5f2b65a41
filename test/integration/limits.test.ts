/**
 * Resource limits (SBX-14, SBX-18) by backend: cgroup v1 (root, and warden-tester with a
 * delegated subtree), rlimits (warden-nocg, an ordinary user without cgroups), and cgroup v2.
 *
 * This machine mounts cgroup v1 controllers; its cgroup v2 hierarchy (/sys/fs/cgroup/unified)
 * has none of memory, pids and cpu. So the v2 backend runs here against the real kernel for
 * everything but the controllers: making the run group, moving the launcher in by pid, an
 * ordinary user's delegated cgroup (warden moving itself into its leaf), the kernel refusing a
 * root-made subtree to a user, killing through cgroup.kill, removing. memory.max, pids.max and
 * cpu.max themselves are tested against an imitation (src/sandbox/limits/cgroup-v2.test.ts);
 * NOT exercised here: the kernel enforcing them (an OOM kill counted in memory.events, pids.max
 * stopping a fork, cpu.max throttling) and systemd handing out a delegated scope.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cgroupLayout } from '../../src/sandbox/host.js';
import { groupPids, killGroups, removeGroups } from '../../src/sandbox/limits/cgroup-dir.js';
import { CgroupV2Parent, enableControllers, enrolV2 } from '../../src/sandbox/limits/cgroup-v2.js';
import { hostPidsWith, isAlive, nonce, PY_PRELUDE, runIdOf, runPython, waitFor } from '../escape/escape-kit.js';
import { fixtureReadable, Scene } from '../gateway/scene.js';
import {
  auditEvents,
  gatewayStdioCommand,
  makeWorkspace,
  NOCG_USER,
  removeWorkspace,
  runShell,
  userIds,
  warden,
  type Mode,
  type WardenResult,
} from '../helpers/warden.js';

const nocg = userIds(NOCG_USER);
const unified = cgroupLayout().unified;
const isV1Host = cgroupLayout().version === 'v1';

/** Modes whose limits come from cgroup v1 here, and the mode without any cgroup. */
const cgroupModes: Mode[] = isV1Host ? (userIds('warden-tester') === null ? ['root'] : ['root', 'user']) : [];

function expectNoStackTrace(run: WardenResult): void {
  // Node's report of an uncaught error: a source line of the (minified) bundle, "at" frames, its version.
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(run.stderr).not.toMatch(/Node\.js v\d+/);
  expect(run.stderr).not.toContain('warden.cjs:');
  expect(run.stderr.length).toBeLessThan(2000);
}

let workspace = '';
afterEach(() => {
  if (workspace !== '') removeWorkspace(workspace);
  workspace = '';
});

describe.skipIf(nocg === null)('limits without cgroups: rlimits (warden-nocg, no delegation)', () => {
  it('SBX-14 a memory bomb stops at the memory limit (RLIMIT_DATA per process); the summary says the limit holds per process', async () => {
    workspace = makeWorkspace('nocg');
    const code = `${PY_PRELUDE}
chunks = []
try:
    for i in range(64):
        chunks.append(b'\\x01' * (16 << 20))
        os.write(1, b'ALLOCATED_MIB=%d\\n' % ((i + 1) * 16))
except MemoryError:
    print('MEMORY_ERROR=yes', flush=True)
    sys.exit(3)
print('SURVIVED=yes', flush=True)
`;
    const run = await runPython('nocg', workspace, code, {}, ['--memory', '64MiB']);
    expect(run.code, run.stderr).toBe(3);
    const allocated = run.stdout
      .split('\n')
      .filter((l) => l.startsWith('ALLOCATED_MIB='))
      .map((l) => Number(l.split('=')[1]));
    // It really allocated, up to the limit and no further.
    expect(Math.max(...allocated)).toBeGreaterThanOrEqual(32);
    expect(Math.max(...allocated)).toBeLessThan(80);
    expect(run.stdout).toContain('MEMORY_ERROR=yes');
    expect(run.stdout).not.toContain('SURVIVED');
    expect(run.stderr).toContain('limits: memory 64 MiB per process (rlimit), processes 1024 (rlimit); hit: none');
    expect(run.stderr).toMatch(
      /limits NOT enforced: cpu \(no cgroup cpu controller: no cgroup v1 subtree is delegated to uid \d+\)/,
    );
    expect(run.summary).toMatchObject({
      limits: [
        { limit: 'memory', value: 64 * 1024 * 1024, by: 'rlimit', scope: 'process' },
        { limit: 'pids', value: 1024, by: 'rlimit', scope: 'sandbox' },
        { limit: 'cpu', by: 'none', scope: 'none' },
      ],
    });
  });

  it('SBX-14 the memory rlimit does not break runtimes that reserve address space (Node WebAssembly)', async () => {
    workspace = makeWorkspace('nocg');
    // Under RLIMIT_AS of 4 GiB this fails ("could not allocate memory"): V8 reserves ~10 GiB for it.
    const run = await runShell(
      'nocg',
      workspace,
      `node -e 'new WebAssembly.Memory({ initial: 1 }); console.log("WASM=ok")'`,
      ['--memory', '4GiB'],
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('WASM=ok');
    expect(run.summary).toMatchObject({ limits: [{ limit: 'memory', by: 'rlimit' }, {}, {}] });
  });

  it("SBX-14 a fork bomb stops at the process limit, counted in the sandbox's own user namespace (the user's other processes do not count)", async () => {
    workspace = makeWorkspace('nocg');
    const ids = userIds(NOCG_USER) ?? { uid: -1, gid: -1 };
    // 80 processes of the same user outside the sandbox: a per-user count would leave the bomb nothing.
    const n = nonce();
    const outside = spawn('/bin/sh', ['-c', `for i in $(seq 80); do sleep 120 & done; wait`, `outside-${n}`], {
      uid: ids.uid,
      gid: ids.gid,
      stdio: 'ignore',
      detached: true,
    });
    try {
      expect(await waitFor(() => countProcessesOf(ids.uid) >= 80, 10_000)).toBe(true);
      // The marker is assembled at run time, so only the bomb's own processes carry it.
      const script = `
        b=${n}
        exec python3 -c 'import os, time, errno
kids = []
err = None
for i in range(10000):
    try:
        pid = os.fork()
    except OSError as e:
        err = errno.errorcode[e.errno]
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    kids.append(pid)
print("FORKED=%d" % len(kids)); print("FORK_ERROR=%s" % err, flush=True)
open("bombing", "w").close()
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.001)' "bomb-$b"`;
      const running = runShell('nocg', workspace, script, ['--pids', '64', '--timeout', '8s']);
      expect(await waitFor(() => existsSync(join(workspace, 'bombing')), 20_000)).toBe(true);
      // While the bomb runs: the host answers quickly and the sandbox stays at its limit.
      let slowest = 0;
      let peak = 0;
      for (let i = 0; i < 8; i++) {
        const t = process.hrtime.bigint();
        expect(spawnSync('/bin/true').status).toBe(0);
        slowest = Math.max(slowest, Number(process.hrtime.bigint() - t) / 1e6);
        peak = Math.max(peak, hostPidsWith(`bomb-${n}`).length);
        await new Promise((r) => setTimeout(r, 250));
      }
      const run = await running;
      expect(run.code, run.stderr).toBe(124);
      const forked = Number(/FORKED=(\d+)/.exec(run.stdout)?.[1]);
      expect(run.stdout).toContain('FORK_ERROR=EAGAIN');
      // 64 tasks in the sandbox's namespace: bwrap's init, warden-init's relay, python and its children.
      expect(forked).toBeGreaterThan(50);
      expect(forked).toBeLessThan(64);
      expect(peak, 'the bomb was running').toBeGreaterThan(40);
      expect(peak).toBeLessThanOrEqual(64);
      expect(slowest, 'spawning /bin/true on the host took too long').toBeLessThan(2_000);
      expect(run.stderr).toContain('processes 64 (rlimit)');
      expect(await waitFor(() => hostPidsWith(`bomb-${n}`).length === 0, 5_000)).toBe(true);
    } finally {
      if (outside.pid !== undefined) process.kill(-outside.pid, 'SIGKILL');
    }
  });

  it('SBX-14 the audit record and warden doctor say which limits hold and how to get more', async () => {
    workspace = makeWorkspace('nocg');
    const run = await runShell('nocg', workspace, 'true');
    expect(run.code, run.stderr).toBe(0);
    const started = (await auditEvents('nocg', workspace, runIdOf(run))).find((e) => e.type === 'run.started');
    expect((started?.data.limits as { enforcement: unknown }).enforcement).toMatchObject([
      { limit: 'memory', by: 'rlimit', scope: 'process' },
      { limit: 'pids', by: 'rlimit', scope: 'sandbox' },
      { limit: 'cpu', by: 'none', scope: 'none' },
    ]);
    const doctor = await warden('nocg', ['doctor'], { cwd: workspace });
    expect(doctor.stdout).toMatch(
      /\[WARN\] limits: memory 4 GiB per process \(rlimit\), processes 1024 \(rlimit\); limits NOT enforced: cpu .*runs go ahead under the policy best-effort/,
    );
    expect(doctor.stdout).toMatch(/fix: ask an admin to run `sudo scripts\/setup\.sh --delegate-user \$\(id -un\)`/);
  });

  it('SBX-18 with sandbox.limits: required, a user without cgroups is refused with the fix: nothing runs, nothing is recorded, no stack trace', async () => {
    workspace = makeWorkspace('nocg');
    const config = join(workspace, '..', 'warden.yaml');
    writeFileSync(config, 'version: 1\nsandbox:\n  limits: required\n', { mode: 0o644 });
    const before = await warden('nocg', ['audit', 'ls', '--json', '--limit', '1000'], { cwd: workspace });
    const run = await warden('nocg', ['--config', config, 'run', '--', '/bin/sh', '-c', 'touch ran'], {
      cwd: workspace,
    });
    expect(run.code).toBe(125);
    expect(run.stderr).toMatch(
      /^warden: resource limits cannot be enforced for the whole sandbox: memory \(only per process, through an rlimit: no cgroup memory controller: .*\); cpu \(no cgroup cpu controller: .*\)\n  fix: ask an admin to run `sudo scripts\/setup\.sh --delegate-user \$\(id -un\)`; or pass --accept-missing-limits .*\n  \(LIMITS_UNAVAILABLE; see docs\/errors\.md\)\n$/,
    );
    expectNoStackTrace(run);
    expect(existsSync(join(workspace, 'ran'))).toBe(false);
    const after = await warden('nocg', ['audit', 'ls', '--json', '--limit', '1000'], { cwd: workspace });
    expect(after.stdout).toBe(before.stdout);
    // The flag runs it anyway, and says what does not hold.
    const accepted = await warden(
      'nocg',
      ['--config', config, 'run', '--accept-missing-limits', '--', '/bin/sh', '-c', 'touch ran'],
      {
        cwd: workspace,
      },
    );
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stderr).toContain('limits NOT enforced: cpu');
  });

  it('SBX-18 a cgroup that cannot be made fails with LIMITS_UNAVAILABLE and no stack trace (it crashed warden with ~21 KB of minified source)', async () => {
    workspace = makeWorkspace('nocg');
    const mount = cgroupLayout().mounts.pids ?? '';
    expect(mount, 'this test needs the cgroup v1 pids hierarchy').not.toBe('');
    // A delegated subtree warden finds (owned by the user) but cannot create a group in.
    const dir = join(mount, 'warden', `user-${nocg?.uid ?? -1}`);
    mkdirSync(dir, { recursive: true });
    chownSync(dir, nocg?.uid ?? -1, nocg?.gid ?? -1);
    chmodSync(dir, 0o555);
    try {
      const run = await runShell('nocg', workspace, 'touch ran');
      expect(run.code).toBe(125);
      expect(run.stderr).toMatch(
        /^warden: could not create the run's cgroups: EACCES: permission denied, mkdir '.*'\n  fix: .*\n  \(LIMITS_UNAVAILABLE; see docs\/errors\.md\)\n$/,
      );
      expectNoStackTrace(run);
      expect(existsSync(join(workspace, 'ran'))).toBe(false);
    } finally {
      rmdirSync(dir);
    }
  });

  it.skipIf(!fixtureReadable('nocg'))(
    'SBX-14 warden gateway --stdio as a user without cgroups starts its server (the desktop-client case), whose sandbox gets the same limits',
    async () => {
      const scene = new Scene('nocg');
      try {
        scene.spec('files', { tools: [{ name: 'read_file' }] });
        scene.configure(['files'], { allow: [{ server: 'files', tools: ['read_file'] }] });
        const client = new Client({ name: 'limits-test', version: '1.0.0' });
        await client.connect(
          new StdioClientTransport({
            ...gatewayStdioCommand('nocg', {
              workspace: scene.workspace,
              config: scene.config,
              agent: `limits-${nonce()}`,
            }),
            stderr: 'pipe',
          }),
        );
        try {
          const tools = await client.listTools();
          expect(tools.tools.map((t) => t.name)).toEqual(['files__read_file']);
          // The server's sandbox holds the same rlimits as an agent's would.
          // The server itself (the launcher and the init carry its command line too); its program
          // is resolved on the host before it starts (GW-13), so argv[0] is node's absolute path.
          const server = hostPidsWith(scene.specPath('files')).find(
            (pid) =>
              ownerOf(pid) === nocg?.uid &&
              /(^|\/)node$/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? ''),
          );
          expect(server, 'the server runs').toBeDefined();
          const limits = readFileSync(`/proc/${server ?? -1}/limits`, 'utf8');
          expect(limits).toMatch(/^Max data size\s+4294967296\s+4294967296\s+bytes/m);
          expect(limits).toMatch(/^Max processes\s+1024\s+1024\s+processes/m);
        } finally {
          await client.close();
        }
        // Required limits refuse the server with the limits' own fix, not "check servers.files";
        // a server the profile requires (mcp.required) then stops the gateway.
        const required = JSON.parse(readFileSync(scene.config, 'utf8')) as {
          sandbox?: { limits: string };
          profiles: Record<string, { mcp: { required?: string[] } }>;
        };
        required.sandbox = { limits: 'required' };
        for (const profile of Object.values(required.profiles)) profile.mcp.required = ['files'];
        writeFileSync(scene.config, JSON.stringify(required, null, 2));
        const gateway = gatewayStdioCommand('nocg', {
          workspace: scene.workspace,
          config: scene.config,
          agent: `limits-${nonce()}`,
        });
        const refused = spawnSync(gateway.command, gateway.args, {
          input: '',
          encoding: 'utf8',
          cwd: gateway.cwd,
          env: gateway.env,
          timeout: 30_000,
        });
        expect(refused.status).toBe(125);
        expect(refused.stderr).toMatch(
          /MCP server 'files' did not start: resource limits cannot be enforced for the whole sandbox/,
        );
        expect(refused.stderr).toMatch(/fix: ask an admin to run `sudo scripts\/setup\.sh --delegate-user/);
        expect(refused.stderr).not.toContain('check servers.files');
      } finally {
        scene.remove();
      }
    },
  );
});

describe.each(cgroupModes)('limits through cgroup v1, warden as %s', (mode: Mode) => {
  it('SBX-14 the summary, the audit record and warden doctor say cgroup v1 holds each limit', async () => {
    workspace = makeWorkspace(mode);
    const run = await runShell(mode, workspace, 'true', [
      '--memory',
      '2GiB',
      '--pids',
      '512',
      '--cpu',
      '1.5',
      '--timeout',
      '1m',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(
      '  limits: memory 2 GiB (cgroup v1), processes 512 (cgroup v1), cpu 1.5 cores (cgroup v1), timeout 1m (warden); hit: none\n',
    );
    expect(run.stderr).not.toContain('NOT enforced');
    const started = (await auditEvents(mode, workspace, runIdOf(run))).find((e) => e.type === 'run.started');
    expect((started?.data.limits as { enforcement: unknown }).enforcement).toEqual([
      { limit: 'memory', value: 2 * 1024 ** 3, by: 'cgroup-v1', scope: 'sandbox' },
      { limit: 'pids', value: 512, by: 'cgroup-v1', scope: 'sandbox' },
      { limit: 'cpu', value: 1.5, by: 'cgroup-v1', scope: 'sandbox' },
    ]);
    const doctor = await warden(mode, ['doctor'], { cwd: workspace });
    expect(doctor.stdout).toMatch(
      /\[ ok \] limits: memory 4 GiB \(cgroup v1\), processes 1024 \(cgroup v1\), cpu [\d.]+ cores? \(cgroup v1\)/,
    );
  });

  it('SBX-14 a memory limit hit is reported in binary units', async () => {
    workspace = makeWorkspace(mode);
    const run = await runPython(
      mode,
      workspace,
      `${PY_PRELUDE}\nx = [b'\\x01' * (16 << 20) for i in range(16)]\n`,
      {},
      ['--memory', '64MiB'],
    );
    expect(run.code, run.stderr).toBe(123);
    const hit = (await auditEvents(mode, workspace, runIdOf(run))).find((e) => e.type === 'limit.hit');
    expect(hit?.data).toEqual({
      limit: 'memory',
      detail: 'memory limit of 64 MiB reached; the kernel killed a process',
    });
  });
});

describe.skipIf(unified === null || process.getuid?.() !== 0)(
  'cgroup v2 against the real kernel (no v2 controllers here)',
  () => {
    const base = join(unified ?? '/nonexistent', `warden-test-${process.pid}-${nonce()}`);
    beforeAll(() => mkdirSync(base));
    afterAll(async () => {
      // Deepest first; every group is empty by now.
      const all = (dir: string): string[] =>
        readdirSync(dir, { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .flatMap((e) => [...all(join(dir, e.name)), join(dir, e.name)]);
      await killGroups([...all(base), base], 2000);
      removeGroups([...all(base), base]);
    });

    it('SBX-14 a v2 run group: the launcher is moved in by pid before it forks, so its whole tree is inside, and cgroup.kill ends it at once', async () => {
      const parent = new CgroupV2Parent({
        usable: true,
        kind: 'root',
        mount: base,
        parent: join(base, 'warden'),
        controllers: [],
        split: false,
      });
      parent.prepare([]);
      const run = join(parent.dir, 'run_real1');
      mkdirSync(run);
      const tree = spawn('/bin/sh', ['-c', 'read go; sleep 300 & sleep 300 & wait'], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      await enrolV2(run, tree.pid ?? -1);
      tree.stdin.write('go\n');
      expect(await waitFor(() => groupPids(run).length === 3, 5_000)).toBe(true);
      expect(readFileSync(`/proc/${tree.pid ?? -1}/cgroup`, 'utf8')).toContain(`0::${run.slice(unified?.length ?? 0)}`);
      expect(readFileSync(join(run, 'cgroup.events'), 'utf8')).toMatch(/^populated 1$/m);
      const members = groupPids(run);
      await killGroups([run], 2000);
      expect(await waitFor(() => members.every((pid) => !isAlive(pid)), 2_000)).toBe(true);
      expect(await waitFor(() => /^populated 0$/m.test(readFileSync(join(run, 'cgroup.events'), 'utf8')), 2_000)).toBe(
        true,
      );
      expect(await waitFor(() => removeGroups([run]).length === 0, 2_000)).toBe(true);
      expect(existsSync(run)).toBe(false);
    });

    it('SBX-14 a controller the hierarchy lacks is refused by the kernel, and warden says so', () => {
      const group = join(base, 'no-memory');
      mkdirSync(group);
      expect(() => enableControllers(group, ['memory'])).toThrow(
        `cannot enable memory in ${group}: ${group} does not offer memory (not in its cgroup.controllers)`,
      );
    });

    it.skipIf(nocg === null)(
      "SBX-14 an ordinary user's delegated v2 cgroup: warden moves itself into its leaf and the launcher into a run group of its own; a subtree made for the user elsewhere is refused by the kernel",
      async () => {
        const ids = nocg ?? { uid: -1, gid: -1, home: '/' };
        // What systemd does for a Delegate=yes scope: the cgroup and its interface files belong to the user.
        const delegated = join(base, 'delegated');
        const foreign = join(base, 'foreign');
        for (const dir of [delegated, foreign]) {
          mkdirSync(dir);
          for (const path of [
            dir,
            join(dir, 'cgroup.procs'),
            join(dir, 'cgroup.subtree_control'),
            join(dir, 'cgroup.threads'),
          ])
            chownSync(path, ids.uid, ids.gid);
        }
        const driver = await bundleDriver();
        try {
          // setpriv execs in place (runuser would fork and leave itself in the cgroup too).
          const ran = spawnSync(
            '/bin/sh',
            [
              '-c',
              'echo $$ > "$1/cgroup.procs" && exec setpriv --reuid="$2" --regid="$3" --clear-groups -- "$4" "$5" "$6"',
              'sh',
              delegated,
              String(ids.uid),
              String(ids.gid),
              process.execPath,
              driver,
              foreign,
            ],
            { encoding: 'utf8', timeout: 30_000, env: { PATH: '/usr/bin:/bin', HOME: ids.home } },
          );
          expect(ran.status, ran.stderr).toBe(0);
          const facts = new Map(
            ran.stdout
              .split('\n')
              .filter((l) => l !== '')
              .map((l) => {
                const { key, value } = JSON.parse(l) as { key: string; value: unknown };
                return [key, value];
              }),
          );
          const rel = (path: string): string => path.slice(unified?.length ?? 0);
          expect(facts.get('probe')).toEqual({
            usable: true,
            kind: 'delegated',
            mount: unified,
            parent: delegated,
            controllers: [],
            split: true,
          });
          expect(facts.get('self')).toContain(`0::${rel(delegated)}/warden-supervisor`);
          expect(facts.get('members')).toBe(3);
          expect(facts.get('treeCgroup')).toContain(`0::${rel(delegated)}/run_driver`);
          expect(facts.get('afterKill')).toBe(0);
          expect(facts.get('removed')).toBe(true);
          expect(facts.get('foreign')).toBe('EACCES');
        } finally {
          rmSync(join(driver, '..'), { recursive: true, force: true });
        }
      },
    );
  },
);

/** Bundles the v2 driver (TypeScript, importing warden's modules) to a file the test users can run. */
async function bundleDriver(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-cgroup-driver-'));
  chmodSync(dir, 0o755);
  const outfile = join(dir, 'driver.mjs');
  await build({
    entryPoints: [join(import.meta.dirname, 'fixtures', 'cgroup-v2-driver.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'silent',
  });
  chmodSync(outfile, 0o644);
  return outfile;
}

function countProcessesOf(uid: number): number {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name) && ownerOf(Number(name)) === uid).length;
}

function ownerOf(pid: number): number | null {
  try {
    return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? -1);
  } catch {
    return null;
  }
}
