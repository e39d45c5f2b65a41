/**
 * The host's CA certificates, as every sandbox sees them. Programs find a CA list in different
 * places: OpenSSL-based ones (curl, Python's ssl, git, Go, Ruby) read the system bundle under
 * /etc/ssl (visible through the /etc view), but Node uses its own built-in list unless
 * NODE_EXTRA_CA_CERTS names a file, and Python `requests` uses certifi's unless REQUESTS_CA_BUNDLE
 * does. Behind a TLS-inspecting corporate proxy the host trusts an extra CA, and an agent that
 * does not gets certificate errors on every HTTPS call. So every sandbox gets the variables the
 * common runtimes read, all pointing at one bundle it can read:
 *
 * - the full bundle (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO): warden's
 *   own SSL_CERT_FILE when it names a file, else the distribution's system bundle;
 * - Node's extra certificates (NODE_EXTRA_CA_CERTS): warden's own NODE_EXTRA_CA_CERTS when it names
 *   a file, else the full bundle (Node adds them to its list).
 *
 * A bundle the sandbox can read at its own path (under /usr, or in an /etc directory the view
 * binds, world-readable) is named as it is: nothing is copied. Any other file (say
 * /root/corp-ca.pem) is not bound at its path: only its PEM certificate blocks are copied to the
 * runtime root (content-addressed, 0644, shared by runs) and bound read-only at
 * /run/warden/ca/<name>.pem, so nothing else in that file or its directory enters the sandbox.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  constants as fsConstants,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { etcViewShows } from './etc-view.js';

/** Where copied bundles appear inside every sandbox. */
export const SANDBOX_CA_DIR = '/run/warden/ca';

/** A host file bound read-only at a path inside the sandbox. */
export interface SandboxFile {
  readonly src: string;
  readonly dest: string;
}

/** The CA bundle every sandbox of this warden process gets. */
export interface CaBundle {
  /** Variables naming the bundle inside the sandbox (empty when the host has none). */
  readonly env: Readonly<Record<string, string>>;
  /** Copies bound read-only inside (only for bundles the sandbox cannot read at their own path). */
  readonly files: readonly SandboxFile[];
}

/** System bundles, most common first: Debian/Ubuntu/Arch, Fedora/RHEL, openSUSE, Alpine. */
const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/ssl/cert.pem',
];

/** Variables that take a full CA bundle (they replace the program's own list). */
export const FULL_BUNDLE_VARIABLES = [
  'SSL_CERT_FILE',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  'GIT_SSL_CAINFO',
] as const;
/** Node's variable: certificates added to its built-in list. */
export const NODE_EXTRA_VARIABLE = 'NODE_EXTRA_CA_CERTS';

/** A CA file larger than this is not a CA bundle (Debian's is ~220 KB). */
const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g;

/**
 * Decides the sandbox's CA bundle once per warden process.
 * @param env warden's own environment (SSL_CERT_FILE and NODE_EXTRA_CA_CERTS are read from it)
 * @param runtimeRoot where copies are kept (never visible inside as such)
 * @param sandboxUid the uid the sandbox runs as (a bundle it owns need not be world-readable)
 */
export function hostCaBundle(env: NodeJS.ProcessEnv, runtimeRoot: string, sandboxUid: number): CaBundle {
  const files: SandboxFile[] = [];
  const place = (file: HostFile | null, name: string): string | null => {
    if (file === null) return null;
    if (readableInside(file, sandboxUid)) return file.path;
    const copy = copyCertificates(file.path, runtimeRoot);
    if (copy === null) return null;
    const dest = join(SANDBOX_CA_DIR, name);
    files.push({ src: copy, dest });
    return dest;
  };
  const given = (name: string): HostFile | null => {
    const value = env[name];
    return value !== undefined && value.startsWith('/') ? hostFile(value) : null;
  };
  const system = (): HostFile | null => {
    for (const path of SYSTEM_BUNDLES) {
      const file = hostFile(path);
      if (file !== null) return file;
    }
    return null;
  };

  // A variable naming something that is not a usable bundle falls back to what the host would use.
  const givenFull = given('SSL_CERT_FILE');
  const full = place(givenFull, 'bundle.pem') ?? place(system(), 'bundle.pem');
  const givenExtra = given(NODE_EXTRA_VARIABLE);
  const nodeExtra = (givenExtra?.path === givenFull?.path ? null : place(givenExtra, 'node-extra.pem')) ?? full;

  const out: Record<string, string> = {};
  if (full !== null) for (const name of FULL_BUNDLE_VARIABLES) out[name] = full;
  if (nodeExtra !== null) out[NODE_EXTRA_VARIABLE] = nodeExtra;
  return { env: out, files };
}

