/**
 * Writing Cedar source safely: string literals and `like` patterns built from config values.
 * Every value that reaches policy text goes through these, so a name in warden.yaml can never
 * change the structure of a policy.
 */

/** A Cedar string literal for `value` (quotes, backslashes and control characters escaped). */
export function cedarString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\u{${code.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * A Cedar `like` pattern literal where `*` in `glob` is the wildcard and every other character
 * is literal (a literal `*` cannot be expressed; config globs do not need one).
 */
export function cedarLikePattern(glob: string): string {
  return `"${glob.split('*').map(likeLiteral).join('*')}"`;
}

/** A `like` pattern matching `prefix` followed by anything; every character of `prefix` is literal. */
export function cedarLikePrefix(prefix: string): string {
  return `"${likeLiteral(prefix)}*"`;
}

/** The inside of a `like` pattern that matches `text` literally (a `*` in it included). */
function likeLiteral(text: string): string {
  return cedarString(text).slice(1, -1).replace(/\*/g, '\\*');
}

/** A Cedar entity reference, e.g. `Warden::Tool::"files/read_file"`. */
export function cedarEntity(type: string, id: string): string {
  return `${type}::${cedarString(id)}`;
}
