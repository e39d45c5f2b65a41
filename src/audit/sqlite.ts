/**
 * Opening SQLite databases with better-sqlite3. Its JavaScript is bundled into dist/warden.cjs
 * (so it is in the V8 code cache: loading it from node_modules cost ~3.5 ms per start), and its
 * native addon is loaded on the first open, from its known place in the package: the package's
 * own lookup (the `bindings` package) probes a dozen paths first. `warden run` makes that first
 * open while the sandbox launcher is already starting (see runAgent).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { WardenError } from '../core/errors.js';

let addonPath: string | undefined;

/** Where better-sqlite3's compiled addon is (build/Release, as npm installs it). */
function nativeAddon(): string {
  if (addonPath !== undefined) return addonPath;
  // node_modules next to this file or an ancestor, as require() would search, but without the
  // resolver's package.json reads (~1.5 ms on a cold start).
  const relative = join('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return (addonPath = candidate);
    if (dirname(dir) === dir) break;
  }
  let packageDir: string;
  try {
    packageDir = dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
  } catch (error) {
    throw new WardenError('AUDIT_UNAVAILABLE', 'better-sqlite3 is not installed, so the audit log cannot be opened', {
      hint: 'run npm install (or scripts/setup.sh)',
      cause: error,
    });
  }
  const file = join(packageDir, 'build', 'Release', 'better_sqlite3.node');
  if (!existsSync(file)) {
    throw new WardenError(
      'AUDIT_UNAVAILABLE',
      `better-sqlite3's native addon is missing (${file}), so the audit log cannot be opened`,
      { hint: 'run npm rebuild better-sqlite3 (needs python3, make and g++)' },
    );
  }
  return (addonPath = file);
}

/** Opens a SQLite database (loading the native addon on the first call). */
export function openSqlite(path: string, options: Database.Options): Database.Database {
  return new Database(path, { ...options, nativeBinding: nativeAddon() });
}
