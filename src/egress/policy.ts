/**
 * The egress allow-list as a decision function. Built once per run from the profile's
 * `network.allow` entries; every lookup afterwards is a few Map reads, so the proxy's hot path
 * never re-parses the policy.
 *
 * A decision has two steps. {@link EgressPolicy.decideHost} judges the name (or IP literal) and
 * port the client asked for. {@link EgressPolicy.resolveTarget} then resolves names itself and
 * keeps only addresses that are globally routable or named exactly by an `address` entry
 * (NET-07); the proxy connects to one of those addresses and never resolves again, so a DNS
 * answer that changes between check and connect (rebinding) cannot redirect the connection.
 */
import { lookup } from 'node:dns/promises';
import { canonicalAddress, normaliseHost, parseHostPattern, patternAllows } from '../core/host-pattern.js';
import type { HostPattern, NormalisedHost } from '../core/host-pattern.js';
import type { EgressDenyReason } from '../core/events.js';
import { classifyAddress } from './address.js';

/** One address a resolver returned. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}

/** Resolves a host name to addresses. Injectable so tests can map names without real DNS. */
export type Resolver = (host: string) => Promise<readonly ResolvedAddress[]>;

/** The system resolver (getaddrinfo, so /etc/hosts applies), in the order it answers. */
export const systemResolver: Resolver = (host) => lookup(host, { all: true, verbatim: true });

/** A refusal, with the stable reason stored in events and a sentence for people. */
export interface EgressDenial {
  readonly allow: false;
  readonly reason: EgressDenyReason;
  readonly detail: string;
  /** The host to report: normalised when it could be, otherwise the raw text made safe to log. */
  readonly host: string;
  /** For `blocked_address`: the first refused address, and what would admit it (for the run summary). */
  readonly blocked?: BlockedAddress;
}

/** A name that resolved only to addresses NET-07 refuses: the first of them and the entry that would admit it. */
export interface BlockedAddress {
  readonly address: string;
  /** Why it is not publicly routable, e.g. 'private', 'loopback', 'reserved'. */
  readonly range: string;
  /** The `network.allow` entry that would admit exactly this address on this port. */
  readonly allowEntry: string;
}

/** Outcome of {@link EgressPolicy.decideHost}. */
export type HostDecision =
  { readonly allow: true; readonly rule: HostPattern; readonly target: NormalisedHost } | EgressDenial;

/** Outcome of {@link EgressPolicy.resolveTarget}: the checked addresses to connect to, best first. */
export type AddressDecision = { readonly allow: true; readonly addresses: readonly string[] } | EgressDenial;

/** Most addresses the proxy will try for one name (each already checked). */
export const MAX_CANDIDATES = 4;
const MAX_REPORTED_HOST = 253;
const DEFAULT_RESOLVE_TIMEOUT_MS = 5_000;

/**
 * Makes a client-supplied string safe to put in an event or a reply: bounded, no control
 * characters, and nothing before an `@` (userinfo may carry a credential).
 */
export function reportableHost(raw: string): string {
  const at = raw.lastIndexOf('@');
  const text = at >= 0 ? `<userinfo>@${raw.slice(at + 1)}` : raw;
  return text.slice(0, MAX_REPORTED_HOST).replace(/[\x00-\x1f\x7f]/g, '?');
}

/** `host:port` as people write it, with IPv6 in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The allow-list entry someone would add to permit exactly this target (bare for ports 80/443). */
export function allowEntryFor(host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === 80 || port === 443 ? h : `${h}:${port}`;
}

function deny(reason: EgressDenyReason, host: string, detail: string, blocked?: BlockedAddress): EgressDenial {
  return blocked === undefined
    ? { allow: false, reason, host, detail }
    : { allow: false, reason, host, detail, blocked };
}

function push(map: Map<string, HostPattern[]>, key: string, pattern: HostPattern): void {
  const list = map.get(key);
  if (list) list.push(pattern);
  else map.set(key, [pattern]);
}

/** Whose allow-list a policy is, for the refusal messages that say how to allow a target. */
export interface EgressPolicyOwner {
  /** Who the list belongs to, e.g. "the profile" or "server 'files'". */
  readonly owner: string;
  /** The config field that holds it, e.g. "network.allow" or "servers.files.network.allow". */
  readonly field: string;
}

const PROFILE_OWNER: EgressPolicyOwner = { owner: 'the profile', field: 'network.allow' };

/** The egress allow-list, parsed once. Immutable after construction. */
export class EgressPolicy {
  /** The entries, parsed and normalised, in the order given. */
  readonly entries: readonly HostPattern[];
  readonly #exact = new Map<string, HostPattern[]>();
  readonly #wildcard = new Map<string, HostPattern[]>();
  readonly #address = new Map<string, HostPattern[]>();
  readonly #owner: EgressPolicyOwner;

