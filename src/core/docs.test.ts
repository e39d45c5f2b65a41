/**
 * Keeps the user documentation true to the code: every error code with its exit code, every
 * config field, every threat-case id of the implemented areas. When this fails, update the doc
 * named in the message (or the code, if the doc describes what should be).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from './config.js';
import { ERROR_CODES, EXIT, type ErrorCode } from './errors.js';

function readDoc(name: string): string {
  return readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8');
}

type JsonSchema = {
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly additionalProperties?: JsonSchema | boolean;
  readonly items?: JsonSchema;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
  readonly allOf?: readonly JsonSchema[];
};

/**
 * Every field path of the config, as docs/config.md writes it: `profiles.<name>.limits.memory`.
 * A map with keys the user chooses (a zod record) adds `<name>`; a list of objects adds `[]`.
 */
function configFieldPaths(schema: JsonSchema, prefix = ''): string[] {
  const paths: string[] = [];
  for (const alternative of [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])]) {
    paths.push(...configFieldPaths(alternative, prefix));
  }
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    paths.push(path, ...configFieldPaths(child, path));
  }
  const record = schema.additionalProperties;
  if (typeof record === 'object' && record.properties !== undefined) {
    const path = `${prefix}.<name>`;
    paths.push(path, ...configFieldPaths(record, path));
  }
  if (schema.items?.properties !== undefined) paths.push(...configFieldPaths(schema.items, `${prefix}[]`));
  return [...new Set(paths)];
}

/** `### CODE` sections of errors.md, each with the exit code it states. */
function documentedErrors(doc: string): Map<string, number | null> {
  const sections = new Map<string, number | null>();
  for (const section of doc.split(/^### /m).slice(1)) {
    const code = section.slice(0, section.indexOf('\n')).trim();
    const exit = /^Exit code: \*\*(\d+)\*\*$/m.exec(section)?.[1];
    sections.set(code, exit === undefined ? null : Number(exit));
  }
  return sections;
}

const range = (prefix: string, last: number): string[] =>
  Array.from({ length: last }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}`);

describe('docs/errors.md', () => {
  const doc = readDoc('errors.md');
  const sections = documentedErrors(doc);
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];

  it.each(codes)('documents %s in its own section with the exit code the CLI uses', (code) => {
    expect(sections.has(code), `add a "### ${code}" section to docs/errors.md`).toBe(true);
    expect(sections.get(code), `the "### ${code}" section must say "Exit code: **${ERROR_CODES[code].exit}**"`).toBe(
      ERROR_CODES[code].exit,
    );
  });

  it('documents no code that is not in the registry (a typo, or a code that was renamed)', () => {
    const unknown = [...sections.keys()].filter((code) => !Object.hasOwn(ERROR_CODES, code));
    expect(unknown).toEqual([]);
  });

  it('lists every exit code warden itself uses in the exit-code table', () => {
    const rows = new Set([...doc.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1])));
    for (const [name, value] of Object.entries(EXIT))
      expect(rows.has(value), `EXIT.${name} (${value}) has no row in the exit-code table`).toBe(true);
  });
});

describe('docs/config.md', () => {
  const doc = readDoc('config.md');
  const paths = configFieldPaths(configJsonSchema());

  it('finds the fields of the schema (the walker itself works)', () => {
    expect(paths).toEqual(
      expect.arrayContaining(['version', 'profiles.<name>.limits.memory', 'profiles.<name>.env.set', 'sandbox.user']),
    );
  });

  it.each(paths)('documents %s', (path) => {
    expect(doc, `docs/config.md does not mention \`${path}\``).toContain(`\`${path}\``);
  });

  it('documents no field the schema does not have (reference rows name real fields)', () => {
    const known = new Set(paths);
    // The field tables: the "Field reference" and "MCP gateway fields" sections.
    const tables = doc
      .split(/^## /m)
      .filter((section) => section.startsWith('Field reference') || section.startsWith('MCP gateway fields'))
      .join('\n');
    const rows = [...tables.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] ?? '');
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.filter((row) => !known.has(row))).toEqual([]);
  });

  it('describes the schema that schema/warden.schema.json holds (regenerate it with `npm run build`)', () => {
    const committed: unknown = JSON.parse(
      readFileSync(new URL('../../schema/warden.schema.json', import.meta.url), 'utf8'),
    );
    expect(committed).toEqual(configJsonSchema());
  });
});

describe('docs/threat-model.md', () => {
  const doc = readDoc('threat-model.md');
  const ids = [...range('SBX', 19), ...range('NET', 12), ...range('AUD', 6)];

  it.each(ids)('addresses %s', (id) => {
    expect(doc, `docs/threat-model.md does not mention ${id}`).toMatch(new RegExp(`\\b${id}\\b`));
  });

  it('cites no SBX/NET/AUD id that does not exist', () => {
    // SBX-20..23 (../shared/threat-cases.md) are newer cases: citable, not yet required everywhere.
    const known = new Set([...ids, ...range('SBX', 23)]);
    const cited = [...doc.matchAll(/\b(?:SBX|NET|AUD)-\d+\b/g)].map((m) => m[0]);
    expect(cited.filter((id) => !known.has(id))).toEqual([]);
  });
});
