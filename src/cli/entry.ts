// The bundle's entry point (dist/warden.cjs, loaded by bin/warden.cjs): run the CLI and exit with its code.
// Not process.exit(): that would cut off output still queued for a pipe (e.g. a large --json).
import { enableTiming, formatMarks, mark } from '../core/timing.js';
import { main } from './main.js';
import { reportUncaught } from './output.js';

// WARDEN_TIMING: the start-up marks (core/timing.ts) as one line on stderr at exit.
const timing = process.env['WARDEN_TIMING'];
if (timing !== undefined && timing !== '') {
  enableTiming();
  process.once('beforeExit', () => mark('loop-empty'));
  process.once('exit', () => {
    mark('exit');
    process.stderr.write(`warden timing: ${formatMarks()}\n`);
  });
}
mark('cli-loaded');
// The last resort, for a bug: an error nothing handled is reported in one short line as
// INTERNAL (exit 125), never as Node's stack trace with a line of the minified bundle.
// Expected failures never get here: they are WardenErrors, reported by main().
process.on('uncaughtException', (error) => reportUncaught(error));
process.on('unhandledRejection', (reason) => reportUncaught(reason));
void main(process.argv).then((code) => {
  process.exitCode = code;
});
