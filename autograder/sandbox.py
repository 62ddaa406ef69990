"""Isolation for the worker that runs a submission.

On Linux the worker gets its own namespaces (mount, network, PID, IPC, UTS; plus a user namespace
when the grader is not root) and sees an **allowlist**, not the machine minus a list:

* **its own root filesystem**: a fresh tmpfs holding read-only binds of only what student code
  needs -- the system directories (``/usr``, ``/bin``, ``/lib*``), a few files of ``/etc``, the
  Python installation and virtual environment, the course's ``coursekit`` package and any path the
  grader exposes on purpose -- then ``pivot_root`` into it. Solutions, checks, tests, gradebooks,
  submissions, LMS downloads, other checkouts and home directories are *absent*, wherever they
  lie. ``/tmp`` (the working directory), ``/var/tmp`` and ``/dev/shm`` are small private tmpfs
  mounts; ``/dev`` holds only null, zero, full, random, urandom; ``/proc`` shows only the worker's
  own processes;
* **no network**: a fresh network namespace has no interface but a loopback that is down;
* **no privileges, as root or not**: as root the worker switches to a fresh unprivileged uid per
  submission (capabilities and the bounding set dropped); as an ordinary user its user namespace
  maps the grader's uid to an ordinary uid (never 0), and once the view is built it drops every
  capability (effective, permitted, inheritable, ambient and the bounding set). A seccomp filter
  then refuses what could undo the view or regain privileges (``mount``, ``umount2``,
  ``pivot_root``, ``unshare``, ``setns``, namespace flags of ``clone``, ``ptrace``, the kernel
  keyring, ``memfd_create``, SysV shared memory, ``bpf``, io_uring, ``kill`` of a negative pid,
  ...), and ``no_new_privs`` keeps setuid binaries inert;
* **its own session and process group**, and PID 1 of its own PID namespace: ``kill(0)`` and
  ``kill(-1)`` reach only its own processes, and killing it kills every process it started;
* **limits**: address space, CPU seconds, processes, file size and open files (``setrlimit``);
  memory outside the address space is capped too (tmpfs sizes; ``memfd`` and SysV segments are
  refused);
* **a clean environment**: only a few variables (PATH, LANG, ...) survive, so no password or
  database URL in the grader's environment reaches student code.

Elsewhere (macOS, or a Linux without namespaces) the documented fallback is weaker: rlimits, a new
session and process group (killed as a group), the seccomp filter where the kernel has it, and a
clean environment, but no network or filesystem isolation. :func:`probe_capabilities` says which
mode a machine gets, and the grader prints it with every batch.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import signal
import socket
import stat
import struct
import sys
from dataclasses import dataclass, field

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2

#: The uid the worker has inside its user namespace when the grader is an ordinary user.
INNER_UID = 1000
#: First uid of the range the worker switches to when the grader is root (one per submission).
ROOT_UID_BASE = 200_000

SAFE_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "MPLBACKEND",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "PYTHONHASHSEED",
)

#: What of the host's root the worker sees (read-only), where it exists. Directories that are
#: symbolic links on a merged-/usr system (``/bin -> usr/bin``) are recreated as links.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: The files of /etc that dynamic loading, time zones and user look-ups read; nothing else of it.
ETC_PATHS = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/fonts",
    "/etc/mime.types",
)
DEVICES = ("null", "zero", "full", "random", "urandom")


@dataclass
class Limits:
    memory_mb: int = 2048  # address space on top of what the pre-imported libraries use
    cpu_seconds: int = 120  # CPU time of one worker process
    processes: int = 64  # processes and threads of the worker's uid
    file_mb: int = 64  # largest file it may write (in its tmpfs)
    open_files: int = 256
    tmp_mb: int = 128  # size of each private tmpfs


@dataclass
class SandboxConfig:
    limits: Limits = field(default_factory=Limits)
    # Paths that must never show, even where an allowed directory contains them (a checkout under
    # /usr/local, say): covered after the view is built. Defence in depth: the view is an allowlist.
    hide: list[str] = field(default_factory=list)
    # Extra paths the worker may read (read-only), beside the system, Python and coursekit.
    expose: list[str] = field(default_factory=list)
    uid: int = 0  # unprivileged uid to run as (when the grader is root); 0 = choose
    serial: int = 0  # which worker this is: a fresh uid per submission when the grader is root
    isolate: bool = True  # False: rlimits only (for debugging the grader itself)


_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare(flags: int) -> None:
    _check(_lib().unshare(flags), "unshare")


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_lib().mount(enc(src), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _prctl(option: int, arg: int, arg2: int = 0) -> None:
    _check(_lib().prctl(option, arg, arg2, 0, 0), "prctl")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def namespaces_available() -> bool:
    """Whether this machine lets the grader create the namespaces (tried in a throwaway child)."""
    if not sys.platform.startswith("linux"):
        return False
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC
    if os.geteuid() != 0:
        flags |= CLONE_NEWUSER
    pid = os.fork()
    if pid == 0:
        try:
            _unshare(flags)
            os._exit(0)
        except BaseException:  # noqa: B036
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def enter(sock: socket.socket, cfg: SandboxConfig, slot: int) -> None:
    """Called in a fresh child of the zygote. Returns in the sandboxed worker; never returns in
    the intermediate process. Reports the worker's pid (in the grader's PID namespace) and the
    isolation mode on ``sock`` as an 8-byte header: ``u32 pid | u32 mode`` (1 = namespaces)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the zygote
    if not cfg.isolate or not namespaces_available_cached():
        os.setsid()
        sock.sendall(struct.pack("<II", os.getpid(), 0))
        _apply_limits(cfg.limits)
        _clean_env()
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        if cfg.isolate:
            _install_seccomp()
        return

    root = os.geteuid() == 0
    outer_uid, outer_gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if not root:
        flags |= CLONE_NEWUSER
    try:
        _unshare(flags)
        if not root:
            # The grader's uid appears as an ordinary uid, never as 0: nothing in this namespace
            # is "root", and an execve can never grant capabilities (see _drop_capabilities).
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{INNER_UID} {outer_uid} 1")
            _write("/proc/self/gid_map", f"{INNER_UID} {outer_gid} 1")
        go_r, go_w = os.pipe()
        pid = os.fork()  # the child is PID 1 of the new PID namespace
    except BaseException:
        sock.sendall(struct.pack("<II", 0, 0))  # the caller reports the error that follows
        raise
    if pid:
        os.close(go_r)
        sock.sendall(struct.pack("<II", pid, 1))
        sock.close()
        os.close(go_w)  # only now may the worker speak: its pid must come first on the socket
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except ChildProcessError:
                break
            except InterruptedError:
                continue
        os._exit(0)

    os.close(go_w)
    os.read(go_r, 1)  # returns at EOF, once the intermediate process has sent our pid
    os.close(go_r)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the intermediate process
    # Its own session and process group: kill(0) and killpg reach only the worker's processes.
    os.setsid()
    _build_root(cfg)
    _apply_limits(cfg.limits)
    _clean_env()
    os.chdir("/tmp/work")
    if root:
        _drop_root(cfg.uid or ROOT_UID_BASE + (cfg.serial * 64 + slot) % 1_000_000)
    else:
        _drop_capabilities()
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _install_seccomp()
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a credential change clears it: set it again


