/**
 * MCP servers that do not start, as a user meets them (the built CLI as root and as an ordinary
 * user, the SDK's real client, real `npx`):
 *
 *   - the gateway goes on without a broken server unless the profile requires it: the broken
 *     server's tools are absent, a warning on stderr says why and what to change (the server's
 *     own `network.allow` when its egress was refused, e.g. `npx` fetching its package), and the
 *     audit log holds its stderr (bounded, its secrets redacted: SEC-01), shown by `warden logs`;
 *   - a required server that does not start stops the gateway, and `warden run`, with that cause.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  agentAuditEvents,
  availableModes,
  gatewayStdioCommand,
  makeWorkspace,
  removeWorkspace,
  warden,
  type Mode,
} from '../helpers/warden.js';
import { fixtureReadable, FIXTURES, MODULES, SPEC_SERVER } from './scene.js';

const CANARY = 'canary-server-token-5b1e90';

/** A working fixture server, a server that fails with a message, and one whose npx is refused egress. */
function writeConfig(workspace: string, required: readonly string[] = []): string {
  // A test that timed out has its workspace removed while it still runs: never write elsewhere.
  if (!workspace.startsWith('/tmp/')) throw new Error(`not a test workspace: '${workspace}'`);
  const root = dirname(workspace);
  const spec = join(root, 'spec.json');
  writeFileSync(spec, JSON.stringify({ tools: [{ name: 'hello' }] }), { mode: 0o644 });
  const config = {
    version: 1,
    servers: {
      good: { command: 'node', args: [SPEC_SERVER, spec], filesystem: { read_only: [MODULES, FIXTURES, spec] } },
      broken: {
        command: 'sh',
        args: ['-c', `echo "starting with $API_TOKEN" >&2; echo "fatal: cannot open the database" >&2; exit 3`],
        env: { set: { API_TOKEN: CANARY } },
      },
      fetcher: {
        command: 'npx',
        args: ['-y', '@warden-test/no-such-package-7c1'],
        env: { set: { npm_config_update_notifier: 'false' } },
      },
    },
    profiles: {
      default: {
        mcp: {
          allow: ['good', 'broken', 'fetcher'].map((server) => ({ server, tools: ['*'] })),
          required,
        },
      },
    },
  };
  const path = join(root, 'warden.yaml');
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  return path;
}

let agents = 0;
const agentName = (): string => `gw-failures-${process.pid}-${++agents}-${Date.now().toString(36)}`;

