/**
 * Resolving a path argument the way the server's open() will (GW-12), on the host, where the
 * gateway runs: the server's sandbox binds the workspace (and its extra paths) at the same place,
 * so what a path names in there is what it names here.
 *
 * The agent controls what is in the workspace (symlinks included), so the walk is the kernel's,
 * one component at a time, with every symlink followed by hand: `a/link/../b` goes through the
 * link's target, not back to `a`. A dangling or looping link, a component that is not a
 * directory, or a '..' after a component that does not exist refuses the path. The result is the
 * real path (symlinks replaced by their targets), which is what the server is sent; the decision is
 * made on it, and on the target of every symlink met on the way, so a path that leaves the granted
 * directories at any step is refused even when it comes back.
 *
 * The work is bounded per path (length, components, symlink hops) and per call (lstat calls).
 * Nothing is cached between calls: the agent can change the tree at any time.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { comparablePath } from '../policy/index.js';

/** What a resolved path argument is: what to forward, and what to decide on. */
export interface ResolvedPath {
  /** The real path: absolute, no symlinks in its existing part; what the server receives. */
  readonly path: string;
  /**
   * What the conditions are checked on: the real path and the target of every symlink followed
   * on the way, each in comparable form (NFC).
   */
  readonly seen: readonly string[];
}

export type Resolution =
  | { readonly ok: true; readonly value: ResolvedPath }
  | {
      readonly ok: false;
      readonly reason: string;
      /**
       * The walk failed at a place outside the workspace. The gateway then tells the agent no
       * more than it tells for a path the policy refuses: warden looks at the host's files with
       * its own rights, and its answers must not tell the agent what exists there.
       */
      readonly outside: boolean;
    };

/** With the u flag, only a surrogate that is not half of a pair matches. */
const LONE_SURROGATE = /\p{Cs}/u;

export const PATH_LIMITS = {
  /** Longest path argument (Linux PATH_MAX). */
  length: 4096,
  /** Components walked for one path, the components of symlink targets included. */
  components: 1024,
  /** Symlinks followed for one path (Linux's own limit is 40). */
  hops: 40,
  /** lstat/readlink calls for one tool call, all its paths together. */
  syscalls: 4096,
} as const;

/**
 * Resolves the path arguments of one tool call. One instance per call: it remembers what it has
 * looked at during the call (the same prefix is not looked at twice), and no longer.
 */
export class CallPathResolver {
  readonly #workspace: string;
  readonly #trustedRoot: string | null;
  readonly #seen = new Map<string, Stats | 'missing' | 'notdir'>();
  #syscalls = 0;

  /**
   * @param workspace relative paths are taken from here (absolute, normalised).
   * @param trustedRoot a real directory the agent cannot change the ancestors of (the workspace,
   *   realpath'd at start): a path inside it is walked from there, not from '/'. Null: from '/'.
   */
  constructor(workspace: string, trustedRoot: string | null) {
    this.#workspace = workspace;
    this.#trustedRoot = trustedRoot === '/' ? null : trustedRoot;
  }

  /** lstat and readlink calls made so far (for measuring what a call costs). */
  get lookups(): number {
    return this.#syscalls;
  }