# -- the allowlist view -----------------------------------------------------------------------


def allowed_paths(cfg: SandboxConfig) -> list[str]:
    """Every host path the worker sees (read-only), before ``pivot_root``; existing ones only."""
    hidden = [os.path.realpath(p) for p in cfg.hide]
    paths = {p for p in (*SYSTEM_PATHS, *ETC_PATHS) if os.path.lexists(p)}
    paths.update(_python_dirs(hidden))
    paths.update(_module_dirs())
    paths.update(os.path.realpath(p) for p in cfg.expose if os.path.exists(p))
    return sorted(paths)


def _python_dirs(hidden: list[str]) -> list[str]:
    """The Python installation and virtual environment, and the import roots inside them.

    Other import roots (``PYTHONPATH``: a checkout, a course's checks) are not shown: the
    packages a notebook may import from there are named by :func:`_module_dirs`.
    """
    prefixes = {
        os.path.realpath(p)
        for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable))
        if p
    }
    roots = {os.path.realpath(p) for p in sys.path if p}
    packages = ("site-packages", "dist-packages")  # also where a .pth file added them
    dirs = prefixes | {p for p in roots if _under(p, prefixes) or os.path.basename(p) in packages}
    return sorted(
        p
        for p in dirs
        if p != "/"
        and os.path.isdir(p)
        and not _under(p, hidden)
        and not any(_under(h, [p]) for h in hidden)
    )


def _module_dirs() -> list[str]:
    """The course's own package that notebooks import (``coursekit``), wherever it is installed."""
    import importlib.util

    out = []
    for name in ("coursekit",):
        spec = importlib.util.find_spec(name)
        for loc in (spec and spec.submodule_search_locations) or []:
            out.append(os.path.realpath(loc))
    return out


