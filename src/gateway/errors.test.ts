/**
 * The wire error registry is the only place codes are defined, and docs/errors.md lists each one
 * with the same number and name (the JSON-RPC twin of src/core/docs.test.ts).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromUpstream, RPC, RPC_CODES } from './errors.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

/** Rows `| -32003 | `denied` | … |` of the "JSON-RPC errors" section. */
function documentedCodes(): Map<string, number> {
  const start = doc.indexOf('\n## JSON-RPC errors');
  const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
  const rows = new Map<string, number>();
  for (const match of section.matchAll(/^\| (-\d+) \| `(\w+)` \|/gm)) rows.set(match[2] ?? '', Number(match[1]));
  return rows;
}

describe('JSON-RPC error registry', () => {
  it('docs/errors.md lists every code with its number, and nothing the registry lacks', () => {
    const documented = documentedCodes();
    const registered = new Map(Object.entries(RPC_CODES).map(([name, { code }]) => [name, code]));
    expect(documented).toEqual(registered);
  });

  it('never gives two names one number', () => {
    const codes = Object.values(RPC);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('keeps warden-defined codes in the implementation-defined server range', () => {
    const standard = new Set([-32700, -32600, -32601, -32602, -32603]);
    for (const code of Object.values(RPC)) {
      if (!standard.has(code)) expect(code, String(code)).toSatisfy((c: number) => c <= -32000 && c >= -32099);
    }
  });

  it("passes an upstream error's data on, without the SDK's message prefix", () => {
    const error = fromUpstream(new McpError(-32042, 'needs a URL', { url: 'https://example.test/' }));
    expect(error).toMatchObject({ code: -32042, message: 'needs a URL', data: { url: 'https://example.test/' } });
  });

  it('bounds what an upstream error carries: a message past 4096 characters is cut, data past 16 KiB of JSON left out', () => {
    const error = fromUpstream(new McpError(-32042, 'x'.repeat(10_000), { blob: 'y'.repeat(20_000) }));
    expect(error.message).toHaveLength(4097);
    expect(error.data).toBeUndefined();
    expect(fromUpstream(new McpError(-32042, 'ok', { blob: 'y'.repeat(16_000) })).data).toBeDefined();
  });
});

describe('no other file defines a JSON-RPC code', () => {
  it('source files outside the registry name codes through RPC', async () => {
    const { readdirSync } = await import('node:fs');
    const src = new URL('../', import.meta.url);
    const offenders = readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'gateway/errors.ts')
      .filter((f) =>
        readFileSync(new URL(f, src), 'utf8')
          .split('\n')
          .some((line) => !/^\s*(\*|\/\/)/.test(line) && /[=(:,]\s*-32\d{3}\b/.test(line)),
      );
    expect(offenders).toEqual([]);
  });
});
