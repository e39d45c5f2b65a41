/**
 * `warden audit verify | ls | show`: check the chain, list runs, show one run's decisions in order.
 */
import type { Command } from 'commander';
import { EXIT, WardenError } from '../core/errors.js';
import { AuditQuery, describeEvent, verifyAuditLog } from '../audit/index.js';
import { printJson, table } from './output.js';

/** Adds the audit commands; `stateDirOf` resolves the state dir from the global options. */
export function registerAuditCommands(program: Command, stateDirOf: (cmd: Command) => Promise<string>): void {
  const audit = program.command('audit').description('Inspect and verify the tamper-evident audit log.');

  audit
    .command('verify')
    .description(
      'Check the hash chain and the signed head; exit 3 naming the first bad record if anything was edited, deleted, reordered or truncated.',
    )
    .option('--json', 'print the result as JSON')
    .action(async (options: { json?: boolean }, cmd: Command) => {
      const result = verifyAuditLog(await stateDirOf(cmd));
      if (options.json === true) printJson(result);
      else if (result.ok) {
        const tail = result.unanchored > 0 ? ` (${result.unanchored} newest record(s) after the signed head)` : '';
        process.stdout.write(
          `audit log ok: ${result.records} records, chain intact, head at #${result.head.seq}${tail}\n`,
        );
      } else {
        process.stdout.write(
          `audit log FAILED verification: ${result.problem}${result.firstBadSeq === null ? '' : ` at record #${result.firstBadSeq}`}\n  ${result.detail}\n`,
        );
      }
      process.exitCode = result.ok ? EXIT.ok : EXIT.integrity;
    });

  audit
    .command('ls')
    .description('List recent runs, newest first.')
    .option('-n, --limit <n>', 'how many runs (1-1000)', '20')
    .option('--since <time>', 'only runs started at or after this ISO-8601 time')
    .option('--json', 'print the runs as JSON')
    .action(async (options: { limit: string; since?: string; json?: boolean }, cmd: Command) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new WardenError('USAGE', `--limit '${options.limit}' must be a whole number from 1 to 1000`, {
          hint: 'e.g. --limit 50',
        });
      if (options.since !== undefined && Number.isNaN(Date.parse(options.since)))
        throw new WardenError('USAGE', `--since '${options.since}' is not a time`, {
          hint: 'e.g. --since 2026-11-24T00:00:00Z',
        });
      const runs = withQuery(await stateDirOf(cmd), (q) =>
        q.listRuns({ limit, ...(options.since === undefined ? {} : { since: options.since }) }),
      );
      if (options.json === true) {
        printJson(runs);
        return;
      }
      if (runs.length === 0) {
        process.stdout.write('no runs recorded yet\n');
        return;
      }
      const rows = runs.map((r) => [
        r.run_id,
        r.started.replace('T', ' ').slice(0, 19),
        r.agent,
        r.profile,
        r.reason ?? 'running?',
        r.exit_code === null ? '-' : String(r.exit_code),
        `${r.egress.allowed}/${r.egress.denied}`,
        r.command.join(' ').slice(0, 60),
      ]);
      process.stdout.write(
        `${table([['RUN', 'STARTED (UTC)', 'AGENT', 'PROFILE', 'END', 'EXIT', 'EGRESS +/-', 'COMMAND'], ...rows])}\n`,
      );
    });

  audit
    .command('show')
    .description('Show every event of one run, in order: the decision chain.')
    .argument('<run-id>', 'the run id (from `warden audit ls` or the run summary)')
    .option('--json', 'print the events as JSON')
    .action(async (runId: string, options: { json?: boolean }, cmd: Command) => {
      const events = withQuery(await stateDirOf(cmd), (q) => q.runEvents(runId));
      if (options.json === true) {
        printJson(events);
        return;
      }
      const rows = events.map((e) => [`#${e.seq}`, e.ts.slice(11, 23), e.type, describeEvent(e)]);
      process.stdout.write(`${runId} (agent ${events[0]?.agent.name ?? '?'})\n${table(rows)}\n`);
    });
}

function withQuery<T>(stateDir: string, use: (query: AuditQuery) => T): T {
  const query = new AuditQuery({ stateDir });
  query.open();
  try {
    return use(query);
  } finally {
    query.close();
  }
}
