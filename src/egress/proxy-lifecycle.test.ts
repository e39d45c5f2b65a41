import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isWardenError } from '../core/errors.js';
import { ProxyCredential } from './credential.js';
import { EgressPolicy } from './policy.js';
import { EgressProxy } from './proxy.js';
import type { EgressProxyOptions } from './proxy.js';
import { CREDENTIAL, RecordingSink, basic } from '../../test/kits/egress.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function options(socketPath: string, extra: Partial<EgressProxyOptions> = {}): EgressProxyOptions {
  return {
    socketPath,
    socketMode: 0o660,
    policy: new EgressPolicy([]),
    credential: CREDENTIAL,
    sink: new RecordingSink(),
    runId: 'run_T',
    agent: { name: 'a', run_id: 'run_T' },
    ...extra,
  };
}

function tempSocket(): string {
  const dir = mkdtempSync(join(tmpdir(), 'warden-egress-life-'));
  dirs.push(dir);
  return join(dir, 'egress.sock');
}

describe('EgressProxy lifecycle', () => {
  it('listens with the configured socket mode and removes the socket on close', async () => {
    for (const mode of [0o660, 0o666]) {
      const path = tempSocket();
      const proxy = new EgressProxy(options(path, { socketMode: mode }));
      await proxy.start();
      expect(statSync(path).mode & 0o777).toBe(mode);
      await proxy.close();
      expect(() => statSync(path)).toThrow();
      await proxy.close();
    }
  });

  it('replaces a stale socket file but refuses a live one or a non-socket file', async () => {
    const path = tempSocket();
    const live = createServer();
    await new Promise<void>((resolve) => live.listen(path, resolve));
    const second = new EgressProxy(options(path));
    const err: unknown = await second.start().catch((e: unknown) => e);
    expect(isWardenError(err) && err.code === 'EGRESS_START_FAILED').toBe(true);
    await new Promise<void>((resolve) => live.close(() => resolve()));
    // A process killed while listening leaves its socket file behind.
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(statSync(path).isSocket()).toBe(true);
    const third = new EgressProxy(options(path));
    await third.start();
    await third.close();

    const file = tempSocket();
    writeFileSync(file, 'not a socket');
    const fourth = new EgressProxy(options(file));
    const err2: unknown = await fourth.start().catch((e: unknown) => e);
    expect(isWardenError(err2) && err2.code === 'EGRESS_START_FAILED').toBe(true);
  });

  it('rejects unusable credentials without echoing them', () => {
    for (const bad of ['', 'has space', 'x'.repeat(256), 'tab\there']) {
      let message = '';
      try {
        new EgressProxy(options(tempSocket(), { credential: bad }));
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/credential must be/);
      if (bad.length > 0) expect(message).not.toContain(bad);
    }
  });
});

describe('ProxyCredential', () => {
  const credential = new ProxyCredential(CREDENTIAL);
  it('accepts only warden:<credential> in Basic form', () => {
    expect(credential.checkBasic(basic('warden', CREDENTIAL))).toBe('ok');
    expect(credential.checkBasic(`basic   ${Buffer.from(`warden:${CREDENTIAL}`).toString('base64')}`)).toBe('ok');
    expect(credential.checkBasic(undefined)).toBe('missing');
    expect(credential.checkBasic('')).toBe('missing');
    expect(credential.checkBasic(basic('Warden', CREDENTIAL))).toBe('wrong');
    expect(credential.checkBasic(basic('warden', CREDENTIAL.slice(1)))).toBe('wrong');
    expect(credential.checkBasic(basic('warden', `${CREDENTIAL}:`))).toBe('wrong');
    expect(credential.checkBasic(`Basic ${'A'.repeat(5000)}`)).toBe('wrong');
    expect(credential.checkBasic('Digest abc')).toBe('wrong');
  });
});
