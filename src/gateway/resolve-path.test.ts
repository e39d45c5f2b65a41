/**
 * GW-12: path arguments resolved as the server's open() will see them, on a real directory tree
 * (symlinks, dangling and looping links, files on the way, Unicode spellings).
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallPathResolver, PATH_LIMITS } from './resolve-path.js';

let root = '';
let ws = '';
let outside = '';

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'warden-resolve-')));
  ws = join(root, 'ws');
  outside = join(root, 'outside');
  mkdirSync(join(ws, 'public', 'sub'), { recursive: true });
  mkdirSync(join(ws, 'secrets'));
  mkdirSync(outside);
  writeFileSync(join(ws, 'public', 'a.txt'), 'a');
  writeFileSync(join(ws, 'secrets', 'key'), 'k');
  writeFileSync(join(outside, 'x'), 'x');
  symlinkSync(join(ws, 'secrets'), join(ws, 'public', 'to-secrets'));
  symlinkSync('../secrets/key', join(ws, 'public', 'key-link'));
  symlinkSync(outside, join(ws, 'public', 'out'));
  symlinkSync('sub', join(ws, 'public', 'rel'));
  symlinkSync(join(ws, 'nowhere'), join(ws, 'public', 'dangling'));
  symlinkSync('loop2', join(ws, 'public', 'loop1'));
  symlinkSync('loop1', join(ws, 'public', 'loop2'));
  // A link whose target passes through secrets and comes back to public.
  symlinkSync(join(ws, 'secrets'), join(ws, 'public', 'detour'));
  mkdirSync(join(ws, 'cafe\u0301'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const resolver = () => new CallPathResolver(ws, ws);
const ok = (value: string) => {
  const r = resolver().resolve(value);
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.value;
};
const refused = (value: string) => {
  const r = resolver().resolve(value);
  if (r.ok) throw new Error(`resolved to ${r.value.path}`);
  return r;
};

describe('CallPathResolver (GW-12)', () => {
  it('takes relative paths from the workspace and normalises . and ..', () => {
    expect(ok('public/a.txt')).toEqual({ path: `${ws}/public/a.txt`, seen: [`${ws}/public/a.txt`] });
    expect(ok(`${ws}/public/./sub/../a.txt`).path).toBe(`${ws}/public/a.txt`);
    expect(ok('public/new/deeper.txt').path).toBe(`${ws}/public/new/deeper.txt`);
    expect(ok('/').path).toBe('/');
  });

  it('GW-12 follows a symlink to where it points and decides on every place the path went', () => {
    expect(ok('public/to-secrets/key')).toEqual({
      path: `${ws}/secrets/key`,
      seen: [`${ws}/secrets/key`, `${ws}/secrets`],
    });
    expect(ok('public/key-link').path).toBe(`${ws}/secrets/key`);
    expect(ok('public/rel/x').path).toBe(`${ws}/public/sub/x`);
    expect(ok('public/out/x').path).toBe(`${outside}/x`);
  });

  it("GW-12 'a/link/../b' goes through the link's target, not back to a", () => {
    // Lexically this is public/a.txt; the kernel goes to secrets/.. = ws.
    expect(ok('public/to-secrets/../public/a.txt')).toEqual({
      path: `${ws}/public/a.txt`,
      seen: [`${ws}/public/a.txt`, `${ws}/secrets`],
    });
    expect(ok('public/out/../ws/secrets/key').path).toBe(`${ws}/secrets/key`);
  });

  it('GW-12 refuses dangling and looping links, files on the way, and .. after a missing component', () => {
    expect(refused('public/dangling').reason).toMatch(/does not exist/);
    expect(refused('public/dangling/x').reason).toMatch(/does not exist/);
    expect(refused('public/loop1').reason).toMatch(/more than 40 symlinks/);
    expect(refused('public/a.txt/x').reason).toMatch(/not a directory/);
    expect(refused('public/a.txt/..').reason).toMatch(/not a directory/);
    expect(refused('public/missing/../../secrets/key').reason).toMatch(/'\.\.' after .*missing, which does not exist/);
  });

  it('says whether a refusal happened outside the workspace (the agent is told no more there)', () => {
    expect(refused('public/dangling').outside).toBe(false);
    symlinkSync('/nonexistent-warden-test/x', join(ws, 'public', 'host-probe'));
    try {
      expect(refused('public/host-probe')).toMatchObject({ outside: true });
      expect(refused('/etc/passwd/x')).toMatchObject({ outside: true });
    } finally {
      rmSync(join(ws, 'public', 'host-probe'));
    }
  });

  it('GW-12 decides on NFC and forwards the spelling found on disk', () => {
    const nfd = 'cafe\u0301';
    const nfc = 'caf\u00e9';
    const r = ok(`${nfd}/menu`);
    expect(r.path).toBe(`${ws}/${nfd}/menu`);
    expect(r.seen).toEqual([`${ws}/${nfc}/menu`]);
  });

  it('bounds every path: length, NUL, lone surrogates, components, hops', () => {
    expect(refused('').reason).toMatch(/empty/);
    expect(refused('a'.repeat(PATH_LIMITS.length + 1)).reason).toMatch(/longer than/);
    expect(refused('a\0b').reason).toMatch(/NUL/);
    expect(refused('a\ud800b').reason).toMatch(/lone surrogate/);
    expect(refused('./'.repeat(PATH_LIMITS.components)).reason).toMatch(/components/);
    expect(ok('a\ud83d\ude00b').path).toBe(`${ws}/a\ud83d\ude00b`);
  });

  it('walks from / when the workspace is not a trusted real path', () => {
    const r = new CallPathResolver(ws, null).resolve('public/to-secrets/key');
    expect(r).toMatchObject({ ok: true, value: { path: `${ws}/secrets/key` } });
  });
});
