// Builds warden: one bundled, minified CLI (fast start-up: one file to compile, cached by bin/warden.cjs), the sandbox assets, and the
// JSON Schema of warden.yaml. Native and WebAssembly code loads from node_modules at run time.
import { build } from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const assets = join(dist, 'assets');
rmSync(dist, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  // Bundled CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: 'import { createRequire as __wardenRequire } from "node:module"; const require = __wardenRequire(import.meta.url);',
  },
};

// CommonJS, so bin/warden.cjs can compile it through vm.Script with a V8 code cache.
await build({
  ...common,
  format: 'cjs',
  minify: process.env.WARDEN_BUILD_NO_MINIFY === undefined,
  banner: { js: 'const __wardenImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__wardenImportMetaUrl' },
  entryPoints: [join(root, 'src/cli/entry.ts')],
  outfile: join(dist, 'warden.cjs'),
  // The WebAssembly package loads from node_modules at run time; so does better-sqlite3's native
  // addon (src/audit/sqlite.ts passes its path), while its JavaScript is bundled. `bindings`, its
  // fallback addon finder, is never called and stays out.
  external: ['bindings', '@cedar-policy/cedar-wasm'],
  // jsonc-parser's main build is UMD, whose require() calls esbuild cannot follow: bundle its ES build.
  alias: { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js' },
});
// The audit log's writer thread (src/audit/thread-writer.ts starts it): the store and its
// engine only, so a worker starts in a few milliseconds; better-sqlite3's addon loads from
// node_modules as in the CLI.
await build({
  ...common,
  format: 'cjs',
  sourcemap: false,
  minify: true,
  banner: { js: 'const __wardenImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__wardenImportMetaUrl' },
  entryPoints: [join(root, 'src/audit/writer-thread.ts')],
  outfile: join(assets, 'audit-writer.cjs'),
  external: ['bindings'],
});
// The preload runs inside sandboxes where warden's node_modules are not visible: bundle undici in.
await build({
  ...common,
  sourcemap: false,
  entryPoints: [join(root, 'src/egress/node-proxy-preload.ts')],
  outfile: join(assets, 'node-proxy-preload.mjs'),
});
// The MCP filesystem server `warden demo` puts behind the gateway (the npm package, bundled into
// one file: it runs in its own sandbox, which sees the lib dir but not warden's node_modules).
await build({
  ...common,
  sourcemap: false,
  minify: true,
  entryPoints: [join(root, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js')],
  outfile: join(assets, 'mcp-filesystem-server.mjs'),
});
// The bridge to remote (url:) MCP servers: runs in a server sandbox, relaying stdio to Streamable HTTP.
await build({
  ...common,
  sourcemap: false,
  minify: true,
  entryPoints: [join(root, 'src/gateway/remote-bridge.ts')],
  outfile: join(assets, 'mcp-remote-bridge.mjs'),
});
// Its TLS-pin connector (with undici), loaded by the bridge only for a pinned server.
await build({
  ...common,
  sourcemap: false,
  minify: true,
  entryPoints: [join(root, 'src/gateway/remote-tls.ts')],
  outfile: join(assets, 'mcp-remote-tls.mjs'),
});

// The native programs (see their headers): warden-init, the static C init and in-sandbox
// forwarder; warden-idmap, the root-run helper that idmaps writable roots before the launcher.
// Static, so they need nothing from the sandbox's /usr and start without a dynamic loader;
// stripped, so they load fast.
const cc = process.env.CC ?? 'cc';
for (const name of ['warden-init', 'warden-idmap']) {
  try {
    execFileSync(
      cc,
      [
        '-O2',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-static',
        '-s',
        '-o',
        join(assets, name),
        join(root, `src/sandbox/native/${name}.c`),
      ],
      { stdio: 'inherit' },
    );
  } catch (error) {
    process.stderr.write(
      `build: cannot compile ${name} with ${cc} (${error.message}); install a C compiler and the C library headers (apt-get install build-essential)\n`,
    );
    process.exit(1);
  }
}

for (const name of readdirSync(join(root, 'src/sandbox/assets'))) {
  copyFileSync(join(root, 'src/sandbox/assets', name), join(assets, name));
  if (name.endsWith('.sh')) chmodSync(join(assets, name), 0o755);
}

const schema = execFileSync(process.execPath, [join(root, 'bin', 'warden.cjs'), 'config', 'schema'], {
  encoding: 'utf8',
});
writeFileSync(join(root, 'schema', 'warden.schema.json'), schema);
process.stdout.write('built dist/warden.cjs, dist/assets/, schema/warden.schema.json\n');
