import { describe, expect, it } from 'vitest';
import { parseHostPattern, type HostPattern } from './host-pattern.js';
import { wildcardBreadthProblem } from './wildcard-breadth.js';

function pattern(text: string): HostPattern {
  const result = parseHostPattern(text);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(text)} to parse, got: ${result.reason}`);
  return result.value;
}

describe('wildcardBreadthProblem', () => {
  it.each([
    '*.co.uk',
    '*.CO.UK.',
    '*.com.au',
    '*.org.uk',
    '*.ac.jp',
    '*.github.io',
    '*.herokuapp.com',
    '*.s3.amazonaws.com',
    '*.blogspot.com',
    '*.pages.dev',
  ])('NET-08 %s covers a public suffix and is refused', (text) => {
    const problem = wildcardBreadthProblem(pattern(text));
    expect(problem).toMatch(/public suffix/);
    expect(problem).toContain(`'*.${pattern(text).host}'`);
  });

  it('NET-08 the refusal suggests a registrable domain under the suffix', () => {
    expect(wildcardBreadthProblem(pattern('*.co.uk'))).toContain("'*.example.co.uk'");
  });

  it.each([
    '*.example.com',
    '*.EXAMPLE.com.',
    '*.npmjs.org',
    '*.example.co.uk',
    '*.bbc.co.uk',
    '*.me.github.io',
    '*.a.b.example.com',
    '*.bücher.de',
  ])('NET-08 %s names a registrable domain and is fine', (text) => {
    expect(wildcardBreadthProblem(pattern(text))).toBeNull();
  });

  it.each(['example.com', 'co.uk', 'github.io', '203.0.113.7', '[2001:db8::1]:443', 'localhost:*'])(
    'NET-08 non-wildcard entry %s is never a breadth problem',
    (text) => {
      expect(wildcardBreadthProblem(pattern(text))).toBeNull();
    },
  );

  it('NET-08 a wildcard whose base is not under any known suffix is fine when it has two labels (e.g. an internal domain)', () => {
    // tldts treats unknown TLDs as a one-label suffix, so *.corp.internal is a registrable domain.
    expect(wildcardBreadthProblem(pattern('*.corp.internal'))).toBeNull();
  });
});
