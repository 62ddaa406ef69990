"""Isolation for the worker that runs a submission.

On Linux the worker gets its own namespaces (mount, network, PID, IPC, UTS; plus a user namespace
when the grader is not root):

* **no network**: a fresh network namespace has no interface but a loopback that is down;
* **no view of secrets**: the course's ``solutions/``, ``autograder/`` (checks), ``tests/`` and
  ``.git``, the gradebook, the submissions and the grader's outputs are covered by empty tmpfs
  mounts (files by ``/dev/null``); ``/proc`` shows only the worker's own processes;
* **no writes outside its folder**: ``/`` is remounted read-only, ``/tmp``, ``/var/tmp`` and
  ``/dev/shm`` are small private tmpfs mounts, and the worker runs as an unprivileged uid of its
  own (one per worker slot) with ``no_new_privs``;
* **limits**: address space, CPU seconds, processes, file size and open files (``setrlimit``);
  the worker is PID 1 of its namespace, so killing it kills every process it started (a fork bomb
  dies with it);
* **a clean environment**: only a few variables (PATH, LANG, ...) survive, so no password or
  database URL in the grader's environment reaches student code.

Elsewhere (macOS, or a Linux without namespaces) the documented fallback is weaker: rlimits, a new
session and process group (killed as a group), and a clean environment, but no network or
filesystem isolation. :func:`probe_capabilities` says which mode a machine gets, and the grader
prints it with every batch.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import socket
import struct
import sys
from dataclasses import dataclass, field

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

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
    hide: list[str] = field(
        default_factory=list
    )  # paths to cover (dirs with tmpfs, files with /dev/null)
    uid: int = 0  # unprivileged uid to run as (when the grader is root); 0 = choose
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


def _prctl(option: int, arg: int) -> None:
    _check(_lib().prctl(option, arg, 0, 0, 0), "prctl")


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
        return

    root = os.geteuid() == 0
    outer_uid, outer_gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if not root:
        flags |= CLONE_NEWUSER
    try:
        _unshare(flags)
        if not root:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {outer_uid} 1")
            _write("/proc/self/gid_map", f"0 {outer_gid} 1")
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
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    # What Python needs must stay readable, also where the mounts below cover it (a checkout
    # under /tmp, an interpreter under /root): hold those directories open before covering.
    keep = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in _python_dirs(cfg.hide)}
    closed = _closed_ancestors(keep) if root else set()
    for path in cfg.hide:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,mode=0755")
        elif os.path.exists(path):
            _mount("/dev/null", path, None, MS_BIND, None)
    try:
        _mount("/", "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)
    except OSError:
        pass  # some container runtimes refuse; the uid switch below still keeps / unwritable
    size = f"size={cfg.limits.tmp_mb}m,mode=1777"
    covers = [p for p in ("/tmp", "/var/tmp", "/dev/shm") if os.path.isdir(p)]
    for path in covers:
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, size)
    for path in sorted(closed):  # home directories others may not enter: only Python shows
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
    bound: list[str] = []
    for path, fd in sorted(keep.items()):
        if _under(path, [*covers, *closed]) and not _under(path, bound):
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)  # with the hides
            bound.append(path)
        os.close(fd)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    os.makedirs("/tmp/work", exist_ok=True)
    os.chmod("/tmp/work", 0o777)

    _apply_limits(cfg.limits)
    _clean_env()
    os.chdir("/tmp/work")
    if root:
        uid = cfg.uid or (200_000 + slot)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a credential change clears it: set it again


def _under(path: str, tops) -> bool:
    return any(path == t or path.startswith(t.rstrip("/") + "/") for t in tops)


def _python_dirs(hidden: list[str]) -> list[str]:
    """The interpreter's directories and import roots, except what is to be hidden."""
    dirs = {
        os.path.realpath(p)
        for p in (
            sys.prefix,
            sys.base_prefix,
            sys.exec_prefix,
            os.path.dirname(sys.executable),
            *sys.path,
        )
        if p
    }
    return sorted(p for p in dirs if p != "/" and os.path.isdir(p) and not _under(p, hidden))


def _closed_ancestors(paths) -> set[str]:
    """For each path, its highest ancestor that others may not traverse (e.g. ``/root``)."""
    closed = set()
    for path in paths:
        probe = "/"
        for part in path.strip("/").split("/"):
            probe = os.path.join(probe, part)
            if not os.stat(probe).st_mode & 0o001:
                closed.add(probe)
                break
    return closed


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
