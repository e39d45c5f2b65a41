import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
import { isWardenError } from '../core/errors.js';
import { buildSeccompFilter, SECCOMP_RULES } from './seccomp.js';

// These tests run the generated program in a small classic-BPF interpreter written here,
// independently of the generator's assembler, against seccomp_data built the way the kernel lays
// it out. test/integration/seccomp.test.ts checks the same rules against the real kernel.

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const ALLOW = 0x7fff0000;
const KILL_PROCESS = 0x80000000;
const EPERM = 0x00050000 | 1;
const ENOSYS = 0x00050000 | 38;
const EAFNOSUPPORT = 0x00050000 | 97;
const KNOWN_ACTIONS = new Set([ALLOW, KILL_PROCESS, EPERM, ENOSYS, EAFNOSUPPORT]);

/** Independent copy of the numbers (syscall_64.tbl); cross-checked against <asm/unistd_64.h> below. */
const REFUSED_WITH_EPERM: Readonly<Record<string, number>> = {
  // SBX-10
  ptrace: 101,
  process_vm_readv: 310,
  process_vm_writev: 311,
  kcmp: 312,
  pidfd_getfd: 438,
  process_madvise: 440,
  // SBX-11
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  // SBX-19
  keyctl: 250,
  add_key: 248,
  request_key: 249,
  bpf: 321,
  perf_event_open: 298,
  userfaultfd: 323,
  kexec_load: 246,
  kexec_file_load: 320,
  init_module: 175,
  finit_module: 313,
  delete_module: 176,
  unshare: 272,
  setns: 308,
  mount: 165,
  umount2: 166,
  pivot_root: 155,
  move_mount: 429,
  open_tree: 428,
  open_tree_attr: 467,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  mount_setattr: 442,
  // container deny list
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  acct: 163,
  settimeofday: 164,
  clock_settime: 227,
  clock_adjtime: 305,
  adjtimex: 159,
  syslog: 103,
  open_by_handle_at: 304,
  name_to_handle_at: 303,
  lookup_dcookie: 212,
  quotactl: 179,
  quotactl_fd: 443,
  vhangup: 153,
  iopl: 172,
  ioperm: 173,
  uselib: 134,
  nfsservctl: 180,
  create_module: 174,
  get_kernel_syms: 177,
  query_module: 178,
  fanotify_init: 300,
};
const NR = { ioctl: 16, socket: 41, socketpair: 53, clone: 56, personality: 135, clone3: 435, openat2: 437 } as const;
/** Syscalls that set a file's mode, and the index of the mode argument. */
const MODE_SETTERS: Readonly<Record<string, readonly [number, number]>> = {
  open: [2, 2],
  creat: [85, 1],
  chmod: [90, 1],
  fchmod: [91, 1],
  mknod: [133, 1],
  openat: [257, 3],
  mknodat: [259, 2],
  fchmodat: [268, 2],
  fchmodat2: [452, 2],
};
const ORDINARY = {
  read: 0,
  write: 1,
  mmap: 9,
  execve: 59,
  fork: 57,
  vfork: 58,
  prctl: 157,
  seccomp: 317,
  pidfd_open: 434,
  connect: 42,
};

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

function decode(bytes: Buffer): Insn[] {
  const out: Insn[] = [];
  for (let i = 0; i < bytes.length; i += 8) {
    out.push({
      code: bytes.readUInt16LE(i),
      jt: bytes.readUInt8(i + 2),
      jf: bytes.readUInt8(i + 3),
      k: bytes.readUInt32LE(i + 4),
    });
  }
  return out;
}

const LD_W_ABS = 0x20;
const ALU_AND_K = 0x54;
const JA = 0x05;
const JEQ_K = 0x15;
const JGT_K = 0x25;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;
const CONDITIONAL = new Set([JEQ_K, JGT_K, JGE_K, JSET_K]);

interface Call {
  nr: number;
  arch?: number;
  args?: readonly bigint[];
}

