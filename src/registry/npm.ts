/**
 * What warden asks npm: what the registry says a version is (`npm view`), its tarball (`npm pack`),
 * and an install of a verified tarball with its dependencies (`npm install --ignore-scripts`).
 * npm's own tooling does the registry protocol, the user's npm config (registry, CA, proxy,
 * auth) and tarball extraction; warden never parses a tarball itself, it only hashes the file.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WardenError } from '../core/errors.js';
import { EXACT_VERSION, NPM_NAME, SHA512_SRI } from './catalog-schema.js';

/** Longest an npm command may take (a slow registry, a large dependency tree). */
const NPM_TIMEOUT_MS = 5 * 60_000;
const MAX_OUTPUT = 16 * 1024 * 1024;

/** What the registry states about one version of a package. */
export interface RegistryVersion {
  readonly name: string;
  readonly version: string;
  /** dist.integrity from the packument (sha512 SRI). */
  readonly integrity: string;
}

/** Runs npm with `args`; resolves with its stdout, or throws CATALOG_ADD_FAILED with npm's own first error line. */
export function runNpm(args: readonly string[], options: { cwd: string; what: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'npm',
      [...args],
      {
        cwd: options.cwd,
        timeout: NPM_TIMEOUT_MS,
        maxBuffer: MAX_OUTPUT,
        // No update notices or funding messages in what warden parses; never a prompt.
        env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_yes: 'true' },
      },
      (error, stdout, stderr) => {
        if (error === null) return resolve(stdout);
        const line =
          stderr
            .split('\n')
            .map((l) => l.replace(/^npm (error|ERR!)\s*/, '').trim())
            .find((l) => l !== '' && !/^(code|errno|A complete log)/.test(l)) ?? error.message;
        reject(
          new WardenError('CATALOG_ADD_FAILED', `${options.what}: npm says: ${line.slice(0, 500)}`, {
            hint: 'check the name and version (npm view NAME versions), and that npm reaches its registry (npm ping)',
            cause: error,
          }),
        );
      },
    );
  });
}

/**
 * Resolves `name@spec` (an exact version, a range or a tag) on the registry to one exact version
 * and its integrity. A range matching several versions resolves to the highest, as npm would.
 */
export async function resolveOnRegistry(name: string, spec: string, cwd: string): Promise<RegistryVersion> {
  const out = await runNpm(['view', `${name}@${spec}`, 'name', 'version', 'dist.integrity', '--json'], {
    cwd,
    what: `resolving ${name}@${spec} on the registry`,
  });
  let parsed: unknown;
  try {
    parsed = out.trim() === '' ? null : JSON.parse(out);
  } catch {
    parsed = null;
  }
  // One version: an object; a range matching several: an array in ascending order.
  const last: unknown = Array.isArray(parsed) ? parsed[parsed.length - 1] : parsed;
  const record = (last ?? {}) as Record<string, unknown>;
  const version = record['version'];
  const integrity = record['dist.integrity'];
  if (typeof version !== 'string' || typeof integrity !== 'string')
    throw new WardenError('CATALOG_ADD_FAILED', `the registry has no version of ${name} matching '${spec}'`, {
      hint: `list its versions with: npm view ${name} versions`,
    });
  if (!EXACT_VERSION.test(version) || !SHA512_SRI.test(integrity) || record['name'] !== name || !NPM_NAME.test(name))
    throw new WardenError(
      'CATALOG_ADD_FAILED',
      `the registry's answer for ${name}@${spec} is not usable (version '${version.slice(0, 100)}', integrity '${integrity.slice(0, 100)}')`,
      { hint: 'warden pins only packages whose registry entry states a sha512 integrity' },
    );
  return { name, version, integrity };
}

/** The sha512 Subresource Integrity string of a file's content (the form of the registry's dist.integrity). */
export function fileIntegrity(path: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(path)).digest('base64')}`;
}

/** The sha256 of a file's content, in hex. */
export function fileSha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
