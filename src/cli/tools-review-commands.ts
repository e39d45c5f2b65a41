/**
 * `warden tools diff` and `warden tools approve`: a person reviews what the gateway hid because a
 * tool's definition changed since it was pinned, appeared later, or carried scanner findings
 * (SCAN-01…05), and approves it — which pins its definition as reviewed.
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { createTwoFilesPatch } from 'diff';
import { WardenError } from '../core/errors.js';
import type { Gateway, ToolReview } from '../gateway/index.js';
import { printJson } from './output.js';

/** Starts the profile's servers in a standalone gateway, runs `use`, stops them (gateway-commands.ts). */
export type WithGateway = (
  cmd: Command,
  options: { profile: string; workspace?: string; acceptMissingLimits?: boolean },
  agentName: string,
  command: readonly string[],
  use: (gateway: Gateway) => Promise<void>,
) => Promise<void>;

interface ReviewOptions {
  profile: string;
  workspace?: string;
  json?: boolean;
  acceptMissingLimits?: boolean;
}

/** States a person has to look at: hidden by a pin or by findings, or shown with findings. */
const NEEDS_REVIEW = new Set(['changed', 'new', 'quarantined']);

export function registerToolReviewCommands(
  tools: Command,
  withGateway: WithGateway,
  acceptMissingLimits: string,
): void {
  tools
    .command('diff')
    .description(
      "Start the profile's servers (sandboxed) and show every tool hidden for review: how a pinned tool's definition changed, a new tool's whole definition, the scanner's findings. Exit 1 when something awaits approval.",
    )
    .argument('[server]', 'only this server')
    .option('-p, --profile <name>', 'profile whose servers to start', 'default')
    .option('-w, --workspace <dir>', 'the workspace ${workspace} stands for (default: the current directory)')
    .option('--json', 'print JSON')
    .option('--accept-missing-limits', acceptMissingLimits)
    .action(async (server: string | undefined, options: ReviewOptions, cmd: Command) => {
      await withGateway(cmd, options, 'warden-tools-diff', ['warden', 'tools', 'diff'], async (gateway) => {
        const pending = gateway
          .reviewTools()
          .filter((r) => server === undefined || r.server === server)
          .filter((r) => NEEDS_REVIEW.has(r.verdict?.state ?? ''));
        if (server !== undefined && !gateway.reviewTools().some((r) => r.server === server))
          throw unknownServer(server, gateway);
        if (options.json === true) printJson(pending.map(reviewDocument));
        else process.stdout.write(pending.length === 0 ? 'nothing awaits review\n' : pending.map(describe).join('\n'));
        if (pending.length > 0) process.exitCode = 1;
        return Promise.resolve();
      });
    });

  tools
    .command('approve')
    .description(
      "Approve tools after review: pins each one's current definition as reviewed, so it is shown again (its scanner findings no longer hide it) until it changes. SERVER approves every tool of the server that awaits review and forgets pins of tools it no longer offers; SERVER/TOOL approves one.",
    )
    .argument('<targets...>', 'SERVER or SERVER/TOOL (upstream tool name)')
    .option('-p, --profile <name>', 'profile whose servers to start', 'default')
    .option('-w, --workspace <dir>', 'the workspace ${workspace} stands for (default: the current directory)')
    .option('--json', 'print JSON')
    .option('--accept-missing-limits', acceptMissingLimits)
    .action(async (targets: string[], options: ReviewOptions, cmd: Command) => {
      await withGateway(
        cmd,
        options,
        'warden-tools-approve',
        ['warden', 'tools', 'approve', ...targets],
        async (gateway) => {
          const offered = gateway.reviewTools();
          const chosen = new Map<string, ToolReview[]>();
          const drops = new Map<string, string[]>();
          for (const target of targets) {
            const slash = target.indexOf('/');
            const server = slash < 0 ? target : target.slice(0, slash);
            const name = slash < 0 ? null : target.slice(slash + 1);
            const ofServer = offered.filter((r) => r.server === server);
            if (ofServer.length === 0) throw unknownServer(server, gateway);
            const picked =
              name === null
                ? ofServer.filter((r) => r.verdict === null || r.verdict.state !== 'shown')
                : ofServer.filter((r) => r.tool.name === name);
            if (name !== null && picked.length === 0)
              throw new WardenError('USAGE', `server '${server}' offers no tool '${name.slice(0, 100)}'`, {
                hint: `its tools: ${ofServer
                  .map((r) => r.tool.name)
                  .slice(0, 20)
                  .join(', ')}`,
              });
            chosen.set(server, [...(chosen.get(server) ?? []), ...picked]);
            if (name === null) drops.set(server, []);
          }
          const by = approver();
          const approved: ToolReview[] = [];
          for (const [server, reviews] of chosen) {
            const unique = [...new Map(reviews.map((r) => [r.tool.name, r])).values()];
            const offeredNames = new Set(offered.filter((r) => r.server === server).map((r) => r.tool.name));
            // SERVER alone: pins of tools it no longer offers are forgotten (a tool that comes back is new).
            const drop = drops.has(server) ? gateway.pinnedToolNames(server).filter((n) => !offeredNames.has(n)) : [];
            await gateway.approveTools(
              server,
              unique.map((r) => r.tool),
              by,
              drop,
            );
            approved.push(...unique);
          }
          if (options.json === true) printJson(approved.map(reviewDocument));
          else
            process.stdout.write(
              approved.length === 0
                ? 'nothing to approve: every tool of those servers is shown\n'
                : approved
                    .map(
                      (r) =>
                        `approved ${r.server}/${r.tool.name} (${r.verdict?.state ?? 'new'}${r.verdict !== null && r.verdict.findings.length > 0 ? `, ${r.verdict.findings.length} finding(s) accepted` : ''})\n`,
                    )
                    .join(''),
            );
          return Promise.resolve();
        },
      );
    });
}

