/**
 * GW-05 fuzzing of the strict JSON-RPC boundary (jsonrpc-boundary.ts) against an independent
 * reference: a small RFC 8259 recursive-descent parser written here, plus the JSON-RPC 2.0 shape
 * rules restated from the module's contract. Every input, however hostile, must get exactly the
 * reference's verdict; accepted messages must equal what JSON.parse gives; refusals must carry a
 * documented code and the request's own valid id or null. fast-check prints the seed and the
 * shrunk counter-example of any failure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  boundaryErrorResponse,
  DEFAULT_BOUNDARY_LIMITS,
  parseJsonRpc,
  type BoundaryLimits,
  type BoundaryResult,
  type JsonRpcId,
} from './jsonrpc-boundary.js';
import {
  BOUNDARY_CODES,
  caseEqual,
  concatBytes,
  escapeAll,
  FORBIDDEN_KEYS,
  fragmentText,
  INVALID_UTF8,
  mutatedText,
  rpcErrorProblem,
  TRICKY_KEYS,
  utf8,
  validId,
  validRpcId,
  validText,
  wellFormed,
} from '../../test/kits/gateway-fuzz.js';

const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;

// ---------------------------------------------------------------------------------------
// The reference parser: strict RFC 8259, keeping every object member (duplicates included)
// and the text of every number.

type RNode =
  | { readonly t: 'obj'; readonly entries: readonly (readonly [string, RNode])[] }
  | { readonly t: 'arr'; readonly items: readonly RNode[] }
  | { readonly t: 'str'; readonly v: string }
  | { readonly t: 'num'; readonly raw: string }
  | { readonly t: 'lit' };

class RefSyntaxError extends Error {}

/** A run of string characters needing no attention: not a quote, backslash or control character. */
const PLAIN_RUN = /[^"\\\u0000-\u001f]+/y;

/** Parses `text` as one JSON value (RFC 8259), or returns null when it is not valid JSON. */
function refParse(text: string): RNode | null {
  let i = 0;
  const fail = (): never => {
    throw new RefSyntaxError(`at ${i}`);
  };
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const str = (): string => {
    if (text[i] !== '"') fail();
    i++;
    let out = '';
    for (;;) {
      if (i >= text.length) fail();
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return out;
      }
      if (c < 0x20) fail();
      if (c !== 0x5c) {
        PLAIN_RUN.lastIndex = i;
        const run = PLAIN_RUN.exec(text)?.[0] ?? '';
        out += run;
        i += run.length;
        continue;
      }
      const e = text[i + 1];
      const simple: Record<string, string> = {
        '"': '"',
        '\\': '\\',
        '/': '/',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
      };
      if (e !== undefined && Object.hasOwn(simple, e)) {
        out += simple[e];
        i += 2;
      } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
      } else {
        fail();
      }
    }
  };
  const value = (): RNode => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const entries: [string, RNode][] = [];
      ws();
      if (text[i] === '}') {
        i++;
        return { t: 'obj', entries };
      }
      for (;;) {
        ws();
        const k = str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        entries.push([k, value()]);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return { t: 'obj', entries };
        }
        fail();
      }
    }
    if (c === '[') {
      i++;
      const items: RNode[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { t: 'arr', items };
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return { t: 'arr', items };
        }
        fail();
      }
    }
    if (c === '"') return { t: 'str', v: str() };
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return { t: 'lit' };
      }
    }
    const m = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    m.lastIndex = i;
    const num = m.exec(text);
    if (num === null) return fail();
    i += num[0].length;
    return { t: 'num', raw: num[0] };
  };
  try {
    const v = value();
    ws();
    if (i !== text.length) fail();
    return v;
  } catch (error) {
    if (error instanceof RefSyntaxError || error instanceof RangeError) return null;
    throw error;
  }
}

/** Deepest nesting of objects and arrays (top level = 1; scalars 0). */
function nodeDepth(n: RNode): number {
  if (n.t === 'obj') return 1 + Math.max(0, ...n.entries.map(([, v]) => nodeDepth(v)));
  if (n.t === 'arr') return 1 + Math.max(0, ...n.items.map(nodeDepth));
  return 0;
}

