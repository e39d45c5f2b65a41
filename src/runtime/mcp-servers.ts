/**
 * Starts MCP tool servers for the gateway, each in its OWN sandbox (design.md, step 4), made by
 * the same recipe as the agent's (confined.ts): its own run directory, its own egress proxy with
 * its own allow-list and credential, only its declared environment, files and workspace access,
 * its own resource limits, and whatever the profile hides from the agent hidden from it too
 * (GW-11). It starts in a private empty directory (its own tmpfs home), never in the workspace,
 * and its program is resolved on the host to a file the agent cannot change (GW-13, see
 * server-guard.ts). The gateway talks to it over the sandbox's stdin/stdout.
 *
 * Every granted server is planned, and checked, before the first one starts: a config that
 * would expose a hidden path or run agent-written code stops the gateway at start.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ServerConfig } from '../core/config.js';
import { DEFAULT_LIMITS, expandWorkspace } from '../core/config-defaults.js';
import type { AgentIdentity } from '../core/events.js';
import { WardenError } from '../core/errors.js';
import { parseHostPattern } from '../core/host-pattern.js';
import type { LaunchUpstream, UpstreamDiagnosis, UpstreamProcess } from '../gateway/index.js';
import {
  SANDBOX_HOME,
  SANDBOX_LIB,
  SANDBOX_PKG,
  type HostExecBaseline,
  type SandboxExit,
  type SandboxHost,
} from '../sandbox/index.js';
import { confine, refuseExposedPaths, type ConfineContext, type ConfinedSpec, type Confinement } from './confined.js';
import { defaultCpu, resolveFsPaths } from './plan.js';
import { SANDBOX_PATH } from './sandbox-env.js';
import { classifyServer, verifyOrigin, type ProvenanceContext, type ServerOrigin } from '../registry/index.js';
import { agentReachable, checkServerProgram } from './server-guard.js';
import { StderrRing } from './server-log.js';
import { grantSearch } from './home.js';
import { storeDir } from '../registry/index.js';

export interface ServerLaunchContext extends ConfineContext {
  readonly servers: Readonly<Record<string, ServerConfig>>;
  /** The servers the profile grants something of: the only ones planned and started. */
  readonly granted: readonly string[];
  readonly runId: string;
  readonly agent: AgentIdentity;
  readonly workspace: string;
  readonly hostEnv: NodeJS.ProcessEnv;
  /**
   * The values of the secrets granted servers use (`secret_env`, headers' `from_secret`), by
   * reference, resolved before planning (serverSecretRefs): they reach only each server's sandbox.
   */
  readonly secretValues: ReadonlyMap<string, string>;
  /** Real paths the agent can write itself (the workspace, the profile's writable paths). */
  readonly agentWritable: readonly string[];
  /** The run's rule for missing cgroup controllers (`--accept-missing-limits`): servers follow the agent's. */
  readonly acceptMissingLimits: boolean;
  /** The catalog and what may run unpinned (SCAN-06): each server's pin is checked before each start. */
  readonly provenance: ProvenanceContext;
  /** Where warnings go (a likely typosquat allowed by catalog.unpinned). */
  readonly warn?: (message: string) => void;
}

/** The granted servers' sandboxes, planned and checked, and how to start them. */
export interface ServerSandboxes {
  /** Starts a server in a fresh sandbox (each start and restart its own). */
  readonly launch: LaunchUpstream;
  /** Every host directory a granted server can write: the agent writes there through it. */
  readonly writableRoots: readonly string[];
  /** The baselines of every sandbox launched so far (each start and restart), for the post-run check. */
  readonly baselines: () => readonly HostExecBaseline[];
}

/** A server's sandbox as planned once (each start adds its own id), and the values to redact from its stderr. */
type ServerPlan = Omit<ConfinedSpec, 'id'> & { readonly secrets: readonly string[] };

/**
 * Plans the sandbox of every granted server and checks it (GW-11, GW-13); throws the first
 * problem as a WardenError naming the config field. Nothing is started here.
 */