/** Who approved, as the pin and the audit record say it. */
function approver(): string {
  const sudo = process.env.SUDO_USER;
  const login = userInfo().username;
  return sudo !== undefined && sudo !== '' && sudo !== login ? `${login} (sudo by ${sudo})` : login;
}

function unknownServer(server: string, gateway: Gateway): WardenError {
  const known = [...new Set(gateway.reviewTools().map((r) => r.server))];
  return new WardenError('USAGE', `the profile starts no server '${server.slice(0, 64)}'`, {
    hint: `its servers: ${known.join(', ') || 'none'} (choose the profile with --profile)`,
  });
}

function reviewDocument(r: ToolReview): Record<string, unknown> {
  return {
    server: r.server,
    tool: r.tool.name,
    state: r.verdict?.state ?? 'new',
    hash: r.verdict?.hash ?? null,
    pinned_hash: r.verdict?.pinnedHash ?? null,
    findings: r.verdict?.findings ?? [],
    definition: r.tool,
  };
}

function describe(r: ToolReview, index: number, all: readonly ToolReview[]): string {
  const verdict = r.verdict;
  const head = `${r.server}/${r.tool.name}: ${verdict?.state ?? 'new'}${verdict?.hidden === null || verdict?.hidden === undefined ? '' : ` — ${verdict.hidden}`}`;
  const findings = (verdict?.findings ?? []).map(
    (f) => `  ${f.severity.padEnd(6)} ${f.rule} at ${f.path}: ${JSON.stringify(f.span)}\n         ${f.explanation}`,
  );
  const now = `${JSON.stringify(r.tool, null, 2)}\n`;
  const pinned = verdict?.state === 'changed' ? verdict.pinnedDefinition : undefined;
  const body =
    pinned === undefined
      ? now
      : createTwoFilesPatch('pinned', 'now', `${JSON.stringify(pinned, null, 2)}\n`, now, '', '', { context: 3 })
          .split('\n')
          .slice(2)
          .join('\n');
  return `${head}\n${findings.join('\n')}${findings.length > 0 ? '\n' : ''}${body}${index < all.length - 1 ? '\n' : ''}`;
}