/**
 * Bracket depth of arbitrary (possibly invalid) text, skipping string literals the way any JSON
 * tokenizer must: a backslash escapes the next character. Stops counting past `cap`. A stray
 * closing bracket never takes the depth below zero (as a parser's stack cannot go below empty):
 * nesting after it counts from the top again.
 */
function textualDepth(text: string, cap: number): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth > max) max = depth;
      if (max > cap) return max;
    } else if (c === '}' || c === ']') {
      depth = Math.max(0, depth - 1);
    }
  }
  return max;
}

interface KeyIssues {
  /** Some object holds two keys that differ only in case (or are equal), or a forbidden key. */
  readonly keys: boolean;
  /** Some string or key holds a lone surrogate (necessarily written as an escape here). */
  readonly surrogate: boolean;
}

function keyIssues(n: RNode): KeyIssues {
  let keys = false;
  let surrogate = false;
  const walk = (x: RNode): void => {
    if (x.t === 'str') {
      if (!wellFormed(x.v)) surrogate = true;
    } else if (x.t === 'arr') {
      x.items.forEach(walk);
    } else if (x.t === 'obj') {
      if (topKeysAmbiguous(x.entries)) keys = true;
      for (const [k, v] of x.entries) {
        if (!wellFormed(k)) surrogate = true;
        walk(v);
      }
    }
  };
  walk(n);
  return { keys, surrogate };
}

