/**
 * Shared pieces of the GW-05 fuzz tests (jsonrpc-boundary.fuzz.test.ts, endpoint.fuzz.test.ts):
 * generators of JSON-RPC text, valid and hostile, and checks that an answer is a well-formed
 * JSON-RPC error. Test support only, kept out of src/ so fast-check never ships.
 */
import fc from 'fast-check';

/** JSON-RPC error codes the boundary itself may answer with (jsonrpc-boundary.ts). */
export const BOUNDARY_CODES: readonly number[] = [-32700, -32600];

export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Whether a string has no lone surrogate (String.prototype.isWellFormed, which lib ES2023 lacks). */
export function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u >= 0xd800 && u <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    } else if (u >= 0xdc00 && u <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/** A JSON-RPC id the boundary accepts: a string of at most 256 units without lone surrogates, or a safe integer. */
export function validRpcId(v: unknown): v is string | number {
  if (typeof v === 'string') return v.length <= 256 && wellFormed(v);
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/**
 * Keys that "differ only in case", by any of the usual case mappings: equal lower-cased, equal
 * upper-cased, or equal after upper- then lower-casing either of them or its lower-case form.
 * Deliberately broad and independent of how jsonrpc-boundary.ts folds.
 */
export function caseEqual(a: string, b: string): boolean {
  const forms = (k: string): string[] => [
    k.toLowerCase(),
    k.toUpperCase(),
    k.toUpperCase().toLowerCase(),
    k.toLowerCase().toUpperCase().toLowerCase(),
  ];
  const fa = forms(a);
  const fb = forms(b);
  return fa.some((x, i) => x === fb[i]);
}

/**
 * Why `value` is not a well-formed JSON-RPC 2.0 error response, or null when it is:
 * exactly `{ jsonrpc: '2.0', id, error: { code, message[, data] } }`, id null or a valid id,
 * code a safe integer (in `codes` when given), message a non-empty string.
 */
export function rpcErrorProblem(value: unknown, codes?: readonly number[]): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort().join(',');
  if (keys !== 'error,id,jsonrpc') return `members are ${keys}`;
  if (obj.jsonrpc !== '2.0') return 'jsonrpc is not "2.0"';
  if (obj.id !== null && !validRpcId(obj.id)) return `bad id ${JSON.stringify(obj.id)}`;
  const error = obj.error;
  if (typeof error !== 'object' || error === null || Array.isArray(error)) return 'error is not an object';
  const e = error as Record<string, unknown>;
  for (const k of Object.keys(e))
    if (k !== 'code' && k !== 'message' && k !== 'data') return `unexpected error member ${k}`;
  if (typeof e.code !== 'number' || !Number.isSafeInteger(e.code)) return 'error.code is not an integer';
  if (codes !== undefined && !codes.includes(e.code)) return `error.code ${e.code} not in ${codes.join('/')}`;
  if (typeof e.message !== 'string' || e.message === '') return 'error.message is not a non-empty string';
  return null;
}

/** Why `value` is not a well-formed JSON-RPC 2.0 response (result or error) with this id, or null. */
export function rpcResponseProblem(value: unknown, id: string | number): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const obj = value as Record<string, unknown>;
  if (obj.id !== id) return `id ${JSON.stringify(obj.id)} instead of ${JSON.stringify(id)}`;
  if (Object.hasOwn(obj, 'error')) return rpcErrorProblem(obj);
  const keys = Object.keys(obj).sort().join(',');
  if (keys !== 'id,jsonrpc,result') return `members are ${keys}`;
  if (obj.jsonrpc !== '2.0') return 'jsonrpc is not "2.0"';
  if (typeof obj.result !== 'object' || obj.result === null) return 'result is not an object';
  return null;
}

// ---------------------------------------------------------------------------------------
// Generators.

