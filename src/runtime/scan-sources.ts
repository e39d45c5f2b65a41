/**
 * What `warden scan config FILE` and `warden scan server -- CMD` read: the MCP servers an MCP
 * client's config file (Claude Desktop, Claude Code, Cursor, VS Code: the format is detected), a
 * warden.yaml, or one command names, turned into warden server entries that the gateway can
 * start — each in its own sandbox, as `warden gateway` would — so their definitions can be scanned
 * without running an agent.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { SERVER_NAME } from '../core/config-defaults.js';
import { WardenError } from '../core/errors.js';

/** A config file larger than this is refused (client files are small; ~/.claude.json holds history too). */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
/** Servers one scan may start. */
const MAX_SERVERS = 64;

/** One server as the source names it. */
export interface ScannedServer {
  /** Its name in the source (a client's key). */
  readonly source: string;
  /** A warden server name made from it (servers.<name>). */
  readonly name: string;
  readonly command?: string;
  readonly args: readonly string[];
  /** Values the client would set in its environment (passed to the server's sandbox, never printed). */
  readonly env: Readonly<Record<string, string>>;
  readonly url?: string;
}

/** What a config file was read as, and its servers. */
export interface ScanSource {
  readonly format: 'claude-desktop' | 'claude-code' | 'cursor' | 'vscode' | 'mcp-json' | 'warden';
  readonly servers: readonly ScannedServer[];
  /** Entries that could not be turned into a server, and why. */
  readonly skipped: readonly { readonly source: string; readonly why: string }[];
}

function inputError(file: string, why: string): WardenError {
  return new WardenError('SCAN_INPUT', `${file}: ${why}`, {
    hint: 'pass an MCP client config (claude_desktop_config.json, .mcp.json, ~/.claude.json, .cursor/mcp.json, .vscode/mcp.json) or a warden.yaml',
  });
}

/** Reads an MCP client's config file and detects which client's format it is in. */
export function readClientConfig(file: string): ScanSource {
  let text: string;
  try {
    if (statSync(file).size > MAX_CONFIG_BYTES) throw new Error(`larger than ${MAX_CONFIG_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw inputError(file, `cannot be read (${(error as Error).message})`);
  }
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0 || typeof value !== 'object' || value === null || Array.isArray(value)) {
    const first = errors[0];
    throw inputError(
      file,
      first === undefined
        ? 'not a JSON object'
        : `not valid JSON (${printParseErrorCode(first.error)} at offset ${first.offset})`,
    );
  }
  const root = value as Record<string, unknown>;
  const base = basename(file);
  if (isObject(root.servers) && !isObject(root.mcpServers)) return entriesOf(file, 'vscode', root.servers);
  if (!isObject(root.mcpServers))
    throw inputError(file, 'has neither "mcpServers" nor "servers": not an MCP client config');
  const format =
    base === 'claude_desktop_config.json'
      ? 'claude-desktop'
      : base === '.claude.json'
        ? 'claude-code'
        : file.includes('/.cursor/')
          ? 'cursor'
          : 'mcp-json';
  return entriesOf(file, format, root.mcpServers);
}

/** The servers of one command line (`warden scan server -- npx -y @scope/server`). */
export function commandSource(argv: readonly string[]): ScanSource {
  const [command, ...args] = argv;
  if (command === undefined || command === '')
    throw new WardenError('USAGE', 'no server command given', { hint: 'warden scan server -- npx -y @scope/server' });
  return { format: 'mcp-json', servers: [{ source: command, name: 'server', command, args, env: {} }], skipped: [] };
}

function entriesOf(file: string, format: ScanSource['format'], entries: Record<string, unknown>): ScanSource {
  const servers: ScannedServer[] = [];
  const skipped: { source: string; why: string }[] = [];
  const taken = new Set<string>();
  for (const [source, raw] of Object.entries(entries)) {
    if (servers.length >= MAX_SERVERS) {
      skipped.push({ source, why: `more than ${MAX_SERVERS} servers in one scan` });
      continue;
    }
    const entry = isObject(raw) ? raw : null;
    if (entry === null) {
      skipped.push({ source, why: 'not an object' });
      continue;
    }
    const name = serverName(source, taken);
    taken.add(name);
    const env = stringRecord(entry.env);
    if (typeof entry.url === 'string') {
      servers.push({ source, name, args: [], env, url: entry.url });
      continue;
    }
    if (typeof entry.command !== 'string' || entry.command === '') {
      skipped.push({ source, why: 'no command and no url' });
      continue;
    }
    const args = Array.isArray(entry.args) ? entry.args.filter((a): a is string => typeof a === 'string') : [];
    if (args.some((a) => /\$\{(input|env):/.test(a))) {
      skipped.push({ source, why: 'its arguments use ${input:…}/${env:…} variables the client fills in at start' });
      continue;
    }
    servers.push({ source, name, command: entry.command, args, env });
  }
  if (servers.length === 0 && skipped.length === 0) throw inputError(file, 'lists no MCP server');
  return { format, servers, skipped };
}

/** A warden server name for a client's key: lower case, [a-z0-9-], at most 32, unique. */
function serverName(source: string, taken: ReadonlySet<string>): string {
  const base =
    source
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 28) || 'server';
  let name = SERVER_NAME.test(base) ? base : `s-${base}`.slice(0, 28);
  for (let i = 2; taken.has(name); i++) name = `${base.slice(0, 26)}-${i}`;
  return name;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringRecord(value: unknown): Record<string, string> {
  if (!isObject(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
