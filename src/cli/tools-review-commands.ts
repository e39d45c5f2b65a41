/**
 * `warden tools diff` and `warden tools approve`: a person reviews what the gateway hid because a
 * tool's, prompt's, resource's or resource template's definition changed since it was pinned,
 * appeared later, or carried scanner findings (SCAN-01…05), and approves it — which pins its
 * definition as reviewed.
 */
import { describeStartedBy, startedBy } from '../runtime/started-by.js';
import type { Command } from 'commander';
import { createTwoFilesPatch } from 'diff';
import { WardenError } from '../core/errors.js';
import type { DefinitionReview, Gateway } from '../gateway/index.js';
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
  kind?: string;
  acceptMissingLimits?: boolean;
}

/** `--kind`: which definitions a command looks at (a template is a resource). */
const KIND_CHOICES = ['tool', 'prompt', 'resource', 'all'] as const;

/** The kinds `--kind` selects; diff defaults to all, approve of SERVER/NAME to tool. */
function kindsOf(option: string | undefined, fallback: 'tool' | 'all'): readonly DefinitionReview['kind'][] {
  const kind = option ?? fallback;
  if (!(KIND_CHOICES as readonly string[]).includes(kind))
    throw new WardenError('USAGE', `--kind must be one of ${KIND_CHOICES.join(', ')}, not '${kind.slice(0, 40)}'`, {
      hint: 'a resource template is a resource (name it by its URI template)',
    });
  return kind === 'all' ? ['tool', 'prompt', 'resource'] : [kind as DefinitionReview['kind']];
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
      "Start the profile's servers (sandboxed) and show every tool, prompt, resource and resource template hidden for review: how a pinned definition changed, a new one's whole definition, the scanner's findings. Exit 1 when something awaits approval.",
    )
    .argument('[server]', 'only this server')
    .option('-p, --profile <name>', 'profile whose servers to start', 'default')
    .option('-w, --workspace <dir>', 'the workspace ${workspace} stands for (default: the current directory)')
    .option('--kind <kind>', `only this kind: ${KIND_CHOICES.join(', ')} (a template is a resource)`, 'all')
    .option('--json', 'print JSON')
    .option('--accept-missing-limits', acceptMissingLimits)
    .action(async (server: string | undefined, options: ReviewOptions, cmd: Command) => {
      const kinds = kindsOf(options.kind, 'all');
      await withGateway(cmd, options, 'warden-tools-diff', ['warden', 'tools', 'diff'], async (gateway) => {
        const offered = gateway.reviewDefinitions();
        const pending = offered
          .filter((r) => server === undefined || r.server === server)
          .filter((r) => kinds.includes(r.kind) && NEEDS_REVIEW.has(r.verdict?.state ?? ''));
        if (server !== undefined && !offered.some((r) => r.server === server)) throw unknownServer(server, gateway);
        if (options.json === true) printJson(pending.map(reviewDocument));
        else process.stdout.write(pending.length === 0 ? 'nothing awaits review\n' : pending.map(describe).join('\n'));
        if (pending.length > 0) process.exitCode = 1;
        return Promise.resolve();
      });
    });

  tools
    .command('approve')
    .description(
      "Approve definitions after review: pins each one's current definition as reviewed, so it is shown again (its scanner findings no longer hide it) until it changes. SERVER approves everything of the server that awaits review (of --kind's kinds; default all) and forgets pins of what it no longer offers; SERVER/NAME approves one tool, or with --kind one prompt (SERVER/PROMPT) or resource (SERVER/URI, a template by its URI template).",
    )
    .argument(
      '<targets...>',
      'SERVER or SERVER/NAME (the upstream tool or prompt name, the resource URI or URI template)',
    )
    .option('-p, --profile <name>', 'profile whose servers to start', 'default')
    .option('-w, --workspace <dir>', 'the workspace ${workspace} stands for (default: the current directory)')
    .option('--kind <kind>', `what SERVER/NAME names: ${KIND_CHOICES.join(', ')} (default tool; for SERVER alone, all)`)
    .option('--json', 'print JSON')
    .option('--accept-missing-limits', acceptMissingLimits)
    .action(async (targets: string[], options: ReviewOptions, cmd: Command) => {
      kindsOf(options.kind, 'all');
      await withGateway(
        cmd,
        options,
        'warden-tools-approve',
        ['warden', 'tools', 'approve', ...(options.kind === undefined ? [] : ['--kind', options.kind]), ...targets],
        async (gateway) => {
          const offered = gateway.reviewDefinitions();
          const chosen = new Map<string, DefinitionReview[]>();
          const whole = new Map<string, readonly DefinitionReview['kind'][]>();
          for (const target of targets) {
            const slash = target.indexOf('/');
            const server = slash < 0 ? target : target.slice(0, slash);
            const name = slash < 0 ? null : target.slice(slash + 1);
            const kinds = kindsOf(options.kind, name === null ? 'all' : 'tool');
            const ofServer = offered.filter((r) => r.server === server);
            if (ofServer.length === 0) throw unknownServer(server, gateway);
            const ofKinds = ofServer.filter((r) => kinds.includes(r.kind));
            const picked =
              name === null
                ? ofKinds.filter((r) => r.verdict === null || r.verdict.state !== 'shown')
                : ofKinds.filter((r) => r.name === name);
            if (name !== null && picked.length === 0)
              throw new WardenError(
                'USAGE',
                `server '${server}' offers no ${kinds.join(' or ')} '${name.slice(0, 100)}'`,
                {
                  hint: `${
                    ofKinds.length === 0
                      ? `it offers no ${kinds.join(' or ')}`
                      : `its ${kinds.join(' and ')}s: ${ofKinds
                          .map((r) => r.name)
                          .slice(0, 20)
                          .join(', ')}`
                  }${kinds.includes('tool') && options.kind === undefined ? '; a prompt or resource needs --kind prompt or --kind resource' : ''}`,
                },
              );
            chosen.set(server, [...(chosen.get(server) ?? []), ...picked]);
            if (name === null) whole.set(server, [...new Set([...(whole.get(server) ?? []), ...kinds])]);
          }
          const by = approver();
          const approved: DefinitionReview[] = [];
          for (const [server, reviews] of chosen) {
            const unique = [...new Map(reviews.map((r) => [`${r.kind}\u0000${r.name}`, r])).values()];
            const offeredKeys = new Set(
              offered.filter((r) => r.server === server).map((r) => `${r.kind}\u0000${r.name}`),
            );
            // SERVER alone: pins of what it no longer offers are forgotten (one that comes back is new).
            const drop = (whole.get(server) ?? []).flatMap((kind) =>
              gateway
                .pinnedNames(server, kind)
                .filter((name) => !offeredKeys.has(`${kind}\u0000${name}`))
                .map((name) => ({ kind, name })),
            );
            await gateway.approveDefinitions(server, unique, by, drop);
            approved.push(...unique);
          }
          if (options.json === true) printJson(approved.map(reviewDocument));
          else
            process.stdout.write(
              approved.length === 0
                ? 'nothing to approve: everything of those servers is shown\n'
                : approved
                    .map(
                      (r) =>
                        `approved ${label(r)} (${r.verdict?.state ?? 'new'}${r.verdict !== null && r.verdict.findings.length > 0 ? `, ${r.verdict.findings.length} finding(s) accepted` : ''})\n`,
                    )
                    .join(''),
            );
          return Promise.resolve();
        },
      );
    });
}