export function planServerSandboxes(ctx: ServerLaunchContext): ServerSandboxes {
  const plans = new Map<string, ServerPlan>();
  const programs = new Map<
    string,
    { plan: ServerPlan; check: (reach: readonly string[]) => string; server: ServerConfig }
  >();
  // Each server's provenance (SCAN-06): decided here, verified before each start.
  const origins = new Map<string, ServerOrigin>();
  const writableRoots: string[] = [];
  for (const name of ctx.granted) {
    const configured = Object.hasOwn(ctx.servers, name) ? ctx.servers[name] : undefined;
    if (configured === undefined) throw new WardenError('GATEWAY_START_FAILED', `no server '${name}' in the config`);
    // A catalog server runs what its entry pins: its program, its URL, or the store's package.
    const origin = configured.catalog === undefined ? null : classifyServer(name, configured, null, ctx.provenance);
    if (origin !== null) origins.set(name, origin);
    if (origin !== null && origin.kind !== 'url' && Object.keys(configured.headers).length > 0)
      throw new WardenError(
        'CONFIG_INVALID',
        `servers.${name}.headers: the catalog entry '${configured.catalog ?? ''}' is not a remote server, so headers do not apply`,
        { hint: `remove servers.${name}.headers, or point servers.${name}.catalog at a url entry` },
      );
    const server = origin === null ? configured : asConfigured(configured, origin);
    if (origin === null && server.url !== undefined)
      origins.set(name, classifyServer(name, server, null, ctx.provenance));
    // A url entry's TLS pin goes to the bridge, which checks it on every connection (SCAN-06).
    const urlOrigin = origins.get(name);
    const tlsPin = urlOrigin?.kind === 'url' ? urlOrigin.tlsSpkiSha256 : undefined;
    const planned = planServer(name, server, ctx, tlsPin);
    refuseExposedPaths({ ...planned.plan, id: ctx.runId }, ctx);
    writableRoots.push(...(planned.plan.workspace === null ? [] : [planned.plan.workspace]), ...planned.plan.writable);
    if (planned.check === null) plans.set(name, planned.plan);
    else programs.set(name, { plan: planned.plan, check: planned.check, server });
  }
  // What the agent can reach: its own writable paths and every read-write server's (GW-13).
  const reach = [...new Set([...ctx.agentWritable, ...writableRoots])];
  for (const [name, { plan, check, server }] of programs) {
    const program = check(reach);
    plans.set(name, { ...plan, command: [program, ...plan.command.slice(1)] });
    if (!origins.has(name)) origins.set(name, classifyServer(name, server, program, ctx.provenance));
  }
  for (const [name, origin] of origins) {
    if (origin.kind === 'unpinned') for (const warning of origin.warnings) ctx.warn?.(warning);
    if (origin.kind !== 'store') continue;
    // Started from warden's store: the store must be out of the agent's reach too (GW-13), and
    // the server's own arguments follow the package's program (an npx line loses npx and the spec).
    const plan = plans.get(name);
    if (plan === undefined) continue;
    const store = storeDir(ctx.provenance.stateDir);
    const hop = agentReachable(store, reach);
    if (hop !== null)
      throw new WardenError(
        'PATH_POLICY',
        `warden's package store ${store} is reached through ${hop}, which the agent can write (GW-13)`,
        { hint: 'keep the state dir outside the workspace and every writable path' },
      );
    // node itself: the one the guard resolved for a catalog server, else the host's under /usr
    // (a system directory, never writable by a sandbox), not whatever npx would have found.
    const node = basename(plan.command[0] ?? '') === 'node' ? (plan.command[0] ?? 'node') : systemNode();
    plans.set(name, {
      ...plan,
      command: [node, STORE_PROGRAM, ...origin.args.map((a) => expandWorkspace(a, ctx.workspace))],
    });
  }

  let launches = 0;
  const baselines: HostExecBaseline[] = [];
  const launch = async (name: string): Promise<UpstreamProcess> => {
    const planned = plans.get(name);
    if (planned === undefined) throw new WardenError('GATEWAY_START_FAILED', `server '${name}' is not granted`);
    // The pin, checked before every start (SCAN-06): a server whose pin does not verify is not started.
    const origin = origins.get(name);
    const stored = origin === undefined ? null : verifyOrigin(origin, ctx.provenance.stateDir);
    // As root, the sandbox user's bwrap resolves the package's path: it may pass through the
    // state dir (search only, as for persistent homes); the store itself is world-readable.
    if (stored !== null && ctx.sandboxUser !== null) grantSearch(ctx.provenance.stateDir, ctx.sandboxUser.gid);
    const plan: ServerPlan =
      stored === null
        ? planned
        : {
            ...planned,
            command: planned.command.map((a) => (a === STORE_PROGRAM ? join(SANDBOX_PKG, stored.bin) : a)),
            package: stored.root,
          };
    // Each start (and restart) gets its own sandbox id: server sandboxes are disposable too.
    const confinement = confine({ ...plan, id: `${ctx.runId}.${name}.${++launches}` }, ctx);
    try {
      await confinement.proxyListening;
      const running = confinement.start();
      // Recorded at once: a server that fails may have written before it died.
      baselines.push(running.baseline);
      await running.ready;
      if (running.stdin === null || running.stdout === null) throw new Error('the sandbox has no pipes');
      // The server's stderr is its log: keep its newest part (bounded), and drain it so a chatty
      // server never blocks on a full pipe.
      const ring = new StderrRing();
      running.stderr?.on('data', (chunk: Buffer) => ring.push(chunk));
      let exit: SandboxExit | null = null;
      void running.exited.then((e) => (exit = e));
      const stop = async (): Promise<void> => {
        await confinement.release().catch(() => undefined);
      };
      const diagnose = (): UpstreamDiagnosis => ({
        stderr: ring.text([...plan.secrets, confinement.credential]),
        exit: exit === null ? null : describeExit(exit),
        problems: [...pinProblems(name, ring.text([])), ...egressProblems(name, confinement)],
      });
      return { stdin: running.stdin, stdout: running.stdout, exited: running.exited, stop, diagnose };
    } catch (error) {
      await confinement.release().catch(() => undefined);
      throw error;
    }
  };
  return { launch, writableRoots: [...new Set(writableRoots)], baselines: () => baselines };
}

