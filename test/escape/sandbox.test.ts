/**
 * The sandbox escape battery (SBX-01..SBX-19 of ../shared/threat-cases.md): each case is tried
 * from a real sandboxed process, as an agent would, with warden run as root (the sandbox runs as
 * the unprivileged sandbox user) and as an ordinary user (unprivileged user namespace).
 *
 * Every probe reports that it ran and what the kernel answered, and where possible the same
 * action is shown to work outside the sandbox (or on an allowed target inside it), so a test
 * fails if the attack was not really attempted as well as if it succeeded.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  availableModes,
  expectRan,
  giveToSandbox,
  makeWorkspace,
  probeValues,
  removeWorkspace,
  runShell,
  TEST_USER,
  testStateDir,
  userIds,
  warden,
  type Mode,
} from '../helpers/warden.js';
import {
  auditEvents,
  digitNonce,
  hostPidsWith,
  hostPython,
  isAlive,
  killPids,
  nonce,
  probeResults,
  PY_PRELUDE,
  result,
  runIdOf,
  runPython,
  runtimeRoot,
  sandboxIds,
  startUnixListener,
  waitFor,
  wardenIds,
  wardenInUserns,
} from './escape-kit.js';

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const cgroupBase = (mode: Mode): string => (mode === 'root' ? 'warden' : `warden/user-${wardenIds('user').uid}`);

/** Fails with everything warden said when the sandboxed command did not run to completion. */
describe.each(availableModes())('sandbox escapes, warden as %s', (mode: Mode) => {
  let workspace = '';
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
    if (workspace !== '') removeWorkspace(workspace);
    workspace = '';
  });

  it("SBX-01 host processes are invisible: /proc lists only the sandbox's own pids", async () => {
    workspace = makeWorkspace(mode);
    const n = digitNonce();
    // A host process of the same uid as the sandbox, so only the pid namespace can hide it.
    const ids = sandboxIds(mode);
    const host: ChildProcess = spawn('/bin/sleep', [`600.${n}`], { uid: ids.uid, gid: ids.gid, stdio: 'ignore' });
    cleanups.push(() => host.kill('SIGKILL'));
    const hostPid = host.pid ?? -1;
    expect(isAlive(hostPid)).toBe(true);
    // Markers are assembled at run time, so the probe's own command line never contains them.
    const script = `
      b=${n}; h=600; i=700
      sleep "$i.$b" &
      inner=$!
      echo PIDS=$(ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' ')
      seen_host=''; seen_inner=''
      for p in /proc/[0-9]*; do
        c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)
        case "$c" in *"$h.$b"*) seen_host="$seen_host \${p#/proc/}";; esac
        case "$c" in *"$i.$b"*) seen_inner="$seen_inner \${p#/proc/}";; esac
      done
      echo HOST_SEEN=[$seen_host]
      echo INNER_SEEN=[$seen_inner]
      echo INNER_PID=$inner
      test -e /proc/${hostPid} && echo HOST_PROC=yes || echo HOST_PROC=no
      kill -0 ${hostPid} 2>/dev/null && echo HOST_SIGNAL=yes || echo HOST_SIGNAL=no
      echo PID1_ENTRIES=$(ls -A /proc/1 | wc -l)
      kill $inner`;
    const run = await runShell(mode, workspace, script);
    expectRan(run);
    const v = probeValues(run.stdout);
    // The probe can see processes by their command line: it finds its own marker...
    expect(v.get('INNER_SEEN')?.trim()).toBe(`[ ${v.get('INNER_PID') ?? '?'}]`);
    // ...but not the host's, which is alive and of the same uid.
    expect(isAlive(hostPid)).toBe(true);
    expect(v.get('HOST_SEEN')).toBe('[]');
    expect(v.get('HOST_PROC')).toBe('no');
    expect(v.get('HOST_SIGNAL')).toBe('no');
    const pids = (v.get('PIDS') ?? '').trim().split(/\s+/).map(Number);
    expect(pids.length).toBeGreaterThan(1);
    expect(pids.length, `pids seen: ${pids.join(' ')}`).toBeLessThan(10);
    expect(Math.max(...pids)).toBeLessThan(50);
    // The sandbox's pid 1 (bwrap, unfiltered) exists but its /proc entry is masked.
    expect(v.get('PID1_ENTRIES')).toBe('0');
  });

  it('SBX-02 no capabilities: CapEff is 0; remounting / read-write and mounting tmpfs fail', async () => {
    workspace = makeWorkspace(mode);
    const script = `
      awk '/^Cap(Inh|Prm|Eff|Bnd|Amb):/ { sub(":", "", $1); print toupper($1) "=" $2 }' /proc/self/status
      mount -o remount,rw / 2>/dev/null; echo REMOUNT=$?
      mkdir -p /tmp/mnt; mount -t tmpfs none /tmp/mnt 2>/dev/null; echo TMPFS=$?
      grep -c ' /tmp/mnt ' /proc/self/mountinfo | sed 's/^/MOUNTED=/'
      touch /probe-root 2>/dev/null; echo ROOT_WRITE=$?
      python3 -c 'import ctypes, errno; libc = ctypes.CDLL(None, use_errno=True); r = libc.mount(b"none", b"/tmp/mnt", b"tmpfs", 0, None); print("SYSCALL_MOUNT=" + ("ok" if r == 0 else errno.errorcode[ctypes.get_errno()]))'
      python3 -c 'import ctypes, errno; libc = ctypes.CDLL(None, use_errno=True); r = libc.mount(None, b"/", None, 32 | 4096, None); print("SYSCALL_REMOUNT=" + ("ok" if r == 0 else errno.errorcode[ctypes.get_errno()]))'
      echo data > ws-write && echo WS_WRITE=ok`;
    const run = await runShell(mode, workspace, script);
    expectRan(run);
    const v = probeValues(run.stdout);
    for (const set of ['CAPINH', 'CAPPRM', 'CAPEFF', 'CAPBND', 'CAPAMB'])
      expect(v.get(set), set).toBe('0000000000000000');
    expect(v.get('REMOUNT')).toMatch(/^[1-9]\d*$/);
    expect(v.get('TMPFS')).toMatch(/^[1-9]\d*$/);
    expect(v.get('MOUNTED')).toBe('0');
    expect(v.get('ROOT_WRITE')).toMatch(/^[1-9]\d*$/);
    expect(v.get('SYSCALL_MOUNT')).toBe('EPERM');
    expect(v.get('SYSCALL_REMOUNT')).toBe('EPERM');
    // Control: the probe can write where it is allowed to.
    expect(v.get('WS_WRITE')).toBe('ok');
    expect(readFileSync(join(workspace, 'ws-write'), 'utf8')).toBe('data\n');
  });

  it('SBX-03 host kernel settings are read-only: writing /proc/sys (and /proc/sysrq-trigger) fails', async () => {
    workspace = makeWorkspace(mode);
    const targets = (
      [
        ['/proc/sys/vm/swappiness', '13'],
        ['/proc/sys/kernel/core_pattern', '|/tmp/evil %p'],
        ['/proc/sys/kernel/modprobe', '/tmp/evil'],
        ['/proc/sys/vm/overcommit_memory', '2'],
        ['/proc/sys/kernel/sysrq', '1'],
        ['/proc/sysrq-trigger', 'm'],
      ] as [string, string][]
    ).filter(([path]) => existsSync(path));
    expect(targets.map(([p]) => p)).toContain('/proc/sys/vm/swappiness');
    const before = new Map(
      targets.filter(([p]) => p.startsWith('/proc/sys/')).map(([p]) => [p, readFileSync(p, 'utf8')]),
    );
    const code = `${PY_PRELUDE}
for path, value in CFG['targets']:
    try:
        current = open(path).read() if path.startswith('/proc/sys/') else None
    except OSError as e:
        current = None
    def write():
        with open(path, 'w') as f:
            f.write(value)
    out(path, read=current, write=errname(write))
opts = [l.split()[5] for l in open('/proc/self/mountinfo') if l.split()[4] == '/proc/sys']
out('mount', options=opts)
`;
    const run = await runPython(mode, workspace, code, { targets });
    expectRan(run);
    const r = probeResults(run.stdout);
    for (const [path] of targets) {
      const probe = result(r, path, run.stdout, run.stderr);
      expect(probe.write, path).not.toBe('ok');
      expect(['EROFS', 'EACCES', 'EPERM'], `${path}: ${String(probe.write)}`).toContain(probe.write);
      // The probe reached the real files: it read the host's current value.
      if (before.has(path)) expect(probe.read, path).toBe(before.get(path));
    }
    expect(result(r, 'mount', run.stdout, run.stderr).options).toEqual([expect.stringMatching(/^ro,/)]);
    for (const [path, value] of before) expect(readFileSync(path, 'utf8'), path).toBe(value);
  });

  it('SBX-04 the host home, /root, ~/.ssh, ~/.aws, ~/.config and the state dir are not visible', async () => {
    workspace = makeWorkspace(mode);
    const n = nonce();
    const tester = userIds(TEST_USER);
    // Canaries in the ordinary user's home (the host home in user mode); the dirs stay readable
    // by the sandbox uid, so only invisibility can keep the probe from seeing them.
    const canaries: string[] = [];
    if (tester !== null) {
      for (const dir of ['.ssh', '.aws', '.config']) {
        const full = join(tester.home, dir);
        if (!existsSync(full)) {
          mkdirSync(full, { mode: 0o755 });
          chownSync(full, tester.uid, tester.gid);
          cleanups.push(() => rmSync(full, { recursive: true, force: true }));
        }
        const file = join(full, `warden-escape-canary-${n}`);
        writeFileSync(file, 'CANARY\n', { mode: 0o644 });
        cleanups.push(() => rmSync(file, { force: true }));
        canaries.push(file);
      }
    }
    const sibling = join(dirname(workspace), `sibling-secret-${n}`);
    writeFileSync(sibling, 'SECRET\n', { mode: 0o644 });
    writeFileSync(join(workspace, `visible-${n}`), 'VISIBLE\n');
    giveToSandbox(mode, join(workspace, `visible-${n}`));
    // Paths that must exist on the host for the probe to mean something, plus whatever secrets
    // this host happens to have in the usual places.
    const required = [
      '/root',
      ...canaries,
      sibling,
      testStateDir(mode),
      join(testStateDir(mode), 'audit.db'),
      ...(tester === null ? [] : [tester.home]),
      ...(mode === 'user' ? [runtimeRoot('user')] : []),
    ];
    const optional = [
      '/root/.bashrc',
      '/root/.profile',
      '/root/.config',
      '/root/.npmrc',
      '/root/.ssh',
      '/root/.aws',
      '/root/.gitconfig',
      ...(tester === null ? [] : ['.bashrc', '.profile', '.local'].map((f) => join(tester.home, f))),
    ].filter((p) => existsSync(p));
    const hidden = [...required, ...optional];
    const code = `${PY_PRELUDE}
for path in CFG['paths']:
    out(path, exists=os.path.lexists(path), stat=errname(lambda: os.stat(path)))
out('home', entries=sorted(os.listdir(os.environ['HOME'])), home=os.environ['HOME'])
out('homes', entries=sorted(os.listdir('/home')))
out('run_warden', entries=sorted(os.listdir('/run/warden')))
out('run_dir', exists=os.path.lexists(os.path.join(CFG['runtime'], os.environ['WARDEN_RUN_ID'])))
`;
    const run = await runPython(mode, workspace, code, {
      paths: [...hidden, join(workspace, `visible-${n}`)],
      runtime: runtimeRoot(mode),
    });
    expectRan(run);
    const r = probeResults(run.stdout);
    for (const path of required) expect(existsSync(path), `${path} exists on the host (precondition)`).toBe(true);
    for (const path of hidden) {
      const probe = result(r, path, run.stdout, run.stderr);
      expect(probe.exists, `${path} is visible inside`).toBe(false);
      expect(probe.stat, path).toBe('ENOENT');
    }
    // Control: the probe does see a file in the workspace.
    expect(result(r, join(workspace, `visible-${n}`), run.stdout, run.stderr)).toMatchObject({
      exists: true,
      stat: 'ok',
    });
    expect(result(r, 'home', run.stdout, run.stderr)).toMatchObject({ home: '/home/agent', entries: [] });
    expect(result(r, 'homes', run.stdout, run.stderr).entries).toEqual(['agent']);
    expect(result(r, 'run_warden', run.stdout, run.stderr).entries).toEqual(['lib', 'sock']);
    expect(result(r, 'run_dir', run.stdout, run.stderr).exists).toBe(false);
  });

  it('SBX-04 a state dir inside the workspace is hidden from the sandbox', async () => {
    workspace = makeWorkspace(mode);
    const stateDir = join(workspace, 'warden-state');
    const code = `${PY_PRELUDE}
path = CFG['state']
out('state', listdir=errname(lambda: os.listdir(path)), entries=(os.listdir(path) if os.access(path, os.R_OK) else None))
out('db', read=errname(lambda: open(os.path.join(path, 'audit.db'), 'rb').read(16)))
with open('sibling.txt', 'w') as f:
    f.write('ok')
out('control', wrote=True)
`;
    const run = await runPython(mode, workspace, code, { state: stateDir }, [], {
      env: { WARDEN_STATE_DIR: stateDir },
    });
    expectRan(run);
    // The run was recorded there, so the database exists and holds this run.
    expect(existsSync(join(stateDir, 'audit.db'))).toBe(true);
    const r = probeResults(run.stdout);
    expect(result(r, 'control', run.stdout, run.stderr).wrote).toBe(true);
    expect(result(r, 'state', run.stdout, run.stderr).entries ?? []).toEqual([]);
    expect(result(r, 'db', run.stdout, run.stderr).read).not.toBe('ok');
  });

  it("SBX-05 writes outside the writable paths fail (/usr, /etc, /, the host's /tmp)", async () => {
    workspace = makeWorkspace(mode);
    const n = nonce();
    const parent = dirname(workspace);
    const denied = [
      `/usr/escape-${n}`,
      `/usr/bin/escape-${n}`,
      `/etc/escape-${n}`,
      `/escape-${n}`,
      `/var/escape-${n}`,
      `/home/escape-${n}`,
      `/run/warden/lib/escape-${n}`,
      `/run/warden/sock/escape-${n}`,
      `/bin/escape-${n}`,
    ];
    const passwdBefore = sha256('/etc/passwd');
    const pythonBefore = sha256('/usr/bin/python3');
    const code = `${PY_PRELUDE}
def write(path, mode='w'):
    def go():
        with open(path, mode) as f:
            f.write('ESCAPE')
    return errname(go)
for path in CFG['denied']:
    out(path, write=write(path))
out('passwd', write=write('/etc/passwd', 'a'))
out('python', write=write('/usr/bin/python3', 'r+b'))
out('tmp', write=write(CFG['tmp']), back=open(CFG['tmp']).read())
out('parent', write=write(CFG['parent']))
out('workspace', write=write(CFG['inside']))
`;
    const config = {
      denied,
      tmp: `/tmp/escape-${n}`,
      parent: join(parent, `escape-${n}`),
      inside: join(workspace, `inside-${n}`),
    };
    const run = await runPython(mode, workspace, code, config);
    expectRan(run);
    const r = probeResults(run.stdout);
    for (const path of denied) {
      expect(['EROFS', 'EACCES', 'ENOENT', 'EPERM'], path).toContain(result(r, path, run.stdout, run.stderr).write);
      expect(existsSync(path), `${path} appeared on the host`).toBe(false);
    }
    expect(['EROFS', 'EACCES']).toContain(result(r, 'passwd', run.stdout, run.stderr).write);
    expect(['EROFS', 'EACCES', 'ETXTBSY']).toContain(result(r, 'python', run.stdout, run.stderr).write);
    expect(sha256('/etc/passwd')).toBe(passwdBefore);
    expect(sha256('/usr/bin/python3')).toBe(pythonBefore);
    // /tmp inside is private: the write works there but never reaches the host's /tmp.
    expect(result(r, 'tmp', run.stdout, run.stderr)).toMatchObject({ write: 'ok', back: 'ESCAPE' });
    expect(existsSync(`/tmp/escape-${n}`)).toBe(false);
    expect(existsSync(join(parent, `escape-${n}`))).toBe(false);
    // Control: the workspace is writable and the write lands on the host.
    expect(result(r, 'workspace', run.stdout, run.stderr).write).toBe('ok');
    expect(readFileSync(join(workspace, `inside-${n}`), 'utf8')).toBe('ESCAPE');
  });

  // SBX-06, SBX-20, SBX-21 and SBX-22 (files that make the host run code later): host-exec.test.ts.

  it('SBX-07 symlink escapes give no access beyond the policy', async () => {
    workspace = makeWorkspace(mode);
    const parent = dirname(workspace);
    const outside = join(parent, 'outside-secret.txt');
    writeFileSync(outside, 'OUTSIDE\n', { mode: 0o644 });
    // Links a malicious repository could ship, planted on the host before the run.
    symlinkSync(outside, join(workspace, 'abs-link'));
    symlinkSync('../outside-secret.txt', join(workspace, 'rel-link'));
    symlinkSync('/etc/shadow', join(workspace, 'shadow-link'));
    symlinkSync('/', join(workspace, 'root-link'));
    writeFileSync(join(workspace, 'inside.txt'), 'INSIDE\n');
    symlinkSync('inside.txt', join(workspace, 'in-link'));
    giveToSandbox(mode, workspace);
    const passwdBefore = sha256('/etc/passwd');
    const tester = userIds(TEST_USER);
    const code = `${PY_PRELUDE}
def read(path):
    try:
        return open(path).read()
    except OSError as e:
        return 'error:' + errno.errorcode.get(e.errno, str(e.errno))
os.symlink('/etc/passwd', 'x')
def write_x():
    with open('x', 'w') as f:
        f.write('y')
out('passwd_via_new_link', write=errname(write_x), content=read('x'))
os.symlink('/', 'root')
out('shadow_via_new_link', read=read('root/etc/shadow'))
out('abs_link', read=read('abs-link'))
out('rel_link', read=read('rel-link'))
def write_abs():
    with open('abs-link', 'w') as f:
        f.write('EVIL')
out('abs_link_write', write=errname(write_abs))
out('shadow_link', read=read('shadow-link'))
out('root_link_shadow', read=read('root-link/etc/shadow'))
out('root_link_root', listdir=errname(lambda: os.listdir('root-link/root')))
out('root_link_home', read=read('root-link' + CFG['tester_bashrc']))
out('root_link_state', listdir=errname(lambda: os.listdir('root-link' + CFG['state'])))
out('in_link', read=read('in-link'))
`;
    const run = await runPython(mode, workspace, code, {
      tester_bashrc: join(tester?.home ?? '/home/none', '.bashrc'),
      state: testStateDir(mode),
    });
    expectRan(run);
    const r = probeResults(run.stdout);
    const get = (name: string): Record<string, unknown> => result(r, name, run.stdout, run.stderr);
    // ln -s /etc/passwd x; echo y > x: the link resolves to the sandbox's read-only /etc.
    expect(['EROFS', 'EACCES']).toContain(get('passwd_via_new_link').write);
    expect(get('passwd_via_new_link').content).toMatch(/^root:x:0:0:/);
    expect(get('passwd_via_new_link').content).not.toContain(`${TEST_USER}:`);
    expect(sha256('/etc/passwd')).toBe(passwdBefore);
    // ln -s / root; cat root/etc/shadow: / is the sandbox's root, which has no shadow.
    expect(existsSync('/etc/shadow')).toBe(true);
    expect(get('shadow_via_new_link').read).toBe('error:ENOENT');
    expect(get('shadow_link').read).toBe('error:ENOENT');
    expect(get('root_link_shadow').read).toBe('error:ENOENT');
    expect(get('root_link_root').listdir).toBe('ENOENT');
    expect(get('root_link_home').read).toBe('error:ENOENT');
    expect(get('root_link_state').listdir).toBe('ENOENT');
    // Links to a file next to the workspace resolve inside the sandbox, where it does not exist.
    expect(get('abs_link').read).toBe('error:ENOENT');
    expect(get('rel_link').read).toBe('error:ENOENT');
    expect(readFileSync(outside, 'utf8')).toBe('OUTSIDE\n');
    // Control: a link inside the workspace works.
    expect(get('in_link').read).toBe('INSIDE\n');
    expect(lstatSync(join(workspace, 'x')).isSymbolicLink()).toBe(true);
  });

  it('SBX-08 hard links to files outside the workspace cannot be created or read', async () => {
    workspace = makeWorkspace(mode);
    const parent = dirname(workspace);
    const outside = join(parent, 'outside-secret.txt');
    writeFileSync(outside, 'OUTSIDE\n', { mode: 0o644 });
    writeFileSync(join(workspace, 'inside.txt'), 'INSIDE\n');
    giveToSandbox(mode, workspace);
    const code = `${PY_PRELUDE}
AT_FDCWD, AT_EMPTY_PATH, AT_SYMLINK_FOLLOW = -100, 0x1000, 0x400
for name, src in [('etc_passwd', '/etc/passwd'), ('usr_sh', '/usr/bin/sh'), ('etc_hostname', '/etc/hostname'), ('outside', CFG['outside']), ('state', CFG['state_db'])]:
    out('ln_' + name, link=errname(lambda: os.link(src, 'hl-' + name)), read=errname(lambda: open('hl-' + name).read()))
fd = os.open('/etc/hostname', os.O_RDONLY)
out('ln_proc_fd', link=errname(lambda: os.link('/proc/self/fd/%d' % fd, 'hl-procfd', follow_symlinks=True)))
def linkat_empty():
    ctypes.set_errno(0)
    if libc.linkat(fd, b'', AT_FDCWD, b'hl-emptypath', AT_EMPTY_PATH) != 0:
        raise OSError(ctypes.get_errno(), 'linkat')
out('ln_empty_path', link=errname(linkat_empty))
out('ln_inside', link=errname(lambda: os.link('inside.txt', 'hl-inside')), read=open('hl-inside').read())
`;
    const run = await runPython(mode, workspace, code, { outside, state_db: join(testStateDir(mode), 'audit.db') });
    expectRan(run);
    const r = probeResults(run.stdout);
    for (const name of ['ln_etc_passwd', 'ln_usr_sh', 'ln_etc_hostname', 'ln_proc_fd']) {
      expect(result(r, name, run.stdout, run.stderr).link, name).toBe('EXDEV');
    }
    expect(result(r, 'ln_outside', run.stdout, run.stderr)).toMatchObject({ link: 'ENOENT', read: 'ENOENT' });
    expect(result(r, 'ln_state', run.stdout, run.stderr)).toMatchObject({ link: 'ENOENT', read: 'ENOENT' });
    expect(['ENOENT', 'EXDEV', 'EPERM']).toContain(result(r, 'ln_empty_path', run.stdout, run.stderr).link);
    // Control: hard links inside the workspace work.
    expect(result(r, 'ln_inside', run.stdout, run.stderr)).toMatchObject({ link: 'ok', read: 'INSIDE\n' });
    expect(statSync(join(workspace, 'inside.txt')).nlink).toBe(2);
    expect(statSync(outside).nlink).toBe(1);
    for (const name of ['etc_passwd', 'usr_sh', 'etc_hostname', 'outside', 'state', 'procfd', 'emptypath'])
      expect(existsSync(join(workspace, `hl-${name}`)), name).toBe(false);
  });

  it('SBX-09 setuid binaries gain nothing and mknod of a device fails', async () => {
    workspace = makeWorkspace(mode);
    const suid = join(workspace, 'suid-id');
    copyFileSync('/usr/bin/id', suid);
    chownSync(suid, 0, 0);
    chmodSync(suid, 0o4755);
    // Control: outside the sandbox, as the same uid, this binary does run as root.
    const ids = sandboxIds(mode);
    const control = spawnSync('setpriv', [`--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--clear-groups', '--', suid], {
      encoding: 'utf8',
    });
    expect(control.stdout).toContain('euid=0(root)');
    // Device nodes the host has (its disks among them): none may exist inside.
    const hostDevices = [
      'mem',
      'kmem',
      'port',
      'kmsg',
      ...readdirSync('/sys/block').filter((d) => !/^(loop|ram)/.test(d)),
    ].filter((d) => existsSync(`/dev/${d}`));
    expect(hostDevices.length).toBeGreaterThanOrEqual(2);
    const script = `
      echo SUID_ID="$(./suid-id)"
      echo SUID_EUID=$(./suid-id -u)
      mount -t tmpfs none /tmp 2>/dev/null; echo SUID_MOUNT=$?
      awk '/^NoNewPrivs:/ { print "NNP=" $2 }' /proc/self/status
      mknod ./null-dev c 1 3 2>/dev/null; echo MKNOD_CHR=$?
      mknod /tmp/disk b 8 0 2>/dev/null; echo MKNOD_BLK=$?
      python3 -c 'import os, stat, errno
try:
    os.mknod("/tmp/mem", 0o666 | stat.S_IFCHR, os.makedev(1, 1)); print("PY_MKNOD=ok")
except OSError as e:
    print("PY_MKNOD=" + errno.errorcode[e.errno])'
      mkfifo ./fifo 2>/dev/null; echo MKFIFO=$?
      for d in ${hostDevices.join(' ')}; do D=$(echo $d | tr a-z A-Z); test -e /dev/$d && echo DEV_$D=present || echo DEV_$D=absent; done`;
    const run = await runShell(mode, workspace, script);
    expectRan(run);
    const v = probeValues(run.stdout);
    expect(v.get('SUID_ID')).toMatch(new RegExp(`^uid=${ids.uid}\\(`));
    expect(v.get('SUID_ID')).not.toContain('euid=');
    expect(v.get('SUID_EUID')).toBe(String(ids.uid));
    expect(v.get('SUID_MOUNT')).toMatch(/^[1-9]\d*$/);
    expect(v.get('NNP')).toBe('1');
    expect(v.get('MKNOD_CHR')).toMatch(/^[1-9]\d*$/);
    expect(v.get('MKNOD_BLK')).toMatch(/^[1-9]\d*$/);
    expect(v.get('PY_MKNOD')).toBe('EPERM');
    expect(existsSync(join(workspace, 'null-dev'))).toBe(false);
    // Control: mknod itself works for what needs no privilege (a FIFO). The post-run check
    // removes it afterwards (SBX-22, host-exec.test.ts).
    expect(v.get('MKFIFO')).toBe('0');
    expect(existsSync(join(workspace, 'fifo'))).toBe(false);
    for (const d of hostDevices) expect(v.get(`DEV_${d.toUpperCase()}`), d).toBe('absent');
  });

  it('SBX-10 ptrace attach, process_vm_writev and writes to /proc/1/mem are refused', async () => {
    workspace = makeWorkspace(mode);
    const code = `${PY_PRELUDE}
class iovec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
out('ptrace_attach', result=sc(101, 16, child, 0, 0))
out('ptrace_seize', result=sc(101, 0x4206, child, 0, 0))
src = ctypes.create_string_buffer(b'canary', 16)
dst = ctypes.create_string_buffer(16)
local = iovec(ctypes.addressof(src), 6)
remote = iovec(ctypes.addressof(dst), 6)
out('process_vm_writev', result=sc(311, child, ctypes.addressof(local), 1, ctypes.addressof(remote), 1, 0))
out('process_vm_readv', result=sc(310, child, ctypes.addressof(local), 1, ctypes.addressof(remote), 1, 0))
os.kill(child, signal.SIGKILL)
os.waitpid(child, 0)
def write_mem(path):
    def go():
        with open(path, 'r+b', buffering=0) as f:
            f.seek(0x400000)
            f.write(b'\\xcc')
    return errname(go)
out('proc1_mem', write=write_mem('/proc/1/mem'), alt=write_mem('/proc/self/../1/mem'))
out('proc1', entries=os.listdir('/proc/1'), alive=errname(lambda: os.kill(1, 0)))
# Control: writing process memory through /proc works where it is allowed (our own).
target = ctypes.create_string_buffer(b'AAAA')
with open('/proc/self/mem', 'r+b', buffering=0) as f:
    f.seek(ctypes.addressof(target))
    f.write(b'BBBB')
out('self_mem', value=target.value.decode())
`;
    const run = await runPython(mode, workspace, code);
    expectRan(run);
    const r = probeResults(run.stdout);
    const get = (name: string): Record<string, unknown> => result(r, name, run.stdout, run.stderr);
    expect(get('ptrace_attach').result).toBe('EPERM');
    expect(get('ptrace_seize').result).toBe('EPERM');
    expect(get('process_vm_writev').result).toBe('EPERM');
    expect(get('process_vm_readv').result).toBe('EPERM');
    expect(get('proc1_mem')).toEqual({ name: 'proc1_mem', write: 'ENOENT', alt: 'ENOENT' });
    // pid 1 is there (signalling it works) but its /proc entry is an empty mask.
    expect(get('proc1')).toMatchObject({ entries: [], alive: 'ok' });
    expect(get('self_mem').value).toBe('BBBB');
  });

  it('SBX-11 io_uring setup is refused', async () => {
    workspace = makeWorkspace(mode);
    const code = `${PY_PRELUDE}
params = buf(b'\\0' * 120)
out('io_uring_setup', result=sc(425, 8, params))
out('io_uring_enter', result=sc(426, -1, 0, 0, 0, 0, 0))
out('io_uring_register', result=sc(427, -1, 0, 0, 0))
`;
    const run = await runPython(mode, workspace, code);
    expectRan(run);
    const r = probeResults(run.stdout);
    expect(result(r, 'io_uring_setup', run.stdout, run.stderr).result).toBe('EPERM');
    expect(result(r, 'io_uring_enter', run.stdout, run.stderr).result).toBe('EPERM');
    expect(result(r, 'io_uring_register', run.stdout, run.stderr).result).toBe('EPERM');
    // Control: the same call as the same uid outside the sandbox gets a ring (when the kernel allows io_uring at all).
    const host = await hostPython(code, ['{}'], sandboxIds(mode));
    const hostResults = probeResults(host.stdout);
    if (readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim() === '0') {
      expect(hostResults.get('io_uring_setup')?.result, host.stderr).toBe('ok');
      expect(hostResults.get('io_uring_enter')?.result).toBe('EBADF');
      expect(hostResults.get('io_uring_register')?.result).not.toBe('EPERM');
    }
  });

  it('SBX-12 a host socket or file warden itself inherited (no close-on-exec) reaches no process in the sandbox', async () => {
    workspace = makeWorkspace(mode);
    const marker = join(dirname(workspace), `inherited-${nonce()}.txt`);
    writeFileSync(marker, 'host file\n');
    const inodeFile = join(dirname(workspace), 'socket-inode');
    // warden is started holding one end of a connected host socket pair at fd 250 and a host file
    // at fd 7, both inheritable: what a terminal multiplexer or CI runner can leave behind.
    const wrapper = `import os, socket, sys
a, b = socket.socketpair()
os.dup2(a.fileno(), 250, inheritable=True)
open(${JSON.stringify(inodeFile)}, 'w').write(str(os.fstat(250).st_ino))
fd = os.open(${JSON.stringify(marker)}, os.O_RDONLY)
os.dup2(fd, 7, inheritable=True)
os.execvp(sys.argv[1], sys.argv[1:])`;
    const run = await warden(mode, ['run', '--', '/bin/sh', '-c', 'ls -l /proc/[0-9]*/fd/ 2>/dev/null'], {
      cwd: workspace,
      prefix: ['/usr/bin/python3', '-c', wrapper],
    });
    expectRan(run);
    const inode = readFileSync(inodeFile, 'utf8').trim();
    expect(inode).toMatch(/^\d+$/);
    // The listing saw the processes' descriptors (its own at least), and none is the host's.
    expect(run.stdout).toMatch(/-> \/dev\/null|-> pipe:/);
    expect(run.stdout).not.toContain(`socket:[${inode}]`);
    expect(run.stdout).not.toContain(marker);
  });

  it('SBX-12 host unix sockets, abstract sockets, AF_VSOCK and AF_NETLINK families are out of reach', async () => {
    workspace = makeWorkspace(mode);
    const n = nonce();
    const planted = [
      `/run/warden-escape-${n}.sock`,
      `/tmp/warden-escape-${n}.sock`,
      join(dirname(workspace), `sibling-${n}.sock`),
    ];
    const listeners = await Promise.all([
      ...planted.map((p) => startUnixListener(p)),
      startUnixListener(`\0warden-escape-${n}`),
    ]);
    cleanups.push(() => {
      for (const l of listeners) void l.close();
      for (const p of planted) rmSync(p, { force: true });
    });
    const code = `${PY_PRELUDE}
def unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect(path)
        return 'connected:' + s.recv(64).decode(errors='replace').strip()
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
for path in CFG['paths']:
    out(path, connect=unix(path))
# Node binds abstract names padded with NULs to the full sockaddr_un length: try both spellings.
name = '\\0' + CFG['abstract']
out('abstract_host', exact=unix(name), padded=unix(name + '\\0' * (108 - len(name))))
# Control: abstract sockets work inside the sandbox's own network namespace.
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind('\\0inside-' + CFG['abstract'])
srv.listen(1)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect('\\0inside-' + CFG['abstract'])
out('abstract_inside', connect='connected' if srv.accept() else 'no')
def family(fam, typ, proto=0):
    try:
        socket.socket(fam, typ, proto).close()
        return 'ok'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
out('vsock', create=family(40, socket.SOCK_STREAM))
out('netlink_sock_diag', create=family(16, socket.SOCK_RAW, 4))
out('netlink_audit', create=family(16, socket.SOCK_RAW, 9))
out('netlink_uevent', create=family(16, socket.SOCK_RAW, 15))
out('netlink_route', create=family(16, socket.SOCK_RAW, 0))
out('packet', create=family(17, socket.SOCK_RAW, 0x0300))
`;
    const paths = [
      '/var/run/docker.sock',
      '/run/docker.sock',
      '/run/dbus/system_bus_socket',
      '/run/systemd/journal/socket',
      ...planted,
    ];
    const config = { paths, abstract: `warden-escape-${n}` };
    const run = await runPython(mode, workspace, code, config);
    expectRan(run);
    const r = probeResults(run.stdout);
    const get = (name: string): Record<string, unknown> => result(r, name, run.stdout, run.stderr);
    for (const path of paths) expect(get(path).connect, path).toBe('ENOENT');
    expect(get('abstract_host')).toMatchObject({ exact: 'ECONNREFUSED', padded: 'ECONNREFUSED' });
    expect(listeners.map((l) => l.accepted)).toEqual([0, 0, 0, 0]);
    expect(get('abstract_inside').connect).toBe('connected');
    for (const name of ['vsock', 'netlink_sock_diag', 'netlink_audit', 'netlink_uevent', 'packet'])
      expect(get(name).create, name).toBe('EAFNOSUPPORT');
    // The sandbox keeps what it needs: NETLINK_ROUTE (interface lookups).
    expect(get('netlink_route').create).toBe('ok');
    // Controls: the planted sockets and the abstract one accept the same uid outside the sandbox,
    // and NETLINK_SOCK_DIAG works there.
    const host = await hostPython(
      code,
      [JSON.stringify({ paths: planted, abstract: config.abstract })],
      sandboxIds(mode),
    );
    const hostResults = probeResults(host.stdout);
    for (const path of planted)
      expect(hostResults.get(path)?.connect, `${path} from the host: ${host.stderr}`).toBe('connected:HOST-SOCKET');
    expect(hostResults.get('abstract_host')?.padded).toBe('connected:HOST-SOCKET');
    expect(hostResults.get('netlink_sock_diag')?.create).toBe('ok');
  });

  describe('SBX-13 processes do not outlive the run', () => {
    // Markers are assembled at run time, so only the children (not the script) carry them.
    const spawnAll = (n: string): string => `
      b=${n}
      sleep "1001.$b" &
      setsid sleep "1002.$b" &
      ( sleep "1003.$b" & ) &
      nohup sh -c 'trap "" TERM HUP INT; sleep "$0"' "1004.$b" >/dev/null 2>&1 &
      python3 -c 'import os, signal, sys, time
if os.fork(): sys.exit(0)
os.setsid()
if os.fork(): sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN); signal.signal(signal.SIGHUP, signal.SIG_IGN)
open("daemon-ready", "w").close()
time.sleep(1000)' "1005.$b" &
      echo ready > ready
      while [ ! -e go ]; do sleep 0.05; done
      echo done > done`;

    /** Waits until every kind of child is running on the host; returns their host pids. */
    async function survivors(n: string): Promise<number[]> {
      const markers = [1001, 1002, 1003, 1004, 1005].map((m) => `${m}.${n}`);
      const ok = await waitFor(
        () =>
          existsSync(join(workspace, 'ready')) &&
          existsSync(join(workspace, 'daemon-ready')) &&
          markers.every((m) => hostPidsWith(m).length > 0),
        15_000,
      );
      expect(ok, `not all children started: ${markers.map((m) => `${m}:${hostPidsWith(m).length}`).join(' ')}`).toBe(
        true,
      );
      const pids = markers.flatMap((m) => hostPidsWith(m));
      cleanups.push(() => killPids(pids.filter((p) => isAlive(p))));
      return pids;
    }

    async function expectAllGone(pids: readonly number[]): Promise<void> {
      const gone = await waitFor(() => pids.every((p) => !isAlive(p)), 5_000);
      expect(gone, `still alive: ${pids.filter((p) => isAlive(p)).join(' ')}`).toBe(true);
    }

    it('SBX-13 background, setsid, double-forked and signal-ignoring children die when the command exits', async () => {
      workspace = makeWorkspace(mode);
      const n = digitNonce();
      const running = runShell(mode, workspace, spawnAll(n));
      const pids = await survivors(n);
      expect(pids.length).toBeGreaterThanOrEqual(5);
      writeFileSync(join(workspace, 'go'), '');
      const run = await running;
      expectRan(run);
      expect(existsSync(join(workspace, 'done'))).toBe(true);
      await expectAllGone(pids);
    });

    it('SBX-13 the whole tree dies when warden gets SIGTERM', async () => {
      workspace = makeWorkspace(mode);
      const n = digitNonce();
      let wardenPid = -1;
      const running = runShell(mode, workspace, spawnAll(n), [], { onSpawn: (pid) => (wardenPid = pid) });
      const pids = await survivors(n);
      process.kill(wardenPid, 'SIGTERM');
      const run = await running;
      expect(run.summary?.reason, run.stderr).toBe('interrupted');
      expect(existsSync(join(workspace, 'done'))).toBe(false);
      await expectAllGone(pids);
    });

    it('SBX-13 the whole tree dies when warden gets SIGKILL', async () => {
      workspace = makeWorkspace(mode);
      const n = digitNonce();
      let wardenPid = -1;
      const running = runShell(mode, workspace, spawnAll(n), [], { onSpawn: (pid) => (wardenPid = pid) });
      const pids = await survivors(n);
      process.kill(wardenPid, 'SIGKILL');
      const run = await running;
      expect(run.signal).toBe('SIGKILL');
      await expectAllGone(pids);
    });
  });

  it('SBX-14 a memory bomb is killed and reported as the memory limit (exit 123)', async () => {
    workspace = makeWorkspace(mode);
    const code = `${PY_PRELUDE}
chunks = []
for i in range(64):
    chunks.append(b'\\x01' * (16 << 20))
    os.write(1, b'ALLOCATED_MIB=%d\\n' % ((i + 1) * 16))
print('SURVIVED=yes', flush=True)
`;
    const started = Date.now();
    const run = await runPython(mode, workspace, code, {}, ['--memory', '64MiB']);
    expect(run.code, run.stderr).toBe(123);
    expect(Date.now() - started).toBeLessThan(15_000);
    const allocated = run.stdout
      .split('\n')
      .filter((l) => l.startsWith('ALLOCATED_MIB='))
      .map((l) => Number(l.split('=')[1]));
    // It really allocated up to the limit, and no further.
    expect(Math.max(...allocated)).toBeGreaterThanOrEqual(32);
    expect(Math.max(...allocated)).toBeLessThan(80);
    expect(run.stdout).not.toContain('SURVIVED');
    expect(run.summary).toMatchObject({ reason: 'memory_limit', exit_code: 123, command_exit_code: 137 });
    expect(run.summary?.limits_hit).toContain('memory');
    const events = await auditEvents(mode, workspace, runIdOf(run));
    expect(events.filter((e) => e.type === 'limit.hit').map((e) => e.data.limit)).toContain('memory');
  });

  it('SBX-14 a fork bomb stops at the pid limit and the host stays responsive', async () => {
    workspace = makeWorkspace(mode);
    const n = nonce();
    const script = `
      b=${n}
      echo $WARDEN_RUN_ID > run-id
      python3 -c 'import os, signal, time, errno
kids = []
err = None
for i in range(10000):
    try:
        pid = os.fork()
    except OSError as e:
        err = errno.errorcode[e.errno]
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    kids.append(pid)
print("FORKED=%d" % len(kids)); print("FORK_ERROR=%s" % err, flush=True)
for k in kids: os.kill(k, signal.SIGKILL)
for k in kids: os.waitpid(k, 0)'
      echo bombing > bombing
      exec python3 -c 'import os
while True:
    try:
        os.fork()
    except OSError:
        pass' "bomb-$b"`;
    const running = runShell(mode, workspace, script, ['--pids', '64', '--cpu', '1', '--timeout', '5s']);
    expect(await waitFor(() => existsSync(join(workspace, 'bombing')), 15_000)).toBe(true);
    const runId = readFileSync(join(workspace, 'run-id'), 'utf8').trim();
    const pidsCurrent = join('/sys/fs/cgroup/pids', cgroupBase(mode), runId, 'pids.current');
    // While the bomb runs: the host answers quickly and the sandbox stays at its limit.
    let slowest = 0;
    let peak = 0;
    for (let i = 0; i < 8; i++) {
      const t = process.hrtime.bigint();
      expect(spawnSync('/bin/true').status).toBe(0);
      slowest = Math.max(slowest, Number(process.hrtime.bigint() - t) / 1e6);
      if (existsSync(pidsCurrent)) peak = Math.max(peak, Number(readFileSync(pidsCurrent, 'utf8')));
      peak = Math.max(peak, hostPidsWith(`bomb-${n}`).length);
      await new Promise((r) => setTimeout(r, 250));
    }
    const run = await running;
    expect(run.code, run.stderr).toBe(124);
    const v = probeValues(run.stdout);
    expect(v.get('FORK_ERROR')).toBe('EAGAIN');
    expect(Number(v.get('FORKED'))).toBeGreaterThan(40);
    expect(Number(v.get('FORKED'))).toBeLessThan(64);
    expect(peak, 'the bomb was running').toBeGreaterThan(30);
    expect(peak).toBeLessThanOrEqual(64);
    expect(slowest, 'spawning /bin/true on the host took too long').toBeLessThan(2_000);
    expect(run.summary?.limits_hit).toEqual(expect.arrayContaining(['pids', 'timeout']));
    expect(await waitFor(() => hostPidsWith(`bomb-${n}`).length === 0, 5_000)).toBe(true);
  });

  it('SBX-14 CPU is throttled to the --cpu quota', async () => {
    workspace = makeWorkspace(mode);
    const code = `${PY_PRELUDE}
start = time.time()
r, w = os.pipe()
kids = []
for i in range(2):
    pid = os.fork()
    if pid == 0:
        os.close(r)
        t0 = time.process_time()
        end = time.time() + 3.0
        while time.time() < end:
            pass
        os.write(w, b'%f\\n' % (time.process_time() - t0))
        os._exit(0)
    kids.append(pid)
os.close(w)
for k in kids:
    os.waitpid(k, 0)
cpu = sum(float(x) for x in os.read(r, 1000).split())
out('cpu', cpu=cpu, wall=time.time() - start)
`;
    const run = await runPython(mode, workspace, code, {}, ['--cpu', '0.2']);
    expectRan(run);
    const probe = result(probeResults(run.stdout), 'cpu', run.stdout, run.stderr);
    const cpu = Number(probe.cpu);
    const wall = Number(probe.wall);
    expect(wall).toBeGreaterThanOrEqual(2.9);
    // Two busy processes for 3 s would use up to 6 CPU-seconds unthrottled; the quota is 0.2 cores.
    expect(cpu, `cpu ${cpu.toFixed(2)} s over ${wall.toFixed(2)} s`).toBeLessThan(wall * 0.35);
    expect(cpu, 'the busy loops ran').toBeGreaterThan(wall * 0.05);
    expect(run.summary?.limits_hit).toContain('cpu');
  });

  it('SBX-15 the wall-clock timeout kills the whole tree and is reported (exit 124)', async () => {
    workspace = makeWorkspace(mode);
    const n = digitNonce();
    const script = `
      b=${n}
      sleep "2001.$b" &
      setsid sleep "2002.$b" &
      nohup sh -c 'trap "" TERM HUP INT; sleep "$0"' "2003.$b" >/dev/null 2>&1 &
      echo ready > ready
      sleep "2004.$b"`;
    const running = runShell(mode, workspace, script, ['--timeout', '2s']);
    const markers = [2001, 2002, 2003, 2004].map((m) => `${m}.${n}`);
    expect(
      await waitFor(
        () => existsSync(join(workspace, 'ready')) && markers.every((m) => hostPidsWith(m).length > 0),
        10_000,
      ),
    ).toBe(true);
    const pids = markers.flatMap((m) => hostPidsWith(m));
    cleanups.push(() => killPids(pids.filter((p) => isAlive(p))));
    const run = await running;
    expect(run.code, run.stderr).toBe(124);
    expect(run.summary).toMatchObject({ reason: 'timeout', exit_code: 124 });
    expect(run.summary?.limits_hit).toContain('timeout');
    expect(run.summary?.duration_ms).toBeGreaterThanOrEqual(1_900);
    expect(run.summary?.duration_ms).toBeLessThan(15_000);
    expect(
      await waitFor(() => pids.every((p) => !isAlive(p)), 5_000),
      `still alive: ${pids.filter((p) => isAlive(p)).join(' ')}`,
    ).toBe(true);
    const events = await auditEvents(mode, workspace, runIdOf(run));
    expect(events.filter((e) => e.type === 'limit.hit').map((e) => e.data.limit)).toContain('timeout');
    expect(events.find((e) => e.type === 'run.ended')?.data).toMatchObject({ reason: 'timeout', exit_code: 124 });
  });

  it("SBX-16 the environment holds no host variable that was not passed; warden's environ is unreachable", async () => {
    workspace = makeWorkspace(mode);
    const secret = nonce();
    const passed = nonce();
    const secrets: Record<string, string> = {
      WARDEN_ESCAPE_CANARY: `canary-${secret}`,
      AWS_SECRET_ACCESS_KEY: `aws-${secret}`,
      GITHUB_TOKEN: `ghp_${secret}`,
      ANTHROPIC_API_KEY: `sk-ant-${secret}`,
      SSH_AUTH_SOCK: `/tmp/ssh-${secret}/agent.sock`,
      LD_PRELOAD: `/tmp/preload-${secret}.so`,
    };
    // The probe searches every /proc/*/environ and cmdline it can read for a needle it is given in
    // two pieces, so its own command line never contains it; the passed variable is the control.
    const code = `${PY_PRELUDE}
def scan(needle):
    hits, scanned = [], 0
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        for part in ('environ', 'cmdline'):
            try:
                data = open('/proc/%s/%s' % (pid, part), 'rb').read()
            except OSError:
                continue
            scanned += 1
            if needle.encode() in data:
                hits.append('%s/%s' % (pid, part))
    return hits, scanned
secret = ''.join(CFG['secret'])
hits, scanned = scan(secret)
out('scan_secret', hits=hits, scanned=scanned)
out('scan_passed', hits=scan(''.join(CFG['passed']))[0])
out('env', names=sorted(os.environ), values_with_secret=[k for k, v in os.environ.items() if secret in v])
out('passed', by_name=os.environ.get('PASSED_BY_NAME'), inline=os.environ.get('SET_INLINE'))
for i in range(200):
    if os.path.exists('warden-pid') and open('warden-pid').read().strip():
        break
    time.sleep(0.05)
wpid = int(open('warden-pid').read())
out('warden', pid=wpid, environ=errname(lambda: open('/proc/%d/environ' % wpid, 'rb').read()), status=errname(lambda: open('/proc/%d/status' % wpid).read()))
`;
    const config = { secret: [secret.slice(0, 4), secret.slice(4)], passed: [passed.slice(0, 4), passed.slice(4)] };
    const run = await runPython(
      mode,
      workspace,
      code,
      config,
      ['--env', 'PASSED_BY_NAME', '--env', `SET_INLINE=inline-${passed}`],
      {
        env: { ...secrets, PASSED_BY_NAME: `by-name-${passed}` },
        onSpawn: (pid) => {
          writeFileSync(join(workspace, 'warden-pid'), String(pid));
          giveToSandbox(mode, join(workspace, 'warden-pid'));
        },
      },
    );
    expectRan(run);
    const r = probeResults(run.stdout);
    const get = (name: string): Record<string, unknown> => result(r, name, run.stdout, run.stderr);
    // Control: what was passed explicitly is there, and the /proc scan finds it.
    expect(get('passed')).toMatchObject({ by_name: `by-name-${passed}`, inline: `inline-${passed}` });
    expect(get('scan_passed').hits).toEqual(expect.arrayContaining([expect.stringMatching(/^\d+\/environ$/)]));
    // Nothing else from warden's environment.
    expect(get('scan_secret').hits).toEqual([]);
    expect(Number(get('scan_secret').scanned)).toBeGreaterThan(2);
    expect(get('env').values_with_secret).toEqual([]);
    const allowed = [
      'PWD',
      'ALL_PROXY',
      'HOME',
      'HTTPS_PROXY',
      'HTTP_PROXY',
      'LANG',
      'LOGNAME',
      'NODE_OPTIONS',
      'NODE_USE_ENV_PROXY',
      'NO_PROXY',
      'PATH',
      'SHELL',
      'TMPDIR',
      'USER',
      'WARDEN_RUN_ID',
      'WARDEN_SANDBOX',
      'all_proxy',
      'http_proxy',
      'https_proxy',
      'no_proxy',
      'PASSED_BY_NAME',
      'SET_INLINE',
      // The CA bundle's path inside (sandbox/ca-bundle.ts): warden's own value, never a host variable's.
      'SSL_CERT_FILE',
      'REQUESTS_CA_BUNDLE',
      'CURL_CA_BUNDLE',
      'GIT_SSL_CAINFO',
      'NODE_EXTRA_CA_CERTS',
    ];
    const names = get('env').names as string[];
    expect(
      names.filter((name) => !allowed.includes(name)),
      'variables nobody passed',
    ).toEqual([]);
    for (const name of Object.keys(secrets)) expect(names).not.toContain(name);
    // Warden's own process (which holds the secrets) is not reachable through /proc.
    expect(Number(get('warden').pid)).toBeGreaterThan(0);
    expect(get('warden')).toMatchObject({ environ: 'ENOENT', status: 'ENOENT' });
  });

  it('SBX-17 a file written in one run is gone in the next; the workspace persists', async () => {
    workspace = makeWorkspace(mode);
    const n = nonce();
    const first = await runShell(
      mode,
      workspace,
      `
      echo ${n} > /tmp/left-behind-${n} && echo WROTE_TMP=$(cat /tmp/left-behind-${n})
      echo ${n} > /var/tmp/left-behind-${n} && echo WROTE_VAR_TMP=$(cat /var/tmp/left-behind-${n})
      echo ${n} > $HOME/left-behind-${n} && echo WROTE_HOME=$(cat $HOME/left-behind-${n})
      echo ${n} > kept-${n} && echo WROTE_WS=$(cat kept-${n})`,
    );
    expectRan(first);
    const wrote = probeValues(first.stdout);
    for (const key of ['WROTE_TMP', 'WROTE_VAR_TMP', 'WROTE_HOME', 'WROTE_WS']) expect(wrote.get(key), key).toBe(n);
    const second = await runShell(
      mode,
      workspace,
      `
      for f in /tmp /var/tmp $HOME; do test -e $f/left-behind-${n} && echo "FOUND=$f"; done
      echo CHECKED=yes
      echo KEPT=$(cat kept-${n})`,
    );
    expectRan(second);
    const found = probeValues(second.stdout);
    expect(found.get('CHECKED')).toBe('yes');
    expect(found.has('FOUND'), `left behind: ${found.get('FOUND') ?? ''}`).toBe(false);
    expect(found.get('KEPT')).toBe(n);
    expect(readFileSync(join(workspace, `kept-${n}`), 'utf8')).toBe(`${n}\n`);
    expect(existsSync(`/tmp/left-behind-${n}`)).toBe(false);
    expect(existsSync(`/var/tmp/left-behind-${n}`)).toBe(false);
  });

  describe('SBX-18 a degraded host fails closed', () => {
    it('SBX-18 bwrap missing: warden refuses with a clear message and runs nothing', async () => {
      workspace = makeWorkspace(mode);
      const run = await runShell(mode, workspace, 'touch ran-unsandboxed', [], {
        env: { WARDEN_BWRAP: '/nonexistent/bwrap' },
      });
      expect(run.code).toBe(125);
      expect(run.stderr).toMatch(/bubblewrap \(bwrap\) not found at \/nonexistent\/bwrap; refusing to run unsandboxed/);
      expect(run.stderr).toContain('SANDBOX_UNAVAILABLE');
      expect(existsSync(join(workspace, 'ran-unsandboxed'))).toBe(false);
    });

    it('SBX-18 user namespaces disabled: warden refuses with a clear message and runs nothing', async () => {
      workspace = makeWorkspace(mode);
      const args = ['run', '--', '/bin/sh', '-c', 'touch ran-$1', 'sh'];
      // Control: the same wrapper with user namespaces left enabled runs the command.
      const control = await wardenInUserns(mode, '-', [...args, 'control'], { cwd: workspace });
      expect(control.code, control.stderr).toBe(0);
      expect(existsSync(join(workspace, 'ran-control'))).toBe(true);
      const disabled = await wardenInUserns(mode, '0', [...args, 'disabled'], { cwd: workspace });
      expect(disabled.code).toBe(125);
      expect(disabled.stderr).toMatch(
        /unprivileged user namespaces are disabled \(user\.max_user_namespaces is 0\); refusing to run unsandboxed/,
      );
      expect(existsSync(join(workspace, 'ran-disabled'))).toBe(false);
      // The kernel refusing namespaces that warden's own check did not foresee also fails closed.
      const exhausted = await wardenInUserns(mode, '1', [...args, 'exhausted'], { cwd: workspace });
      expect(exhausted.code).toBe(125);
      expect(exhausted.stderr).toMatch(/SANDBOX_(START_FAILED|UNAVAILABLE)/);
      expect(exhausted.stderr).toMatch(/user ns|namespace/);
      expect(existsSync(join(workspace, 'ran-exhausted'))).toBe(false);
      expect(readFileSync('/proc/sys/user/max_user_namespaces', 'utf8').trim()).not.toBe('0');
    });

    it.skipIf(mode === 'user')(
      "SBX-18 sandbox user missing: warden (as root) refuses and runs nothing [root only: an ordinary user's sandbox runs as that user]",
      async () => {
        workspace = makeWorkspace(mode);
        const config = join(dirname(workspace), 'warden.yaml');
        writeFileSync(config, 'version: 1\nsandbox:\n  user: warden-nosuchuser\n');
        const run = await runShell(mode, workspace, 'touch ran-as-root', [], {});
        expectRan(run);
        rmSync(join(workspace, 'ran-as-root'));
        const refused = await warden(mode, ['--config', config, 'run', '--', '/bin/sh', '-c', 'touch ran-as-root'], {
          cwd: workspace,
        });
        expect(refused.code).toBe(125);
        expect(refused.stderr).toMatch(
          /the sandbox user 'warden-nosuchuser' does not exist; warden will not run a sandbox as root/,
        );
        expect(existsSync(join(workspace, 'ran-as-root'))).toBe(false);
      },
    );
  });

  it('SBX-19 keyring, bpf, perf_event_open, userfaultfd, kexec, modules, unshare/setns and mount are refused', async () => {
    workspace = makeWorkspace(mode);
    // Arguments chosen so the bare kernel answers something other than EPERM where it can
    // (as in test/integration/seccomp.test.ts); the host control below checks those.
    const code = `${PY_PRELUDE}
def in_child(fn):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            res = fn()
        except BaseException as e:
            res = 'exception:' + type(e).__name__
        os.write(w, str(res).encode())
        os._exit(0)
    os.close(w)
    data = os.read(r, 4096).decode()
    os.waitpid(pid, 0)
    return data
out('keyctl', result=sc(250, 0, -2, 1))
out('add_key', result=sc(248, buf(b'user'), buf(b'warden-probe'), buf(b'x'), 1, -2))
out('request_key', result=sc(249, buf(b'user'), buf(b'warden-absent'), 0, 0))
out('bpf', result=sc(321, 9999, 0, 0))
out('perf_event_open', result=sc(298, 0, 0, -1, -1, 0))
out('userfaultfd', result=sc(323, 1 | os.O_CLOEXEC))
out('kexec_load', result=sc(246, 0, 0, 0, 0))
out('kexec_file_load', result=sc(320, -1, -1, 0, 0, 0))
out('init_module', result=sc(175, 0, 0, 0))
out('finit_module', result=sc(313, -1, 0, 0))
out('delete_module', result=sc(176, 0, 0))
out('unshare_user', result=in_child(lambda: sc(272, 0x10000000)))
out('unshare_mount', result=in_child(lambda: sc(272, 0x20000)))
out('setns', result=sc(308, -1, 0))
out('mount', result=sc(165, 0, buf(b'/tmp'), 1, 0, 0))
out('umount2', result=sc(166, buf(b'/tmp'), 0x10))
out('fsopen', result=sc(430, buf(b'tmpfs'), 0))
out('open_tree', result=sc(428, -100, buf(b'/'), 0))
`;
    const run = await runPython(mode, workspace, code);
    expectRan(run);
    const r = probeResults(run.stdout);
    const syscalls = [
      'keyctl',
      'add_key',
      'request_key',
      'bpf',
      'perf_event_open',
      'userfaultfd',
      'kexec_load',
      'kexec_file_load',
      'init_module',
      'finit_module',
      'delete_module',
      'unshare_user',
      'unshare_mount',
      'setns',
      'mount',
      'umount2',
      'fsopen',
      'open_tree',
    ];
    for (const name of syscalls) expect(result(r, name, run.stdout, run.stderr).result, name).toBe('EPERM');
    // Shell tools a user would reach for fail the same way.
    const tools = await runShell(
      mode,
      workspace,
      `
      unshare -U true 2>/dev/null; echo UNSHARE_U=$?
      unshare -r id 2>/dev/null; echo UNSHARE_R=$?`,
    );
    expectRan(tools);
    expect(probeValues(tools.stdout).get('UNSHARE_U')).toMatch(/^[1-9]\d*$/);
    expect(probeValues(tools.stdout).get('UNSHARE_R')).toMatch(/^[1-9]\d*$/);
    // Control: the same probe as the same uid on the host, unfiltered, gets other answers.
    const host = await hostPython(code, ['{}'], sandboxIds(mode));
    const hostResults = probeResults(host.stdout);
    for (const name of [
      'keyctl',
      'add_key',
      'request_key',
      'userfaultfd',
      'unshare_user',
      'setns',
      'mount',
      'umount2',
      'open_tree',
    ]) {
      expect(hostResults.get(name)?.result, `${name} on the host: ${host.stderr}`).not.toBe('EPERM');
    }
  });
});
