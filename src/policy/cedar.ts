/**
 * Loads the Cedar engine (WebAssembly, ~4 MB) on first use only: a `warden run` that grants no
 * MCP tools never pays for it. The Node build of cedar-wasm instantiates synchronously on require.
 */
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import type * as CedarWasm from '@cedar-policy/cedar-wasm/nodejs';

export type Cedar = typeof CedarWasm;

let loaded: Cedar | null = null;

/** The cedar-wasm module (loaded once per process). */
export function cedar(): Cedar {
  if (loaded === null) {
    // Node 20's V8 (11.3) crashes ("unreachable code" in the deoptimizer) when TurboFan has
    // inlined a call into Cedar's WebAssembly and must deoptimize it: seen after a few thousand
    // argument-dependent decisions under load (bench/gateway.mjs --concurrency 64). Not inlining
    // JS-to-Wasm calls avoids it; the cost is noise next to a ~55 µs Cedar decision.
    setFlagsFromString('--no-turbo-inline-js-wasm-calls');
    loaded = createRequire(import.meta.url)('@cedar-policy/cedar-wasm/nodejs') as Cedar;
  }
  return loaded;
}

/** Cedar's detailed errors as one readable line each. */
export function cedarMessages(errors: readonly CedarWasm.DetailedError[]): string[] {
  return errors.map((e) => (e.help === null || e.help === '' ? e.message : `${e.message} (${e.help})`));
}