/** One server's sandbox, and for a stdio server the check of its program (which needs every server's writable paths). */
function planServer(
  name: string,
  server: ServerConfig,
  ctx: ServerLaunchContext,
  tlsPin?: string,
): { plan: ServerPlan; check: ((reach: readonly string[]) => string) | null } {
  // A remote server is reached through the bridge (src/gateway/remote-bridge.ts), run in a
  // sandbox like a local server; its egress proxy allows the server's own host:port.
  const remote = server.url === undefined ? null : remoteBridge(name, server.url, ctx.host);
  const remoteHeaders = remote === null ? {} : headerValues(name, server.headers, ctx);
  const args = server.args.map((a) => expandWorkspace(a, ctx.workspace));
  const command = remote?.command ?? [server.command ?? '', ...args];
  const workspaceMode = remote === null ? server.workspace : 'none';
  const label = `servers.${name}.filesystem`;
  const readOnly = resolveFsPaths(server.filesystem.read_only, ctx.workspace, `${label}.read_only`, true);
  const readOnlyFields = new Map<string, string>();
  if (workspaceMode === 'read-only') {
    readOnly.push(ctx.workspace);
    readOnlyFields.set(ctx.workspace, `servers.${name}.workspace`);
  }
  const writable = resolveFsPaths(server.filesystem.writable, ctx.workspace, `${label}.writable`, true);
  const env: Record<string, string> = {};
  const envFields = new Map<string, { value: string; field: string }>();
  for (const v of server.env.pass) {
    const value = ctx.hostEnv[v];
    if (value === undefined) continue;
    env[v] = value;
    envFields.set(v, { value, field: `servers.${name}.env.pass` });
  }
  for (const [v, value] of Object.entries(server.env.set)) {
    env[v] = value;
    envFields.set(v, { value, field: `servers.${name}.env.set.${v}` });
  }
  // Secrets reach this server's sandbox only (SEC-04), and are redacted from its stderr like any
  // value of its environment.
  for (const [v, reference] of Object.entries(server.secret_env)) {
    const value = secretValue(ctx, reference);
    env[v] = oneLineValue(value, `servers.${name}.secret_env.${v}`, false);
    envFields.set(v, { value, field: `servers.${name}.secret_env.${v}` });
  }
  // The remote server's credentials reach only its bridge (this sandbox), which drops them
  // from its own environment before anything else runs.
  if (Object.keys(remoteHeaders).length > 0) env[REMOTE_HEADERS_ENV] = JSON.stringify(remoteHeaders);
  if (remote !== null && tlsPin !== undefined) env[REMOTE_TLS_PIN_ENV] = tlsPin;
  const plan: ServerPlan = {
    secrets: [...Object.values(env), ...Object.values(remoteHeaders)],
    agent: { name: `mcp:${name}`, run_id: ctx.runId },
    command,
    // A private empty directory (the sandbox's own tmpfs home), never the workspace: launchers
    // such as npx, python -m and uvx take code from their working directory first (GW-13).
    cwd: SANDBOX_HOME,
    workspace: workspaceMode === 'read-write' ? ctx.workspace : null,
    readOnly,
    writable,
    deny: resolveFsPaths(server.filesystem.deny, ctx.workspace, `${label}.deny`, false),
    env,
    networkAllow: [...(remote === null ? [] : [remote.authority]), ...server.network.allow],
    networkOwner: { owner: `server '${name}'`, field: `servers.${name}.network.allow` },
    limits: {
      memoryBytes: server.limits.memory ?? DEFAULT_LIMITS.memoryBytes,
      pids: server.limits.pids ?? DEFAULT_LIMITS.pids,
      cpu: server.limits.cpu ?? defaultCpu(),
    },
    // The same rule as the agent's sandbox: the run's flag, else the host's limits policy (config, uid).
    acceptMissingLimits: ctx.acceptMissingLimits || ctx.host.limits.policy === 'best-effort',
    home: null,
    stdio: 'pipe',
    fields: {
      workspace: `servers.${name}.workspace`,
      readOnly: `${label}.read_only`,
      writable: `${label}.writable`,
    },
    readOnlyFields,
  };
  if (remote !== null) return { plan, check: null };
  const visible = [...(plan.workspace === null ? [] : [plan.workspace]), ...readOnly, ...writable];
  return {
    plan,
    check: (reach) =>
      checkServerProgram(
        {
          name,
          command: server.command ?? '',
          args,
          env: envFields,
          path: env['PATH'] ?? SANDBOX_PATH,
          visible,
          workspace: ctx.workspace,
        },
        reach,
      ),
  };
}

