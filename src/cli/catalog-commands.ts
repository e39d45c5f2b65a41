/**
 * `warden catalog add | ls | verify | install | rm`: the project's catalog of pinned MCP servers
 * (warden.catalog.yaml beside warden.yaml, see docs/config.md) and warden's package store.
 */
import type { Command } from 'commander';
import { EXIT, WardenError } from '../core/errors.js';
import { ensureStateDir } from '../audit/index.js';
// The registry (zod, yaml) loads only when a catalog command runs: start-up time of every other command.
import type { EntryCheck } from '../registry/index.js';
import { catalogPath, loadConfig } from '../runtime/index.js';
import { globalOptionsOf, type GlobalOptions } from './global-options.js';
import { printJson, table } from './output.js';

export interface CatalogCommandDeps {
  readonly stateDirOf: (global: GlobalOptions, configStateDir: string | undefined) => string;
}

const registry = () => import('../registry/index.js');

export function registerCatalogCommands(program: Command, deps: CatalogCommandDeps): void {
  const catalog = program
    .command('catalog')
    .description("The catalog of trusted MCP servers, each pinned (SCAN-06), and warden's package store.");

  const where = async (cmd: Command): Promise<{ path: string; stateDir: string }> => {
    const global = globalOptionsOf(cmd);
    const { config, path } = await loadConfig(process.cwd(), global.config);
    return { path: catalogPath(config, path, process.cwd()), stateDir: deps.stateDirOf(global, config.state_dir) };
  };
  const mustRead = async (path: string) => {
    const loaded = (await registry()).readCatalog(path);
    if (loaded === null)
      throw new WardenError('CATALOG_INVALID', `there is no catalog at ${path}`, {
        hint: 'create it with `warden catalog add npm:NAME@VERSION` (or set catalog.file in warden.yaml)',
      });
    return loaded.catalog;
  };

  catalog
    .command('add')
    .description(
      'Pin a server: npm:NAME[@VERSION] (resolved on the registry, installed into the store with --ignore-scripts, integrity checked), file:/abs/path (sha256), or an https:// URL.',
    )
    .argument('<source>', 'npm:NAME@VERSION, file:/absolute/path or https://…')
    .option('--name <entry>', 'the entry name (default: from the package, file or host name)')
    .option('--bin <name>', "npm: which of the package's programs to start, when it has several")
    .option('--tarball <file>', 'npm: install this tarball (offline) and pin its own sha512 instead of downloading')
    .option('--accept-lookalike', 'pin a name that looks like a typosquat of a trusted one (after checking it)')
    .option('--no-tls-pin', 'https: pin the URL only, not the TLS key the server presents now')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        source: string,
        options: {
          name?: string;
          bin?: string;
          tarball?: string;
          acceptLookalike?: boolean;
          tlsPin?: boolean;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const { path, stateDir } = await where(cmd);
        if (source.startsWith('npm:')) ensureStateDir(stateDir);
        const { addToCatalog, pinOf } = await registry();
        const result = await addToCatalog({
          source,
          catalogPath: path,
          stateDir,
          cwd: stateDir.length > 0 && source.startsWith('npm:') ? stateDir : process.cwd(),
          ...(options.name === undefined ? {} : { name: options.name }),
          ...(options.bin === undefined ? {} : { bin: options.bin }),
          ...(options.tarball === undefined ? {} : { tarball: options.tarball }),
          ...(options.acceptLookalike === true ? { acceptLookalike: true } : {}),
          ...(options.tlsPin === false ? { noTlsPin: true } : {}),
        });
        if (options.json === true) {
          printJson({
            entry: result.entry,
            pinned: result.pinned,
            resolved_from: result.resolvedFrom,
            lookalikes: result.lookalikes,
            catalog: path,
          });
          return;
        }
        const pin = pinOf(result.pinned);
        const lines: string[] = [];
        for (const l of result.lookalikes)
          lines.push(`warning: ${l.name} looks like ${l.resembles} (${l.technique}: ${l.detail}); pinned as you asked`);
        if (pin.kind === 'npm') {
          if (result.resolvedFrom !== null)
            lines.push(`resolved ${pin.name}@${result.resolvedFrom} to the exact version ${pin.version}`);
          lines.push(
            `pinned ${pin.name}@${pin.version} as '${result.entry}' (${pin.integrity.slice(0, 22)}…), installed in ${stateDir}/store`,
          );
        } else if (pin.kind === 'file') lines.push(`pinned ${pin.path} as '${result.entry}' (sha256 ${pin.sha256})`);
        else if (pin.tlsSpkiSha256 === undefined) lines.push(`pinned ${pin.url} as '${result.entry}'`);
        else
          lines.push(
            `pinned ${pin.url} as '${result.entry}' with the TLS key it presents now (tls_spki_sha256 ${pin.tlsSpkiSha256}); compare it with what the server's operator publishes`,
          );
        lines.push(`in ${path}; start it with servers.<name>.catalog: ${result.entry}`);
        process.stdout.write(`${lines.join('\n')}\n`);
      },
    );

  catalog
    .command('ls')
    .description('List the catalog: each entry and what it pins.')
    .option('--json', 'print the entries as JSON')
    .action(async (options: { json?: boolean }, cmd: Command) => {
      const { path } = await where(cmd);
      const { readCatalog, pinOf } = await registry();
      const loaded = readCatalog(path);
      const entries = Object.entries(loaded?.catalog.servers ?? {});
      if (options.json === true) {
        printJson(entries.map(([entry, e]) => ({ entry, ...pinOf(e) })));
        return;
      }
      if (loaded === null) {
        process.stdout.write(`no catalog at ${path} (every server may start unpinned)\n`);
        return;
      }
      const rows = [['ENTRY', 'KIND', 'PINS', 'BY']];
      for (const [entry, e] of entries) {
        const pin = pinOf(e);
        if (pin.kind === 'npm')
          rows.push([entry, 'npm', `${pin.name}@${pin.version}`, pin.integrity.slice(0, 22) + '…']);
        else if (pin.kind === 'file') rows.push([entry, 'file', pin.path, `sha256 ${pin.sha256.slice(0, 16)}…`]);
        else
          rows.push([
            entry,
            'url',
            pin.url,
            pin.tlsSpkiSha256 === undefined ? 'url' : `url, tls key ${pin.tlsSpkiSha256.slice(0, 16)}…`,
          ]);
      }
      process.stdout.write(`${table(rows)}\n`);
    });

  catalog
    .command('verify')
    .description("Re-check every pin against warden's store and the local files; exits 3 on any mismatch.")
    .option('--json', 'print one result per entry as JSON')
    .action(async (options: { json?: boolean }, cmd: Command) => {
      const { path, stateDir } = await where(cmd);
      const { verifyCatalog } = await registry();
      report(verifyCatalog(await mustRead(path), stateDir), options.json === true, 'verified');
    });

  catalog
    .command('install')
    .description(
      "Install the catalog's npm packages into warden's store (e.g. after a fresh clone), each tarball checked against its pin.",
    )
    .option('--json', 'print one result per entry as JSON')
    .action(async (options: { json?: boolean }, cmd: Command) => {
      const { path, stateDir } = await where(cmd);
      const catalogFile = await mustRead(path);
      ensureStateDir(stateDir);
      const { installCatalog } = await registry();
      report(await installCatalog(catalogFile, stateDir), options.json === true, 'installed');
    });

  catalog
    .command('rm')
    .description('Remove an entry from the catalog (its store copy stays until the state dir is cleaned).')
    .argument('<entry>', 'the entry name')
    .action(async (entry: string, _options: unknown, cmd: Command) => {
      const { path } = await where(cmd);
      const current = await mustRead(path);
      if (!Object.hasOwn(current.servers, entry))
        throw new WardenError('USAGE', `the catalog ${path} has no entry '${entry}'`, {
          hint: 'see the entries with `warden catalog ls`',
        });
      (await registry()).writeCatalogEntry(path, entry, null);
      process.stdout.write(`removed '${entry}' from ${path}\n`);
    });
}

function report(checks: readonly EntryCheck[], json: boolean, word: string): void {
  const failed = checks.filter((c) => !c.ok).length;
  if (json) printJson(checks);
  else {
    for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.entry}  ${c.what}: ${c.detail}\n`);
    process.stdout.write(
      failed === 0
        ? `${checks.length} entr${checks.length === 1 ? 'y' : 'ies'} ${word}\n`
        : `${failed} of ${checks.length} entries did not verify\n`,
    );
  }
  if (failed > 0) process.exitCode = EXIT.integrity;
}
