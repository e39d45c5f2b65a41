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
import Database from 'better-sqlite3';
import { WardenError } from '../core/errors.js';

let addonPath: string | undefined;

/** Where better-sqlite3's compiled addon is (build/Release, as npm installs it). */
function nativeAddon(): string {
  if (addonPath !== undefined) return addonPath;
  let packageDir: string;
  try {
    packageDir = dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
  } catch (error) {
    throw new WardenError('AUDIT_UNAVAILABLE', 'better-sqlite3 is not installed, so the audit log cannot be opened', { hint: 'run npm install (or scripts/setup.sh)', cause: error });
  }
  const file = join(packageDir, 'build', 'Release', 'better_sqlite3.node');
  if (!existsSync(file)) {
    throw new WardenError('AUDIT_UNAVAILABLE', `better-sqlite3's native addon is missing (${file}), so the audit log cannot be opened`, { hint: 'run npm rebuild better-sqlite3 (needs python3, make and g++)' });
  }
  addonPath = file;
  return file;
}

/** Opens a SQLite database (loading the native addon on the first call). */
export function openSqlite(path: string, options: Database.Options): Database.Database {
  return new Database(path, { ...options, nativeBinding: nativeAddon() });
}