/** struct seccomp_data, little-endian: int nr; u32 arch; u64 ip; u64 args[6]. */
function seccompData(call: Call): Buffer {
  const data = Buffer.alloc(64);
  data.writeUInt32LE(call.nr >>> 0, 0);
  data.writeUInt32LE(call.arch ?? AUDIT_ARCH_X86_64, 4);
  data.writeBigUInt64LE(0x401000n, 8);
  (call.args ?? []).forEach((arg, i) => data.writeBigUInt64LE(BigInt.asUintN(64, arg), 16 + 8 * i));
  return data;
}

/** Runs the program the way the kernel's classic-BPF seccomp interpreter would. */
function evaluate(program: readonly Insn[], call: Call): number {
  const data = seccompData(call);
  let a = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const insn = program[pc];
    if (insn === undefined) break;
    switch (insn.code) {
      case LD_W_ABS:
        if (insn.k % 4 !== 0 || insn.k + 4 > data.length) throw new Error(`load out of seccomp_data at ${pc}`);
        a = data.readUInt32LE(insn.k);
        break;
      case ALU_AND_K:
        a = (a & insn.k) >>> 0;
        break;
      case JA:
        pc += insn.k;
        break;
      case JEQ_K:
        pc += a === insn.k ? insn.jt : insn.jf;
        break;
      case JGT_K:
        pc += a > insn.k ? insn.jt : insn.jf;
        break;
      case JGE_K:
        pc += a >= insn.k ? insn.jt : insn.jf;
        break;
      case JSET_K:
        pc += (a & insn.k) !== 0 ? insn.jt : insn.jf;
        break;
      case RET_K:
        return insn.k;
      default:
        throw new Error(`unexpected opcode 0x${insn.code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('fell off the end of the program');
}

const program = decode(buildSeccompFilter('x64').bytes);
const verdict = (call: Call): number => evaluate(program, call);
const GARBAGE = [0xdeadbeefcafef00dn, 0xffffffffffffffffn, 0n, 1n, 0x7fffffffn, 0x100000000n];

describe('buildSeccompFilter structure', () => {
  it('is a non-empty array of 8-byte sock_filter entries within the kernel limit', () => {
    const built = buildSeccompFilter('x64');
    expect(built.instructions).toBeGreaterThan(0);
    expect(built.instructions).toBeLessThanOrEqual(4096);
    expect(built.bytes.length).toBe(built.instructions * 8);
  });

  it('starts by checking the audit arch, then the x32 bit', () => {
    expect(program[0]).toEqual({ code: LD_W_ABS, jt: 0, jf: 0, k: 4 });
    expect(program[1]?.code).toBe(JEQ_K);
    expect(program[1]?.k).toBe(AUDIT_ARCH_X86_64);
    expect(program[2]).toEqual({ code: LD_W_ABS, jt: 0, jf: 0, k: 0 });
    expect(program[3]?.code).toBe(JSET_K);
    expect(program[3]?.k).toBe(0x40000000);
  });

  it('keeps every jump inside the program, every load inside seccomp_data, and ends with ret', () => {
    program.forEach((insn, pc) => {
      if (CONDITIONAL.has(insn.code)) {
        expect(pc + 1 + insn.jt, `jt at ${pc}`).toBeLessThan(program.length);
        expect(pc + 1 + insn.jf, `jf at ${pc}`).toBeLessThan(program.length);
      } else if (insn.code === JA) {
        expect(pc + 1 + insn.k, `ja at ${pc}`).toBeLessThan(program.length);
      } else if (insn.code === LD_W_ABS) {
        expect(insn.k % 4).toBe(0);
        expect(insn.k).toBeLessThan(64);
      } else {
        expect([ALU_AND_K, RET_K]).toContain(insn.code);
      }
    });
    expect(program.at(-1)?.code).toBe(RET_K);
  });

  it('has no unreachable instruction and returns only known actions', () => {
    const reached = new Set<number>([0]);
    program.forEach((insn, pc) => {
      if (!reached.has(pc)) return;
      if (CONDITIONAL.has(insn.code)) {
        reached.add(pc + 1 + insn.jt).add(pc + 1 + insn.jf);
      } else if (insn.code === JA) {
        reached.add(pc + 1 + insn.k);
      } else if (insn.code !== RET_K) {
        reached.add(pc + 1);
      } else {
        expect(KNOWN_ACTIONS.has(insn.k), `ret 0x${insn.k.toString(16)} at ${pc}`).toBe(true);
      }
    });
    expect(reached.size).toBe(program.length);
  });

  it('is deterministic and cached, yet a caller cannot corrupt it by mutating the returned bytes', () => {
    const first = buildSeccompFilter('x64');
    const copy = Buffer.from(first.bytes);
    first.bytes.fill(0);
    const second = buildSeccompFilter('x64');
    expect(second.bytes.equals(copy)).toBe(true);
    expect(second.instructions).toBe(first.instructions);
  });

  it.runIf(process.arch === 'x64')('defaults to the running arch', () => {
    expect(buildSeccompFilter().bytes.equals(buildSeccompFilter('x64').bytes)).toBe(true);
  });

  it.each(['arm64', 'ia32', 'x32', '', 'toString', '__proto__'])('refuses arch %j with SANDBOX_UNAVAILABLE', (arch) => {
    let caught: unknown;
    try {
      buildSeccompFilter(arch);
    } catch (error) {
      caught = error;
    }
    expect(isWardenError(caught)).toBe(true);
    if (!isWardenError(caught)) return;
    expect(caught.code).toBe('SANDBOX_UNAVAILABLE');
    expect(caught.message).toContain('only x64');
  });
});

describe('seccomp filter verdicts', () => {
  it.each([
    ['i386 (int 0x80)', AUDIT_ARCH_I386],
    ['aarch64', AUDIT_ARCH_AARCH64],
    ['zero', 0],
  ])('kills a syscall from a foreign ABI: %s', (_name, arch) => {
    expect(verdict({ nr: 20, arch })).toBe(KILL_PROCESS);
    expect(verdict({ nr: 0, arch })).toBe(KILL_PROCESS);
  });

  it.each([39, 0, 101, 514, 0x3fffffff])('kills x32-ABI syscall 0x40000000|%i', (nr) => {
    expect(verdict({ nr: 0x40000000 | nr })).toBe(KILL_PROCESS);
  });

  it.each(Object.entries(REFUSED_WITH_EPERM))(
    'SBX-10/11/19 and deny list: %s (%i) is refused with EPERM whatever its arguments',
    (_name, nr) => {
      expect(verdict({ nr })).toBe(EPERM);
      expect(verdict({ nr, args: GARBAGE })).toBe(EPERM);
    },
  );

  it.each(Object.entries(ORDINARY))('allows ordinary syscall %s', (_name, nr) => {
    expect(verdict({ nr, args: GARBAGE })).toBe(ALLOW);
  });

  it('clone3 gets ENOSYS so glibc falls back to clone', () => {
    expect(verdict({ nr: NR.clone3, args: [0n, 88n] })).toBe(ENOSYS);
  });

  it('openat2 gets ENOSYS (its mode is in a struct) so callers fall back to openat', () => {
    expect(verdict({ nr: NR.openat2, args: GARBAGE })).toBe(ENOSYS);
  });

  describe.each(Object.entries(MODE_SETTERS))('SBX-22 %s', (_name, [nr, index]) => {
    const call = (mode: bigint, filler = 0n): number =>
      verdict({ nr, args: [0, 1, 2, 3, 4, 5].map((i) => (i === index ? mode : filler)) });
    it('refuses a mode with the setuid or setgid bit, whatever the high bits', () => {
      for (const mode of [0o4755n, 0o2755n, 0o6777n, 0o104755n, (0xffffn << 48n) | 0o4000n, 0xffffffffn])
        expect(call(mode), mode.toString(8)).toBe(EPERM);
    });
    it('allows every other mode, whatever the other arguments', () => {
      for (const mode of [0n, 0o644n, 0o755n, 0o1777n, 0o100644n, 0o20666n, (0xffffn << 48n) | 0o1777n])
        expect(call(mode, 0xffffffffffffffffn), mode.toString(8)).toBe(ALLOW);
    });
  });

  const NAMESPACE_FLAGS = {
    CLONE_NEWUSER: 0x10000000n,
    CLONE_NEWNS: 0x00020000n,
    CLONE_NEWPID: 0x20000000n,
    CLONE_NEWNET: 0x40000000n,
    CLONE_NEWUTS: 0x04000000n,
    CLONE_NEWIPC: 0x08000000n,
    CLONE_NEWCGROUP: 0x02000000n,
    CLONE_NEWTIME: 0x00000080n,
  };
  it.each(Object.entries(NAMESPACE_FLAGS))('SBX-19 clone with %s is refused, whatever the high word', (_name, flag) => {
    const SIGCHLD = 17n;
    expect(verdict({ nr: NR.clone, args: [flag | SIGCHLD] })).toBe(EPERM);
    expect(verdict({ nr: NR.clone, args: [(0xffffffffn << 32n) | flag | SIGCHLD] })).toBe(EPERM);
  });

  it('allows clone for fork and threads, ignoring the high word the kernel ignores', () => {
    const fork = 0x01200011n; // CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD (glibc fork)
    const thread = 0x003d0f00n; // glibc pthread_create
    const vfork = 0x00004111n; // posix_spawn: CLONE_VM | CLONE_VFORK | SIGCHLD
    for (const flags of [fork, thread, vfork, 0xffffffffn << 32n]) {
      expect(verdict({ nr: NR.clone, args: [flags, 0n, 0n, 0n, 0n] })).toBe(ALLOW);
    }
  });

  describe.each([
    ['socket', NR.socket],
    ['socketpair', NR.socketpair],
  ])('SBX-12 %s', (_name, nr) => {
    const call = (family: bigint, type: bigint, protocol: bigint): number =>
      verdict({ nr, args: [family, type, protocol] });
    it('allows AF_UNIX, AF_INET and AF_INET6 with any type', () => {
      for (const family of [1n, 2n, 10n]) {
        for (const type of [1n, 2n, 3n, 5n, 0x80801n]) expect(call(family, type, 0n)).toBe(ALLOW);
      }
      expect(call(10n, 10n, 0n)).toBe(ALLOW); // no SOCK_PACKET remapping for AF_INET6
    });

    it('allows AF_NETLINK only with NETLINK_ROUTE', () => {
      expect(call(16n, 3n, 0n)).toBe(ALLOW);
      expect(call(16n, 0x80003n, 0xffffffffn << 32n)).toBe(ALLOW); // the kernel reads an int protocol: 0
      for (const protocol of [4n, 9n, 12n, 15n, 16n, 0xffffffffn]) expect(call(16n, 3n, protocol)).toBe(EAFNOSUPPORT);
    });

    it('refuses AF_VSOCK, AF_PACKET, AF_ALG, AF_BLUETOOTH, AF_XDP and unknown families with EAFNOSUPPORT', () => {
      for (const family of [0n, 3n, 17n, 31n, 38n, 40n, 44n, 45n, 46n, 0xffffffffn])
        expect(call(family, 1n, 0n)).toBe(EAFNOSUPPORT);
    });

    it('compares the family as the kernel does: low 32 bits only', () => {
      expect(call((1n << 32n) | 40n, 1n, 0n)).toBe(EAFNOSUPPORT);
      expect(call((0xffffffffn << 32n) | 2n, 1n, 0n)).toBe(ALLOW);
    });

    it('refuses (AF_INET, SOCK_PACKET), which the kernel turns into AF_PACKET, with or without flags', () => {
      expect(call(2n, 10n, 0x300n)).toBe(EAFNOSUPPORT);
      expect(call(2n, 10n | 0x80000n | 0x800n, 0x300n)).toBe(EAFNOSUPPORT);
    });
  });

  it.each([
    ['TIOCSTI', 0x5412n],
    ['TIOCLINUX', 0x541cn],
  ])('refuses ioctl %s with EPERM, also with junk in the high word', (_name, cmd) => {
    expect(verdict({ nr: NR.ioctl, args: [0n, cmd, 0n] })).toBe(EPERM);
    expect(verdict({ nr: NR.ioctl, args: [0n, (0xdeadn << 32n) | cmd, 0n] })).toBe(EPERM);
  });

  it('allows other ioctls', () => {
    for (const cmd of [0x5401n, 0x5413n, 0x541bn, 0x5411n, 0x541dn, 0x80045430n]) {
      expect(verdict({ nr: NR.ioctl, args: [1n, cmd, 0n] })).toBe(ALLOW);
    }
  });

  it("allows exactly the personality values of Docker's default profile", () => {
    for (const persona of [0n, 8n, 0x20000n, 0x20008n, 0xffffffffn]) {
      expect(verdict({ nr: NR.personality, args: [persona] })).toBe(ALLOW);
    }
    for (const persona of [1n, 0x0040000n, 0x0400000n, 0x0200000n, 0x20009n, 0xfffffffen]) {
      expect(verdict({ nr: NR.personality, args: [persona] })).toBe(EPERM);
    }
  });

  it('never falls off the program or returns an unknown action, whatever the input', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 600 }), fc.integer({ min: -2147483648, max: 2147483647 })),
        fc.constantFrom(AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, 0),
        fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 6, maxLength: 6 }),
        (nr, arch, args) => KNOWN_ACTIONS.has(verdict({ nr, arch, args })),
      ),
    );
  });

  it('allows every x86_64 syscall it does not name, whatever the arguments', () => {
    const named = new Set<number>([
      ...Object.values(REFUSED_WITH_EPERM),
      ...Object.values(NR),
      ...Object.values(MODE_SETTERS).map(([nr]) => nr),
    ]);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x3fffffff }).filter((nr) => !named.has(nr)),
        fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: 6, maxLength: 6 }),
        (nr, args) => verdict({ nr, args }) === ALLOW,
      ),
    );
  });
});

describe('SECCOMP_RULES', () => {
  it('describes every rule with a what, an action and a why', () => {
    expect(SECCOMP_RULES.length).toBeGreaterThan(5);
    for (const rule of SECCOMP_RULES) {
      expect(rule.what.length).toBeGreaterThan(0);
      expect(rule.why.length).toBeGreaterThan(10);
      expect(['EPERM', 'ENOSYS', 'EAFNOSUPPORT', 'KILL_PROCESS']).toContain(rule.action);
    }
    expect(Object.isFrozen(SECCOMP_RULES)).toBe(true);
  });

  it('names every syscall refused with EPERM under an EPERM rule', () => {
    const listed = new Set(
      SECCOMP_RULES.filter((rule) => rule.action === 'EPERM').flatMap((rule) => rule.what.split(/[\s,]+/)),
    );
    for (const name of Object.keys(REFUSED_WITH_EPERM)) expect(listed, name).toContain(name);
  });

  it('documents the argument rules, clone3 and the foreign ABIs', () => {
    const text = (action: string): string =>
      SECCOMP_RULES.filter((r) => r.action === action)
        .map((r) => r.what)
        .join('\n');
    expect(text('ENOSYS')).toContain('clone3');
    expect(text('ENOSYS')).toContain('openat2');
    expect(text('EPERM')).toMatch(/openat.*chmod.*fchmodat2.*S_ISUID or S_ISGID/s);
    expect(text('EAFNOSUPPORT')).toMatch(/AF_UNIX.*AF_INET.*AF_INET6.*NETLINK_ROUTE/s);
    expect(text('EPERM')).toMatch(/TIOCSTI/);
    expect(text('EPERM')).toMatch(/clone with any of .*CLONE_NEWUSER/);
    expect(text('EPERM')).toMatch(/personality/);
    expect(text('KILL_PROCESS')).toMatch(/i386/);
    expect(text('KILL_PROCESS')).toMatch(/x32/);
  });
});

// The test's own table is typed from syscall_64.tbl; where the system headers exist, check it
// against them too (Debian 12's headers predate open_tree_attr, which is then skipped).
const UNISTD = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
describe.runIf(existsSync(UNISTD))('syscall numbers', () => {
  it('match <asm/unistd_64.h>', () => {
    const header = readFileSync(UNISTD, 'utf8');
    const defined = new Map<string, number>();
    for (const match of header.matchAll(/^#define __NR_(\w+) (\d+)$/gm)) defined.set(match[1] ?? '', Number(match[2]));
    const modeSetters = Object.fromEntries(Object.entries(MODE_SETTERS).map(([name, [nr]]) => [name, nr]));
    for (const [name, nr] of Object.entries({ ...REFUSED_WITH_EPERM, ...NR, ...ORDINARY, ...modeSetters })) {
      if (defined.has(name)) expect(defined.get(name), name).toBe(nr);
    }
    expect(defined.size).toBeGreaterThan(300);
  });
});
