/**
 * Secret names and references. A name is what `warden secrets set NAME` stores; a reference is
 * how config points at a secret (`from_secret: REF`): a bare name or `file:NAME` (the encrypted
 * store), `env:VAR` (warden's own environment), `vault:PATH#FIELD` (HashiCorp Vault / OpenBao KV
 * v2; FIELD defaults to `value`).
 */
import { WardenError } from './errors.js';

/** Letters, digits, `_ . -`, starting with a letter or digit; at most 64. */
export const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** The longest value a secret may hold (a PEM private key fits many times over). */
export const MAX_SECRET_BYTES = 64 * 1024;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** A KV v2 path below the mount: segments of safe characters, no `..`, at most 256. */
const VAULT_PATH = /^(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/;
const VAULT_FIELD = /^[A-Za-z0-9_.-]{1,128}$/;

export type SecretRef =
  | { readonly provider: 'file'; readonly name: string }
  | { readonly provider: 'env'; readonly variable: string }
  | { readonly provider: 'vault'; readonly path: string; readonly field: string };

/** Throws SECRET_INVALID unless `name` is a valid secret name. */
export function checkSecretName(name: string): string {
  if (!SECRET_NAME.test(name))
    throw new WardenError('SECRET_INVALID', `'${printable(name)}' is not a secret name`, {
      hint: 'use letters, digits, _ . - (starting with a letter or digit), at most 64 characters, e.g. github-token',
    });
  return name;
}

/** Parses a reference; throws SECRET_INVALID naming what is wrong. */
export function parseSecretRef(text: string): SecretRef {
  const colon = text.indexOf(':');
  const prefix = colon < 0 ? 'file' : text.slice(0, colon);
  const rest = colon < 0 ? text : text.slice(colon + 1);
  switch (prefix) {
    case 'file':
      return { provider: 'file', name: checkSecretName(rest) };
    case 'env':
      if (!ENV_NAME.test(rest))
        throw new WardenError('SECRET_INVALID', `'${printable(text)}' does not name an environment variable`, {
          hint: 'write env:NAME with NAME of letters, digits and _ (not starting with a digit)',
        });
      return { provider: 'env', variable: rest };
    case 'vault': {
      const hash = rest.indexOf('#');
      const path = hash < 0 ? rest : rest.slice(0, hash);
      const field = hash < 0 ? 'value' : rest.slice(hash + 1);
      if (path.length > 256 || !VAULT_PATH.test(path) || !VAULT_FIELD.test(field))
        throw new WardenError('SECRET_INVALID', `'${printable(text)}' is not a Vault reference`, {
          hint: 'write vault:PATH#FIELD, e.g. vault:ci/github#token (PATH below the configured KV v2 mount, no ..)',
        });
      return { provider: 'vault', path, field };
    }
    default:
      throw new WardenError(
        'SECRET_INVALID',
        `'${printable(text)}' names an unknown secret provider '${printable(prefix)}'`,
        {
          hint: 'a reference is NAME or file:NAME (the encrypted store), env:VAR, or vault:PATH#FIELD',
        },
      );
  }
}

/** How a reference is shown to people (never a value). */
export function describeSecretRef(ref: SecretRef): string {
  switch (ref.provider) {
    case 'file':
      return `secret '${ref.name}'`;
    case 'env':
      return `environment variable ${ref.variable}`;
    case 'vault':
      return `Vault secret ${ref.path}#${ref.field}`;
  }
}

/** Throws SECRET_INVALID unless `value` can be a secret (non-empty, bounded, no NUL). */
export function checkSecretValue(value: string, what: string): string {
  if (value.length === 0)
    throw new WardenError('SECRET_INVALID', `${what} is empty`, { hint: 'give the secret a value' });
  if (Buffer.byteLength(value, 'utf8') > MAX_SECRET_BYTES)
    throw new WardenError('SECRET_INVALID', `${what} is larger than ${MAX_SECRET_BYTES / 1024} KiB`, {
      hint: 'store a reference to a file instead of its contents',
    });
  if (value.includes('\0'))
    throw new WardenError('SECRET_INVALID', `${what} contains a NUL byte`, {
      hint: 'store binary secrets base64-encoded',
    });
  return value;
}

function printable(text: string): string {
  const shown = text.slice(0, 80).replace(/[^\x20-\x7e]/g, '?');
  return text.length > 80 ? `${shown}…` : shown;
}
