import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_HOSTNAME, ensureEtcView } from './etc-view.js';
import { SANDBOX_HOME } from './spec.js';

let base: string;
let etc: string;
let runtime: string;

const HOST_PASSWD =
  'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\nwarden-sandbox:x:999:999::/nonexistent:/usr/sbin/nologin\n';

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'warden-etc-view-'));
  etc = join(base, 'etc');
  runtime = join(base, 'runtime');
  mkdirSync(etc);
  mkdirSync(runtime);
  // Files a sandbox needs.
  writeFileSync(join(etc, 'ld.so.cache'), 'ldcache');
  writeFileSync(join(etc, 'os-release'), 'ID=debian\n');
  writeFileSync(join(etc, 'protocols'), 'tcp 6 TCP\n');
  mkdirSync(join(etc, 'ssl'));
  writeFileSync(join(etc, 'ssl', 'openssl.cnf'), '# cnf');
  mkdirSync(join(etc, 'java-17-openjdk'));
  symlinkSync('/usr/share/zoneinfo/Etc/UTC', join(etc, 'localtime'));
  // Host files that must never reach the sandbox.
  writeFileSync(join(etc, 'passwd'), HOST_PASSWD);
  writeFileSync(join(etc, 'group'), 'root:x:0:\nalice:x:1000:\nsudo:x:27:alice\n');
  writeFileSync(join(etc, 'shadow'), 'alice:$6$hash:19000:0:99999:7:::\n');
  writeFileSync(join(etc, 'hosts'), '127.0.0.1 localhost\n10.0.0.5 internal-db.corp\n');
  writeFileSync(join(etc, 'resolv.conf'), 'nameserver 10.0.0.53\n');
  writeFileSync(join(etc, 'hostname'), 'prod-host-17\n');
  mkdirSync(join(etc, 'ssh'));
  writeFileSync(join(etc, 'ssh', 'ssh_host_ed25519_key'), 'PRIVATE');
  mkdirSync(join(etc, 'sudoers.d'));
  writeFileSync(join(etc, 'environment'), 'API_TOKEN=host-secret\n');
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

const read = (dir: string, name: string): string => readFileSync(join(dir, name), 'utf8');
const WEEK_MS = 7 * 86_400_000;