  resolve(value: string): Resolution {
    const refuse = (reason: string, at: string | null = null): Resolution => ({
      ok: false,
      reason,
      outside: at !== null && !(at === this.#workspace || at.startsWith(`${this.#workspace}/`)),
    });
    if (value.length === 0) return refuse('an empty path');
    if (value.length > PATH_LIMITS.length) return refuse(`a path longer than ${PATH_LIMITS.length} characters`);
    if (value.includes('\0')) return refuse('a path with a NUL byte');
    if (LONE_SURROGATE.test(value)) return refuse('a path that is not valid Unicode (a lone surrogate)');
    const absolute = value.startsWith('/') ? value : `${this.#workspace}/${value}`;

    // The real path so far, as components; the components still to walk (front first).
    let real: string[] = [];
    let pending = absolute.split('/').reverse();
    const root = this.#trustedRoot;
    if (root !== null && (absolute === root || absolute.startsWith(`${root}/`))) {
      real = root.split('/').filter((c) => c !== '');
      pending = absolute.slice(root.length).split('/').reverse();
    }
    const seen: string[] = [];
    /** `pending.length` values at which a symlink's target has been walked whole (innermost last). */
    const linkEnds: number[] = [];
    let missing: string | null = null;
    let notDirectory: string | null = null;
    let hops = 0;
    let steps = 0;

    while (pending.length > 0) {
      const part = pending.pop() ?? '';
      const here = `/${real.join('/')}`;
      if (++steps > PATH_LIMITS.components) return refuse(`more than ${PATH_LIMITS.components} path components`, here);
      if (part !== '' && part !== '.') {
        if (notDirectory !== null) return refuse(`${notDirectory} is not a directory`, notDirectory);
        if (part === '..') {
          if (missing !== null) return refuse(`'..' after ${missing}, which does not exist`, missing);
          real.pop();
        } else if (missing !== null) {
          real.push(part);
        } else {
          const candidate = here === '/' ? `/${part}` : `${here}/${part}`;
          const stats = this.#lstat(candidate);
          if (typeof stats === 'object' && 'error' in stats) return refuse(stats.error, candidate);
          if (stats === 'notdir') return refuse(`${here} is not a directory`, here);
          if (stats === 'missing') {
            if (linkEnds.length > 0)
              return refuse(`a symlink on the way points to ${candidate}, which does not exist`, candidate);
            missing = candidate;
            real.push(part);
          } else if (stats.isSymbolicLink()) {
            if (++hops > PATH_LIMITS.hops) return refuse(`more than ${PATH_LIMITS.hops} symlinks (a loop?)`, candidate);
            const target = this.#readlink(candidate);
            if (target === null) return refuse(`cannot read the symlink ${candidate}`, candidate);
            if (target === '') return refuse(`the symlink ${candidate} is empty`, candidate);
            if (target.startsWith('/')) real = [];
            linkEnds.push(pending.length);
            for (const t of target.split('/').reverse()) pending.push(t);
          } else {
            real.push(part);
            if (!stats.isDirectory()) notDirectory = candidate;
          }
        }
      }
      // Every symlink whose target has now been walked whole: its target is a place the path went.
      while (linkEnds.length > 0 && pending.length <= (linkEnds[linkEnds.length - 1] ?? -1)) {
        linkEnds.pop();
        seen.push(comparablePath(`/${real.join('/')}`));
      }
    }
    const path = `/${real.join('/')}`;
    if (path.length > PATH_LIMITS.length) return refuse(`a path longer than ${PATH_LIMITS.length} characters`, path);
    const final = comparablePath(path);
    return { ok: true, value: { path, seen: [...new Set([final, ...seen])] } };
  }

  /** The path's lstat, 'missing', 'notdir', or (as an object) why it cannot be looked at. */
  #lstat(path: string): Stats | 'missing' | 'notdir' | { readonly error: string } {
    const known = this.#seen.get(path);
    if (known !== undefined) return known;
    if (++this.#syscalls > PATH_LIMITS.syscalls)
      return { error: `more than ${PATH_LIMITS.syscalls} path lookups in one call` };
    let result: Stats | 'missing' | 'notdir';
    try {
      result = lstatSync(path, { throwIfNoEntry: false }) ?? 'missing';
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') result = 'notdir';
      else return { error: `cannot look at ${path} (${code ?? 'error'})` };
    }
    this.#seen.set(path, result);
    return result;
  }

  #readlink(path: string): string | null {
    if (++this.#syscalls > PATH_LIMITS.syscalls) return null;
    try {
      return readlinkSync(path);
    } catch {
      return null;
    }
  }
}
