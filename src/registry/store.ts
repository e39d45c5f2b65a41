/**
 * Warden's own package store (`<state dir>/store/npm/<name>/<version>/`): npm packages pinned in
 * the catalog, installed where no sandbox can write (the state dir is hidden from every sandbox,
 * GW-13) and started from there, bound read-only into the server's sandbox.
 *
 * An install is: the tarball (npm pack, or a local file), checked against the pinned integrity
 * before anything is extracted; `npm install --ignore-scripts` of that very file with its
 * dependencies into a fresh directory; and a manifest (warden-store.json) recording the pin and
 * the sha256 of every file installed. Verifying re-hashes the tarball and every file and names
 * the first differences, so a store changed after the install is never started.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { createHash } from 'node:crypto';
import { WardenError } from '../core/errors.js';
import { fileIntegrity, runNpm } from './npm.js';

/** The pin of one npm package (from the catalog). */
export interface NpmPin {
  readonly name: string;
  readonly version: string;
  readonly integrity: string;
  /** Which bin to start when the package has several. */
  readonly bin?: string;
}

/** A package in the store, verified. */
export interface StoredPackage {
  /** Host path of the install root (bound read-only into the server's sandbox). */
  readonly root: string;
  /** The program to start, relative to the install root (node_modules/<name>/<bin file>). */
  readonly bin: string;
  /** How many files were checked. */
  readonly files: number;
}

interface Manifest {
  readonly format: 1;
  readonly name: string;
  readonly version: string;
  readonly integrity: string;
  readonly bin: string;
  /** Every entry under root/: 'f<x?>:<sha256>' for a file ('fx' executable), 'l:<target>' for a symlink. */
  readonly files: Readonly<Record<string, string>>;
  /**
   * Each file's inode, size, ctime, mtime and mode when it was hashed. A file whose stat still
   * matches is not re-hashed at a server's start: any write to it moves its ctime to the present,
   * which only someone who can set the clock (root) could undo. `warden catalog verify` re-hashes all.
   */
  readonly stats?: Readonly<Record<string, string>>;
}

const MANIFEST = 'warden-store.json';
const TARBALL = 'package.tgz';
const MAX_FILES = 100_000;
const MAX_BYTES = 2 * 1024 * 1024 * 1024;
/** How many differences a failed verification names. */
const SHOW = 5;

/** The directory of the store inside the state dir. */
export function storeDir(stateDir: string): string {
  return join(stateDir, 'store');
}

/** Where `name@version` lives in the store. */
export function packageDir(stateDir: string, name: string, version: string): string {
  return join(storeDir(stateDir), 'npm', name.replace('/', '+'), version);
}

/**
 * Installs `pin` into the store (unless a copy that verifies is there) and returns it. The tarball
 * comes from the registry (`npm pack`), or from `tarball` when given; either way its sha512 must
 * equal the pin before npm extracts it. Throws CATALOG_ADD_FAILED naming what went wrong.
 */
