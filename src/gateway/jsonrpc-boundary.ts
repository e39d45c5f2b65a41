/**
 * The JSON-RPC boundary (GW-05): every message from an agent is bounded and parsed strictly
 * before any of it is forwarded, so an upstream server never sees input that a laxer parser
 * (Python's json, Go's encoding/json, a hand-rolled one) could read differently from us.
 *
 * Order of checks, cheapest and most dangerous first:
 *   1. byte cap (before decoding anything, so a huge body costs nothing);
 *   2. strict UTF-8 (no BOM, no overlong forms, no surrogates) — or, for string input, no BOM
 *      and no raw lone surrogates;
 *   3. one linear scan of the text for nesting depth, duplicate keys, keys that differ only in
 *      case, prototype-polluting keys and escaped lone surrogates. It runs *before*
 *      `JSON.parse` so a 4 MiB `[[[[…` never reaches the native parser (which would build two
 *      million arrays to parse it);
 *   4. `JSON.parse` (native, fast) as the authority on RFC 8259 syntax;
 *   5. the exact JSON-RPC 2.0 shape: no batches, no unknown members, strict ids.
 *
 * Outcomes are values (design.md convention 5): `parseJsonRpc` never throws.
 */
import { ENDPOINT_LIMITS } from '../core/limits.js';
import { RPC } from './errors.js';

/** Size and nesting bounds applied to every incoming message. */
export interface BoundaryLimits {
  /** Largest accepted message, in UTF-8 bytes. */
  readonly maxBytes: number;
  /** Deepest accepted nesting of objects and arrays together; the top-level object is depth 1. */
  readonly maxDepth: number;
}

/** 4 MiB and 64 levels: generous for any MCP call, small enough to bound CPU and memory. */
export const DEFAULT_BOUNDARY_LIMITS: BoundaryLimits = Object.freeze({
  maxBytes: ENDPOINT_LIMITS.messageBytes,
  maxDepth: ENDPOINT_LIMITS.nestingDepth,
});

/** A JSON-RPC id as we accept it: a string of at most 256 UTF-16 units, or a safe integer. */
export type JsonRpcId = string | number;

/** A message that passed every check. `message` is the whole parsed object, unchanged. */
export type ParsedMessage =
  | {
      readonly kind: 'request';
      readonly id: JsonRpcId;
      readonly method: string;
      readonly params?: Record<string, unknown>;
      readonly message: Record<string, unknown>;
    }
  | {
      readonly kind: 'notification';
      readonly method: string;
      readonly params?: Record<string, unknown>;
      readonly message: Record<string, unknown>;
    }
  /** A result or error from the client, answering a server-to-client request. */
  | { readonly kind: 'response'; readonly id: JsonRpcId; readonly message: Record<string, unknown> };

/**
 * The verdict on one message. On refusal, `id` is the message's id when it could be read
 * safely (a top-level object with a valid, unambiguous id), else null; `reason` is short and
 * safe to show to the agent (it quotes at most 32 characters of the input, escaped).
 */
export type BoundaryResult =
  | { readonly ok: true; readonly parsed: ParsedMessage }
  | { readonly ok: false; readonly id: JsonRpcId | null; readonly code: number; readonly reason: string };

type Refusal = Extract<BoundaryResult, { ok: false }>;

const PARSE_ERROR = RPC.parseError;
const INVALID_REQUEST = RPC.invalidRequest;
const INTERNAL_ERROR = RPC.internal;

const MAX_ID_LENGTH = 256;
const MAX_METHOD_LENGTH = 256;
/** How much of a key or other input text a reason may quote. */
const MAX_QUOTED = 32;

