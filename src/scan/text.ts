/**
 * Text helpers shared by the rules: the folded form the phrase rules match on, and the escaped,
 * bounded span a finding shows. Pure functions; every one is linear in the input.
 */
import { LATIN_LOOKALIKES } from '../core/confusables.js';

/** The longest span a finding carries (characters, after escaping). */
export const MAX_SPAN = 200;

/**
 * Characters that render as nothing or reorder text: zero-width and format characters, bidi
 * controls, Unicode tag characters, variation selectors. Matched one at a time (no quantifier) so
 * callers decide how to group them.
 */
export const INVISIBLE_CHAR =
  /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb]|\u{1d173}|\u{1d174}|\u{1d175}|\u{1d176}|\u{1d177}|\u{1d178}|\u{1d179}|\u{1d17a}|[\u{e0000}-\u{e007f}]|[\u{e0100}-\u{e01ef}]/u;
const INVISIBLE_GLOBAL = new RegExp(INVISIBLE_CHAR.source, 'gu');

/** Latin look-alikes in other scripts, mapped only inside words that also hold Latin letters. */
const CONFUSABLES = LATIN_LOOKALIKES;

/** True for a character of one of the scripts whose letters pass for Latin ones. */
export const LOOKALIKE_SCRIPT = /[\p{Script=Cyrillic}\p{Script=Greek}\p{Script=Armenian}\p{Script=Cherokee}]/u;

/**
 * The form the phrase rules match on: invisible characters removed (so `ig\u200bnore` still reads
 * `ignore`), NFKC (full-width and styled letters become plain), typographic quotes made plain,
 * look-alike letters inside Latin words mapped to Latin, markdown emphasis dropped, lower-cased,
 * runs of spaces and tabs collapsed. Newlines are kept: some rules look at lines.
 */
export function foldText(text: string): string {
  let folded = text.replace(INVISIBLE_GLOBAL, '').normalize('NFKC');
  folded = folded.replace(/[\u2018\u2019\u201b\u2032]/g, "'").replace(/[\u201c\u201d\u201f\u2033]/g, '"');
  folded = folded.toLowerCase();
  folded = folded.replace(/[\p{L}\p{M}]+/gu, (word) => {
    if (!/[a-z]/.test(word) || !LOOKALIKE_SCRIPT.test(word)) return word;
    let mapped = '';
    for (const ch of word) mapped += CONFUSABLES[ch] ?? ch;
    return mapped;
  });
  return folded.replace(/\*+/g, '').replace(/[ \t\u00a0]+/g, ' ');
}

/** Shows a character as an escape: `\u200b`, `\u{e0041}`, `\n`. */
function escapeChar(ch: string): string {
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  const code = ch.codePointAt(0) ?? 0;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

const NEEDS_ESCAPE = new RegExp(`${INVISIBLE_CHAR.source}|[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]`, 'gu');

/**
 * A finding's span: invisible and control characters escaped, then cut to MAX_SPAN characters
 * (an ellipsis marks the cut). Never contains a raw control character, so it prints safely.
 */
export function spanOf(text: string): string {
  // Escape a bounded prefix only: a span never needs more than MAX_SPAN characters.
  const head = text.length > MAX_SPAN * 2 ? text.slice(0, MAX_SPAN * 2) : text;
  const escaped = head.replace(NEEDS_ESCAPE, escapeChar);
  if (escaped.length <= MAX_SPAN && head.length === text.length) return escaped;
  return `${escaped.slice(0, MAX_SPAN - 1)}…`;
}

/** `text` around [start, end): the match plus a little context on each side, on one line. */
export function around(text: string, start: number, end: number, context = 20): string {
  const from = Math.max(0, start - context);
  const to = Math.min(text.length, end + context);
  return `${from > 0 ? '…' : ''}${text.slice(from, to)}${to < text.length ? '…' : ''}`;
}
