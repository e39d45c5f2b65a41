/**
 * `warden logs SERVER`: what an MCP server said on stderr, and how it started and ended, from the
 * audit log (the one store; each server process's newest stderr is recorded when it fails, is
 * restarted or is stopped).
 */
import type { Command } from 'commander';
import type { AuditRecord } from '../core/events.js';
import { AuditQuery } from '../audit/index.js';
import { printJson } from './output.js';

/** Adds `warden logs`; `stateDirOf` resolves the state dir from the global options. */
export function registerLogsCommand(program: Command, stateDirOf: (cmd: Command) => Promise<string>): void {
  program
    .command('logs')
    .description(
      "Show an MCP server's stderr and its starts, failures and stops, from the newest run (or gateway) that started it. Recorded when the server fails, is restarted or is stopped.",
    )
    .argument('<server>', 'the server name (servers.<name> in warden.yaml)')
    .option('--run <run-id>', 'that run or gateway instead of the newest (from `warden audit ls`)')
    .option('--json', 'print the mcp.server events as JSON')
    .action(async (server: string, options: { run?: string; json?: boolean }, cmd: Command) => {
      const query = new AuditQuery({ stateDir: await stateDirOf(cmd) });
      query.open();
      let found;
      try {
        found = query.serverEvents(server, options.run);
      } finally {
        query.close();
      }
      if (options.json === true) {
        printJson(found ?? { run_id: options.run ?? null, events: [] });
        return;
      }
      if (found === null) {
        process.stdout.write(
          `no record of server ${server}${options.run === undefined ? '' : ` in ${options.run}`}: it has not been started, or its gateway is still running (its stderr is recorded when it fails, restarts or stops)\n`,
        );
        return;
      }
      process.stdout.write(`server ${server}, ${found.run_id}\n`);
      for (const event of found.events) process.stdout.write(formatServerEvent(event));
    });
}

function formatServerEvent(event: AuditRecord): string {
  if (event.type !== 'mcp.server') return '';
  const data = event.data;
  const head = `${event.ts.replace('T', ' ').slice(0, 23)}  ${data.state}: ${data.detail}\n`;
  const hint = data.hint === undefined ? '' : `  fix: ${data.hint}\n`;
  const stderr =
    data.stderr === undefined || data.stderr === ''
      ? ''
      : `${data.stderr
          .replace(/\n$/, '')
          .split('\n')
          .map((line) => `  | ${line}`)
          .join('\n')}\n`;
  return `${head}${hint}${stderr}`;
}
