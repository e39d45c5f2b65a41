import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { editDistance, findTyposquats, skeleton } from './typosquat.js';
import { WELL_KNOWN_PACKAGES } from './well-known.js';

const MEMORY = '@modelcontextprotocol/server-memory';
const techniques = (name: string, catalog: readonly string[] = []) =>
  findTyposquats(name, catalog).map((t) => [t.resembles, t.technique]);

describe('SCAN-06 typosquat detector', () => {
  it("SCAN-06 flags a digit for a letter in the scope (the issue's own example)", () => {
    expect(techniques('@modelcontextprotoco1/server-memory')).toEqual([[MEMORY, 'lookalike']]);
  });

  it('SCAN-06 flags homoglyphs (Cyrillic о and е), case and separator changes', () => {
    expect(techniques('@modelcontextprotocol/server-m\u0435m\u043ery')).toEqual([[MEMORY, 'lookalike']]);
    expect(techniques('@ModelContextProtocol/Server_Memory')).toEqual([[MEMORY, 'lookalike']]);
    expect(techniques('@modelcontextprotocol/servermemory')).toEqual([[MEMORY, 'lookalike']]);
    expect(techniques('@modelcontextprotocol/server-rnemory')).toEqual([[MEMORY, 'lookalike']]);
  });

  it('SCAN-06 flags a scope swap and a dropped scope', () => {
    expect(techniques('@mcp-official/server-memory')).toEqual([[MEMORY, 'scope-swap']]);
    expect(techniques('server-memory')).toEqual([[MEMORY, 'scope-swap']]);
    expect(techniques('@acme/db-tools', ['db-tools'])).toEqual([['db-tools', 'scope-swap']]);
  });

  it('SCAN-06 flags one and two edits, and swapped neighbours as one edit', () => {
    expect(techniques('@modelcontextprotocol/server-memroy')).toEqual([[MEMORY, 'edit-distance']]);
    expect(findTyposquats('@modelcontextprotocol/server-memroy', [])[0]?.detail).toBe('1 edit away');
    expect(techniques('@modelcontextprotocol/server-memry')).toEqual([[MEMORY, 'edit-distance']]);
    expect(techniques('@modelcontextprotocal/server-memori')).toEqual([[MEMORY, 'edit-distance']]);
  });

  it('catalog names count like the official ones; the official ones can be left out', () => {
    expect(techniques('acme_dbtools', ['acme-db-tools'])).toEqual([['acme-db-tools', 'lookalike']]);
    expect(findTyposquats('server-memory', [], { wellKnown: false })).toEqual([]);
  });

  it('does not flag the names themselves, unrelated names, or short names a few letters apart', () => {
    for (const name of WELL_KNOWN_PACKAGES) expect(findTyposquats(name, [])).toEqual([]);
    expect(findTyposquats('@modelcontextprotocol/server-gitlab', [])).toEqual([]);
    expect(findTyposquats('@acme/weather-mcp', [])).toEqual([]);
    expect(findTyposquats('mcp-server-kubernetes', [])).toEqual([]);
    expect(findTyposquats('ab', ['ac'])).toEqual([]);
    expect(findTyposquats('abcd', ['abce'])).toHaveLength(1);
    expect(findTyposquats('abcd', ['abef'])).toEqual([]);
  });

  it('folds what the eye folds', () => {
    expect(skeleton('Sеrvеr_1ist')).toBe(skeleton('server-list'));
    expect(skeleton('café')).toBe('cafe');
  });

  it('edit distance stops at its limit', () => {
    expect(editDistance('kitten', 'sitting', 5)).toBe(3);
    expect(editDistance('kitten', 'sitting', 2)).toBe(3);
    expect(editDistance('ab', 'ba', 2)).toBe(1);
    expect(editDistance('', 'abc', 1)).toBe(2);
  });

  const letters = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'.split(''));
  const bareName = fc
    .array(letters, { minLength: 6, maxLength: 30 })
    .map((cs) => cs.join(''))
    .filter((s) => /^[a-z0-9]/.test(s));
  const packageName = fc
    .tuple(fc.option(bareName, { nil: undefined }), bareName)
    .map(([scope, bare]) => (scope === undefined ? bare : `@${scope}/${bare}`));

  it('SCAN-06 never flags a name that is in the catalog (property)', () => {
    fc.assert(
      fc.property(packageName, fc.array(packageName, { maxLength: 5 }), (name, others) => {
        expect(findTyposquats(name, [...others, name])).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('SCAN-06 always flags a one-edit variant of a long catalog name (property)', () => {
    const edit = fc.tuple(fc.nat(), fc.constantFrom('insert', 'delete', 'replace', 'swap'), letters);
    fc.assert(
      fc.property(packageName, edit, (name, [at, kind, letter]) => {
        const cs = [...name];
        const start = name.startsWith('@') ? name.indexOf('/') + 1 : 0;
        const i = start + (at % (cs.length - start));
        if (kind === 'insert') cs.splice(i, 0, letter);
        else if (kind === 'delete') cs.splice(i, 1);
        else if (kind === 'replace') cs[i] = letter;
        else if (i + 1 < cs.length) [cs[i], cs[i + 1]] = [cs[i + 1] ?? '', cs[i] ?? ''];
        const variant = cs.join('');
        fc.pre(variant !== name);
        const flags = findTyposquats(variant, [name], { wellKnown: false });
        expect(flags.map((f) => f.resembles)).toEqual([name]);
      }),
      { numRuns: 1000 },
    );
  });
});
