/**
 * Typosquat detection (SCAN-06): a package or program name that imitates a trusted one. Attackers
 * publish `@modelcontextprotoco1/server-memory`, `@modelcontextprotocol/server-memroy` or the same
 * name under another scope and wait for a copied config line. A name is compared with every
 * catalog name (and the official MCP packages, see well-known.ts) three ways:
 *
 *   lookalike      the same once case, homoglyphs (Cyrillic/Greek letters that look Latin),
 *                  digits for letters (0→o, 1→l, 5→s …), accents and separators (- _ .) are folded;
 *   scope-swap     the same package name under another (or no) npm scope;
 *   edit-distance  at most two edits away (insert, delete, replace, swap two neighbours), one for
 *                  short names, none for very short ones (they would match everything).
 *
 * A name that is itself in the list is never flagged. Pure and fast (no I/O): the scanner, the
 * catalog CLI and the gateway's server start all call it.
 */
import { LATIN_LOOKALIKES } from '../core/confusables.js';
import { WELL_KNOWN_PACKAGES } from './well-known.js';

/** One likely typosquat: `name` imitates `resembles`. */
export interface Typosquat {
  readonly name: string;
  readonly resembles: string;
  readonly technique: 'lookalike' | 'scope-swap' | 'edit-distance';
  /** A short explanation a reviewer understands. */
  readonly detail: string;
}

/** Longest name compared (npm allows 214 characters); longer input is cut (it cannot be a real name anyway). */
const MAX_NAME = 256;

/**
 * After the look-alike letters of other scripts (core/confusables.ts) are mapped to Latin: what a
 * typist puts for a letter in package names — digits used as letters, and the i/l/1/| family
 * folded into one.
 */
const TYPED: Readonly<Record<string, string>> = {
  i: 'l',
  '|': 'l',
  '0': 'o',
  '1': 'l',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '8': 'b',
  '9': 'g',
};

/** One character folded: its Latin look-alike, then what it is typed for. */
function fold(c: string): string {
  const latin = LATIN_LOOKALIKES[c] ?? c;
  return TYPED[latin] ?? latin;
}

/** Separators people and attackers add or drop (`server-memory`, `server_memory`, `servermemory`). */
const SEPARATORS = /[-_.\s]/g;

/**
 * The names `name` likely imitates: each catalog name (and each official MCP package) it resembles
 * without being it. Empty when `name` is one of them or resembles none.
 */
export function findTyposquats(
  name: string,
  catalogNames: readonly string[],
  options: { readonly wellKnown?: boolean } = {},
): Typosquat[] {
  const trusted = [...new Set([...catalogNames, ...(options.wellKnown === false ? [] : WELL_KNOWN_PACKAGES)])];
  if (trusted.includes(name)) return [];
  const given = split(name.slice(0, MAX_NAME));
  const found: Typosquat[] = [];
  for (const candidate of trusted) {
    const known = split(candidate.slice(0, MAX_NAME));
    const flag = compare(given, known);
    if (flag !== null) found.push({ name, resembles: candidate, ...flag });
  }
  return found;
}

interface SplitName {
  /** The scope without '@' ('' when unscoped), folded. */
  readonly scope: string;
  /** The name after the scope, folded. */
  readonly bare: string;
  /** Length of the name after the scope, as written (decides how many edits still count as a typo). */
  readonly bareLength: number;
  readonly scoped: boolean;
  /** The whole name with each character folded alone (no separators dropped, no rn→m): one typed edit stays one edit. */
  readonly plain: string;
}

function split(name: string): SplitName {
  const match = /^@([^/]*)\/(.*)$/s.exec(name);
  const scope = match?.[1] ?? '';
  const bare = match?.[2] ?? name;
  return {
    scope: skeleton(scope),
    bare: skeleton(bare),
    bareLength: [...bare].length,
    scoped: match !== null,
    plain: foldEach(name),
  };
}

function foldEach(text: string): string {
  return [...text.toLowerCase()].map(fold).join('');
}

/** What the eye (or a hurried typist) sees: case, accents, homoglyphs, digits-as-letters and separators folded. */
export function skeleton(text: string): string {
  const folded = [...text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()].map(fold).join('');
  return folded.replace(SEPARATORS, '').replace(/rn/g, 'm').replace(/vv/g, 'w');
}

function compare(given: SplitName, known: SplitName): Omit<Typosquat, 'name' | 'resembles'> | null {
  const sameScope = given.scoped === known.scoped && given.scope === known.scope;
  if (sameScope && given.bare === known.bare)
    return {
      technique: 'lookalike',
      detail: 'the same name once case, look-alike letters, digits for letters and separators are folded',
    };
  if (given.bare === known.bare && known.bare.length >= 3)
    return {
      technique: 'scope-swap',
      detail: known.scoped
        ? `the same package name under ${given.scoped ? 'another scope' : 'no scope'}`
        : 'the same package name under a scope',
    };
  const allowed = known.bareLength >= 6 ? 2 : known.bareLength >= 3 ? 1 : 0;
  if (allowed === 0) return null;
  // Both spellings: the folded skeleton (catches a typo on top of a look-alike) and the
  // character-by-character fold (where one typed edit is always one edit).
  const distance = Math.min(
    editDistance(full(given), full(known), allowed),
    editDistance(given.plain, known.plain, allowed),
  );
  if (distance > allowed) return null;
  return { technique: 'edit-distance', detail: `${distance} edit${distance === 1 ? '' : 's'} away` };
}

function full(name: SplitName): string {
  return name.scoped ? `@${name.scope}/${name.bare}` : name.bare;
}

/**
 * Optimal string alignment distance (insert, delete, replace, swap of neighbours), stopping as
 * soon as it must exceed `limit` (then returns limit + 1).
 */
export function editDistance(a: string, b: string, limit: number): number {
  const x = [...a];
  const y = [...b];
  if (Math.abs(x.length - y.length) > limit) return limit + 1;
  let before: number[] = [];
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    let best = i;
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let value = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1])
        value = Math.min(value, (before[j - 2] ?? 0) + 1);
      current.push(value);
      best = Math.min(best, value);
    }
    if (best > limit) return limit + 1;
    before = previous;
    previous = current;
  }
  return Math.min(previous[y.length] ?? 0, limit + 1);
}
