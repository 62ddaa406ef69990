"""What a worker can see and do, asked from inside one, plus the wire format's defences."""

from __future__ import annotations

import io
import os
import socket
import struct
from pathlib import Path

import numpy as np
import pytest

from autograder import wire
from autograder.course import REPO_ROOT
from autograder.endpoint import Endpoint
from autograder.session import Session, SessionConfig, Zygote
from autograder.student import LocalStudent, Remote, StudentError

pytestmark = pytest.mark.grader

PROBE_CELL = f"""
import os, socket
facts = {{}}
facts["uid"] = os.getuid()
facts["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
facts["env"] = sorted(os.environ)
facts["solutions"] = os.listdir({str(REPO_ROOT / "solutions")!r})
facts["checks"] = os.listdir({str(REPO_ROOT / "autograder")!r})
for key, path in (("secret", {{secret!r}}), ("tmp_secret", {{tmp_secret!r}})):
    try:
        facts[key] = open(path).read()
    except OSError as err:
        facts[key] = type(err).__name__
try:
    socket.create_connection(("127.0.0.1", {{port}}), timeout=1)
    facts["network"] = "connected"
except OSError as err:
    facts["network"] = type(err).__name__
try:
    open({str(REPO_ROOT / "coursekit" / "pwned.txt")!r}, "w").write("x")
    facts["write"] = "wrote"
except OSError as err:
    facts["write"] = type(err).__name__
import numpy
facts["numpy"] = numpy.__version__
import tabulate  # not preloaded by the zygote: the virtual environment must stay importable
facts["lazy_import"] = tabulate.__name__
"""


@pytest.fixture(scope="module")
def zygote():
    z = Zygote(preload=[])
    yield z
    z.close()


def test_worker_sees_nothing_secret(zygote, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_PASSWORD", "hunter2")
    tmp_secret = tmp_path / "gradebook.db"  # under /tmp: the worker has its own /tmp
    tmp_secret.write_text("grades")
    secret = REPO_ROOT / ".pytest_cache" / "isolation-secret.db"  # covered by /dev/null
    secret.parent.mkdir(exist_ok=True)
    secret.write_text("grades")
    server = socket.create_server(("127.0.0.1", 0))
    cfg = SessionConfig(
        hide=[str(REPO_ROOT / "solutions"), str(REPO_ROOT / "autograder"), str(secret)]
    )
    cell = (
        PROBE_CELL.replace("{secret!r}", repr(str(secret)))
        .replace("{tmp_secret!r}", repr(str(tmp_secret)))
        .replace("{port}", str(server.getsockname()[1]))
    )
    s = Session(zygote, cfg, slot=0, cells=[("probe", cell)])
    runs = s.start()
    assert runs[0].ok, runs[0].message
    facts, _ = s.request(
        {"op": "get", "target": "facts", "args": [], "kwargs": {"$strdict": {}}}, [], 10
    )
    s.close()
    server.close()
    secret.unlink()
    facts = wire.decode(facts["value"], [])
    if zygote.mode != "namespaces":
        pytest.skip("this machine gives only the rlimits fallback")
    assert facts["uid"] != 0
    assert facts["pids"][0] == 1 and len(facts["pids"]) <= 3  # its own PID namespace
    assert "DATABASE_PASSWORD" not in facts["env"]
    assert facts["solutions"] == [] and facts["checks"] == []
    assert facts["secret"] == ""  # the file is covered by /dev/null
    assert facts["tmp_secret"] == "FileNotFoundError"
    assert facts["network"] != "connected"
    assert facts["write"] in ("PermissionError", "OSError")
    assert not (REPO_ROOT / "coursekit" / "pwned.txt").exists()
    assert facts["numpy"] == np.__version__
    assert facts["lazy_import"] == "tabulate"


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
