/**
 * The sandbox's seccomp filter, generated here as classic BPF so that no native build (libseccomp)
 * is needed. bwrap reads the bytes from `--seccomp FD` and installs them with
 * SECCOMP_SET_MODE_FILTER (after setting no_new_privs) just before it execs the command.
 *
 * The filter is a deny list on top of the namespaces and dropped capabilities: most of what it
 * refuses the kernel would also refuse for lack of a capability, but each of these syscalls is a
 * large kernel attack surface (or, like io_uring, a side door around other checks) that a sandboxed
 * agent never needs. See SECCOMP_RULES for the list and the threat cases (SBX-10/11/12/19) it serves.
 */
import { WardenError } from '../core/errors.js';

/** A compiled filter: `struct sock_filter[]` as bwrap's `--seccomp FD` expects it. */
export interface SeccompProgram {
  /** Little-endian `struct sock_filter` array (u16 code, u8 jt, u8 jf, u32 k; 8 bytes each). */
  readonly bytes: Buffer;
  /** Number of BPF instructions (`bytes.length / 8`). */
  readonly instructions: number;
}

// ---------------------------------------------------------------------------------------------
// Kernel ABI constants (include/uapi/linux/{seccomp,audit,filter,bpf_common}.h).

const AUDIT_ARCH_X86_64 = 0xc000003e;
/** x32 syscalls are x86_64 syscalls with this bit set in `nr` (arch/x86/include/uapi/asm/unistd.h). */
const X32_SYSCALL_BIT = 0x40000000;

const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_ALLOW = 0x7fff0000;

const EPERM = 1;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;

// struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
const DATA_NR = 0;
const DATA_ARCH = 4;
/**
 * Offset of the low 32 bits of args[i]. Classic BPF loads 32-bit words only; the data is in host
 * (little-endian) order, so the low word comes first. Every argument this filter inspects is one
 * the kernel itself truncates to 32 bits (int family/protocol/type, unsigned int ioctl cmd and
 * personality) or whose relevant bits all live in the low word (clone's namespace flags), so
 * comparing the low word is exactly what the kernel will act on; whatever a caller puts in the high
 * word cannot change the outcome.
 */
const argLow = (index: number): number => 16 + 8 * index;

// BPF opcodes (BPF_CLASS | BPF_SIZE/OP | BPF_SRC).
const BPF_LD_W_ABS = 0x00 | 0x00 | 0x20;
const BPF_ALU_AND_K = 0x04 | 0x50 | 0x00;
const BPF_JMP_JEQ_K = 0x05 | 0x10 | 0x00;
const BPF_JMP_JSET_K = 0x05 | 0x40 | 0x00;
const BPF_RET_K = 0x06;
/** The kernel's BPF_MAXINSNS for classic filters. */
const MAX_INSTRUCTIONS = 4096;

// Argument values the filter tests.
const CLONE_NEWTIME = 0x00000080;
const CLONE_NEWNS = 0x00020000;
const CLONE_NEWCGROUP = 0x02000000;
const CLONE_NEWUTS = 0x04000000;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWPID = 0x20000000;
const CLONE_NEWNET = 0x40000000;
/**
 * CLONE_NEWTIME shares its bit with the exit-signal byte of clone(2) (CSIGNAL); no valid signal
 * number reaches 0x80, so refusing the bit costs nothing and keeps the list complete should a
 * future kernel accept it there.
 */
const CLONE_NAMESPACE_FLAGS =
  CLONE_NEWUSER |
  CLONE_NEWNS |
  CLONE_NEWPID |
  CLONE_NEWNET |
  CLONE_NEWUTS |
  CLONE_NEWIPC |
  CLONE_NEWCGROUP |
  CLONE_NEWTIME;

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const NETLINK_ROUTE = 0;
/** `type & SOCK_TYPE_MASK`; the rest of the word holds SOCK_NONBLOCK / SOCK_CLOEXEC. */
const SOCK_TYPE_MASK = 0xf;
/** net/socket.c silently turns (AF_INET, SOCK_PACKET) into an AF_PACKET socket. */
const SOCK_PACKET = 10;

/** Mode bits that make an executable run with its owner's or group's ids (<linux/stat.h>). */
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;

const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;

/** Docker's default profile allows exactly these personality(2) values; so do we. */
const ALLOWED_PERSONALITIES = [
  0x0, // PER_LINUX
  0x8, // PER_LINUX32
  0x20000, // UNAME26
  0x20008, // UNAME26 | PER_LINUX32
  0xffffffff, // query the current persona without changing it
] as const;

