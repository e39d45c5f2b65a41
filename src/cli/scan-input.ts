/**
 * The inputs of `warden scan tools|text`: read bounded, decoded strictly, split into items. Every
 * malformed line or item is a SCAN_INPUT error that names it (docs/errors.md).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { WardenError } from '../core/errors.js';

/** The largest input `warden scan` reads. */
export const MAX_SCAN_INPUT = 64 * 1024 * 1024;

/** One thing to scan: its position, its id and name when the input gives them, its line. */
export interface ScanItem<T> {
  readonly index: number;
  readonly id?: string;
  readonly name?: string;
  /** 1-based line in the input (JSON lines, plain text), when known. */
  readonly line?: number;
  readonly value: T;
}

const HINT_TOOLS =
  'give a JSON array of tool definitions, a tools/list result {"tools": [...]}, or JSON lines each holding a tool definition or a record with a "tool" field';
const HINT_TEXT = 'give JSON lines each with a string "text" field, or plain text';

/** Reads FILE ('-': standard input) as UTF-8, at most MAX_SCAN_INPUT bytes. */
export async function readScanInput(file: string): Promise<string> {
  const label = file === '-' ? 'standard input' : file;
  const tooLarge = (): WardenError =>
    new WardenError('SCAN_INPUT', `${label} is larger than 64 MiB`, { hint: 'split the input into smaller files' });
  const chunks: Buffer[] = [];
  let total = 0;
  if (file === '-') {
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_SCAN_INPUT) throw tooLarge();
      chunks.push(chunk);
    }
  } else {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (error) {
      throw new WardenError('SCAN_INPUT', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, {
        hint: 'check the path (use - for standard input)',
      });
    }
    try {
      if (!fstatSync(fd).isFile())
        throw new WardenError('SCAN_INPUT', `${file} is not a regular file`, {
          hint: 'name a file, or - for standard input',
        });
      const chunk = Buffer.alloc(1024 * 1024);
      for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk)) {
        total += read;
        if (total > MAX_SCAN_INPUT) throw tooLarge();
        chunks.push(Buffer.from(chunk.subarray(0, read)));
      }
    } finally {
      closeSync(fd);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)).replace(/^\ufeff/, '');
  } catch {
    throw new WardenError('SCAN_INPUT', `${label} is not UTF-8 text`, { hint: 'convert it to UTF-8' });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A tool definition, or a corpus-style record `{id, tool}`: the item, or an error naming `where`. */
function toolItem(value: unknown, index: number, where: string, line?: number): ScanItem<unknown> {
  const record = isRecord(value) && isRecord(value.tool) ? value : null;
  const tool = record !== null ? record.tool : value;
  if (!isRecord(tool))
    throw new WardenError(
      'SCAN_INPUT',
      `${where}: not a tool definition (a JSON object) nor a record with a "tool" object`,
      {
        hint: HINT_TOOLS,
      },
    );
  if (typeof tool.name !== 'string')
    throw new WardenError('SCAN_INPUT', `${where}: the tool has no string "name"`, { hint: HINT_TOOLS });
  const id = record !== null && typeof record.id === 'string' ? record.id : undefined;
  return {
    index,
    name: tool.name,
    value: tool,
    ...(id === undefined ? {} : { id }),
    ...(line === undefined ? {} : { line }),
  };
}

/** Non-empty lines with their 1-based numbers. */
function numberedLines(text: string): { line: number; text: string }[] {
  return text
    .split('\n')
    .map((t, i) => ({ line: i + 1, text: t.replace(/\r$/, '') }))
    .filter((l) => l.text.trim() !== '');
}

function parseLine(text: string, line: number, hint: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new WardenError('SCAN_INPUT', `line ${line}: not valid JSON (${(error as Error).message})`, { hint });
  }
}

/** The tools of a `warden scan tools` input (see HINT_TOOLS for the forms). */
export function parseToolsInput(text: string): ScanItem<unknown>[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new WardenError('SCAN_INPUT', 'the input is empty', { hint: HINT_TOOLS });
  let whole: unknown;
  let parsed = false;
  try {
    whole = JSON.parse(trimmed) as unknown;
    parsed = true;
  } catch {
    // Not one JSON document: JSON lines.
  }
  if (parsed) {
    if (Array.isArray(whole)) return whole.map((item, i) => toolItem(item, i, `item ${i}`));
    if (isRecord(whole) && Array.isArray(whole.tools))
      return whole.tools.map((item, i) => toolItem(item, i, `tools[${i}]`));
    return [toolItem(whole, 0, 'the input')];
  }
  return numberedLines(text).map((l, i) =>
    toolItem(parseLine(l.text, l.line, HINT_TOOLS), i, `line ${l.line}`, l.line),
  );
}

/** The texts of a `warden scan text` input: JSON lines with a `text` field, or plain text. */
export function parseTextInput(text: string): ScanItem<string>[] {
  const lines = numberedLines(text);
  if (lines.length === 0) throw new WardenError('SCAN_INPUT', 'the input is empty', { hint: HINT_TEXT });
  let first: unknown;
  try {
    first = JSON.parse(lines[0]?.text ?? '') as unknown;
  } catch {
    return [{ index: 0, line: 1, value: text }];
  }
  // A first line that is a JSON object makes the input JSON lines (and a record without text an error).
  if (!isRecord(first)) return [{ index: 0, line: 1, value: text }];
  return lines.map((l, i) => {
    const record = parseLine(l.text, l.line, HINT_TEXT);
    if (!isRecord(record) || typeof record.text !== 'string')
      throw new WardenError('SCAN_INPUT', `line ${l.line}: no string "text" field`, { hint: HINT_TEXT });
    const id = typeof record.id === 'string' ? record.id : undefined;
    return { index: i, line: l.line, value: record.text, ...(id === undefined ? {} : { id }) };
  });
}
