#!/usr/bin/env node
// `npm ci` of a real project through warden's egress proxy against the same install without
// warden (issue 9's benchmark). Each round installs the same lockfile twice, in a random order:
// once directly on the host, once inside `warden run` (registry allowed, everything else refused),
// each time with an empty npm cache and no node_modules, so every package crosses the network
// (and, under warden, the proxy). Prints the medians and the ratio.
//
// usage: node bench/npm-install.mjs [--rounds 5] [--seed 1] [--json FILE]
// As root on a host set up with scripts/setup.sh; needs the npm registry.
import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { join } from 'node:path';
import {
  WORK,
  fmt,
  loadLine,
  log,
  lookupUser,
  machineLine,
  median,
  seededRandom,
  shuffled,
  sortNum,
  table,
  wardenBin,
  wardenBuildLine,
} from './lib/common.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i < 0 ? fallback : args[i + 1];
};
const rounds = Number(option('--rounds', '5'));
const random = seededRandom(Number(option('--seed', '1')));
const jsonOut = option('--json', undefined);

/** A small, real web-service project: 5 direct dependencies, ~70 packages installed. */
const PROJECT = {
  name: 'bench-npm-project',
  version: '1.0.0',
  private: true,
  dependencies: { express: '4.21.2', lodash: '4.17.21', commander: '12.1.0', yaml: '2.6.1', zod: '3.24.1' },
};
const REGISTRY = 'registry.npmjs.org';

const sandboxUser = lookupUser('warden-sandbox');
if (sandboxUser === null) throw new Error('run scripts/setup.sh first (the sandbox user is missing)');
const base = join(WORK, 'npm-install');
rmSync(base, { recursive: true, force: true });
const project = join(base, 'template');
mkdirSync(project, { recursive: true });
writeFileSync(join(project, 'package.json'), `${JSON.stringify(PROJECT, null, 2)}\n`);
log('resolving the lockfile once (not measured)');
const lock = spawnSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], {
  cwd: project,
  stdio: 'pipe',
});
if (lock.status !== 0) throw new Error(`npm could not resolve the project: ${lock.stderr}`);

// NET-07: the registry's address here may be a reserved one (a TLS-inspecting mirror); allow
// exactly the addresses it resolves to, as a user of such a network would.
const addresses = (await lookup(REGISTRY, { all: true })).map((a) =>
  a.family === 6 ? `[${a.address}]:443` : `${a.address}:443`,
);
const allow = [REGISTRY, ...addresses].flatMap((entry) => ['--allow-domain', entry]);
// Node inside the sandbox needs the host's CA bundle when the registry is behind an inspecting proxy.
const caEnv = process.env.NODE_EXTRA_CA_CERTS === undefined ? [] : ['--env', 'NODE_EXTRA_CA_CERTS'];

function fresh(name, owner) {
  const dir = join(base, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) {
    spawnSync('cp', [join(project, file), join(dir, file)]);
  }
  if (owner !== null) spawnSync('chown', ['-R', `${owner.uid}:${owner.gid}`, dir]);
  return dir;
}

const env = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
};
const npmCi = ['npm', 'ci', '--no-audit', '--no-fund', '--cache', '/tmp/bench-npm-cache', '--prefer-online'];

const peers = {
  direct: () => {
    const dir = fresh('direct', null);
    rmSync('/tmp/bench-npm-cache', { recursive: true, force: true });
    return spawnSync(npmCi[0], npmCi.slice(1), { cwd: dir, env, stdio: 'pipe' });
  },
  // The sandbox's /tmp is its own (empty) tmpfs: the cache starts empty on every run.
  warden: () => {
    const dir = fresh('warden', sandboxUser);
    chownSync(dir, sandboxUser.uid, sandboxUser.gid);
    return spawnSync(process.execPath, [wardenBin(), 'run', '-q', ...allow, ...caEnv, '--', ...npmCi], {
      cwd: dir,
      env,
      stdio: 'pipe',
    });
  },
};

const samples = { direct: [], warden: [] };
log(`${rounds} rounds, ${Object.keys(peers).join(' and ')} in random order each round`);
for (let round = 0; round < rounds; round++) {
  for (const name of shuffled(Object.keys(peers), random)) {
    const started = performance.now();
    const result = peers[name]();
    const seconds = (performance.now() - started) / 1000;
    if (result.status !== 0)
      throw new Error(`${name} failed (exit ${result.status}): ${String(result.stderr).slice(-2000)}`);
    samples[name].push(seconds);
  }
  log(`round ${round + 1}: direct ${fmt(samples.direct.at(-1), 2)} s, warden ${fmt(samples.warden.at(-1), 2)} s`);
}

console.log(`\n${machineLine()}\n${loadLine()}\n${wardenBuildLine()}\n`);
console.log(
  `npm ci of ${Object.keys(PROJECT.dependencies).length} direct dependencies, cold cache, ${rounds} rounds\n`,
);
const row = (name) => {
  const sorted = sortNum(samples[name]);
  return [name, fmt(median(sorted), 2), fmt(sorted[0], 2), fmt(sorted.at(-1), 2)];
};
console.log(table(['peer', 'p50 s', 'min s', 'max s'], [row('direct'), row('warden')]));
const ratio = median(sortNum(samples.warden)) / median(sortNum(samples.direct));
console.log(`\nwarden / direct (p50): ${fmt(ratio, 2)}x`);
if (jsonOut !== undefined) writeFileSync(jsonOut, JSON.stringify({ samples, ratio }, null, 2));
