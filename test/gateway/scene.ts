/**
 * The scene the gateway's system tests share: a workspace, fixture MCP servers (fixtures/
 * spec-server.mjs, each in its own sandbox) with their specs and call logs, and warden.yaml.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  makeWorkspace,
  readableBySandbox,
  removeWorkspace,
  REPO,
  warden,
  type Mode,
  type WardenResult,
} from '../helpers/warden.js';

export const MODULES = join(REPO, 'node_modules');
export const FIXTURES = join(import.meta.dirname, 'fixtures');
export const SPEC_SERVER = join(FIXTURES, 'spec-server.mjs');
/** What the SDK (1.32) speaks, newest first; the gateway answers an unknown version with the first. */
export const LATEST = '2025-11-25';

// ---------------------------------------------------------------------------------------------
// The scene: a workspace, the fixture servers' specs, warden.yaml

export interface ToolSpec {
  readonly name: string;
  readonly title?: string;
  readonly description?: string;
  readonly annotations?: Record<string, unknown>;
  readonly inputSchema?: Record<string, unknown>;
  /**
   * 'add_late': calling the tool adds the spec's `late` tools (replacing same-named ones: a rug
   * pull) and sends tools/list_changed; 'add_late_silently' does it without the notification.
   */
  readonly action?: 'add_late' | 'add_late_silently' | 'sample' | 'log';
  /** The text the tool answers (default: what it ran with). */
  readonly result?: string;
  /** Its structuredContent. */
  readonly structured?: Record<string, unknown>;
  /** A JSON-RPC error the tool answers instead of a result. */
  readonly error?: { readonly code: number; readonly message: string; readonly data?: unknown };
  /** The tool's `execution` (2025-11-25 tasks), e.g. `{ taskSupport: 'required' }`. */
  readonly execution?: Record<string, unknown>;
}

export interface PromptSpec {
  readonly name: string;
  readonly description?: string;
  readonly arguments?: readonly { readonly name: string; readonly description?: string; readonly required?: boolean }[];
}

export interface ServerSpec {
  readonly tools: readonly ToolSpec[];
  readonly late?: readonly ToolSpec[];
  readonly prompts?: readonly (string | PromptSpec)[];
  /** Prompts added (or replacing same-named ones) when a tool's 'add_late' action runs. */
  readonly latePrompts?: readonly (string | PromptSpec)[];
  /** The server's initialize instructions. */
  readonly instructions?: string;
}

export interface Grant {
  readonly server: string;
  readonly tools?: readonly string[];
  readonly prompts?: readonly string[];
  readonly when?: Record<string, unknown>;
}

export interface McpSection {
  readonly allow?: readonly Grant[];
  readonly deny?: readonly Grant[];
  readonly policies?: readonly string[];
  readonly scan?: Readonly<Record<string, unknown>>;
  readonly relay?: Readonly<Record<string, readonly string[]>>;
}

export interface UpstreamLogEntry {
  readonly pid: number;
  readonly event: 'start' | 'call';
  readonly name?: string;
  readonly arguments?: Record<string, unknown>;
  readonly tools?: readonly string[];
}

/** One test's files: the workspace (writable by the servers), their specs, and warden.yaml. */
export class Scene {
  readonly workspace: string;
  readonly root: string;
  readonly specs: string;
  readonly config: string;

  constructor(readonly mode: Mode) {
    this.workspace = makeWorkspace(mode);
    this.root = dirname(this.workspace);
    this.specs = join(this.root, 'specs');
    mkdirSync(this.specs, { mode: 0o755 });
    this.config = join(this.root, 'warden.yaml');
  }

  specPath(server: string): string {
    return join(this.specs, `${server}.json`);
  }

  /** What the fixture `server` offers from its next start on. */
  spec(server: string, spec: ServerSpec): void {
    writeFileSync(this.specPath(server), JSON.stringify(spec), { mode: 0o644 });
  }

  /** Writes warden.yaml (as JSON, which is YAML) with fixture servers and the default profile's mcp section. */
  configure(servers: readonly string[], mcp: McpSection): void {
    const entries = servers.map((name) => [
      name,
      {
        command: 'node',
        args: [SPEC_SERVER, this.specPath(name), `\${workspace}/.calls-${name}.jsonl`],
        workspace: 'read-write',
        filesystem: { read_only: [MODULES, FIXTURES, this.specs] },
      },
    ]);
    const config = { version: 1, servers: Object.fromEntries(entries), profiles: { default: { mcp } } };
    writeFileSync(this.config, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
  }

  /** Every start and every tools/call that reached the fixture `server`. */
  upstreamLog(server: string): UpstreamLogEntry[] {
    const path = join(this.workspace, `.calls-${server}.jsonl`);
    if (!existsSync(path)) return [];
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as UpstreamLogEntry);
  }

  /** The calls that reached `server`, as [tool, arguments]. */
  upstreamCalls(server: string): [string | undefined, Record<string, unknown> | undefined][] {
    return this.upstreamLog(server)
      .filter((e) => e.event === 'call')
      .map((e) => [e.name, e.arguments]);
  }

  /** `warden ARGS` with this scene's config, in the workspace. */
  warden(args: readonly string[]): Promise<WardenResult> {
    return warden(this.mode, ['--config', this.config, ...args], { cwd: this.workspace });
  }

  remove(): void {
    removeWorkspace(this.workspace);
  }
}

/** The fixture and the SDK must be readable by whoever the server sandboxes run as. */
export function fixtureReadable(mode: Mode): boolean {
  return readableBySandbox(mode, join(MODULES, '@modelcontextprotocol/sdk/package.json'), SPEC_SERVER);
}

/**
 * The text of a tool result that says the arguments did not fit (an `isError` result, as the
 * 2025-11-25 spec prefers for input validation, not a JSON-RPC error). Fails otherwise.
 */
export async function invalidArguments(call: Promise<unknown>): Promise<string> {
  const result = (await call) as { isError?: boolean; content?: { type: string; text?: string }[] };
  const text = result.content?.[0]?.text ?? '';
  if (result.isError !== true || !text.startsWith('Invalid arguments for tool '))
    throw new Error(`expected an isError result for invalid arguments, got ${JSON.stringify(result).slice(0, 300)}`);
  return text;
}

/** The same for a raw JSON-RPC answer `{ result }` (a test speaking the protocol by hand). */
export function invalidArgumentsAnswer(answer: { result?: unknown; error?: unknown } | null): string {
  const result = (answer?.result ?? {}) as { isError?: boolean; content?: { text?: string }[] };
  const text = result.content?.[0]?.text ?? '';
  if (result.isError !== true || !text.startsWith('Invalid arguments for tool '))
    throw new Error(`expected an isError result for invalid arguments, got ${JSON.stringify(answer).slice(0, 300)}`);
  return text;
}
