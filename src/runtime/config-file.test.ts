import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUILTIN_CONFIG } from '../core/builtin-config.js';
import { isWardenError, type ErrorCode, type WardenError } from '../core/errors.js';
import { CONFIG_FILE_NAMES, MAX_CONFIG_BYTES, loadConfig, parseConfigText } from './config-file.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-config-file-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function loadError(cwd: string, explicit?: string): Promise<WardenError> {
  try {
    await loadConfig(cwd, explicit);
  } catch (error) {
    if (isWardenError(error)) return error;
    throw error;
  }
  throw new Error('expected loadConfig to fail');
}

async function expectLoadError(code: ErrorCode, message: RegExp, cwd: string, explicit?: string): Promise<WardenError> {
  const error = await loadError(cwd, explicit);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
  return error;
}

function write(name: string, text: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/**
 * Creates a FIFO at `path`, plus a process that opens it for writing and closes it at once. Were
 * loadConfig to open the FIFO (a synchronous open that blocks until a writer appears), that writer
 * releases it with an empty read, so the test fails instead of hanging the run. Kill it afterwards.
 */
function makeFifo(path: string): ChildProcess {
  const made = spawnSync('mkfifo', [path]);
  expect(made.status, `mkfifo failed: ${made.stderr.toString()}`).toBe(0);
  return spawn('sh', ['-c', ': > "$1"', 'sh', path], { stdio: 'ignore' });
}

const PROFILE_YAML =
  'version: 1\nprofiles:\n  coding:\n    network:\n      allow: [api.github.com]\n    limits: { memory: 1GiB, timeout: 10m }\n';

describe('loadConfig: finding the file', () => {
  it('without a file, returns the built-in config and path null', async () => {
    const loaded = await loadConfig(dir);
    expect(loaded.path).toBeNull();
    expect(loaded.config).toBe(BUILTIN_CONFIG);
  });

  it('reads warden.yaml from cwd and reports its absolute path', async () => {
    const path = write('warden.yaml', PROFILE_YAML);
    const loaded = await loadConfig(dir);
    expect(loaded.path).toBe(path);
    expect(loaded.config.profiles.coding?.limits).toEqual({ memory: 1024 ** 3, timeout: 600_000 });
    expect(loaded.config.profiles.coding?.network.allow).toEqual(['api.github.com']);
  });

  it('reads warden.yml when there is no warden.yaml; warden.yaml wins when both exist', async () => {
    expect(CONFIG_FILE_NAMES).toEqual(['warden.yaml', 'warden.yml']);
    const yml = write('warden.yml', 'version: 1\nprofiles:\n  from-yml: {}\n');
    expect((await loadConfig(dir)).path).toBe(yml);
    const yaml = write('warden.yaml', 'version: 1\nprofiles:\n  from-yaml: {}\n');
    const loaded = await loadConfig(dir);
    expect(loaded.path).toBe(yaml);
    expect(Object.keys(loaded.config.profiles)).toEqual(['from-yaml']);
  });

  it('does not look in parent directories', async () => {
    write('warden.yaml', PROFILE_YAML);
    const child = join(dir, 'child');
    mkdirSync(child);
    expect((await loadConfig(child)).path).toBeNull();
  });

  it('--config: an explicit path (relative to cwd) is used instead of the search', async () => {
    write('warden.yaml', 'version: 1\nprofiles:\n  found: {}\n');
    mkdirSync(join(dir, 'conf'));
    const explicit = write('conf/other.yaml', 'version: 1\nprofiles:\n  explicit: {}\n');
    const loaded = await loadConfig(dir, 'conf/other.yaml');
    expect(loaded.path).toBe(explicit);
    expect(Object.keys(loaded.config.profiles)).toEqual(['explicit']);
    expect((await loadConfig('/', explicit)).path).toBe(explicit);
  });

  it('--config: a missing file is CONFIG_NOT_FOUND naming the resolved path, never a fallback to the built-in config', async () => {
    const error = await expectLoadError('CONFIG_NOT_FOUND', /does not exist/, dir, 'nope.yaml');
    expect(error.message).toContain(join(dir, 'nope.yaml'));
    expect(error.hint).toMatch(/--config/);
    expect(error.exitCode).toBe(2);
  });

  it('--config: a directory is CONFIG_NOT_FOUND (not a regular file)', async () => {
    mkdirSync(join(dir, 'adir'));
    await expectLoadError('CONFIG_NOT_FOUND', /not a regular file/, dir, 'adir');
  });

  it('a warden.yaml that is a directory is an error, not silently skipped', async () => {
    mkdirSync(join(dir, 'warden.yaml'));
    await expectLoadError('CONFIG_NOT_FOUND', /not a regular file/, dir);
  });

  it('--config: a FIFO is CONFIG_NOT_FOUND at once (opening it for reading would block until a writer appears)', async () => {
    const fifo = join(dir, 'fifo.yaml');
    const writer = makeFifo(fifo);
    try {
      const error = await expectLoadError('CONFIG_NOT_FOUND', /not a regular file/, dir, 'fifo.yaml');
      expect(error.message).toContain(fifo);
      expect(error.hint).toMatch(/--config/);
    } finally {
      writer.kill();
    }
  });

  it('a warden.yaml that is a FIFO is refused at once, not waited on', async () => {
    const writer = makeFifo(join(dir, 'warden.yaml'));
    try {
      await expectLoadError('CONFIG_NOT_FOUND', /not a regular file/, dir);
    } finally {
      writer.kill();
    }
  });

  it('a symlinked config file is followed', async () => {
    const real = write('real.yaml', 'version: 1\nprofiles:\n  linked: {}\n');
    symlinkSync(real, join(dir, 'warden.yaml'));
    expect(Object.keys((await loadConfig(dir)).config.profiles)).toEqual(['linked']);
  });

  it('a dangling warden.yaml symlink counts as absent', async () => {
    symlinkSync(join(dir, 'missing'), join(dir, 'warden.yaml'));
    expect((await loadConfig(dir)).path).toBeNull();
  });
});

describe('loadConfig: the 1 MiB cap', () => {
  it('MAX_CONFIG_BYTES is 1 MiB', () => {
    expect(MAX_CONFIG_BYTES).toBe(1024 * 1024);
  });

  it('a file of exactly 1 MiB is read', async () => {
    const head = 'version: 1\n# ';
    const text = `${head}${'x'.repeat(MAX_CONFIG_BYTES - head.length - 1)}\n`;
    expect(Buffer.byteLength(text)).toBe(MAX_CONFIG_BYTES);
    write('warden.yaml', text);
    expect((await loadConfig(dir)).config.version).toBe(1);
  });

  it('one byte more is CONFIG_TOO_LARGE', async () => {
    const head = 'version: 1\n# ';
    write('warden.yaml', `${head}${'x'.repeat(MAX_CONFIG_BYTES - head.length)}\n`);
    const error = await expectLoadError('CONFIG_TOO_LARGE', /larger than 1048576 bytes/, dir);
    expect(error.exitCode).toBe(2);
  });

  it('a huge explicit file is refused without reading it all', async () => {
    const path = join(dir, 'huge.yaml');
    writeFileSync(path, '');
    // A sparse 8 GiB file: reading it whole would exhaust memory.
    const { truncateSync } = await import('node:fs');
    truncateSync(path, 8 * 1024 ** 3);
    await expectLoadError('CONFIG_TOO_LARGE', /larger than/, dir, 'huge.yaml');
  });
});

describe('loadConfig: parse errors', () => {
  it('invalid YAML is CONFIG_PARSE with file:line:col', async () => {
    const path = write('warden.yaml', 'version: 1\nprofiles:\n  coding: {\n    limits: [\n');
    const error = await expectLoadError('CONFIG_PARSE', /^.+:\d+:\d+: /, dir);
    expect(error.message.startsWith(`${path}:`)).toBe(true);
    expect(error.hint).toMatch(/YAML syntax/);
  });

  it('the line and column point at the offending token', async () => {
    const path = write('warden.yaml', 'version: 1\nprofiles:\n  a: {}\n   b: {}\n');
    const error = await expectLoadError('CONFIG_PARSE', /:\d+:\d+: /, dir);
    const match = new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):(\\d+): `).exec(error.message);
    expect(match, error.message).not.toBeNull();
    expect(Number(match?.[1])).toBe(4);
  });

  it('duplicate keys are CONFIG_PARSE (a later key must not silently override an earlier one)', async () => {
    write(
      'warden.yaml',
      'version: 1\nprofiles:\n  coding:\n    network: { allow: [] }\n  coding:\n    network: { allow: [evil.example.com] }\n',
    );
    const error = await expectLoadError('CONFIG_PARSE', /:5:\d+: /, dir);
    expect(error.message.toLowerCase()).toMatch(/unique|duplicate/);
  });

  it('a tab-indented file is CONFIG_PARSE', async () => {
    write('warden.yaml', 'version: 1\nprofiles:\n\tcoding: {}\n');
    await expectLoadError('CONFIG_PARSE', /:3:\d+: /, dir);
  });

  it('invalid UTF-8 is CONFIG_PARSE', async () => {
    write(
      'warden.yaml',
      Buffer.from([0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x3a, 0x20, 0x31, 0x0a, 0x23, 0xff, 0xfe, 0x0a]),
    );
    await expectLoadError('CONFIG_PARSE', /not valid UTF-8/, dir);
  });

  it('an alias bomb is refused (billion laughs)', async () => {
    const lines = ['version: 1', 'a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++)
      lines.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(', ')}]`,
      );
    write('warden.yaml', `${lines.join('\n')}\n`);
    await expectLoadError('CONFIG_PARSE', /alias/i, dir);
  });

  it('an unquoted *.host is reported as an alias at its line, with "quote it"', async () => {
    const path = write(
      'warden.yaml',
      'version: 1\nprofiles:\n  default:\n    network:\n      allow:\n        - *.npmjs.org\n',
    );
    const error = await expectLoadError('CONFIG_PARSE', /is read as a YAML alias/, dir);
    expect(error.message).toContain(`${path}:6:11: *.npmjs.org`);
    expect(error.hint).toContain('quote it: "*.npmjs.org"');
    // In a flow list too; a real anchor and alias still work.
    write('warden.yaml', 'version: 1\nprofiles:\n  default:\n    network: { allow: [x.com, *.y.com] }\n');
    await expectLoadError('CONFIG_PARSE', /:4:31: \*\.y\.com is read as a YAML alias/, dir);
    write('warden.yaml', 'version: 1\nprofiles:\n  a: &p { description: x }\n  b: *p\n');
    expect(Object.keys((await loadConfig(dir)).config.profiles)).toEqual(['a', 'b']);
  });

  it('a key indented too little is not taken for a profile or a server', async () => {
    // `limits: {}` meant for default would otherwise be a valid, silent profile named "limits".
    const path = write(
      'warden.yaml',
      'version: 1\nprofiles:\n  default:\n    network: { allow: [a.com] }\n  limits: {}\nservers:\n  files:\n    command: node\n  args: [x]\n',
    );
    const error = await expectLoadError('CONFIG_INVALID', /'limits' is a field of a profile, not a profile name/, dir);
    expect(error.message).toContain(`${path}:5:3 profiles.limits:`);
    expect(error.message).toContain('indent it under the profile it belongs to (profiles.<name>.limits)');
    expect(error.message).toContain(`${path}:9:3 servers.args: 'args' is a field of a server, not a server name`);
    write('warden.yaml', 'version: 1\nprofiles:\n  default: {}\n  servers:\n    files: { command: node }\n');
    await expectLoadError(
      'CONFIG_INVALID',
      /profiles\.servers: 'servers' is a top-level field.*move it to the top level/,
      dir,
    );
  });

  it('an empty file is CONFIG_INVALID (not the built-in config)', async () => {
    write('warden.yaml', '');
    await expectLoadError('CONFIG_INVALID', /empty/, dir);
    write('warden.yaml', '# only a comment\n');
    await expectLoadError('CONFIG_INVALID', /empty/, dir);
  });

  it('a top-level list or scalar is CONFIG_INVALID', async () => {
    write('warden.yaml', '- version: 1\n');
    await expectLoadError('CONFIG_INVALID', /invalid config/, dir);
    write('warden.yaml', 'just text\n');
    await expectLoadError('CONFIG_INVALID', /invalid config/, dir);
  });
});

