/**
 * A strict reader for git's config file format, enough to answer two questions warden asks
 * about repositories a sandbox can write to: which paths the host's git will run code from
 * (core.hooksPath, included files, scripts named by command-valued keys), and whether a
 * repository the agent made or changed holds anything that runs code.
 *
 * It follows git's own reader (config.c): `[section]`, `[section "subsection"]`, the legacy
 * `[section.subsection]`, `name = value`, a bare `name` (boolean true), quotes, the escapes
 * \n \t \b \" \\, a backslash before a newline continuing the value, # or ; comments, and
 * unquoted blanks inside a value read as one space each. Anything else is a GitConfigSyntaxError:
 * callers treat an unreadable config as unsafe rather than guess what git would make of it.
 * git-config.property.test.ts checks it against real git on random files: whatever it accepts,
 * git reads the same way, and whatever git refuses, it refuses.
 */

export interface GitConfigEntry {
  /** Lower-cased section name, e.g. 'core'. */
  readonly section: string;
  /** Subsection as written (case-sensitive), or null. Legacy `[a.B]` headers give 'b'. */
  readonly subsection: string | null;
  /** Lower-cased variable name, e.g. 'hookspath'. */
  readonly name: string;
  /** The value, or null for a bare name (boolean true). */
  readonly value: string | null;
}

export class GitConfigSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** A config bigger than this is not a repository's config; refuse rather than scan it. */
export const MAX_GIT_CONFIG_BYTES = 1024 * 1024;

const SECTION_CHAR = /[A-Za-z0-9.-]/;
const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', b: '\b', '"': '"', '\\': '\\' };
/** git's own isspace (sane_ctype): space, tab, newline and carriage return; not \v or \f. */
const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const NAME_START = /[A-Za-z]/;
const NAME_CHAR = /[A-Za-z0-9-]/;

/** Parses `text` as a git config file. Throws GitConfigSyntaxError on anything git would not read the same way. */
export function parseGitConfig(text: string): GitConfigEntry[] {
  if (text.length > MAX_GIT_CONFIG_BYTES)
    throw new GitConfigSyntaxError(`config is larger than ${MAX_GIT_CONFIG_BYTES} bytes`, 1);
  const entries: GitConfigEntry[] = [];
  let pos = 0;
  let line = 1;
  let section: string | null = null;
  let subsection: string | null = null;
  const fail = (message: string): never => {
    throw new GitConfigSyntaxError(message, line);
  };
  const peek = (): string | undefined => text[pos];
  const skipBlanks = (): void => {
    while (peek() === ' ' || peek() === '\t' || peek() === '\r') pos++;
  };
  const skipComment = (): void => {
    while (pos < text.length && text[pos] !== '\n') pos++;
  };

  while (pos < text.length) {
    skipBlanks();
    const c = peek();
    if (c === undefined) break;
    if (c === '\n') {
      pos++;
      line++;
      continue;
    }
    if (c === '#' || c === ';') {
      skipComment();
      continue;
    }
    if (c === '[') {
      pos++;
      let name = '';
      while (peek() !== undefined && SECTION_CHAR.test(peek() ?? '')) name += text[pos++];
      if (name === '') fail('a section header needs a name');
      if (peek() === ']') {
        pos++;
        const dot = name.indexOf('.');
        // Legacy [section.subsection]: both parts are case-insensitive.
        section = (dot === -1 ? name : name.slice(0, dot)).toLowerCase();
        subsection = dot === -1 ? null : name.slice(dot + 1).toLowerCase();
        continue;
      }
      skipBlanks();
      if (peek() !== '"') fail('expected "]" or a quoted subsection in the section header');
      pos++;
      let sub = '';
      for (;;) {
        const s = text[pos++];
        if (s === undefined || s === '\n') fail('unterminated subsection name');
        if (s === '"') break;
        if (s === '\\') {
          const escaped = text[pos++];
          if (escaped === undefined || escaped === '\n') fail('unterminated subsection name');
          sub += escaped;
        } else {
          sub += s;
        }
      }
      if (peek() !== ']') fail('expected "]" after the subsection name');
      pos++;
      section = name.toLowerCase();
      subsection = sub;
      continue;
    }
    if (!NAME_START.test(c)) fail(`unexpected character ${JSON.stringify(c)}`);
    if (section === null) fail('a variable appears before any section header');
    let name = '';
    while (peek() !== undefined && NAME_CHAR.test(peek() ?? '')) name += text[pos++];
    // Git skips only spaces and tabs here; then the line must end or go on with '='.
    while (peek() === ' ' || peek() === '\t') pos++;
    const after = peek();
    if (after === undefined || after === '\n' || (after === '\r' && text[pos + 1] === '\n')) {
      entries.push({ section: section ?? '', subsection, name: name.toLowerCase(), value: null });
      continue;
    }
    if (after !== '=') fail(`expected "=" after ${name}`);
    pos++;
    entries.push({ section: section ?? '', subsection, name: name.toLowerCase(), value: readValue(name) });
  }
  return entries;

  /**
   * A value as git's parse_value reads it: unquoted whitespace is dropped at the start and the
   * end and otherwise becomes one space per character; quotes toggle; escapes \n \t \b \" \\
   * and a backslash before the newline (a continuation; also at the end of the file); an unquoted
   * # or ; starts a comment.
   */
  function readValue(name: string): string {
    let value = '';
    let spaces = 0;
    let quoted = false;
    for (;;) {
      let v = text[pos];
      if (v === '\r' && text[pos + 1] === '\n') v = text[++pos];
      if (v === undefined || v === '\n') {
        if (quoted) fail('a quoted value runs past the end of the line');
        return value;
      }
      pos++;
      if (!quoted && isSpace(v)) {
        if (value.length > 0) spaces++;
        continue;
      }
      if (!quoted && (v === '#' || v === ';')) {
        skipComment();
        return value;
      }
      value += ' '.repeat(spaces);
      spaces = 0;
      if (v === '\\') {
        let escaped = text[pos];
        if (escaped === '\r' && text[pos + 1] === '\n') escaped = text[++pos];
        if (escaped === undefined) continue; // git reads the end of the file as a newline
        pos++;
        if (escaped === '\n') {
          line++;
          continue;
        }
        const replaced = ESCAPES[escaped];
        if (replaced === undefined) fail(`unknown escape \\${escaped} in the value of ${name}`);
        value += replaced;
        continue;
      }
      if (v === '"') {
        quoted = !quoted;
        continue;
      }
      value += v;
    }
  }
}

/** `section.name` or `section.<subsection>.name`, lower-cased except for the subsection. */
export function entryKey(entry: GitConfigEntry): string {
  return entry.subsection === null
    ? `${entry.section}.${entry.name}`
    : `${entry.section}.${entry.subsection}.${entry.name}`;
}

/**
 * The key as a pattern that names every subsection alike: `core.hookspath`, `filter.*.process`.
 * What warden's lists of keys (commands to protect, data keys that are safe) are written in.
 */
export function keyPattern(entry: GitConfigEntry): string {
  return entry.subsection === null ? `${entry.section}.${entry.name}` : `${entry.section}.*.${entry.name}`;
}