/** How one definition is named in output: SERVER/TOOL for a tool, "prompt SERVER/NAME" otherwise. */
function label(r: DefinitionReview): string {
  return r.kind === 'tool' ? `${r.server}/${r.name}` : `${r.kind} ${r.server}/${r.name}`;
}

/** Who approved, as the pin and the audit record say it. */
function approver(): string {
  return describeStartedBy(startedBy());
}

function unknownServer(server: string, gateway: Gateway): WardenError {
  const known = [...new Set(gateway.reviewDefinitions().map((r) => r.server))];
  return new WardenError('USAGE', `the profile starts no server '${server.slice(0, 64)}'`, {
    hint: `its servers: ${known.join(', ') || 'none'} (choose the profile with --profile)`,
  });
}

function reviewDocument(r: DefinitionReview): Record<string, unknown> {
  return {
    server: r.server,
    kind: r.kind,
    name: r.name,
    ...(r.kind === 'tool' ? { tool: r.name } : {}),
    state: r.verdict?.state ?? 'new',
    hash: r.verdict?.hash ?? null,
    pinned_hash: r.verdict?.pinnedHash ?? null,
    findings: r.verdict?.findings ?? [],
    definition: r.definition,
  };
}

function describe(r: DefinitionReview, index: number, all: readonly DefinitionReview[]): string {
  const verdict = r.verdict;
  const head = `${label(r)}: ${verdict?.state ?? 'new'}${verdict?.hidden === null || verdict?.hidden === undefined ? '' : ` — ${verdict.hidden}`}`;
  const findings = (verdict?.findings ?? []).map(
    (f) => `  ${f.severity.padEnd(6)} ${f.rule} at ${f.path}: ${JSON.stringify(f.span)}\n         ${f.explanation}`,
  );
  const now = `${JSON.stringify(r.definition, null, 2)}\n`;
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