/** The host's node under /usr (visible in every sandbox), for a package runner's line started from the store. */
function systemNode(): string {
  for (const candidate of ['/usr/local/bin/node', '/usr/bin/node']) if (existsSync(candidate)) return candidate;
  throw new WardenError('CONFIG_INVALID', 'node is not installed under /usr (/usr/local/bin or /usr/bin)', {
    hint: "install Node.js under /usr: a pinned npm server runs with the host's node",
  });
}

/** Stands for the store package's program in a planned command until the store is verified at start. */
const STORE_PROGRAM = `${SANDBOX_PKG}/<program>`;

/** The server as its catalog entry makes it: the entry's program, URL, or node running the store's package. */
function asConfigured(server: ServerConfig, origin: ServerOrigin): ServerConfig {
  switch (origin.kind) {
    case 'file':
      return { ...server, catalog: undefined, command: origin.path };
    case 'url':
      return { ...server, catalog: undefined, url: origin.url };
    case 'store':
    case 'refused':
    case 'unpinned':
      // A refused server never starts (its check throws first); it is planned like a package.
      return { ...server, catalog: undefined, command: 'node', args: [STORE_PROGRAM] };
  }
}

/** How a server process ended, in words ("exited with code 1", "was killed by SIGKILL"). */
function describeExit(exit: SandboxExit): string {
  if (exit.setupFailed) return `could not be started (${exit.setupError ?? 'sandbox setup failed'})`;
  if (exit.oomKilled) return 'was killed for using more than its memory limit (servers.<name>.limits.memory)';
  if (exit.signal !== null) return `was killed by ${exit.signal}`;
  if (exit.code === 127) return 'exited with code 127 (command not found inside its sandbox)';
  return `exited with code ${exit.code}`;
}

/**
 * Egress the server's proxy refused: the usual reason a server that fetches its package (npx,
 * uvx) or calls an API does not start. Names the server's own allow-list, not the profile's.
 */
/** The line the remote bridge writes when a connection's TLS key is not the pinned one (remote-tls.ts). */
const PIN_MISMATCH_LINE = /PROVENANCE_MISMATCH: the TLS key of [^\n]{1,300}/;