/** Keys that stress case folding and escaping; some collide with others under case mapping. */
export const TRICKY_KEYS: readonly string[] = [
  'a',
  'A',
  'b',
  'id',
  'ID',
  'Id',
  'method',
  'Method',
  'METHOD',
  'params',
  'jsonrpc',
  'JSONRPC',
  'result',
  'error',
  'ß',
  'ẞ',
  'SS',
  'ss',
  'ſ',
  's',
  'S',
  'K',
  'k',
  'K',
  'ﬀ',
  'ff',
  'İ',
  'i',
  'ı',
  'I',
  'Σ',
  'σ',
  'ς',
  'é',
  'É',
  'Å',
  'å',
  'Å',
  '😀',
  '"',
  '\\',
  '/',
  '\u0000',
  '\n',
  '\u2028',
  '\ufeff',
  '',
  ' ',
  '_meta',
  'name',
  'arguments',
];

/** A key that is never forbidden. */
export const safeKey: fc.Arbitrary<string> = fc
  .oneof(
    fc.constantFrom(...TRICKY_KEYS),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
    fc.string({ unit: 'binary', maxLength: 6 }),
  )
  .filter((k) => !FORBIDDEN_KEYS.has(k) && wellFormed(k));

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }).filter((s) => wellFormed(s)),
);

const tree = fc.letrec<{ value: unknown; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 4 }, leaf, fc.array(tie('value'), { maxLength: 4 }), tie('object')),
  object: fc
    .array(fc.tuple(safeKey, tie('value')), { maxLength: 5 })
    // Keep the first of any keys that differ only in case, so the object is unambiguous.
    .map((entries) => {
      const kept: [string, unknown][] = [];
      for (const [k, v] of entries) if (!kept.some(([q]) => caseEqual(q, k))) kept.push([k, v]);
      return Object.fromEntries(kept);
    }),
}));

/** Any JSON value without duplicate, case-variant or forbidden keys and without lone surrogates. */
export const cleanJsonValue: fc.Arbitrary<unknown> = tree.value;
/** Any such JSON object. */
export const cleanJsonObject: fc.Arbitrary<Record<string, unknown>> = tree.object;

/** Ids the boundary accepts. */
export const validId: fc.Arbitrary<string | number> = fc.oneof(
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.integer({ min: -3, max: 3 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => s.length <= 256),
  fc.constantFrom('', '0', '1', 'x'.repeat(256), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
);

export const methodName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'ping',
    'tools/list',
    'tools/call',
    'prompts/list',
    'resources/list',
    'initialize',
    'notifications/initialized',
    'no/such/method',
  ),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 }),
);

/** A valid request, notification or response as an object (not yet serialised). */
export const validMessage: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record(
    { jsonrpc: fc.constant('2.0'), id: validId, method: methodName, params: cleanJsonObject },
    { requiredKeys: ['jsonrpc', 'id', 'method'] },
  ),
  fc.record(
    { jsonrpc: fc.constant('2.0'), method: methodName, params: cleanJsonObject },
    { requiredKeys: ['jsonrpc', 'method'] },
  ),
  fc.record({ jsonrpc: fc.constant('2.0'), id: validId, result: cleanJsonValue }),
  fc.record({
    jsonrpc: fc.constant('2.0'),
    id: validId,
    error: fc.record(
      { code: fc.integer(), message: fc.string(), data: cleanJsonValue },
      { requiredKeys: ['code', 'message'] },
    ),
  }),
);

/** Escapes every UTF-16 unit of a string as \uXXXX (same value, different text). */
export function escapeAll(s: string): string {
  let out = '"';
  for (let k = 0; k < s.length; k++) out += `\\u${s.charCodeAt(k).toString(16).padStart(4, '0')}`;
  return `${out}"`;
}

/**
 * Serialises a JSON value with a choice of whitespace and key escaping, so equal values get
 * different texts. `style` 0: JSON.stringify; 1: pretty; 2: keys fully \u-escaped; 3: spaces everywhere.
 */
