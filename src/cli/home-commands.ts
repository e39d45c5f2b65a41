/**
 * `warden home ls | rm`: the persistent homes of `home: persistent` profiles
 * (`<state>/homes/<profile>`), to see what they hold and to wipe one (e.g. to log an agent out,
 * or when warden refuses a home it cannot trust). See docs/config.md.
 */
import type { Command } from 'commander';
import { formatBytes } from '../core/units.js';
import { loadConfig, listProfileHomes, profileHomePath, removeProfileHome } from '../runtime/index.js';
import { globalOptionsOf, type GlobalOptions } from './global-options.js';
import { printJson, table } from './output.js';

export interface HomeCommandDeps {
  readonly stateDirOf: (global: GlobalOptions, configStateDir: string | undefined) => string;
}

export function registerHomeCommands(program: Command, deps: HomeCommandDeps): void {
  const home = program
    .command('home')
    .description('The persistent homes of profiles with `home: persistent` (kept under the state dir).');

  const stateDirOf = async (cmd: Command): Promise<string> => {
    const global = globalOptionsOf(cmd);
    const { config } = await loadConfig(process.cwd(), global.config);
    return deps.stateDirOf(global, config.state_dir);
  };

  home
    .command('ls')
    .description("List each profile's persistent home: its path, size and last change.")
    .option('--json', 'print the list as JSON')
    .action(async (options: { json?: boolean }, cmd: Command) => {
      const homes = listProfileHomes(await stateDirOf(cmd));
      if (options.json === true) {
        printJson(
          homes.map((h) => ({
            profile: h.profile,
            path: h.path,
            bytes: h.bytes,
            entries: h.entries,
            truncated: h.truncated,
            modified: new Date(h.modifiedMs).toISOString(),
          })),
        );
        return;
      }
      if (homes.length === 0) {
        process.stdout.write('no persistent homes (a profile gets one with `home: persistent`)\n');
        return;
      }
      const rows = [['PROFILE', 'SIZE', 'ENTRIES', 'CHANGED', 'PATH']];
      for (const h of homes)
        rows.push([
          h.profile,
          `${h.truncated ? '≥' : ''}${formatBytes(h.bytes)}`,
          `${h.truncated ? '≥' : ''}${h.entries}`,
          new Date(h.modifiedMs).toISOString().slice(0, 19).replace('T', ' '),
          h.path,
        ]);
      process.stdout.write(`${table(rows)}\n`);
    });

  home
    .command('rm')
    .description(
      "Delete a profile's persistent home and everything in it (logins, caches); the next run starts with an empty one.",
    )
    .argument('<profile>', 'the profile whose home to delete')
    .action(async (profile: string, _options: unknown, cmd: Command) => {
      const stateDir = await stateDirOf(cmd);
      const path = profileHomePath(stateDir, profile);
      const removed = removeProfileHome(stateDir, profile);
      process.stdout.write(removed ? `removed ${path}\n` : `profile '${profile}' has no home (${path})\n`);
    });
}