// Fatal: invalid bytes throw instead of becoming U+FFFD, which would let two different byte
// strings parse to the same message. ignoreBOM keeps a BOM as U+FEFF instead of silently
// stripping it (we refuse a leading BOM explicitly, before decoding).
const DECODER = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** With the u flag, a surrogate pair is one code point, so this matches only lone surrogates. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Keys that could reach an object's prototype if later code copies with assignment. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const CALL_KEYS: ReadonlySet<string> = new Set(['jsonrpc', 'id', 'method', 'params']);
const RESPONSE_KEYS: ReadonlySet<string> = new Set(['jsonrpc', 'id', 'result', 'error']);
const ERROR_KEYS: ReadonlySet<string> = new Set(['code', 'message', 'data']);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const LOWER_U = 0x75;

/**
 * Bounds and strictly parses one JSON-RPC 2.0 message from an agent (GW-05).
 *
 * Refuses, with a JSON-RPC error code and a short reason: bodies over `limits.maxBytes`
 * (-32600), invalid UTF-8, a BOM, lone surrogates or invalid JSON (-32700), nesting deeper
 * than `limits.maxDepth`, duplicate keys or keys differing only in case within one object
 * (compared after decoding escapes), `__proto__`/`constructor`/`prototype` keys anywhere,
 * batches, and anything that is not exactly a JSON-RPC 2.0 request, notification or
 * response (-32600). Invalid `limits` fail closed with -32603.
 *
 * Never throws, whatever the input.
 */
export function parseJsonRpc(
  raw: Uint8Array | string,
  limits: BoundaryLimits = DEFAULT_BOUNDARY_LIMITS,
): BoundaryResult {
  try {
    return check(raw, limits);
  } catch {
    // Unreachable by design; kept so that a bug here refuses the message instead of
    // crashing the gateway or letting the message through.
    return refuse(null, INTERNAL_ERROR, 'internal error while checking the message');
  }
}

/**
 * Builds the JSON-RPC error response for a refused message:
 * `{ jsonrpc: '2.0', id, error: { code, message } }`. Defensive about its input, so even a
 * hand-made refusal yields a well-formed error object.
 */
export function boundaryErrorResponse(result: Extract<BoundaryResult, { ok: false }>): Record<string, unknown> {
  const id = validId(result.id) ? result.id : null;
  const code = Number.isSafeInteger(result.code) ? result.code : INTERNAL_ERROR;
  const message = typeof result.reason === 'string' && result.reason !== '' ? result.reason : 'request refused';
  return { jsonrpc: '2.0', id, error: { code, message } };
}

function check(raw: Uint8Array | string, limits: BoundaryLimits): BoundaryResult {
  const { maxBytes, maxDepth } = limits;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0 || !Number.isSafeInteger(maxDepth) || maxDepth < 1) {
    // A misconfiguration, not the agent's fault; fail closed rather than guess a limit.
    return refuse(null, INTERNAL_ERROR, 'internal error: invalid boundary limits');
  }

  let text: string;
  if (typeof raw === 'string') {
    if (utf8LengthExceeds(raw, maxBytes)) return tooLarge(maxBytes);
    if (raw.charCodeAt(0) === 0xfeff) return refuse(null, PARSE_ERROR, 'parse error: byte order mark is not allowed');
    // A decoded string can hold what no UTF-8 byte sequence can: a lone surrogate.
    if (LONE_SURROGATE.test(raw)) return refuse(null, PARSE_ERROR, 'parse error: lone surrogate in input');
    text = raw;
  } else if (raw instanceof Uint8Array) {
    if (raw.byteLength > maxBytes) return tooLarge(maxBytes);
    if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) {
      return refuse(null, PARSE_ERROR, 'parse error: byte order mark is not allowed');
    }
    try {
      text = DECODER.decode(raw);
    } catch {
      return refuse(null, PARSE_ERROR, 'parse error: invalid UTF-8');
    }
  } else {
    return refuse(null, PARSE_ERROR, 'parse error: input must be bytes or a string');
  }

  const { issue, idValueAt, topLevelKeysOk } = scan(text, maxDepth);
  // Too deep: refuse without handing the text to JSON.parse at all.
  if (issue !== null && issue.depth) return refuse(null, INVALID_REQUEST, issue.reason);

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // Syntax errors win over the scan's findings: on invalid JSON those are not meaningful.
    return refuse(null, PARSE_ERROR, describeSyntaxError(err));
  }

  if (Array.isArray(value)) return refuse(null, INVALID_REQUEST, 'batches are not supported');
  if (!isPlainObject(value)) return refuse(null, INVALID_REQUEST, 'message must be a JSON object');

  if (issue !== null) {
    // A problem among the top-level keys makes the id itself ambiguous ("id" twice, "ID").
    return refuse(topLevelKeysOk ? readId(value, text, idValueAt).replyId : null, issue.code, issue.reason);
  }
  return checkShape(value, text, idValueAt);
}

