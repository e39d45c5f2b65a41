/**
 * Reading and writing the catalog file. Bounded (1 MiB), strict YAML (JSON is YAML; duplicate
 * keys are errors), validated by the zod schema, frozen. Errors name the file, the line, the path
 * inside the file and the fix (CATALOG_INVALID). Writing keeps the file's comments and order: the
 * catalog is reviewed in pull requests, so `warden catalog add` changes only the entry it adds.
 */
import { closeSync, constants, fstatSync, openSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isMap, LineCounter, parseDocument, YAMLMap, type Document } from 'yaml';
import type { z } from 'zod';
import { WardenError } from '../core/errors.js';
import { catalogSchema, type Catalog, type CatalogEntry } from './catalog-schema.js';

export const CATALOG_FILE_NAME = 'warden.catalog.yaml';
export const MAX_CATALOG_BYTES = 1024 * 1024;

/** A catalog as read: its entries and the file they came from. */
export interface LoadedCatalog {
  readonly path: string;
  readonly catalog: Catalog;
}

/** Reads and validates the catalog at `path`; null when there is no file there. */
export function readCatalog(path: string): LoadedCatalog | null {
  const text = readBounded(path);
  if (text === null) return null;
  return { path, catalog: parseCatalogText(text, path) };
}

/** Parses and validates catalog text; `source` names the file in errors. */
export function parseCatalogText(text: string, source: string): Catalog {
  const { doc, lineCounter } = parseYaml(text, source);
  let data: unknown;
  try {
    // No anchors and aliases: a catalog is reviewed line by line, and what a line says must be all it says.
    data = doc.toJS({ maxAliasCount: 0 });
  } catch (error) {
    throw new WardenError('CATALOG_INVALID', `${source}: ${(error as Error).message}`, {
      hint: 'write each value out (YAML anchors and aliases are not allowed in a catalog)',
    });
  }
  if (data === null || data === undefined)
    throw new WardenError('CATALOG_INVALID', `${source}: the file is empty`, {
      hint: 'start with `version: 1`, or add an entry with `warden catalog add`',
    });
  const result = catalogSchema.safeParse(data);
  if (!result.success) {
    const lines = result.error.issues.slice(0, 10).map((issue) => describe(issue, doc, lineCounter, source));
    const more = result.error.issues.length > 10 ? `\n  … and ${result.error.issues.length - 10} more` : '';
    throw new WardenError('CATALOG_INVALID', `invalid catalog:\n  ${lines.join('\n  ')}${more}`, {
      hint: 'see "The catalog" in docs/config.md for every field; `warden catalog add` writes entries for you',
    });
  }
  return Object.freeze(result.data);
}

/**
 * Adds (or replaces) the entry `name` in the catalog at `path`, creating the file when missing,
 * and returns the catalog as written. Everything else in the file stays as it was.
 */
export function writeCatalogEntry(path: string, name: string, entry: CatalogEntry | null): Catalog {
  const text = readBounded(path);
  const { doc } = text === null ? { doc: parseDocument('version: 1\n') } : parseYaml(text, path);
  if (entry === null) doc.deleteIn(['servers', name]);
  else {
    // Block style: one line per field, so a review shows exactly what changed.
    const servers = doc.get('servers', true);
    if (servers === undefined || (isMap(servers) && servers.items.length === 0)) doc.set('servers', new YAMLMap());
    for (const node of [doc.get('servers', true)]) if (isMap(node)) node.flow = false;
    doc.setIn(['servers', name], doc.createNode(entry));
  }
  const out = doc.toString({ lineWidth: 0 });
  // Validated before it replaces the file: never write a catalog warden would refuse to read.
  const catalog = parseCatalogText(out, path);
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(temp, out, { mode: 0o644 });
  renameSync(temp, path);
  return catalog;
}

function parseYaml(text: string, source: string): { doc: Document; lineCounter: LineCounter } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, strict: true, prettyErrors: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const where = first.linePos?.[0] ? `${source}:${first.linePos[0].line}:${first.linePos[0].col}` : source;
    const message = (first.message.split('\n')[0] ?? 'invalid YAML').replace(/ at line \d+, column \d+:?$/, '');
    throw new WardenError('CATALOG_INVALID', `${where}: ${message}`, {
      hint: 'fix the YAML (or JSON) syntax at that position (duplicate keys are not allowed)',
    });
  }
  return { doc, lineCounter };
}

function describe(issue: z.core.$ZodIssue, doc: Document, lineCounter: LineCounter, source: string): string {
  const path =
    issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .replace(/^\./, '') || '(top level)';
  let where = source;
  for (let depth = issue.path.length; depth >= 0; depth--) {
    const node: unknown = doc.getIn(issue.path.slice(0, depth) as unknown[], true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range !== undefined) {
      const pos = lineCounter.linePos(range[0]);
      where = `${source}:${pos.line}:${pos.col}`;
      break;
    }
  }
  const message =
    issue.code === 'unrecognized_keys'
      ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`
      : issue.code === 'invalid_type'
        ? `expected ${issue.expected}`
        : issue.code === 'invalid_key'
          ? issue.issues.map((inner) => inner.message).join('; ') || 'invalid name'
          : issue.message;
  return `${where} ${path}: ${message}`;
}

/** At most MAX_CATALOG_BYTES of a regular file, as UTF-8; null when it does not exist. */
function readBounded(path: string): string | null {
  let fd: number;
  try {
    // The type first: opening a FIFO would block until a writer comes.
    if (!statSync(path).isFile()) throw notRegular(path);
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (error instanceof WardenError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new WardenError('CATALOG_INVALID', `cannot read the catalog ${path}: ${(error as Error).message}`, {
      hint: 'check the file and its permissions',
    });
  }
  try {
    if (!fstatSync(fd).isFile()) throw notRegular(path);
    const buffer = Buffer.alloc(MAX_CATALOG_BYTES + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n)
      n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > MAX_CATALOG_BYTES)
      throw new WardenError('CATALOG_INVALID', `the catalog ${path} is larger than ${MAX_CATALOG_BYTES} bytes`, {
        hint: 'a catalog lists a few servers; check you named the right file',
      });
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, length));
    } catch {
      throw new WardenError('CATALOG_INVALID', `${path}: the file is not valid UTF-8`, { hint: 'save it as UTF-8' });
    }
  } finally {
    closeSync(fd);
  }
}

function notRegular(path: string): WardenError {
  return new WardenError('CATALOG_INVALID', `the catalog ${path} is not a regular file`, {
    hint: 'catalog.file in warden.yaml names a file (not a directory, FIFO or device)',
  });
}
