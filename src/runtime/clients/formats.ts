/**
 * Where each MCP client keeps its server list on Linux, and the shape of one stdio server in it.
 * docs/clients.md names the documentation each line comes from; the tests validate written files
 * against schemas taken from the same documentation.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export const CLIENT_IDS = ['claude-desktop', 'claude-code', 'cursor', 'vscode'] as const;
export type ClientId = (typeof CLIENT_IDS)[number];

/** `user`: the client's own file, for every project; `project`: a file inside the workspace. */
export type ClientScope = 'user' | 'project';

export interface ClientFormat {
  readonly id: ClientId;
  /** The product's name, for messages. */
  readonly label: string;
  /** The scopes it has; the first is the default. */
  readonly scopes: readonly ClientScope[];
  /** The top-level key holding the servers. */
  readonly serversKey: 'mcpServers' | 'servers';
  /** Whether the client accepts comments and trailing commas in the file. */
  readonly comments: boolean;
  /** The file of `scope`; `project` is the workspace (an absolute path). */
  file(scope: ClientScope, env: NodeJS.ProcessEnv, project: string): string;
  /** One stdio server in the client's shape. */
  entry(command: string, args: readonly string[]): Record<string, unknown>;
  /** What to do after the file changed. */
  readonly reload: string;
}

/** $HOME (as the client sees it), else the passwd entry. */
function home(env: NodeJS.ProcessEnv): string {
  return env.HOME !== undefined && env.HOME.startsWith('/') ? env.HOME : homedir();
}

/** Electron's `appData` on Linux: $XDG_CONFIG_HOME, else ~/.config. */
function appData(env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CONFIG_HOME;
  return xdg !== undefined && xdg.startsWith('/') ? xdg : join(home(env), '.config');
}

const stdio = (command: string, args: readonly string[]) => ({ command, args: [...args] });

export const CLIENT_FORMATS: Readonly<Record<ClientId, ClientFormat>> = {
  'claude-desktop': {
    id: 'claude-desktop',
    label: 'Claude Desktop',
    scopes: ['user'],
    serversKey: 'mcpServers',
    comments: false,
    file: (_scope, env) => join(appData(env), 'Claude', 'claude_desktop_config.json'),
    entry: stdio,
    reload: 'quit Claude Desktop completely and start it again',
  },
  'claude-code': {
    id: 'claude-code',
    label: 'Claude Code',
    scopes: ['user', 'project'],
    serversKey: 'mcpServers',
    comments: false,
    // CLAUDE_CONFIG_DIR moves ~/.claude.json (Claude Code's documented environment variable).
    file: (scope, env, project) =>
      scope === 'project'
        ? join(project, '.mcp.json')
        : join(env.CLAUDE_CONFIG_DIR?.startsWith('/') === true ? env.CLAUDE_CONFIG_DIR : home(env), '.claude.json'),
    // `claude mcp add` writes the type as well; both spellings are documented.
    entry: (command, args) => ({ type: 'stdio', ...stdio(command, args) }),
    reload: 'start a new Claude Code session (project servers ask for approval the first time)',
  },
  cursor: {
    id: 'cursor',
    label: 'Cursor',
    scopes: ['user', 'project'],
    serversKey: 'mcpServers',
    // Cursor is built on VS Code; comments a user keeps in the file are kept (warden adds none).
    comments: true,
    file: (scope, env, project) =>
      scope === 'project' ? join(project, '.cursor', 'mcp.json') : join(home(env), '.cursor', 'mcp.json'),
    entry: stdio,
    reload: "open Cursor's MCP settings (or restart Cursor) and check that the server is enabled",
  },
  vscode: {
    id: 'vscode',
    label: 'VS Code',
    scopes: ['user', 'project'],
    serversKey: 'servers',
    comments: true,
    file: (scope, env, project) =>
      scope === 'project' ? join(project, '.vscode', 'mcp.json') : join(appData(env), 'Code', 'User', 'mcp.json'),
    entry: (command, args) => ({ type: 'stdio', ...stdio(command, args) }),
    reload: "run 'MCP: List Servers' in VS Code and start the server (VS Code asks to trust it the first time)",
  },
};

/** What a warden entry in a client's file says (read back for `client ls` and `client rm`). */
export interface WardenEntry {
  readonly command: string;
  readonly args: readonly string[];
  readonly profile: string;
  readonly workspace: string | null;
  readonly config: string | null;
  readonly stateDir: string | null;
  readonly agent: string | null;
}

const WARDEN_PROGRAMS = new Set(['warden', 'warden.cjs']);

/** Reads a client's server entry as warden's, or null when it is some other server. */
export function parseWardenEntry(value: unknown): WardenEntry | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const { command, args } = value as { command?: unknown; args?: unknown };
  if (typeof command !== 'string' || !Array.isArray(args) || !args.every((a) => typeof a === 'string')) return null;
  const argv: string[] = args;
  const program = WARDEN_PROGRAMS.has(baseName(command))
    ? 0
    : argv[0] !== undefined && WARDEN_PROGRAMS.has(baseName(argv[0]))
      ? 1
      : -1;
  if (program < 0) return null;
  const rest = argv.slice(program === 0 ? 0 : 1);
  if (!rest.includes('gateway') || !rest.includes('--stdio')) return null;
  const option = (...names: string[]): string | null => {
    for (const [i, a] of rest.entries()) {
      for (const name of names) {
        if (a === name && rest[i + 1] !== undefined) return rest[i + 1] ?? null;
        if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
      }
    }
    return null;
  };
  return {
    command,
    args: argv,
    profile: option('--profile', '-p') ?? 'default',
    workspace: option('--workspace', '-w'),
    config: option('--config', '-c'),
    stateDir: option('--state-dir'),
    agent: option('--agent'),
  };
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
