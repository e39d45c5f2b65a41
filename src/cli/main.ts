/**
 * The `warden` command line. Thin: it parses arguments, calls the library, prints, and maps
 * errors to exit codes (2 for usage and config errors; see docs/errors.md).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { EXIT, WardenError } from '../core/errors.js';
import { WARDEN_VERSION } from '../core/version.js';
import { mark } from '../core/timing.js';
import { defaultStateDir, ensureStateDir, openAuditLog } from '../audit/index.js';
import {
  catalogPath,
  formatSummary,
  loadConfig,
  pickProfile,
  prepareHost,
  recordRecoveredRuns,
  resolveRunPlan,
  runAgent,
  runDoctor,
  RunTerminal,
} from '../runtime/index.js';
import { runDemo } from '../demo/index.js';
import { registerAuditCommands } from './audit-commands.js';
import { checkGrantsAgainstServers, registerGatewayCommands } from './gateway-commands.js';
import { registerClientCommands } from './client-commands.js';
import { registerHomeCommands } from './home-commands.js';
import { registerScanCommands } from './scan-commands.js';
import { registerScanServerCommands } from './scan-servers-command.js';
import { registerCatalogCommands } from './catalog-commands.js';
import { registerSecretsCommands } from './secrets-commands.js';
import { acceptGlobalOptionsAnywhere, globalOptionsOf, type GlobalOptions } from './global-options.js';
import { registerLogsCommand } from './logs-command.js';
import { errorDocument, printJson, reportError, warnOnStderr } from './output.js';

/** Where the bundled sandbox assets live (dist/assets next to dist/warden.mjs). */
const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

/** Resolves the state dir: --state-dir, then $WARDEN_STATE_DIR, then the config's state_dir, then the default. */
export function resolveStateDir(global: GlobalOptions, configStateDir: string | undefined): string {
  // Resolved once, here: the state dir is handed to sandboxes as a path they must never see.
  if (global.stateDir !== undefined) return resolve(global.stateDir);
  if (process.env.WARDEN_STATE_DIR !== undefined && process.env.WARDEN_STATE_DIR !== '')
    return resolve(process.env.WARDEN_STATE_DIR);
  return configStateDir ?? defaultStateDir();
}

/**
 * The project's catalog, checked with the config (`warden config check`): valid, and holding every
 * entry a server's `catalog` field names. Null when there is none.
 */
