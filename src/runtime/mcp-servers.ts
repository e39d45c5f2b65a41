/**
 * Starts MCP tool servers for the gateway, each in its OWN sandbox (design.md, step 4): its own
 * run directory, its own egress proxy with its own allow-list and credential, only its declared
 * environment, files and workspace access, and its own resource limits. The gateway talks to it
 * over the sandbox's stdin/stdout.
 */
import { join } from 'node:path';
import type { ServerConfig } from '../core/config.js';
import { DEFAULT_LIMITS, expandWorkspace } from '../core/config-defaults.js';
import type { AgentIdentity, EventSink } from '../core/events.js';
import { WardenError } from '../core/errors.js';
import { parseHostPattern } from '../core/host-pattern.js';
import type { LaunchUpstream, UpstreamProcess } from '../gateway/index.js';
import { SANDBOX_HOME, SANDBOX_LIB, type SandboxHost, type SandboxUser } from '../sandbox/index.js';
import { confine } from './confined.js';
import { defaultCpu, resolveFsPaths } from './plan.js';

export interface ServerLaunchContext {
  readonly servers: Readonly<Record<string, ServerConfig>>;
  readonly runId: string;
  readonly agent: AgentIdentity;
  readonly workspace: string;
  readonly host: SandboxHost;
  readonly sandboxUser: SandboxUser | null;
  readonly runtimeRoot: string;
  readonly neverVisible: readonly string[];
  readonly sink: EventSink;
  readonly hostEnv: NodeJS.ProcessEnv;
}

/** A LaunchUpstream that starts each stdio server in a fresh sandbox. */
export function sandboxedServerLauncher(ctx: ServerLaunchContext): LaunchUpstream {
  let launches = 0;
  return async (name: string): Promise<UpstreamProcess> => {
    const server = ctx.servers[name];
    if (server === undefined) throw new WardenError('GATEWAY_START_FAILED', `no server '${name}' in the config`);
    // A remote server is reached through the bridge (src/gateway/remote-bridge.ts), run in a
    // sandbox like a local server; its egress proxy allows the server's own host:port.
    const remote = server.url === undefined ? null : remoteBridge(name, server.url, ctx.host);
    const remoteHeaders = remote === null ? {} : headerValues(name, server.headers, ctx.hostEnv);
    const command = remote?.command ?? [
      server.command ?? '',
      ...server.args.map((a) => expandWorkspace(a, ctx.workspace)),
    ];
    const workspaceMode = remote === null ? server.workspace : 'none';
    // Each start (and restart) gets its own sandbox id: server sandboxes are disposable too.
    const sandboxId = `${ctx.runId}.${name}.${++launches}`;
    const label = `servers.${name}.filesystem`;
    const readOnly = resolveFsPaths(server.filesystem.read_only, ctx.workspace, `${label}.read_only`, true);
    if (workspaceMode === 'read-only') readOnly.push(ctx.workspace);
    const env: Record<string, string> = {};
    for (const v of server.env.pass) {
      const value = ctx.hostEnv[v];
      if (value !== undefined) env[v] = value;
    }
    Object.assign(env, server.env.set);
    // The remote server's credentials reach only its bridge (this sandbox), which drops them
    // from its own environment before anything else runs.
    if (Object.keys(remoteHeaders).length > 0) env[REMOTE_HEADERS_ENV] = JSON.stringify(remoteHeaders);
    const confinement = confine(
      {
        id: sandboxId,
        agent: { name: `mcp:${name}`, run_id: ctx.runId },
        command,
        cwd: workspaceMode === 'none' ? SANDBOX_HOME : ctx.workspace,
        workspace: workspaceMode === 'read-write' ? ctx.workspace : null,
        readOnly,
        writable: resolveFsPaths(server.filesystem.writable, ctx.workspace, `${label}.writable`, true),
        deny: resolveFsPaths(server.filesystem.deny, ctx.workspace, `${label}.deny`, false),
        home: null,
        env,
        networkAllow: [...(remote === null ? [] : [remote.authority]), ...server.network.allow],
        limits: {
          memoryBytes: server.limits.memory ?? DEFAULT_LIMITS.memoryBytes,
          pids: server.limits.pids ?? DEFAULT_LIMITS.pids,
          cpu: server.limits.cpu ?? defaultCpu(),
        },
        // The same rule as the agent's sandbox: the host's limits policy (config, uid, the run's flag).
        acceptMissingLimits: ctx.host.limits.policy === 'best-effort',
        stdio: 'pipe',
      },
      ctx,
    );
    try {
      await confinement.proxyListening;
      const running = confinement.start();
      await running.ready;
      if (running.stdin === null || running.stdout === null) throw new Error('the sandbox has no pipes');
      // The server's stderr is its log: drain it so a chatty server never blocks on a full pipe.
      running.stderr?.resume();
      const stop = async (): Promise<void> => {
        await confinement.release().catch(() => undefined);
      };
      return { stdin: running.stdin, stdout: running.stdout, exited: running.exited, stop };
    } catch (error) {
      await confinement.release().catch(() => undefined);
      throw error;
    }
  };
}

