/**
 * The catalog file (warden.catalog.yaml, kept in the repository beside warden.yaml): the MCP
 * servers this project trusts, each pinned to exactly what was reviewed. One zod schema, every
 * field described and bounded, like warden.yaml's.
 *
 *   npm packages   by exact version and the registry's integrity (sha512 SRI of the tarball);
 *   local programs by the sha256 of the file;
 *   remote servers by URL.
 */
import { z } from 'zod';

/** An entry's name: what `servers.<name>.catalog` refers to. */
export const ENTRY_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** An npm package name (scoped or not), as the registry accepts new names. */
export const NPM_NAME = /^(@[a-z0-9][a-z0-9._~-]{0,100}\/)?[a-z0-9][a-z0-9._~-]{0,100}$/;
/** An exact semver version: never a range or a tag. */
export const EXACT_VERSION =
  /^(0|[1-9][0-9]{0,9})\.(0|[1-9][0-9]{0,9})\.(0|[1-9][0-9]{0,9})(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;
/** The registry's dist.integrity: one sha512 Subresource Integrity string. */
export const SHA512_SRI = /^sha512-[A-Za-z0-9+/]{86}==$/;
export const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Largest catalog: a few hundred servers at most in any real project. */
export const MAX_ENTRIES = 500;

export const catalogEntrySchema = z
  .strictObject({
    description: z.string().max(500).optional().describe('What this server is, for people reviewing the file.'),
    npm: z
      .string()
      .max(214)
      .regex(NPM_NAME, 'not an npm package name (lower-case, optionally @scope/name)')
      .optional()
      .describe('An npm package: its name (e.g. @modelcontextprotocol/server-memory). Needs version and integrity.'),
    version: z
      .string()
      .max(100)
      .regex(EXACT_VERSION, 'must be an exact version such as 1.2.3 (no range, no tag)')
      .optional()
      .describe('The exact version of the npm package.'),
    integrity: z
      .string()
      .regex(SHA512_SRI, "must be the registry's sha512 integrity string (sha512-…==)")
      .optional()
      .describe("The registry's dist.integrity of that version's tarball (sha512 SRI); checked on install and start."),
    bin: z
      .string()
      .max(214)
      .regex(/^[A-Za-z0-9@._~-]+$/, 'not a bin name')
      .optional()
      .describe("Which of the package's bin entries to start, when it has more than one."),
    file: z
      .string()
      .max(4096)
      .regex(/^\//, 'must be an absolute path')
      .refine((p) => !p.includes('\0') && !p.split('/').includes('..'), "no NUL and no '..'")
      .optional()
      .describe('A local program or script: its absolute path. Needs sha256.'),
    sha256: z
      .string()
      .regex(SHA256_HEX, 'must be 64 lower-case hex digits')
      .optional()
      .describe("The sha256 of the local program's content."),
    url: z
      .url({ protocol: /^https?$/, error: 'url must be an http(s) URL' })
      .max(2048)
      .optional()
      .describe('A remote (Streamable HTTP) server: its URL, compared exactly with servers.<name>.url.'),
    tls_spki_sha256: z
      .string()
      .regex(SHA256_HEX, 'must be 64 lower-case hex digits')
      .optional()
      .describe(
        "An https url entry's TLS pin: the sha256 of the DER SubjectPublicKeyInfo of the server's own (leaf) certificate. When given, the server is trusted by this pin alone (a certificate no CA signed is accepted when its key matches; any other key is refused).",
      ),
  })
  .superRefine((entry, ctx) => {
    const kinds = (['npm', 'file', 'url'] as const).filter((k) => entry[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          kinds.length === 0
            ? 'give one of npm (a package), file (a local program) or url (a remote server)'
            : `give only one of npm, file or url (found ${kinds.join(', ')})`,
      });
      return;
    }
    const need = (field: 'version' | 'integrity' | 'sha256', why: string) => {
      if (entry[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: `required: ${why}` });
    };
    const forbid = (fields: readonly (keyof typeof entry)[], kind: string) => {
      for (const field of fields)
        if (entry[field] !== undefined)
          ctx.addIssue({ code: 'custom', path: [field], message: `does not apply to ${kind} entries` });
    };
    if (kinds[0] === 'npm') {
      need('version', 'an npm entry pins an exact version');
      need('integrity', "an npm entry pins the registry's integrity (warden catalog add writes it)");
      forbid(['sha256', 'tls_spki_sha256'], 'npm');
    } else if (kinds[0] === 'file') {
      need('sha256', 'a local program is pinned by the sha256 of its content (warden catalog add file:PATH)');
      forbid(['version', 'integrity', 'bin', 'tls_spki_sha256'], 'file');
    } else {
      forbid(['version', 'integrity', 'bin', 'sha256'], 'url');
      if (entry.tls_spki_sha256 !== undefined && !(entry.url ?? '').startsWith('https:'))
        ctx.addIssue({
          code: 'custom',
          path: ['tls_spki_sha256'],
          message: 'a TLS pin needs an https URL (plain http has no certificate to pin)',
        });
    }
  })
  .describe('One trusted MCP server, pinned.');

export const catalogSchema = z
  .strictObject({
    version: z.literal(1).describe('Catalog format version; 1.'),
    servers: z
      .record(
        z.string().regex(ENTRY_NAME, 'entry names are lower-case letters, digits and - (max 64)'),
        catalogEntrySchema,
      )
      .refine((s) => Object.keys(s).length <= MAX_ENTRIES, `at most ${MAX_ENTRIES} entries`)
      .default({})
      .describe('The trusted servers by entry name (what servers.<name>.catalog in warden.yaml refers to).'),
  })
  .describe('The catalog of trusted MCP servers (warden.catalog.yaml).');

export type Catalog = z.output<typeof catalogSchema>;
export type CatalogEntry = z.output<typeof catalogEntrySchema>;

/** An entry by kind, for code that acts on it. */
export type PinnedEntry =
  | {
      readonly kind: 'npm';
      readonly name: string;
      readonly version: string;
      readonly integrity: string;
      readonly bin?: string;
    }
  | { readonly kind: 'file'; readonly path: string; readonly sha256: string }
  | {
      readonly kind: 'url';
      readonly url: string;
      /** sha256 (hex) of the leaf certificate's DER SubjectPublicKeyInfo, when pinned. */
      readonly tlsSpkiSha256?: string;
    };

/** The entry's pin by kind (the schema guarantees exactly one kind and its fields). */
export function pinOf(entry: CatalogEntry): PinnedEntry {
  if (entry.npm !== undefined)
    return {
      kind: 'npm',
      name: entry.npm,
      version: entry.version ?? '',
      integrity: entry.integrity ?? '',
      ...(entry.bin === undefined ? {} : { bin: entry.bin }),
    };
  if (entry.file !== undefined) return { kind: 'file', path: entry.file, sha256: entry.sha256 ?? '' };
  return {
    kind: 'url',
    url: entry.url ?? '',
    ...(entry.tls_spki_sha256 === undefined ? {} : { tlsSpkiSha256: entry.tls_spki_sha256 }),
  };
}