/** Whether the UTF-8 encoding of `s` is longer than `max` bytes, avoiding the count when cheap. */
function utf8LengthExceeds(s: string, max: number): boolean {
  // Each UTF-16 unit takes 1 to 3 bytes (a pair takes 4 for 2 units), which bounds the answer.
  if (s.length > max) return true;
  if (s.length * 3 <= max) return false;
  return Buffer.byteLength(s, 'utf8') > max;
}

function tooLarge(maxBytes: number): Refusal {
  return refuse(null, INVALID_REQUEST, `message exceeds the limit of ${maxBytes} bytes`);
}

function refuse(id: JsonRpcId | null, code: number, reason: string): Refusal {
  return { ok: false, id, code, reason };
}

/**
 * Turns a JSON.parse error into a reason. V8's messages may quote the input ("Unexpected
 * token 'x', "…" is not valid JSON"), so only its fixed phrases and the position are kept.
 */
function describeSyntaxError(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  const positioned = /^([ -~]{1,80}?) in JSON at position (\d{1,10})/.exec(message);
  if (positioned !== null && !positioned[1]?.startsWith('Unexpected token')) {
    const phrase = positioned[1] ?? '';
    return `parse error: ${phrase.charAt(0).toLowerCase()}${phrase.slice(1)} at position ${positioned[2] ?? '?'}`;
  }
  if (message.startsWith('Unexpected end of JSON input')) return 'parse error: unexpected end of input';
  return 'parse error: invalid JSON';
}

// ---------------------------------------------------------------------------------------
// The structural scan.

interface ScanResult {
  /** The first problem found, or null. */
  readonly issue: ScanIssue | null;
  /** Index just after the top-level `"id"` key, to check how a numeric id was written; -1 if none. */
  readonly idValueAt: number;
  /** No duplicate, case-variant or forbidden key among the top-level object's keys. */
  readonly topLevelKeysOk: boolean;
}

interface ScanIssue {
  readonly code: number;
  readonly reason: string;
  /** Nesting too deep: the text must not be handed to JSON.parse. */
  readonly depth: boolean;
}

/**
 * One left-to-right pass over the text, tracking open objects/arrays and each open object's
 * keys. Works on any text without throwing and in linear time; its key findings are only
 * trusted once JSON.parse has accepted the same text, but depth tracking needs nothing more
 * than correct string skipping, so it is trusted before.
 *
 * Each open object keeps a map from case-folded key to the key as written; arrays push null.
 * After the first problem it keeps going, tracking depth (so a later `[[[[…` is still caught
 * before JSON.parse) and the top-level keys (so we know whether the id is unambiguous enough
 * to answer with).
 */
