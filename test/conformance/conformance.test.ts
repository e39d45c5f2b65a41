/**
 * Issue 3: the official MCP conformance suite (@modelcontextprotocol/conformance, its server
 * scenarios) against Warden's MCP gateway fronting server-everything, everything granted.
 *
 * The suite speaks Streamable HTTP to a URL, so it runs as the agent of a `warden run` and tests
 * the gateway endpoint the run exposes at $WARDEN_MCP_URL. It needs Node 22; both are installed
 * (pinned) on first use into node_modules/.cache/warden-conformance, which is gitignored with
 * node_modules and lies beside the server-everything that the server sandboxes already read.
 * The outcome must match expected-failures.yml exactly (the CLI fails on a new failure and on a
 * listed scenario that passes); README.md gives every scenario's result and the reasons.
 * A second test runs the same suite against server-everything directly (no gateway), so what the
 * gateway changes stays visible.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  availableModes,
  giveToSandbox,
  makeWorkspace,
  removeWorkspace,
  REPO,
  SANDBOX_USER,
  TEST_USER,
  warden,
  type Mode,
} from '../helpers/warden.js';

const HERE = import.meta.dirname;
const MODULES = join(REPO, 'node_modules');
const SERVER_EVERYTHING = join(MODULES, '@modelcontextprotocol/server-everything/dist/index.js');
/** Warden's own fixture serving the names the scenarios call (fixtures/conformance-server.mjs). */
const FIXTURES = join(HERE, 'fixtures');
const FIXTURE = join(FIXTURES, 'conformance-server.mjs');

/** Pinned: the baselines are only valid for these versions. */
const CONFORMANCE_VERSION = '0.1.16';
const NODE22_VERSION = '22.23.3';
const NODE22_PACKAGE = `node-linux-${process.arch}`;

