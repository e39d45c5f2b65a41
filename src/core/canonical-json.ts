/** RFC 8785 (JCS) canonical JSON: the form every hash in warden is taken over (audit records, tool pins). */
import canonicalizeModule from 'canonicalize';

// The package is CommonJS whose typings declare an ES default export. Under NodeNext the type
// checker therefore sees `{ default: fn }`, while Node, esbuild and vitest all hand us the
// function itself; accept either shape rather than trust one tool's interop.
const canonicalizeImpl = ((canonicalizeModule as unknown as { default?: unknown }).default ?? canonicalizeModule) as (
  input: unknown,
) => string | undefined;

/**
 * RFC 8785 (JCS) canonical JSON of `value`. Throws `TypeError` for values JSON cannot represent
 * exactly (NaN, Infinity, BigInt, cycles), so nothing is stored that would hash differently
 * after a round trip.
 */
export function canonicalJson(value: unknown): string {
  let out: string | undefined;
  try {
    out = canonicalizeImpl(value);
  } catch (err) {
    throw new TypeError('value is not representable as JSON (NaN, Infinity, BigInt or a cycle)', { cause: err });
  }
  if (out === undefined) throw new TypeError('value is not representable as JSON');
  return out;
}
