/**
 * Start-up timing marks for `warden run`: where start-up time goes, without a profiler. Recording
 * is off until the CLI turns it on (WARDEN_TIMING); core keeps the marks and the CLI prints them
 * (core does no I/O), so a mark costs one branch when timing is off.
 */
const marks: [string, number][] = [];
let enabled = false;

/** Turns recording on. */
export function enableTiming(): void {
  enabled = true;
}

/** Records that `name` happened now (ms since the process started), when timing is on. */
export function mark(name: string): void {
  if (enabled) marks.push([name, performance.now()]);
}

/** The marks so far as `name=ms` pairs, in the order they happened. */
export function formatMarks(): string {
  return marks.map(([n, t]) => `${n}=${t.toFixed(1)}`).join(' ');
}
