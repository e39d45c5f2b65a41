/**
 * The read-only directory bound at /run/warden/lib inside every sandbox: the init script, the
 * launcher, the Node proxy preload and the empty file and directory bound over denied paths. It is copied from warden's install
 * into the runtime root because warden may be installed where the sandbox user cannot read
 * (e.g. under /root). One directory per asset version, written by rename, so concurrent runs and
 * upgrades never see a half-written copy.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { WardenError } from '../core/errors.js';

export interface LibDir {
  readonly path: string;
  readonly initScript: string;
  readonly launcher: string;
  /** The static C init with the in-sandbox forwarder; null when it was not built (shell init + socat then). */
  readonly wardenInit: string | null;
  /** The root-run helper that idmaps writable roots (see idmap.ts); null when it was not built. */
  readonly idmapHelper: string | null;
  /** Present when the build produced it (dist/assets); absent when running from source. */
  readonly nodePreload: string | null;
  /** The bundled MCP filesystem server `warden demo` uses (dist/assets); null when not built. */
  readonly filesystemServer: string | null;
  /** The stdio-to-Streamable-HTTP bridge for remote (url:) servers (dist/assets); null when not built. */
  readonly remoteBridge: string | null;
  readonly emptyFile: string;
  readonly emptyDir: string;
}

const ASSET_FILES = [
  'init.sh',
  'launcher.sh',
  'warden-init',
  'warden-idmap',
  'node-proxy-preload.mjs',
  'mcp-filesystem-server.mjs',
  'mcp-remote-bridge.mjs',
  'mcp-remote-tls.mjs',
] as const;
const EXECUTABLES = new Set(['init.sh', 'launcher.sh', 'warden-init', 'warden-idmap']);

/**
 * Ensures `<runtimeRoot>/lib-<key>` holds the assets from `assetsDir`; returns its layout. The key
 * hashes each asset's identity (inode, size, modification time), not its content: that costs four
 * stat calls instead of reading and hashing ~1 MB on every run, and still changes whenever an
 * asset is rebuilt or edited. A new copy is written only when its key is new.
 */
export function ensureLibDir(runtimeRoot: string, assetsDir: string): LibDir {
  const present = new Map<string, string>();
  const key = createHash('sha256');
  for (const name of ASSET_FILES) {
    const source = join(assetsDir, name);
    let st;
    try {
      st = statSync(source);
    } catch {
      continue;
    }
    present.set(name, source);
    key.update(`${name}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}\0`);
  }
  for (const required of ['init.sh', 'launcher.sh']) {
    if (!present.has(required))
      throw new WardenError('INTERNAL', `warden's sandbox asset ${required} is missing from ${assetsDir}`, {
        hint: 'rebuild warden (npm run build)',
      });
  }
  const path = join(runtimeRoot, `lib-${key.digest('hex').slice(0, 16)}`);
  const layout = describe(path, present);
  if (existsSync(join(path, '.complete'))) {
    markUsed(path);
    return layout;
  }
  const contents = new Map<string, Buffer>();
  for (const [name, source] of present) contents.set(name, readFileSync(source));

  const staging = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    mkdirSync(staging, { recursive: true, mode: 0o755 });
    for (const [name, data] of contents)
      writeFileSync(join(staging, name), data, { mode: EXECUTABLES.has(name) ? 0o755 : 0o644 });
    // Mode 0000 empties: bound over denied paths so even reading them fails.
    writeFileSync(join(staging, 'empty-file'), '', { mode: 0o000 });
    mkdirSync(join(staging, 'empty-dir'), { mode: 0o000 });
    chmodSync(join(staging, 'empty-file'), 0o000);
    chmodSync(join(staging, 'empty-dir'), 0o000);
    writeFileSync(join(staging, '.complete'), '');
    try {
      renameSync(staging, path);
    } catch (error) {
      // Another run won the race: its copy is identical (same hash).
      if (!existsSync(join(path, '.complete'))) throw error;
      rmSync(staging, { recursive: true, force: true });
    }
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw new WardenError(
      'INTERNAL',
      `cannot prepare the sandbox library directory ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  pruneOldLibDirs(runtimeRoot, path);
  return layout;
}

function describe(path: string, present: ReadonlyMap<string, string>): LibDir {
  return {
    path,
    initScript: join(path, 'init.sh'),
    launcher: join(path, 'launcher.sh'),
    wardenInit: present.has('warden-init') ? join(path, 'warden-init') : null,
    idmapHelper: present.has('warden-idmap') ? join(path, 'warden-idmap') : null,
    nodePreload: present.has('node-proxy-preload.mjs') ? join(path, 'node-proxy-preload.mjs') : null,
    filesystemServer: present.has('mcp-filesystem-server.mjs') ? join(path, 'mcp-filesystem-server.mjs') : null,
    remoteBridge: present.has('mcp-remote-bridge.mjs') ? join(path, 'mcp-remote-bridge.mjs') : null,
    emptyFile: join(path, 'empty-file'),
    emptyDir: join(path, 'empty-dir'),
  };
}

/** Records that a run uses this copy now: pruning goes by last use, not by creation. */
function markUsed(path: string): void {
  try {
    const now = new Date();
    utimesSync(join(path, '.complete'), now, now);
  } catch {
    // a stale mark only delays pruning
  }
}

/** Removes copies (other warden versions, abandoned staging dirs) unused for a week; never the current one. */
function pruneOldLibDirs(runtimeRoot: string, keep: string): void {
  const weekAgo = Date.now() - 7 * 86_400_000;
  for (const name of readdirSync(runtimeRoot)) {
    const full = join(runtimeRoot, name);
    if (!name.startsWith('lib-') || full === keep) continue;
    try {
      const marker = join(full, '.complete');
      const lastUse = existsSync(marker) ? statSync(marker).mtimeMs : statSync(full).mtimeMs;
      if (lastUse < weekAgo) rmSync(full, { recursive: true, force: true });
    } catch {
      // best effort: an old copy left behind costs only disk space
    }
  }
}
