import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isWardenError } from '../core/errors.js';
import { SANDBOX_PATH } from './sandbox-env.js';
import { agentReachable, checkServerProgram, type ServerProgram } from './server-guard.js';

let root = '';
let ws = '';
let safe = '';
beforeEach(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'server-guard-')));
  ws = join(root, 'ws');
  safe = join(root, 'safe');
  mkdirSync(ws);
  mkdirSync(safe);
  writeFileSync(join(safe, 'server.mjs'), '');
  writeFileSync(join(ws, 'server.mjs'), '');
  writeFileSync(join(safe, 'tool'), '#!/bin/sh\n');
  chmodSync(join(safe, 'tool'), 0o755);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function server(overrides: Partial<ServerProgram>): ServerProgram {
  return {
    name: 's',
    command: 'node',
    args: [],
    env: new Map(),
    path: SANDBOX_PATH,
    visible: [safe, ws],
    workspace: ws,
    ...overrides,
  };
}

function refusal(program: ServerProgram): string {
  try {
    checkServerProgram(program, [ws]);
  } catch (error) {
    if (isWardenError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'allowed';
}

describe('agentReachable (GW-13)', () => {
  it('finds a path inside a writable root, and nothing for one outside', () => {
    expect(agentReachable(join(ws, 'server.mjs'), [ws])).toBe(ws);
    expect(agentReachable(join(safe, 'server.mjs'), [ws])).toBeNull();
    expect(agentReachable('/usr/bin/env', [ws])).toBeNull();
  });

  it('follows symlinks hop by hop: a link in the workspace to a safe file is reachable (it can be repointed)', () => {
    symlinkSync(join(safe, 'server.mjs'), join(ws, 'link'));
    expect(agentReachable(join(ws, 'link'), [ws])).toBe(ws);
  });

  it('a safe link whose chain passes through the workspace is reachable; a safe link to a safe file is not', () => {
    symlinkSync(join(ws, 'server.mjs'), join(safe, 'to-ws'));
    symlinkSync('server.mjs', join(safe, 'local'));
    expect(agentReachable(join(safe, 'to-ws'), [ws])).toBe(ws);
    expect(agentReachable(join(safe, 'local'), [ws])).toBeNull();
    // A directory link: safe/dir -> ws, then a file under it.
    symlinkSync(ws, join(safe, 'dir'));
    expect(agentReachable(join(safe, 'dir', 'server.mjs'), [ws])).toBe(ws);
  });

  it('a symlink loop counts as reachable rather than as safe', () => {
    symlinkSync(join(safe, 'b'), join(safe, 'a'));
    symlinkSync(join(safe, 'a'), join(safe, 'b'));
    expect(agentReachable(join(safe, 'a'), [])).not.toBeNull();
  });
});

describe('checkServerProgram (GW-13)', () => {
  it('resolves a program name on the PATH to the absolute file the sandbox will run', () => {
    expect(checkServerProgram(server({ command: 'sh' }), [ws])).toMatch(/^\/(usr\/)?bin\/sh$/);
    expect(checkServerProgram(server({ command: join(safe, 'tool') }), [ws])).toBe(join(safe, 'tool'));
  });

  it('refuses a relative command, one in the workspace, and one the sandbox cannot see or find', () => {
    expect(refusal(server({ command: './tool' }))).toMatch(/^PATH_POLICY: servers\.s\.command: \.\/tool is a relative/);
    writeFileSync(join(ws, 'tool'), '#!/bin/sh\n');
    chmodSync(join(ws, 'tool'), 0o755);
    expect(refusal(server({ command: join(ws, 'tool') }))).toMatch(/^PATH_POLICY: servers\.s\.command/);
    expect(refusal(server({ command: join(safe, 'tool'), visible: [] }))).toMatch(
      /^CONFIG_INVALID: servers\.s\.command: .* is not visible/,
    );
    expect(refusal(server({ command: 'no-such-program-here' }))).toMatch(/^CONFIG_INVALID: .* not found on/);
    expect(refusal(server({ command: join(safe, 'server.mjs') }))).toMatch(/not an executable file/);
  });

  it("checks an interpreter's script and code-loading options, not the server's own data arguments", () => {
    expect(refusal(server({ args: [join(safe, 'server.mjs'), join(ws, 'data.json')] }))).toBe('allowed');
    expect(refusal(server({ args: [join(ws, 'server.mjs')] }))).toMatch(/servers\.s\.args\[0\]/);
    expect(refusal(server({ args: ['--import', join(ws, 'server.mjs'), join(safe, 'server.mjs')] }))).toMatch(
      /servers\.s\.args\[1\]/,
    );
    expect(refusal(server({ args: [`--require=${join(ws, 'server.mjs')}`, join(safe, 'server.mjs')] }))).toMatch(
      /servers\.s\.args\[0\]/,
    );
    // A relative script used to be found in the workspace; now the server starts elsewhere: say so.
    expect(refusal(server({ args: ['server.mjs'] }))).toMatch(/servers\.s\.args\[0\]: server\.mjs is relative/);
    // python -m looks the module up on sys.path (its private working directory, /usr): fine.
    expect(refusal(server({ command: 'sh', args: ['-c', 'exec true', join(ws, 'server.mjs')] }))).toBe('allowed');
  });

  it('checks a package runner’s local package paths, not package names', () => {
    const runner = (args: string[]): ServerProgram => server({ command: 'npx', args });
    expect(refusal(runner(['-y', '@modelcontextprotocol/server-memory']))).toBe('allowed');
    // A path the agent could create later counts as well as one that exists.
    expect(refusal(runner([join(ws, 'pkg')]))).toMatch(/servers\.s\.args\[0\]/);
    expect(refusal(runner(['-y', `file:${join(ws, 'pkg')}`]))).toMatch(/servers\.s\.args\[1\]/);
    expect(refusal(runner(['--package', join(ws, 'pkg'), 'server']))).toMatch(/servers\.s\.args\[1\]/);
  });

  it('refuses search-path variables that point into the agent’s reach, names the field, and ignores data variables', () => {
    const env = (name: string, value: string) =>
      server({
        args: [join(safe, 'server.mjs')],
        env: new Map([[name, { value, field: `servers.s.env.set.${name}` }]]),
      });
    expect(refusal(env('NODE_PATH', `/usr/lib/node_modules:${ws}/node_modules`))).toMatch(
      /servers\.s\.env\.set\.NODE_PATH: NODE_PATH names/,
    );
    expect(refusal(env('PYTHONPATH', ws))).toMatch(/PYTHONPATH/);
    expect(refusal(env('npm_config_prefix', ws))).toMatch(/npm_config_prefix/);
    expect(refusal(env('NODE_OPTIONS', `--require ${ws}/server.mjs`))).toMatch(/NODE_OPTIONS/);
    expect(refusal(env('PATH', `${ws}:/usr/bin`))).toMatch(/servers\.s\.env\.set\.PATH/);
    expect(refusal(env('MEMORY_FILE_PATH', join(ws, 'memory.json')))).toBe('allowed');
    expect(refusal(env('NODE_PATH', '/usr/lib/node_modules'))).toBe('allowed');
  });
});
