/**
 * `warden client add | ls | rm`: connect an MCP client (Claude Desktop, Claude Code, Cursor,
 * VS Code) to warden's gateway by writing the client's own config file, list where warden is
 * configured, and take it out again. See docs/clients.md.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { WardenError } from '../core/errors.js';
import { loadConfig, notAProject, pickProfile, resolveGatewayWorkspace } from '../runtime/index.js';
import { globalOptionsOf, type GlobalOptions } from './global-options.js';
import { printJson, table } from './output.js';
import type { ClientChange } from '../runtime/clients/connect.js';

export interface ClientCommandDeps {
  readonly stateDirOf: (global: GlobalOptions, configStateDir: string | undefined) => string;
}

interface ChangeOptions {
  profile: string;
  workspace?: string;
  scope?: string;
  name?: string;
  dryRun?: boolean;
  json?: boolean;
}

const CLIENTS_HELP = 'claude-desktop, claude-code, cursor or vscode';

export function registerClientCommands(program: Command, deps: ClientCommandDeps): void {
  const client = program
    .command('client')
    .description("Connect MCP clients (Claude Desktop, Claude Code, Cursor, VS Code) to warden's gateway.");

  client
    .command('add')
    .description(
      "Add warden's gateway (`warden gateway --stdio`, absolute paths) to a client's MCP config; the previous file is backed up.",
    )
    .argument('<client>', CLIENTS_HELP)
    .option('-p, --profile <name>', 'profile whose mcp grants the client gets', 'default')
    .option(
      '-w, --workspace <dir>',
      'the project the gateway serves (default: the current directory, unless it is /, your home or a temporary directory)',
    )
    .option('--scope <scope>', "user (the client's own file, the default) or project (a file in the workspace)")
    .option('--name <name>', 'server name in the client (default: warden, or warden-PROFILE)')
    .option('--dry-run', 'print the change as a diff and write nothing')
    .option('--json', 'print what was done as JSON')
    .action(async (id: string, options: ChangeOptions, cmd: Command) => {
      const { clientFormat, defaultEntryName, planAdd, applyChange } = await import('../runtime/clients/connect.js');
      clientFormat(id, options.scope);
      const global = globalOptionsOf(cmd);
      const cwd = process.cwd();
      const workspace = resolveGatewayWorkspace({
        given: options.workspace,
        cwd,
        env: process.env,
        fix: `warden client add ${id} --workspace DIR`,
      });
      // The config: --config, else warden.yaml here, else warden.yaml in the workspace.
      let loaded = await loadConfig(cwd, global.config);
      if (loaded.path === null && global.config === undefined) loaded = await loadConfig(workspace);
      const profile = pickProfile(loaded.config, options.profile);
      if (loaded.path === null || profile.mcp.allow.length === 0)
        throw new WardenError(
          'USAGE',
          `profile '${options.profile}' grants no MCP server, so the client would get a gateway that refuses to start`,
          {
            hint:
              loaded.path === null
                ? 'no warden.yaml found here or in the workspace: pass --config FILE'
                : `grant servers under profiles.${options.profile}.mcp.allow in ${loaded.path} (docs/config.md)`,
          },
        );
      const explicitStateDir =
        global.stateDir !== undefined || (process.env.WARDEN_STATE_DIR ?? '') !== ''
          ? deps.stateDirOf(global, loaded.config.state_dir)
          : null;
      const change = planAdd({
        client: id,
        scope: options.scope,
        profile: options.profile,
        workspace,
        config: loaded.path,
        stateDir: explicitStateDir,
        name: options.name ?? defaultEntryName(options.profile),
        launcher: { command: process.execPath, script: resolve(process.argv[1] ?? 'warden') },
        env: process.env,
      });
      await report(change, options, applyChange);
    });

  client
    .command('rm')
    .description("Remove warden's entry (and nothing else) from a client's MCP config; the previous file is backed up.")
    .argument('<client>', CLIENTS_HELP)
    .option(
      '-p, --profile <name>',
      'the profile the entry was added for (names it: warden or warden-PROFILE)',
      'default',
    )
    .option('-w, --workspace <dir>', 'the project whose file to change (project scope; default: the current directory)')
    .option('--scope <scope>', 'user (default) or project')
    .option('--name <name>', 'server name in the client (default: warden, or warden-PROFILE)')
    .option('--dry-run', 'print the change as a diff and write nothing')
    .option('--json', 'print what was done as JSON')
    .action(async (id: string, options: ChangeOptions) => {
      const { clientFormat, defaultEntryName, planRemove, applyChange } = await import('../runtime/clients/connect.js');
      const { scope } = clientFormat(id, options.scope);
      const workspace =
        scope === 'project'
          ? resolveGatewayWorkspace({
              given: options.workspace,
              cwd: process.cwd(),
              env: process.env,
              fix: `warden client rm ${id} --scope project --workspace DIR`,
            })
          : '/';
      const change = planRemove({
        client: id,
        scope,
        workspace,
        name: options.name ?? defaultEntryName(options.profile),
        env: process.env,
      });
      await report(change, options, applyChange);
    });

  client
    .command('ls')
    .description(
      "List where warden is configured: every client's user file, and the project files of the workspace (with the profile and workspace each entry serves).",
    )
    .option(
      '-w, --workspace <dir>',
      'the project whose files to list too (default: the current directory, if it is a project)',
    )
    .option('--json', 'print JSON')
    .action(async (options: { workspace?: string; json?: boolean }) => {
      const { listClientEntries } = await import('../runtime/clients/connect.js');
      const cwd = resolve(process.cwd());
      const project =
        options.workspace !== undefined
          ? resolveGatewayWorkspace({
              given: options.workspace,
              cwd,
              env: process.env,
              fix: 'warden client ls --workspace DIR',
            })
          : notAProject(cwd, process.env) === null && cwd !== '/'
            ? cwd
            : null;
      const { entries, unreadable } = listClientEntries(process.env, project);
      if (options.json === true) {
        printJson({ entries, unreadable });
        return;
      }
      if (entries.length === 0)
        process.stdout.write('warden is not configured in any client (see `warden client add --help`)\n');
      else
        process.stdout.write(
          `${table([
            ['client', 'scope', 'name', 'profile', 'workspace', 'file'],
            ...entries.map((e) => [
              e.client,
              e.scope,
              e.name,
              e.entry.profile,
              e.entry.workspace ?? '(current directory)',
              e.file,
            ]),
          ])}\n`,
        );
      for (const u of unreadable) process.stderr.write(`warden: cannot read ${u.file}: ${u.problem}\n`);
    });
}

/** Prints (and unless --dry-run, writes) a planned change. */
async function report(
  change: ClientChange,
  options: ChangeOptions,
  apply: (change: ClientChange) => string | null,
): Promise<void> {
  const where = `${change.label} (${change.scope}): ${change.file}`;
  if (options.dryRun === true) {
    const { createTwoFilesPatch } = await import('diff');
    if (change.before !== change.after)
      process.stdout.write(
        createTwoFilesPatch(
          change.before === null ? '/dev/null' : change.file,
          change.file,
          change.before ?? '',
          change.after ?? '',
          undefined,
          undefined,
          { context: 3 },
        ).replace(/^=+\n/, ''),
      );
    process.stderr.write(
      `warden client: dry run, nothing written; would be ${change.action === 'unchanged' || change.action === 'absent' ? 'no change' : change.action}: '${change.name}' in ${where}\n`,
    );
    if (options.json === true) printJson(summary(change, null, true));
    return;
  }
  const backup = apply(change);
  if (options.json === true) {
    printJson(summary(change, backup, false));
    return;
  }
  const lines = [`warden client: ${describeAction(change)}: '${change.name}' in ${where}`];
  if (change.entry !== null && change.action !== 'removed' && change.action !== 'absent')
    lines.push(`  runs: ${[change.entry.command, ...change.entry.args].join(' ')}`);
  if (backup !== null) lines.push(`  previous file kept as ${backup}`);
  if (change.action !== 'unchanged' && change.action !== 'absent') lines.push(`  then: ${change.reload}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function describeAction(change: { action: string }): string {
  switch (change.action) {
    case 'unchanged':
      return 'already configured, nothing to change';
    case 'absent':
      return 'no such entry, nothing to remove';
    default:
      return change.action;
  }
}

function summary(change: ClientChange, backup: string | null, dryRun: boolean): Record<string, unknown> {
  return {
    client: change.client,
    scope: change.scope,
    file: change.file,
    name: change.name,
    action: change.action,
    dry_run: dryRun,
    backup,
    entry: change.entry,
  };
}
