/**
 * No code the agent can write runs as an MCP server (GW-13). A server runs with its server's
 * secrets and network: if its program, a script its interpreter loads, or a directory its
 * launcher searches (`npx`, `python -m`, `uvx`, NODE_PATH, PYTHONPATH, …) were a file the agent
 * can change, the agent would run code with them. This module decides, on the host and before
 * anything starts, whether a server's command resolves to files outside the agent's reach, and
 * refuses the server (naming the config field) when it does not.
 *
 * "The agent's reach" is every directory it can write directly (the workspace, the profile's
 * writable paths) or through a server (a read-write server's workspace and writable paths).
 * Each path is followed the way the kernel follows it, component by component and through every
 * symlink: a hop that lies in a writable directory is one the agent could change later.
 */
import { lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { WardenError } from '../core/errors.js';
import { isInside } from '../sandbox/index.js';

/** Programs that run a script named in their arguments (the script is then the server's program). */
const INTERPRETER = /^(node|nodejs|bun|deno|tsx|ts-node|python[0-9.]*|pypy[0-9.]*|ruby|perl|php|sh|bash|dash|zsh|ksh)$/;
/** Programs that fetch and run a package named in their arguments (a path there is local code). */
const PACKAGE_RUNNER = /^(npx|pnpx|bunx|uvx|pipx|npm|pnpm|yarn|uv)$/;
/** Options of those programs whose next argument is a value (a file for some of them). */
const VALUE_OPTIONS = new Set([
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '-C',
  '--conditions',
  '--env-file',
  '--input-type',
  '--title',
  '-W',
  '-X',
  '-o',
  '-p',
  '--package',
  '--from',
  '--with',
  '--prefix',
  '--python',
]);
/** Options after which no script follows (the code is inline, or a module looked up on the search path). */
const STOP_OPTIONS = new Set(['-e', '--eval', '--print', '-c', '-m']);
/** Names that look like a script file rather than a package or module name. */
const SCRIPT_EXTENSION = /\.(c?js|mjs|ts|mts|cts|py|pyz|rb|pl|php|sh)$/;

/**
 * Environment variables whose value names code or where code is looked up; an entry the agent
 * can write would let it run code in the server. (Data paths, such as a memory server's file,
 * are the server's own business and are not checked.)
 */
const SEARCH_VARIABLES = new Set([
  'PATH',
  'NODE_PATH',
  'NODE_OPTIONS',
  'PYTHONPATH',
  'PYTHONHOME',
  'PYTHONUSERBASE',
  'PYTHONSTARTUP',
  'PERL5LIB',
  'PERLLIB',
  'PERL5OPT',
  'RUBYLIB',
  'RUBYOPT',
  'GEM_HOME',
  'GEM_PATH',
  'BUNDLE_GEMFILE',
  'LD_LIBRARY_PATH',
  'LD_PRELOAD',
  'LD_AUDIT',
  'CLASSPATH',
  'JAVA_TOOL_OPTIONS',
  'BASH_ENV',
  'ENV',
  'BUN_INSTALL',
  'DENO_DIR',
  'DENO_INSTALL_ROOT',
  'PNPM_HOME',
  'CARGO_HOME',
  'GOPATH',
  'GOFLAGS',
  'HOME',
  'XDG_CONFIG_HOME',
  'XDG_DATA_HOME',
  'XDG_CACHE_HOME',
  'XDG_CONFIG_DIRS',
  'XDG_DATA_DIRS',
]);
const SEARCH_PREFIXES = ['npm_config_', 'NPM_CONFIG_', 'UV_', 'PIP_', 'YARN_', 'PYTHON', 'GIT_'];

/** What the guard needs to know about one server. */
export interface ServerProgram {
  readonly name: string;
  /** The command as configured (argv[0]). */
  readonly command: string;
  /** The arguments, `${workspace}` already expanded. */
  readonly args: readonly string[];
  /** The server's environment as it will be given (env.pass values and env.set), by the field it comes from. */
  readonly env: ReadonlyMap<string, { readonly value: string; readonly field: string }>;
  /** The PATH the sandbox looks the command up on. */
  readonly path: string;
  /** Real paths the server's sandbox shows (besides /usr): its workspace, read-only and writable paths. */
  readonly visible: readonly string[];
  /** The run's workspace (a relative script used to be resolved there). */
  readonly workspace: string;
}

/**
 * Checks one server against the directories the agent can write (real paths) and returns the
 * absolute program path to start (so the sandbox runs exactly the file checked here). Throws
 * PATH_POLICY when something the server would run is in the agent's reach, CONFIG_INVALID when
 * the program cannot be found or seen in the server's sandbox.
 */
export function checkServerProgram(server: ServerProgram, agentWritable: readonly string[]): string {
  const field = (key: string): string => `servers.${server.name}.${key}`;
  const reached = (path: string): string | null => agentReachable(path, agentWritable);

  for (const [name, { value, field: where }] of server.env) {
    if (!SEARCH_VARIABLES.has(name) && !SEARCH_PREFIXES.some((p) => name.startsWith(p))) continue;
    for (const token of pathTokens(value)) {
      const hop = reached(token);
      if (hop !== null) throw unsafe(`${where}: ${name} names ${token}`, hop, `point ${name} outside the workspace`);
    }
  }

  const program = locateProgram(server, field('command'));
  const hop = reached(program);
  if (hop !== null) {
    throw unsafe(
      `${field('command')}: ${server.command}${program === server.command ? '' : ` resolves to ${program}`}`,
      hop,
      'install the server outside the workspace (e.g. npm install -g, or a directory only you can write) and name it there',
    );
  }

  const kind = basename(program);
  const interpreter = INTERPRETER.test(kind) || INTERPRETER.test(basename(server.command));
  const runner = PACKAGE_RUNNER.test(kind) || PACKAGE_RUNNER.test(basename(server.command));
  if (!interpreter && !runner) return program;
  // The options before the first positional argument, and that argument (the script, or for a
  // package runner the package), decide what code runs; later arguments belong to the server.
  for (let i = 0; i < server.args.length; i++) {
    const arg = server.args[i] ?? '';
    if (STOP_OPTIONS.has(arg)) break;
    if (arg.startsWith('-')) {
      const eq = arg.indexOf('=');
      const value = eq > 0 ? arg.slice(eq + 1) : VALUE_OPTIONS.has(arg) ? (server.args[++i] ?? '') : null;
      if (value !== null) checkCodeArgument(value, i, server, agentWritable);
      continue;
    }
    checkCodeArgument(arg, i, server, agentWritable);
    break;
  }
  return program;
}

/** A script or package path given to an interpreter or package runner. */
function checkCodeArgument(
  value: string,
  index: number,
  server: ServerProgram,
  agentWritable: readonly string[],
): void {
  const field = `servers.${server.name}.args[${index}]`;
  const path = value.startsWith('file:') ? value.slice('file:'.length) : value;
  if (isAbsolute(path)) {
    const hop = agentReachable(path, agentWritable);
    if (hop !== null)
      throw unsafe(
        `${field}: ${value} is code the server would run`,
        hop,
        'keep the server code outside the workspace, in a directory the agent cannot write',
      );
    return;
  }
  // A server used to start in the workspace, where a relative script would be found: now it
  // starts in a private empty directory, so say why it would not be found, and what is safe.
  const looksLikeFile = path.startsWith('./') || path.startsWith('../') || SCRIPT_EXTENSION.test(path);
  if (looksLikeFile && kindOf(resolve(server.workspace, path)) !== 'missing') {
    throw new WardenError(
      'PATH_POLICY',
      `${field}: ${value} is relative; a server runs in a private empty directory, not in the workspace, and a script in the workspace is one the agent can change (GW-13)`,
      { hint: 'give the absolute path of a copy outside the workspace, in a directory the agent cannot write' },
    );
  }
}

/** Where the sandbox will find the command: an absolute path checked to exist and to be visible there. */
function locateProgram(server: ServerProgram, field: string): string {
  const command = server.command;
  if (command.includes('/')) {
    if (!isAbsolute(command)) {
      throw new WardenError(
        'PATH_POLICY',
        `${field}: ${command} is a relative path; a server runs in a private empty directory, and a program in the workspace is one the agent can change (GW-13)`,
        { hint: 'give an absolute path outside the workspace, or a program name found on PATH' },
      );
    }
    if (!isExecutableFile(command))
      throw new WardenError('CONFIG_INVALID', `${field}: ${command} is not an executable file`, {
        hint: 'check the path (and that the file has execute permission)',
      });
    refuseInvisible(command, server, field);
    return command;
  }
  for (const dir of server.path.split(':')) {
    if (!isAbsolute(dir)) continue; // an empty or relative entry would be the private working directory
    const candidate = join(dir, command);
    if (!isExecutableFile(candidate)) continue;
    // Found on the host where the sandbox would find it only if the sandbox shows that directory.
    if (!visibleInSandbox(candidate, server)) continue;
    return candidate;
  }
  throw new WardenError(
    'CONFIG_INVALID',
    `${field}: ${command} is not found on the server's PATH (${server.path}) as the server's sandbox sees it`,
    {
      hint: `install it under /usr (e.g. /usr/local/bin), or give its absolute path and add its directory to servers.${server.name}.filesystem.read_only`,
    },
  );
}

function refuseInvisible(program: string, server: ServerProgram, field: string): void {
  if (visibleInSandbox(program, server)) return;
  throw new WardenError('CONFIG_INVALID', `${field}: ${program} is not visible in the server's sandbox`, {
    hint: `add its directory to servers.${server.name}.filesystem.read_only`,
  });
}

/** The sandbox shows /usr (and the merged /bin, /sbin, /lib symlinks) and the server's own paths. */
function visibleInSandbox(path: string, server: ServerProgram): boolean {
  const real = realPathOrNull(path);
  if (real === null) return false;
  return ['/usr', ...server.visible].some((root) => isInside(real, root));
}

/**
 * The writable root that the way to `path` enters (through a directory entry or a symlink it
 * passes, at its real location), or null when the agent can change nothing on the way. A missing
 * file inside a writable root counts: the agent could create it.
 */
export function agentReachable(path: string, writable: readonly string[]): string | null {
  const rootOf = (p: string): string | null => writable.find((root) => isInside(p, root)) ?? null;
  let hops = 0;
  const walk = (target: string, base: string): string | null => {
    let current = '/';
    const parts = resolve(base, target)
      .split('/')
      .filter((p) => p !== '');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] ?? '';
      const next = join(current, part);
      const root = rootOf(next);
      if (root !== null) return root;
      let st;
      try {
        st = lstatSync(next);
      } catch {
        return null; // does not exist: nothing there to run (locateProgram reports it)
      }
      if (st.isSymbolicLink()) {
        if (++hops > 40) return next; // a loop: treat as unsafe rather than guess
        const resolved = walk(readlinkSync(next), current);
        if (resolved !== null) return resolved;
        const real = realPathOrNull(next);
        if (real === null) return null;
        current = real;
      } else {
        current = next;
      }
    }
    return null;
  };
  return walk(path, '/');
}

/** Absolute paths in a variable's value (PATH-style lists, option strings such as NODE_OPTIONS). */
function pathTokens(value: string): string[] {
  return value
    .split(/[\s:;,=]+/)
    .map((t) => (t.startsWith('file:') ? t.slice('file:'.length) : t))
    .filter((t) => t.startsWith('/'));
}

function unsafe(what: string, root: string, hint: string): WardenError {
  return new WardenError(
    'PATH_POLICY',
    `${what}, reached through ${root}, which the agent can write: it could replace what the server runs (GW-13)`,
    { hint },
  );
}

function isExecutableFile(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

function realPathOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

type Kind = 'file' | 'dir' | 'other' | 'missing';
function kindOf(path: string): Kind {
  try {
    const st = statSync(path);
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    return 'missing';
  }
}
