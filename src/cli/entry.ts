// The bundle's entry point (dist/warden.cjs, loaded by bin/warden.js): run the CLI and exit with its code.
import { main } from './main.js';

void main(process.argv).then((code) => {
  process.exitCode = code;
});
