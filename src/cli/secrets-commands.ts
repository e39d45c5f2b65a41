/**
 * `warden secrets set | get | ls | rm | rotate`: the secret store (secrets.store in warden.yaml:
 * the encrypted file store by default, or Vault/OpenBao). A value is read from standard input or
 * a file, never from the command line (where `ps` and shell history would keep it), and printed
 * only by `get --reveal`.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { WardenError } from '../core/errors.js';
import { checkSecretName, checkSecretValue, MAX_SECRET_BYTES } from '../core/secret-names.js';
import { ensureStateDir } from '../audit/index.js';
import { loadConfig } from '../runtime/index.js';
import type { SecretProviders } from '../secrets/index.js';
import { globalOptionsOf, type GlobalOptions } from './global-options.js';
import { printJson, table } from './output.js';

export interface SecretsCommandDeps {
  readonly stateDirOf: (global: GlobalOptions, configStateDir: string | undefined) => string;
}

export function registerSecretsCommands(program: Command, deps: SecretsCommandDeps): void {
  const secrets = program
    .command('secrets')
    .description(
      "The secret store: values MCP servers get in their own sandboxes (servers.<name>.secret_env, headers' from_secret), never the agent.",
    );

  const withProviders = async <T>(cmd: Command, use: (providers: SecretProviders) => Promise<T>): Promise<T> => {
    const global = globalOptionsOf(cmd);
    const { config } = await loadConfig(process.cwd(), global.config);
    const stateDir = ensureStateDir(deps.stateDirOf(global, config.state_dir));
    // Loaded only for these commands: start-up time of every other command.
    const { SecretProviders } = await import('../secrets/index.js');
    const providers = new SecretProviders(config.secrets, stateDir, process.env);
    try {
      return await use(providers);
    } finally {
      await providers.close();
    }
  };

  secrets
    .command('set')
    .description(
      'Store a secret (a new version when NAME exists). The value is read from standard input (typed without echo on a terminal) or --from-file.',
    )
    .argument('<name>', 'letters, digits, _ . - (at most 64)')
    .option('--from-file <path>', 'read the value from this file (one trailing newline is dropped)')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: { fromFile?: string; json?: boolean }, cmd: Command) => {
      checkSecretName(name);
      const value = checkSecretValue(
        options.fromFile === undefined ? await readValueFromStdin(name) : readValueFromFile(options.fromFile),
        `the value of secret '${name}'`,
      );
      const info = await withProviders(cmd, (p) => p.store.set(name, value));
      if (options.json === true) printJson(info);
      else process.stdout.write(`stored secret '${info.name}' (version ${info.version})\n`);
    });

  secrets
    .command('get')
    .description("Show a secret's version; its value only with --reveal.")
    .argument('<name>')
    .option('--reveal', 'print the value itself on standard output')
    .action(async (name: string, options: { reveal?: boolean }, cmd: Command) => {
      checkSecretName(name);
      await withProviders(cmd, async (p) => {
        const info = (await p.store.list()).find((s) => s.name === name);
        if (info === undefined)
          throw new WardenError('SECRET_NOT_FOUND', `there is no secret '${name}'`, {
            hint: `store it: warden secrets set ${name}`,
          });
        if (options.reveal !== true) {
          process.stdout.write(
            `secret '${name}': version ${info.version}${info.updated_at === null ? '' : `, updated ${info.updated_at}`} (value hidden; add --reveal to print it)\n`,
          );
          return;
        }
        const value = await p.store.get(name);
        if (value === null)
          throw new WardenError('SECRET_NOT_FOUND', `secret '${name}' was removed meanwhile`, {
            hint: `store it again: warden secrets set ${name}`,
          });
        process.stdout.write(value.endsWith('\n') ? value : `${value}\n`);
      });
    });

  secrets
    .command('ls')
    .description('List the stored secrets: names, versions, when updated. Never values.')
    .option('--json', 'print the list as JSON')
    .action(async (options: { json?: boolean }, cmd: Command) => {
      const list = await withProviders(cmd, (p) => p.store.list());
      if (options.json === true) {
        printJson(list);
        return;
      }
      if (list.length === 0) {
        process.stdout.write('no secrets stored (warden secrets set NAME)\n');
        return;
      }
      const rows = [
        ['NAME', 'VERSION', 'UPDATED'],
        ...list.map((s) => [s.name, String(s.version), s.updated_at ?? '-']),
      ];
      process.stdout.write(`${table(rows)}\n`);
    });

  secrets
    .command('rm')
    .description('Remove a secret (every version).')
    .argument('<name>')
    .action(async (name: string, _options: unknown, cmd: Command) => {
      checkSecretName(name);
      const removed = await withProviders(cmd, (p) => p.store.remove(name));
      if (!removed)
        throw new WardenError('SECRET_NOT_FOUND', `there is no secret '${name}'`, {
          hint: 'warden secrets ls lists the stored names',
        });
      process.stdout.write(`removed secret '${name}'\n`);
    });

  secrets
    .command('rotate')
    .description(
      "Re-encrypt the file store under a new key: with a key file, warden makes the new key and replaces the file; with a key variable (secrets.file.key_env), give the new key's variable.",
    )
    .option('--new-key-env <variable>', 'the variable holding the new key (base64 of 32 random bytes)')
    .option('--json', 'print the result as JSON')
    .action(async (options: { newKeyEnv?: string; json?: boolean }, cmd: Command) => {
      const newKey = options.newKeyEnv === undefined ? undefined : process.env[options.newKeyEnv];
      if (options.newKeyEnv !== undefined && (newKey === undefined || newKey === ''))
        throw new WardenError('SECRET_KEY', `the variable ${options.newKeyEnv} is not set`, {
          hint: `export ${options.newKeyEnv}=$(head -c 32 /dev/urandom | base64)`,
        });
      const result = await withProviders(cmd, (p) => p.file.rotateKey(newKey));
      if (options.json === true) printJson({ from_key: result.from, to_key: result.to });
      else
        process.stdout.write(
          `re-encrypted the secret store under key ${result.to} (was ${result.from})${options.newKeyEnv === undefined ? '' : `; now make ${options.newKeyEnv}'s value the store key`}\n`,
        );
    });
}

function readValueFromFile(path: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (error) {
    throw new WardenError('SECRET_INVALID', `cannot read ${path}: ${(error as Error).message}`, {
      hint: 'give a readable file to --from-file',
    });
  }
  if (size > MAX_SECRET_BYTES + 2)
    throw new WardenError('SECRET_INVALID', `${path} is larger than ${MAX_SECRET_BYTES / 1024} KiB`, {
      hint: 'a secret is a key or token, not a file',
    });
  return dropOneNewline(readFileSync(path, 'utf8'));
}

/** Standard input: all of it from a pipe, or one line typed without echo on a terminal. */
async function readValueFromStdin(name: string): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) return readHiddenLine(`value of secret '${name}' (not shown): `);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_SECRET_BYTES + 2)
      throw new WardenError(
        'SECRET_INVALID',
        `the value on standard input is larger than ${MAX_SECRET_BYTES / 1024} KiB`,
        {
          hint: 'a secret is a key or token, not a file',
        },
      );
    chunks.push(chunk);
  }
  return dropOneNewline(Buffer.concat(chunks).toString('utf8'));
}

function readHiddenLine(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  let value = '';
  return new Promise((resolve, reject) => {
    const done = (error: Error | null): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error === null) resolve(value);
      else reject(error);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003' || ch === '\u0004')
          return done(new WardenError('SECRET_INVALID', 'cancelled: nothing stored', { hint: 'run it again' }));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (value.length <= MAX_SECRET_BYTES) value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

function dropOneNewline(text: string): string {
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
}
