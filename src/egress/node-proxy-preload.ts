/**
 * Preloaded into Node.js agents inside the sandbox with `NODE_OPTIONS=--import=<bundled file>`.
 *
 * Why: Node 20's built-in `fetch` (its bundled undici) ignores HTTP_PROXY/HTTPS_PROXY — even with
 * NODE_USE_ENV_PROXY=1 — so inside a sandbox whose only way out is the egress proxy, `fetch`
 * would try to resolve and connect directly and fail. Installing undici's EnvHttpProxyAgent as
 * the global dispatcher makes `fetch` honour the same variables curl and most libraries do
 * (including NO_PROXY and the `warden:<credential>@` userinfo, sent as Proxy-Authorization).
 *
 * Harmless without proxy variables: EnvHttpProxyAgent then connects directly, as plain fetch would.
 * The build bundles this file with undici into one self-contained module, so it does not depend
 * on the agent's own node_modules.
 */
import { EnvHttpProxyAgent, setGlobalDispatcher } from 'undici';

setGlobalDispatcher(new EnvHttpProxyAgent());