export async function installPackage(
  stateDir: string,
  pin: NpmPin,
  options: { readonly tarball?: string } = {},
): Promise<StoredPackage> {
  const final = packageDir(stateDir, pin.name, pin.version);
  // A store copy whose own tarball still has the pinned integrity is reinstalled from that file
  // (offline): the tarball is what the pin is about, whatever happened to the files beside it.
  const kept = join(final, TARBALL);
  let source = options.tarball;
  if (source === undefined && existsSync(kept) && fileIntegrity(kept) === pin.integrity) source = kept;
  if (existsSync(join(final, MANIFEST))) {
    try {
      return verifyPackage(stateDir, pin, { full: true });
    } catch {
      // A copy that does not verify (another integrity, tampered): replaced below.
    }
  }
  makeDirs(join(storeDir(stateDir), 'npm'), stateDir);
  const temp = join(storeDir(stateDir), 'npm', `.tmp-${randomBytes(6).toString('hex')}`);
  mkdirSync(temp, { mode: 0o755 });
  try {
    const tarball = join(temp, TARBALL);
    if (source !== undefined) copyFileSync(source, tarball);
    else {
      const out = await runNpm(['pack', `${pin.name}@${pin.version}`, '--json', '--pack-destination', temp], {
        cwd: temp,
        what: `downloading ${pin.name}@${pin.version}`,
      });
      const packed = (JSON.parse(out) as { filename?: unknown }[])[0]?.filename;
      if (typeof packed !== 'string' || packed.includes('/'))
        throw new WardenError('CATALOG_ADD_FAILED', `npm pack did not name the tarball of ${pin.name}@${pin.version}`);
      renameSync(join(temp, packed), tarball);
    }
    const found = fileIntegrity(tarball);
    if (found !== pin.integrity)
      throw new WardenError(
        'CATALOG_ADD_FAILED',
        `the tarball of ${pin.name}@${pin.version} does not match the pinned integrity: expected ${pin.integrity}, found ${found}`,
        {
          hint: 'the package was changed, or the catalog entry is wrong: check it with npm view NAME@VERSION dist.integrity',
        },
      );
    const root = join(temp, 'root');
    mkdirSync(root, { mode: 0o755 });
    writeFileSync(join(root, 'package.json'), `${JSON.stringify({ name: 'warden-store', private: true })}\n`);
    // --ignore-scripts: nothing of the package runs on the host at install (GW-13).
    // --prefer-offline: dependencies npm has in its cache (integrity-checked by npm) are not fetched again.
    await runNpm(
      [
        'install',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--omit=dev',
        '--prefer-offline',
        '--prefix',
        root,
        tarball,
      ],
      { cwd: root, what: `installing ${pin.name}@${pin.version}` },
    );
    const bin = binOf(root, pin);
    // Readable first: chmod moves the files' ctime, which the manifest records.
    makeReadable(temp);
    const tree = hashTree(root);
    const manifest: Manifest = {
      format: 1,
      name: pin.name,
      version: pin.version,
      integrity: pin.integrity,
      bin,
      files: tree.files,
      stats: tree.stats,
    };
    writeFileSync(join(temp, MANIFEST), `${JSON.stringify(manifest)}\n`, { mode: 0o644 });
    makeDirs(join(final, '..'), stateDir);
    if (existsSync(final)) {
      const old = `${temp}-old`;
      renameSync(final, old);
      rmSync(old, { recursive: true, force: true });
    }
    renameSync(temp, final);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
  return verifyPackage(stateDir, pin);
}

/**
 * Checks the store's copy of `pin`: the manifest states the pinned name, version and integrity,
 * the tarball still has that integrity, and every installed file is as installed (none changed,
 * added or removed). Throws PROVENANCE_MISMATCH naming what differed (expected vs found).
 */
export function verifyPackage(stateDir: string, pin: NpmPin, options: { readonly full?: boolean } = {}): StoredPackage {
  const dir = packageDir(stateDir, pin.name, pin.version);
  const what = `${pin.name}@${pin.version}`;
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    throw new WardenError('PROVENANCE_MISMATCH', `${what} is not in warden's package store (${dir})`, {
      hint: "install the catalog's packages with `warden catalog install` (or add it with `warden catalog add npm:NAME@VERSION`)",
    });
  }
  const differ = (field: string, expected: string, found: string): WardenError =>
    new WardenError(
      'PROVENANCE_MISMATCH',
      `${what}: the store's ${field} differs from the catalog's pin: expected ${expected}, found ${found}`,
      {
        hint: 'if the catalog changed on purpose, reinstall with `warden catalog install`; otherwise find out who changed the store or the catalog',
      },
    );
  if (manifest.name !== pin.name) throw differ('package name', pin.name, String(manifest.name));
  if (manifest.version !== pin.version) throw differ('version', pin.version, String(manifest.version));
  if (manifest.integrity !== pin.integrity) throw differ('integrity', pin.integrity, String(manifest.integrity));
  let tarball: string;
  try {
    tarball = fileIntegrity(join(dir, TARBALL));
  } catch {
    tarball = 'no tarball';
  }
  if (tarball !== pin.integrity) throw differ('tarball integrity', pin.integrity, tarball);
  const root = join(dir, 'root');
  const now = hashTree(root, options.full === true ? undefined : manifest).files;
  const changed: string[] = [];
  for (const [path, expected] of Object.entries(manifest.files)) {
    const found = Object.hasOwn(now, path) ? now[path] : undefined;
    if (found === undefined) changed.push(`${path} removed`);
    else if (found !== expected)
      changed.push(`${path} changed (expected ${describe(expected)}, found ${describe(found)})`);
  }
  for (const path of Object.keys(now)) if (!Object.hasOwn(manifest.files, path)) changed.push(`${path} added`);
  if (changed.length > 0)
    throw new WardenError(
      'PROVENANCE_MISMATCH',
      `${what}: ${changed.length} file${changed.length === 1 ? ' differs' : 's differ'} in warden's store from the install: ${changed.slice(0, SHOW).join('; ')}${changed.length > SHOW ? '; …' : ''}`,
      {
        hint: 'reinstall it with `warden catalog install`, and find out what changed the store (it is under the state dir)',
      },
    );
  const bin = normalize(manifest.bin);
  if (isAbsolute(bin) || bin.startsWith(`..${sep}`) || !Object.hasOwn(manifest.files, bin))
    throw differ('program', 'a file of the package', manifest.bin);
  return { root, bin, files: Object.keys(now).length };
}

