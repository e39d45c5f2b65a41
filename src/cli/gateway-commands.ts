/**
 * `warden gateway` (serve the MCP gateway to a desktop client) and `warden tools ls` (what a
 * profile grants, and why).
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { WardenError } from '../core/errors.js';
import type { AgentIdentity, EventSink } from '../core/events.js';
import { parseDuration } from '../core/units.js';
import { ensureStateDir, openAuditLog } from '../audit/index.js';
import type { Gateway } from '../gateway/index.js';
import type { McpPolicyConfig, WardenConfig } from '../core/config.js';
import { describeUnmatched, unmatchedGrantNames } from '../runtime/grant-names.js';
import {
  loadConfig,
  pickProfile,
  prepareHost,
  recordRecoveredRuns,
  resolveGatewayWorkspace,
} from '../runtime/index.js';
import { globalOptionsOf, type GlobalOptions } from './global-options.js';
import { printJson, table, warnOnStderr } from './output.js';
import { registerToolReviewCommands } from './tools-review-commands.js';

export interface GatewayCommandDeps {
  readonly assetsDir: string;
  readonly stateDirOf: (global: GlobalOptions, configStateDir: string | undefined) => string;
}

/** What a command running a standalone gateway may need beside the gateway itself. */
interface GatewayContext {
  readonly stateDir: string;
  readonly sink: EventSink;
  readonly agent: AgentIdentity;
  /** The profile's mcp section (its grants). */
  readonly mcp: McpPolicyConfig;
}

export async function withGateway(
  cmd: Command,
  options: { profile: string; workspace?: string; acceptMissingLimits?: boolean },
  agentName: string,
  command: readonly string[],
  use: (gateway: Gateway, context: GatewayContext) => Promise<void>,
  deps: GatewayCommandDeps,
): Promise<void> {
  const global = globalOptionsOf(cmd);
  // Resolved once, before anything starts: every server sandbox gets the same absolute path.
  const workspace = resolveGatewayWorkspace({
    given: options.workspace,
    cwd: process.cwd(),
    env: process.env,
    fix: `${command.join(' ')} --workspace DIR${command.includes('--stdio') ? ", or `warden client add CLIENT --workspace DIR` to write a desktop client's config" : ''}`,
  });
  const { config, path: configPath } = await loadConfig(process.cwd(), global.config);
  await withConfiguredGateway(
    cmd,
    {
      config,
      configPath,
      workspace,
      profileName: options.profile,
      agentName,
      command,
      acceptMissingLimits: options.acceptMissingLimits === true,
      warn: warnOnStderr,
    },
    use,
    deps,
  );
}

/**
 * Runs a standalone gateway for `setup.profileName` of an already loaded config: the state dir,
 * the host's sandbox preparation and the audit log around `withStandaloneGateway` (the servers
 * stop when `use` returns). `warden tools …` and `warden scan config|server` share it.
 */
export async function withConfiguredGateway(
  cmd: Command,
  setup: {
    readonly config: WardenConfig;
    readonly configPath: string | null;
    readonly workspace: string;
    readonly profileName: string;
    readonly agentName: string;
    readonly command: readonly string[];
    readonly acceptMissingLimits: boolean;
    readonly warn: (message: string) => void;
  },
  use: (gateway: Gateway, context: GatewayContext) => Promise<void>,
  deps: GatewayCommandDeps,
): Promise<void> {
  const { config } = setup;
  const stateDir = ensureStateDir(deps.stateDirOf(globalOptionsOf(cmd), config.state_dir));
  const prepared = await prepareHost(config, deps.assetsDir);
  // A gateway answers many calls: its audit writes run in a thread of their own (thread-writer.ts).
  const audit = openAuditLog({ stateDir, writerThread: join(deps.assetsDir, 'audit-writer.cjs') });
  // Loaded on demand: the MCP SDK and Cedar are not needed by other commands.
  const { withStandaloneGateway } = await import('../runtime/run-gateway.js');
  try {
    await recordRecoveredRuns(audit, prepared.recovered);
    await withStandaloneGateway(
      {
        ...setup,
        sink: audit,
        stateDir,
        host: prepared.host,
        sandboxUser: prepared.sandboxUser,
        runtimeRoot: prepared.runtimeRoot,
        neverVisible: [stateDir, prepared.runtimeRoot],
        hostEnv: process.env,
      },
      (gateway, agent) =>
        use(gateway, { stateDir, sink: audit, agent, mcp: pickProfile(config, setup.profileName).mcp }),
    );
  } finally {
    await audit.close();
  }
}