function scan(text: string, maxDepth: number): ScanResult {
  const n = text.length;
  let idValueAt = -1;
  let topLevelKeysOk = true;
  const stack: (Map<string, string> | null)[] = [];
  let issue: ScanIssue | null = null;
  // True right after `{` or after `,` inside an object: the next string is a key.
  let expectKey = false;
  // Index of the next backslash at or after the current string's start (n when none left);
  // cached so that strings without escapes are found with one native indexOf each.
  let nextBackslash = -1;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i + 1;
      const isKey = expectKey;
      expectKey = false;
      // After the first problem, keys are still read at the top level, to find the id.
      const wantKey = isKey && (issue === null || stack.length === 1);
      if (nextBackslash < start) {
        const b = text.indexOf('\\', start);
        nextBackslash = b === -1 ? n : b;
      }
      let end = text.indexOf('"', start);
      if (end === -1) end = n; // unterminated; JSON.parse will refuse the text
      let key: string | null = null;
      if (nextBackslash < end) {
        // The string has escapes: walk it to find its real end, decode it if it is a key,
        // and look for escaped lone surrogates.
        const walked = walkEscapedString(text, start, nextBackslash, wantKey);
        end = walked.end;
        key = walked.value;
        if (walked.badSurrogateAt >= 0 && issue === null) {
          issue = {
            code: PARSE_ERROR,
            reason: `parse error: lone surrogate escape at position ${walked.badSurrogateAt}`,
            depth: false,
          };
        }
      } else if (wantKey) {
        key = text.slice(start, end);
      }
      if (key !== null) {
        const topLevel = stack.length === 1;
        const frame = stack[stack.length - 1];
        if (frame && (issue === null || (topLevel && topLevelKeysOk))) {
          const found = checkKey(frame, key);
          if (found !== null) {
            issue ??= found;
            if (topLevel) topLevelKeysOk = false;
          }
        }
        if (key === 'id' && topLevel) idValueAt = end + 1;
      }
      i = end + 1;
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (stack.length >= maxDepth) {
        const reason = `nesting deeper than ${maxDepth} levels`;
        return { issue: { code: INVALID_REQUEST, reason, depth: true }, idValueAt, topLevelKeysOk };
      }
      stack.push(c === OPEN_BRACE ? new Map<string, string>() : null);
      expectKey = c === OPEN_BRACE;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      stack.pop();
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = stack.length > 0 && stack[stack.length - 1] !== null;
    }
    i++;
  }
  return { issue, idValueAt, topLevelKeysOk };
}

function checkKey(frame: Map<string, string>, key: string): ScanIssue | null {
  if (FORBIDDEN_KEYS.has(key)) {
    return { code: INVALID_REQUEST, reason: `forbidden key ${quoteForReason(key)}`, depth: false };
  }
  const folded = foldCase(key);
  const earlier = frame.get(folded);
  if (earlier === undefined) {
    frame.set(folded, key);
    return null;
  }
  const reason =
    earlier === key
      ? `duplicate key ${quoteForReason(key)}`
      : `keys ${quoteForReason(earlier)} and ${quoteForReason(key)} differ only in case`;
  return { code: INVALID_REQUEST, reason, depth: false };
}

/**
 * Case folding for key comparison. Lower-, upper- then lower-casing also joins the pairs that
 * plain lower-casing misses but Go's encoding/json (which matches field names case-insensitively)
 * treats as equal: long s "ſ" with "s", Kelvin sign "K" with "k", "ß" with "ss", and capital
 * sharp s "ẞ" (whose upper case is itself, but whose lower case "ß" upper-cases to "SS"). For
 * ASCII keys (nearly all) lower-casing alone gives the same result, at a third of the cost.
 */
function foldCase(key: string): string {
  return NON_ASCII.test(key) ? key.toLowerCase().toUpperCase().toLowerCase() : key.toLowerCase();
}

const NON_ASCII = /[^\x00-\x7f]/;

interface WalkedString {
  /** Index of the closing quote (or the text's length if unterminated). */
  readonly end: number;
  /** The decoded string, when asked for. */
  readonly value: string | null;
  /** Position of the first escaped lone surrogate, or -1. */
  readonly badSurrogateAt: number;
}

/**
 * Walks a string literal that contains a backslash, from `firstBackslash` to its closing
 * quote. A char-by-char loop (not repeated indexOf) keeps it linear however many escapes
 * there are. A high-surrogate escape must be immediately followed by a low-surrogate escape
 * (a raw low surrogate cannot follow: the text is well-formed by now).
 */