async function checkCatalog(
  config: Awaited<ReturnType<typeof loadConfig>>['config'],
  configPath: string | null,
): Promise<{ path: string; entries: number } | null> {
  const file = catalogPath(config, configPath, process.cwd());
  const loaded = (await import('../registry/index.js')).readCatalog(file);
  for (const [name, server] of Object.entries(config.servers)) {
    if (server.catalog === undefined) continue;
    if (loaded === null || !Object.hasOwn(loaded.catalog.servers, server.catalog))
      throw new WardenError(
        'CONFIG_INVALID',
        `servers.${name}.catalog: ${loaded === null ? `there is no catalog at ${file}` : `${file} has no entry '${server.catalog}'`}`,
        { hint: 'pin the server with `warden catalog add` (see docs/config.md, "The catalog")' },
      );
  }
  return loaded === null ? null : { path: loaded.path, entries: Object.keys(loaded.catalog.servers).length };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Builds the program; exported so tests can drive it in-process. */
export function buildProgram(): Command {
  const program = new Command('warden')
    .description('Secure AI agents: disposable sandboxes, an egress allow-list proxy and a tamper-evident audit log.')
    .version(WARDEN_VERSION, '-V, --version')
    .option('-c, --config <file>', 'config file (default: ./warden.yaml if present, else built-in defaults)')
    .option(
      '--state-dir <dir>',
      'where the audit log lives (default: $WARDEN_STATE_DIR, /var/lib/warden as root, ~/.local/state/warden otherwise)',
    )
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('run')
    .description(
      'Run a command in a fresh disposable sandbox (no network except the egress proxy; every decision audited).',
    )
    .usage('[options] -- <command> [args...]')
    .argument('<command...>', 'the command and its arguments (put them after --)')
    .option('-p, --profile <name>', 'profile from the config', 'default')
    .option('-w, --workspace <dir>', 'directory bound read-write at the same path (default: the current directory)')
    .option('--no-workspace', 'bind no workspace (the command works only in its tmpfs)')
    .option(
      '--ro <path>',
      'also bind this file or directory read-only at its own path, for this run (repeatable; relative to the current directory)',
      collect,
    )
    .option(
      '--allow-domain <pattern>',
      'also allow this host through the egress proxy (repeatable), e.g. api.github.com, *.npmjs.org, host:8443',
      collect,
    )
    .option('--memory <size>', 'memory limit, e.g. 2GiB')
    .option('--pids <n>', 'process limit')
    .option('--cpu <cores>', 'CPU quota in cores, e.g. 1.5')
    .option(
      '--timeout <duration>',
      'wall-clock limit, e.g. 30m; the whole sandbox is killed when it expires (exit 124)',
    )
    .option(
      '-e, --env <name[=value]>',
      'pass a host variable (NAME) or set one (NAME=VALUE) inside (repeatable); nothing else from the host enters',
      collect,
    )
    .option('--agent <name>', 'agent name recorded in the audit log (default: the command name)')
    .option(
      '--accept-missing-limits',
      'run even when a limit cannot be held for the whole sandbox (no cgroup for it): with per-process rlimits, or without it; the summary says which limits hold (the default for an ordinary user)',
    )
    .addOption(new Option('--json [file]', 'print the run summary as JSON on stderr, or write it to FILE'))
    .option('-q, --quiet', 'print no summary')
    .passThroughOptions()
    .action(async (command: string[], options: Record<string, unknown>, cmd: Command) => {
      mark('cli-parsed');
      const global = globalOptionsOf(cmd);
      const cwd = process.cwd();
      const { config, path: configPath } = await loadConfig(cwd, global.config);
      mark('config');
      const plan = await resolveRunPlan(
        config,
        command,
        {
          profile: options.profile as string,
          workspace: options.workspace === false ? null : (options.workspace as string | undefined),
          allowDomains: options.allowDomain as string[] | undefined,
          memory: options.memory as string | undefined,
          pids: options.pids as string | undefined,
          cpu: options.cpu as string | undefined,
          timeout: options.timeout as string | undefined,
          env: options.env as string[] | undefined,
          agent: options.agent as string | undefined,
          acceptMissingLimits: options.acceptMissingLimits === true,
          readOnly: options.ro as string[] | undefined,
        },
        cwd,
        process.env,
      );
      mark('plan');
      const stateDir = ensureStateDir(resolveStateDir(global, config.state_dir));
      // The flag covers the run's MCP servers too: they follow the host's limits policy.
      const prepared = await prepareHost(config, ASSETS_DIR, process.env, {
        acceptMissingLimits: options.acceptMissingLimits === true,
      });
      mark('host');
      // Opened on the first record, which runAgent makes while the sandbox launcher starts.
      const audit = openAuditLog({ stateDir, deferOpen: true });
      // A pty of the sandbox's own when stdin and stdout are terminals; nothing of the host's the
      // command could reopen through /proc/self/fd (SBX-23). Restored before anything is printed.
      const terminal = RunTerminal.open({ ptySupported: prepared.host.lib.wardenInit !== null, env: process.env });
      try {
        await recordRecoveredRuns(audit, prepared.recovered);
        let summary;
        try {
          summary = await runAgent(plan, {
            sink: audit,
            host: prepared.host,
            sandboxUser: prepared.sandboxUser,
            runtimeRoot: prepared.runtimeRoot,
            neverVisible: [stateDir, prepared.runtimeRoot],
            stateDir,
            stdio: terminal.stdio,
            forwardSignals: true,
            onStarted: (run) => terminal.attach(run),
            mcp: { config, configPath, stateDir, hostEnv: process.env, warn: warnOnStderr },
          });
        } finally {
          terminal.close();
        }
        if (options.json === true) process.stderr.write(`${JSON.stringify(summary)}\n`);
        else if (typeof options.json === 'string')
          writeFileSync(options.json, `${JSON.stringify(summary, null, 2)}\n`, { mode: 0o644 });
        if (options.json !== true && options.quiet !== true) process.stderr.write(`${formatSummary(summary)}\n`);
        process.exitCode = summary.exit_code;
      } finally {
        await audit.close();
        mark('audit-closed');
      }
    });

  program
    .command('demo')
    .description(
      'A self-contained demonstration: a scripted agent does ordinary work and tries what an injected agent would; see what was allowed and what was blocked.',
    )
    .option('--json', 'print the demo report as JSON')
    .action(async (options: { json?: boolean }, cmd: Command) => {
      const global = globalOptionsOf(cmd);
      const { config } = await loadConfig(process.cwd(), global.config);
      const stateDir = ensureStateDir(resolveStateDir(global, config.state_dir));
      const prepared = await prepareHost(config, ASSETS_DIR);
      const report = await runDemo({ prepared, stateDir, out: options.json === true ? null : process.stdout });
      if (options.json === true) printJson(report);
      process.exitCode = report.ok ? EXIT.ok : 1;
    });

  program
    .command('doctor')
    .description('Check that this host can run sandboxes, and say how to fix what is missing (exit 1 if anything is).')
    .option('--json', 'print the checks as JSON')
    .action(async (options: { json?: boolean }, cmd: Command) => {
      const global = globalOptionsOf(cmd);
      const { config } = await loadConfig(process.cwd(), global.config);
      const checks = runDoctor(config, resolveStateDir(global, config.state_dir), process.env, ASSETS_DIR);
      if (options.json === true) {
        printJson({ ok: checks.every((c) => c.ok), checks });
      } else {
        for (const check of checks) {
          const mark = !check.ok ? 'FAIL' : check.warning === true ? 'WARN' : ' ok ';
          process.stdout.write(`[${mark}] ${check.name}: ${check.detail}\n`);
          if ((!check.ok || check.warning === true) && check.fix !== undefined)
            process.stdout.write(`       fix: ${check.fix}\n`);
        }
      }
      process.exitCode = checks.every((c) => c.ok) ? EXIT.ok : 1;
    });

  const configCommand = program.command('config').description('Inspect and validate warden.yaml.');
  configCommand
    .command('check')
    .description('Validate the config file (exit 2 with the path, line and fix when it is wrong).')
    .option('--json', 'print the parsed config as JSON')
    .option(
      '--servers',
      "also start each profile's MCP servers (sandboxed) and warn about grants that name tools a server does not have",
    )
    .option('-p, --profile <name>', 'with --servers: only this profile')
    .option('-w, --workspace <dir>', 'with --servers: the workspace ${workspace} stands for')
    .action(
      async (options: { json?: boolean; servers?: boolean; profile?: string; workspace?: string }, cmd: Command) => {
        const global = globalOptionsOf(cmd);
        const { config, path } = await loadConfig(process.cwd(), global.config);
        const names = ['default', ...Object.keys(config.profiles).filter((p) => p !== 'default')];
        if (options.profile !== undefined) pickProfile(config, options.profile);
        const catalog = await checkCatalog(config, path);
        // Which tools a server has is known only once it runs: grants are checked with --servers.
        const granting = names.filter(
          (p) =>
            (options.profile === undefined || p === options.profile) && (config.profiles[p]?.mcp.allow.length ?? 0) > 0,
        );
        const warnings: string[] = [];
        if (options.servers === true)
          for (const profile of granting)
            warnings.push(
              ...(await checkGrantsAgainstServers(
                cmd,
                { profile, ...(options.workspace === undefined ? {} : { workspace: options.workspace }) },
                { assetsDir: ASSETS_DIR, stateDirOf: resolveStateDir },
              )),
            );
        for (const warning of warnings) process.stderr.write(`warden: warning: ${warning}\n`);
        if (options.json === true) printJson({ path, config, ...(options.servers === true ? { warnings } : {}) });
        else {
          process.stdout.write(
            `${path ?? 'built-in config (no warden.yaml found)'}: ok; profiles: ${names.join(', ')}\n`,
          );
          if (catalog !== null) process.stdout.write(`${catalog.path}: ok; ${catalog.entries} pinned server(s)\n`);
          if (options.servers === true)
            process.stdout.write(
              `servers checked for ${granting.join(', ') || 'no profile'}: ${warnings.length === 0 ? 'every granted tool exists' : `${warnings.length} grant name(s) match no tool (above)`}\n`,
            );
          else if (granting.length > 0)
            process.stdout.write(
              'note: tool names in mcp grants are checked against the servers by `warden config check --servers` (starts them) or `warden tools ls --profile P`\n',
            );
        }
      },
    );
  configCommand
    .command('schema')
    .description('Print the JSON Schema of warden.yaml (for editors).')
    .action(async () => printJson((await import('../core/config.js')).configJsonSchema()));

  registerGatewayCommands(program, { assetsDir: ASSETS_DIR, stateDirOf: resolveStateDir });
  const stateDirOf = async (cmd: Command): Promise<string> => {
    const global = globalOptionsOf(cmd);
    const { config } = await loadConfig(process.cwd(), global.config);
    return resolveStateDir(global, config.state_dir);
  };
  registerAuditCommands(program, stateDirOf);
  registerLogsCommand(program, stateDirOf);
  registerClientCommands(program, { stateDirOf: resolveStateDir });
  registerHomeCommands(program, { stateDirOf: resolveStateDir });
  registerScanCommands(program);
  const scan = program.commands.find((c) => c.name() === 'scan');
  if (scan !== undefined) registerScanServerCommands(scan, { assetsDir: ASSETS_DIR, stateDirOf: resolveStateDir });
  registerCatalogCommands(program, { stateDirOf: resolveStateDir });
  registerSecretsCommands(program, { stateDirOf: resolveStateDir });
  // Last: it reaches every command registered above.
  acceptGlobalOptionsAnywhere(program);

  return program;
}

/** Runs the CLI with `argv` (as process.argv) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  // Only warden's own arguments count: `--json` after `--` belongs to the sandboxed command.
  // `--json FILE` sends the error document to FILE (where a script looks for the summary) and
  // keeps stderr human; bare `--json` makes stderr JSON.
  const separator = argv.indexOf('--');
  const own = separator < 0 ? argv : argv.slice(0, separator);
  const jsonAt = own.indexOf('--json');
  let jsonFile =
    jsonAt >= 0 && own[jsonAt + 1] !== undefined && !own[jsonAt + 1]?.startsWith('-') && own.includes('run')
      ? own[jsonAt + 1]
      : undefined;
  // Without `--`, `warden run --json make test` cannot tell a FILE from the command's first
  // word; refuse rather than write a file named `make` and run `test`.
  const ambiguousJson = jsonFile !== undefined && separator < 0;
  if (ambiguousJson) jsonFile = undefined;
  const wantsJson = jsonAt >= 0 && jsonFile === undefined;
  try {
    if (ambiguousJson) {
      throw new WardenError(
        'USAGE',
        `'--json ${own[jsonAt + 1] ?? ''}' is ambiguous without '--': is '${own[jsonAt + 1] ?? ''}' the summary file or the command?`,
        {
          hint: `write 'warden run --json -- CMD' (summary on stderr) or 'warden run --json FILE -- CMD'`,
        },
      );
    }
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return EXIT.ok;
      return EXIT.usage;
    }
    if (jsonFile !== undefined) writeErrorDocument(jsonFile, error);
    return reportError(error, wantsJson);
  }
}

function writeErrorDocument(path: string, error: unknown): void {
  try {
    writeFileSync(path, `${JSON.stringify(errorDocument(error), null, 2)}\n`, { mode: 0o644 });
  } catch {
    // the human message on stderr still says what went wrong
  }
}
