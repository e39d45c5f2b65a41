/**
 * The `when` clauses of compiled profile policies, as TypeScript predicates.
 *
 * compile.ts writes each profile grant as Cedar text and, from the same config values, as one of
 * these. The engine decides a request without calling Cedar when every policy that can apply to
 * it has one (user-written Cedar files never do): an argument-dependent decision then costs
 * microseconds instead of a ~50 µs round trip through Cedar's WebAssembly. Cedar still parses and
 * validates every policy at start, and engine.native.test.ts checks on random requests that both
 * ways always decide alike, with the same policy ids.
 *
 * Each predicate mirrors the Cedar expression next to which it is built: `like` patterns with `*`
 * as the only wildcard, `has` before every context access, ports compared as numbers.
 */
import { portAllowed, type HostPattern } from '../core/host-pattern.js';

/** What a native condition looks at: the resource's name (tool, prompt) or URI, and the call's context. */
export interface NativeRequest {
  readonly name: string;
  readonly args: Readonly<Record<string, string>>;
  readonly hosts: Readonly<Record<string, string>>;
  readonly ports: Readonly<Record<string, number>>;
}

export type NativeTest = (request: NativeRequest) => boolean;

export interface NativePolicy {
  readonly effect: 'permit' | 'forbid';
  /** Every part of the policy's `when` clause (all must hold); empty: it always applies in scope. */
  readonly tests: readonly NativeTest[];
}

/** Cedar `like` with `*` as the wildcard and every other character literal. */
export function likeMatches(text: string, glob: string): boolean {
  const parts = glob.split('*');
  const first = parts[0] ?? '';
  if (parts.length === 1) return text === first;
  const last = parts[parts.length - 1] ?? '';
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    const found = text.indexOf(middle, at);
    if (found < 0 || found + middle.length > end) return false;
    at = found + middle.length;
  }
  return true;
}

/** `resource.name like glob` (or `resource.uri`). */
export function nameLike(glob: string): NativeTest {
  return (r) => likeMatches(r.name, glob);
}

/** `resource.uri == uri`. */
export function nameIs(value: string): NativeTest {
  return (r) => r.name === value;
}

/**
 * `under`: the resolved path argument is one of the directories or inside one. `absentPasses`:
 * the argument missing from the context makes the test hold (an allow on `'*'`, see compile.ts).
 */
export function pathUnder(arg: string, dirs: readonly string[], absentPasses = false): NativeTest {
  return (r) => {
    if (!Object.hasOwn(r.args, arg)) return absentPasses;
    const value = r.args[arg] ?? '';
    return dirs.some((dir) => (dir === '/' ? value.startsWith('/') : value === dir || value.startsWith(`${dir}/`)));
  };
}

/** `host_in`: the URL argument's normalised host and port match one of the patterns. */
export function hostIn(arg: string, patterns: readonly HostPattern[]): NativeTest {
  return (r) => {
    if (!Object.hasOwn(r.hosts, arg) || !Object.hasOwn(r.ports, arg)) return false;
    const host = r.hosts[arg] ?? '';
    const port = r.ports[arg];
    return patterns.some((p) => {
      const hostOk = p.kind === 'wildcard' ? likeMatches(host, `*.${p.host}`) : host === p.host;
      return hostOk && port !== undefined && portAllowed(p.ports, port);
    });
  };
}

/** `one_of`: the argument, as text, is one of the values. */
export function oneOf(arg: string, values: readonly string[]): NativeTest {
  return (r) => Object.hasOwn(r.args, arg) && values.includes(r.args[arg] ?? '');
}
