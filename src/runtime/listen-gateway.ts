/**
 * `warden gateway --listen HOST:PORT`: the gateway's Streamable HTTP endpoint on a loopback TCP
 * port, for agents outside `warden run` (other processes, containers, CI jobs on this host).
 * Every request carries a token from `warden token issue` for this profile's gateway (GW-07);
 * sessions are bound to the token's agent (GW-08) and labelled with it in the audit log.
 */
import { isIP } from 'node:net';
import type { AgentIdentity, EventSink } from '../core/events.js';
import { WardenError } from '../core/errors.js';
import { createSessionServer, HttpEndpoint, type AuthResult, type Gateway } from '../gateway/index.js';
import { GATEWAY_SCOPE, RevocationList, TokenVerifier, gatewayAudience, type SigningKeys } from '../identity/index.js';
import { recordRejection } from './run-gateway.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Parses `HOST:PORT` ([::1]:PORT for IPv6). Only loopback is accepted: the endpoint speaks plain
 * HTTP, so a token sent over any other interface could be read on the way.
 */
export function parseListenAddress(text: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (match === null || host === undefined || !(port >= 0 && port <= 65_535)) {
    throw new WardenError('USAGE', `--listen '${text}' is not HOST:PORT`, {
      hint: 'e.g. --listen 127.0.0.1:3130 (port 0 picks a free one)',
    });
  }
  if (!LOOPBACK.has(host) || (match[1] !== undefined && isIP(host) !== 6)) {
    throw new WardenError(
      'USAGE',
      `--listen ${text}: warden listens on loopback only (127.0.0.1, localhost or [::1]); the endpoint has no TLS`,
      {
        hint: 'bind 127.0.0.1 and put a TLS-terminating proxy in front for remote agents',
      },
    );
  }
  return { host: host === 'localhost' ? '127.0.0.1' : host, port };
}

export interface ListeningGateway {
  readonly url: string;
  readonly audience: string;
  close(): Promise<void>;
}

/** Serves `gateway` on a loopback port with token authentication. */
export async function listenGateway(
  gateway: Gateway,
  options: {
    readonly address: ListenAddress;
    readonly profile: string;
    readonly keys: SigningKeys;
    readonly stateDir: string;
    readonly sink: EventSink;
    readonly agent: AgentIdentity;
  },
): Promise<ListeningGateway> {
  const audience = gatewayAudience(options.profile);
  // `warden token revoke` writes the state dir's list; every check reads it when it changed.
  const verifier = new TokenVerifier(options.keys, {
    audience,
    requiredScope: GATEWAY_SCOPE,
    revocations: new RevocationList(options.stateDir),
  });
  const authenticate = async (header: string | undefined): Promise<AuthResult> => {
    const checked = await verifier.check(header);
    return checked.ok ? { ok: true, caller: { subject: checked.subject } } : checked;
  };
  const endpoint = new HttpEndpoint({
    // The session label carries the token's agent, so every decision in the log names who made the call.
    createSession: (label, caller) => createSessionServer(gateway, `${caller.subject}/${label}`, caller.subject),
    authenticate,
    // Host and Origin must name this listener exactly (DNS rebinding, GW-08): allowed below, once
    // the port is known. Until then nothing is accepted.
    allowedHosts: [],
    allowedOrigins: [],
    onRejected: recordRejection(options.sink, options.agent),
  });
  const port =
    (await endpoint.listen({ host: options.address.host, port: options.address.port })) ?? options.address.port;
  const names = options.address.host === '::1' ? ['[::1]'] : ['127.0.0.1', 'localhost'];
  endpoint.allow(
    names.map((name) => `${name}:${port}`),
    names.map((name) => `http://${name}:${port}`),
  );
  return { url: `http://${names[0] ?? '127.0.0.1'}:${port}/mcp`, audience, close: () => endpoint.close() };
}
