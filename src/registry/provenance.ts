/**
 * Where a server's code comes from, decided against the catalog (SCAN-06), and its check at each
 * start. `classifyServer` runs once when the gateway plans its servers (no I/O beyond what the
 * caller read); `verifyOrigin` runs before every start (and restart) of the server, so a pin that
 * stops verifying keeps the server from starting then. Both report a refusal as a WardenError
 * naming the config field, what differed and the fix.
 *
 *   catalog: ENTRY            the pinned entry (npm: started from warden's store; file: its sha256
 *                             checked; url: the URL, and its TLS key where pinned — checked by the
 *                             bridge on every connection, see gateway/remote-tls.ts)
 *   npx / npm exec PKG@V      pinned when the catalog pins PKG at exactly V (then started from the
 *                             store, not fetched); another version is refused; a name that looks
 *                             like a trusted one is refused as a likely typosquat
 *   a program or script       pinned when a catalog file entry names it (its sha256 checked)
 *   url                       pinned when a catalog url entry has exactly that URL
 *
 * Anything unpinned is refused while a catalog exists, unless catalog.unpinned lists the server.
 */
import { realpathSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { WardenError } from '../core/errors.js';
import type { LoadedCatalog } from './catalog-file.js';
import { NPM_NAME, pinOf, type PinnedEntry } from './catalog-schema.js';
import { fileSha256 } from './npm.js';
import { verifyPackage, type NpmPin, type StoredPackage } from './store.js';
import { findTyposquats, type Typosquat } from './typosquat.js';

/** What the registry needs to decide about a server. */
export interface ProvenanceContext {
  /** The project's catalog, or null when there is none. */
  readonly catalog: LoadedCatalog | null;
  /** Servers allowed to start unpinned while a catalog exists (catalog.unpinned). */
  readonly unpinned: ReadonlySet<string>;
  readonly stateDir: string;
}

/** A server as configured (the fields that say what code it runs). */
export interface ServerSource {
  readonly command?: string | undefined;
  readonly args: readonly string[];
  readonly url?: string | undefined;
  readonly catalog?: string | undefined;
}

/** What a server runs, as far as provenance goes. */
export type ServerOrigin =
  /** An npm package pinned in the catalog: started from warden's store; `args` follow its program. */
  | { readonly kind: 'store'; readonly entry: string; readonly pin: NpmPin; readonly args: readonly string[] }
  /** A local program or script pinned by sha256. */
  | { readonly kind: 'file'; readonly entry: string; readonly path: string; readonly sha256: string }
  /** A remote server pinned by URL, and by its TLS key (checked by the bridge on every connection) where given. */
  | { readonly kind: 'url'; readonly entry: string; readonly url: string; readonly tlsSpkiSha256?: string }
  /** Allowed without a pin (no catalog, or listed in catalog.unpinned); `warnings` to show. */
  | { readonly kind: 'unpinned'; readonly warnings: readonly string[] }
  /** Refused: every start throws this. */
  | { readonly kind: 'refused'; readonly error: WardenError };

/** The package a runner (npx, npm exec, pnpm dlx, bunx, yarn dlx) is asked to fetch and run, and the server's own arguments. */
export function packageOfRunner(
  command: string,
  args: readonly string[],
): { name: string; spec: string; rest: readonly string[] } | null {
  const program = basename(command);
  let i = 0;
  if (program === 'npm' || program === 'pnpm' || program === 'yarn') {
    const sub = args[0];
    const runs = program === 'npm' ? sub === 'exec' || sub === 'x' : sub === 'dlx';
    if (!runs) return null;
    i = 1;
  } else if (program !== 'npx' && program !== 'bunx' && program !== 'pnpx') return null;
  let packageOption: string | null = null;
  for (; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-')) break;
    if (arg === '-p' || arg === '--package') packageOption = args[++i] ?? '';
    else if (arg.startsWith('--package=')) packageOption = arg.slice('--package='.length);
  }
  const positional = args[i];
  const spec = packageOption ?? positional;
  if (spec === undefined) return null;
  const parsed = parseSpec(spec);
  if (parsed === null) return null;
  return { ...parsed, rest: args.slice(i + 1) };
}

/** `@scope/name@1.2.3` → name and version spec ('latest' when none); null for anything that is not a registry name. */
export function parseSpec(spec: string): { name: string; spec: string } | null {
  const at = spec.indexOf('@', 1);
  const name = at === -1 ? spec : spec.slice(0, at);
  const version = at === -1 ? 'latest' : spec.slice(at + 1);
  if (!NPM_NAME.test(name) || version === '') return null;
  return { name, spec: version };
}

/**
 * Decides what a server runs against the catalog. `program` is the absolute program the
 * GW-13 guard resolved for a stdio server (null for a remote or catalog server).
 */
export function classifyServer(
  name: string,
  server: ServerSource,
  program: string | null,
  ctx: ProvenanceContext,
): ServerOrigin {
  const field = `servers.${name}`;
  const catalog = ctx.catalog;
  const entries = Object.entries(catalog?.catalog.servers ?? {}).map(([entry, e]) => ({ entry, pin: pinOf(e) }));
  const allowed = ctx.unpinned.has(name);
  const unpinned = (what: string, warnings: readonly string[] = []): ServerOrigin => {
    if (catalog === null || allowed) return { kind: 'unpinned', warnings };
    return refused(
      'PROVENANCE_REFUSED',
      `${field} ${what}, which the catalog ${catalog.path} does not pin; while a catalog exists, unpinned servers are not started`,
      `pin it (warden catalog add …) and start it with ${field}.catalog, or allow this server unpinned in catalog.unpinned`,
    );
  };

  if (server.catalog !== undefined) {
    if (catalog === null)
      return refused(
        'PROVENANCE_REFUSED',
        `${field}.catalog names the entry '${server.catalog}', but there is no catalog file (catalog.file)`,
        `create it with \`warden catalog add\`, or point catalog.file at it`,
      );
    const found = entries.find((e) => e.entry === server.catalog);
    if (found === undefined)
      return refused(
        'PROVENANCE_REFUSED',
        `${field}.catalog names the entry '${server.catalog}', which ${catalog.path} does not have (entries: ${entries.map((e) => e.entry).join(', ') || 'none'})`,
        'check the name, or add it with `warden catalog add`',
      );
    return originOf(found.entry, found.pin, server.args);
  }

  if (server.url !== undefined) {
    const found = entries.find((e) => e.pin.kind === 'url' && e.pin.url === server.url);
    return found === undefined ? unpinned(`reaches ${server.url}`) : originOf(found.entry, found.pin, []);
  }

  const command = server.command ?? '';
  const pkg = packageOfRunner(command, server.args);
  if (pkg !== null) {
    const npmNames = entries.flatMap((e) => (e.pin.kind === 'npm' ? [e.pin.name] : []));
    const squats = findTyposquats(pkg.name, npmNames);
    if (squats.length > 0) {
      const what = describeSquat(squats);
      if (!allowed)
        return refused(
          'PROVENANCE_REFUSED',
          `${field}.args: ${basename(command)} would run ${pkg.name}, which looks like a typosquat of ${what}`,
          `check the package name; if ${pkg.name} is really the one you mean, pin it (warden catalog add npm:${pkg.name}@VERSION) or list ${name} in catalog.unpinned`,
        );
    }
    const warnings =
      squats.length > 0 ? [`${field} runs ${pkg.name}, which looks like a typosquat of ${describeSquat(squats)}`] : [];
    const pinned = entries.find((e) => e.pin.kind === 'npm' && e.pin.name === pkg.name);
    if (pinned?.pin.kind === 'npm') {
      if (pkg.spec !== pinned.pin.version)
        return refused(
          'PROVENANCE_MISMATCH',
          `${field}.args: ${basename(command)} would run ${pkg.name}@${pkg.spec}; the catalog pins ${pkg.name}@${pinned.pin.version} (entry '${pinned.entry}'): expected version ${pinned.pin.version}, found ${pkg.spec}`,
          `write ${pkg.name}@${pinned.pin.version} in ${field}.args (or use ${field}.catalog: ${pinned.entry})`,
        );
      // Pinned: started from warden's verified store, never fetched again at start.
      return { kind: 'store', entry: pinned.entry, pin: pinned.pin, args: pkg.rest };
    }
    return unpinned(`runs the npm package ${pkg.name}@${pkg.spec}`, warnings);
  }

  // A local program, or the script an interpreter runs: pinned by a catalog file entry.
  const candidates = [program, ...server.args.filter((a) => isAbsolute(a)).slice(0, 1)].filter(
    (p): p is string => p !== null,
  );
  for (const candidate of candidates) {
    const real = realOrSelf(candidate);
    const found = entries.find(
      (e) => e.pin.kind === 'file' && (e.pin.path === candidate || realOrSelf(e.pin.path) === real),
    );
    if (found !== undefined) return originOf(found.entry, found.pin, server.args);
  }
  return unpinned(`runs ${[program ?? command, ...server.args.slice(0, 1)].join(' ')}`);
}

/**
 * Checks a server's pin before it starts; throws the refusal (PROVENANCE_MISMATCH or
 * PROVENANCE_REFUSED) when it does not verify. For a store package, returns what to start.
 */
export function verifyOrigin(origin: ServerOrigin, stateDir: string): StoredPackage | null {
  switch (origin.kind) {
    case 'refused':
      throw origin.error;
    case 'store':
      return verifyPackage(stateDir, origin.pin);
    case 'file': {
      let found: string;
      try {
        found = fileSha256(origin.path);
      } catch (error) {
        found = `an unreadable file (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
      }
      if (found !== origin.sha256)
        throw new WardenError(
          'PROVENANCE_MISMATCH',
          `${origin.path} differs from the catalog's pin (entry '${origin.entry}'): expected sha256 ${origin.sha256}, found ${found}`,
          {
            hint: 'if the program was updated on purpose, pin it again with `warden catalog add file:PATH`; otherwise find out what changed it',
          },
        );
      return null;
    }
    case 'url':
    case 'unpinned':
      return null;
  }
}

function originOf(entry: string, pin: PinnedEntry, args: readonly string[]): ServerOrigin {
  if (pin.kind === 'npm') return { kind: 'store', entry, pin, args };
  if (pin.kind === 'file') return { kind: 'file', entry, path: pin.path, sha256: pin.sha256 };
  return {
    kind: 'url',
    entry,
    url: pin.url,
    ...(pin.tlsSpkiSha256 === undefined ? {} : { tlsSpkiSha256: pin.tlsSpkiSha256 }),
  };
}

function refused(code: 'PROVENANCE_REFUSED' | 'PROVENANCE_MISMATCH', message: string, hint: string): ServerOrigin {
  return { kind: 'refused', error: new WardenError(code, message, { hint }) };
}

/** "@x/y (a digit for a letter …)" for the first flag. */
export function describeSquat(squats: readonly Typosquat[]): string {
  const first = squats[0];
  if (first === undefined) return '';
  const more = squats.length > 1 ? ` (and ${squats.length - 1} more)` : '';
  return `${first.resembles} (${first.technique}: ${first.detail})${more}`;
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