/** The same rule as `warden run --accept-missing-limits`, for the servers' sandboxes. */
const ACCEPT_MISSING_LIMITS =
  "start the servers even when cgroup controllers are unavailable (no memory/pids/cpu limits on the servers' sandboxes)";

function collectScopes(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Resolves on the first SIGINT or SIGTERM (then the gateway closes cleanly and the run is ended on record). */
function untilTerminated(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

/**
 * Warnings for grant names that match no tool of their (started) server: such a grant grants
 * nothing, silently. Every server the profile grants is judged, with the tools it listed.
 */
export function grantWarnings(gateway: Gateway, profile: string, mcp: McpPolicyConfig): string[] {
  const tools = new Map<string, string[]>();
  // A server that did not start lists nothing; its own warning says so, not one per grant.
  const unavailable = new Set(gateway.unavailable.map((u) => u.server));
  for (const grant of [...mcp.allow, ...mcp.deny]) if (!unavailable.has(grant.server)) tools.set(grant.server, []);
  for (const tool of gateway.describeTools()) tools.get(tool.server)?.push(tool.upstreamName);
  return describeUnmatched(profile, unmatchedGrantNames(mcp, tools), tools);
}

/** Starts a profile's gateway (servers sandboxed), checks its grants' tool names, stops it. */
export async function checkGrantsAgainstServers(
  cmd: Command,
  options: { profile: string; workspace?: string },
  deps: GatewayCommandDeps,
): Promise<string[]> {
  let warnings: string[] = [];
  await withGateway(
    cmd,
    options,
    'warden-config-check',
    ['warden', 'config', 'check', '--servers'],
    (gateway, context) => {
      warnings = grantWarnings(gateway, options.profile, context.mcp);
      return Promise.resolve();
    },
    deps,
  );
  return warnings;
}

export function registerGatewayCommands(program: Command, deps: GatewayCommandDeps): void {
  program
    .command('gateway')
    .description(
      "Serve the MCP gateway for a profile: every tool call decided by the profile's policy, every server in its own sandbox, every decision audited.",
    )
    .option('-p, --profile <name>', 'profile whose mcp grants apply', 'default')
    .option(
      '-w, --workspace <dir>',
      'the workspace ${workspace} stands for (default: the current directory, unless it is /, your home or a temporary directory)',
    )
    .option('--stdio', 'serve MCP over stdin/stdout (for Claude Desktop, VS Code, Cursor)')
    .option(
      '--listen <host:port>',
      'serve Streamable HTTP on a loopback port; callers need a token from `warden token issue --profile P` (port 0 picks a free one)',
    )
    .option('--agent <name>', 'agent name recorded in the audit log', 'mcp-client')
    .option('--accept-missing-limits', ACCEPT_MISSING_LIMITS)
    .action(
      async (
        options: {
          profile: string;
          workspace?: string;
          stdio?: boolean;
          listen?: string;
          agent: string;
          acceptMissingLimits?: boolean;
        },
        cmd: Command,
      ) => {
        if (options.stdio === true && options.listen !== undefined)
          throw new WardenError('USAGE', 'choose one of --stdio and --listen', {
            hint: 'run two gateways if you need both',
          });
        if (options.listen !== undefined) {
          const { listenGateway, parseListenAddress } = await import('../runtime/listen-gateway.js');
          const address = parseListenAddress(options.listen);
          await withGateway(
            cmd,
            options,
            options.agent,
            ['warden', 'gateway', '--listen', options.listen],
            async (gateway, context) => {
              const { gatewaySigningKeys } = await import('../runtime/signing-keys.js');
              const listening = await listenGateway(gateway, {
                address,
                profile: options.profile,
                keys: gatewaySigningKeys(context.stateDir),
                stateDir: context.stateDir,
                sink: context.sink,
                agent: context.agent,
              });
              process.stderr.write(
                `warden gateway: ${listening.url} (profile ${options.profile}, run ${context.agent.run_id})\n  tokens: warden token issue --profile ${options.profile} --agent NAME\n  stop: Ctrl-C\n`,
              );
              await untilTerminated();
              await listening.close();
            },
            deps,
          );
          return;
        }
        if (options.stdio !== true)
          throw new WardenError('USAGE', 'say how to serve: --stdio or --listen HOST:PORT', {
            hint: 'e.g. warden gateway --profile coding --stdio',
          });
        const { serveStdio } = await import('../gateway/index.js');
        await withGateway(
          cmd,
          options,
          options.agent,
          ['warden', 'gateway', '--stdio'],
          // Until the client closes stdin, or stops warden with SIGTERM/SIGINT (desktop clients do
          // on quit): either way the servers are stopped and the run is ended on record.
          async (gateway) => {
            await Promise.race([
              serveStdio(gateway, { input: process.stdin, output: process.stdout }),
              untilTerminated(),
            ]);
            // Stopped by a signal, stdin is still open; it must not keep warden alive after the teardown.
            process.stdin.destroy();
          },
          deps,
        );
      },
    );

  const token = program
    .command('token')
    .description('Short-lived tokens for agents that reach the gateway over HTTP (`warden gateway --listen`).');
  token
    .command('issue')
    .description("Sign a token for one agent and one profile's gateway; prints the token (or JSON with --json).")
    .requiredOption('--agent <name>', 'the agent the token names (recorded with every call it makes)')
    .option('-p, --profile <name>', 'the profile whose gateway accepts the token', 'default')
    .option('--ttl <duration>', 'how long the token is valid, e.g. 15m (at most 24h)', '1h')
    .option(
      '--scope <scope>',
      `a scope to grant (repeatable; default ${'mcp'}, which the gateway requires)`,
      collectScopes,
    )
    .option('--json', 'print {token, agent, audience, scopes, expires_at, jti} as JSON')
    .action(
      async (
        options: { agent: string; profile: string; ttl: string; scope?: string[]; json?: boolean },
        cmd: Command,
      ) => {
        const global = globalOptionsOf(cmd);
        const { config } = await loadConfig(process.cwd(), global.config);
        // A token for a profile that does not exist would be accepted by no gateway: say so now.
        pickProfile(config, options.profile);
        const ttlMs = parseDuration(options.ttl);
        const { DEFAULT_TOKEN_TTL_SECONDS, MAX_TOKEN_TTL_SECONDS, gatewayAudience, issueToken } =
          await import('../identity/index.js');
        const { gatewaySigningKeys } = await import('../runtime/signing-keys.js');
        const ttlSeconds = ttlMs === undefined ? DEFAULT_TOKEN_TTL_SECONDS : Math.round(ttlMs / 1000);
        if (ttlMs === undefined || ttlSeconds < 1 || ttlSeconds > MAX_TOKEN_TTL_SECONDS)
          throw new WardenError('USAGE', `--ttl '${options.ttl}' is not valid`, {
            hint: 'e.g. --ttl 15m; between 1s and 24h',
          });
        const stateDir = ensureStateDir(deps.stateDirOf(global, config.state_dir));
        const audience = gatewayAudience(options.profile);
        const scopes = options.scope ?? ['mcp'];
        let issued;
        try {
          issued = await issueToken(gatewaySigningKeys(stateDir), {
            subject: options.agent,
            audience,
            scopes,
            ttlSeconds,
          });
        } catch (error) {
          throw new WardenError('TOKEN_INVALID', (error as Error).message, {
            hint: 'agent names: letters, digits, . _ - (max 64); scopes: lower-case, e.g. mcp',
          });
        }
        if (options.json === true)
          printJson({
            token: issued.token,
            agent: options.agent,
            audience,
            scopes,
            expires_at: new Date(issued.expiresAt * 1000).toISOString(),
            jti: issued.jti,
          });
        else process.stdout.write(`${issued.token}\n`);
      },
    );

  token
    .command('revoke')
    .description(
      'Revoke a token before it expires: every `warden gateway --listen` of this state dir refuses it from its next request (401).',
    )
    .option('--jti <id>', 'the token id (`jti` in `warden token issue --json`)')
    .option('--token <token>', 'the token itself (its id and expiry are read from it)')
    .option('--json', 'print the revocation entry as JSON')
    .action(async (options: { jti?: string; token?: string; json?: boolean }, cmd: Command) => {
      if ((options.jti === undefined) === (options.token === undefined))
        throw new WardenError('USAGE', 'give exactly one of --jti and --token', {
          hint: 'warden token revoke --jti ID (from `warden token issue --json`), or --token TOKEN',
        });
      const global = globalOptionsOf(cmd);
      const { config } = await loadConfig(process.cwd(), global.config);
      const stateDir = ensureStateDir(deps.stateDirOf(global, config.state_dir));
      const { MAX_TOKEN_TTL_SECONDS, revokeToken, tokenIdentity } = await import('../identity/index.js');
      const { gatewaySigningKeys } = await import('../runtime/signing-keys.js');
      let jti = options.jti ?? '';
      // Without the token its expiry is unknown: keep the entry as long as any token can live.
      let exp = Math.floor(Date.now() / 1000) + MAX_TOKEN_TTL_SECONDS;
      if (options.token !== undefined) {
        const identity = await tokenIdentity(options.token.trim(), gatewaySigningKeys(stateDir));
        if (identity === null)
          throw new WardenError('TOKEN_INVALID', 'that is not a token this installation signed', {
            hint: 'check the state dir (--state-dir) the token was issued with',
          });
        jti = identity.jti;
        exp = identity.exp;
      }
      const entry = revokeToken(stateDir, jti, exp);
      if (options.json === true) printJson(entry);
      else
        process.stdout.write(
          `revoked token ${entry.jti} (it would have expired at ${new Date(entry.exp * 1000).toISOString()})\n`,
        );
    });

  const tools = program
    .command('tools')
    .description('Inspect the MCP tools a profile grants, and review and approve changed or flagged ones.');
  registerToolReviewCommands(
    tools,
    (cmd, options, agentName, command, use) =>
      withGateway(cmd, options, agentName, command, (gateway) => use(gateway), deps),
    ACCEPT_MISSING_LIMITS,
  );
  tools
    .command('ls')
    .description(
      "Start the profile's servers (sandboxed), list every tool with whether it is granted and the policy that decided, then stop them.",
    )
    .option('-p, --profile <name>', 'profile to inspect', 'default')
    .option(
      '-w, --workspace <dir>',
      'the workspace ${workspace} stands for (default: the current directory, unless it is /, your home or a temporary directory)',
    )
    .option('--json', 'print JSON')
    .option('--accept-missing-limits', ACCEPT_MISSING_LIMITS)
    .action(
      async (
        options: { profile: string; workspace?: string; json?: boolean; acceptMissingLimits?: boolean },
        cmd: Command,
      ) => {
        await withGateway(
          cmd,
          options,
          'warden-tools-ls',
          ['warden', 'tools', 'ls'],
          (gateway, context) => {
            const grants = gateway.describeTools();
            for (const warning of grantWarnings(gateway, options.profile, context.mcp))
              process.stderr.write(`warden: warning: ${warning}\n`);
            if (options.json === true) printJson(grants);
            else {
              const rows = grants.map((g) => [
                g.granted ? 'granted' : 'hidden',
                g.name,
                g.policyIds.join(',') || '-',
                g.state,
                g.granted ? '' : g.reason,
              ]);
              process.stdout.write(`${table([['', 'tool', 'policy', 'scan/pin', 'why not'], ...rows])}\n`);
            }
            return Promise.resolve();
          },
          deps,
        );
      },
    );
}