describe.each(availableModes())('MCP servers that do not start (warden as %s)', (mode: Mode) => {
  let workspace = '';
  afterEach(() => {
    if (workspace !== '') removeWorkspace(workspace);
    workspace = '';
  });

  it.skipIf(!fixtureReadable(mode))(
    'SEC-01 the gateway goes on without servers that fail: their tools are absent, the warning names the cause and the right field, warden logs shows their stderr with secrets redacted',
    async () => {
      workspace = makeWorkspace(mode);
      const config = writeConfig(workspace);
      const agent = agentName();
      const transport = new StdioClientTransport({
        ...gatewayStdioCommand(mode, { workspace, config, agent }),
        stderr: 'pipe',
      });
      let stderr = '';
      transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      const client = new Client({ name: 'gw-failures-test', version: '1.0.0' });
      await client.connect(transport);
      try {
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['good__hello']);
        expect((await client.callTool({ name: 'good__hello', arguments: { text: 'hi' } })).isError).not.toBe(true);
      } finally {
        await client.close();
      }
      // The warnings: the cause in the server's own words, and the fix in the right field.
      expect(stderr).toContain("MCP server 'broken' did not start; continuing without its tools");
      expect(stderr).toContain('exited with code 3');
      expect(stderr).toContain('fatal: cannot open the database');
      expect(stderr).toContain("MCP server 'fetcher' did not start");
      expect(stderr).toContain('its egress proxy refused registry.npmjs.org:443');
      expect(stderr).toContain("fix: add 'registry.npmjs.org' to servers.fetcher.network.allow");
      expect(stderr).not.toContain('profiles.default.network.allow');
      expect(stderr).not.toContain(CANARY);

      // The proxy's own refusal, on record, names the server's allow-list too.
      const denied = (await agentAuditEvents(mode, workspace, agent)).find(
        (e) => e.type === 'egress.denied' && e.agent.name === 'mcp:fetcher',
      );
      expect(denied?.data['detail']).toContain("add 'registry.npmjs.org' to servers.fetcher.network.allow");

      // warden logs: the recorded stderr, the state and the fix.
      const broken = await warden(mode, ['--config', config, 'logs', 'broken'], { cwd: workspace });
      expect(broken.code, broken.stderr).toBe(0);
      expect(broken.stdout).toContain('failed: did not start');
      expect(broken.stdout).toContain('  | starting with [redacted]');
      expect(broken.stdout).toContain('  | fatal: cannot open the database');
      expect(broken.stdout).not.toContain(CANARY);
      const fetcher = await warden(mode, ['--config', config, 'logs', 'fetcher', '--json'], { cwd: workspace });
      expect(fetcher.code, fetcher.stderr).toBe(0);
      const events = (JSON.parse(fetcher.stdout) as { events: { data: Record<string, unknown> }[] }).events;
      const failed = events.find((e) => e.data['state'] === 'failed');
      expect(failed?.data['hint']).toBe("add 'registry.npmjs.org' to servers.fetcher.network.allow");
      expect(String(failed?.data['stderr'])).toMatch(/npm error/);
      expect(failed?.data['required']).toBe(false);
      // The good server's stderr is recorded when the gateway stops it.
      const good = await warden(mode, ['--config', config, 'logs', 'good'], { cwd: workspace });
      expect(good.stdout).toContain('stopped: gateway closed');
    },
    180_000,
  );

  it.skipIf(!fixtureReadable(mode))(
    'a required server that does not start stops warden gateway and warden run with its cause; not required, warden run goes on',
    async () => {
      workspace = makeWorkspace(mode);
      const required = writeConfig(workspace, ['broken']);
      const tools = await warden(mode, ['--config', required, 'tools', 'ls', '--workspace', workspace], {
        cwd: workspace,
      });
      expect(tools.code, tools.stderr).toBe(125);
      expect(tools.stderr).toContain("MCP server 'broken' did not start");
      expect(tools.stderr).toContain('fatal: cannot open the database');
      expect(tools.stderr).toContain('GATEWAY_START_FAILED');
      expect(tools.stderr).not.toContain(CANARY);

      const marker = join(workspace, 'agent-ran');
      const run = await warden(mode, ['--config', required, 'run', '--', 'touch', marker], {
        cwd: workspace,
        timeoutMs: 120_000,
      });
      expect(run.code, run.stderr).toBe(125);
      expect(run.stderr).toContain("MCP server 'broken' did not start");
      expect(existsSync(marker)).toBe(false);

      const optional = writeConfig(workspace);
      const ran = await warden(mode, ['--config', optional, 'run', '--', 'touch', marker], {
        cwd: workspace,
        timeoutMs: 120_000,
      });
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stderr).toContain("warning: MCP server 'broken' did not start; continuing without its tools");
      expect(existsSync(marker)).toBe(true);
    },
    240_000,
  );

  it.skipIf(!fixtureReadable(mode))(
    "SBX-18 on a host without cgroups the servers follow the run's limits rule: they start exactly when the agent does, and --accept-missing-limits applies to both",
    async () => {
      workspace = makeWorkspace(mode);
      const root = dirname(workspace);
      const spec = join(root, 'spec.json');
      writeFileSync(spec, JSON.stringify({ tools: [{ name: 'hello' }] }), { mode: 0o644 });
      const config = join(root, 'warden.yaml');
      writeFileSync(
        config,
        JSON.stringify({
          version: 1,
          servers: {
            good: { command: 'node', args: [SPEC_SERVER, spec], filesystem: { read_only: [MODULES, FIXTURES, spec] } },
          },
          profiles: { default: { mcp: { allow: [{ server: 'good', tools: ['*'] }] } } },
        }),
        { mode: 0o644 },
      );
      // A private mount namespace without the cgroup hierarchies: what a host without cgroups looks like.
      const noCgroups = {
        cwd: workspace,
        timeoutMs: 120_000,
        prefix: [
          'unshare',
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          'umount -R -l /sys/fs/cgroup; exec "$@"',
          'sh',
        ],
      };
      const granted = (stdout: string): boolean => /^granted\s+good__hello/m.test(stdout);
      for (const flags of [[], ['--accept-missing-limits']]) {
        const agent = await warden(mode, ['--config', config, 'run', ...flags, '--', 'true'], noCgroups);
        const tools = await warden(
          mode,
          ['--config', config, 'tools', 'ls', ...flags, '--workspace', workspace],
          noCgroups,
        );
        expect(tools.code, tools.stderr).toBe(0);
        expect(granted(tools.stdout), `${flags.join(' ')}: ${agent.stderr} / ${tools.stderr}`).toBe(agent.code === 0);
        if (flags.length > 0) expect(agent.code, agent.stderr).toBe(0);
        // When the server is left out for want of limits, the fix is the run's own flag, not the server's config.
        if (!granted(tools.stdout)) {
          expect(tools.stderr).toContain('--accept-missing-limits');
          expect(tools.stderr).not.toContain('check servers.good');
        }
      }
    },
    240_000,
  );

  it('a server that does not answer within its start_timeout is stopped then, and the error names that field', async () => {
    workspace = makeWorkspace(mode);
    const config = join(dirname(workspace), 'warden.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        version: 1,
        servers: { slow: { command: 'sh', args: ['-c', 'sleep 100'], start_timeout: '2s' } },
        profiles: { default: { mcp: { allow: [{ server: 'slow', tools: ['*'] }], required: ['slow'] } } },
      }),
      { mode: 0o644 },
    );
    const started = Date.now();
    const tools = await warden(mode, ['--config', config, 'tools', 'ls', '--workspace', workspace], {
      cwd: workspace,
      timeoutMs: 60_000,
    });
    expect(tools.code, tools.stderr).toBe(125);
    expect(tools.stderr).toContain('did not answer initialize and list what it offers within 2 s');
    expect(tools.stderr).toContain('raise servers.slow.start_timeout');
    // Stopped at its own deadline, not the default one (60 s).
    expect(Date.now() - started).toBeLessThan(40_000);

    writeFileSync(config, JSON.stringify({ version: 1, servers: { slow: { command: 'sh', start_timeout: '11m' } } }), {
      mode: 0o644,
    });
    const refused = await warden(mode, ['--config', config, 'config', 'check'], { cwd: workspace });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('start_timeout is at most 10m');
  }, 90_000);
});
