"""What a worker can see and do, asked from inside one, plus the wire format's defences."""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import ordinary_user  # tests/ is on sys.path through conftest
import pytest

from autograder import sandbox, wire
from autograder.course import REPO_ROOT
from autograder.endpoint import Endpoint
from autograder.session import Session, SessionConfig, WorkerLost, Zygote
from autograder.student import LocalStudent, Remote, StudentError

pytestmark = pytest.mark.grader

PROBE_CELL = r"""
import ctypes, os, socket, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
facts = {}
facts["uid"] = os.getuid()
facts["root"] = sorted(os.listdir("/"))
facts["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
facts["env"] = sorted(os.environ)
facts["status"] = {
    k: v.strip()
    for k, _, v in (line.partition(":") for line in open("/proc/self/status"))
    if k.startswith("Cap") or k in ("NoNewPrivs", "Seccomp")
}
def listing(path):
    try:
        return sorted(os.listdir(path))
    except OSError as err:
        return type(err).__name__
def read(path):
    try:
        return open(path).read()
    except OSError as err:
        return type(err).__name__
def call(fn):
    ret = fn()
    return [ret, ctypes.get_errno()]
facts["listings"] = {p: listing(p) for p in PATHS_TO_LIST}
facts["reads"] = {p: read(p) for p in PATHS_TO_READ}
facts["calls"] = {
    "umount2": call(lambda: libc.umount2(b"/usr", 2)),
    "mount": call(lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
    "remount_rw": call(lambda: libc.mount(None, b"/", None, 32, None)),
    "pivot_root": call(lambda: libc.syscall(155, b"/tmp", b"/tmp")),
    "unshare_user": call(lambda: libc.unshare(0x10000000)),
    "unshare_mount": call(lambda: libc.unshare(0x20000)),
    "setns": call(lambda: libc.setns(0, 0)),
    "add_key": call(lambda: libc.syscall(248, b"user", b"k", b"v", 1, -4)),
    "memfd_create": call(lambda: libc.syscall(319, b"x", 0)),
    "shmget": call(lambda: libc.shmget(0, 1 << 20, 0o1600)),
    "ptrace_parent": call(lambda: libc.ptrace(16, os.getppid(), 0, 0)),
    "kill_0": call(lambda: libc.kill(0, 0)),
    "kill_minus_1": call(lambda: libc.kill(-1, 0)),
}
writes = {}
for path in ("/pwned", "/usr/pwned", "/etc/pwned", COURSEKIT_FILE, "/tmp/ok", "/dev/shm/ok"):
    try:
        open(path, "w").write("x")
        writes[path] = "wrote"
    except OSError as err:
        writes[path] = type(err).__name__
facts["writes"] = writes
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=1)
    facts["network"] = "connected"
except OSError as err:
    facts["network"] = type(err).__name__
t = threading.Thread(target=lambda: None)
t.start()
t.join()
facts["subprocess"] = subprocess.run(["/bin/echo", "ok"], capture_output=True, text=True).stdout
import numpy
facts["numpy"] = numpy.__version__
import tabulate  # not preloaded by the zygote: the virtual environment must stay importable
facts["lazy_import"] = tabulate.__name__
import coursekit.training  # the course's package is on the allowlist
facts["coursekit"] = coursekit.training.__name__
"""

#: Top-level names that may appear in the worker's root: the system directories, a private /dev,
#: /proc, /tmp and /var/tmp, and the first component of each allowed path (Python, coursekit).
SYSTEM_TOP = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "tmp"}


def _expected_root() -> set[str]:
    tops = {p.strip("/").split("/")[0] for p in sandbox.allowed_paths(sandbox.SandboxConfig())}
    return {t for t in tops if os.path.lexists("/" + t)} | {"dev", "proc", "tmp", "var"}


