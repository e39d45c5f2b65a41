import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCatalogText, readCatalog, writeCatalogEntry } from './catalog-file.js';

const INTEGRITY = `sha512-${Buffer.alloc(64, 1).toString('base64')}`;
const SHA = 'a'.repeat(64);
const dir = mkdtempSync(join(tmpdir(), 'warden-catalog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CATALOG_INVALID message for `text`. */
function refusal(text: string): string {
  try {
    parseCatalogText(text, 'warden.catalog.yaml');
  } catch (error) {
    expect((error as { code?: string }).code).toBe('CATALOG_INVALID');
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('the catalog file', () => {
  it('accepts npm, file and url entries (YAML or JSON)', () => {
    const catalog = parseCatalogText(
      JSON.stringify({
        version: 1,
        servers: {
          memory: { npm: '@modelcontextprotocol/server-memory', version: '1.2.3', integrity: INTEGRITY, bin: 'x' },
          tool: { file: '/opt/tool', sha256: SHA, description: 'reviewed' },
          docs: { url: 'https://mcp.example.com/mcp' },
        },
      }),
      'c.json',
    );
    expect(Object.keys(catalog.servers)).toEqual(['memory', 'tool', 'docs']);
    expect(Object.isFrozen(catalog)).toBe(true);
  });

  it.each([
    [
      'a range',
      `version: 1\nservers:\n  m: { npm: x-server, version: "^1.2.0", integrity: ${INTEGRITY} }\n`,
      /3:.*servers\.m\.version: must be an exact version/,
    ],
    [
      'a tag',
      `version: 1\nservers:\n  m: { npm: x-server, version: latest, integrity: ${INTEGRITY} }\n`,
      /exact version/,
    ],
    [
      'a sha1 integrity',
      'version: 1\nservers:\n  m: { npm: x-server, version: 1.0.0, integrity: "sha1-abc=" }\n',
      /sha512 integrity/,
    ],
    [
      'a missing integrity',
      'version: 1\nservers:\n  m: { npm: x-server, version: 1.0.0 }\n',
      /servers\.m\.integrity: required/,
    ],
    [
      'two kinds',
      `version: 1\nservers:\n  m: { npm: x-server, file: /x, version: 1.0.0, integrity: ${INTEGRITY} }\n`,
      /only one of npm, file or url \(found npm, file\)/,
    ],
    ['no kind', 'version: 1\nservers:\n  m: { description: x }\n', /give one of npm/],
    ['a relative file', `version: 1\nservers:\n  m: { file: bin/x, sha256: ${SHA} }\n`, /absolute path/],
    [
      'an upper-case sha256',
      `version: 1\nservers:\n  m: { file: /x, sha256: ${SHA.toUpperCase()} }\n`,
      /64 lower-case hex/,
    ],
    [
      'a TLS pin that is not a sha256',
      'version: 1\nservers:\n  m: { url: "https://x.test/mcp", tls_spki_sha256: abc }\n',
      /64 lower-case hex/,
    ],
    [
      'a TLS pin on plain http',
      `version: 1\nservers:\n  m: { url: "http://x.test/mcp", tls_spki_sha256: ${SHA} }\n`,
      /needs an https URL/,
    ],
    ['an unknown field', `version: 1\nservers:\n  m: { file: /x, sha256: ${SHA}, sha1: x }\n`, /unknown field 'sha1'/],
    ['a bad entry name', `version: 1\nservers:\n  Mem_1: { file: /x, sha256: ${SHA} }\n`, /entry names are lower-case/],
    [
      'a duplicate key',
      `version: 1\nservers:\n  m: { file: /x, sha256: ${SHA} }\n  m: { file: /y, sha256: ${SHA} }\n`,
      /warden\.catalog\.yaml:\d+:\d+: .*(duplicate|unique)/i,
    ],
    ['another version', 'version: 2\n', /version/],
    ['an empty file', '', /the file is empty/],
    ['an alias', `a: &x 1\nversion: *x\n`, /alias/i],
  ])('refuses %s with the line and field', (_what, text, message) => {
    expect(refusal(text)).toMatch(message);
  });

  it('reads nothing when there is no file, and refuses a directory and an oversized file', () => {
    expect(readCatalog(join(dir, 'missing.yaml'))).toBeNull();
    expect(() => readCatalog(dir)).toThrow(/not a regular file/);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(1024 * 1024)}\nversion: 1\n`);
    expect(() => readCatalog(big)).toThrow(/larger than 1048576 bytes/);
  });

  it('writes one entry in place, keeping comments, and removes it', () => {
    const path = join(dir, 'warden.catalog.yaml');
    writeFileSync(
      path,
      '# reviewed by the team\nversion: 1\nservers:\n  # the memory server\n  tool: { file: /opt/tool, sha256: ' +
        SHA +
        ' }\n',
    );
    writeCatalogEntry(path, 'docs', { url: 'https://mcp.example.com/mcp' });
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('# reviewed by the team');
    expect(text).toContain('# the memory server');
    expect(readCatalog(path)?.catalog.servers['docs']).toEqual({ url: 'https://mcp.example.com/mcp' });
    writeCatalogEntry(path, 'docs', null);
    expect(Object.keys(readCatalog(path)?.catalog.servers ?? {})).toEqual(['tool']);
  });

  it('never writes an entry it would refuse to read', () => {
    const path = join(dir, 'refused.yaml');
    expect(() => writeCatalogEntry(path, 'x', { npm: 'x-server', version: '^1', integrity: INTEGRITY })).toThrow(
      /exact version/,
    );
    expect(readCatalog(path)).toBeNull();
  });
});
