/**
 * The secret store as a user meets it: `warden secrets set|ls|get|rm` through the built CLI, as
 * root and as an ordinary user, on the state dir's encrypted store; and a stored secret given to
 * an MCP server (`secret_env`) that reaches that server's sandbox and nothing of the agent's.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  availableModes,
  makeWorkspace,
  readableBySandbox,
  removeWorkspace,
  REPO,
  testStateDir,
  warden,
  type Mode,
} from '../helpers/warden.js';
import { canaryEncodings } from '../kits/canary.js';

const MODULES = join(REPO, 'node_modules');
const HERE = import.meta.dirname;
const DIGEST_SERVER = join(HERE, 'env-digest-server.mjs');
const AGENT_CALLS = join(REPO, 'test/gateway/fixtures/agent-calls.mjs');

function expectNowhere(text: string, canary: string): void {
  for (const form of canaryEncodings(canary)) expect(text).not.toContain(form);
}

describe.each(availableModes())('the secret store (warden as %s)', (mode: Mode) => {
  let workspace = '';
  afterEach(() => removeWorkspace(workspace));

  it('SEC-03 set, ls, get and rm through the CLI: the value is read from stdin, kept encrypted in a 0600 store, printed only with --reveal', async () => {
    workspace = makeWorkspace(mode);
    const name = `cli-${basename(dirname(workspace))}`.toLowerCase().slice(0, 60);
    const canary = `canary-${createHash('sha256').update(name).digest('hex').slice(0, 24)}`;
    const run = (args: string[], input?: string) =>
      warden(mode, args, { cwd: workspace, ...(input === undefined ? {} : { input }) });

    const set = await run(['secrets', 'set', name], `${canary}\n`);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain(`stored secret '${name}' (version 1)`);
    expectNowhere(set.stdout + set.stderr, canary);

    const listed = await run(['secrets', 'ls', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(
      (JSON.parse(listed.stdout) as { name: string; version: number }[]).find((s) => s.name === name),
    ).toMatchObject({ version: 1 });
    expectNowhere(listed.stdout, canary);

    const hidden = await run(['secrets', 'get', name]);
    expect(hidden.code, hidden.stderr).toBe(0);
    expect(hidden.stdout).toContain('value hidden; add --reveal');
    expectNowhere(hidden.stdout, canary);
    const revealed = await run(['secrets', 'get', name, '--reveal']);
    expect(revealed.stdout).toBe(`${canary}\n`);

    const store = join(testStateDir(mode), 'secrets.enc');
    expect(statSync(store).mode & 0o777).toBe(0o600);
    expect(statSync(join(testStateDir(mode), 'secrets.key')).mode & 0o777).toBe(0o600);
    expectNowhere(readFileSync(store, 'utf8'), canary);

    // A value on the command line is not taken (ps and shell history would keep it).
    const onArgv = await run(['secrets', 'set', name, canary]);
    expect(onArgv.code).toBe(2);
    const bad = await run(['secrets', 'set', '../etc'], 'x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('SECRET_INVALID');

    const removed = await run(['secrets', 'rm', name]);
    expect(removed.code, removed.stderr).toBe(0);
    const again = await run(['secrets', 'rm', name]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('SECRET_NOT_FOUND');
  });

  it.skipIf(!readableBySandbox(mode, DIGEST_SERVER, AGENT_CALLS, MODULES))(
    "SEC-04 SEC-01 a stored secret given to a server (secret_env) reaches that server's sandbox, and nothing the agent can read",
    async () => {
      workspace = makeWorkspace(mode);
      const name = `srv-${basename(dirname(workspace))}`.toLowerCase().slice(0, 60);
      const canary = `canary-${createHash('sha256').update(name).digest('hex').slice(0, 24)}`;
      const config = join(dirname(workspace), 'warden.yaml');
      writeFileSync(
        config,
        `${JSON.stringify(
          {
            version: 1,
            servers: {
              vault: {
                command: 'node',
                args: [DIGEST_SERVER],
                filesystem: { read_only: [MODULES, HERE] },
                secret_env: { SERVICE_TOKEN: name },
              },
            },
            profiles: {
              default: {
                filesystem: { read_only: [MODULES, dirname(AGENT_CALLS)] },
                mcp: { allow: [{ server: 'vault', tools: ['digest'] }] },
              },
            },
          },
          null,
          2,
        )}\n`,
        { mode: 0o644 },
      );
      const run = (args: string[], input?: string) =>
        warden(mode, ['--config', config, ...args], {
          cwd: workspace,
          timeoutMs: 120_000,
          ...(input === undefined ? {} : { input }),
        });

      // Not stored yet: the gateway does not start, and says which secret is missing.
      const missing = await run(['run', '--', 'true']);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(`secret '${name}' does not exist`);
      expect(missing.stderr).toContain(`warden secrets set ${name}`);

      expect((await run(['secrets', 'set', name], canary)).code).toBe(0);
      try {
        // The agent calls the server's tool, then shows everything of its own it could read.
        const script = [
          `node ${AGENT_CALLS} '${JSON.stringify([{ name: 'vault__digest', arguments: { name: 'SERVICE_TOKEN' } }])}'`,
          'echo ---env; env',
          'echo ---proc; for p in /proc/[0-9]*; do cat $p/environ $p/cmdline 2>/dev/null | tr "\\0" "\\n"; done',
          'echo ---files; grep -rs -l "" /tmp /run /var/tmp $HOME 2>/dev/null | head -500 | xargs -r cat 2>/dev/null | head -c 2000000',
        ].join('; ');
        const agent = await run(['run', '--', 'sh', '-c', script]);
        expect(agent.code, agent.stderr).toBe(0);
        const calls = JSON.parse(agent.stdout.split('\n')[0] ?? '{}') as { results: { text?: string }[] };
        // The server saw the secret: the digest of its variable is the canary's.
        expect(calls.results[0]?.text).toBe(createHash('sha256').update(canary).digest('hex'));
        expect(agent.stdout).toContain('---proc');
        expectNowhere(agent.stdout + agent.stderr, canary);
      } finally {
        await run(['secrets', 'rm', name]);
      }
    },
    180_000,
  );
});