def _under(path: str, tops) -> bool:
    return any(path == t or path.startswith(t.rstrip("/") + "/") for t in tops)


def _build_root(cfg: SandboxConfig) -> None:
    """Build the allowlist view on a fresh tmpfs and make it the worker's root."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    sources = allowed_paths(cfg)
    # Hold every source open before anything is covered: a source may lie under /tmp, where the
    # new root is assembled, or below a directory only the grader may enter (/root).
    links = {p: os.readlink(p) for p in sources if os.path.islink(p)}
    fds = {p: os.open(p, os.O_PATH) for p in sources if p not in links}
    host_dev = {d: os.open(f"/dev/{d}", os.O_PATH) for d in DEVICES if os.path.exists(f"/dev/{d}")}
    new = "/tmp"
    _mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    # The private mounts first: an allowed path below /tmp is then bound on top of them.
    size = f"size={cfg.limits.tmp_mb}m,mode=1777"
    _mkdirs(new + "/dev")
    _mount("tmpfs", new + "/dev", "tmpfs", MS_NOSUID, "size=64k,mode=0755")
    for name, fd in host_dev.items():
        open(f"{new}/dev/{name}", "w").close()
        _mount(f"/proc/self/fd/{fd}", f"{new}/dev/{name}", None, MS_BIND, None)
        os.close(fd)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, f"{new}/dev/{name}")
    os.symlink("/proc/self/fd/1", f"{new}/dev/stdout")
    os.symlink("/proc/self/fd/2", f"{new}/dev/stderr")
    for path in ("/dev/shm", "/proc", "/tmp", "/var/tmp", "/.old"):
        _mkdirs(new + path)
    _mount("tmpfs", new + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, size)
    _mount("tmpfs", new + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, size)
    _mount("tmpfs", new + "/var/tmp", "tmpfs", MS_NOSUID | MS_NODEV, size)
    os.makedirs(new + "/tmp/work", exist_ok=True)
    os.chmod(new + "/tmp/work", 0o777)

    for path, target in links.items():
        _mkdirs(new + os.path.dirname(path))
        os.symlink(target, new + path)
    for path, fd in sorted(fds.items()):
        dest = new + path
        if os.path.lexists(dest) and os.path.islink(dest):
            continue  # already reached through a recreated link (/lib64 -> usr/lib64)
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        _mkdirs(dest if is_dir else os.path.dirname(dest))
        if not is_dir and not os.path.exists(dest):
            open(dest, "w").close()
        _bind_readonly(f"/proc/self/fd/{fd}", dest)
        os.close(fd)
    for path in cfg.hide:  # defence in depth: a hidden path below an allowed directory
        dest = new + os.path.realpath(path)
        if os.path.isdir(dest) and not os.path.islink(dest):
            _mount("tmpfs", dest, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,mode=0755")
            _mount(None, dest, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
        elif os.path.isfile(dest):
            _mount("/dev/null", dest, None, MS_BIND, None)

    os.chdir(new)
    _check(_lib().syscall(_SYSCALLS["pivot_root"], b".", b".old"), "pivot_root")
    os.chdir("/")
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    _check(_lib().umount2(b"/.old", MNT_DETACH), "umount /.old")
    os.rmdir("/.old")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None)


def _mkdirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _bind_readonly(src: str, dest: str) -> None:
    _mount(src, dest, None, MS_BIND | MS_REC, None)
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID
    try:
        _mount(None, dest, None, flags | MS_NODEV, None)
    except OSError:
        # A source mounted nodev/noexec by the host keeps those flags, and a user namespace may
        # not clear them: remount with the flags the source already has.
        st = os.statvfs(dest)
        _mount(None, dest, None, flags | (st.f_flag & (MS_NODEV | MS_NOEXEC)) | MS_NODEV, None)


# -- privileges -------------------------------------------------------------------------------


def _cap_last() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 40


def _drop_bounding_set() -> None:
    for cap in range(_cap_last() + 1):
        try:
            _prctl(PR_CAPBSET_DROP, cap)
        except OSError:
            pass


def _drop_capabilities() -> None:
    """Empty the bounding, ambient, inheritable, permitted and effective sets of this thread."""
    _drop_bounding_set()
    try:
        _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()  # two {effective, permitted, inheritable} words, all zero
    _check(_lib().capset(header, data), "capset")


def _drop_root(uid: int) -> None:
    """Grader is root: a fresh unprivileged uid (setresuid from 0 clears the capabilities)."""
    _drop_bounding_set()
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


# -- seccomp ------------------------------------------------------------------------------------

# x86_64 system call numbers (the filter is installed on x86_64 only; see probe_capabilities).
_SYSCALLS = {
    "shmget": 29,
    "clone": 56,
    "kill": 62,
    "ptrace": 101,
    "vhangup": 153,
    "pivot_root": 155,
    "adjtimex": 159,
    "chroot": 161,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "clock_settime": 227,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "finit_module": 313,
    "memfd_create": 319,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "clone3": 435,
    "mount_setattr": 442,
}
#: Refused with EPERM: what could undo the view, raise privileges, reach another process or keep
#: memory outside the address-space limit.
DENIED_SYSCALLS = tuple(n for n in _SYSCALLS if n not in ("clone", "clone3", "kill"))
_NAMESPACE_FLAGS = (
    CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_NEWTIME
)
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000


def seccomp_supported() -> bool:
    return sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")


def _seccomp_program() -> bytes:
    """A classic-BPF seccomp filter: deny the syscalls above with EPERM, make ``clone3`` look
    absent (ENOSYS: the C library falls back to ``clone``, whose flags a filter can read), refuse
    ``clone`` with a namespace flag, and kill a process that uses another architecture's ABI."""
    ld_abs, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill = 0x7FFF0000, 0x80000000
    eperm, enosys = 0x00050000 | 1, 0x00050000 | 38
    ins: list[tuple[int, int, int, int]] = [
        (ld_abs, 0, 0, 4),  # seccomp_data.arch
        (jeq, 1, 0, _AUDIT_ARCH_X86_64),
        (ret, 0, 0, kill),
        (ld_abs, 0, 0, 0),  # seccomp_data.nr
        (jge, 0, 1, _X32_SYSCALL_BIT),  # the x32 ABI would bypass the numbers below
        (ret, 0, 0, eperm),
    ]
    for name in DENIED_SYSCALLS:
        ins += [(jeq, 0, 1, _SYSCALLS[name]), (ret, 0, 0, eperm)]
    ins += [(jeq, 0, 1, _SYSCALLS["clone3"]), (ret, 0, 0, enosys)]
    ins += [  # kill(-1) and kill(-pgid): only pids, and 0 for its own group (after setsid)
        (jeq, 0, 3, _SYSCALLS["kill"]),
        (ld_abs, 0, 0, 16),
        (jset, 0, 1, 0x80000000),
        (ret, 0, 0, eperm),
        (ld_abs, 0, 0, 0),  # reload the number for the next test
    ]
    ins += [
        (jeq, 0, 3, _SYSCALLS["clone"]),
        (ld_abs, 0, 0, 16),  # low word of args[0]: clone's flags on x86_64
        (jset, 0, 1, _NAMESPACE_FLAGS),
        (ret, 0, 0, eperm),
        (ret, 0, 0, allow),
    ]
    return b"".join(struct.pack("<HBBI", *i) for i in ins)