// ---------------------------------------------------------------------------------------------
// Syscall numbers for x86_64, from Linux's arch/x86/entry/syscalls/syscall_64.tbl (checked
// against Debian 12's <asm/unistd_64.h>; open_tree_attr, new in 6.15, against the 6.15 table).
// Only the syscalls the filter names are listed.

const X86_64 = {
  open: 2,
  ioctl: 16,
  creat: 85,
  chmod: 90,
  fchmod: 91,
  mknod: 133,
  socket: 41,
  socketpair: 53,
  clone: 56,
  ptrace: 101,
  syslog: 103,
  uselib: 134,
  personality: 135,
  vhangup: 153,
  pivot_root: 155,
  adjtimex: 159,
  acct: 163,
  settimeofday: 164,
  mount: 165,
  umount2: 166,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  iopl: 172,
  ioperm: 173,
  create_module: 174,
  init_module: 175,
  delete_module: 176,
  get_kernel_syms: 177,
  query_module: 178,
  quotactl: 179,
  nfsservctl: 180,
  lookup_dcookie: 212,
  clock_settime: 227,
  kexec_load: 246,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  openat: 257,
  mknodat: 259,
  fchmodat: 268,
  unshare: 272,
  perf_event_open: 298,
  fanotify_init: 300,
  name_to_handle_at: 303,
  open_by_handle_at: 304,
  clock_adjtime: 305,
  setns: 308,
  process_vm_readv: 310,
  process_vm_writev: 311,
  kcmp: 312,
  finit_module: 313,
  kexec_file_load: 320,
  bpf: 321,
  userfaultfd: 323,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  clone3: 435,
  openat2: 437,
  pidfd_getfd: 438,
  process_madvise: 440,
  mount_setattr: 442,
  quotactl_fd: 443,
  fchmodat2: 452,
  open_tree_attr: 467,
} as const satisfies Record<string, number>;

type Syscall = keyof typeof X86_64;

interface DenyGroup {
  readonly syscalls: readonly Syscall[];
  readonly why: string;
}

/**
 * Syscalls that set a file's mode, and the index of their mode argument. The filter refuses a mode
 * with S_ISUID or S_ISGID: where a writable root is an idmapped mount (src/sandbox/idmap.ts), what
 * the sandbox creates belongs on disk to the directory's owner, root included, so a setuid file made
 * there would run as that owner on the host (SBX-22). Each mode is a umode_t the kernel truncates to
 * 16 bits, so the low word holds every bit it acts on.
 */
const MODE_ARGUMENT: Readonly<Partial<Record<Syscall, number>>> = {
  openat: 3,
  open: 2,
  creat: 1,
  chmod: 1,
  fchmod: 1,
  fchmodat: 2,
  fchmodat2: 2,
  mknod: 1,
  mknodat: 2,
};

/** Syscalls refused outright with EPERM, grouped by the reason. */
const EPERM_GROUPS: readonly DenyGroup[] = [
  {
    syscalls: ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd', 'process_madvise'],
    why: 'SBX-10: reading, writing or steering another process (its memory, file descriptors or paging) from inside the sandbox.',
  },
  {
    syscalls: ['io_uring_setup', 'io_uring_enter', 'io_uring_register'],
    why: 'SBX-11: io_uring performs socket, file and process operations without passing through these syscall checks, and is a frequent source of kernel bugs.',
  },
  {
    syscalls: ['keyctl', 'add_key', 'request_key'],
    why: 'SBX-19: the kernel keyring is not namespaced; keys of the same uid could be read or planted across sandboxes.',
  },
  {
    syscalls: ['bpf', 'perf_event_open', 'userfaultfd'],
    why: 'SBX-19: large kernel attack surfaces an agent never needs; userfaultfd lets exploits stall the kernel mid-copy to win races.',
  },
  {
    syscalls: ['kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module'],
    why: 'SBX-19: loading or replacing kernel code.',
  },
  {
    syscalls: [
      'unshare',
      'setns',
      'mount',
      'umount2',
      'pivot_root',
      'move_mount',
      'open_tree',
      'open_tree_attr',
      'fsopen',
      'fsconfig',
      'fsmount',
      'fspick',
      'mount_setattr',
    ],
    why: 'SBX-19: new namespaces regain capabilities (inside them) and, with mounts, reach kernel code an unprivileged process otherwise cannot; the sandbox layout is fixed by warden.',
  },
  {
    syscalls: ['swapon', 'swapoff', 'reboot', 'acct', 'vhangup', 'syslog', 'quotactl', 'quotactl_fd', 'fanotify_init'],
    why: 'Host administration (Docker default profile): swap, power, process accounting, terminal hang-up, kernel log, quotas, filesystem-wide monitoring.',
  },
  {
    syscalls: ['settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex'],
    why: 'The clock is shared with the host; stricter than Docker, which allows the read-only forms of adjtimex/clock_adjtime.',
  },
  {
    syscalls: ['open_by_handle_at', 'name_to_handle_at'],
    why: 'File handles open files by inode number, bypassing the mount layout (the "shocker" container escape).',
  },
  {
    syscalls: ['iopl', 'ioperm'],
    why: 'Direct hardware I/O port access.',
  },
  {
    syscalls: ['uselib', 'nfsservctl', 'create_module', 'get_kernel_syms', 'query_module', 'lookup_dcookie'],
    why: 'Obsolete syscalls (removed or unimplemented in current kernels); refused so an old or oddly configured kernel exposes nothing.',
  },
];

