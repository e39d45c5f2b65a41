/**
 * Parsers for human-friendly sizes and durations used in config and CLI flags.
 * They return `undefined` for malformed input so callers can name the field in their error.
 */

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** Parses `512MiB`, `2G`, `1.5GB`, `1048576` into bytes. Bare `k/m/g` are binary, like `docker --memory`. */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const unit = SIZE_UNITS[(match[2] ?? '').toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The longest delay a Node timer honours: setTimeout clamps anything above 2^31-1 ms (≈ 24.8 days)
 * to 1 ms, so a longer timeout would fire at once (SBX-15). Callers that arm a timer with a parsed
 * duration must refuse values above this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Parses `90s`, `15m`, `1h30m`, `250ms`, or a bare number of seconds into milliseconds.
 * Values beyond Number.MAX_SAFE_INTEGER ms are malformed (like parseByteSize): they would be imprecise or Infinity.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return safeMs(Number(trimmed) * 1000);
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = part.exec(trimmed); m; m = part.exec(trimmed)) {
    total += Number(m[1]) * (DURATION_UNITS[m[2] ?? ''] ?? Number.NaN);
    consumed = part.lastIndex;
  }
  if (consumed === 0 || consumed !== trimmed.length) return undefined;
  return safeMs(total);
}

/** Rounds to whole milliseconds; undefined when not finite or beyond Number.MAX_SAFE_INTEGER (overflow guard). */
function safeMs(ms: number): number | undefined {
  const rounded = Math.round(ms);
  return Number.isSafeInteger(rounded) ? rounded : undefined;
}

/** Formats bytes for people: `2 GiB`, `1.5 GiB`, `512 MiB` (one decimal, a whole number without it). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${value} B` : `${value.toFixed(1).replace(/\.0$/, '')} ${units[i] ?? ''}`;
}

/** Formats milliseconds for people: `850 ms`, `12.3 s`, `4m 05s`. */
export function formatDuration(ms: number): string {
  // Pick the unit from the value as it will be shown (rounded), not the raw one: 999.6 ms rounds
  // to 1000 ms and 59 999 ms to 60.0 s, which belong to the next unit.
  const wholeMs = Math.round(ms);
  if (wholeMs < 1000) return `${wholeMs} ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)} s`;
  const totalSeconds = Math.round(ms / 1000);
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  return `${minutes}m ${String(seconds).padStart(2, '0')}s`;
}

/** Milliseconds rounded to 0.01 ms, as timings are recorded in events and summaries. */
export function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}
