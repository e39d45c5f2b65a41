import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entriesAt, readClientFile, withEntry, writeClientFile } from './json-file.js';
import { parseWardenEntry } from './formats.js';

const STRICT = { comments: false };
const JSONC = { comments: true };
const ENTRY = { command: '/usr/bin/node', args: ['/opt/warden/bin/warden.cjs', 'gateway', '--stdio'] };

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-json-file-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fileWith(text: string, dialect = STRICT) {
  const path = join(dir, 'config.json');
  writeFileSync(path, text);
  return readClientFile(path, 'test config', dialect);
}

describe('client config files', () => {
  it('adding and removing an entry leaves every other byte as it was (tabs, CRLF, one-line files)', () => {
    for (const text of [
      '{\n\t"mcpServers": {\n\t\t"a": {"command": "x"}\n\t},\n\t"other": [1, 2]\n}\n',
      '{\r\n  "mcpServers": {\r\n    "a": { "command": "x" }\r\n  }\r\n}\r\n',
      '{"mcpServers":{"a":{"command":"x"}},"z":true}',
      '{\n    "theme": "dark"\n}\n',
    ]) {
      const file = fileWith(text);
      const added = withEntry(file, 'mcpServers', 'warden', ENTRY);
      expect(JSON.parse(added)).toMatchObject({ mcpServers: { warden: ENTRY } });
      if (text.includes('\t')) expect(added).toContain('\t\t"warden": {\n\t\t\t"command"');
      if (text.includes('\r\n')) expect(added.replace(/\r\n/g, '')).not.toContain('\n');
      writeFileSync(file.realPath, added);
      const removed = withEntry(readClientFile(file.path, 'test config', STRICT), 'mcpServers', 'warden', undefined);
      if (text.includes('mcpServers')) expect(removed).toBe(text);
    }
  });

  it('keeps comments in JSON-with-comments files; refuses them in strict ones, with the line', () => {
    const text =
      '{\n  // servers I use\n  "servers": {\n    "a": {"type": "stdio", "command": "x"}, // the first\n  },\n}\n';
    const kept = withEntry(fileWith(text, JSONC), 'servers', 'warden', ENTRY);
    expect(kept).toContain('// servers I use');
    expect(kept).toContain('// the first');
    expect(() => fileWith(text, STRICT)).toThrow(/is not valid JSON at line 2, column 3 \(a comment\)/);
    expect(() => fileWith('{"a": 1,}', STRICT)).toThrow(/is not valid JSON at line 1/);
  });

  it('refuses duplicate keys, a non-object document and a non-object server map', () => {
    expect(() => fileWith('{"mcpServers": {"warden": {}, "warden": {}}}')).toThrow(/has the key 'warden' twice/);
    expect(() => fileWith('[]')).toThrow(/does not hold a JSON object/);
    expect(() => entriesAt(fileWith('{"mcpServers": []}'), 'mcpServers')).toThrow(/'mcpServers' .* is not an object/);
  });

  it('an empty file starts anew; a missing one is created', () => {
    expect(JSON.parse(withEntry(fileWith('  \n'), 'mcpServers', 'warden', ENTRY))).toEqual({
      mcpServers: { warden: ENTRY },
    });
    const missing = readClientFile(join(dir, 'sub', 'new.json'), 'test config', STRICT);
    expect(missing.text).toBeNull();
    expect(writeClientFile(missing, withEntry(missing, 'mcpServers', 'warden', ENTRY))).toBeNull();
    expect(JSON.parse(readFileSync(join(dir, 'sub', 'new.json'), 'utf8'))).toEqual({ mcpServers: { warden: ENTRY } });
  });

  it('a file changed by someone else while warden edits it is not overwritten', () => {
    const file = fileWith('{"mcpServers": {}}');
    writeFileSync(file.realPath, '{"mcpServers": {}, "changed": 1}');
    expect(() => writeClientFile(file, withEntry(file, 'mcpServers', 'warden', ENTRY))).toThrow(/changed while warden/);
    expect(readFileSync(file.realPath, 'utf8')).toBe('{"mcpServers": {}, "changed": 1}');
  });

  it('writes through a symbolic link of the same owner (a dotfile link), not over it', () => {
    const real = join(dir, 'real.json');
    writeFileSync(real, '{}');
    const link = join(dir, 'link.json');
    symlinkSync(real, link);
    const file = readClientFile(link, 'test config', STRICT);
    expect(file.realPath).toBe(real);
    writeClientFile(file, withEntry(file, 'mcpServers', 'warden', ENTRY));
    expect(JSON.parse(readFileSync(real, 'utf8'))).toEqual({ mcpServers: { warden: ENTRY } });
  });

  it("recognises warden's entries whatever the launcher, and no others", () => {
    expect(
      parseWardenEntry({
        command: '/usr/bin/node',
        args: ['/opt/w/bin/warden.cjs', 'gateway', '--stdio', '--profile', 'ci', '--workspace', '/srv/p'],
      }),
    ).toMatchObject({ profile: 'ci', workspace: '/srv/p', config: null });
    expect(parseWardenEntry({ command: '/usr/local/bin/warden', args: ['gateway', '--stdio'] })).toMatchObject({
      profile: 'default',
    });
    expect(parseWardenEntry({ command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'] })).toBeNull();
    expect(parseWardenEntry({ command: '/usr/local/bin/warden', args: ['run', '--', 'x'] })).toBeNull();
    expect(parseWardenEntry({ url: 'http://x' })).toBeNull();
  });
});