describe('loadConfig: schema errors name file, line, column and path', () => {
  it('a bad value points at its line and the path inside the file', async () => {
    const path = write('warden.yaml', 'version: 1\nprofiles:\n  coding:\n    limits:\n      timeout: soon\n');
    const error = await expectLoadError('CONFIG_INVALID', /'soon' is not a duration/, dir);
    expect(error.message).toContain(`${path}:5:16 profiles.coding.limits.timeout:`);
    expect(error.exitCode).toBe(2);
  });

  it('an unknown key names the key', async () => {
    const path = write('warden.yaml', 'version: 1\nprofiles:\n  coding:\n    netwrok: {}\n');
    const error = await expectLoadError('CONFIG_INVALID', /unknown field 'netwrok'/, dir);
    expect(error.message).toContain(`${path}:`);
    expect(error.message).toContain('profiles.coding:');
  });

  it('a missing version says the field is required', async () => {
    write('warden.yaml', 'profiles: {}\n');
    await expectLoadError('CONFIG_INVALID', /:1:1 version: must be 1/, dir);
  });

  it('a bad profile name says why', async () => {
    write('warden.yaml', 'version: 1\nprofiles:\n  Bad Name: {}\n');
    await expectLoadError('CONFIG_INVALID', /profile names are lower-case/, dir);
  });

  it('list items are shown with their index', async () => {
    write('warden.yaml', "version: 1\nprofiles:\n  coding:\n    network:\n      allow: [ok.example.com, '*']\n");
    await expectLoadError('CONFIG_INVALID', /profiles\.coding\.network\.allow\[1\]: '\*': /, dir);
  });

  it('SBX-05 a writable system directory is refused when loading', async () => {
    write('warden.yaml', 'version: 1\nprofiles:\n  coding:\n    filesystem:\n      writable: [/etc]\n');
    await expectLoadError('CONFIG_INVALID', /system directory cannot be writable/, dir);
  });

  it('at most ten issues are listed, then a count of the rest', async () => {
    const names = Array.from({ length: 13 }, (_, i) => `      - '${i}bad'`).join('\n');
    write('warden.yaml', `version: 1\nprofiles:\n  coding:\n    env:\n      pass:\n${names}\n`);
    const error = await expectLoadError('CONFIG_INVALID', /… and 3 more/, dir);
    expect(error.message.split('\n').filter((l) => l.includes('not a valid environment variable name'))).toHaveLength(
      10,
    );
  });
});

describe('parseConfigText', () => {
  it('returns a deeply frozen config', async () => {
    const config = await parseConfigText(PROFILE_YAML, 'inline');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.profiles.coding?.network.allow)).toBe(true);
    expect(() => (config.profiles.coding?.network.allow as string[]).push('*')).toThrow(TypeError);
  });

  it('names the source it was given in errors', async () => {
    await expect(parseConfigText('version: [\n', 'my-source.yaml')).rejects.toThrow(/^my-source\.yaml:\d+:\d+: /);
  });
});