const WORK = join(MODULES, '.cache', 'warden-conformance');
const NODE22 = join(WORK, 'node_modules', NODE22_PACKAGE, 'bin', 'node');
const CONFORMANCE = join(WORK, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const PRELOAD = join(WORK, 'run-token-preload.mjs');

/** `server --suite all`: the 30 active scenarios plus the 2 pending ones. */
const SCENARIO_COUNT = 32;

function installedVersion(packageDir: string): string | null {
  const manifest = join(packageDir, 'package.json');
  if (!existsSync(manifest)) return null;
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version ?? null;
}

/** Installs Node 22 and the conformance CLI into WORK unless the pinned versions are there. */
function ensureInstalled(): void {
  if (process.arch !== 'x64' && process.arch !== 'arm64')
    throw new Error(
      `no Node 22 package for ${process.arch}: the conformance suite needs ${NODE22_PACKAGE}@22 from npm`,
    );
  const ready =
    installedVersion(join(WORK, 'node_modules', NODE22_PACKAGE)) === NODE22_VERSION &&
    installedVersion(join(WORK, 'node_modules', '@modelcontextprotocol', 'conformance')) === CONFORMANCE_VERSION;
  if (!ready) {
    mkdirSync(WORK, { recursive: true });
    const manifest = {
      name: 'warden-conformance-runner',
      private: true,
      dependencies: { '@modelcontextprotocol/conformance': CONFORMANCE_VERSION, [NODE22_PACKAGE]: NODE22_VERSION },
    };
    writeFileSync(join(WORK, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
      cwd: WORK,
      encoding: 'utf8',
      timeout: 100_000,
    });
    if (npm.error !== undefined || npm.status !== 0) {
      const why = npm.error?.message ?? `exit ${npm.status}, signal ${npm.signal}`;
      throw new Error(
        `installing the conformance suite into ${WORK} failed (npm install ${NODE22_PACKAGE}@${NODE22_VERSION} @modelcontextprotocol/conformance@${CONFORMANCE_VERSION}: ${why}). The machine must reach the npm registry.\n${npm.stderr.slice(-2000)}`,
      );
    }
    // The sandboxes (warden-sandbox, or the test user) must read and execute it.
    spawnSync('chmod', ['-R', 'a+rX', WORK]);
  }
  const version = spawnSync(NODE22, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (version.stdout.trim() !== `v${NODE22_VERSION}`)
    throw new Error(
      `${NODE22} --version gave ${JSON.stringify(version.stdout)} ${version.stderr}: reinstall by removing ${WORK}`,
    );
  copyFileSync(join(HERE, 'run-token-preload.mjs'), PRELOAD);
}

/** Whether `mode`'s sandboxes can read the fixture server (under test/, in the worktree). */
function fixtureReadable(mode: Mode): boolean {
  const user = mode === 'root' ? SANDBOX_USER : TEST_USER;
  return spawnSync('runuser', ['-u', user, '--', 'test', '-r', FIXTURE]).status === 0;
}

/** Check totals README.md reports for the fixture runs. */
const FIXTURE_DIRECT_CHECKS = { passed: 44, failed: 0 };
const FIXTURE_GATEWAY_CHECKS = { passed: 44, failed: 0 };

/** Whether `mode`'s sandboxes can read server-everything and WORK (both under node_modules). */
function modulesReadable(mode: Mode): boolean {
  const user = mode === 'root' ? SANDBOX_USER : TEST_USER;
  return spawnSync('runuser', ['-u', user, '--', 'test', '-r', SERVER_EVERYTHING]).status === 0;
}

/** The scenarios listed in a baseline file. */
function baseline(file: string): string[] {
  const parsed = parseYaml(readFileSync(file, 'utf8')) as { server?: string[] };
  return [...(parsed.server ?? [])].sort();
}

interface Check {
  readonly id: string;
  readonly status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO';
  readonly errorMessage?: string;
}

/** The checks the CLI wrote with `-o DIR`, by scenario (`DIR/server-<scenario>-<timestamp>/checks.json`). */
function resultsByScenario(dir: string): Map<string, Check[]> {
  const results = new Map<string, Check[]>();
  for (const entry of existsSync(dir) ? readdirSync(dir) : []) {
    const scenario = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(entry)?.[1];
    if (scenario === undefined) throw new Error(`unexpected entry in ${dir}: ${entry}`);
    results.set(scenario, JSON.parse(readFileSync(join(dir, entry, 'checks.json'), 'utf8')) as Check[]);
  }
  return results;
}

interface Outcome {
  readonly scenarios: number;
  readonly failing: string[];
  readonly passedChecks: number;
  readonly failedChecks: number;
}

function outcome(results: Map<string, Check[]>): Outcome {
  const all = [...results.values()].flat();
  return {
    scenarios: results.size,
    // The CLI's baseline rule: a scenario with a FAILURE or a WARNING check counts as failing.
    failing: [...results]
      .filter(([, checks]) => checks.some((c) => c.status === 'FAILURE' || c.status === 'WARNING'))
      .map(([name]) => name)
      .sort(),
    passedChecks: all.filter((c) => c.status === 'SUCCESS').length,
    failedChecks: all.filter((c) => c.status === 'FAILURE').length,
  };
}

/** What to show when the run does not match its baseline: the CLI's summary and the failures. */
function explain(stdout: string, stderr: string, results: Map<string, Check[]>): string {
  const failures = [...results].flatMap(([name, checks]) =>
    checks
      .filter((c) => c.status === 'FAILURE' || c.status === 'WARNING')
      .map((c) => `  ${name} ${c.id} ${c.status}: ${c.errorMessage ?? ''}`),
  );
  const summary = stdout.includes('=== SUMMARY ===')
    ? stdout.slice(stdout.indexOf('=== SUMMARY ==='))
    : stdout.slice(-3000);
  return `${summary}\nfailed checks and warnings:\n${failures.join('\n')}\nstderr:\n${stderr.slice(-3000)}`;
}

beforeAll(() => {
  ensureInstalled();
}, 120_000);

describe.each(availableModes())('MCP conformance suite through the gateway (warden as %s)', (mode: Mode) => {
  let workspace = '';
  afterEach(() => {
    if (workspace !== '') removeWorkspace(workspace);
  });

  it.skipIf(!modulesReadable(mode))(
    'MCP conformance suite: server scenarios against the gateway fronting server-everything match the recorded baseline',
    async () => {
      workspace = makeWorkspace(mode);
      const config = join(dirname(workspace), 'warden.yaml');
      const agentName = `conformance-${dirname(workspace).split('-').pop() ?? 'x'}`;
      writeFileSync(
        config,
        `${JSON.stringify(
          {
            version: 1,
            servers: {
              everything: { command: 'node', args: [SERVER_EVERYTHING, 'stdio'], filesystem: { read_only: [MODULES] } },
            },
            profiles: {
              conformance: {
                description: 'The MCP conformance CLI (Node 22) as the agent; everything of server-everything granted.',
                filesystem: { read_only: [WORK] },
                limits: { timeout: '60s' },
                mcp: { allow: [{ server: 'everything', tools: ['*'], prompts: ['*'], resources: ['*'] }] },
              },
            },
          },
          null,
          2,
        )}\n`,
        { mode: 0o644 },
      );
      copyFileSync(join(HERE, 'expected-failures.yml'), join(workspace, 'expected-failures.yml'));
      giveToSandbox(mode, workspace);
      // Warden's own NODE_OPTIONS (the egress preload) stays first; ours adds the run token.
      const script = `NODE_OPTIONS="$NODE_OPTIONS --import=${PRELOAD}" exec ${NODE22} ${CONFORMANCE} server --suite all --url "$WARDEN_MCP_URL" --expected-failures expected-failures.yml -o results`;
      const run = await warden(
        mode,
        ['--config', config, 'run', '--profile', 'conformance', '--agent', agentName, '--', '/bin/sh', '-c', script],
        { cwd: workspace, timeoutMs: 90_000 },
      );

      const results = resultsByScenario(join(workspace, 'results'));
      const why = explain(run.stdout, run.stderr, results);
      // The suite ran against the run's gateway endpoint, not something else.
      expect(run.stdout, why).toContain('against server: http://127.0.0.1:3129/mcp');
      // Every scenario ran and wrote its checks (a crashed CLI can exit 0 having run nothing).
      const got = outcome(results);
      expect(got.scenarios, why).toBe(SCENARIO_COUNT);
      // Exactly the recorded scenarios fail: checked here from the checks themselves, and by the
      // CLI (--expected-failures: exit 1 on a new failure or on a listed scenario that passes).
      expect(got.failing, why).toEqual(baseline(join(HERE, 'expected-failures.yml')));
      expect(run.code, why).toBe(0);
      // The numbers README.md reports.
      expect({ passed: got.passedChecks, failed: got.failedChecks }, why).toEqual({ passed: 10, failed: 23 });
    },
    100_000,
  );
});

describe.each(availableModes())(
  "MCP conformance suite through the gateway fronting warden's own fixture, names: upstream (warden as %s)",
  (mode: Mode) => {
    let workspace = '';
    afterEach(() => {
      if (workspace !== '') removeWorkspace(workspace);
    });

    it.skipIf(!modulesReadable(mode) || !fixtureReadable(mode))(
      'fidelity: every scenario that passes against the fixture directly passes through the gateway (expected-failures-fixture.yml)',
      async () => {
        workspace = makeWorkspace(mode);
        const config = join(dirname(workspace), 'warden.yaml');
        const agentName = `conformance-fixture-${dirname(workspace).split('-').pop() ?? 'x'}`;
        writeFileSync(
          config,
          `${JSON.stringify(
            {
              version: 1,
              servers: {
                conformance: {
                  command: 'node',
                  // The run's directory: tool pins are per way of starting a server, so this
                  // run pins on first sight and a changed fixture is not held back by old pins.
                  args: [FIXTURE, 'stdio', dirname(workspace)],
                  filesystem: { read_only: [MODULES, FIXTURES] },
                },
              },
              profiles: {
                conformance: {
                  description:
                    'The MCP conformance CLI as the agent; everything of the fixture granted, upstream names.',
                  filesystem: { read_only: [WORK] },
                  limits: { timeout: '60s' },
                  mcp: {
                    names: 'upstream',
                    allow: [{ server: 'conformance', tools: ['*'], prompts: ['*'], resources: ['*'] }],
                    relay: { conformance: ['sampling', 'elicitation', 'roots'] },
                  },
                },
              },
            },
            null,
            2,
          )}\n`,
          { mode: 0o644 },
        );
        copyFileSync(join(HERE, 'expected-failures-fixture.yml'), join(workspace, 'expected-failures.yml'));
        giveToSandbox(mode, workspace);
        const script = `NODE_OPTIONS="$NODE_OPTIONS --import=${PRELOAD}" exec ${NODE22} ${CONFORMANCE} server --suite all --url "$WARDEN_MCP_URL" --expected-failures expected-failures.yml -o results`;
        const run = await warden(
          mode,
          ['--config', config, 'run', '--profile', 'conformance', '--agent', agentName, '--', '/bin/sh', '-c', script],
          { cwd: workspace, timeoutMs: 90_000 },
        );
        const results = resultsByScenario(join(workspace, 'results'));
        const why = explain(run.stdout, run.stderr, results);
        expect(run.stdout, why).toContain('against server: http://127.0.0.1:3129/mcp');
        const got = outcome(results);
        expect(got.scenarios, why).toBe(SCENARIO_COUNT);
        expect(got.failing, why).toEqual(baseline(join(HERE, 'expected-failures-fixture.yml')));
        expect(run.code, why).toBe(0);
        expect({ passed: got.passedChecks, failed: got.failedChecks }, why).toEqual(FIXTURE_GATEWAY_CHECKS);
      },
      100_000,
    );
  },
);

/** A free TCP port on 127.0.0.1 (free when asked; the server takes it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address !== null ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Runs a command to its end, killing it after `timeoutMs`. */
function runBounded(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** SIGTERM, then SIGKILL if the process is still there after 5 s (server-everything may linger on open connections). */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Runs the suite against a server started with `args` that listens on 127.0.0.1:PORT (PORT
 * given in `env` and on the command line by `args(port)`), and checks it against `baselineFile`.
 */
async function directRun(
  scratchDir: string,
  args: (port: number) => string[],
  ready: (port: number) => string,
  baselineFile: string,
  checks: { passed: number; failed: number },
): Promise<void> {
  const port = await freePort();
  const server = spawn(process.execPath, args(port), {
    cwd: scratchDir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    await new Promise<void>((resolveReady, fail) => {
      let log = '';
      const timer = setTimeout(() => fail(new Error(`the server did not start within 20 s:\n${log}`)), 20_000);
      server.stderr.setEncoding('utf8').on('data', (d: string) => {
        log += d;
        if (log.includes(ready(port))) {
          clearTimeout(timer);
          resolveReady();
        }
      });
      server.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`the server exited (${code}) before listening:\n${log}`));
      });
    });
    const run = await runBounded(
      NODE22,
      [
        CONFORMANCE,
        'server',
        '--suite',
        'all',
        '--url',
        `http://127.0.0.1:${port}/mcp`,
        '--expected-failures',
        baselineFile,
        '-o',
        join(scratchDir, 'results'),
      ],
      {
        cwd: scratchDir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' },
        timeoutMs: 50_000,
      },
    );
    const results = resultsByScenario(join(scratchDir, 'results'));
    const why = explain(run.stdout, run.stderr, results);
    const got = outcome(results);
    expect(got.scenarios, why).toBe(SCENARIO_COUNT);
    expect(got.failing, why).toEqual(baseline(baselineFile));
    expect(run.code, why).toBe(0);
    expect({ passed: got.passedChecks, failed: got.failedChecks }, why).toEqual(checks);
  } finally {
    await stopProcess(server);
  }
}

describe('MCP conformance suite without the gateway', () => {
  let scratch = '';
  afterEach(() => {
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
  });
  function freshScratch(name: string): string {
    scratch = join(WORK, `${name}-${process.pid}`);
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch);
    return scratch;
  }

  it('reference: the same scenarios against server-everything served directly match the direct baseline', async () => {
    // server-everything's own Streamable HTTP transport (it listens on every interface, port $PORT).
    await directRun(
      freshScratch('direct'),
      () => [SERVER_EVERYTHING, 'streamableHttp'],
      (port) => `listening on port ${port}`,
      join(HERE, 'expected-failures-direct.yml'),
      { passed: 13, failed: 21 },
    );
  }, 90_000);

  it("reference: the scenarios against warden's own fixture served directly all pass (expected-failures-fixture-direct.yml)", async () => {
    await directRun(
      freshScratch('fixture-direct'),
      (port) => [FIXTURE, 'http', String(port)],
      (port) => `listening on 127.0.0.1:${port}`,
      join(HERE, 'expected-failures-fixture-direct.yml'),
      FIXTURE_DIRECT_CHECKS,
    );
  }, 90_000);
});
