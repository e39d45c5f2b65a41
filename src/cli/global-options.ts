/**
 * `--config` and `--state-dir` in any position. They are the program's options, and commander
 * (with the positional options `warden run` needs to pass its command's flags through) only
 * reads them before the subcommand; `warden gateway --stdio -c x.yaml` would then fail with
 * "unknown option". Each command that runs an action gets hidden copies, and `globalOptionsOf`
 * reads them from wherever they were given (refusing two different values).
 */
import { Option, type Command } from 'commander';
import { WardenError } from '../core/errors.js';

/** The program-wide options as a command sees them. */
export interface GlobalOptions {
  config?: string;
  stateDir?: string;
}

/** Adds hidden `-c, --config` and `--state-dir` to every command below `program` that has an action. */
export function acceptGlobalOptionsAnywhere(program: Command): void {
  const visit = (command: Command): void => {
    for (const sub of command.commands) {
      if (sub.commands.length === 0) {
        sub.addOption(new Option('-c, --config <file>').hideHelp());
        sub.addOption(new Option('--state-dir <dir>').hideHelp());
      }
      visit(sub);
    }
  };
  visit(program);
}

/** The global options of `cmd`, given before or after the subcommand (not both, with different values). */
export function globalOptionsOf(cmd: Command): GlobalOptions {
  const merged: GlobalOptions = {};
  for (const key of ['config', 'stateDir'] as const) {
    const values = new Set<string>();
    for (let c: Command | null = cmd; c !== null; c = c.parent) {
      const value = c.getOptionValue(key) as unknown;
      if (typeof value === 'string') values.add(value);
    }
    if (values.size > 1)
      throw new WardenError(
        'USAGE',
        `${key === 'config' ? '--config' : '--state-dir'} was given twice, with different values`,
        {
          hint: 'give it once (before or after the subcommand)',
        },
      );
    const [value] = values;
    if (value !== undefined) merged[key] = value;
  }
  return merged;
}