/** The package's program: its only bin, the one named in the pin, or the one named like the package. */
function binOf(root: string, pin: NpmPin): string {
  const dir = join('node_modules', pin.name);
  let json: { name?: unknown; version?: unknown; bin?: unknown };
  try {
    json = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as typeof json;
  } catch {
    throw new WardenError('CATALOG_ADD_FAILED', `npm did not install ${pin.name} (no ${dir}/package.json)`);
  }
  if (json.name !== pin.name || json.version !== pin.version)
    throw new WardenError(
      'CATALOG_ADD_FAILED',
      `the tarball holds ${String(json.name)}@${String(json.version)}, not ${pin.name}@${pin.version}`,
      { hint: 'give the tarball of the package and version you pin' },
    );
  const bins: Record<string, string> =
    typeof json.bin === 'string'
      ? { [pin.name.replace(/^@[^/]*\//, '')]: json.bin }
      : typeof json.bin === 'object' && json.bin !== null
        ? Object.fromEntries(Object.entries(json.bin).filter((e): e is [string, string] => typeof e[1] === 'string'))
        : {};
  const names = Object.keys(bins);
  const chosen =
    pin.bin !== undefined
      ? pin.bin
      : names.length === 1
        ? names[0]
        : names.find((n) => n === pin.name.replace(/^@[^/]*\//, ''));
  const file = chosen === undefined ? undefined : bins[chosen];
  if (file === undefined)
    throw new WardenError(
      'CATALOG_ADD_FAILED',
      names.length === 0
        ? `${pin.name} has no bin (no program to start as a server)`
        : `${pin.name} has ${names.length === 1 ? 'the bin' : 'several bins'} ${names.join(', ')}${pin.bin === undefined ? '' : `, not ${pin.bin}`}`,
      { hint: 'name the one to start with --bin NAME' },
    );
  const path = normalize(join(dir, file));
  if (!path.startsWith(`${dir}${sep}`))
    throw new WardenError('CATALOG_ADD_FAILED', `${pin.name}'s bin ${file} lies outside the package`);
  return path;
}

/**
 * Every file and symlink under `root`, by relative path, with its content hash or link target, and
 * each file's stat. A file whose stat equals `known`'s keeps `known`'s hash unread.
 */
function hashTree(
  root: string,
  known?: Pick<Manifest, 'files' | 'stats'>,
): { files: Record<string, string>; stats: Record<string, string> } {
  const out: Record<string, string> = {};
  const stats: Record<string, string> = {};
  let count = 0;
  let bytes = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = lstatSync(path, { bigint: true });
      if (++count > MAX_FILES)
        throw new WardenError('PROVENANCE_MISMATCH', `${root} holds more than ${MAX_FILES} files`);
      const key = relative(root, path);
      if (st.isDirectory()) walk(path);
      else if (st.isSymbolicLink()) out[key] = `l:${readlinkSync(path)}`;
      else if (st.isFile()) {
        bytes += Number(st.size);
        if (bytes > MAX_BYTES) throw new WardenError('PROVENANCE_MISMATCH', `${root} holds more than 2 GiB`);
        const stat = `${st.ino}:${st.size}:${st.ctimeNs}:${st.mtimeNs}:${st.mode}`;
        stats[key] = stat;
        const same = known?.stats?.[key] === stat ? known.files[key] : undefined;
        out[key] =
          same ??
          `f${(st.mode & 0o111n) !== 0n ? 'x' : ''}:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
      } else out[key] = 'other';
    }
  };
  walk(root);
  return { files: out, stats };
}

function describe(entry: string): string {
  if (entry.startsWith('l:')) return `a link to ${entry.slice(2)}`;
  if (entry.startsWith('f'))
    return `sha256 ${entry.slice(entry.indexOf(':') + 1, entry.indexOf(':') + 17)}…${entry.startsWith('fx') ? ' (executable)' : ''}`;
  return entry;
}

/** Creates `dir` and its parents below `base` world-searchable: the sandbox user reads the store. */
function makeDirs(dir: string, base: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (let d = dir; d.startsWith(`${base}${sep}`); d = join(d, '..')) chmodSync(d, 0o755);
}

/** Directories a+rx, files a+r: whoever a server sandbox runs as reads the package (nobody else writes it). */
function makeReadable(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    chmodSync(path, 0o755);
    for (const name of readdirSync(path)) makeReadable(join(path, name));
  } else chmodSync(path, (st.mode & 0o777 & ~0o022) | 0o444);
}
