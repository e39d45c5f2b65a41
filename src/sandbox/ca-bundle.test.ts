import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FULL_BUNDLE_VARIABLES, hostCaBundle, SANDBOX_CA_DIR } from './ca-bundle.js';
import { etcViewShows } from './etc-view.js';

const SYSTEM = '/etc/ssl/certs/ca-certificates.crt';
let dir = '';
let runtime = '';
let cert = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-ca-'));
  runtime = join(dir, 'runtime');
  mkdirSync(runtime);
  execFileSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=warden test CA',
  ]);
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8').trim();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hostCaBundle', () => {
  it.runIf(statSync(SYSTEM, { throwIfNoEntry: false })?.isFile() === true)(
    'names the system bundle as it is when warden has no CA variables (nothing copied)',
    () => {
      const ca = hostCaBundle({}, runtime, 999);
      expect(ca.files).toEqual([]);
      for (const name of [...FULL_BUNDLE_VARIABLES, 'NODE_EXTRA_CA_CERTS']) expect(ca.env[name]).toBe(SYSTEM);
    },
  );

  it('SBX-04 a NODE_EXTRA_CA_CERTS file outside the view enters as its certificates only, at a path of its own', () => {
    const secret = join(dir, 'private');
    mkdirSync(secret, { mode: 0o700 });
    const file = join(secret, 'corp.pem');
    // A careless bundle: the certificate, its key and a comment.
    writeFileSync(file, `# corp\n${readFileSync(join(dir, 'key.pem'), 'utf8')}${cert}\n`, { mode: 0o600 });
    const ca = hostCaBundle({ NODE_EXTRA_CA_CERTS: file }, runtime, 999);
    expect(ca.env.NODE_EXTRA_CA_CERTS).toBe(join(SANDBOX_CA_DIR, 'node-extra.pem'));
    expect(ca.files).toHaveLength(1);
    const copy = ca.files[0];
    expect(copy?.dest).toBe(join(SANDBOX_CA_DIR, 'node-extra.pem'));
    expect(copy?.src.startsWith(`${runtime}/ca-`)).toBe(true);
    const text = readFileSync(copy?.src ?? '', 'utf8');
    expect(text).toBe(`${cert}\n`);
    expect(text).not.toContain('PRIVATE KEY');
    expect(statSync(copy?.src ?? '').mode & 0o777).toBe(0o644);
    // The full-bundle variables stay on the system bundle: Node's extra certificates are added, not a list.
    if (statSync(SYSTEM, { throwIfNoEntry: false })?.isFile() === true) expect(ca.env.SSL_CERT_FILE).toBe(SYSTEM);
    // The same content is the same copy (content-addressed: runs share it).
    expect(hostCaBundle({ NODE_EXTRA_CA_CERTS: file }, runtime, 999).files[0]?.src).toBe(copy?.src);
  });

  it('an SSL_CERT_FILE outside the view becomes the one bundle every variable names', () => {
    const file = join(dir, 'bundle.pem');
    writeFileSync(file, `${cert}\n`, { mode: 0o600 });
    const ca = hostCaBundle({ SSL_CERT_FILE: file }, runtime, 999);
    const inside = join(SANDBOX_CA_DIR, 'bundle.pem');
    for (const name of [...FULL_BUNDLE_VARIABLES, 'NODE_EXTRA_CA_CERTS']) expect(ca.env[name]).toBe(inside);
    expect(ca.files.map((f) => f.dest)).toEqual([inside]);
  });

  it('a file of the sandbox uid is named as it is only where the sandbox sees that path', () => {
    // Outside /usr and the bound /etc directories the sandbox sees nothing at that path: copied.
    const file = join(dir, 'mine.pem');
    writeFileSync(file, `${cert}\n`, { mode: 0o644 });
    chmodSync(dir, 0o755);
    expect(hostCaBundle({ NODE_EXTRA_CA_CERTS: file }, runtime, process.getuid?.() ?? 0).files).toHaveLength(1);
  });

  it('ignores what is not a bundle: no certificate, a directory, a relative path, a missing file', () => {
    const empty = join(dir, 'empty.pem');
    writeFileSync(empty, 'not a certificate\n');
    const before = readdirSync(runtime).length;
    for (const value of [empty, dir, 'cert.pem', join(dir, 'missing.pem')]) {
      const ca = hostCaBundle({ NODE_EXTRA_CA_CERTS: value }, runtime, 999);
      expect(ca.env.NODE_EXTRA_CA_CERTS).toBe(ca.env.SSL_CERT_FILE);
      expect(ca.files).toEqual([]);
    }
    expect(readdirSync(runtime)).toHaveLength(before);
  });
});

describe('etcViewShows', () => {
  it('is true inside an /etc directory the view binds, false for copied files and other entries', () => {
    const etc = mkdtempSync(join(tmpdir(), 'warden-etc-'));
    try {
      mkdirSync(join(etc, 'ssl', 'certs'), { recursive: true });
      mkdirSync(join(etc, 'secret'));
      writeFileSync(join(etc, 'ssl', 'certs', 'b.crt'), '');
      writeFileSync(join(etc, 'ca-certificates.conf'), '');
      writeFileSync(join(etc, 'secret', 'b.crt'), '');
      expect(etcViewShows(join(etc, 'ssl', 'certs', 'b.crt'), etc)).toBe(true);
      expect(etcViewShows(join(etc, 'ca-certificates.conf'), etc)).toBe(false);
      expect(etcViewShows(join(etc, 'secret', 'b.crt'), etc)).toBe(false);
      expect(etcViewShows(join(etc, 'ssl'), etc)).toBe(false);
      expect(etcViewShows('/usr/share/ca-certificates/x.crt', etc)).toBe(false);
    } finally {
      rmSync(etc, { recursive: true, force: true });
    }
  });
});
