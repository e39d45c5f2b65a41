/**
 * The host's CA certificates inside the sandbox (src/sandbox/ca-bundle.ts), as root and as an
 * ordinary user, with real TLS through the egress proxy:
 *
 * - a local HTTPS server whose certificate is signed by a CA made for this test; warden's own
 *   environment names that CA in a file outside anything the sandbox sees (a 0700 directory), the
 *   way a corporate CA is often configured; Node, curl and Python inside verify the server;
 * - the real npm registry, which on these machines sits behind a TLS-inspecting CA that is in the
 *   system bundle and resolves to a reserved address: Node's fetch inside works with no CA variable
 *   in warden's environment at all (skipped where the host itself cannot reach the registry).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  availableModes,
  makeWorkspace,
  probeValues,
  removeWorkspace,
  runShell,
  TEST_USER,
  userIds,
  type Mode,
  type WardenResult,
} from '../helpers/warden.js';
import { wardenWithHosts } from '../escape/escape-kit.js';

const NAME = 'tls.warden.test';
let pki = '';
let server: Server;
let port = 0;

/** A CA and a server certificate for NAME signed by it (openssl, as the host would have them). */
function makePki(dir: string): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=warden test CA');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${NAME}`);
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=DNS:${NAME}\n`);
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  );
}

beforeAll(async () => {
  pki = mkdtempSync('/tmp/warden-ca-pki-');
  makePki(pki);
  server = createServer(
    { key: readFileSync(join(pki, 'server.key')), cert: readFileSync(join(pki, 'server.pem')) },
    (_req, res) => res.end('tls ok\n'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(pki, { recursive: true, force: true });
});

/** Fetches URL with Node, curl and Python's urllib; prints NODE=, CURL=, PY= and the variables. */
const PROBE = String.raw`
node -e "fetch(process.argv[1]).then(r => console.log('NODE=' + r.status)).catch(e => console.log('NODE=' + (e.cause?.code ?? e.message)))" "$URL"
echo "CURL=$(curl -sS -o /dev/null -w '%{http_code}' "$URL" 2>/dev/null || echo failed)"
python3 -c "import sys, urllib.request; print('PY=%d' % urllib.request.urlopen(sys.argv[1], timeout=20).status)" "$URL" 2>/dev/null || echo PY=failed
echo "NODE_EXTRA=$NODE_EXTRA_CA_CERTS"
echo "SSL_FILE=$SSL_CERT_FILE"
echo "EXTRA_KEYS=$(grep -c 'PRIVATE KEY' "$NODE_EXTRA_CA_CERTS")"
echo "EXTRA_CERTS=$(grep -c 'BEGIN CERTIFICATE' "$NODE_EXTRA_CA_CERTS")"
ls "$CA_DIR" >/dev/null 2>&1 && echo CA_DIR=visible || echo CA_DIR=hidden
`;

describe.each(availableModes())('CA certificates inside warden run, warden as %s', (mode: Mode) => {
  let workspace = '';
  let caDir = '';
  afterEach(() => {
    removeWorkspace(workspace);
    rmSync(caDir, { recursive: true, force: true });
  });

  /** A 0700 directory of warden's own user holding `content` as ca.pem (outside the sandbox's view). */
  function privateCaFile(content: string): string {
    caDir = mkdtempSync('/tmp/warden-ca-private-');
    const file = join(caDir, 'ca.pem');
    writeFileSync(file, content, { mode: 0o600 });
    const owner = mode === 'user' ? userIds(TEST_USER) : null;
    if (owner !== null) {
      chownSync(caDir, owner.uid, owner.gid);
      chownSync(file, owner.uid, owner.gid);
    }
    chmodSync(caDir, 0o700);
    return file;
  }

  function probe(env: Record<string, string>): Promise<WardenResult> {
    const url = `https://${NAME}:${port}/`;
    return wardenWithHosts(
      mode,
      [`127.0.0.2 ${NAME}`],
      [
        'run',
        '--allow-domain',
        `${NAME}:${port}`,
        '--allow-domain',
        `127.0.0.2:${port}`,
        '-e',
        `URL=${url}`,
        '-e',
        `CA_DIR=${caDir}`,
        '--',
        '/bin/sh',
        '-c',
        PROBE,
      ],
      { cwd: workspace, env, timeoutMs: 60_000 },
    );
  }

  it("SBX-04 warden's NODE_EXTRA_CA_CERTS outside the view: Node inside trusts that CA; only its certificates enter, its directory stays hidden", async () => {
    workspace = makeWorkspace(mode);
    // A careless file: the CA's certificate together with its private key.
    const ca = privateCaFile(
      `${readFileSync(join(pki, 'ca.key'), 'utf8')}${readFileSync(join(pki, 'ca.pem'), 'utf8')}`,
    );
    const run = await probe({ NODE_EXTRA_CA_CERTS: ca });
    expect(run.code, run.stderr).toBe(0);
    const v = probeValues(run.stdout);
    expect(v.get('NODE'), run.stdout).toBe('200');
    expect(v.get('NODE_EXTRA')).toBe('/run/warden/ca/node-extra.pem');
    expect(v.get('EXTRA_CERTS')).toBe('1');
    expect(v.get('EXTRA_KEYS')).toBe('0');
    expect(v.get('CA_DIR')).toBe('hidden');
    // Node's extra certificates are added to its list; the full bundle (curl, Python) stays the system's.
    expect(v.get('SSL_FILE')).toBe('/etc/ssl/certs/ca-certificates.crt');
    expect(v.get('CURL')).not.toBe('200');
  });

  it("warden's SSL_CERT_FILE outside the view: Node, curl and Python inside all use it", async () => {
    workspace = makeWorkspace(mode);
    const system = readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8');
    const ca = privateCaFile(`${system}\n${readFileSync(join(pki, 'ca.pem'), 'utf8')}`);
    const run = await probe({ SSL_CERT_FILE: ca });
    expect(run.code, run.stderr).toBe(0);
    const v = probeValues(run.stdout);
    expect(v.get('SSL_FILE')).toBe('/run/warden/ca/bundle.pem');
    expect(v.get('NODE_EXTRA')).toBe('/run/warden/ca/bundle.pem');
    expect({ node: v.get('NODE'), curl: v.get('CURL'), py: v.get('PY') }, run.stdout).toEqual({
      node: '200',
      curl: '200',
      py: '200',
    });
    expect(v.get('CA_DIR')).toBe('hidden');
  });

  it('control: without the CA in warden’s environment, Node, curl and Python inside refuse the server', async () => {
    workspace = makeWorkspace(mode);
    caDir = mkdtempSync('/tmp/warden-ca-private-');
    const run = await probe({});
    expect(run.code, run.stderr).toBe(0);
    const v = probeValues(run.stdout);
    expect(v.get('NODE')).toMatch(/^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/);
    expect(v.get('CURL')).not.toBe('200');
    expect(v.get('PY')).toBe('failed');
  });

  it("the real npm registry through the egress proxy: Node's fetch inside trusts the host's TLS-inspecting CA by default", async (ctx) => {
    // The host's own Node, told about the system bundle, must reach it first (no network: skip).
    const hostProbe = spawnSync(
      process.execPath,
      ['-e', "fetch('https://registry.npmjs.org/-/ping').then(r => console.log(r.status), () => console.log('x'))"],
      { env: { PATH: '/usr/bin:/bin', NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' }, encoding: 'utf8' },
    );
    if (hostProbe.stdout.trim() !== '200') ctx.skip();
    workspace = makeWorkspace(mode);
    // NET-07: where the registry resolves to a reserved address, that exact address must be allowed too.
    const addresses = (await lookup('registry.npmjs.org', { all: true })).map((a) => a.address);
    const run = await runShell(
      mode,
      workspace,
      `node -e "fetch('https://registry.npmjs.org/-/ping').then(r => console.log('NODE=' + r.status)).catch(e => console.log('NODE=' + (e.cause?.code ?? e.message)))"`,
      [
        '--allow-domain',
        'registry.npmjs.org',
        ...addresses.flatMap((a) => ['--allow-domain', a.includes(':') ? `[${a}]` : a]),
      ],
      { timeoutMs: 60_000 },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(probeValues(run.stdout).get('NODE'), run.stdout + run.stderr).toBe('200');
    expect(run.summary?.egress.allowed).toBeGreaterThanOrEqual(1);
  });
});