// ---------------------------------------------------------------------------------------------
// A tiny classic-BPF assembler: named labels, jumps resolved at assembly time. Conditional jumps
// in classic BPF are forward-only with 8-bit offsets; the assembler refuses (rather than
// truncates) anything else, so a layout change that breaks this fails the build and the tests.

/** Where a conditional branch goes: a label, or the next instruction. */
type Target = string | typeof NEXT;
const NEXT = Symbol('next');

type Item =
  | { readonly kind: 'label'; readonly name: string }
  | { readonly kind: 'insn'; readonly code: number; readonly k: number }
  | { readonly kind: 'jump'; readonly code: number; readonly k: number; readonly jt: Target; readonly jf: Target };

class Assembler {
  private readonly items: Item[] = [];

  label(name: string): this {
    this.items.push({ kind: 'label', name });
    return this;
  }

  /** A = 32-bit word of seccomp_data at `offset`. */
  load(offset: number): this {
    return this.insn(BPF_LD_W_ABS, offset);
  }

  /** A &= k. */
  and(k: number): this {
    return this.insn(BPF_ALU_AND_K, k);
  }

  /** if (A == k) goto jt else goto jf. */
  jeq(k: number, jt: Target, jf: Target = NEXT): this {
    this.items.push({ kind: 'jump', code: BPF_JMP_JEQ_K, k, jt, jf });
    return this;
  }

  /** if (A & k) goto jt else goto jf. */
  jset(k: number, jt: Target, jf: Target = NEXT): this {
    this.items.push({ kind: 'jump', code: BPF_JMP_JSET_K, k, jt, jf });
    return this;
  }

  ret(k: number): this {
    return this.insn(BPF_RET_K, k);
  }

  /** Resolves labels and encodes the program; throws on any layout the kernel would reject. */
  assemble(): Buffer {
    const positions = new Map<string, number>();
    let count = 0;
    for (const item of this.items) {
      if (item.kind === 'label') {
        if (positions.has(item.name)) throw new Error(`seccomp assembler: label '${item.name}' defined twice`);
        positions.set(item.name, count);
      } else {
        count += 1;
      }
    }
    if (count === 0 || count > MAX_INSTRUCTIONS)
      throw new Error(`seccomp assembler: ${count} instructions is out of range`);

    const out = Buffer.alloc(count * 8);
    let pc = 0;
    let last: Item | undefined;
    for (const item of this.items) {
      if (item.kind === 'label') continue;
      let jt = 0;
      let jf = 0;
      if (item.kind === 'jump') {
        jt = this.offset(item.jt, pc, positions);
        jf = this.offset(item.jf, pc, positions);
      }
      out.writeUInt16LE(item.code, pc * 8);
      out.writeUInt8(jt, pc * 8 + 2);
      out.writeUInt8(jf, pc * 8 + 3);
      out.writeUInt32LE(item.k >>> 0, pc * 8 + 4);
      last = item;
      pc += 1;
    }
    // The kernel's checker requires every path to end in a return; with forward-only jumps that
    // holds exactly when the last instruction is one.
    if (last?.kind !== 'insn' || last.code !== BPF_RET_K)
      throw new Error('seccomp assembler: program must end with ret');
    return out;
  }

  private insn(code: number, k: number): this {
    this.items.push({ kind: 'insn', code, k });
    return this;
  }

  private offset(target: Target, pc: number, positions: ReadonlyMap<string, number>): number {
    if (target === NEXT) return 0;
    const at = positions.get(target);
    if (at === undefined) throw new Error(`seccomp assembler: undefined label '${target}'`);
    const offset = at - (pc + 1);
    // Split the deny list into groups with their own returns if this ever trips.
    if (offset < 0 || offset > 255)
      throw new Error(`seccomp assembler: jump from ${pc} to '${target}' (${offset}) does not fit in 8 bits`);
    return offset;
  }
}