/** Whether an object's own keys are ambiguous: forbidden, duplicated, or equal but for case. */
function topKeysAmbiguous(entries: readonly (readonly [string, RNode])[]): boolean {
  for (let a = 0; a < entries.length; a++) {
    const ka = entries[a]?.[0] ?? '';
    if (FORBIDDEN_KEYS.has(ka)) return true;
    for (let b = a + 1; b < entries.length; b++) if (caseEqual(ka, entries[b]?.[0] ?? '')) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// The reference verdict.

type Verdict =
  | {
      readonly accept: true;
      readonly value: Record<string, unknown>;
      readonly kind: 'request' | 'notification' | 'response';
    }
  /** `codes`: the acceptable codes (one when the reference can tell); `id`: the exact reply id. */
  | { readonly accept: false; readonly codes: readonly number[]; readonly id: JsonRpcId | null; readonly why: string };

const refuse = (codes: readonly number[], why: string, id: JsonRpcId | null = null): Verdict => ({
  accept: false,
  codes,
  id,
  why,
});

function reference(raw: string | Uint8Array, limits: BoundaryLimits): Verdict {
  let text: string;
  if (typeof raw === 'string') {
    // (A lone surrogate counts as the 3 bytes of U+FFFD, as Buffer.byteLength counts it.)
    if (Buffer.byteLength(raw, 'utf8') > limits.maxBytes) return refuse([INVALID_REQUEST], 'too large');
    if (!wellFormed(raw)) return refuse([PARSE_ERROR], 'lone surrogate');
    if (raw.startsWith('\ufeff')) return refuse([PARSE_ERROR], 'BOM');
    text = raw;
  } else {
    if (raw.byteLength > limits.maxBytes) return refuse([INVALID_REQUEST], 'too large');
    if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) return refuse([PARSE_ERROR], 'BOM');
    // Valid UTF-8 exactly when decoding with replacement and re-encoding gives the same bytes.
    const decoded = Buffer.from(raw).toString('utf8');
    if (!Buffer.from(decoded, 'utf8').equals(Buffer.from(raw))) return refuse([PARSE_ERROR], 'invalid UTF-8');
    text = decoded;
  }

  if (textualDepth(text, limits.maxDepth) > limits.maxDepth) return refuse([INVALID_REQUEST], 'too deep');
  const node = refParse(text);
  let native: unknown;
  let nativeOk = true;
  try {
    native = JSON.parse(text);
  } catch {
    nativeOk = false;
  }
  // The reference parser must agree with JSON.parse on syntax, or the reference is wrong.
  expect({ reference: node !== null, native: nativeOk, text: text.slice(0, 200) }).toEqual({
    reference: nativeOk,
    native: nativeOk,
    text: text.slice(0, 200),
  });
  if (node === null) return refuse([PARSE_ERROR], 'invalid JSON');
  expect(nodeDepth(node)).toBeLessThanOrEqual(limits.maxDepth);

  if (node.t === 'arr') return refuse([INVALID_REQUEST], 'batch');
  if (node.t !== 'obj') return refuse([INVALID_REQUEST], 'not an object');
  const obj = native as Record<string, unknown>;

  // The reply id: the top-level "id" when the top-level keys are unambiguous and the id valid,
  // numbers written as plain integers.
  const topOk = !topKeysAmbiguous(node.entries);
  const idEntry = node.entries.find(([k]) => k === 'id');
  let replyId: JsonRpcId | null = null;
  let idBad = false;
  if (idEntry !== undefined) {
    const idNode = idEntry[1];
    const plainInteger = idNode.t === 'num' && /^-?(?:0|[1-9][0-9]*)$/.test(idNode.raw);
    idBad = !validRpcId(obj.id) || (idNode.t === 'num' && !plainInteger);
    if (topOk && !idBad) replyId = obj.id as JsonRpcId;
  }

  const issues = keyIssues(node);
  if (issues.keys || issues.surrogate) {
    const codes =
      issues.keys && issues.surrogate
        ? [INVALID_REQUEST, PARSE_ERROR]
        : issues.keys
          ? [INVALID_REQUEST]
          : [PARSE_ERROR];
    return refuse(codes, 'keys or surrogates', replyId);
  }

  const bad = (why: string): Verdict => refuse([INVALID_REQUEST], why, replyId);
  if (obj.jsonrpc !== '2.0') return bad('jsonrpc');
  const isCall = Object.hasOwn(obj, 'method');
  const allowed = isCall ? ['jsonrpc', 'id', 'method', 'params'] : ['jsonrpc', 'id', 'result', 'error'];
  if (!isCall && !Object.hasOwn(obj, 'result') && !Object.hasOwn(obj, 'error')) return bad('no method/result/error');
  if (Object.keys(obj).some((k) => !allowed.includes(k))) return bad('unexpected member');
  if (idBad) return bad('bad id');
  const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isCall) {
    if (typeof obj.method !== 'string' || obj.method === '' || obj.method.length > 256) return bad('method');
    if (Object.hasOwn(obj, 'params') && !isObject(obj.params)) return bad('params');
    return { accept: true, value: obj, kind: idEntry === undefined ? 'notification' : 'request' };
  }
  if (idEntry === undefined) return bad('response without id');
  if (Object.hasOwn(obj, 'result') && Object.hasOwn(obj, 'error')) return bad('result and error');
  if (Object.hasOwn(obj, 'error')) {
    const e = obj.error;
    if (!isObject(e)) return bad('error not an object');
    const eo = e as Record<string, unknown>;
    if (Object.keys(eo).some((k) => !['code', 'message', 'data'].includes(k))) return bad('error member');
    if (!Number.isSafeInteger(eo.code) || typeof eo.message !== 'string') return bad('error code/message');
  }
  return { accept: true, value: obj, kind: 'response' };
}

// ---------------------------------------------------------------------------------------
// The check every property applies.