/** A regular host file: its real path, mode and owner. */
interface HostFile {
  readonly path: string;
  readonly mode: number;
  readonly uid: number;
}

function hostFile(path: string): HostFile | null {
  try {
    // The native realpath: one call instead of an lstat per component (this runs on every start).
    const real = realpathSync.native(path);
    const st = statSync(real);
    return st.isFile() ? { path: real, mode: st.mode, uid: st.uid } : null;
  } catch {
    return null;
  }
}

/**
 * Whether the sandbox can read the file at that very path: it lies under /usr or in an /etc
 * directory the view binds, and it and every directory down to it from there are open to the
 * sandbox uid (to others, or its own).
 */
function readableInside(file: HostFile, uid: number): boolean {
  const top = file.path.startsWith('/usr/')
    ? '/usr'
    : etcViewShows(file.path)
      ? `/etc/${file.path.split('/')[2] ?? ''}`
      : null;
  if (top === null) return false;
  if (!((file.mode & 0o004) !== 0 || (file.uid === uid && (file.mode & 0o400) !== 0))) return false;
  try {
    for (let dir = dirname(file.path); dir.length >= top.length; dir = dirname(dir)) {
      const st = statSync(dir);
      if (!((st.mode & 0o001) !== 0 || (st.uid === uid && (st.mode & 0o100) !== 0))) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Copies the PEM certificates of `path` (nothing else: a key or a comment in the same file stays
 * out) to `<runtimeRoot>/ca-<hash>.pem`, readable by the sandbox user; returns the copy, or null
 * when the file cannot be read or holds no certificate (the run goes on without it).
 */
function copyCertificates(path: string, runtimeRoot: string): string | null {
  let text: string;
  try {
    text = readBounded(path);
  } catch {
    return null;
  }
  const certificates = text.match(PEM_CERTIFICATE);
  if (certificates === null) return null;
  const content = `${certificates.map((c) => c.replace(/\r\n/g, '\n')).join('\n')}\n`;
  const copy = join(runtimeRoot, `ca-${createHash('sha256').update(content).digest('hex').slice(0, 16)}.pem`);
  if (existsSync(copy)) {
    touch(copy);
    return copy;
  }
  const staging = `${copy}.tmp-${process.pid}`;
  try {
    writeFileSync(staging, content, { mode: 0o644 });
    renameSync(staging, copy);
  } catch {
    rmSync(staging, { force: true });
    return null;
  }
  pruneCopies(runtimeRoot, copy);
  return copy;
}

/** Reads a file of at most MAX_BUNDLE_BYTES (larger: refused), without following it into a FIFO. */
function readBounded(path: string): string {
  const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_BUNDLE_BYTES) throw new Error('not a bundle');
    const buffer = Buffer.alloc(st.size);
    let read = 0;
    while (read < st.size) {
      const n = readSync(fd, buffer, read, st.size - read, read);
      if (n === 0) break;
      read += n;
    }
    return buffer.subarray(0, read).toString('latin1');
  } finally {
    closeSync(fd);
  }
}

function touch(path: string): void {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {
    // a stale time only delays pruning
  }
}

/** Removes copies unused for a week (the host's bundle changed since). */
function pruneCopies(runtimeRoot: string, keep: string): void {
  const weekAgo = Date.now() - 7 * 86_400_000;
  for (const name of readdirSync(runtimeRoot)) {
    const full = join(runtimeRoot, name);
    if (!name.startsWith('ca-') || full === keep) continue;
    try {
      if (statSync(full).mtimeMs < weekAgo) rmSync(full, { force: true });
    } catch {
      // best effort
    }
  }
}
