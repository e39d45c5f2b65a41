/**
 * What a refused client sees. Refusals are short plain text naming the reason and how to allow
 * the target, plus an `X-Warden-Deny-Reason` header that tools can match on; the agent (or the
 * person reading its log) should be able to fix the profile from the message alone.
 */
import type { EgressDenyReason } from '../core/events.js';

/** The HTTP status for each refusal reason. */
export function statusFor(reason: EgressDenyReason): number {
  switch (reason) {
    case 'not_allowed':
    case 'port_not_allowed':
    case 'blocked_address':
    case 'host_mismatch':
      return 403;
    case 'bad_request':
      return 400;
    case 'resolve_failed':
      return 502;
    case 'auth_failed':
      return 407;
    case 'unsupported':
      return 501;
    case 'audit_failed':
      return 503;
  }
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The challenge sent with every 407. */
export const PROXY_AUTHENTICATE = 'Basic realm="warden"';

/** The text body of a refusal. `detail` must already be safe to show (no credential). */
export function refusalBody(detail: string, reason?: EgressDenyReason): string {
  return reason === undefined ? `warden: ${detail}\n` : `warden: ${detail} [${reason}]\n`;
}

/**
 * A complete HTTP/1.1 refusal as raw bytes, for sockets no longer owned by the HTTP server
 * (CONNECT, upgrade, parse errors). Always closes the connection.
 * @param reason stable reason for the header; omitted for refusals that are not policy decisions
 */
export function rawRefusal(status: number, detail: string, reason?: EgressDenyReason): string {
  const body = refusalBody(detail, reason);
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n`;
  if (reason !== undefined) head += `X-Warden-Deny-Reason: ${reason}\r\n`;
  if (status === 407) head += `Proxy-Authenticate: ${PROXY_AUTHENTICATE}\r\n`;
  return `${head}\r\n${body}`;
}

/** The message for a missing or wrong proxy credential. */
export const AUTH_DETAIL =
  'proxy authentication required: use the proxy URL from HTTP_PROXY/HTTPS_PROXY, which carries this run’s credential';
