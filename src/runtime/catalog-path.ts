/**
 * Where the project's catalog is: catalog.file of warden.yaml, relative to the file it is written
 * in (warden.catalog.yaml beside warden.yaml by default); for the built-in config, in the directory
 * warden runs in.
 */
import { dirname, resolve } from 'node:path';
import type { WardenConfig } from '../core/config.js';

/** The catalog's absolute path for `config` read from `configPath` (null: the built-in config, read in `cwd`). */
export function catalogPath(config: WardenConfig, configPath: string | null, cwd: string): string {
  return resolve(configPath === null ? cwd : dirname(configPath), config.catalog.file);
}
