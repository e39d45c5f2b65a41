// The bundle's entry point (dist/warden.cjs, loaded by bin/warden.cjs): run the CLI and exit with its code.
// Not process.exit(): that would cut off output still queued for a pipe (e.g. a large --json).
import { mark } from '../core/timing.js';
import { main } from './main.js';

mark('cli-loaded');
void main(process.argv).then((code) => {
  process.exitCode = code;
});
