/**
 * `warden scan config FILE` and `warden scan server -- CMD`: the servers an MCP client's config
 * (or a warden.yaml, or one command) names are started — each in its own sandbox, as the gateway
 * would, with no network unless `--network-allow` says so — and everything they declare is
 * scanned (SCAN-01…04); package names are checked for typosquats of catalog and official names
 * (SCAN-06). Nothing is pinned, nothing is granted to an agent. Exit 1 on a high finding or a
 * likely typosquat, 2 for bad input.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { RESERVED_ENV } from '../core/config-defaults.js';
import { WardenError } from '../core/errors.js';
import type { Finding, ScanReport, Severity } from '../scan/index.js';
import type { ScanSource, ScannedServer } from '../runtime/scan-sources.js';
import { withConfiguredGateway, type GatewayCommandDeps } from './gateway-commands.js';
import { printJson } from './output.js';

interface Options {
  readonly json?: boolean;
  readonly networkAllow?: string[];
  readonly acceptMissingLimits?: boolean;
}

/** One server's result. */
interface ServerResult {
  readonly server: string;
  readonly command: string;
  readonly started: boolean;
  readonly error?: string;
  readonly typosquats: readonly string[];
  readonly definitions: readonly {
    kind: string;
    name: string;
    severity: Severity | null;
    findings: readonly Finding[];
  }[];
}

const RANK: Readonly<Record<Severity, number>> = { low: 1, medium: 2, high: 3 };