/** Parses with the real boundary and asserts the reference's verdict exactly. */
function check(raw: string | Uint8Array, limits: BoundaryLimits = DEFAULT_BOUNDARY_LIMITS): BoundaryResult {
  let result: BoundaryResult;
  try {
    result = parseJsonRpc(raw, limits);
  } catch (error) {
    // Documented: parseJsonRpc never throws.
    throw new Error(`parseJsonRpc threw ${String(error)}`);
  }
  const expected = reference(raw, limits);
  if (expected.accept) {
    expect(result.ok ? 'accepted' : `refused ${result.code} ${result.reason}`).toBe('accepted');
    if (!result.ok) return result;
    const p = result.parsed;
    // Exactly what JSON.parse gives, with an ordinary prototype.
    expect(p.message).toStrictEqual(expected.value);
    expect(Object.getPrototypeOf(p.message)).toBe(Object.prototype);
    expect(p.kind).toBe(expected.kind);
    if (p.kind !== 'notification') expect(p.id).toBe(expected.value.id);
    if (p.kind !== 'response') {
      expect(p.method).toBe(expected.value.method);
      if (Object.hasOwn(expected.value, 'params')) expect(p.params).toBe(p.message.params);
      else expect('params' in p).toBe(false);
    }
  } else {
    expect(result.ok ? `accepted ${JSON.stringify(result.parsed.message).slice(0, 200)}` : 'refused').toBe('refused');
    if (result.ok) return result;
    expect({ code: result.code, id: result.id, reference: expected.why }).toEqual({
      code: expected.codes.includes(result.code) ? result.code : expected.codes,
      id: expected.id,
      reference: expected.why,
    });
    // Printable ASCII only; at most 32 characters of each quoted key (each up to 12 when escaped).
    expect(result.reason).toMatch(/^[ -~…]{1,1000}$/);
    const response = boundaryErrorResponse(result);
    expect(rpcErrorProblem(response, BOUNDARY_CODES)).toBeNull();
    expect(response.id).toBe(result.id);
    // It survives the wire: serialised and parsed back, it is the same JSON (an id written -0 comes back 0).
    const wire = JSON.stringify(response);
    expect(JSON.stringify(JSON.parse(wire))).toBe(wire);
  }
  return result;
}

// ---------------------------------------------------------------------------------------
// Generators of hostile input.

/** UTF-8 bytes of a text with invalid sequences spliced in at some positions. */
const withBadBytes = fc
  .tuple(
    fc.oneof(validText, mutatedText),
    fc.array(fc.tuple(fc.nat(), fc.constantFrom(...INVALID_UTF8)), { minLength: 1, maxLength: 3 }),
  )
  .map(([t, splices]) => {
    let b = utf8(t);
    for (const [n, seq] of splices) {
      const at = n % (b.length + 1);
      b = concatBytes(b.subarray(0, at), seq, b.subarray(at));
    }
    return b;
  })
  // Two splices can happen to form a valid sequence (E2 82 + 80 = U+2002): keep only invalid results.
  .filter((b) => !Buffer.from(Buffer.from(b).toString('utf8'), 'utf8').equals(Buffer.from(b)));

const anyUnits = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)),
  maxLength: 60,
});
const asBytesOrString = <T extends string>(arb: fc.Arbitrary<T>): fc.Arbitrary<string | Uint8Array> =>
  fc.tuple(arb, fc.boolean()).map(([s, asBytes]) => (asBytes && wellFormed(s) ? utf8(s) : s));

const SMALL: BoundaryLimits = { maxBytes: 512, maxDepth: 64 };
const RUNS = { numRuns: 1000 };