// ---------------------------------------------------------------------------------------------
// The filter.

const errno = (code: number): number => SECCOMP_RET_ERRNO | code;

function assembleX86_64(): Buffer {
  const a = new Assembler();

  // Syscall numbers are per ABI: a filter written for x86_64 numbers says nothing about an i386
  // syscall (int 0x80 from a 64-bit process still reaches the compat table) or an x32 one.
  // Kill rather than return an errno: no program in the sandbox legitimately uses either ABI
  // (Debian ships no x32 userland; the agent's tools are 64-bit), so such a syscall is hand-made
  // code probing for a way around the filter, and a SIGSYS death is loud where an errno is not.
  a.load(DATA_ARCH).jeq(AUDIT_ARCH_X86_64, NEXT, 'kill');
  a.load(DATA_NR).jset(X32_SYSCALL_BIT, 'kill');

  // Syscalls whose arguments decide; ioctl first because it is by far the most frequent of them.
  a.jeq(X86_64.ioctl, 'ioctl');
  a.jeq(X86_64.socket, 'socket');
  a.jeq(X86_64.socketpair, 'socket');
  a.jeq(X86_64.clone, 'clone');
  a.jeq(X86_64.personality, 'personality');
  // openat first: it is frequent, and with a mode argument to check its verdict is no longer cached.
  for (const [name, index] of Object.entries(MODE_ARGUMENT)) a.jeq(X86_64[name as Syscall], `mode${index}`);
  // clone3 takes its flags in a struct seccomp cannot read. ENOSYS (not EPERM) makes glibc fall
  // back to clone(2), whose flags are checked below. openat2 likewise hides its mode in a struct;
  // callers (systemd's, Rust's std) fall back to openat on ENOSYS.
  a.jeq(X86_64.clone3, 'enosys');
  a.jeq(X86_64.openat2, 'enosys');
  for (const group of EPERM_GROUPS) {
    for (const name of group.syscalls) a.jeq(X86_64[name], 'eperm');
  }
  // Everything else. The kernel caches this verdict per syscall number (it never depends on the
  // arguments here), so ordinary syscalls do not run the filter at all after the first time.
  a.ret(SECCOMP_RET_ALLOW);

  // ioctl(fd, unsigned int cmd, ...): faking terminal input into the user's shell.
  a.label('ioctl').load(argLow(1));
  a.jeq(TIOCSTI, 'eperm').jeq(TIOCLINUX, 'eperm', 'allow');

  // socket(int family, int type, int protocol) and socketpair (same first three arguments).
  a.label('socket').load(argLow(0));
  a.jeq(AF_UNIX, 'allow');
  a.jeq(AF_INET, 'inet');
  a.jeq(AF_INET6, 'allow');
  a.jeq(AF_NETLINK, 'netlink', 'eafnosupport');
  a.label('inet').load(argLow(1)).and(SOCK_TYPE_MASK).jeq(SOCK_PACKET, 'eafnosupport', 'allow');
  // glibc's getaddrinfo and if_nameindex speak NETLINK_ROUTE; the other netlink protocols reach
  // audit, uevents, sock_diag, netfilter and more.
  a.label('netlink').load(argLow(2)).jeq(NETLINK_ROUTE, 'allow', 'eafnosupport');

  // clone(unsigned long flags, ...): x86_64 passes flags first; the kernel reads only the low word.
  a.label('clone').load(argLow(0)).jset(CLONE_NAMESPACE_FLAGS, 'eperm', 'allow');

  // personality(unsigned int persona): anything else (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, ...)
  // weakens the process's own exploit mitigations.
  a.label('personality').load(argLow(0));
  for (const value of ALLOWED_PERSONALITIES) a.jeq(value, 'allow');
  a.ret(errno(EPERM));

  // The mode argument of open/openat/creat/chmod/fchmod/fchmodat(2)/mknod(at): no setuid or setgid bit.
  for (const index of new Set(Object.values(MODE_ARGUMENT)))
    a.label(`mode${index}`)
      .load(argLow(index))
      .jset(S_ISUID | S_ISGID, 'eperm', 'allow');

  a.label('allow').ret(SECCOMP_RET_ALLOW);
  a.label('eperm').ret(errno(EPERM));
  a.label('enosys').ret(errno(ENOSYS));
  a.label('eafnosupport').ret(errno(EAFNOSUPPORT));
  a.label('kill').ret(SECCOMP_RET_KILL_PROCESS);
  return a.assemble();
}