export function serialise(value: unknown, style: number): string {
  if (style === 0) return JSON.stringify(value);
  if (style === 1) return JSON.stringify(value, null, 2);
  const rec = (v: unknown): string => {
    if (Array.isArray(v)) return `[ ${v.map(rec).join(' , ')} ]`;
    if (typeof v === 'object' && v !== null) {
      return `{ ${Object.entries(v)
        .map(([k, x]) => `${style === 2 ? escapeAll(k) : JSON.stringify(k)} :\t${rec(x)}`)
        .join(' ,\r\n')} }`;
    }
    return JSON.stringify(v);
  };
  return rec(value);
}

/** Byte sequences that are not valid UTF-8 (or a BOM, refused at the start). */
export const INVALID_UTF8: readonly (readonly number[])[] = [
  [0x80], // lone continuation
  [0xbf],
  [0xc0, 0xaf], // overlong "/"
  [0xc1, 0xbf],
  [0xe0, 0x80, 0xaf], // overlong
  [0xed, 0xa0, 0x80], // encoded high surrogate
  [0xed, 0xbf, 0xbf], // encoded low surrogate
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xf5, 0x80, 0x80, 0x80],
  [0xe2, 0x82], // truncated "€"
  [0xf0, 0x9f, 0x98], // truncated "😀"
  [0xc3], // truncated "é"
  [0xfe],
  [0xff],
];

