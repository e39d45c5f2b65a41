/**
 * What `warden catalog add | install | verify` do, as functions the CLI calls.
 *
 *   add npm:NAME[@SPEC]   resolve SPEC on the registry to one exact version and its integrity,
 *                         download the tarball, check it, install it into the store, pin it;
 *   add file:/abs/path    pin a local program by the sha256 of its content;
 *   add https://…         pin a remote server's URL and the TLS key it presents now (see
 *                         core/tls-key.ts; --no-tls-pin: the URL only).
 *
 * A name that looks like a trusted one (typosquat) is refused unless the caller accepts it.
 */
import { statSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { spkiSha256 } from '../core/tls-key.js';
import { basename, isAbsolute } from 'node:path';
import { WardenError } from '../core/errors.js';
import { readCatalog, writeCatalogEntry, type LoadedCatalog } from './catalog-file.js';
import { ENTRY_NAME, EXACT_VERSION, pinOf, type Catalog, type CatalogEntry } from './catalog-schema.js';
import { fileIntegrity, fileSha256, resolveOnRegistry } from './npm.js';
import { describeSquat, parseSpec } from './provenance.js';
import { installPackage, verifyPackage } from './store.js';
import { findTyposquats, type Typosquat } from './typosquat.js';

export interface AddRequest {
  /** `npm:NAME[@SPEC]`, `file:/abs/path` or an http(s) URL. */
  readonly source: string;
  readonly catalogPath: string;
  readonly stateDir: string;
  /** The entry's name (default: derived from the source). */
  readonly name?: string;
  /** npm: the bin to start when the package has several. */
  readonly bin?: string;
  /** npm: install from this tarball instead of downloading (offline); its own sha512 is pinned. */
  readonly tarball?: string;
  /** Accept a name that looks like a typosquat of a trusted one. */
  readonly acceptLookalike?: boolean;
  /** Where npm runs (a directory outside any workspace is best). */
  readonly cwd: string;
  /** https: pin the URL only, not the TLS key the server presents. */
  readonly noTlsPin?: boolean;
}

export interface AddResult {
  readonly entry: string;
  readonly pinned: CatalogEntry;
  /** For npm: the spec asked for when it was not an exact version (a range or a tag), else null. */
  readonly resolvedFrom: string | null;
  /** Names it resembles (accepted with acceptLookalike). */
  readonly lookalikes: readonly Typosquat[];
  readonly catalog: Catalog;
}

/** Pins `source` in the catalog (installing an npm package into the store first). */
export async function addToCatalog(request: AddRequest): Promise<AddResult> {
  const existing = readCatalog(request.catalogPath);
  const source = request.source;
  let pinned: CatalogEntry;
  let resolvedFrom: string | null = null;
  let lookalikes: Typosquat[] = [];
  let defaultName: string;
  if (source.startsWith('npm:')) {
    const parsed = parseSpec(source.slice('npm:'.length));
    if (parsed === null)
      throw new WardenError('USAGE', `'${source}' is not an npm package: write npm:NAME or npm:NAME@VERSION`);
    lookalikes = lookalikesOf(parsed.name, existing);
    if (lookalikes.length > 0 && request.acceptLookalike !== true)
      throw new WardenError(
        'PROVENANCE_REFUSED',
        `${parsed.name} looks like a typosquat of ${describeSquat(lookalikes)}; nothing was pinned`,
        { hint: `check the name; if ${parsed.name} is really the package you mean, run again with --accept-lookalike` },
      );
    let version: string;
    let integrity: string;
    if (request.tarball !== undefined) {
      if (!EXACT_VERSION.test(parsed.spec))
        throw new WardenError(
          'USAGE',
          `with --tarball, give the exact version the tarball holds (npm:${parsed.name}@1.2.3)`,
        );
      version = parsed.spec;
      integrity = fileIntegrity(request.tarball);
    } else {
      const registry = await resolveOnRegistry(parsed.name, parsed.spec, request.cwd);
      version = registry.version;
      integrity = registry.integrity;
      if (parsed.spec !== version) resolvedFrom = parsed.spec;
    }
    const pin = { name: parsed.name, version, integrity, ...(request.bin === undefined ? {} : { bin: request.bin }) };
    await installPackage(request.stateDir, pin, request.tarball === undefined ? {} : { tarball: request.tarball });
    pinned = { npm: pin.name, version, integrity, ...(request.bin === undefined ? {} : { bin: request.bin }) };
    defaultName = parsed.name.replace(/^@[^/]*\//, '');
  } else if (source.startsWith('file:')) {
    const path = source.slice('file:'.length);
    if (!isAbsolute(path)) throw new WardenError('USAGE', `'${source}': give the program's absolute path (file:/…)`);
    let isFile = false;
    try {
      isFile = statSync(path).isFile();
    } catch {
      isFile = false;
    }
    if (!isFile) throw new WardenError('CATALOG_ADD_FAILED', `${path} is not a readable file`);
    pinned = { file: path, sha256: fileSha256(path) };
    defaultName = basename(path).replace(/\.[a-z0-9]+$/i, '');
  } else if (/^https?:\/\//.test(source)) {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw new WardenError('USAGE', `'${source}' is not a URL`);
    }
    const key = url.protocol === 'https:' && request.noTlsPin !== true ? await presentedTlsKey(url) : undefined;
    pinned = { url: source, ...(key === undefined ? {} : { tls_spki_sha256: key }) };
    defaultName = url.hostname;
  } else {
    throw new WardenError('USAGE', `'${source}' is not something the catalog pins`, {
      hint: 'give npm:NAME@VERSION, file:/absolute/path or an https:// URL',
    });
  }
  const entry = request.name ?? entryName(defaultName);
  if (!ENTRY_NAME.test(entry))
    throw new WardenError('USAGE', `'${entry}' is not an entry name (lower-case letters, digits and -, max 64)`, {
      hint: 'choose one with --name',
    });
  const catalog = writeCatalogEntry(request.catalogPath, entry, pinned);
  return { entry, pinned, resolvedFrom, lookalikes, catalog };
}

/** The outcome of checking one entry. */
export interface EntryCheck {
  readonly entry: string;
  readonly kind: 'npm' | 'file' | 'url';
  readonly what: string;
  readonly ok: boolean;
  /** What differed (expected vs found), or what was checked. */
  readonly detail: string;
}

/** Checks every pin of the catalog against the store and the files (nothing is changed). */
export function verifyCatalog(catalog: Catalog, stateDir: string): EntryCheck[] {
  return Object.entries(catalog.servers).map(([entry, e]) => {
    const pin = pinOf(e);
    const what = pin.kind === 'npm' ? `${pin.name}@${pin.version}` : pin.kind === 'file' ? pin.path : pin.url;
    try {
      if (pin.kind === 'npm') {
        const stored = verifyPackage(stateDir, pin, { full: true });
        return { entry, kind: pin.kind, what, ok: true, detail: `integrity and ${stored.files} files verified` };
      }
      if (pin.kind === 'file') {
        let found: string;
        try {
          found = fileSha256(pin.path);
        } catch (error) {
          found = `an unreadable file (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
        }
        return found === pin.sha256
          ? { entry, kind: pin.kind, what, ok: true, detail: 'sha256 verified' }
          : { entry, kind: pin.kind, what, ok: false, detail: `expected sha256 ${pin.sha256}, found ${found}` };
      }
      return { entry, kind: pin.kind, what, ok: true, detail: 'pinned by URL (nothing local to check)' };
    } catch (error) {
      return { entry, kind: pin.kind, what, ok: false, detail: (error as Error).message };
    }
  });
}

/** Installs every npm entry of the catalog into the store (each tarball checked against its pin). */
export async function installCatalog(catalog: Catalog, stateDir: string): Promise<EntryCheck[]> {
  const out: EntryCheck[] = [];
  for (const [entry, e] of Object.entries(catalog.servers)) {
    const pin = pinOf(e);
    if (pin.kind !== 'npm') continue;
    const what = `${pin.name}@${pin.version}`;
    try {
      const stored = await installPackage(stateDir, pin);
      out.push({ entry, kind: 'npm', what, ok: true, detail: `installed, ${stored.files} files verified` });
    } catch (error) {
      out.push({ entry, kind: 'npm', what, ok: false, detail: (error as Error).message });
    }
  }
  return out;
}

function lookalikesOf(name: string, catalog: LoadedCatalog | null): Typosquat[] {
  const names = Object.values(catalog?.catalog.servers ?? {}).flatMap((e) => (e.npm === undefined ? [] : [e.npm]));
  return findTyposquats(name, names);
}

/** An entry name from a package, file or host name: lower-case, '-' for anything else, at most 64. */
function entryName(from: string): string {
  const name = from
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return name === '' ? 'server' : name;
}

/** How long `catalog add` waits for a remote server's TLS handshake. */
const TLS_KEY_TIMEOUT_MS = 10_000;

/**
 * The TLS key (sha256 of its SPKI) the server at `url` presents now, read with a handshake of
 * warden's own (no CA check: whoever runs `catalog add` decides to trust this key, and is shown
 * it to compare with what the server's operator publishes). Direct, not through a proxy.
 */
async function presentedTlsKey(url: URL): Promise<string> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 443 : Number(url.port);
  return new Promise((resolve, reject) => {
    const failed = (why: string) =>
      reject(
        new WardenError('CATALOG_ADD_FAILED', `could not read the TLS key of ${host}:${port}: ${why.slice(0, 300)}`, {
          hint: 'check the URL and that the server is up; or pin the URL alone with --no-tls-pin',
        }),
      );
    const socket = tlsConnect({
      host,
      port,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    socket.setTimeout(TLS_KEY_TIMEOUT_MS, () => {
      socket.destroy();
      failed(`no TLS handshake within ${TLS_KEY_TIMEOUT_MS / 1000} s`);
    });
    socket.once('error', (error: Error) => failed(error.message));
    socket.once('secureConnect', () => {
      const certificate = socket.getPeerX509Certificate();
      socket.end();
      if (certificate === undefined) failed('it presented no certificate');
      else resolve(spkiSha256(certificate));
    });
  });
}
