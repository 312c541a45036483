/**
 * The seccomp filter every sandboxed child runs under: it may start threads but no process
 * (no fork, vfork, or clone without CLONE_THREAD), nor trace or reach into another. That is the
 * process limit of the sandbox, and one that holds when the host runs as root: RLIMIT_NPROC does
 * not count tasks of uid 0, and bwrap maps the sandbox's user to the host's (README.md in this folder, Sandbox).
 *
 * A child that shares the host's network namespace (a `net` grant) may also create no unix
 * socket: abstract unix sockets (`@name`, no file) belong to the network namespace, so through
 * them it reached every local service that listens on one on the host (containerd's shims, X11,
 * D-Bus), which a grant of the network does not mean. Without the grant its namespace is its own.
 *
 * The program is classic BPF as the kernel reads it (struct sock_filter, 8 bytes each), handed
 * to `bwrap --seccomp FD`. https://www.kernel.org/doc/html/latest/userspace-api/seccomp_filter.html
 */

const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_JSET_K = 0x45;
const BPF_RET_K = 0x06;

const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const RET_KILL_PROCESS = 0x80000000;
const EPERM = 1;
const ENOSYS = 38;
const CLONE_THREAD = 0x00010000;
const AF_UNIX = 1;

/** Offsets in struct seccomp_data: nr, arch, args[0] (its low 32 bits on little-endian). */
const NR = 0;
const ARCH = 4;
const ARG0_LOW = 16;

interface Arch {
  audit: number;
  clone: number;
  clone3: number;
  socket: number;
  /** fork and vfork, where the architecture has them. */
  forks: number[];
  /**
   * ptrace, process_vm_readv, process_vm_writev, pidfd_getfd: what reaches into another process
   * of the same user. The sandbox's PID 1 (bwrap) runs without this filter: a child that could
   * trace it could make it start processes (bun:ffi reached ptrace(PTRACE_SEIZE, 1)).
   */
  intrusions: number[];
  /** Syscall numbers at or above this belong to another ABI (x32 on x86_64). */
  foreignAbove?: number;
}

const ARCHES: Record<string, Arch> = {
  x64: { audit: 0xc000003e, clone: 56, clone3: 435, socket: 41, forks: [57, 58], intrusions: [101, 310, 311, 438], foreignAbove: 0x40000000 },
  arm64: { audit: 0xc00000b7, clone: 220, clone3: 435, socket: 198, forks: [], intrusions: [117, 270, 271, 438] },
};

type Label = "allow" | "eperm" | "enosys" | "kill" | "clone" | "socket";
type Op = { code: number; k: number; jt?: Label; jf?: Label } | { label: Label };

/**
 * The filter for this CPU architecture (`process.arch`), or undefined where it is not known.
 * `hostNetwork`: the child shares the host's network namespace, and may create no unix socket.
 */
export function noProcessFilter(arch: string, hostNetwork = false): Uint8Array | undefined {
  const a = ARCHES[arch];
  if (!a) return undefined;
  const ops: Op[] = [
    { code: BPF_LD_W_ABS, k: ARCH },
    // another ABI's syscall numbers mean other calls: refuse them all
    { code: BPF_JEQ_K, k: a.audit, jf: "kill" },
    { code: BPF_LD_W_ABS, k: NR },
    ...(a.foreignAbove ? [{ code: BPF_JGE_K, k: a.foreignAbove, jt: "eperm" as Label }] : []),
    // clone3 hides its flags behind a pointer the filter cannot read; ENOSYS makes libc fall
    // back to clone(), whose flags it can
    { code: BPF_JEQ_K, k: a.clone3, jt: "enosys" },
    ...[...a.forks, ...a.intrusions].map((nr) => ({ code: BPF_JEQ_K, k: nr, jt: "eperm" as Label })),
    ...(hostNetwork ? [{ code: BPF_JEQ_K, k: a.socket, jt: "socket" as Label }] : []),
    { code: BPF_JEQ_K, k: a.clone, jt: "clone", jf: "allow" },
    { label: "clone" },
    { code: BPF_LD_W_ABS, k: ARG0_LOW },
    { code: BPF_JSET_K, k: CLONE_THREAD, jt: "allow", jf: "eperm" },
    // socket(domain, ...): the domain's low 32 bits (the kernel reads it as an int)
    { label: "socket" },
    { code: BPF_LD_W_ABS, k: ARG0_LOW },
    { code: BPF_JEQ_K, k: AF_UNIX, jt: "eperm", jf: "allow" },
    { label: "allow" },
    { code: BPF_RET_K, k: RET_ALLOW },
    { label: "eperm" },
    { code: BPF_RET_K, k: RET_ERRNO | EPERM },
    { label: "enosys" },
    { code: BPF_RET_K, k: RET_ERRNO | ENOSYS },
    { label: "kill" },
    { code: BPF_RET_K, k: RET_KILL_PROCESS },
  ];
  return assemble(ops);
}

/** Resolves labels into the relative jumps of classic BPF and lays the program out in bytes. */
function assemble(ops: Op[]): Uint8Array {
  const at = new Map<Label, number>();
  const code: { code: number; k: number; jt?: Label; jf?: Label }[] = [];
  for (const op of ops) {
    if ("label" in op) at.set(op.label, code.length);
    else code.push(op);
  }
  const out = new Uint8Array(code.length * 8);
  const view = new DataView(out.buffer);
  code.forEach((ins, i) => {
    const jump = (l: Label | undefined) => {
      if (l === undefined) return 0;
      const off = at.get(l)! - i - 1;
      if (off < 0 || off > 255) throw new Error(`seccomp: jump to ${l} out of range`);
      return off;
    };
    view.setUint16(i * 8, ins.code, true);
    view.setUint8(i * 8 + 2, jump(ins.jt));
    view.setUint8(i * 8 + 3, jump(ins.jf));
    view.setUint32(i * 8 + 4, ins.k >>> 0, true);
  });
  return out;
}