/** A remote server whose TLS key did not match its catalog pin: the bridge said so and ended (SCAN-06). */
function pinProblems(name: string, stderr: string): { message: string; hint: string }[] {
  const line = PIN_MISMATCH_LINE.exec(stderr)?.[0];
  if (line === undefined) return [];
  return [
    {
      message: line,
      hint: `if the server's key changed on purpose, pin it again (\`warden catalog add URL\` shows the key it sees; compare it with what the server's operator publishes); otherwise something answers in its place — do not use servers.${name} until you know why`,
    },
  ];
}

function egressProblems(name: string, confinement: Confinement): { message: string; hint: string }[] {
  const field = `servers.${name}.network.allow`;
  return confinement
    .egressStats()
    .deniedTargets.slice(0, 5)
    .map((t) => {
      const target = t.port === 443 || t.port === 80 ? t.host : `${t.host}:${t.port}`;
      return {
        message: `its egress proxy refused ${t.host}:${t.port} (${t.reason})`,
        hint:
          t.reason === 'not_allowed' || t.reason === 'port_not_allowed'
            ? `add '${target}' to ${field}`
            : t.reason === 'blocked_address'
              ? `${t.host} resolves to an address that is not publicly routable: allow that exact address in ${field} only if the server needs it (the address is in \`warden audit show\`)`
              : `see the egress.denied events of agent mcp:${name} in \`warden audit show\``,
      };
    });
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

/** The variable through which the bridge gets a remote server's TLS pin (see remote-bridge.ts). */
const REMOTE_TLS_PIN_ENV = 'WARDEN_REMOTE_TLS_SPKI_SHA256';

/** The variable through which the bridge gets a remote server's headers (see remote-bridge.ts). */
const REMOTE_HEADERS_ENV = 'WARDEN_REMOTE_HEADERS';

/** A remote server's header values, from warden's environment or the secret store; a missing or unsafe one stops the start. */
function headerValues(
  name: string,
  headers: ServerConfig['headers'],
  ctx: Pick<ServerLaunchContext, 'hostEnv' | 'secretValues'>,
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [header, source] of Object.entries(headers)) {
    const field = `servers.${name}.headers.${header}`;
    if (source.from_secret !== undefined) {
      values[header] = oneLineValue(secretValue(ctx, source.from_secret), field, true);
      continue;
    }
    const variable = source.from_env ?? '';
    const value = ctx.hostEnv[variable];
    if (value === undefined || value === '') {
      throw new WardenError(
        'GATEWAY_START_FAILED',
        `server '${name}': header ${header} comes from ${variable}, which is not set in warden's environment`,
        { hint: `export ${variable} before starting warden` },
      );
    }
    values[header] = oneLineValue(value, `${field} (${variable})`, true);
  }
  return values;
}

/** The references of every secret the granted servers use, for resolving them before planning. */
export function serverSecretRefs(
  servers: Readonly<Record<string, ServerConfig>>,
  granted: readonly string[],
): string[] {
  const refs: string[] = [];
  for (const name of granted) {
    const server = Object.hasOwn(servers, name) ? servers[name] : undefined;
    if (server === undefined) continue;
    refs.push(...Object.values(server.secret_env));
    if (server.url !== undefined)
      for (const source of Object.values(server.headers))
        if (source.from_secret !== undefined) refs.push(source.from_secret);
  }
  return refs;
}

function secretValue(ctx: Pick<ServerLaunchContext, 'secretValues'>, reference: string): string {
  const value = ctx.secretValues.get(reference);
  if (value === undefined) throw new Error(`the secret ${reference} was not resolved before planning`);
  return value;
}

/** A value for a header (one line) or a variable (no NUL), bounded; the message names the field, never the value. */
function oneLineValue(value: string, field: string, header: boolean): string {
  if ((header ? /[\r\n\0]/ : /\0/).test(value) || value.length > (header ? 8192 : 65536)) {
    throw new WardenError(
      'GATEWAY_START_FAILED',
      `${field}: the value ${header ? 'holds a line break, a NUL or more than 8192 characters' : 'holds a NUL or more than 64 KiB'}`,
      { hint: header ? 'a header value is one line of text' : 'store binary secrets base64-encoded' },
    );
  }
  return value;
}