function walkEscapedString(text: string, start: number, firstBackslash: number, decode: boolean): WalkedString {
  const n = text.length;
  let value = '';
  let segmentStart = start;
  let badSurrogateAt = -1;
  let i = firstBackslash;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) break;
    if (c !== BACKSLASH) {
      i++;
      continue;
    }
    const escaped = text.charCodeAt(i + 1);
    let decoded: string;
    let length: number;
    if (escaped === LOWER_U) {
      const unit = hex4(text, i + 2);
      length = 6;
      if (unit >= 0xd800 && unit <= 0xdbff) {
        const low = text.charCodeAt(i + 6) === BACKSLASH && text.charCodeAt(i + 7) === LOWER_U ? hex4(text, i + 8) : -1;
        if (low >= 0xdc00 && low <= 0xdfff) {
          decoded = String.fromCharCode(unit, low);
          length = 12;
        } else {
          if (badSurrogateAt < 0) badSurrogateAt = i;
          decoded = '\ufffd';
        }
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        if (badSurrogateAt < 0) badSurrogateAt = i;
        decoded = '\ufffd';
      } else if (unit >= 0) {
        decoded = String.fromCharCode(unit);
      } else {
        // Not four hex digits: JSON.parse refuses the text anyway. Step over "\u" only, so the
        // walk does not swallow a closing quote and mistrack depth.
        decoded = '\ufffd';
        length = 2;
      }
    } else {
      decoded = simpleEscape(escaped);
      length = 2;
    }
    if (decode) {
      value += text.slice(segmentStart, i) + decoded;
      segmentStart = i + length;
    }
    i += length;
  }
  const end = Math.min(i, n);
  if (decode) value += text.slice(segmentStart, end);
  return { end, value: decode ? value : null, badSurrogateAt };
}

