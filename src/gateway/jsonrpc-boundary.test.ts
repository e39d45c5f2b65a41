import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BOUNDARY_LIMITS, boundaryErrorResponse, parseJsonRpc } from './jsonrpc-boundary.js';
import type { BoundaryLimits, BoundaryResult, JsonRpcId, ParsedMessage } from './jsonrpc-boundary.js';

type Refusal = Extract<BoundaryResult, { ok: false }>;

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...utf8(p)] : p)));

/** A request envelope around a raw JSON text for `params`. */
const call = (params: string, id: string = '1'): string =>
  `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":${params}}`;

function accepted(result: BoundaryResult): ParsedMessage {
  if (!result.ok) throw new Error(`expected acceptance, got ${result.code} ${result.reason}`);
  return result.parsed;
}

function refused(result: BoundaryResult): Refusal {
  if (result.ok) throw new Error(`expected refusal, got ${JSON.stringify(result.parsed.message)}`);
  return result;
}

/** Asserts a refusal with this code, a reason matching `reason`, and this reply id. */
function expectRefusal(
  input: string | Uint8Array,
  code: number,
  reason: RegExp,
  id: JsonRpcId | null = null,
  limits?: BoundaryLimits,
): Refusal {
  const r = refused(parseJsonRpc(input, limits));
  expect(r.code).toBe(code);
  expect(r.reason).toMatch(reason);
  expect(r.id).toBe(id);
  return r;
}

/** A ~300-byte tools/call, the common case on the hot path. */
const TYPICAL =
  '{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"/workspace/src/gateway/index.ts","encoding":"utf-8","offset":0,"limit":4000,"follow_symlinks":false},"_meta":{"progressToken":"d3c1f0a2-8b1e-4c55-9a57-2f0c3d9e7b61","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}}';

