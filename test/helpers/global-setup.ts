/**
 * Runs once before the system suites: checks the build and the machine set-up they need, and
 * makes the built CLI readable by the ordinary test user (copying it when the checkout is not).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, TEST_USER, userIds } from './warden.js';

export function setup(): () => void {
  if (process.getuid?.() !== 0)
    throw new Error('the system suites run as root (they also run warden as an ordinary user); use `npm test` as root');
  if (!existsSync(join(REPO, 'dist', 'warden.cjs')))
    throw new Error('warden is not built: run `npm run build` (npm test does)');
  if (userIds('warden-sandbox') === null) throw new Error('the sandbox user is missing: run scripts/setup.sh');

  let cleanup = (): void => undefined;
  const tester = userIds(TEST_USER);
  if (tester !== null) {
    const readable =
      spawnSync('runuser', ['-u', TEST_USER, '--', 'test', '-r', join(REPO, 'dist', 'warden.cjs')]).status === 0;
    if (!readable) {
      // The checkout is private to root (e.g. under /root): give the test user its own copy.
      const copy = mkdtempSync('/tmp/warden-install-');
      chmodSync(copy, 0o755);
      for (const part of ['bin', 'dist', 'package.json'])
        cpSync(join(REPO, part), join(copy, part), { recursive: true });
      mkdirSync(join(copy, 'node_modules'));
      for (const dep of [
        'better-sqlite3',
        'bindings',
        'file-uri-to-path',
        '@cedar-policy/cedar-wasm',
        '@modelcontextprotocol',
      ]) {
        if (existsSync(join(REPO, 'node_modules', dep)))
          cpSync(join(REPO, 'node_modules', dep), join(copy, 'node_modules', dep), { recursive: true });
      }
      spawnSync('chmod', ['-R', 'a+rX', copy]);
      process.env.WARDEN_TEST_INSTALL = copy;
      cleanup = () => rmSync(copy, { recursive: true, force: true });
    }
  }
  return cleanup;
}