/** Builders per Node `process.arch` name. Each needs its own syscall table; only x64 has one. */
const BUILDERS: Readonly<Record<string, () => Buffer>> = { x64: assembleX86_64 };

/** The filter is a constant per arch: assemble once, hand out copies. */
const cache = new Map<string, Buffer>();

/**
 * Builds the seccomp filter for `arch` (a Node `process.arch` name; default: the running one).
 *
 * The program is assembled once per arch and cached; each call returns a fresh copy of the bytes,
 * so a caller that mutates its buffer cannot weaken the filter of later sandboxes.
 *
 * @throws WardenError `SANDBOX_UNAVAILABLE` for an arch without a syscall table (only x64 today):
 *   warden refuses to run rather than run without the filter.
 */
export function buildSeccompFilter(arch: string = process.arch): SeccompProgram {
  let bytes = cache.get(arch);
  if (bytes === undefined) {
    const build = Object.hasOwn(BUILDERS, arch) ? BUILDERS[arch] : undefined;
    if (build === undefined) {
      throw new WardenError(
        'SANDBOX_UNAVAILABLE',
        `No seccomp filter for architecture '${arch}': only x64 (x86_64) is supported.`,
        {
          hint: 'Run warden on an x86_64 host.',
        },
      );
    }
    bytes = build();
    cache.set(arch, bytes);
  }
  return Object.freeze({ bytes: Buffer.from(bytes), instructions: bytes.length / 8 });
}

const namespaceFlagNames =
  'CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWCGROUP, CLONE_NEWTIME';

/**
 * What the filter refuses and how, in the order it checks, for docs/threat-model.md and
 * `warden doctor`. Every other syscall is allowed. Generated from the same tables as the filter.
 */
export const SECCOMP_RULES: readonly { readonly what: string; readonly action: string; readonly why: string }[] =
  Object.freeze(
    [
      {
        what: 'any syscall from a non-x86_64 ABI (i386 via int 0x80 or sysenter)',
        action: 'KILL_PROCESS',
        why: 'Syscall numbers differ per ABI, so the rules below would not apply; no sandboxed program needs it.',
      },
      {
        what: 'any x32-ABI syscall (nr & 0x40000000)',
        action: 'KILL_PROCESS',
        why: 'x32 numbers some syscalls differently, so the rules below would not apply; no x32 userland exists in the sandbox.',
      },
      {
        what: 'ioctl with request TIOCSTI or TIOCLINUX (low 32 bits, as the kernel reads it)',
        action: 'EPERM',
        why: 'Faking keystrokes into the terminal of the user who started warden.',
      },
      {
        what: 'socket / socketpair with a family other than AF_UNIX, AF_INET, AF_INET6, or AF_NETLINK with protocol NETLINK_ROUTE; and (AF_INET, SOCK_PACKET)',
        action: 'EAFNOSUPPORT',
        why: 'SBX-12: AF_VSOCK reaches the hypervisor host, AF_PACKET and (AF_INET, SOCK_PACKET) raw frames, other netlink protocols audit/uevent/netfilter, AF_ALG/AF_BLUETOOTH and the rest are kernel attack surface.',
      },
      {
        what: `clone with any of ${namespaceFlagNames}`,
        action: 'EPERM',
        why: 'SBX-19: a new namespace hands the process capabilities inside it.',
      },
      {
        what: `personality with a value other than ${ALLOWED_PERSONALITIES.map((v) => `0x${v.toString(16)}`).join(', ')}`,
        action: 'EPERM',
        why: "Other personas disable ASLR or make data executable (as in Docker's default profile).",
      },
      {
        what: `${Object.keys(MODE_ARGUMENT).join(', ')} with a mode that has S_ISUID or S_ISGID (low 16 bits, as the kernel reads it)`,
        action: 'EPERM',
        why: "SBX-22: on an idmapped workspace a new file belongs to the directory's owner (root, say); a setuid or setgid file there would run with the owner's ids on the host.",
      },
      {
        what: 'clone3',
        action: 'ENOSYS',
        why: 'Its flags live in a struct seccomp cannot read; ENOSYS makes glibc fall back to clone, which is checked.',
      },
      {
        what: 'openat2',
        action: 'ENOSYS',
        why: 'Its mode lives in a struct seccomp cannot read (see the mode rule); ENOSYS makes callers fall back to openat, which is checked.',
      },
      ...EPERM_GROUPS.map((group) => ({ what: group.syscalls.join(', '), action: 'EPERM', why: group.why })),
    ].map((rule) => Object.freeze(rule)),
  );
