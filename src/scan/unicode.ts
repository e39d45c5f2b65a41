/**
 * Invisible and deceptive text: zero-width and format characters, bidi controls, Unicode tag
 * characters (an invisible copy of ASCII), control characters, words that mix Latin letters with
 * look-alikes from other scripts, and runs of another script than the rest of the text.
 * Each check is one linear pass over the raw text.
 */
import { LOOKALIKE_SCRIPT, spanOf } from './text.js';
import type { Severity, TextKind } from './types.js';

/** A finding before it gets its path (the scanner adds it). */
export interface RawFinding {
  readonly rule: string;
  readonly severity: Severity;
  readonly span: string;
  readonly explanation: string;
}

const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const TAG = /[\u{e0000}-\u{e007f}]/u;
const ZERO_WIDTH =
  /[\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200d\u2060-\u2064\u206a-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb]|[\u{1d173}-\u{1d17a}]|[\u{e0100}-\u{e01ef}]/u;
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/u;
const EMOJI = /\p{Extended_Pictographic}/u;

/** A run of invisible characters this long carries data rather than formatting. */
const HIDDEN_DATA_RUN = 16;

/**
 * The text that Unicode tag characters spell (U+E0020–E007E mirror ASCII), or '' when there are
 * none. Tag characters render as nothing, so this is text only the model sees.
 */
export function decodeTagCharacters(text: string): string {
  let decoded = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code >= 0xe0020 && code <= 0xe007e) decoded += String.fromCharCode(code - 0xe0000);
  }
  return decoded;
}

const ANY_SUSPECT = new RegExp(`${BIDI.source}|${TAG.source}|${ZERO_WIDTH.source}|${CONTROL.source}`, 'u');

/** Findings about invisible, bidi, tag and control characters in `text`. */
export function scanCharacters(text: string, kind: TextKind): RawFinding[] {
  const findings: RawFinding[] = [];
  // One pass to rule out the common case: nothing invisible at all.
  if (!ANY_SUSPECT.test(text)) return findings;
  let zeroWidth: { start: number; end: number } | null = null;
  let longestRun = 0;
  let run = 0;
  let bidiAt = -1;
  let tagAt = -1;
  let controlAt = -1;
  let index = 0;
  let previous = '';
  for (const ch of text) {
    const invisible = ZERO_WIDTH.test(ch);
    if (invisible) {
      // A joiner or variation selector after an emoji is how emoji are written, not hidden text;
      // a byte-order mark at the very start is an encoding artefact.
      const benign =
        ((ch === '\u200d' || ch === '\ufe0f' || ch === '\ufe0e') && EMOJI.test(previous)) ||
        (ch === '\ufeff' && index === 0);
      if (!benign && zeroWidth === null) zeroWidth = { start: index, end: index + ch.length };
      run = benign ? 0 : run + 1;
      longestRun = Math.max(longestRun, run);
    } else {
      run = 0;
      if (bidiAt < 0 && BIDI.test(ch)) bidiAt = index;
      else if (tagAt < 0 && TAG.test(ch)) tagAt = index;
      else if (controlAt < 0 && CONTROL.test(ch)) controlAt = index;
    }
    if (!invisible || !(ch === '\u200d' || ch === '\ufe0f')) previous = ch;
    index += ch.length;
  }
  if (zeroWidth !== null) {
    const hiddenData = longestRun >= HIDDEN_DATA_RUN;
    findings.push({
      rule: 'invisible-text',
      severity: hiddenData ? 'high' : kind === 'definition' ? 'medium' : 'low',
      span: spanOf(text.slice(Math.max(0, zeroWidth.start - 20), zeroWidth.start + 40)),
      explanation: hiddenData
        ? `A run of ${longestRun} invisible characters can carry hidden data the user never sees.`
        : 'Contains zero-width or invisible format characters, which can hide or split words the user reads differently from the model.',
    });
  }
  if (tagAt >= 0) {
    const decoded = decodeTagCharacters(text);
    findings.push({
      rule: 'unicode-tags',
      severity: 'high',
      span: spanOf(text.slice(Math.max(0, tagAt - 10), tagAt + 60)),
      explanation:
        decoded.length > 0
          ? `Invisible Unicode tag characters spell out hidden text: "${spanOf(decoded).slice(0, 120)}".`
          : 'Contains invisible Unicode tag characters (U+E0000–E007F), used to hide text from the user.',
    });
  }
  if (bidiAt >= 0)
    findings.push({
      rule: 'bidi-control',
      severity: kind === 'definition' ? 'medium' : 'low',
      span: spanOf(text.slice(Math.max(0, bidiAt - 20), bidiAt + 40)),
      explanation:
        'Contains bidirectional control characters, which make text display in another order than the model reads it.',
    });
  if (controlAt >= 0)
    findings.push({
      rule: 'control-characters',
      severity: kind === 'definition' ? 'medium' : 'low',
      span: spanOf(text.slice(Math.max(0, controlAt - 20), controlAt + 40)),
      explanation:
        'Contains control characters (e.g. terminal escape sequences) that can hide or rewrite what a person sees.',
    });
  return findings;
}