describe('GW-05 fuzz: parseJsonRpc against an independent reference', () => {
  it('GW-05 fuzz 1: arbitrary bytes never throw and get the reference verdict', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fragmentText.map(utf8),
      validText.map(utf8),
      fc
        .tuple(
          validText,
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        )
        .map(([t, edits]) => {
          const b = utf8(t);
          for (const [at, v] of edits) if (b.length > 0) b[at % b.length] = v;
          return b;
        }),
    );
    fc.assert(
      fc.property(bytes, fc.boolean(), (b, small) => {
        check(b, small ? SMALL : DEFAULT_BOUNDARY_LIMITS);
      }),
      RUNS,
    );
  });

  it('GW-05 fuzz 2: arbitrary UTF-16 strings (lone surrogates, BOMs, control characters) get the reference verdict', () => {
    fc.assert(
      fc.property(fc.oneof(anyUnits, fragmentText, fc.string({ unit: 'binary', maxLength: 80 })), (s) => {
        check(s);
      }),
      RUNS,
    );
  });

  it('GW-05 fuzz 3: arbitrary JSON values, alone or in a JSON-RPC envelope, get the reference verdict', () => {
    const placed = fc
      .tuple(
        fc.jsonValue({ maxDepth: 4 }),
        fc.constantFrom('bare', 'params', 'result', 'id', 'method', 'error', 'jsonrpc'),
        validId,
      )
      .map(([v, where, id]) => {
        const j = JSON.stringify(v) ?? 'null';
        switch (where) {
          case 'bare':
            return j;
          case 'params':
            return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":${j}}`;
          case 'result':
            return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${j}}`;
          case 'id':
            return `{"jsonrpc":"2.0","id":${j},"method":"ping"}`;
          case 'method':
            return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":${j}}`;
          case 'error':
            return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"error":${j}}`;
          default:
            return `{"jsonrpc":${j},"method":"m"}`;
        }
      });
    fc.assert(
      fc.property(asBytesOrString(placed), (raw) => {
        check(raw);
      }),
      RUNS,
    );
  });

  it('GW-05 fuzz 4: valid messages, however written, are accepted and equal JSON.parse of the text', () => {
    fc.assert(
      fc.property(asBytesOrString(validText), (raw) => {
        const r = check(raw);
        expect(r.ok).toBe(true);
      }),
      RUNS,
    );
  });

  it('GW-05 fuzz 5: mutated valid requests (duplicate/case-variant/forbidden keys, odd ids, truncation, batches, nesting) get the reference verdict', () => {
    fc.assert(
      fc.property(asBytesOrString(mutatedText), fc.boolean(), (raw, small) => {
        check(raw, small ? SMALL : DEFAULT_BOUNDARY_LIMITS);
      }),
      { numRuns: 3000 },
    );
  });

  it('GW-05 fuzz 6: invalid UTF-8 anywhere is a parse error with a null id', () => {
    fc.assert(
      fc.property(withBadBytes, (b) => {
        const r = check(b);
        expect(r.ok).toBe(false);
        if (!r.ok) expect([r.code, r.id]).toEqual([PARSE_ERROR, null]);
      }),
      RUNS,
    );
  });

  it('GW-05 fuzz 7: two keys of one object that differ only in case are refused (-32600), at any depth', () => {
    // Any key against its own upper- or lower-case form, as the Unicode case mappings give it.
    const pair = fc
      .tuple(
        fc.oneof(fc.constantFrom(...TRICKY_KEYS), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 })),
        fc.boolean(),
      )
      .map(([k, upper]) => [k, upper ? k.toUpperCase() : k.toLowerCase()] as const)
      .filter(([a, b]) => a !== b && wellFormed(a) && !FORBIDDEN_KEYS.has(a) && !FORBIDDEN_KEYS.has(b));
    fc.assert(
      fc.property(
        pair,
        fc.constantFrom('params', 'arguments', 'array', 'top'),
        validId,
        fc.boolean(),
        fc.boolean(),
        ([a, b], where, id, escaped, asBytes) => {
          const k = (s: string): string => (escaped ? escapeAll(s) : JSON.stringify(s));
          const members = `${k(a)}:1,${k(b)}:2`;
          const text =
            where === 'top'
              ? `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"m",${members}}`
              : where === 'params'
                ? `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"m","params":{${members}}}`
                : where === 'arguments'
                  ? `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":{"name":"x","arguments":{"v":{${members}}}}}`
                  : `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"m","params":{"list":[{},{${members}}]}}`;
          const r = check(asBytes ? utf8(text) : text);
          expect(r.ok).toBe(false);
          // Nested ambiguity leaves the id readable; ambiguity among top-level keys does not.
          if (!r.ok) expect([r.code, r.id]).toEqual([INVALID_REQUEST, where === 'top' ? null : id]);
        },
      ),
      RUNS,
    );
  });

  it('GW-05 fuzz 8: nesting around the limit: depth <= maxDepth accepted, deeper refused (-32600, id null)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 80 }),
        fc.constantFrom(64, 8, 1, 2),
        fc.array(fc.boolean(), { minLength: 80, maxLength: 80 }),
        fc.boolean(),
        (depth, maxDepth, kinds, asBytes) => {
          // A request whose params.a holds a nest of `depth - 2` objects/arrays: total depth `depth`
          // (top level 1, params 2, ...); depth 1 is a request without params.
          let inner = '0';
          for (let d = depth - 2; d >= 1; d--) inner = kinds[d] ? `[${inner}]` : `{"k":${inner}}`;
          const text =
            depth === 1
              ? '{"jsonrpc":"2.0","id":5,"method":"m"}'
              : `{"jsonrpc":"2.0","id":5,"method":"m","params":${depth === 2 ? '{}' : `{"a":${inner}}`}}`;
          const limits = { maxBytes: DEFAULT_BOUNDARY_LIMITS.maxBytes, maxDepth };
          const r = check(asBytes ? utf8(text) : text, limits);
          expect(r.ok).toBe(depth <= maxDepth);
          if (!r.ok) expect([r.code, r.id]).toEqual([INVALID_REQUEST, null]);
        },
      ),
      RUNS,
    );
  });

  it('GW-05 fuzz 9: size around the limit: at most maxBytes UTF-8 bytes accepted, more refused (-32600), as bytes or string', () => {
    const pad = fc.constantFrom('a', 'é', '€', '😀', '\\n', '\\u00e9');
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 3000 }),
        fc.integer({ min: -4, max: 4 }),
        pad,
        fc.boolean(),
        (maxBytes, delta, unit, asBytes) => {
          const head = '{"jsonrpc":"2.0","id":3,"method":"m","params":{"s":"';
          const tail = '"}}';
          const target = maxBytes + delta;
          const room = target - head.length - tail.length;
          const unitBytes = Buffer.byteLength(unit);
          const text = head + unit.repeat(Math.floor(room / unitBytes)) + 'a'.repeat(room % unitBytes) + tail;
          const size = Buffer.byteLength(text);
          expect(size).toBe(target);
          const r = check(asBytes ? utf8(text) : text, { maxBytes, maxDepth: 64 });
          expect(r.ok).toBe(size <= maxBytes);
        },
      ),
      RUNS,
    );
  });

  it('GW-05 fuzz 10: 4 MiB messages at the default limit, and far beyond it', () => {
    const max = DEFAULT_BOUNDARY_LIMITS.maxBytes;
    fc.assert(
      fc.property(
        fc.integer({ min: -2, max: 2 }),
        fc.constantFrom('x', 'ü', '[', '{"a":'),
        fc.boolean(),
        (delta, filler, asBytes) => {
          let text: string;
          if (filler === '[' || filler === '{"a":') {
            // A nesting bomb as large as the limit allows: refused by depth, never handed to JSON.parse.
            text = filler.repeat(Math.floor((max + delta) / filler.length));
          } else {
            const head = '{"jsonrpc":"2.0","id":"big","method":"m","params":{"s":"';
            const tail = '"}}';
            const room = max + delta - head.length - tail.length;
            text =
              head +
              filler.repeat(Math.floor(room / Buffer.byteLength(filler))) +
              'a'.repeat(room % Buffer.byteLength(filler)) +
              tail;
          }
          const r = check(asBytes ? utf8(text) : text);
          if (filler === 'x' || filler === 'ü') expect(r.ok).toBe(Buffer.byteLength(text) <= max);
          else expect(r.ok).toBe(false);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('GW-05 fuzz 11: odd ids (fractions, exponents, huge, null, objects, long strings) are judged exactly', () => {
    const oddId = fc.oneof(
      fc.constantFrom(
        '1.0',
        '1e0',
        '1E2',
        '-0',
        '0.5',
        '1e400',
        '-1e400',
        '1e-400',
        '9007199254740991',
        '9007199254740992',
        '-9007199254740993',
        '1' + '0'.repeat(400),
        'null',
        'true',
        '{}',
        '{"a":1}',
        '[]',
        '[1]',
        '""',
        '"\\ud800"',
        '"\\ud83d\\ude00"',
      ),
      fc
        .double()
        .filter(Number.isFinite)
        .map((d) => JSON.stringify(d)),
      fc.integer().map(String),
      fc.string({ unit: 'grapheme', minLength: 250, maxLength: 260 }).map((s) => JSON.stringify(s)),
      fc
        .string({ unit: 'binary', maxLength: 10 })
        .filter((s) => wellFormed(s))
        .map((s) => JSON.stringify(s)),
    );
    const shape = fc.constantFrom(
      (id: string) => `{"jsonrpc":"2.0","id":${id},"method":"ping"}`,
      (id: string) => `{"id":${id},"jsonrpc":"2.0","result":{}}`,
      (id: string) => `{"jsonrpc":"2.0","id":${id},"error":{"code":-1,"message":"m"}}`,
      (id: string) => `{"jsonrpc":"2.0","id":${id},"method":"ping","params":[]}`,
      (id: string) => `{"jsonrpc":"2.0","id":${id},"method":"ping","params":{"a":1,"A":2}}`,
    );
    fc.assert(
      fc.property(oddId, shape, fc.boolean(), (id, make, asBytes) => {
        const text = make(id);
        check(asBytes ? utf8(text) : text);
      }),
      RUNS,
    );
  });

  it('GW-05 fuzz 12: __proto__/constructor/prototype keys are refused anywhere and never pollute a prototype', () => {
    const key = fc.constantFrom(
      '"__proto__"',
      '"constructor"',
      '"prototype"',
      '"\\u005f\\u005fproto\\u005f\\u005f"',
      '"con\\u0073tructor"',
      '"proto\\u0074ype"',
    );
    fc.assert(
      fc.property(key, fc.integer({ min: 0, max: 4 }), validId, (k, level, id) => {
        let inner = `{${k}:{"polluted":true},"x":1}`;
        for (let d = 0; d < level; d++) inner = `{"n":${inner}}`;
        const text =
          level === 0
            ? `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"m",${k}:{"polluted":true}}`
            : `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"m","params":${inner}}`;
        const r = check(text);
        expect(r.ok).toBe(false);
        if (!r.ok) expect([r.code, r.id]).toEqual([INVALID_REQUEST, level === 0 ? null : id]);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      RUNS,
    );
  });

  it('GW-05 fuzz 13: batches are refused (-32600, id null), whatever they hold', () => {
    fc.assert(
      fc.property(fc.array(validText, { maxLength: 4 }), fc.boolean(), (items, asBytes) => {
        const text = `[${items.join(',')}]`;
        const r = check(asBytes ? utf8(text) : text);
        expect(r.ok ? 'accepted' : [r.code, r.id]).toEqual([INVALID_REQUEST, null]);
      }),
      RUNS,
    );
  });

  it('GW-05 fuzz 14: invalid limits fail closed with -32603 and never throw', () => {
    const badLimit = fc.oneof(fc.constantFrom(NaN, Infinity, -1, 0.5, -0.5, Number.MAX_SAFE_INTEGER + 2), fc.double());
    fc.assert(
      fc.property(badLimit, fc.boolean(), validText, (v, which, text) => {
        const limits = which ? { maxBytes: v, maxDepth: 64 } : { maxBytes: 1024, maxDepth: v };
        const valid = which ? Number.isSafeInteger(v) && v >= 0 : Number.isSafeInteger(v) && v >= 1;
        fc.pre(!valid);
        const r = parseJsonRpc(text, limits);
        expect(r.ok ? 'accepted' : [r.code, r.id]).toEqual([-32603, null]);
        expect(rpcErrorProblem(boundaryErrorResponse(r as Extract<BoundaryResult, { ok: false }>))).toBeNull();
      }),
      { numRuns: 200 },
    );
  });
});

describe('GW-05 fuzz: the reference itself', () => {
  it('GW-05 fuzz 0: the reference parser agrees with JSON.parse on valid JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify(v) ?? 'null';
        expect(refParse(text)).not.toBeNull();
      }),
      { numRuns: 300 },
    );
    expect(refParse('{"a":1,}')).toBeNull();
    expect(refParse('01')).toBeNull();
    expect(refParse('"\t"')).toBeNull();
  });
});
