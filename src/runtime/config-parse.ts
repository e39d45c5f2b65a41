/**
 * Parsing and validating warden.yaml text: strict YAML (duplicate keys are errors), the zod
 * schema, frozen result. Errors name the file, line and column, the path inside the file and
 * the fix. Loaded lazily (see config-file.ts): the schema costs start-up time.
 */
import { LineCounter, parseDocument, isCollection, isMap, isScalar, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { configSchema, profileSchema, serverSchema, type WardenConfig } from '../core/config.js';
import { deepFreeze } from '../core/config-defaults.js';
import { WardenError } from '../core/errors.js';

/** Parses and validates config text; `source` names the file in errors. */
export function parseConfigText(text: string, source: string): WardenConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true, strict: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const where = first?.linePos?.[0] ? `${source}:${first.linePos[0].line}:${first.linePos[0].col}` : source;
    const message = ((first?.message ?? 'invalid YAML').split('\n')[0] ?? 'invalid YAML').replace(
      / at line \d+, column \d+:?$/,
      '',
    );
    throw new WardenError('CONFIG_PARSE', `${where}: ${message}`, {
      hint: 'fix the YAML syntax at that position (duplicate keys are not allowed)',
    });
  }
  refuseUnresolvedAliases(doc, lineCounter, source);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (error) {
    throw new WardenError('CONFIG_PARSE', `${source}: ${(error as Error).message}`, {
      hint: 'simplify the YAML (anchors/aliases are limited)',
    });
  }
  if (data === null || data === undefined) {
    throw new WardenError('CONFIG_INVALID', `${source}: the file is empty`, {
      hint: 'start with `version: 1`; see docs/config.md',
    });
  }
  refuseMisplacedFields(doc, lineCounter, source);
  const result = configSchema.safeParse(data);
  if (!result.success) {
    const lines = result.error.issues.slice(0, 10).map((issue) => describeIssue(issue, doc, lineCounter, source));
    const more = result.error.issues.length > 10 ? `\n  … and ${result.error.issues.length - 10} more` : '';
    throw new WardenError('CONFIG_INVALID', `invalid config:\n  ${lines.join('\n  ')}${more}`, {
      hint: 'see docs/config.md for every field, with examples',
    });
  }
  return deepFreeze(result.data);
}

function describeIssue(issue: z.core.$ZodIssue, doc: Document, lineCounter: LineCounter, source: string): string {
  const path =
    issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .replace(/^\./, '') || '(top level)';
  const where = locate(doc, issue.path, lineCounter);
  const position = where ? `${source}:${where.line}:${where.col}` : source;
  return `${position} ${path}: ${humanMessage(issue, doc.hasIn(issue.path as unknown[]))}`;
}

/** Finds the YAML node for a zod path (or its closest existing parent) and returns its position. */
function locate(
  doc: Document,
  path: readonly PropertyKey[],
  lineCounter: LineCounter,
): { line: number; col: number } | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = doc.getIn(path.slice(0, depth) as unknown[], true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) return lineCounter.linePos(range[0]);
    if (depth === 0 && isCollection(doc.contents) && doc.contents.range)
      return lineCounter.linePos(doc.contents.range[0]);
  }
  return undefined;
}

function humanMessage(issue: z.core.$ZodIssue, present: boolean): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')} (check the spelling; see docs/config.md)`;
    case 'invalid_type':
      return `expected ${issue.expected}${present ? '' : ' (the field is required)'}`;
    case 'invalid_value':
      return `must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
    case 'invalid_key':
      // A record key (e.g. a profile name) failed its own check: say why, not just "invalid key".
      return issue.issues.map((inner) => inner.message).join('; ') || 'invalid name';
    default:
      return issue.message;
  }
}

/**
 * `- *.example.com` unquoted is a YAML alias (a reference to an anchor named `.example.com`), not
 * a wildcard: say so at its line, with the fix, instead of the parser's bare "Unresolved alias".
 */
function refuseUnresolvedAliases(doc: Document, lineCounter: LineCounter, source: string): void {
  let problem: { at: string; name: string } | null = null;
  visit(doc, {
    Alias(_key, node) {
      if (node.resolve(doc) !== undefined) return undefined;
      const pos = node.range ? lineCounter.linePos(node.range[0]) : undefined;
      problem = { at: pos ? `${source}:${pos.line}:${pos.col}` : source, name: node.source };
      return visit.BREAK;
    },
  });
  if (problem === null) return;
  const { at, name } = problem as { at: string; name: string };
  throw new WardenError(
    'CONFIG_PARSE',
    `${at}: *${name} is read as a YAML alias (a reference to an anchor &${name}), and there is no such anchor`,
    { hint: `quote it: "*${name}" (in YAML an unquoted value that starts with * is an alias)` },
  );
}

/** Field names of a profile, a server and the top level: never names of a profile or a server. */
const FIELD_NAMES = {
  profile: new Set(Object.keys(profileSchema.shape)),
  server: new Set(Object.keys(serverSchema.shape)),
  top: new Set(Object.keys(configSchema.shape)),
};

/**
 * A key indented two spaces too little lands one level up: `limits:` meant for a profile becomes a
 * profile named `limits` (silently, when it is empty), a server's `args:` a server named `args`.
 * Such names are refused where they are, saying what happened.
 */
function refuseMisplacedFields(doc: Document, lineCounter: LineCounter, source: string): void {
  const problems: string[] = [];
  for (const [section, kind, what] of [
    ['profiles', 'profile', 'a profile'],
    ['servers', 'server', 'a server'],
  ] as const) {
    const map = doc.get(section, true);
    if (!isMap(map)) continue;
    for (const item of map.items) {
      const key = isScalar(item.key) ? item.key : null;
      const name = typeof key?.value === 'string' ? key.value : null;
      if (name === null) continue;
      const field = FIELD_NAMES[kind].has(name)
        ? `a field of ${what}`
        : FIELD_NAMES.top.has(name)
          ? 'a top-level field'
          : null;
      if (field === null) continue;
      const pos = key?.range ? lineCounter.linePos(key.range[0]) : undefined;
      const where = FIELD_NAMES[kind].has(name)
        ? `indent it under the ${kind} it belongs to (${section}.<name>.${name})`
        : 'move it to the top level (no indentation)';
      problems.push(
        `${pos ? `${source}:${pos.line}:${pos.col}` : source} ${section}.${name}: '${name}' is ${field}, not ${what} name: it is indented as ${what}, directly under ${section}:; ${where}`,
      );
    }
  }
  if (problems.length > 0)
    throw new WardenError('CONFIG_INVALID', `invalid config:\n  ${problems.join('\n  ')}`, {
      hint: 'check the indentation (two spaces per level); profile and server names cannot be field names; see docs/config.md',
    });
}
