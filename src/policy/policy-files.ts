/**
 * Reads the user's own Cedar policy files (mcp.policies). Each policy gets a stable id: its
 * `@id("...")` annotation, else `<file name>#<n>`; ids must be unique across the whole set, so a
 * decision's policy ids always point at one place.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { WardenError } from '../core/errors.js';
import { cedar, cedarMessages } from './cedar.js';

const MAX_POLICY_FILE_BYTES = 1024 * 1024;
const ID_ANNOTATION = /^\s*@id\(\s*"((?:[^"\\]|\\.){1,128})"\s*\)/;

/**
 * Loads `files` (relative to `configPath`'s directory) and returns policy id → text, merged
 * after `existing` (whose ids must not be reused).
 */
export function loadPolicyFiles(
  files: readonly string[],
  configPath: string | null,
  existing: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = { ...existing };
  const base = configPath === null ? process.cwd() : dirname(configPath);
  for (const file of files) {
    const path = isAbsolute(file) ? file : resolve(base, file);
    let text: string;
    try {
      const size = statSync(path).size;
      if (size > MAX_POLICY_FILE_BYTES)
        throw new WardenError('POLICY_FILE', `Cedar policy file ${path} is ${size} bytes; the limit is 1 MiB`, {
          hint: 'split it, or remove what is not needed',
        });
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if (error instanceof WardenError) throw error;
      throw new WardenError('POLICY_FILE', `cannot read Cedar policy file ${path}: ${(error as Error).message}`, {
        hint: 'check the path in mcp.policies (relative paths are taken from the directory of warden.yaml)',
      });
    }
    const parts = cedar().policySetTextToParts(text);
    if (parts.type === 'failure') {
      throw new WardenError('POLICY_INVALID', `${path}: ${cedarMessages(parts.errors).join('; ')}`, {
        hint: 'fix the Cedar syntax (see https://docs.cedarpolicy.com/policies/syntax-policy.html)',
      });
    }
    if (parts.policy_templates.length > 0)
      throw new WardenError('POLICY_INVALID', `${path}: policy templates are not supported`, {
        hint: 'write static policies',
      });
    parts.policies.forEach((policy, index) => {
      const id = ID_ANNOTATION.exec(policy)?.[1] ?? `${basename(path)}#${index}`;
      if (Object.hasOwn(out, id))
        throw new WardenError('POLICY_FILE', `${path}: policy id '${id}' is used twice`, {
          hint: 'give each policy a unique @id("...")',
        });
      out[id] = policy;
    });
  }
  return out;
}