/** Letters of other scripts that pass for a Latin letter (а, е, о, р, с, ο, ν, …); not μ or π. */
const LOOKALIKE_LETTER = /[аеорсухіјѕԁһӏԛԝүвкмнтёїαβεηικνορτυχАВЕКМНОРСТХІЈЅΑΒΕΖΗΙΚΜΝΟΡΤΥΧ]/u;

/** Letters of a look-alike script that pass for Latin letters on their own (а, е, о, р, с, …). */
const PURE_LOOKALIKE = /^[аеорсухіјѕԁһӏԛԝүαοινκρτυχ]{3,}$/u;

/** Shows the non-Latin letters of a mixed word as escapes, so the mix is visible in a report. */
function revealMixed(word: string): string {
  let shown = '';
  for (const ch of word)
    shown += LOOKALIKE_SCRIPT.test(ch) ? `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}` : ch;
  return shown;
}

interface ScriptCount {
  latin: number;
  other: Map<string, { count: number; first: number }>;
}

const SCRIPTS: readonly (readonly [string, RegExp])[] = [
  ['Cyrillic', /\p{Script=Cyrillic}/u],
  ['Greek', /\p{Script=Greek}/u],
  ['Han', /\p{Script=Han}/u],
  ['Japanese kana', /[\p{Script=Hiragana}\p{Script=Katakana}]/u],
  ['Hangul', /\p{Script=Hangul}/u],
  ['Arabic', /\p{Script=Arabic}/u],
  ['Hebrew', /\p{Script=Hebrew}/u],
  ['Devanagari', /\p{Script=Devanagari}/u],
  ['Thai', /\p{Script=Thai}/u],
  ['Armenian', /\p{Script=Armenian}/u],
  ['Cherokee', /\p{Script=Cherokee}/u],
];

function scriptOf(ch: string): string | null {
  for (const [name, pattern] of SCRIPTS) if (pattern.test(ch)) return name;
  return null;
}

/** Words mixing Latin with look-alike letters, and runs of a script other than the text's main one. */
export function scanScripts(text: string): RawFinding[] {
  const findings: RawFinding[] = [];
  // Only text with letters beyond ASCII can mix scripts: most text stops here.
  if (!/[^\x00-\x7f]/.test(text)) return findings;
  const counts: ScriptCount = { latin: 0, other: new Map() };
  let mixed: string | null = null;
  let pureLookalike: string | null = null;
  for (const match of text.matchAll(/[\p{L}\p{M}]+/gu)) {
    const word = match[0];
    let latin = 0;
    let lookalike = 0;
    for (const ch of word) {
      if (/[a-zA-Z]/.test(ch)) latin++;
      else if (LOOKALIKE_LETTER.test(ch)) lookalike++;
    }
    // A mixed word is a Latin word in disguise (homoglyph), not text in another language.
    const disguised = latin > 0 && lookalike > 0;
    for (const ch of word) {
      const script = disguised || /[a-zA-Z\u00c0-\u024f]/.test(ch) ? 'Latin' : scriptOf(ch);
      if (script === 'Latin') counts.latin++;
      else if (script !== null) {
        const entry = counts.other.get(script);
        if (entry === undefined) counts.other.set(script, { count: 1, first: match.index });
        else entry.count++;
      }
    }
    if (mixed === null && disguised) mixed = word;
    if (pureLookalike === null && PURE_LOOKALIKE.test(word)) pureLookalike = word;
  }
  let otherTotal = 0;
  for (const entry of counts.other.values()) otherTotal += entry.count;
  const total = counts.latin + otherTotal;
  if (mixed !== null)
    findings.push({
      rule: 'homoglyph',
      severity: 'medium',
      span: spanOf(revealMixed(mixed)),
      explanation:
        'A word mixes Latin letters with look-alike letters of another script (homoglyphs), which disguises it from people and filters.',
    });
  else if (pureLookalike !== null && counts.latin > total * 0.8)
    findings.push({
      rule: 'homoglyph',
      severity: 'medium',
      span: spanOf(revealMixed(pureLookalike)),
      explanation:
        'A word made only of look-alike letters from another script sits in Latin text: it reads as a Latin word but is not one.',
    });
  // Another language: a minority script with a real run of letters beside a dominant one.
  if (total >= 12) {
    const dominant = counts.latin >= otherTotal ? 'Latin' : null;
    for (const [script, entry] of counts.other) {
      const isMinority = dominant === 'Latin' ? entry.count < counts.latin : entry.count < total / 2;
      if (isMinority && entry.count >= 4 && script !== 'Greek') {
        findings.push({
          rule: 'other-language',
          severity: 'low',
          span: spanOf(text.slice(entry.first, entry.first + 80)),
          explanation: `Contains text in ${script} script inside text mostly in another script; a change of language can slip instructions past a reader.`,
        });
        break;
      }
    }
  }
  return findings;
}
