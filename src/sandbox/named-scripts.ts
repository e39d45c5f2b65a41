/**
 * Scripts that protected configs run by path (SBX-20): a hook of `.claude/settings.json` that runs
 * `.claude/hooks/check.sh`, an `.mcp.json` server started as `node tools/server.js`, a local
 * pre-commit hook, a lefthook command, a git hook script that calls `./scripts/verify.sh`. Making
 * the config read-only protects nothing if the agent can rewrite the script it names, so these
 * files are protected too: bound read-only when they exist, judged after the run when the agent
 * creates one.
 *
 * Commands are shell text; warden does not run a shell parser over them. It splits them into simple
 * commands and takes the program when it is a path and the script an interpreter is given, after
 * expanding the variables these tools define for the project directory. A path only a shell could
 * compute (`$(git rev-parse --show-toplevel)/x`) is missed: docs/threat-model.md says so.
 */
import { lstatSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type * as Yaml from 'yaml';

/** Config files read for commands, relative to a writable root, with the reader for each. */
const CONFIG_READERS: readonly { readonly file: string; readonly read: (text: string) => string[] }[] = [
  { file: '.claude/settings.json', read: claudeSettingsCommands },
  { file: '.claude/settings.local.json', read: claudeSettingsCommands },
  { file: '.mcp.json', read: mcpServerCommands },
  { file: '.cursor/mcp.json', read: mcpServerCommands },
  { file: '.pre-commit-config.yaml', read: preCommitEntries },
  ...['lefthook', '.lefthook', 'lefthook-local', '.lefthook-local'].flatMap((base) =>
    ['yml', 'yaml', 'json'].map((ext) => ({ file: `${base}.${ext}`, read: lefthookRuns })),
  ),
  { file: '.config/lefthook.yml', read: lefthookRuns },
  { file: '.config/lefthook.yaml', read: lefthookRuns },
];

/** A config or hook script larger than this is not read (its commands are not followed). */
const MAX_CONFIG_BYTES = 256 * 1024;
/** Hook scripts read per hooks directory. */
const MAX_HOOK_FILES = 64;
/** Paths returned per root: enough for any real project, small enough for the mount plan. */
const MAX_NAMED_PATHS = 256;

/**
 * Absolute paths inside `root` that the configs under it, and the hook scripts in `hookDirs`,
 * name as programs or scripts. Existing or not; never under node_modules (package code is code
 * the host runs anyway, see the threat model). Symlinks are resolved to their target inside root.
 */
export function namedScripts(root: string, hookDirs: readonly string[]): string[] {
  const commands: string[] = [];
  for (const { file, read } of CONFIG_READERS) {
    const text = readBounded(join(root, file));
    if (text === null) continue;
    try {
      commands.push(...read(text));
    } catch {
      // A config its own tool cannot parse runs nothing; the file itself is protected anyway.
    }
  }
  for (const dir of hookDirs) {
    let names: string[];
    try {
      names = readdirSync(dir).filter((name) => !name.endsWith('.sample'));
    } catch {
      continue;
    }
    for (const name of names.slice(0, MAX_HOOK_FILES)) {
      const text = readBounded(join(dir, name));
      if (text !== null) commands.push(text);
    }
  }
  const found = new Set<string>();
  for (const command of commands) {
    for (const path of commandPaths(command, root)) {
      if (found.size >= MAX_NAMED_PATHS) return [...found];
      found.add(path);
    }
  }
  return [...found];
}

/** Programs that run the script named by their first non-option argument. */
const INTERPRETERS = new Set([
  'sh',
  'bash',
  'dash',
  'zsh',
  'fish',
  'ksh',
  'source',
  '.',
  'exec',
  'env',
  'command',
  'nohup',
  'time',
  'node',
  'nodejs',
  'deno',
  'bun',
  'tsx',
  'ts-node',
  'npx',
  'python',
  'python3',
  'python2',
  'uv',
  'uvx',
  'ruby',
  'perl',
  'php',
  'lua',
]);
/** Subcommands of interpreters that come before the script (`uv run x.py`, `deno run x.ts`). */
const RUN_WORDS = new Set(['run', 'exec']);

/**
 * Paths inside `root` that `command` (shell text) runs: the program of each simple command when
 * it is a path (a bare name is looked up on PATH), and the script an interpreter is given
 * (`bash check.sh`, `node tools/server.js`, `uv run x.py`). Arguments are not taken: a file a
 * command merely reads or formats is data. Exported for git-protect.ts (git's command keys).
 */
export function commandPaths(command: string, root: string): string[] {
  const paths: string[] = [];
  for (const word of commandWords(command, root)) {
    const path = resolveInside(root, isAbsolute(word) ? resolve(word) : resolve(root, word));
    if (path !== null && path !== root && !path.split(sep).includes('node_modules')) paths.push(path);
  }
  return paths;
}

/**
 * The words of `command` that name a file it runs (see commandPaths), as written, with the
 * project-directory variables expanded to `projectDir`.
 */
export function commandWords(command: string, projectDir: string): string[] {
  const expanded = command
    .replace(/\$\{?(CLAUDE_PROJECT_DIR|workspaceFolder|PWD)\}?/g, projectDir)
    .replace(/["']/g, '');
  const words: string[] = [];
  for (const simple of expanded.split(/[;&|()`\n]+|\$\(/)) {
    const parts = simple.split(/[\s<>]+/).filter((word) => word !== '');
    let i = 0;
    while (i < parts.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(parts[i] ?? '')) i++; // VAR=value prefixes
    let afterInterpreter = false;
    for (; i < parts.length; i++) {
      const word = (parts[i] ?? '').replace(/^!/, '');
      if (afterInterpreter && (word.startsWith('-') || RUN_WORDS.has(word) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(word))) {
        if (word === '-m' || word === '-c' || word === '-e') break; // a module or inline code, not a file
        continue;
      }
      if (INTERPRETERS.has(word)) {
        afterInterpreter = true;
        continue;
      }
      if ((afterInterpreter || word.includes('/')) && !word.includes('$') && !/^[a-z][a-z0-9+.-]*:\/\//i.test(word))
        words.push(word);
      break;
    }
  }
  return words;
}

/** `path` if it lies inside `root` (a symlink resolved to its target, which must too), else null. */
function resolveInside(root: string, path: string): string | null {
  const rel = relative(root, path);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return null;
  try {
    if (lstatSync(path).isSymbolicLink()) {
      const real = realpathSync.native(path);
      const realRel = relative(root, real);
      return realRel.startsWith('..') || isAbsolute(realRel) ? null : real;
    }
  } catch {
    // missing: still a name the agent could fill
  }
  return path;
}

function readBounded(path: string): string | null {
  try {
    const st = lstatSync(path);
    if (!st.isFile() || st.size > MAX_CONFIG_BYTES) return null;
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Every string under a `command` key (hooks, statusLine) and the helper scripts Claude Code runs. */
function claudeSettingsCommands(text: string): string[] {
  const settings = JSON.parse(text) as unknown;
  const found: string[] = [];
  const helpers = new Set(['command', 'apiKeyHelper', 'awsAuthRefresh', 'awsCredentialExport', 'otelHeadersHelper']);
  walkJson(settings, (key, value) => {
    if (helpers.has(key) && typeof value === 'string') found.push(value);
  });
  return found;
}

/** `command` and `args` of every server in `mcpServers` (Claude Code, Cursor). */
function mcpServerCommands(text: string): string[] {
  const config = JSON.parse(text) as { mcpServers?: unknown };
  const found: string[] = [];
  if (typeof config.mcpServers !== 'object' || config.mcpServers === null) return found;
  for (const server of Object.values(config.mcpServers as Record<string, unknown>)) {
    if (typeof server !== 'object' || server === null) continue;
    const { command, args } = server as { command?: unknown; args?: unknown };
    if (typeof command === 'string') found.push(command);
    if (Array.isArray(args)) found.push(...args.filter((arg): arg is string => typeof arg === 'string'));
  }
  return found;
}

/** `entry` of every hook (a local hook's entry is a command in the workspace). */
function preCommitEntries(text: string): string[] {
  const found: string[] = [];
  walkJson(parseYaml(text), (key, value) => {
    if (key === 'entry' && typeof value === 'string') found.push(value);
  });
  return found;
}

/** `run` of every command and job. */
function lefthookRuns(text: string): string[] {
  const found: string[] = [];
  walkJson(parseYaml(text), (key, value) => {
    if (key === 'run' && typeof value === 'string') found.push(value);
  });
  return found;
}

let yaml: typeof Yaml | null = null;
/**
 * yaml's parser, loaded on first use: few workspaces have a YAML hook config, and loading the
 * library on every `warden run` would cost start-up time (the config reader loads it lazily too).
 */
function parseYaml(text: string): unknown {
  yaml ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return yaml.parse(text, { maxAliasCount: 100 });
}

/** Calls `visit` for every key/value pair in a parsed document (bounded depth). */
function walkJson(value: unknown, visit: (key: string, value: unknown) => void, depth = 0): void {
  if (depth > 32 || typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) walkJson(item, visit, depth + 1);
    return;
  }
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    visit(key, child);
    walkJson(child, visit, depth + 1);
  }
}