/** The four hex digits at `at` as a number, or -1 if they are not four hex digits. */
function hex4(text: string, at: number): number {
  let v = 0;
  for (let k = at; k < at + 4; k++) {
    const d = hexDigit(text.charCodeAt(k));
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

function simpleEscape(c: number): string {
  switch (c) {
    case 0x62:
      return '\b';
    case 0x66:
      return '\f';
    case 0x6e:
      return '\n';
    case 0x72:
      return '\r';
    case 0x74:
      return '\t';
    default:
      // `"`, `\`, `/` stand for themselves; anything else is invalid and JSON.parse refuses it.
      return Number.isNaN(c) ? '' : String.fromCharCode(c);
  }
}

/**
 * Quotes input text for a reason: at most 32 code points, and everything outside printable
 * ASCII escaped, so no control, bidi or invisible character reaches a log or a screen.
 */
function quoteForReason(s: string): string {
  let out = '"';
  let count = 0;
  for (const ch of s) {
    if (count === MAX_QUOTED) {
      out += '…';
      break;
    }
    const cp = ch.codePointAt(0) ?? 0;
    if (cp >= 0x20 && cp <= 0x7e && ch !== '"' && ch !== '\\') {
      out += ch;
    } else {
      for (let k = 0; k < ch.length; k++) out += `\\u${ch.charCodeAt(k).toString(16).padStart(4, '0')}`;
    }
    count++;
  }
  return `${out}"`;
}

// ---------------------------------------------------------------------------------------
// The JSON-RPC 2.0 shape.

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validId(v: unknown): v is JsonRpcId {
  return idProblem(v) === null;
}

/** Why `v` is not an acceptable id, or null if it is. */
function idProblem(v: unknown): string | null {
  if (typeof v === 'string') {
    if (v.length > MAX_ID_LENGTH) return `id longer than ${MAX_ID_LENGTH} characters`;
    if (LONE_SURROGATE.test(v)) return 'id contains a lone surrogate';
    return null;
  }
  if (typeof v === 'number') return Number.isSafeInteger(v) ? null : 'id must be a safe integer';
  if (v === null) return 'id must not be null';
  return 'id must be a string or an integer';
}

interface IdReading {
  /** Why the id is unacceptable, or null when it is absent or valid. */
  readonly problem: string | null;
  /** The id to answer with: the message's own when present and valid, else null. */
  readonly replyId: JsonRpcId | null;
}

/** Reads and judges the top-level id; `idValueAt` is from the scan (see `ScanResult`). */
function readId(obj: Record<string, unknown>, text: string, idValueAt: number): IdReading {
  if (!Object.hasOwn(obj, 'id')) return { problem: null, replyId: null };
  const id = obj.id;
  let problem = idProblem(id);
  if (problem === null && typeof id === 'number' && !writtenAsInteger(text, idValueAt)) {
    problem = 'id must be an integer written without fraction or exponent';
  }
  return { problem, replyId: problem === null ? (id as JsonRpcId) : null };
}

/**
 * Whether the number at `at` (after optional `:` and whitespace) is written as plain digits.
 * JSON.parse turns `1.0`, `1e0` and even `1e-400` (→ 0) into integers; an id must be an
 * integer as written, not merely after rounding.
 */
function writtenAsInteger(text: string, at: number): boolean {
  PLAIN_INTEGER.lastIndex = at;
  return PLAIN_INTEGER.test(text);
}

const PLAIN_INTEGER = /[ \t\n\r]*:[ \t\n\r]*-?(?:0|[1-9][0-9]*)(?![.eE0-9])/y;

function checkShape(obj: Record<string, unknown>, text: string, idValueAt: number): BoundaryResult {
  const { problem: badId, replyId } = readId(obj, text, idValueAt);
  const invalid = (reason: string): Refusal => refuse(replyId, INVALID_REQUEST, reason);

  if (obj.jsonrpc !== '2.0') return invalid('jsonrpc must be "2.0"');

  const isCall = Object.hasOwn(obj, 'method');
  const hasResult = Object.hasOwn(obj, 'result');
  const hasError = Object.hasOwn(obj, 'error');
  if (!isCall && !hasResult && !hasError) return invalid('message has no method, result or error');
  const allowed = isCall ? CALL_KEYS : RESPONSE_KEYS;
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key))
      return invalid(`unexpected member ${quoteForReason(key)} in a ${isCall ? 'request' : 'response'}`);
  }
  if (badId !== null) return invalid(badId);

  if (isCall) {
    const method = obj.method;
    if (typeof method !== 'string' || method === '') return invalid('method must be a non-empty string');
    if (method.length > MAX_METHOD_LENGTH) return invalid(`method longer than ${MAX_METHOD_LENGTH} characters`);
    const hasParams = Object.hasOwn(obj, 'params');
    const params = obj.params;
    if (hasParams && !isPlainObject(params)) return invalid('params must be an object');
    const withParams = hasParams && isPlainObject(params) ? { params } : {};
    if (replyId === null) return { ok: true, parsed: { kind: 'notification', method, ...withParams, message: obj } };
    return { ok: true, parsed: { kind: 'request', id: replyId, method, ...withParams, message: obj } };
  }

  if (replyId === null) return invalid('a response needs an id');
  if (hasResult && hasError) return invalid('a response has either result or error, not both');
  if (hasError) {
    const error = obj.error;
    if (!isPlainObject(error)) return invalid('error must be an object');
    for (const key of Object.keys(error)) {
      if (!ERROR_KEYS.has(key)) return invalid(`unexpected member ${quoteForReason(key)} in error`);
    }
    if (!Number.isSafeInteger(error.code)) return invalid('error.code must be an integer');
    if (typeof error.message !== 'string') return invalid('error.message must be a string');
  }
  return { ok: true, parsed: { kind: 'response', id: replyId, message: obj } };
}
