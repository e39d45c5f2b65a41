/**
 * `warden gateway` (serve the MCP gateway to a desktop client) and `warden tools ls` (what a
 * profile grants, and why).
 */
import type { Command } from 'commander';
import { WardenError } from '../core/errors.js';
import { ensureStateDir, openAuditLog } from '../audit/index.js';
import type { Gateway } from '../gateway/index.js';
import { loadConfig, prepareHost } from '../runtime/index.js';
import { printJson, table } from './output.js';

interface Globals {
  config?: string;
  stateDir?: string;
}

export interface GatewayCommandDeps {
  readonly assetsDir: string;
  readonly stateDirOf: (global: Globals, configStateDir: string | undefined) => string;
}

async function withGateway(cmd: Command, options: { profile: string; workspace?: string }, agentName: string, command: readonly string[], use: (gateway: Gateway) => Promise<void>, deps: GatewayCommandDeps): Promise<void> {
  const global = cmd.optsWithGlobals<Globals>();
  const { config, path: configPath } = await loadConfig(process.cwd(), global.config);
  const stateDir = ensureStateDir(deps.stateDirOf(global, config.state_dir));
  const prepared = await prepareHost(config, deps.assetsDir);
  const audit = openAuditLog({ stateDir });
  // Loaded on demand: the MCP SDK and Cedar are not needed by other commands.
  const { withStandaloneGateway } = await import('../runtime/run-gateway.js');
  try {
    await withStandaloneGateway(
      {
        config,
        configPath,
        profileName: options.profile,
        workspace: options.workspace ?? process.cwd(),
        agentName,
        command,
        sink: audit,
        stateDir,
        host: prepared.host,
        sandboxUser: prepared.sandboxUser,
        runtimeRoot: prepared.runtimeRoot,
        neverVisible: [stateDir, prepared.runtimeRoot],
        hostEnv: process.env,
      },
      use,
    );
  } finally {
    await audit.close();
  }
}

export function registerGatewayCommands(program: Command, deps: GatewayCommandDeps): void {
  program
    .command('gateway')
    .description("Serve the MCP gateway for a profile: every tool call decided by the profile's policy, every server in its own sandbox, every decision audited.")
    .option('-p, --profile <name>', 'profile whose mcp grants apply', 'default')
    .option('-w, --workspace <dir>', 'the workspace ${workspace} stands for (default: the current directory)')
    .option('--stdio', 'serve MCP over stdin/stdout (for Claude Desktop, VS Code, Cursor)')
    .option('--listen <host:port>', 'serve Streamable HTTP for remote agents (needs `warden token issue`; not available yet)')
    .option('--agent <name>', 'agent name recorded in the audit log', 'mcp-client')
    .action(async (options: { profile: string; workspace?: string; stdio?: boolean; listen?: string; agent: string }, cmd: Command) => {
      if (options.listen !== undefined) {
        throw new WardenError('USAGE', '--listen is not available yet: token-authenticated Streamable HTTP for remote agents is still being built', { hint: 'use --stdio, or run the agent under `warden run --profile P` (it gets the gateway at $WARDEN_MCP_URL)' });
      }
      if (options.stdio !== true) throw new WardenError('USAGE', 'say how to serve: --stdio', { hint: 'e.g. warden gateway --profile coding --stdio' });
      const { serveStdio } = await import('../gateway/index.js');
      await withGateway(cmd, options, options.agent, ['warden', 'gateway', '--stdio'], (gateway) => serveStdio(gateway, { input: process.stdin, output: process.stdout }), deps);
    });

  const tools = program.command('tools').description('Inspect the MCP tools a profile grants.');
  tools
    .command('ls')
    .description("Start the profile's servers (sandboxed), list every tool with whether it is granted and the policy that decided, then stop them.")
    .option('-p, --profile <name>', 'profile to inspect', 'default')
    .option('-w, --workspace <dir>', 'the workspace ${workspace} stands for (default: the current directory)')
    .option('--json', 'print JSON')
    .action(async (options: { profile: string; workspace?: string; json?: boolean }, cmd: Command) => {
      await withGateway(
        cmd,
        options,
        'warden-tools-ls',
        ['warden', 'tools', 'ls'],
        (gateway) => {
          const grants = gateway.describeTools();
          if (options.json === true) printJson(grants);
          else {
            const rows = grants.map((g) => [g.granted ? 'granted' : 'hidden', g.name, g.policyIds.join(',') || '-', g.granted ? '' : g.reason]);
            process.stdout.write(`${table([['', 'tool', 'policy', 'why not'], ...rows])}\n`);
          }
          return Promise.resolve();
        },
        deps,
      );
    });
}