export function registerScanServerCommands(scan: Command, deps: GatewayCommandDeps): void {
  scan
    .command('config')
    .description(
      "Start the MCP servers of a client's config (Claude Desktop, Claude Code .mcp.json or ~/.claude.json, Cursor, VS Code mcp.json; detected) or of a warden.yaml, each in its own sandbox, and scan what they declare. Exit 1 on a high finding or a likely typosquat.",
    )
    .argument('<file>', 'the config file')
    .option('--json', 'print one JSON result per server')
    .option(
      '--network-allow <host>',
      'let the servers reach this host (e.g. registry.npmjs.org for npx); repeatable',
      collect,
    )
    .option('--accept-missing-limits', 'start the servers even when cgroup controllers are unavailable')
    .action(async (file: string, options: Options, cmd: Command) => {
      const path = resolve(file);
      const source = /\.ya?ml$/.test(path)
        ? await wardenYamlSource(path)
        : (await import('../runtime/scan-sources.js')).readClientConfig(path);
      await scanSource(source, options, cmd, deps, ['warden', 'scan', 'config', path]);
    });

  scan
    .command('server')
    .description(
      'Start one MCP server command in its own sandbox and scan what it declares, e.g. `warden scan server -- npx -y @scope/server`.',
    )
    .argument('<command...>', 'the server command and its arguments (after --)')
    .option('--json', 'print one JSON result')
    .option(
      '--network-allow <host>',
      'let the server reach this host (e.g. registry.npmjs.org for npx); repeatable',
      collect,
    )
    .option('--accept-missing-limits', 'start the server even when cgroup controllers are unavailable')
    .action(async (argv: string[], options: Options, cmd: Command) => {
      const { commandSource } = await import('../runtime/scan-sources.js');
      await scanSource(commandSource(argv), options, cmd, deps, ['warden', 'scan', 'server', ...argv]);
    });
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A warden.yaml's servers, as they are configured. */
async function wardenYamlSource(path: string): Promise<ScanSource> {
  const { loadConfig } = await import('../runtime/index.js');
  const { config } = await loadConfig(process.cwd(), path);
  return {
    format: 'warden',
    servers: Object.entries(config.servers).map(([name, s]) => ({
      source: name,
      name,
      ...(s.command === undefined ? {} : { command: s.command }),
      ...(s.url === undefined ? {} : { url: s.url }),
      args: s.args,
      env: s.env.set,
    })),
    skipped: [],
  };
}

async function scanSource(
  source: ScanSource,
  options: Options,
  cmd: Command,
  deps: GatewayCommandDeps,
  command: readonly string[],
): Promise<void> {
  if (source.servers.length === 0)
    throw new WardenError(
      'SCAN_INPUT',
      `no server could be started from it: ${source.skipped.map((s) => `${s.source} (${s.why})`).join('; ')}`,
      {
        hint: 'give each server a command (stdio) or a url',
      },
    );
  const { Scanner } = await import('../scan/index.js');
  const { findTyposquats, packageOfRunner, describeSquat } = await import('../registry/index.js');
  const { parseConfigText } = await import('../runtime/index.js');
  const config = await parseConfigText(
    JSON.stringify(scanConfig(source.servers, options.networkAllow ?? [])),
    'warden scan',
  );
  // The servers see no workspace; the gateway still needs one.
  const workspace = mkdtempSync(join(tmpdir(), 'warden-scan-'));
  const scanner = new Scanner();
  const results: ServerResult[] = [];
  try {
    await withConfiguredGateway(
      cmd,
      {
        config,
        configPath: null,
        workspace,
        profileName: 'scan',
        agentName: 'warden-scan',
        command,
        acceptMissingLimits: options.acceptMissingLimits === true,
        warn: () => undefined,
      },
      async (gateway) => {
        const offers = new Map(gateway.offers().map((o) => [o.server, o.definitions]));
        const failed = new Map(gateway.unavailable.map((u) => [u.server, `${u.reason} (fix: ${u.hint})`]));
        for (const server of source.servers) {
          const pkg = server.command === undefined ? null : packageOfRunner(server.command, server.args);
          const squats = pkg === null ? [] : findTyposquats(pkg.name, []);
          const offer = offers.get(server.name);
          const definitions: ServerResult['definitions'][number][] = [];
          if (offer !== undefined) {
            const add = (kind: string, name: string, report: ScanReport) =>
              definitions.push({ kind, name, severity: report.severity, findings: report.findings });
            if (offer.instructions !== undefined && offer.instructions !== '')
              add('instructions', 'instructions', scanner.scanInstructions(offer.instructions));
            for (const t of offer.tools) add('tool', t.name, scanner.scanTool(t));
            for (const p of offer.prompts) add('prompt', p.name, scanner.scanPrompt(p));
            for (const r of offer.resources) add('resource', r.uri, scanner.scanResource(r));
            for (const r of offer.resourceTemplates) add('resource template', r.uriTemplate, scanner.scanResource(r));
          }
          const error = failed.get(server.name);
          results.push({
            server: server.source,
            command: server.url ?? [server.command ?? '', ...server.args].join(' ').slice(0, 300),
            started: offer !== undefined,
            ...(error === undefined ? {} : { error }),
            typosquats: squats.length === 0 ? [] : [`${pkg?.name ?? ''} looks like ${describeSquat(squats)}`],
            definitions,
          });
        }
        return Promise.resolve();
      },
      deps,
    );
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
  for (const skipped of source.skipped)
    results.push({
      server: skipped.source,
      command: '',
      started: false,
      error: `not started: ${skipped.why}`,
      typosquats: [],
      definitions: [],
    });
  if (options.json === true) printJson(results);
  else process.stdout.write(results.map(describe).join('\n'));
  const high = results.some((r) => r.typosquats.length > 0 || r.definitions.some((d) => d.severity === 'high'));
  if (high) process.exitCode = 1;
}

/** A config that starts every server with everything granted and nothing pinned or hidden: the scan reports, it does not decide. */
function scanConfig(servers: readonly ScannedServer[], networkAllow: readonly string[]): Record<string, unknown> {
  const reserved = new Set<string>(RESERVED_ENV);
  return {
    version: 1,
    servers: Object.fromEntries(
      servers.map((s) => [
        s.name,
        s.url === undefined
          ? {
              command: s.command,
              args: s.args,
              env: { set: Object.fromEntries(Object.entries(s.env).filter(([k]) => !reserved.has(k))) },
              network: { allow: networkAllow },
              filesystem: { read_only: programDirs(s) },
              start_timeout: '3m',
            }
          : { url: s.url },
      ]),
    ),
    profiles: {
      scan: {
        mcp: {
          allow: servers.map((s) => ({ server: s.name, tools: ['*'], prompts: ['*'], resources: ['*'] })),
          scan: { definitions: { high: 'allow', medium: 'allow', low: 'allow' }, outputs: {}, pin: 'off' },
        },
      },
    },
  };
}

/**
 * What a local server needs to see to start: the directory of each absolute path among its
 * command and arguments, and the node_modules tree it lives in or imports from (Node's resolution).
 * Read-only; the guard of GW-13 still refuses what an agent could write.
 */
function programDirs(server: ScannedServer): string[] {
  const dirs = new Set<string>();
  for (const arg of [server.command ?? '', ...server.args]) {
    if (!isAbsolute(arg) || !existsSync(arg)) continue;
    const modules = arg.indexOf('/node_modules/');
    if (modules >= 0) {
      dirs.add(arg.slice(0, modules + '/node_modules'.length));
      continue;
    }
    dirs.add(dirname(arg));
    // A script outside node_modules imports from the nearest one up its tree (Node's resolution).
    for (let dir = dirname(arg), i = 0; dir !== '/' && i < 10; dir = dirname(dir), i++) {
      if (existsSync(join(dir, 'node_modules'))) {
        dirs.add(join(dir, 'node_modules'));
        break;
      }
    }
  }
  return [...dirs].filter((d) => d !== '/' && !['/usr', '/usr/bin', '/bin', '/usr/local/bin'].includes(d));
}

function describe(r: ServerResult): string {
  const flagged = r.definitions.filter((d) => d.findings.length > 0);
  const worst = r.definitions.reduce<Severity | null>(
    (w, d) => (d.severity !== null && (w === null || RANK[d.severity] > RANK[w]) ? d.severity : w),
    null,
  );
  const head = `${r.server}: ${r.started ? `${r.definitions.length} definitions scanned, ${worst === null ? 'clean' : `highest ${worst}`}` : (r.error ?? 'not started')}`;
  const lines = [head, ...r.typosquats.map((t) => `  LIKELY TYPOSQUAT: ${t}`)];
  for (const d of flagged) {
    lines.push(`  ${d.kind} ${d.name}: ${d.severity ?? ''}`);
    for (const f of d.findings)
      lines.push(
        `    ${f.severity.padEnd(6)} ${f.rule} at ${f.path}: ${JSON.stringify(f.span)}\n           ${f.explanation}`,
      );
  }
  return `${lines.join('\n')}\n`;
}