def ask_worker(zygote, cfg: SessionConfig, cell: str) -> dict:
    s = Session(zygote, cfg, slot=0, cells=[("probe", cell)])
    runs = s.start()
    assert runs[0].ok, runs[0].message
    facts, _ = s.request(
        {"op": "get", "target": "facts", "args": [], "kwargs": {"$strdict": {}}}, [], 10
    )
    s.close()
    return wire.decode(facts["value"], [])


@pytest.fixture(scope="module")
def zygote():
    z = Zygote(preload=[])
    yield z
    z.close()


def test_worker_sees_an_allowlist_and_holds_no_privilege(zygote, tmp_path, monkeypatch):
    """What a worker can see and do, asked from inside one (as root, or as the user running the
    suite: `test_isolation_as_an_ordinary_user` runs this file again under another uid)."""
    monkeypatch.setenv("DATABASE_PASSWORD", "hunter2")
    # Secrets in the places an instructor keeps them: the course folder (a gradebook, an LMS bulk
    # download), another checkout, a home directory, a file under /tmp.
    course = tmp_path / "course"
    (course / "submitted" / "alice" / "a1").mkdir(parents=True)
    (course / "submitted" / "alice" / "a1" / "a1.ipynb").write_text("answers")
    (course / "gradebook.db").write_text("grades")
    (course / "submissions.zip").write_text("bulk download")
    other = tmp_path / "other-checkout" / "solutions"
    other.mkdir(parents=True)
    (other / "a1.md").write_text("solution")
    server = socket.create_server(("127.0.0.1", 0))
    to_read = [
        str(course / "gradebook.db"),
        str(course / "submissions.zip"),
        str(other / "a1.md"),
        str(REPO_ROOT / "solutions" / "a1_backprop" / "a1_backprop.md"),
        str(REPO_ROOT / "autograder" / "checks" / "a1_backprop" / "hidden.py"),
        "/etc/shadow",
        "/etc/hostname",
    ]
    to_list = [
        str(REPO_ROOT),
        str(REPO_ROOT / "solutions"),
        str(REPO_ROOT / "autograder"),
        str(REPO_ROOT / "tests"),
        str(course),
        str(tmp_path),
        "/home",
        "/root",
        "/etc",
        "/dev",
    ]
    cell = (
        f"PATHS_TO_LIST = {to_list!r}\nPATHS_TO_READ = {to_read!r}\n"
        f"COURSEKIT_FILE = {str(REPO_ROOT / 'coursekit' / 'pwned.txt')!r}\n"
        f"PORT = {server.getsockname()[1]}\n" + PROBE_CELL
    )
    facts = ask_worker(zygote, SessionConfig(), cell)
    server.close()
    if zygote.mode != "namespaces":
        pytest.skip("this machine gives only the rlimits fallback")

    assert facts["uid"] != 0
    assert set(facts["root"]) <= _expected_root() | SYSTEM_TOP, facts["root"]
    assert facts["pids"][0] == 1 and len(facts["pids"]) <= 3  # its own PID namespace
    assert "DATABASE_PASSWORD" not in facts["env"]
    for path, got in facts["reads"].items():
        assert got in ("FileNotFoundError", "PermissionError"), (path, got)
    # the checkout shows only the virtual environment and coursekit, when they live in it
    allowed_here = {
        Path(p).relative_to(REPO_ROOT).parts[0]
        for p in sandbox.allowed_paths(sandbox.SandboxConfig())
        if Path(p).is_relative_to(REPO_ROOT) and p != str(REPO_ROOT)
    }
    listings = facts["listings"]
    assert set(listings[str(REPO_ROOT)] if isinstance(listings[str(REPO_ROOT)], list) else []) <= (
        allowed_here
    )
    for key in ("solutions", "autograder", "tests"):
        assert listings[str(REPO_ROOT / key)] == "FileNotFoundError"
    assert listings[str(course)] == "FileNotFoundError"
    assert listings[str(tmp_path)] == "FileNotFoundError"
    assert listings["/home"] == "FileNotFoundError"
    assert set(listings["/etc"]) <= {Path(p).name for p in sandbox.ETC_PATHS}
    assert set(listings["/dev"]) <= {*sandbox.DEVICES, "fd", "stdin", "stdout", "stderr", "shm"}
    # no capability in any set, no way to undo the view or reach beyond the worker
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(facts["status"][key], 16) == 0, (key, facts["status"][key])
    assert facts["status"]["NoNewPrivs"] == "1"
    for name, (ret, errno) in facts["calls"].items():
        if name == "kill_0":
            assert ret == 0  # its own process group (after setsid): only its own processes
        else:
            assert ret == -1 and errno != 0, (name, ret, errno)
    for path, got in facts["writes"].items():
        if path in ("/tmp/ok", "/dev/shm/ok"):  # its private tmpfs mounts only
            assert got == "wrote", (path, got)
        else:
            assert got != "wrote", (path, got)
    assert not (REPO_ROOT / "coursekit" / "pwned.txt").exists()
    assert facts["network"] != "connected"
    assert facts["subprocess"] == "ok\n"
    assert facts["numpy"] == np.__version__
    assert facts["lazy_import"] == "tabulate"
    assert facts["coursekit"] == "coursekit.training"


