/**
 * The TLS pin warden keeps for a remote MCP server (a catalog url entry's `tls_spki_sha256`):
 * the sha256 of the DER SubjectPublicKeyInfo of the server's own (leaf) certificate. A key pin
 * rather than a certificate pin, so a certificate renewed with the same key still matches.
 */
import { createHash, type X509Certificate } from 'node:crypto';

/** sha256 (lower-case hex) of a certificate's DER SubjectPublicKeyInfo. */
export function spkiSha256(certificate: X509Certificate): string {
  return createHash('sha256')
    .update(certificate.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}
