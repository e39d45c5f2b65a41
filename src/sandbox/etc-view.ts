/**
 * The sandbox's /etc: a prepared directory bound as one mount, instead of one bind per file
 * (each bind costs ~0.12 ms of sandbox start-up, and /etc needs ~35 of them).
 *
 * It holds copies of the host files programs need (the dynamic linker cache, CA settings, time
 * zone, …), the files warden generates instead of exposing the host's (passwd and group naming
 * only the sandbox user, hosts with only localhost, a resolver config with no nameserver: no DNS
 * inside, NET-02), and empty mount points where whole host directories (ssl, alternatives, …) are
 * bound read-only on top. It is content-addressed by the host entries' metadata and the uid, so
 * a package upgrade that changes /etc produces a fresh view; concurrent runs share one.
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { SANDBOX_HOME } from './spec.js';

export const SANDBOX_HOSTNAME = 'warden-sandbox';

/** /etc entries ordinary programs need; everything else in /etc stays out of the sandbox. */
const ETC_ENTRIES = [
  'alternatives',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'ssl',
  'ca-certificates',
  'ca-certificates.conf',
  'pki',
  'localtime',
  'timezone',
  'os-release',
  'debian_version',
  'lsb-release',
  'mime.types',
  'protocols',
  'services',
  'gai.conf',
  'host.conf',
  'inputrc',
  'terminfo',
  'profile',
  'bash.bashrc',
  'locale.alias',
  'fonts',
  'magic',
  'mailcap',
  'xdg',
  'vim',
  'manpath.config',
  'perl',
  'python3',
  'shells',
  'subversion',
];
/** /etc entry name prefixes that runtimes use for their own config (e.g. java-17-openjdk). */
const ETC_PREFIXES = ['java-', 'python3.'];

/**
 * Whether a real host path under /etc is shown inside the sandbox at the same path: it lies in one
 * of the host directories the view binds whole (e.g. /etc/ssl, /etc/pki). Files the view copies
 * (or generates) are not counted: the copy is a snapshot, not the host file.
 */
export function etcViewShows(realPath: string, hostEtc = '/etc'): boolean {
  if (!realPath.startsWith(`${hostEtc}/`)) return false;
  const name = realPath.slice(hostEtc.length + 1).split('/')[0] ?? '';
  if (name === '' || realPath === join(hostEtc, name)) return false;
  if (!(ETC_ENTRIES.includes(name) || ETC_PREFIXES.some((p) => name.startsWith(p)))) return false;
  try {
    return lstatSync(join(hostEtc, name)).isDirectory();
  } catch {
    return false;
  }
}

export interface EtcView {
  /** Host directory bound read-only at /etc. */
  readonly dir: string;
  /** Host /etc directories bound read-only on top, at the same path. */
  readonly directoryBinds: readonly string[];
}

/** Returns the /etc view for a sandbox running as uid:gid, creating it if needed. */
export function ensureEtcView(runtimeRoot: string, uid: number, gid: number, hostEtc = '/etc'): EtcView {
  const entries = hostEntries(hostEtc);
  const generated = generatedFiles(uid, gid);
  const hash = createHash('sha256').update(`v1\0${uid}:${gid}\0`);
  for (const entry of entries) hash.update(`${entry.name}\0${entry.kind}\0${entry.fingerprint}\0`);
  const dir = join(runtimeRoot, `etc-${hash.digest('hex').slice(0, 16)}`);
  const directoryBinds = entries.filter((e) => e.kind === 'dir').map((e) => join(hostEtc, e.name));
  const marker = join(dir, '.complete');
  if (existsSync(marker)) {
    touch(marker);
    return { dir, directoryBinds };
  }

  const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    mkdirSync(staging, { mode: 0o755 });
    for (const entry of entries) {
      const source = join(hostEtc, entry.name);
      const target = join(staging, entry.name);
      if (entry.kind === 'dir') mkdirSync(target, { mode: 0o755 });
      else if (entry.kind === 'symlink') symlinkSync(readlinkSync(source), target);
      else copyFileSync(source, target);
    }
    for (const [name, content] of Object.entries(generated))
      writeFileSync(join(staging, name), content, { mode: 0o644 });
    writeFileSync(join(staging, '.complete'), '');
    try {
      renameSync(staging, dir);
    } catch (error) {
      if (!existsSync(marker)) throw error; // another run created the identical view first
      rmSync(staging, { recursive: true, force: true });
    }
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
  pruneViews(runtimeRoot, dir);
  return { dir, directoryBinds };
}

interface HostEntry {
  readonly name: string;
  readonly kind: 'file' | 'dir' | 'symlink';
  readonly fingerprint: string;
}

function hostEntries(hostEtc: string): HostEntry[] {
  let names: string[];
  try {
    names = readdirSync(hostEtc);
  } catch {
    return [];
  }
  const wanted = new Set(ETC_ENTRIES);
  const generated = new Set(Object.keys(generatedFiles(0, 0)));
  const entries: HostEntry[] = [];
  for (const name of names.sort()) {
    if (!(wanted.has(name) || ETC_PREFIXES.some((p) => name.startsWith(p))) || generated.has(name)) continue;
    try {
      const st = lstatSync(join(hostEtc, name));
      const kind = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : null;
      if (kind === null) continue;
      entries.push({ name, kind, fingerprint: `${st.ino}:${st.size}:${st.mtimeMs}:${st.mode}` });
    } catch {
      // vanished between readdir and lstat
    }
  }
  return entries;
}

/** The files warden writes instead of exposing the host's. */
function generatedFiles(uid: number, gid: number): Record<string, string> {
  return {
    passwd: [
      'root:x:0:0:root:/root:/usr/sbin/nologin',
      ...(uid === 0 ? [] : [`agent:x:${uid}:${gid}:warden sandbox:${SANDBOX_HOME}:/bin/sh`]),
      'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
      '',
    ].join('\n'),
    group: ['root:x:0:', ...(gid === 0 ? [] : [`agent:x:${gid}:`]), 'nogroup:x:65534:', ''].join('\n'),
    hosts: `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${SANDBOX_HOSTNAME}\n`,
    // No nameserver: a lookup fails at once instead of leaking a query (there is no route anyway).
    'resolv.conf':
      '# warden: no DNS inside the sandbox; the egress proxy resolves names.\noptions attempts:1 timeout:1\n',
    'nsswitch.conf':
      'passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\nprotocols: files\nservices: files\n',
    hostname: `${SANDBOX_HOSTNAME}\n`,
  };
}

function touch(path: string): void {
  try {
    const now = new Date();
    utimesSync(path, now, now);
  } catch {
    // a stale mark only delays pruning
  }
}

/** Removes views unused for a week (superseded by a host /etc change); a week, so a long-running sandbox never loses its /etc. */
function pruneViews(runtimeRoot: string, keep: string): void {
  const weekAgo = Date.now() - 7 * 86_400_000;
  for (const name of readdirSync(runtimeRoot)) {
    const full = join(runtimeRoot, name);
    if (!name.startsWith('etc-') || full === keep) continue;
    try {
      const marker = join(full, '.complete');
      const lastUse = existsSync(marker) ? statSync(marker).mtimeMs : statSync(full).mtimeMs;
      if (lastUse < weekAgo) rmSync(full, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
}