export function concatBytes(...parts: readonly (Uint8Array | readonly number[])[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Hostile text.

/** Pieces of JSON(-RPC) text, so random concatenations get deep into the scanner. */
const fragment: fc.Arbitrary<string> = fc.constantFrom(
  '{',
  '}',
  '[',
  ']',
  '"',
  '\\',
  ':',
  ',',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u00a0',
  '\u000b',
  'a',
  'A',
  '0',
  '1',
  '-',
  '+',
  '.',
  'e',
  'E',
  'null',
  'true',
  'false',
  'NaN',
  'Infinity',
  '\\u0061',
  '\\u0000',
  '\\ud800',
  '\\udc00',
  '\\ud83d\\ude00',
  '\\"',
  '\\\\',
  '\\x',
  '"jsonrpc"',
  '"2.0"',
  '"id"',
  '"ID"',
  '"method"',
  '"Method"',
  '"params"',
  '"result"',
  '"error"',
  '"code"',
  '"message"',
  '"__proto__"',
  '"constructor"',
  '"prototype"',
  '"\\u005f_proto__"',
  '😀',
  '\ud800',
  '\ufeff',
  'é',
  'ß',
  'ẞ',
);
const envelope: fc.Arbitrary<string> = fc.constantFrom(
  '',
  '{"jsonrpc":"2.0","id":1,"method":"m","params":{',
  '{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"t","arguments":',
  '{"jsonrpc":"2.0","id":7,"result":',
  '{"id":9,"jsonrpc":"2.0","error":{"code":1,"message":',
);
export const fragmentText: fc.Arbitrary<string> = fc
  .tuple(envelope, fc.array(fragment, { maxLength: 40 }))
  .map(([p, parts]) => p + parts.join(''));

/** A valid message, serialised in one of several equivalent ways. */
export const validText: fc.Arbitrary<string> = fc
  .tuple(validMessage, fc.integer({ min: 0, max: 3 }))
  .map(([m, style]) => serialise(m, style));

export type Mutation = (text: string) => string;

/** A JSON value written as text, including numbers JSON.parse rounds. */
export const valueText: fc.Arbitrary<string> = fc.oneof(
  cleanJsonValue.map((v) => JSON.stringify(v)),
  fc.constantFrom(
    '1.0',
    '1e0',
    '1E+0',
    '-0',
    '0.0',
    '1e400',
    '-1e400',
    '1e-400',
    '9007199254740993',
    '-9007199254740993',
    '123456789012345678901234567890',
    '0.1',
    '{}',
    '[]',
    'null',
    'true',
    '""',
    '"\\ud800"',
  ),
);

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // A second copy of a key, exact or in another case, added at the top level.
  fc
    .tuple(
      fc.constantFrom(
        'id',
        'method',
        'jsonrpc',
        'params',
        'result',
        'error',
        'Id',
        'ID',
        'Method',
        'METHOD',
        'JsonRpc',
        'Params',
      ),
      valueText,
      fc.boolean(),
    )
    .map(([k, v, escaped]): Mutation => (t) => {
      const at = t.lastIndexOf('}');
      return at < 0 ? t : `${t.slice(0, at)},${escaped ? escapeAll(k) : JSON.stringify(k)}:${v}${t.slice(at)}`;
    }),
  // A top-level key renamed to a case variant ("method" -> "Method").
  fc.tuple(fc.constantFrom('"method"', '"id"', '"jsonrpc"', '"params"', '"result"', '"error"'), fc.nat()).map(
    ([k, seed]): Mutation =>
      (t) =>
        t.replace(k, (m) => [...m].map((ch, i) => ((seed >> i) & 1 ? ch.toUpperCase() : ch)).join('')),
  ),
  // A key inserted just after some '{' (any depth): tricky, forbidden, or a copy of the next key.
  fc
    .tuple(
      fc.nat(),
      fc.oneof(
        fc.constantFrom(...TRICKY_KEYS, ...FORBIDDEN_KEYS, '\\u005f_proto__', 'construct\\u006fr'),
        fc.string({ maxLength: 4 }),
      ),
      valueText,
      fc.boolean(),
    )
    .map(([n, key, v, copyNext]): Mutation => (t) => {
      const opens = [...t.matchAll(/\{/g)].map((m) => m.index);
      if (opens.length === 0) return t;
      const at = (opens[n % opens.length] ?? 0) + 1;
      const next = /^\s*("(?:[^"\\]|\\.)*")/.exec(t.slice(at));
      const keyText =
        copyNext && next?.[1] !== undefined ? next[1] : key.includes('\\') ? `"${key}"` : JSON.stringify(key);
      const sep = /^\s*\}/.test(t.slice(at)) ? '' : ',';
      return `${t.slice(0, at)}${keyText}:${v}${sep}${t.slice(at)}`;
    }),
  // The id replaced by an odd value.
  valueText.map(
    (v): Mutation =>
      (t) =>
        t.replace(/"id":(-?[0-9]+|"(?:[^"\\]|\\.)*")/, `"id":${v}`),
  ),
  // Truncated anywhere.
  fc.nat().map(
    (n): Mutation =>
      (t) =>
        t.slice(0, n % (t.length + 1)),
  ),
  // Characters overwritten, inserted or deleted.
  fc
    .tuple(
      fc.nat(),
      fc.constantFrom(...'{}[]":,\\ \u0000\u001f\u007f\u00a0\u2028😀\ud800\udc00\ufeffaZ09.-+eE'),
      fc.constantFrom('replace', 'insert', 'delete'),
    )
    .map(([n, ch, how]): Mutation => (t) => {
      const at = n % (t.length + 1);
      if (how === 'insert') return t.slice(0, at) + ch + t.slice(at);
      if (how === 'delete') return t.slice(0, at) + t.slice(at + 1);
      return t.slice(0, at) + ch + t.slice(at + 1);
    }),
  // Wrapped in a batch, or followed by a second message or garbage.
  fc.constantFrom<Mutation>(
    (t) => `[${t}]`,
    (t) => `[${t},${t}]`,
    (t) => `${t}${t}`,
    (t) => `${t}\n`,
    (t) => ` \r\n\t${t} `,
    (t) => `\ufeff${t}`,
    (t) => `${t},`,
    (t) => `${t}}`,
    (t) => `${t}\u0000`,
    () => `[]`,
    () => `{}`,
  ),
  // The params or result wrapped in k levels of objects or arrays.
  fc.tuple(fc.integer({ min: 1, max: 70 }), fc.boolean()).map(
    ([k, arrays]): Mutation =>
      (t) =>
        t
          .replace(/"(params|result)":/, (m) => `${m}${(arrays ? '[' : '{"w":').repeat(k)}`)
          .replace(/\}$/, `${(arrays ? ']' : '}').repeat(k)}}`),
  ),
);

export const mutatedText: fc.Arbitrary<string> = fc
  .tuple(validText, fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([t, ms]) => ms.reduce((acc, m) => m(acc), t));