  /**
   * @param entries allow-list entries as written in the profile (see `src/core/host-pattern.ts`),
   *   or patterns already parsed by the config layer
   * @param owner whose list it is, named in refusals (default: the profile's `network.allow`)
   * @throws TypeError when an entry is invalid (the config schema should have caught it first)
   */
  constructor(entries: readonly (string | HostPattern)[], owner: EgressPolicyOwner = PROFILE_OWNER) {
    this.#owner = owner;
    const parsed: HostPattern[] = [];
    for (const entry of entries) {
      let pattern: HostPattern;
      if (typeof entry === 'string') {
        const result = parseHostPattern(entry);
        if (!result.ok) throw new TypeError(`invalid egress allow entry '${entry.slice(0, 300)}': ${result.reason}`);
        pattern = result.value;
      } else {
        pattern = entry;
      }
      parsed.push(pattern);
      switch (pattern.kind) {
        case 'exact':
          push(this.#exact, pattern.host, pattern);
          break;
        case 'wildcard':
          push(this.#wildcard, pattern.host, pattern);
          break;
        case 'address':
          push(this.#address, pattern.host, pattern);
          break;
      }
    }
    this.entries = Object.freeze(parsed);
  }

  /**
   * Judges the host and port a client asked for, before any DNS. Never throws.
   * @param rawHost the host as the client wrote it (URL host, CONNECT authority host, SOCKS name or address)
   * @param port the destination port
   */
  decideHost(rawHost: string, port: number): HostDecision {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      return deny('bad_request', reportableHost(rawHost), 'the port must be a number from 1 to 65535');
    const norm = normaliseHost(rawHost);
    if (!norm.ok) return deny('bad_request', reportableHost(rawHost), `the target host is not valid: ${norm.reason}`);
    const target = norm.value;
    const host = target.host;

    let sawHost = false;
    if (target.kind === 'ip') {
      const rules = this.#address.get(host);
      if (rules) {
        sawHost = true;
        for (const rule of rules) if (patternAllows(rule, host, port)) return { allow: true, rule, target };
      }
    } else {
      const exact = this.#exact.get(host);
      if (exact) {
        sawHost = true;
        for (const rule of exact) if (patternAllows(rule, host, port)) return { allow: true, rule, target };
      }
      // Walk the parent domains: `*.example.com` is stored under `example.com` and matches
      // any name strictly below it (hostMatches enforces "strictly").
      if (this.#wildcard.size > 0) {
        for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.', dot + 1)) {
          const rules = this.#wildcard.get(host.slice(dot + 1));
          if (!rules) continue;
          sawHost = true;
          for (const rule of rules) if (patternAllows(rule, host, port)) return { allow: true, rule, target };
        }
      }
    }
    if (sawHost) {
      return deny(
        'port_not_allowed',
        host,
        `egress to ${hostPort(host, port)} is not allowed by ${this.#owner.owner} (${host} is, on other ports); add '${allowEntryFor(host, port)}' to ${this.#owner.field}`,
      );
    }
    return deny(
      'not_allowed',
      host,
      `egress to ${hostPort(host, port)} is not allowed by ${this.#owner.owner}; add '${allowEntryFor(host, port)}' to ${this.#owner.field}`,
    );
  }

  /**
   * Whether the proxy may connect to this address for this port: it is globally routable
   * unicast, or an `address` entry names it exactly with a port rule that allows the port.
   * @param address a canonical IP address
   */
  addressAllowed(
    address: string,
    port: number,
  ): { readonly ok: true } | { readonly ok: false; readonly range: string } {
    const rules = this.#address.get(address);
    if (rules) for (const rule of rules) if (patternAllows(rule, address, port)) return { ok: true };
    const verdict = classifyAddress(address);
    return verdict.global ? { ok: true } : { ok: false, range: verdict.range };
  }

  /**
   * Resolves an allowed target to the addresses the proxy may connect to (NET-07). An IP literal
   * that {@link decideHost} allowed was named by an `address` entry, so it stands as is.
   * @param target the normalised target from an allowing {@link decideHost}
   * @param resolver name resolver; the system resolver by default
   */
  async resolveTarget(
    target: NormalisedHost,
    port: number,
    resolver: Resolver = systemResolver,
    timeoutMs: number = DEFAULT_RESOLVE_TIMEOUT_MS,
  ): Promise<AddressDecision> {
    if (target.kind === 'ip') return { allow: true, addresses: [target.host] };
    const host = target.host;
    let answers: readonly ResolvedAddress[];
    let timer: NodeJS.Timeout | undefined;
    try {
      answers = await Promise.race([
        resolver(host),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
        }),
      ]);
    } catch (err) {
      const code =
        err instanceof Error && 'code' in err && typeof err.code === 'string'
          ? err.code
          : err instanceof Error
            ? err.message
            : 'error';
      return deny('resolve_failed', host, `${host} could not be resolved (${code.slice(0, 60)})`);
    } finally {
      if (timer) clearTimeout(timer);
    }

    const accepted: string[] = [];
    const refused: { address: string; range: string }[] = [];
    for (const answer of answers) {
      const address = canonicalAddress(answer.address);
      if (address === undefined) continue;
      const check = this.addressAllowed(address, port);
      if (check.ok) {
        if (!accepted.includes(address) && accepted.length < MAX_CANDIDATES) accepted.push(address);
      } else if (refused.length < 3) {
        refused.push({ address, range: check.range });
      }
    }
    if (accepted.length > 0) return { allow: true, addresses: accepted };
    const first = refused[0];
    if (first === undefined) return deny('resolve_failed', host, `${host} resolved to no usable address`);
    const allowEntry = allowEntryFor(first.address, port);
    return deny(
      'blocked_address',
      host,
      `${host} resolved to ${refused.map((r) => `${r.address} (${r.range})`).join(', ')}, which is not publicly routable; add '${allowEntry}' to ${this.#owner.field} only if the task needs it`,
      { address: first.address, range: first.range, allowEntry },
    );
  }
}
