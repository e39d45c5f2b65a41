/**
 * How the CLI prints: results to stdout, diagnostics to stderr, errors with their stable code and
 * the fix. Errors never include secrets (WardenError messages are written to be shown).
 */
import { inspect } from 'node:util';
import { ERROR_CODES, EXIT, isWardenError } from '../core/errors.js';

/** The JSON form of an error, as `--json` prints it. */
export function errorDocument(error: unknown): { error: { code: string; message: string; hint: string | null } } {
  if (isWardenError(error)) return { error: { code: error.code, message: error.message, hint: error.hint ?? null } };
  return { error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error), hint: null } };
}

/** Prints an error and returns the exit code to use. */
export function reportError(error: unknown, json: boolean): number {
  if (json) {
    process.stderr.write(`${JSON.stringify(errorDocument(error))}\n`);
    return isWardenError(error) ? ERROR_CODES[error.code].exit : EXIT.wardenFailed;
  }
  if (isWardenError(error)) {
    process.stderr.write(`warden: ${error.message}\n`);
    if (error.hint !== undefined) process.stderr.write(`  fix: ${error.hint}\n`);
    process.stderr.write(`  (${error.code}; see docs/errors.md)\n`);
    writeDebug(error);
    return ERROR_CODES[error.code].exit;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`warden: internal error: ${firstLine(message)}\n  (INTERNAL; please report it)\n`);
  writeDebug(error);
  return EXIT.wardenFailed;
}

/**
 * The last resort for an error nothing handled (a bug): one short line, code INTERNAL, exit 125.
 * The stack and causes only with WARDEN_DEBUG=1 (they name warden's minified bundle otherwise).
 */
export function reportUncaught(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  const code = isWardenError(error) ? error.code : 'INTERNAL';
  try {
    process.stderr.write(
      `warden: internal error: ${firstLine(message)}\n  (${code}; please report it; WARDEN_DEBUG=1 shows where it happened)\n`,
    );
    writeDebug(error);
  } finally {
    process.exit(EXIT.wardenFailed);
  }
}

/** With WARDEN_DEBUG=1: the stack of an error and of each cause (source-mapped with --enable-source-maps). */
function writeDebug(error: unknown): void {
  if (process.env.WARDEN_DEBUG !== '1') return;
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    const text = current instanceof Error ? (current.stack ?? current.message) : inspect(current);
    process.stderr.write(`${depth === 0 ? '' : 'caused by: '}${text}\n`);
    current = current instanceof Error ? current.cause : undefined;
  }
}

/** A message's first line, at most 500 characters (an error must not flood the terminal). */
function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? '';
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}

/** Writes a JSON document to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Lays out rows as aligned columns (for `audit ls`). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '))
    .join('\n');
}

/** Prints a warning on stderr, where it does not mix with a command's output (e.g. MCP over stdout). */
export function warnOnStderr(message: string): void {
  process.stderr.write(`warden: warning: ${message}\n`);
}
