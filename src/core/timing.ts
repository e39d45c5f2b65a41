/**
 * Start-up timing marks for `warden run`, off unless WARDEN_TIMING is set: then each mark (ms
 * since the process started) goes to stderr as one line when the process exits, so the
 * benchmark and an engineer can see where start-up time goes without a profiler.
 */
const enabled = process.env['WARDEN_TIMING'] !== undefined && process.env['WARDEN_TIMING'] !== '';
const marks: [string, number][] = [];

/** Records that `name` happened now. */
export function mark(name: string): void {
  if (!enabled) return;
  if (marks.length === 0) {
    process.once('beforeExit', () => mark('loop-empty'));
    process.once('exit', () => {
      mark('exit');
      process.stderr.write(`warden timing: ${marks.map(([n, t]) => `${n}=${t.toFixed(1)}`).join(' ')}\n`);
    });
  }
  marks.push([name, performance.now()]);
}