def test_a_hidden_path_inside_an_allowed_directory_stays_covered(zygote):
    """Defence in depth: a path to hide that lies in an allowed directory is covered, although
    the view is an allowlist."""
    allowed = Path(tempfile.mkdtemp(prefix="course-exposed-"))
    try:
        os.chmod(allowed, 0o755)
        (allowed / "data.txt").write_text("data")
        (allowed / "gradebook.db").write_text("grades")
        cell = (
            f"facts = {{'data': open({str(allowed / 'data.txt')!r}).read(),"
            f" 'secret': open({str(allowed / 'gradebook.db')!r}).read()}}"
        )
        cfg = SessionConfig(expose=[str(allowed)], hide=[str(allowed / "gradebook.db")])
        facts = ask_worker(zygote, cfg, cell)
    finally:
        shutil.rmtree(allowed)
    if zygote.mode == "namespaces":
        assert facts == {"data": "data", "secret": ""}


def test_every_worker_of_a_root_grader_gets_its_own_uid(zygote):
    if os.geteuid() != 0 or zygote.mode != "namespaces":
        pytest.skip("a fresh uid per worker applies when the grader runs as root")
    cell = "import os\nfacts = os.getuid()"
    uids = {ask_worker(zygote, SessionConfig(), cell) for _ in range(2)}
    assert len(uids) == 2


