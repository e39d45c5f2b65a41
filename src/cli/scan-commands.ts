/**
 * `warden scan tools FILE` and `warden scan text FILE`: the scanners (src/scan, docs/scanning.md)
 * on exported tool definitions and texts, without running an agent. Human-readable by default,
 * `--json` (one result per item, in input order) or `--sarif` (SARIF 2.1.0, for CI). Exit 1 when
 * any item has a high-severity finding, 0 otherwise, 2 for bad input (SCAN_INPUT).
 *
 * `scan` is a command group so that further sources (client configs, warden.yaml, a server
 * command) can be added beside `tools` and `text`.
 */
import { Option, type Command } from 'commander';
import { WardenError } from '../core/errors.js';
import { WARDEN_VERSION } from '../core/version.js';
import type { Finding, ScanReport, Severity } from '../scan/index.js';
import { printJson } from './output.js';
import { parseTextInput, parseToolsInput, readScanInput, type ScanItem } from './scan-input.js';

/** One item's result, as `--json` prints it. */
export interface ScanResult {
  readonly index: number;
  readonly id?: string;
  readonly name?: string;
  readonly severity: Severity | null;
  readonly findings: readonly Finding[];
}

interface ScanOptions {
  readonly json?: boolean;
  readonly sarif?: boolean;
  readonly kind?: string;
}

export function registerScanCommands(program: Command): void {
  const scan = program
    .command('scan')
    .description('Scan MCP tool definitions or texts for poisoning and injected instructions (runs no agent).');

  scan
    .command('tools')
    .description(
      'Scan tool definitions: a JSON array, a tools/list result {"tools": [...]}, or JSON lines (a tool, or a record with a "tool" field). Exit 1 on a high-severity finding.',
    )
    .argument('<file>', 'the file to read; - reads standard input')
    .option('--json', 'print one JSON result per tool, in input order')
    .option('--sarif', 'print SARIF 2.1.0 (for CI code-scanning)')
    .action(async (file: string, options: ScanOptions) => {
      const items = parseToolsInput(await readScanInput(file));
      const { Scanner } = await import('../scan/index.js');
      const scanner = new Scanner();
      finish(
        file,
        items.map((item) => ({ item, report: scanner.scanTool(item.value) })),
        options,
      );
    });

  scan
    .command('text')
    .description(
      'Scan texts (tool output, web pages, mails) for injected instructions: JSON lines with a "text" field, or plain text (one item). Exit 1 on a high-severity finding.',
    )
    .argument('<file>', 'the file to read; - reads standard input')
    .addOption(
      new Option('--kind <kind>', 'scan the text as returned content or as a definition field')
        .choices(['output', 'definition'])
        .default('output'),
    )
    .option('--json', 'print one JSON result per text, in input order')
    .option('--sarif', 'print SARIF 2.1.0 (for CI code-scanning)')
    .action(async (file: string, options: ScanOptions) => {
      const items = parseTextInput(await readScanInput(file));
      const { Scanner } = await import('../scan/index.js');
      const scanner = new Scanner();
      const kind = options.kind === 'definition' ? 'definition' : 'output';
      finish(
        file,
        items.map((item) => ({ item, report: scanner.scanText(item.value, kind) })),
        options,
      );
    });
}

interface Scanned {
  readonly item: ScanItem<unknown>;
  readonly report: ScanReport;
}

function finish(file: string, scanned: readonly Scanned[], options: ScanOptions): void {
  if (options.json === true && options.sarif === true)
    throw new WardenError('USAGE', '--json and --sarif cannot be combined', { hint: 'choose one output format' });
  const results: ScanResult[] = scanned.map(({ item, report }) => ({
    index: item.index,
    ...(item.id === undefined ? {} : { id: item.id }),
    ...(item.name === undefined ? {} : { name: item.name }),
    severity: report.severity,
    findings: report.findings,
  }));
  if (options.json === true) printJson(results);
  else if (options.sarif === true) printJson(sarifLog(file, scanned));
  else process.stdout.write(humanReport(results));
  process.exitCode = results.some((r) => r.severity === 'high') ? 1 : 0;
}

/** One block per item with findings, then a one-line tally. */
export function humanReport(results: readonly ScanResult[]): string {
  const lines: string[] = [];
  const tally = { high: 0, medium: 0, low: 0, clean: 0 };
  for (const result of results) {
    if (result.severity === null) {
      tally.clean++;
      continue;
    }
    tally[result.severity]++;
    const label = [result.name, result.id === undefined ? undefined : `(${result.id})`].filter(Boolean).join(' ');
    lines.push(`#${result.index}${label === '' ? '' : ` ${label}`}: ${result.severity.toUpperCase()}`);
    for (const f of result.findings) {
      lines.push(`  ${f.severity.padEnd(6)} ${f.rule}  at ${f.path}`);
      lines.push(`         "${f.span}"`);
      lines.push(`         ${f.explanation}`);
    }
  }
  lines.push(
    `${results.length} item(s): ${tally.high} high, ${tally.medium} medium, ${tally.low} low, ${tally.clean} clean`,
  );
  return `${lines.join('\n')}\n`;
}

const SARIF_LEVEL: Readonly<Record<Severity, string>> = { high: 'error', medium: 'warning', low: 'note' };

/** SARIF 2.1.0: one rule per rule id, one result per finding, located at the item's line or index. */
export function sarifLog(file: string, scanned: readonly Scanned[]): unknown {
  const rules: { id: string; shortDescription: { text: string }; defaultConfiguration: { level: string } }[] = [];
  const ruleIndex = new Map<string, number>();
  const results: unknown[] = [];
  const uri = file === '-' ? 'stdin' : file;
  for (const { item, report } of scanned) {
    for (const f of report.findings) {
      let index = ruleIndex.get(f.rule);
      if (index === undefined) {
        index = rules.length;
        ruleIndex.set(f.rule, index);
        rules.push({
          id: f.rule,
          shortDescription: { text: f.explanation },
          defaultConfiguration: { level: SARIF_LEVEL[f.severity] },
        });
      }
      const subject = item.name ?? item.id ?? `item ${item.index}`;
      results.push({
        ruleId: f.rule,
        ruleIndex: index,
        level: SARIF_LEVEL[f.severity],
        message: { text: `${subject}: ${f.explanation} (${f.path}: "${f.span}")` },
        locations: [
          {
            physicalLocation: {
              artifactLocation: { uri },
              ...(item.line === undefined ? {} : { region: { startLine: item.line } }),
            },
            logicalLocations: [{ name: f.path, fullyQualifiedName: `${subject}/${f.path}`, kind: 'member' }],
          },
        ],
        properties: {
          severity: f.severity,
          path: f.path,
          span: f.span,
          item: item.index,
          ...(item.id === undefined ? {} : { id: item.id }),
        },
      });
    }
  }
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'warden', version: WARDEN_VERSION, rules } },
        results,
      },
    ],
  };
}
