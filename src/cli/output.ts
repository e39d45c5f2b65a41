/**
 * How the CLI prints: results to stdout, diagnostics to stderr, errors with their stable code and
 * the fix. Errors never include secrets (WardenError messages are written to be shown).
 */
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
    return ERROR_CODES[error.code].exit;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`warden: internal error: ${message}\n  (INTERNAL; please report it)\n`);
  return EXIT.wardenFailed;
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
