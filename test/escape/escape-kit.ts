/**
 * Helpers shared by the escape battery (sandbox.test.ts, network.test.ts) and nothing else.
 *
 * Everything here drives the real, built CLI the way test/helpers/warden.ts does; the only
 * additions are ways to run warden under conditions the harness cannot create:
 * - `wardenWithHosts`: warden in a private mount namespace whose /etc/hosts maps test names to
 *   chosen addresses (the proxy resolves names with the host resolver; this gives it names that
 *   resolve to loopback, private, link-local and metadata addresses without touching the host's
 *   /etc/hosts or needing DNS),
 * - `wardenInUserns`: warden in a child user namespace whose own `user.max_user_namespaces` is
 *   set (0 = user namespaces disabled for it), without changing the host's sysctl.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { expect } from 'vitest';
export { auditEvents, type AuditEvent } from '../helpers/warden.js';
import {
  SANDBOX_USER,
  modeUser,
  userIds,
  warden,
  type Mode,
  type WardenOptions,
  type WardenResult,
} from '../helpers/warden.js';

/** A short random token that makes this run's names, files and markers unique. */
export function nonce(): string {
  return randomBytes(5).toString('hex');
}

/** Digits only (for `sleep 1001.<digits>` markers). */
export function digitNonce(): string {
  return String(100000 + (randomBytes(4).readUInt32BE(0) % 900000));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last answer. */
export async function waitFor(check: () => boolean, timeoutMs: number, intervalMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

/** uid/gid the sandboxed command runs as on the host in `mode`. */
export function sandboxIds(mode: Mode): { uid: number; gid: number } {
  const ids = userIds(modeUser(mode) ?? SANDBOX_USER);
  if (ids === null) throw new Error(`user for mode ${mode} missing: run scripts/setup.sh --test-user`);
  return { uid: ids.uid, gid: ids.gid };
}

/** uid/gid warden itself runs as in `mode`. */
export function wardenIds(mode: Mode): { uid: number; gid: number } {
  const name = modeUser(mode);
  if (name === null) return { uid: 0, gid: 0 };
  const ids = userIds(name);
  if (ids === null) throw new Error(`${name} missing`);
  return { uid: ids.uid, gid: ids.gid };
}

/** Where a mode's warden keeps its per-run directories (see src/runtime/run-dir.ts; the harness sets no XDG_RUNTIME_DIR). */
export function runtimeRoot(mode: Mode): string {
  return mode === 'root' ? '/run/warden' : `/tmp/warden-${wardenIds(mode).uid}`;
}

/** The egress proxy's unix socket of a live run. */
export function proxySocketPath(mode: Mode, runId: string): string {
  return join(runtimeRoot(mode), runId, 'sock', 'egress.sock');
}

// ---------------------------------------------------------------- running warden

/** `warden run [args] -- python3 -c CODE CONFIG_JSON`: probes read their parameters from sys.argv[1]. */
export function runPython(
  mode: Mode,
  workspace: string,
  code: string,
  config: unknown = {},
  wardenArgs: readonly string[] = [],
  options: Partial<WardenOptions> = {},
): Promise<WardenResult> {
  return warden(mode, ['run', ...wardenArgs, '--', '/usr/bin/python3', '-c', code, JSON.stringify(config)], {
    cwd: workspace,
    ...options,
  });
}

/**
 * Runs warden (as `mode`) in a private mount namespace where /etc/hosts is `hosts`: the proxy's
 * resolver then maps test names to the given addresses. The host's /etc/hosts is not touched.
 * @param hosts lines of /etc/hosts, e.g. `127.0.0.2 a.warden.test`
 */
export function wardenWithHosts(
  mode: Mode,
  hosts: readonly string[],
  args: readonly string[],
  options: WardenOptions,
): Promise<WardenResult> {
  const dir = mkdtempSync('/tmp/warden-escape-hosts-');
  chmodSync(dir, 0o755);
  const file = join(dir, 'hosts');
  writeFileSync(file, `127.0.0.1 localhost\n::1 localhost\n${hosts.join('\n')}\n`, { mode: 0o644 });
  const prefix = [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    '--',
    '/bin/sh',
    '-c',
    'mount --bind "$0" /etc/hosts && exec "$@"',
    file,
  ];
  return warden(mode, args, { ...options, prefix }).finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** Creates a user namespace mapping every id to itself, sets its own user.max_user_namespaces ('-': leave it) and execs the rest. */
const USERNS_WRAPPER = String.raw`
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
limit = sys.argv[1]
r, w = os.pipe(); r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w); os.close(r2)
    if libc.unshare(0x10000000) != 0:
        sys.stderr.write('wrapper: unshare(CLONE_NEWUSER) failed: errno %d\n' % ctypes.get_errno()); os._exit(90)
    os.write(w2, b'u'); os.close(w2)
    os.read(r, 1)
    if limit != '-':
        with open('/proc/sys/user/max_user_namespaces', 'w') as f:
            f.write(limit)
    os.execvp(sys.argv[2], sys.argv[2:])
os.close(r); os.close(w2)
os.read(r2, 1)
for name in ('uid_map', 'gid_map'):
    with open('/proc/%d/%s' % (pid, name), 'w') as f:
        f.write('0 0 4294967295\n')
os.write(w, b'g')
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
`;

/**
 * Runs warden (as `mode`) inside a child user namespace (all ids mapped to themselves) whose
 * `user.max_user_namespaces` is `limit` ('-' leaves it alone). The sysctl is per user namespace,
 * so this disables user namespaces for warden alone, never for the host or other tests.
 */
export function wardenInUserns(
  mode: Mode,
  limit: string,
  args: readonly string[],
  options: WardenOptions,
): Promise<WardenResult> {
  return warden(mode, args, { ...options, prefix: ['/usr/bin/python3', '-c', USERNS_WRAPPER, limit] });
}

/**
 * Runs a Python snippet on the host (outside any sandbox) as uid:gid. Asynchronous, so servers
 * in this test process keep answering while it runs.
 */
export function hostPython(
  code: string,
  args: readonly string[] = [],
  ids: { uid: number; gid: number } = { uid: 0, gid: 0 },
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const drop = ids.uid === 0 ? [] : ['setpriv', `--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--clear-groups', '--'];
  const argv = [...drop, '/usr/bin/python3', '-c', code, ...args];
  return new Promise((resolve) => {
    const child = spawn(argv[0] ?? '', argv.slice(1), {
      cwd: '/',
      env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------- audit

/** The run id of a summary, failing the test when warden wrote none. */
export function runIdOf(result: WardenResult): string {
  expect(result.summary?.run_id, `no run summary; stderr: ${result.stderr}`).toMatch(/^run_/);
  return result.summary?.run_id ?? '';
}

// ---------------------------------------------------------------- host processes

/** Host pids whose command line has an argument containing `marker` (zombies excluded). */
export function hostPidsWith(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args.some((a) => a.includes(marker)) && isAlive(pid)) pids.push(pid);
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** SIGKILLs pids this test started (used only in `finally` when a survival test failed). */
export function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

// ---------------------------------------------------------------- host-side servers

export interface Hit {
  readonly method: string;
  readonly url: string;
  readonly host: string;
}

/** An HTTP server on a host address that records every request (and CONNECT) it receives. */
export interface RecordingServer {
  readonly host: string;
  readonly port: number;
  readonly hits: Hit[];
  close(): Promise<void>;
}

export type Route = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * Starts a recording HTTP server. Each response body is `<tag> <url>` unless a route answers.
 * @param tag text every response carries, so a probe can tell which server answered
 */
export async function startHttpServer(host: string, tag: string, route?: Route): Promise<RecordingServer> {
  const hits: Hit[] = [];
  const server = createHttpServer((req, res) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '' });
    if (route?.(req, res) === true) return;
    res.setHeader('content-type', 'text/plain');
    res.end(`${tag} ${req.url ?? ''}\n`);
  });
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    hits.push({ method: 'CONNECT', url: req.url ?? '', host: req.headers.host ?? '' });
    socket.on('error', () => undefined);
    socket.end(`HTTP/1.1 405 ${tag} is no proxy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host,
    port,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A TCP server that records the bytes each connection sent and answers `ACK <n>` to each chunk. */
export interface TcpRecorder {
  readonly port: number;
  /** Bytes received, per accepted connection. */
  readonly connections: Buffer[];
  close(): Promise<void>;
}

export async function startTcpRecorder(host: string): Promise<TcpRecorder> {
  const connections: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createNetServer((socket) => {
    const index = connections.push(Buffer.alloc(0)) - 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      connections[index] = Buffer.concat([connections[index] ?? Buffer.alloc(0), chunk]);
      socket.write(`ACK ${chunk.length}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A unix-socket listener (path, or abstract when it starts with NUL) counting connections. */
export interface UnixListener {
  readonly path: string;
  accepted: number;
  close(): Promise<void>;
}

export async function startUnixListener(path: string, mode = 0o666): Promise<UnixListener> {
  const sockets = new Set<Socket>();
  const listener: UnixListener = {
    path,
    accepted: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createNetServer((socket) => {
    listener.accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.end('HOST-SOCKET\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  if (!path.startsWith('\0')) chmodSync(path, mode);
  return listener;
}

// ---------------------------------------------------------------- DNS observation

/**
 * Watches every packet on every host interface (AF_PACKET, as root) for the given needles, e.g.
 * the labels of names a probe tries to resolve: a DNS query that leaves the host's network stack
 * carries its labels verbatim. `stop()` returns the needles that were seen.
 */
export interface PacketWatch {
  stop(): Promise<string[]>;
}

const SNIFFER = String.raw`
import select, socket, sys
needles = [n.encode() for n in sys.argv[1:]]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
print('READY', flush=True)
seen = set()
while True:
    ready, _, _ = select.select([s, sys.stdin], [], [], 1.0)
    if s in ready:
        data = s.recv(65535)
        for n in needles:
            if n in data and n not in seen:
                seen.add(n)
                print('SEEN ' + n.decode(), flush=True)
    if sys.stdin in ready and sys.stdin.buffer.read1(1) == b'':
        # drain what is already queued before stopping
        s.setblocking(False)
        try:
            while True:
                data = s.recv(65535)
                for n in needles:
                    if n in data and n not in seen:
                        seen.add(n)
                        print('SEEN ' + n.decode(), flush=True)
        except BlockingIOError:
            pass
        break
print('END', flush=True)
`;

export async function watchPackets(needles: readonly string[]): Promise<PacketWatch> {
  const child = spawn('/usr/bin/python3', ['-c', SNIFFER, ...needles], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const ready = await waitFor(() => out.includes('READY') || child.exitCode !== null, 10_000);
  if (!ready || !out.includes('READY')) {
    child.kill('SIGKILL');
    throw new Error(`packet watcher did not start: ${err}`);
  }
  return {
    async stop() {
      // Let packets in flight arrive before closing the watch.
      await sleep(300);
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await closed;
      clearTimeout(timer);
      expect(out, `packet watcher failed: ${err}`).toContain('END');
      return out
        .split('\n')
        .filter((l) => l.startsWith('SEEN '))
        .map((l) => l.slice(5));
    },
  };
}

// ---------------------------------------------------------------- probes inside the sandbox

/** Lines `R {json}` printed by the Python probes, keyed by their `name`. */
export function probeResults(stdout: string): Map<string, Record<string, unknown>> {
  const results = new Map<string, Record<string, unknown>>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('R ')) continue;
    const value = JSON.parse(line.slice(2)) as Record<string, unknown>;
    results.set(String(value.name), value);
  }
  return results;
}

/** One probe result, failing the test (with the whole output) when the probe did not report it. */
export function result(
  results: Map<string, Record<string, unknown>>,
  name: string,
  stdout: string,
  stderr: string,
): Record<string, unknown> {
  const value = results.get(name);
  expect(value, `probe ${name} did not report; stdout:\n${stdout}\nstderr:\n${stderr}`).toBeDefined();
  return value ?? {};
}

/**
 * Python helpers for probes inside the sandbox: `out(name, **fields)` reports a result;
 * `errname(fn)` runs a call and gives 'ok' or the errno name; the proxy helpers speak to the
 * in-sandbox proxy endpoint (127.0.0.1:3128) with this run's credential from HTTP_PROXY.
 */
export const PY_PRELUDE = String.raw`
import base64, ctypes, errno, json, os, signal, socket, struct, sys, time, urllib.parse
CFG = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
def out(name, **fields):
    fields['name'] = name
    print('R ' + json.dumps(fields, sort_keys=True), flush=True)
def errname(fn):
    try:
        fn()
        return 'ok'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__
    except Exception as e:
        return type(e).__name__
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if r == -1:
        e = ctypes.get_errno()
        return errno.errorcode.get(e, str(e))
    return 'ok'
_keep = []
def buf(data):
    b = ctypes.create_string_buffer(data)
    _keep.append(b)
    return ctypes.addressof(b)
def direct(host, port, family=socket.AF_INET, timeout=3):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return 'connected'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__
    finally:
        s.close()

_proxy_url = urllib.parse.urlsplit(os.environ.get('HTTP_PROXY', 'http://x:y@127.0.0.1:3128'))
CRED = urllib.parse.unquote(_proxy_url.password or '')
PROXY = ('127.0.0.1', 3128)
def auth_line(cred=None, user='warden'):
    c = CRED if cred is None else cred
    return 'Proxy-Authorization: Basic %s\r\n' % base64.b64encode(('%s:%s' % (user, c)).encode()).decode()
def read_head(s):
    data = b''
    while b'\r\n\r\n' not in data and len(data) < 65536:
        try:
            chunk = s.recv(4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b'\r\n\r\n')
    return head.decode('latin-1'), rest
def status_of(head):
    parts = head.split(' ', 2)
    return int(parts[1]) if head.startswith('HTTP/') and len(parts) > 1 and parts[1].isdigit() else 0
def header(head, name):
    for line in head.split('\r\n')[1:]:
        k, _, v = line.partition(':')
        if k.strip().lower() == name.lower():
            return v.strip()
    return None
def read_all(s, rest=b''):
    data = rest
    while len(data) < 1 << 20:
        try:
            chunk = s.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data
def proxy_socket(addr=PROXY):
    s = socket.create_connection(addr, timeout=10)
    s.settimeout(10)
    return s
def connect(target, cred=None, send_auth=True, addr=PROXY):
    """CONNECT through the proxy; returns (socket, status, deny reason)."""
    s = proxy_socket(addr)
    req = 'CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n' % (target, target, auth_line(cred) if send_auth else '')
    s.sendall(req.encode('utf-8'))
    head, rest = read_head(s)
    return s, status_of(head), header(head, 'x-warden-deny-reason'), rest
def tunnel_get(s, host_header, path='/', rest=b''):
    s.sendall(('GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' % (path, host_header)).encode())
    data = read_all(s, rest)
    head, _, body = data.partition(b'\r\n\r\n')
    return status_of(head.decode('latin-1')), body.decode('latin-1')
def connect_get(name, target, path='/', host_header=None, **kw):
    """CONNECT, then (if 200) a GET through the tunnel; reports status, reason and the body."""
    try:
        s, status, reason, rest = connect(target, **kw)
    except OSError as e:
        out(name, status=-1, error=errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__)
        return
    body = None
    inner = None
    if status == 200:
        inner, body = tunnel_get(s, host_header or target, path, rest)
    s.close()
    out(name, status=status, reason=reason, inner=inner, body=body)
def proxy_get(name, url, host=None, send_auth=True, cred=None, addr=PROXY, extra=''):
    """A plain-HTTP request in absolute form through the proxy; reports status, reason, Location, body."""
    try:
        s = proxy_socket(addr)
    except OSError as e:
        out(name, status=-1, error=errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__)
        return
    if host is None:
        host = urllib.parse.urlsplit(url).netloc.rpartition('@')[2]
    req = 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s%s\r\n' % (url, host, extra, auth_line(cred) if send_auth else '')
    try:
        s.sendall(req.encode('utf-8'))
        head, rest = read_head(s)
        body = read_all(s, rest).decode('latin-1')
    except OSError as e:
        out(name, status=-1, error=errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__)
        return
    finally:
        s.close()
    out(name, status=status_of(head), reason=header(head, 'x-warden-deny-reason'), location=header(head, 'location'), body=body)
def recv_exact(s, n):
    data = b''
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data
def socks(host, port, cred=None, user='warden', addr=PROXY, cmd=1):
    """A SOCKS5 request by name (bytes sent as given, UTF-8; cmd 1 CONNECT, 3 UDP ASSOCIATE); returns (socket, reply code or -1 when auth failed)."""
    s = proxy_socket(addr)
    s.sendall(b'\x05\x01\x02')
    if recv_exact(s, 2) != b'\x05\x02':
        return s, -1
    c, u = (CRED if cred is None else cred).encode(), user.encode()
    s.sendall(b'\x01' + bytes([len(u)]) + u + bytes([len(c)]) + c)
    if recv_exact(s, 2) != b'\x01\x00':
        return s, -1
    h = host.encode('utf-8')
    s.sendall(b'\x05' + bytes([cmd]) + b'\x00\x03' + bytes([len(h)]) + h + struct.pack('>H', port))
    head = recv_exact(s, 4)
    if len(head) < 4:
        return s, -2
    rest = {1: 4, 4: 16}.get(head[3])
    recv_exact(s, (rest if rest is not None else recv_exact(s, 1)[0]) + 2)
    return s, head[1]
def socks_get(name, host, port, path='/', host_header='x'):
    """SOCKS5 CONNECT, then (if granted) a GET through the tunnel; reports the reply code and the body."""
    try:
        s, rep = socks(host, port)
    except OSError as e:
        out(name, rep=-3, error=errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__)
        return
    inner = body = None
    if rep == 0:
        inner, body = tunnel_get(s, host_header, path)
    s.close()
    out(name, rep=rep, inner=inner, body=body)
`;