describe('GW-05 parseJsonRpc accepts well-formed JSON-RPC 2.0', () => {
  it('GW-05 a tools/call request, as bytes and as a string', () => {
    for (const input of [utf8(TYPICAL), TYPICAL]) {
      const parsed = accepted(parseJsonRpc(input));
      expect(parsed.kind).toBe('request');
      if (parsed.kind !== 'request') return;
      expect(parsed.id).toBe(42);
      expect(parsed.method).toBe('tools/call');
      expect(parsed.params).toEqual(JSON.parse(TYPICAL).params);
      expect(parsed.message).toEqual(JSON.parse(TYPICAL));
    }
  });

  it('GW-05 a notification with and without params', () => {
    const bare = accepted(parseJsonRpc('{"jsonrpc":"2.0","method":"notifications/initialized"}'));
    expect(bare.kind).toBe('notification');
    expect('params' in bare).toBe(false);
    const withParams = accepted(
      parseJsonRpc('{"method":"notifications/cancelled","params":{"requestId":3},"jsonrpc":"2.0"}'),
    );
    expect(withParams).toMatchObject({
      kind: 'notification',
      method: 'notifications/cancelled',
      params: { requestId: 3 },
    });
  });

  it('GW-05 responses from the client: result and error', () => {
    expect(accepted(parseJsonRpc('{"jsonrpc":"2.0","id":"s-1","result":{"roots":[]}}'))).toMatchObject({
      kind: 'response',
      id: 's-1',
    });
    expect(accepted(parseJsonRpc('{"jsonrpc":"2.0","id":7,"result":null}'))).toMatchObject({ kind: 'response', id: 7 });
    const err = accepted(
      parseJsonRpc('{"jsonrpc":"2.0","id":8,"error":{"code":-32601,"message":"no","data":{"x":[1]}}}'),
    );
    expect(err).toMatchObject({ kind: 'response', id: 8, message: { error: { code: -32601, message: 'no' } } });
  });

  it('GW-05 edge ids that are valid: 0, negative, empty string, 256 characters, max safe integer', () => {
    for (const id of [0, -5, '', 'x'.repeat(256), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      const parsed = accepted(parseJsonRpc(JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' })));
      expect(parsed).toMatchObject({ kind: 'request', id });
    }
  });

  it('GW-05 whitespace, escaped text, astral characters, U+FEFF inside a string and brackets inside strings', () => {
    const text =
      ' \r\n\t{ "jsonrpc" : "2.0" , "id" : 1 , "method" : "m\\u0065" , "params" : { "s" : "\\ud83d\\ude00 😀 \ufeff [[[[{{{{ \\" \\\\ \\/" } } \n';
    const parsed = accepted(parseJsonRpc(text));
    expect(parsed).toMatchObject({ method: 'me', params: { s: '😀 😀 \ufeff [[[[{{{{ " \\ /' } });
  });

  it('GW-05 the same key in sibling objects or at different depths is not a duplicate', () => {
    accepted(parseJsonRpc(call('{"a":{"x":1},"b":{"x":2},"x":{"x":{"x":3}},"arr":[{"x":1},{"x":2}]}')));
  });
});

describe('GW-05 duplicate and case-variant keys', () => {
  it('GW-05 duplicate top-level key: refused, id unreadable', () => {
    expectRefusal('{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}', -32600, /duplicate key "method"/);
    expectRefusal('{"jsonrpc":"2.0","id":1,"id":2,"method":"a"}', -32600, /duplicate key "id"/);
  });

  it('GW-05 duplicates spelled differently with escapes are still duplicates', () => {
    expectRefusal(call('{"a":1,"\\u0061":2}'), -32600, /duplicate key "a"/, 1);
    expectRefusal(call('{"a\\/b":1,"a/b":2}'), -32600, /duplicate key "a\/b"/, 1);
    expectRefusal(call('{"😀":1,"\\ud83d\\ude00":2}'), -32600, /duplicate key "\\ud83d\\ude00"/, 1);
    expectRefusal('{"jsonrpc":"2.0","id":1,"\\u0069d":2,"method":"a"}', -32600, /duplicate key "id"/);
  });

  it('GW-05 keys equal ignoring case are refused, including Unicode folds Go treats as equal', () => {
    expectRefusal(
      '{"jsonrpc":"2.0","id":1,"method":"a","Method":"b"}',
      -32600,
      /keys "method" and "Method" differ only in case/,
    );
    expectRefusal(call('{"path":"/ok","PATH":"/etc"}'), -32600, /differ only in case/, 1);
    expectRefusal(call('{"sk":1,"\u017Fk":2}'), -32600, /differ only in case/, 1); // long s
    expectRefusal(call('{"k":1,"\u212A":2}'), -32600, /differ only in case/, 1); // Kelvin sign
    expectRefusal(call('{"A":1,"\\u0061":2}'), -32600, /differ only in case/, 1);
  });

  it('GW-05 duplicates nested inside params.arguments and inside arrays', () => {
    expectRefusal(
      call('{"name":"write","arguments":{"path":"/tmp/a","path":"/etc/passwd"}}', '"r1"'),
      -32600,
      /duplicate key "path"/,
      'r1',
    );
    expectRefusal(call('{"arguments":{"items":[1,{"q":{"a":1,"b":2,"a":3}}]}}'), -32600, /duplicate key "a"/, 1);
  });

  it('GW-05 reasons quote at most 32 characters, escaped', () => {
    const key = `\u202e\u0000${'k'.repeat(100)}`;
    const r = refused(parseJsonRpc(call(JSON.stringify({ [key]: 1 }).replace('}', `,${JSON.stringify(key)}:2}`))));
    expect(r.reason).toContain('\\u202e\\u0000');
    expect(r.reason).not.toContain('k'.repeat(31));
    expect(r.reason.length).toBeLessThan(100);
    expect(r.reason).toMatch(/^[ -~…]+$/);
  });
});

describe('GW-05 encoding', () => {
  const inString = (...b: number[]): Uint8Array =>
    bytes('{"jsonrpc":"2.0","id":1,"method":"m","params":{"s":"', b, '"}}');

  it('GW-05 invalid UTF-8 bytes are a parse error', () => {
    for (const bad of [[0xff], [0xfe], [0x80], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3, 0x28]]) {
      expectRefusal(inString(...bad), -32700, /invalid UTF-8/);
    }
    expect(accepted(parseJsonRpc(inString(0xc3, 0xa9)))).toMatchObject({ params: { s: 'é' } });
  });

  it('GW-05 overlong encodings, encoded surrogates and code points past U+10FFFF are refused', () => {
    const cases = [
      [0xc0, 0xaf], // "/" in two bytes
      [0xc1, 0xbf],
      [0xe0, 0x80, 0xaf], // "/" in three bytes
      [0xf0, 0x80, 0x80, 0xaf], // "/" in four bytes
      [0xc0, 0xa2], // '"' in two bytes: would end the string for a lax decoder
      [0xed, 0xa0, 0x80], // U+D800 encoded directly
      [0xf4, 0x90, 0x80, 0x80], // U+110000
    ];
    for (const bad of cases) expectRefusal(inString(...bad), -32700, /invalid UTF-8/);
  });

  it('GW-05 a byte order mark is refused, as bytes and as a string', () => {
    expectRefusal(bytes([0xef, 0xbb, 0xbf], TYPICAL), -32700, /byte order mark/);
    expectRefusal(`\ufeff${TYPICAL}`, -32700, /byte order mark/);
  });

  it('GW-05 escaped lone surrogates are refused; escaped pairs are fine', () => {
    for (const s of [
      '\\ud800',
      '\\udbff',
      '\\udc00',
      '\\ud800\\u0041',
      '\\ud800x',
      '\\udc00\\ud800',
      'ab\\ud83d',
      '\\ud83d\\n\\ude00',
      '\\uD800\\uD800',
    ]) {
      expectRefusal(call(`{"s":"${s}"}`), -32700, /lone surrogate/, 1);
    }
    expectRefusal(call('{"\\ud800":1}'), -32700, /lone surrogate/, 1);
    expectRefusal('{"jsonrpc":"2.0","id":"\\udfff","method":"m"}', -32700, /lone surrogate/, null);
    accepted(parseJsonRpc(call('{"s":"\\uD83D\\uDE00\\ud800\\udc00\\udbff\\udfff"}')));
  });

  it('GW-05 raw lone surrogates in string input are refused', () => {
    expectRefusal(call('{"s":"\ud800"}'), -32700, /lone surrogate/);
    expectRefusal(call('{"s":"\udc00\ud800"}'), -32700, /lone surrogate/);
  });
});

describe('GW-05 size and depth', () => {
  /**
   * A request whose total nesting (top-level object = 1, params = 2) is `depth`, the levels
   * inside params being objects, arrays, or alternating.
   */
  const nested = (depth: number, kind: 'object' | 'array' | 'mixed'): string => {
    let inner = '0';
    for (let level = depth - 2; level >= 1; level--) {
      const asObject = kind === 'object' || (kind === 'mixed' && level % 2 === 0);
      inner = asObject ? `{"a":${inner}}` : `[${inner}]`;
    }
    return call(`{"p":${inner}}`);
  };

  it('GW-05 depth 64 is accepted, 65 refused (objects, arrays, and a mix)', () => {
    for (const kind of ['object', 'array', 'mixed'] as const) {
      accepted(parseJsonRpc(nested(64, kind)));
      expectRefusal(nested(65, kind), -32600, /nesting deeper than 64 levels/);
    }
  });

  it('GW-05 maxDepth is configurable', () => {
    const limits = { maxBytes: 1000, maxDepth: 3 };
    accepted(parseJsonRpc(call('{"a":[]}'), limits));
    expectRefusal(call('{"a":[[]]}'), -32600, /deeper than 3/, null, limits);
  });

  it('GW-05 a 4 MiB "[[[[…" is refused by depth before JSON.parse sees it', () => {
    const deep = '['.repeat(DEFAULT_BOUNDARY_LIMITS.maxBytes);
    const t0 = performance.now();
    expectRefusal(deep, -32600, /deeper than 64/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('GW-05 oversized bodies are refused with the limit in the reason, before decoding', () => {
    const max = DEFAULT_BOUNDARY_LIMITS.maxBytes;
    const padTo = (n: number): string => {
      const head = '{"jsonrpc":"2.0","id":1,"method":"m","params":{"pad":"';
      return `${head}${'x'.repeat(n - head.length - 3)}"}}`;
    };
    expect(utf8(padTo(max)).byteLength).toBe(max);
    accepted(parseJsonRpc(utf8(padTo(max))));
    accepted(parseJsonRpc(padTo(max)));
    expectRefusal(utf8(padTo(max + 1)), -32600, /limit of 4194304 bytes/);
    expectRefusal(padTo(max + 1), -32600, /limit of 4194304 bytes/);
    // Invalid UTF-8 and bad JSON past the cap still get the size error: size comes first.
    expectRefusal(new Uint8Array(max + 1).fill(0xff), -32600, /limit of 4194304 bytes/);
  });

  it('GW-05 the cap counts UTF-8 bytes of string input, not UTF-16 units', () => {
    const limits = { maxBytes: 100, maxDepth: 64 };
    const msg = (s: string): string => call(JSON.stringify({ s }));
    const base = utf8(msg('')).byteLength;
    const fits = msg('é'.repeat((100 - base) / 2));
    expect(utf8(fits).byteLength).toBeLessThanOrEqual(100);
    accepted(parseJsonRpc(fits, limits));
    const over = msg('é'.repeat(30)); // 30 UTF-16 units, 60 bytes
    expect(over.length).toBeLessThanOrEqual(100);
    expectRefusal(over, -32600, /limit of 100 bytes/, null, limits);
  });
});

describe('GW-05 JSON syntax and top level', () => {
  it('GW-05 invalid JSON is a parse error with a safe reason', () => {
    for (const bad of [
      '',
      ' ',
      '{',
      '{"a":}',
      '{"a":1,}',
      "{'a':1}",
      '{"a":NaN}',
      '{"a":1} x',
      '{"a":1}/*c*/',
      '{"a":"\u0001"}',
      '{"a":"\\x"}',
      '{"a":01}',
      '{"a":"\\u12"}',
    ]) {
      const r = expectRefusal(bad, -32700, /^parse error/);
      expect(r.reason.length).toBeLessThan(100);
    }
    expect(refused(parseJsonRpc('{"a":1,}')).reason).toMatch(/position \d+/);
  });

  it('GW-05 reasons never echo the input', () => {
    const secret = 'sk-SECRET-0123456789abcdefghijklmnopqrstuvwxyz';
    for (const text of [`${secret}`, `{"${secret}":}`, `["${secret}"`, `{"x":"${secret}", "x":1}`]) {
      expect(refused(parseJsonRpc(text)).reason).not.toContain('SECRET');
    }
  });

  it('GW-05 batches are refused', () => {
    expectRefusal(`[${TYPICAL}]`, -32600, /batches are not supported/);
    expectRefusal('[]', -32600, /batches are not supported/);
  });

  it('GW-05 a top level that is not an object is refused', () => {
    for (const text of ['1', '"x"', 'null', 'true', '-0.5']) expectRefusal(text, -32600, /must be a JSON object/);
  });
});

describe('GW-05 JSON-RPC 2.0 shape', () => {
  it('GW-05 jsonrpc must be exactly "2.0"', () => {
    for (const v of [undefined, '1.0', 2.0, '2.0 ', '2', null]) {
      expectRefusal(JSON.stringify({ jsonrpc: v, id: 3, method: 'm' }), -32600, /jsonrpc must be "2.0"/, 3);
    }
  });

  it('GW-05 bad ids: null, fraction, object, array, boolean, too long, unsafe integer', () => {
    for (const id of [null, 1.5, {}, [], true, 'x'.repeat(257), 2 ** 53, -(2 ** 53), 1e300]) {
      expectRefusal(JSON.stringify({ jsonrpc: '2.0', id, method: 'm' }), -32600, /^id /, null);
    }
  });

  it('GW-05 numeric ids must be written as plain integers, not rounded into one', () => {
    for (const id of ['1.0', '1e0', '1E2', '1e-400', '0.0', '-0.0', '9007199254740993']) {
      expectRefusal(`{"jsonrpc":"2.0","id":${id},"method":"m"}`, -32600, /^id /, null);
    }
    for (const [text, id] of [
      ['-0', -0],
      ['0', 0],
      ['\t 12 ', 12],
    ] as const) {
      expect(accepted(parseJsonRpc(`{"jsonrpc":"2.0","id" :${text},"method":"m"}`))).toMatchObject({
        kind: 'request',
        id,
      });
    }
  });

  it('GW-05 the id is kept in the refusal wherever it appears, unless it is itself in doubt', () => {
    expectRefusal('{"jsonrpc":"2.0","method":"m","params":{"a":1,"a":2},"id":"late"}', -32600, /duplicate key/, 'late');
    expectRefusal('{"jsonrpc":"2.0","method":"m","params":{"a":1,"a":2},"\u0069d":9}', -32600, /duplicate key/, 9);
    expectRefusal('{"jsonrpc":"2.0","method":"m","params":{"a":1,"a":2},"id":1.5}', -32600, /duplicate key/, null);
    expectRefusal('{"jsonrpc":"2.0","method":"m","params":{"a":1,"a":2},"id":2e0}', -32600, /duplicate key/, null);
    expectRefusal('{"jsonrpc":"2.0","method":"m","params":{"a":1,"a":2},"id":2,"ID":3}', -32600, /duplicate key/, null);
  });

  it('GW-05 extra or misplaced top-level members are refused', () => {
    expectRefusal(
      '{"jsonrpc":"2.0","id":1,"method":"m","extra":1}',
      -32600,
      /unexpected member "extra" in a request/,
      1,
    );
    expectRefusal('{"jsonrpc":"2.0","id":1,"method":"m","result":{}}', -32600, /unexpected member "result"/, 1);
    expectRefusal(
      '{"jsonrpc":"2.0","id":1,"result":{},"params":{}}',
      -32600,
      /unexpected member "params" in a response/,
      1,
    );
    expectRefusal('{"jsonrpc":"2.0","id":1}', -32600, /no method, result or error/, 1);
  });

  it('GW-05 method must be a non-empty string of at most 256 characters', () => {
    for (const method of ['', 5, null, {}, 'm'.repeat(257)]) {
      expectRefusal(JSON.stringify({ jsonrpc: '2.0', id: 1, method }), -32600, /^method /, 1);
    }
    accepted(parseJsonRpc(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'm'.repeat(256) })));
  });

  it('GW-05 params must be an object: arrays, null and scalars are refused', () => {
    for (const params of ['[1,2]', 'null', '"x"', '3'])
      expectRefusal(call(params), -32600, /params must be an object/, 1);
  });

  it('GW-05 responses: exactly one of result/error, a valid error object, an id', () => {
    expectRefusal('{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"x"}}', -32600, /not both/, 1);
    expectRefusal('{"jsonrpc":"2.0","result":1}', -32600, /needs an id/);
    expectRefusal('{"jsonrpc":"2.0","id":null,"result":1}', -32600, /id must not be null/);
    expectRefusal('{"jsonrpc":"2.0","id":1,"error":"boom"}', -32600, /error must be an object/, 1);
    expectRefusal('{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"x"}}', -32600, /error.code/, 1);
    expectRefusal('{"jsonrpc":"2.0","id":1,"error":{"code":1}}', -32600, /error.message/, 1);
    expectRefusal(
      '{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x","stack":"y"}}',
      -32600,
      /unexpected member "stack" in error/,
      1,
    );
  });

  it('GW-05 __proto__, constructor and prototype keys are refused anywhere, escaped or not', () => {
    expectRefusal(
      '{"jsonrpc":"2.0","id":1,"method":"m","__proto__":{"admin":true}}',
      -32600,
      /forbidden key "__proto__"/,
    );
    expectRefusal(call('{"arguments":{"__proto__":{"polluted":1}}}'), -32600, /forbidden key "__proto__"/, 1);
    expectRefusal(call('{"a":[{"\\u005f_proto__":{}}]}'), -32600, /forbidden key "__proto__"/, 1);
    expectRefusal(call('{"constructor":{"prototype":{}}}'), -32600, /forbidden key "constructor"/, 1);
    expectRefusal(call('{"x":{"prototype":1}}'), -32600, /forbidden key "prototype"/, 1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Only the exact names are special; "Constructor" is an ordinary key.
    accepted(parseJsonRpc(call('{"Constructor":1,"proto":2}')));
  });

  it('GW-05 invalid limits or input types fail closed without throwing', () => {
    expectRefusal(TYPICAL, -32603, /limits/, null, { maxBytes: Number.NaN, maxDepth: 64 });
    expectRefusal(TYPICAL, -32603, /limits/, null, { maxBytes: 10, maxDepth: 0 });
    expect(refused(parseJsonRpc(42 as unknown as string)).code).toBe(-32700);
    expect(refused(parseJsonRpc(null as unknown as string)).code).toBe(-32700);
  });
});

describe('GW-05 boundaryErrorResponse', () => {
  it('GW-05 builds {jsonrpc, id, error:{code, message}}', () => {
    const r = refused(parseJsonRpc(call('{"a":1,"a":2}', '"abc"')));
    expect(boundaryErrorResponse(r)).toEqual({
      jsonrpc: '2.0',
      id: 'abc',
      error: { code: -32600, message: 'duplicate key "a"' },
    });
    expect(boundaryErrorResponse(refused(parseJsonRpc('[')))).toMatchObject({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700 },
    });
  });
});

// ---------------------------------------------------------------------------------------
// Properties.

const foldCase = (k: string): string => k.toUpperCase().toLowerCase();
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** Checks a refusal is one the agent can be sent: a known code, a short printable reason. */
function expectWellFormedRefusal(r: Refusal): void {
  expect([-32700, -32600]).toContain(r.code);
  expect(r.reason.length).toBeGreaterThan(0);
  expect(r.reason.length).toBeLessThanOrEqual(200);
  expect(r.reason).toMatch(/^[ -~…]+$/);
}

/** Pieces of JSON(-RPC) text, so random strings often get deep into the scanner. */
const fragment = fc.constantFrom(
  '{',
  '}',
  '[',
  ']',
  '"',
  '\\',
  ':',
  ',',
  ' ',
  '\n',
  'a',
  'A',
  '1',
  '-',
  '.',
  'e',
  'null',
  'true',
  '\\u0061',
  '\\ud800',
  '\\udc00',
  '\\"',
  '\\\\',
  '"jsonrpc"',
  '"2.0"',
  '"id"',
  '"method"',
  '"params"',
  '"result"',
  '"error"',
  '"__proto__"',
  '😀',
  '\ud800',
  '\ufeff',
  'é',
);
const prefixes = fc.constantFrom(
  '',
  '{"jsonrpc":"2.0","id":1,"method":"m","params":{',
  '{"jsonrpc":"2.0","id":1,"result":',
);
const fragmentText = fc.tuple(prefixes, fc.string({ unit: fragment, maxLength: 40 })).map(([p, s]) => p + s);

/** Valid message text with a few random bytes overwritten. */
const mutatedBytes = fc
  .tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
  .map(([edits]) => {
    const b = utf8(TYPICAL);
    for (const [at, v] of edits) b[at % b.length] = v;
    return b;
  });

describe('GW-05 properties', () => {
  it('GW-05 property 1: never throws; refusals carry -32700/-32600 and a non-empty reason', () => {
    const input = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)), maxLength: 40 }),
      fragmentText,
      fc.uint8Array({ maxLength: 120 }),
      mutatedBytes,
    );
    fc.assert(
      fc.property(input, (raw) => {
        const r = parseJsonRpc(raw);
        if (r.ok) expect(r.parsed.message.jsonrpc).toBe('2.0');
        else expectWellFormedRefusal(r);
      }),
      { numRuns: 3000 },
    );
  });

  it('GW-05 property 1b: a well-formed string and its UTF-8 bytes get the same verdict', () => {
    fc.assert(
      fc.property(
        fragmentText.filter((s) => !/\p{Cs}/u.test(s) && !s.startsWith('\ufeff')),
        (s) => {
          const a = parseJsonRpc(s);
          const b = parseJsonRpc(utf8(s));
          expect(b).toEqual(a);
        },
      ),
      { numRuns: 2000 },
    );
  });

  // Arbitrary JSON values whose objects have neither duplicate/case-variant nor forbidden keys.
  const leaf = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
    fc.string({ unit: 'binary', maxLength: 20 }),
  );
  const key = fc.string({ unit: 'binary', maxLength: 10 }).filter((k) => !FORBIDDEN.has(k));
  const { value: jsonValue, object: jsonObject } = fc.letrec<{
    value: unknown;
    array: unknown[];
    object: Record<string, unknown>;
  }>((tie) => ({
    value: fc.oneof({ depthSize: 'small', maxDepth: 5 }, leaf, tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 4 }),
    object: fc
      .uniqueArray(fc.tuple(key, tie('value')), { selector: ([k]) => foldCase(k), maxLength: 5 })
      .map((entries) => Object.fromEntries(entries)),
  }));
  const id = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 128 }),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  );
  const method = fc.string({ unit: 'binary', minLength: 1, maxLength: 128 });
  const message = fc.oneof(
    fc.record(
      { jsonrpc: fc.constant('2.0'), id, method, params: jsonObject },
      { requiredKeys: ['jsonrpc', 'id', 'method'] },
    ),
    fc.record({ jsonrpc: fc.constant('2.0'), method, params: jsonObject }, { requiredKeys: ['jsonrpc', 'method'] }),
    fc.record({ id, jsonrpc: fc.constant('2.0'), result: jsonValue }),
    fc.record({
      jsonrpc: fc.constant('2.0'),
      id,
      error: fc.record(
        { code: fc.integer(), message: fc.string(), data: jsonValue },
        { requiredKeys: ['code', 'message'] },
      ),
    }),
  );

  it('GW-05 property 2: valid messages round-trip exactly, as bytes and as strings', () => {
    fc.assert(
      fc.property(message, fc.boolean(), (msg, asBytes) => {
        const text = JSON.stringify(msg);
        const r = parseJsonRpc(asBytes ? utf8(text) : text);
        const parsed = accepted(r);
        expect(parsed.message).toEqual(msg);
        const expectedKind = 'method' in msg ? ('id' in msg ? 'request' : 'notification') : 'response';
        expect(parsed.kind).toBe(expectedKind);
      }),
      { numRuns: 1500 },
    );
  });

  it('GW-05 property 3: boundaryErrorResponse is always a well-formed JSON-RPC error object', () => {
    const fromParser = fc
      .oneof(fragmentText, mutatedBytes, fc.uint8Array({ maxLength: 40 }))
      .map((raw) => parseJsonRpc(raw));
    const handMade = fc.record({
      ok: fc.constant(false as const),
      id: fc.oneof(fc.constant(null), fc.string(), fc.double(), fc.string({ minLength: 257, maxLength: 300 })),
      code: fc.oneof(fc.integer(), fc.double()),
      reason: fc.string(),
    });
    fc.assert(
      fc.property(fc.oneof(fromParser, handMade), (r) => {
        if (r.ok) return;
        const response = boundaryErrorResponse(r);
        expect(Object.keys(response).sort()).toEqual(['error', 'id', 'jsonrpc']);
        expect(response.jsonrpc).toBe('2.0');
        const rid = response.id;
        expect(rid === null || (typeof rid === 'string' && rid.length <= 256) || Number.isSafeInteger(rid)).toBe(true);
        const error = response.error as Record<string, unknown>;
        expect(Object.keys(error).sort()).toEqual(['code', 'message']);
        expect(Number.isSafeInteger(error.code)).toBe(true);
        expect(typeof error.message === 'string' && error.message.length > 0).toBe(true);
        // With an id it is itself a response our own boundary accepts.
        if (rid !== null && !/\p{Cs}/u.test(JSON.stringify(response))) {
          expect(parseJsonRpc(JSON.stringify(response)).ok).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  // A tree that may hold duplicate keys (objects as entry lists), serialised by hand, plain or
  // with every character of every string written as \uXXXX.
  type Tree = null | boolean | number | string | { readonly arr: Tree[] } | { readonly obj: [string, Tree][] };
  const trickyKey = fc.oneof(
    fc.constantFrom(
      'a',
      'A',
      'b',
      'ß',
      'SS',
      'ss',
      'ſ',
      's',
      'K',
      'k',
      'é',
      'É',
      'id',
      'ID',
      '😀',
      '"',
      '\\',
      '\u0000',
      '__proto__',
      'constructor',
      'prototype',
    ),
    fc.string({ unit: fc.constantFrom('a', 'A', 'b', 'ß', 's', '😀', '"', '\\', '/', '\n'), maxLength: 3 }),
  );
  const { obj: treeObject } = fc.letrec<{ tree: Tree; arr: Tree; obj: { readonly obj: [string, Tree][] } }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', maxDepth: 4 },
      fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 5 })),
      tie('arr'),
      tie('obj'),
    ),
    arr: fc.array(tie('tree'), { maxLength: 3 }).map((arr) => ({ arr })),
    obj: fc.array(fc.tuple(trickyKey, tie('tree')), { maxLength: 4 }).map((obj) => ({ obj })),
  }));
  const str = (s: string, escape: boolean): string =>
    escape
      ? `"${Array.from({ length: s.length }, (_, k) => `\\u${s.charCodeAt(k).toString(16).padStart(4, '0')}`).join('')}"`
      : JSON.stringify(s);
  const ser = (t: Tree, escape: boolean): string => {
    if (typeof t === 'string') return str(t, escape);
    if (t === null || typeof t !== 'object') return JSON.stringify(t);
    if ('arr' in t) return `[${t.arr.map((x) => ser(x, escape)).join(',')}]`;
    return `{${t.obj.map(([k, v]) => `${str(k, escape)}:${ser(v, escape)}`).join(',')}}`;
  };
  const badKeys = (t: Tree): boolean => {
    if (t === null || typeof t !== 'object') return false;
    if ('arr' in t) return t.arr.some(badKeys);
    const folded = t.obj.map(([k]) => foldCase(k));
    return new Set(folded).size !== folded.length || t.obj.some(([k, v]) => FORBIDDEN.has(k) || badKeys(v));
  };

  it('GW-05 property 4: duplicate, case-variant and forbidden keys are refused exactly when present, however escaped', () => {
    fc.assert(
      fc.property(treeObject, (tree) => {
        const plain = parseJsonRpc(call(`{"arguments":${ser(tree, false)}}`));
        const escaped = parseJsonRpc(call(`{"arguments":${ser(tree, true)}}`));
        expect(plain.ok).toBe(!badKeys(tree));
        if (plain.ok && escaped.ok) expect(escaped.parsed.message).toEqual(plain.parsed.message);
        else expect([escaped.ok, escaped.ok ? 0 : escaped.code]).toEqual([plain.ok, plain.ok ? 0 : plain.code]);
        if (!plain.ok) expect(plain.code).toBe(-32600);
      }),
      { numRuns: 3000 },
    );
  });

  it('GW-05 property 5: any UTF-16 string value is accepted exactly when it has no lone surrogate', () => {
    const units = fc.string({
      unit: fc.integer({ min: 0xd7f0, max: 0xe010 }).map((u) => String.fromCharCode(u)),
      maxLength: 6,
    });
    fc.assert(
      fc.property(
        fc.oneof(
          units,
          fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)), maxLength: 6 }),
        ),
        (s) => {
          const wellFormed = !/\p{Cs}/u.test(s);
          // JSON.stringify writes lone surrogates as \uXXXX escapes, so both paths are exercised.
          for (const text of [call(JSON.stringify({ s })), call(`{"s":${str(s, true)}}`)]) {
            const r = parseJsonRpc(text);
            expect(r.ok).toBe(wellFormed);
            if (!r.ok) expect(r.code).toBe(-32700);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('GW-05 timing (printed, not asserted)', () => {
  it('GW-05 µs per parse of a typical tools/call, and ms for a multi-MiB message', () => {
    const asBytes = utf8(TYPICAL);
    const time = (input: string | Uint8Array, n: number): number => {
      for (let k = 0; k < Math.min(n, 5000); k++) parseJsonRpc(input);
      const t0 = performance.now();
      for (let k = 0; k < n; k++) parseJsonRpc(input);
      return ((performance.now() - t0) * 1000) / n;
    };
    const bytesUs = time(asBytes, 50_000);
    const stringUs = time(TYPICAL, 50_000);
    const jsonParseUs = (() => {
      const t0 = performance.now();
      for (let k = 0; k < 50_000; k++) JSON.parse(TYPICAL);
      return ((performance.now() - t0) * 1000) / 50_000;
    })();
    const big = call(
      JSON.stringify(
        Object.fromEntries(Array.from({ length: 60_000 }, (_, k) => [`key${k}`, { v: `value ${k} \\n`, n: k }])),
      ),
    );
    const bigBytes = utf8(big).byteLength;
    const bigMs = time(big, 5) / 1000;
    const t1 = performance.now();
    for (let k = 0; k < 5; k++) JSON.parse(big);
    const bigJsonParseMs = (performance.now() - t1) / 5;
    console.log(
      `[gateway] GW-05 parseJsonRpc, ${asBytes.byteLength}-byte tools/call: ${bytesUs.toFixed(2)} µs/parse from bytes, ` +
        `${stringUs.toFixed(2)} µs from a string (JSON.parse alone ${jsonParseUs.toFixed(2)} µs); ` +
        `${(bigBytes / 1048576).toFixed(1)} MiB message: ${bigMs.toFixed(1)} ms (JSON.parse alone ${bigJsonParseMs.toFixed(1)} ms)`,
    );
    expect(bytesUs).toBeGreaterThan(0);
  });
});