describe('ensureEtcView: generated files', () => {
  it('passwd names root, the sandbox user (agent, home /home/agent) and nobody, and no host users', () => {
    const { dir } = ensureEtcView(runtime, 1001, 1002, etc);
    const passwd = read(dir, 'passwd');
    expect(passwd.trim().split('\n')).toEqual([
      'root:x:0:0:root:/root:/usr/sbin/nologin',
      `agent:x:1001:1002:warden sandbox:${SANDBOX_HOME}:/bin/sh`,
      'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    ]);
    expect(passwd).not.toContain('alice');
    expect(passwd).not.toContain('warden-sandbox');
    expect(passwd).not.toContain('/bin/bash');
  });

  it('group names root, agent and nogroup only', () => {
    const { dir } = ensureEtcView(runtime, 1001, 1002, etc);
    expect(read(dir, 'group').trim().split('\n')).toEqual(['root:x:0:', 'agent:x:1002:', 'nogroup:x:65534:']);
  });

  it('as uid/gid 0 there is no separate agent entry', () => {
    const { dir } = ensureEtcView(runtime, 0, 0, etc);
    expect(read(dir, 'passwd')).not.toContain('agent:');
    expect(read(dir, 'group')).not.toContain('agent:');
    expect(read(dir, 'passwd')).toContain('root:x:0:0:');
  });

  it('NET-02 hosts has only localhost and the sandbox name; resolv.conf has no nameserver', () => {
    const { dir } = ensureEtcView(runtime, 1001, 1001, etc);
    const hosts = read(dir, 'hosts');
    expect(hosts).toContain('127.0.0.1\tlocalhost');
    expect(hosts).toContain('::1\tlocalhost');
    expect(hosts).toContain(`127.0.1.1\t${SANDBOX_HOSTNAME}`);
    expect(hosts).not.toContain('internal-db');
    expect(hosts).not.toContain('10.0.0.5');
    const resolv = read(dir, 'resolv.conf');
    expect(resolv).not.toMatch(/^\s*nameserver/m);
    expect(resolv).not.toContain('10.0.0.53');
    expect(read(dir, 'nsswitch.conf')).not.toMatch(/dns/);
    expect(read(dir, 'nsswitch.conf')).toMatch(/^hosts:\s+files$/m);
  });

  it('the hostname is the sandbox name, not the host one', () => {
    const { dir } = ensureEtcView(runtime, 1001, 1001, etc);
    expect(read(dir, 'hostname')).toBe(`${SANDBOX_HOSTNAME}\n`);
    expect(SANDBOX_HOSTNAME).toBe('warden-sandbox');
  });

  it('generated files are world-readable, not writable by others', () => {
    const { dir } = ensureEtcView(runtime, 1001, 1001, etc);
    for (const name of ['passwd', 'group', 'hosts', 'resolv.conf', 'nsswitch.conf', 'hostname']) {
      expect(statSync(join(dir, name)).mode & 0o777, name).toBe(0o644);
    }
  });
});

describe('ensureEtcView: what is taken from the host /etc', () => {
  it('copies the wanted files, mirrors symlinks, and makes empty mount points for wanted directories', () => {
    const { dir, directoryBinds } = ensureEtcView(runtime, 1001, 1001, etc);
    expect(read(dir, 'ld.so.cache')).toBe('ldcache');
    expect(read(dir, 'os-release')).toBe('ID=debian\n');
    expect(lstatSync(join(dir, 'localtime')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, 'localtime'))).toBe('/usr/share/zoneinfo/Etc/UTC');
    expect(statSync(join(dir, 'ssl')).isDirectory()).toBe(true);
    expect(readdirSync(join(dir, 'ssl'))).toEqual([]);
    expect([...directoryBinds].sort()).toEqual([join(etc, 'java-17-openjdk'), join(etc, 'ssl')]);
  });

  it('SBX-04 leaves out everything else: shadow, ssh host keys, sudoers, environment', () => {
    const { dir, directoryBinds } = ensureEtcView(runtime, 1001, 1001, etc);
    const names = readdirSync(dir).sort();
    expect(names).toEqual(
      [
        '.complete',
        'group',
        'hostname',
        'hosts',
        'java-17-openjdk',
        'ld.so.cache',
        'localtime',
        'nsswitch.conf',
        'os-release',
        'passwd',
        'protocols',
        'resolv.conf',
        'ssl',
      ].sort(),
    );
    for (const secret of ['shadow', 'ssh', 'sudoers.d', 'environment']) {
      expect(names).not.toContain(secret);
      expect(directoryBinds).not.toContain(join(etc, secret));
    }
  });

  it('a missing host /etc gives a view of the generated files only', () => {
    const { dir, directoryBinds } = ensureEtcView(runtime, 1001, 1001, join(base, 'no-etc'));
    expect(directoryBinds).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual([
      '.complete',
      'group',
      'hostname',
      'hosts',
      'nsswitch.conf',
      'passwd',
      'resolv.conf',
    ]);
  });
});

describe('ensureEtcView: content addressing', () => {
  it('same inputs give the same directory, named etc-<16 hex>', () => {
    const a = ensureEtcView(runtime, 1001, 1001, etc);
    const b = ensureEtcView(runtime, 1001, 1001, etc);
    expect(b).toEqual(a);
    expect(basename(a.dir)).toMatch(/^etc-[0-9a-f]{16}$/);
    expect(readdirSync(runtime).filter((n) => n.startsWith('etc-'))).toHaveLength(1);
  });

  it('a second call reuses the view rather than rebuilding it', () => {
    const a = ensureEtcView(runtime, 1001, 1001, etc);
    writeFileSync(join(a.dir, 'marker'), 'kept');
    expect(read(ensureEtcView(runtime, 1001, 1001, etc).dir, 'marker')).toBe('kept');
  });

  it('a different uid or gid gives a different view', () => {
    const a = ensureEtcView(runtime, 1001, 1001, etc).dir;
    expect(ensureEtcView(runtime, 1002, 1001, etc).dir).not.toBe(a);
    expect(ensureEtcView(runtime, 1001, 1002, etc).dir).not.toBe(a);
  });

  it('a changed host file (content, size, mtime) gives a new view with the new content', () => {
    const a = ensureEtcView(runtime, 1001, 1001, etc);
    writeFileSync(join(etc, 'os-release'), 'ID=debian\nVERSION_ID=13\n');
    const b = ensureEtcView(runtime, 1001, 1001, etc);
    expect(b.dir).not.toBe(a.dir);
    expect(read(b.dir, 'os-release')).toContain('VERSION_ID=13');
  });

  it('a touched host file (same size, new mtime) gives a new view', () => {
    const a = ensureEtcView(runtime, 1001, 1001, etc);
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(etc, 'protocols'), later, later);
    expect(ensureEtcView(runtime, 1001, 1001, etc).dir).not.toBe(a.dir);
  });

  it('an added or removed wanted entry gives a new view', () => {
    const a = ensureEtcView(runtime, 1001, 1001, etc).dir;
    writeFileSync(join(etc, 'services'), 'http 80/tcp\n');
    const b = ensureEtcView(runtime, 1001, 1001, etc).dir;
    expect(b).not.toBe(a);
    rmSync(join(etc, 'services'));
    rmSync(join(etc, 'ld.so.cache'));
    expect(ensureEtcView(runtime, 1001, 1001, etc).dir).not.toBe(b);
  });

  it('changes to files that are not taken (host passwd, shadow, hosts) do not change the view', () => {
    const a = ensureEtcView(runtime, 1001, 1001, etc).dir;
    writeFileSync(join(etc, 'passwd'), `${HOST_PASSWD}bob:x:1001:1001::/home/bob:/bin/sh\n`);
    writeFileSync(join(etc, 'shadow'), 'changed');
    writeFileSync(join(etc, 'hosts'), '10.9.9.9 other\n');
    writeFileSync(join(etc, 'unrelated.conf'), 'x');
    expect(ensureEtcView(runtime, 1001, 1001, etc).dir).toBe(a);
  });

  it('leaves no staging directory behind', () => {
    ensureEtcView(runtime, 1001, 1001, etc);
    expect(readdirSync(runtime).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});

describe('ensureEtcView: pruning', () => {
  it('removes views unused for over a week and keeps recent ones and the current one', () => {
    const old = join(runtime, 'etc-0000000000000000');
    const recent = join(runtime, 'etc-1111111111111111');
    const lib = join(runtime, 'lib-2222222222222222');
    for (const dir of [old, recent, lib]) {
      mkdirSync(dir);
      writeFileSync(join(dir, '.complete'), '');
    }
    const ago = (ms: number): Date => new Date(Date.now() - ms);
    utimesSync(join(old, '.complete'), ago(WEEK_MS + 60_000), ago(WEEK_MS + 60_000));
    utimesSync(join(recent, '.complete'), ago(WEEK_MS - 60_000), ago(WEEK_MS - 60_000));
    utimesSync(join(lib, '.complete'), ago(10 * WEEK_MS), ago(10 * WEEK_MS));
    const view = ensureEtcView(runtime, 1001, 1001, etc);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    expect(existsSync(lib)).toBe(true);
    expect(existsSync(view.dir)).toBe(true);
  });
});
