import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDENTIAL, startForwarder, startHttpServer, startProxy, tableResolver } from '../../test/kits/egress.js';
import type { ProxyFixture } from '../../test/kits/egress.js';

// Node's built-in fetch, as an agent would call it; prints "<status> <body>" or "ERR <message>".
const FETCH = `fetch(process.argv[1]).then(async (r) => console.log(r.status, await r.text()), (e) => console.log('ERR', e.cause?.message ?? e.message))`;

function node(args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env, timeout: 20_000 }, (_error, stdout, stderr) =>
      resolve(`${stdout}${stderr}`.trim()),
    );
  });
}

let fx: ProxyFixture;
let upstream: Awaited<ReturnType<typeof startHttpServer>>;
let forwarder: Awaited<ReturnType<typeof startForwarder>>;
let preload: string;
const baseEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

beforeAll(async () => {
  upstream = await startHttpServer((_req, res) => res.end('hello'));
  fx = await startProxy({
    allow: [`127.0.0.1:${upstream.port}`, 'allowed.test:*'],
    resolver: tableResolver({ 'allowed.test': ['127.0.0.1'] }),
  });
  forwarder = await startForwarder(fx.socketPath);
  // Bundle it the way the build does: one self-contained ES module.
  preload = join(fx.dir, 'node-proxy-preload.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('./node-proxy-preload.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: preload,
    logLevel: 'silent',
    // undici is CommonJS and requires node: builtins; an ES bundle needs a real `require` (as scripts/build.mjs does).
    banner: {
      js: 'import { createRequire as __wardenRequire } from "node:module"; const require = __wardenRequire(import.meta.url);',
    },
  });
}, 60_000);

afterAll(async () => {
  await forwarder.close();
  await fx.close();
  await upstream.close();
});

describe('node-proxy-preload', () => {
  it("without the preload, Node 20's fetch ignores HTTP_PROXY (the gap it closes)", async () => {
    const proxy = `http://warden:${CREDENTIAL}@127.0.0.1:${forwarder.port}`;
    const out = await node(['-e', FETCH, `http://allowed.test:${upstream.port}/`], {
      ...baseEnv,
      HTTP_PROXY: proxy,
      http_proxy: proxy,
    });
    // allowed.test exists only in the proxy's resolver: a direct attempt cannot find it.
    if (process.versions.node.startsWith('20.')) expect(out).toMatch(/^ERR /);
  });

  it('with the preload, fetch goes through the proxy with the credential', async () => {
    const proxy = `http://warden:${CREDENTIAL}@127.0.0.1:${forwarder.port}`;
    const env = { ...baseEnv, HTTP_PROXY: proxy, HTTPS_PROXY: proxy, NODE_OPTIONS: `--import=${preload}` };
    expect(await node(['-e', FETCH, `http://allowed.test:${upstream.port}/`], env)).toBe('200 hello');
    expect(fx.sink.of('egress.allowed').some((e) => e.data.host === 'allowed.test')).toBe(true);
    const refused = await node(['-e', FETCH, `http://evil.test:${upstream.port}/`], env);
    expect(refused).not.toMatch(/^200/);
    expect(fx.sink.of('egress.denied').some((e) => e.data.host === 'evil.test')).toBe(true);
  });

  it('is harmless when no proxy variable is set', async () => {
    const out = await node(['--import', preload, '-e', FETCH, `http://127.0.0.1:${upstream.port}/`], baseEnv);
    expect(out).toBe('200 hello');
  });
});