def test_isolation_as_an_ordinary_user(request):
    """The isolation tests above, and the fixture course's adversarial corpus, again as an
    ordinary user: the sandbox must be as strong without root (a user namespace instead)."""
    if os.geteuid() != 0:
        pytest.skip("the suite already runs as an ordinary user")
    if os.environ.get("COURSE_AS_ORDINARY_USER"):
        pytest.skip("already the ordinary user's run")
    try:
        python, home = ordinary_user.ordinary_python()
    except FileNotFoundError as err:
        pytest.skip(str(err))
    request.addfinalizer(lambda: ordinary_user.cleanup(home))
    drop = ordinary_user.drop_command()
    reach = subprocess.run(
        [*drop, str(python), "-c", "import numpy, torch, autograder, coursekit"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if reach.returncode != 0:
        pytest.fail(
            "an ordinary user cannot reach this checkout or its venv (a parent folder of mode "
            "700?): clone the course where other users may enter\n" + reach.stderr[-2000:]
        )
    proc = subprocess.run(
        [
            *drop,
            str(python),
            "-m",
            "pytest",
            "-v",
            "-p",
            "no:cacheprovider",
            f"--basetemp={home / 'pytest'}",
            "tests/test_isolation.py",
            "tests/test_grader_fixture.py::test_adversarial_corpus",
        ],
        cwd=REPO_ROOT,
        env=ordinary_user.ordinary_env(home),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    for name in ("test_worker_sees_an_allowlist_and_holds_no_privilege", "test_adversarial_corpus"):
        assert re.search(rf"{name} PASSED", proc.stdout), proc.stdout[-3000:]


def test_a_submission_that_crashes_every_cell_meets_its_time_budget(zygote):
    """Restarts and replays count against one wall-clock budget per submission."""
    slow = [(f"slow{i}", "import time\ntime.sleep(0.5)") for i in range(6)]
    crashing = [(f"crash{i}", "import os\nos._exit(1)") for i in range(6)]
    s = Session(zygote, SessionConfig(submission_budget=6.0), slot=0, cells=slow + crashing)
    t0 = time.monotonic()
    with pytest.raises(WorkerLost, match="time budget of 6 s"):
        s.start()
        s.ensure()
    assert time.monotonic() - t0 < 6.0 + 3.0  # the budget, plus killing the last worker
    s.close()


def test_wire_round_trip_and_handles():
    ep = Endpoint({"f": lambda x: (x * 2, object(), {"k": [1, 2.5, None]})})
    s = LocalStudent(ep.ns)
    s.endpoint = ep
    out, obj, d = s.call("f", np.arange(3.0))
    assert np.array_equal(out, [0.0, 2.0, 4.0]) and isinstance(obj, Remote)
    assert d == {"k": [1, 2.5, None]}
    with pytest.raises(StudentError, match="not defined"):
        s.call("missing")


def test_wire_refuses_pickles_and_huge_headers():
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(wire.WireError):
        wire.decode({"$nd": 0}, [buf.getvalue()])
    with pytest.raises(wire.WireError):
        wire.decode({"$class": "os.system"}, [])
    # a header that claims 80 GB of data in a few bytes is refused before any allocation
    forged = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        forged, {"descr": "<f8", "fortran_order": False, "shape": (10**10,)}
    )
    forged.write(b"\0" * 32)
    with pytest.raises(wire.WireError, match="does not match"):
        wire.decode({"$nd": 0}, [forged.getvalue()])
    buf = io.BytesIO()
    np.save(buf, np.zeros(4))
    assert np.array_equal(wire.decode({"$nd": 0}, [buf.getvalue()]), np.zeros(4))
    a, b = socket.socketpair()
    a.sendall(struct.pack("<Q", wire.MAX_MESSAGE + 1))  # refused before reading (or allocating)
    with pytest.raises(wire.WireError, match="MiB"):
        wire.recv(b)
    body = struct.pack("<I", wire.MAX_HEADER + 1) + b"{}"
    a.sendall(struct.pack("<Q", len(body)) + body)
    with pytest.raises(wire.WireError, match="over the limit"):
        wire.recv(b)
    body = struct.pack("<I", 2) + b"{}" + struct.pack("<IQ", 1, 10**6) + b"abc"  # cut off
    a.sendall(struct.pack("<Q", len(body)) + body)
    with pytest.raises(wire.WireError, match="cut off"):
        wire.recv(b)
    a.close()
    with pytest.raises(EOFError):
        wire.recv(b)


def test_output_is_capped():
    from autograder.worker import CappedText

    t = CappedText(10)
    t.write("x" * 25)
    assert t.take().startswith("x" * 10) and "15 more characters" in t.take() + "15 more characters"


def test_no_pid_reuse_assumption(zygote):
    # killing a worker twice, or after it exited, is harmless
    s = Session(zygote, SessionConfig(), slot=1, cells=[("c", "import os")])
    s.start()
    s.discard()
    s.discard()
    assert os.path.exists("/proc")  # nothing else to assert: it must not raise


def test_paths_exist():
    assert Path(REPO_ROOT / "autograder" / "sandbox.py").exists()
