#!/usr/bin/env node
'use strict';
// Loads the built CLI bundle with a V8 code cache: Node 20 has no compile cache of its own, and
// compiling the 1 MB bundle from source would add ~40 ms to every `warden run`. The cache lives
// next to the bundle (or in ~/.cache/warden when that is not writable) and is rebuilt whenever V8
// rejects it (another Node version) or it is missing. This file is CommonJS on purpose: an ES
// module entry point costs Node ~3 ms more to start (it sets up the ESM loader first).
const {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} = require('node:fs');
const { createRequire, Module } = require('node:module');
const { homedir } = require('node:os');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const bundle = join(__dirname, '..', 'dist', 'warden.cjs');
let source;
try {
  source = readFileSync(bundle, 'utf8');
} catch {
  process.stderr.write('warden: not built yet; run `npm run build` (or scripts/setup.sh)\n');
  process.exit(125);
}
// `warden run` gets a cache of its own, written after a run: V8 caches the functions that ran, and
// a cache written by another command (the build writes one with `config schema`) would leave the
// run path to be compiled on every start (~5 ms) while carrying code a run never needs.
const kind = process.argv[2] === 'run' ? 'run' : 'cli';
// Keyed by the bundle file's identity, not only its length: V8 itself checks just the length, and
// a rebuild of the same length must not run the old bundle's compiled code.
const built = statSync(bundle);
const cacheName = `warden-${process.versions.v8}-${source.length}-${built.ino}-${Math.trunc(built.mtimeMs)}-${kind}.cache`;
const cachePaths = [
  join(dirname(bundle), cacheName),
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'warden', cacheName),
];
const uid = process.getuid?.() ?? -1;
let cachedData;
for (const path of cachePaths) {
  let fd;
  try {
    fd = openSync(path, 'r');
    // Only a cache written by this user (or root): it becomes code this process runs.
    const st = fstatSync(fd);
    if (st.isFile() && (st.uid === uid || st.uid === 0) && (st.mode & 0o022) === 0) {
      cachedData = readFileSync(fd);
      break;
    }
  } catch {
    // not there; try the next
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
const script = new Script(Module.wrap(source), { filename: bundle, ...(cachedData ? { cachedData } : {}) });
const moduleObject = new Module(bundle);
moduleObject.filename = bundle;
moduleObject.paths = Module._nodeModulePaths(dirname(bundle));
const bundleRequire = createRequire(bundle);
script
  .runInThisContext()
  .call(moduleObject.exports, moduleObject.exports, bundleRequire, moduleObject, bundle, dirname(bundle));

if (cachedData === undefined || script.cachedDataRejected) {
  // Written after the command ran, so the functions it compiled are in the cache too. A run that
  // failed may have stopped before the sandbox started: its cache would miss that path, so only
  // a run that exited 0 writes the run cache.
  process.once('exit', (code) => {
    if (kind === 'run' && code !== 0) return;
    const data = script.createCachedData();
    for (const path of cachePaths) {
      try {
        mkdirSync(dirname(path), { recursive: true });
        const temp = `${path}.${process.pid}.tmp`;
        writeFileSync(temp, data, { mode: 0o644 });
        renameSync(temp, path);
        return;
      } catch {
        // not writable here; try the next place
      }
    }
  });
}
