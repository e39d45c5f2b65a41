/**
 * Finding and reading warden.yaml (parsing and validation are in config-parse.ts). Bounded (1 MiB), strict YAML (duplicate keys are
 * errors), validated by the zod schema, frozen. Every error names the file, the line, the path
 * inside the file and how to fix it.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { WardenConfig } from '../core/config.js';
import { BUILTIN_CONFIG } from '../core/builtin-config.js';
import { WardenError } from '../core/errors.js';

export const CONFIG_FILE_NAMES = ['warden.yaml', 'warden.yml'] as const;
export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface LoadedConfig {
  readonly config: WardenConfig;
  /** Absolute path of the file, or null for the built-in config. */
  readonly path: string | null;
}

/**
 * Loads the config: `explicitPath` when given (it must exist), else warden.yaml / warden.yml in
 * `cwd`, else the built-in config. The YAML parser and the schema load only when a file exists.
 */
export async function loadConfig(cwd: string, explicitPath?: string): Promise<LoadedConfig> {
  if (explicitPath !== undefined) {
    const path = resolve(cwd, explicitPath);
    const text = readBounded(path);
    if (text === undefined) {
      throw new WardenError('CONFIG_NOT_FOUND', `config file ${path} does not exist`, {
        hint: 'check the --config path',
      });
    }
    return { config: await parseConfigText(text, path), path };
  }
  for (const name of CONFIG_FILE_NAMES) {
    const path = resolve(cwd, name);
    const text = readBounded(path);
    if (text !== undefined) return { config: await parseConfigText(text, path), path };
  }
  return { config: BUILTIN_CONFIG, path: null };
}

/** Parses and validates config text; `source` names the file in errors. */
export async function parseConfigText(text: string, source: string): Promise<WardenConfig> {
  const parser = await import('./config-parse.js');
  return parser.parseConfigText(text, source);
}

/** Reads at most MAX_CONFIG_BYTES + 1 bytes; undefined when the file does not exist. */
function readBounded(path: string): string | undefined {
  const notRegular = (): WardenError =>
    new WardenError('CONFIG_NOT_FOUND', `config path ${path} is not a regular file`, {
      hint: 'point --config at a warden.yaml file (not a directory, FIFO or device)',
    });
  let fd: number;
  try {
    // Check the type before opening: opening a FIFO for reading blocks until a writer appears,
    // so `--config /some/fifo` would hang warden instead of failing.
    if (!statSync(path).isFile()) throw notRegular();
    // O_NONBLOCK as well, in case the path is swapped for a FIFO between the check and the open
    // (it has no effect on a regular file; the fstat below then refuses the FIFO).
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (error instanceof WardenError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WardenError('CONFIG_NOT_FOUND', `cannot read config file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    if (!fstatSync(fd).isFile()) throw notRegular();
    const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n)
      n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > MAX_CONFIG_BYTES) {
      throw new WardenError('CONFIG_TOO_LARGE', `config file ${path} is larger than ${MAX_CONFIG_BYTES} bytes`, {
        hint: 'a warden config is small; check you passed the right file',
      });
    }
    const decoder = new TextDecoder('utf-8', { fatal: true });
    try {
      return decoder.decode(buffer.subarray(0, length));
    } catch {
      throw new WardenError('CONFIG_PARSE', `${path}: the file is not valid UTF-8`, { hint: 'save the file as UTF-8' });
    }
  } finally {
    closeSync(fd);
  }
}