def _install_seccomp() -> None:
    if not seccomp_supported():
        return
    prog = _seccomp_program()
    buf = ctypes.create_string_buffer(prog, len(prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog) // 8, ctypes.addressof(buf))
    _check(
        _lib().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
        "seccomp",
    )


_NS_OK: bool | None = None


def namespaces_available_cached() -> bool:
    global _NS_OK
    if _NS_OK is None:
        _NS_OK = namespaces_available()
    return _NS_OK


def _vm_size_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _apply_limits(lim: Limits) -> None:
    def setl(which: int, soft: int, hard: int | None = None) -> None:
        try:
            resource.setrlimit(which, (soft, soft if hard is None else hard))
        except (ValueError, OSError):
            pass  # a limit the platform does not have

    setl(resource.RLIMIT_AS, _vm_size_bytes() + lim.memory_mb * 2**20)
    setl(resource.RLIMIT_CPU, lim.cpu_seconds, lim.cpu_seconds + 5)
    setl(resource.RLIMIT_NPROC, lim.processes)
    setl(resource.RLIMIT_FSIZE, lim.file_mb * 2**20)
    setl(resource.RLIMIT_NOFILE, lim.open_files)
    setl(resource.RLIMIT_CORE, 0)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write fails with EFBIG instead


def _clean_env() -> None:
    keep = {k: os.environ[k] for k in SAFE_ENV if k in os.environ}
    os.environ.clear()
    os.environ.update(keep)
    os.environ["HOME"] = "/tmp"
    os.environ["USER"] = "student"


def probe_capabilities() -> str:
    return "namespaces" if namespaces_available_cached() else "rlimits-only"


def die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent dies (Linux; a no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