/**
 * How a remote server is started: the bridge from the sandbox library, under the host's Node
 * (found on the sandbox's PATH, /usr/local/bin:/usr/bin:/bin), and the URL's host:port, which
 * the bridge's egress proxy allows (an address such as 127.0.0.1 only as that exact address).
 */
function remoteBridge(name: string, url: string, host: SandboxHost): { command: string[]; authority: string } {
  if (host.lib.remoteBridge === null) {
    throw new WardenError(
      'GATEWAY_START_FAILED',
      `server '${name}' is a remote (url) server, but the bridge to remote servers was not built (dist/assets/mcp-remote-bridge.mjs is missing)`,
      { hint: 'run npm run build (or scripts/setup.sh)' },
    );
  }
  const parsed = new URL(url);
  if (parsed.hostname.includes('*')) {
    throw new WardenError(
      'GATEWAY_START_FAILED',
      `server '${name}': ${url} names a wildcard host; a remote server is one host`,
      { hint: "give the server's own host name in servers.<name>.url" },
    );
  }
  const port = parsed.port === '' ? (parsed.protocol === 'https:' ? '443' : '80') : parsed.port;
  const authority = `${parsed.hostname}:${port}`;
  const pattern = parseHostPattern(authority);
  if (!pattern.ok) {
    throw new WardenError(
      'GATEWAY_START_FAILED',
      `server '${name}': the host of ${url} cannot be allowed through the egress proxy (${pattern.reason})`,
      { hint: 'use a host name or an IPv4 address in servers.<name>.url' },
    );
  }
  return { command: ['node', join(SANDBOX_LIB, 'mcp-remote-bridge.mjs'), url], authority };
}

/** The variable through which the bridge gets a remote server's headers (see remote-bridge.ts). */
const REMOTE_HEADERS_ENV = 'WARDEN_REMOTE_HEADERS';

/** A remote server's header values, from warden's own environment; a missing or unsafe one stops the start. */
function headerValues(
  name: string,
  headers: ServerConfig['headers'],
  hostEnv: NodeJS.ProcessEnv,
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [header, source] of Object.entries(headers)) {
    const value = hostEnv[source.from_env];
    if (value === undefined || value === '') {
      throw new WardenError(
        'GATEWAY_START_FAILED',
        `server '${name}': header ${header} comes from ${source.from_env}, which is not set in warden's environment`,
        { hint: `export ${source.from_env} before starting warden` },
      );
    }
    if (/[\r\n\0]/.test(value) || value.length > 8192) {
      throw new WardenError(
        'GATEWAY_START_FAILED',
        `server '${name}': ${source.from_env} (for header ${header}) holds a line break, a NUL or more than 8192 characters`,
        { hint: 'a header value is one line of text' },
      );
    }
    values[header] = value;
  }
  return values;
}
