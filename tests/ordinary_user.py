"""Run course code as an ordinary user from a root session (the suite and benchmarks run as root;
most instructors do not).

The default ``python3`` of the course machines lives under ``/root`` (mode 700), which another
user cannot enter, so :func:`ordinary_python` builds a venv of the system's Python 3.11 that reuses
the running venv's packages through a ``.pth`` file (same CPython 3.11 ABI), in a folder others
may enter. :data:`UID` needs no passwd entry: ``setpriv`` switches to it by number.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path

UID = 64_999
SYSTEM_PYTHON = Path("/usr/bin/python3.11")


def drop_command(uid: int = UID) -> list[str]:
    """The prefix that runs a command as ``uid`` with no supplementary groups."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def ordinary_python(uid: int = UID) -> tuple[Path, Path]:
    """``(python, home)``: an interpreter ``uid`` can run, and a folder it owns (remove it with
    ``shutil.rmtree(home)``). Raises ``FileNotFoundError`` without a system Python 3.11."""
    if not SYSTEM_PYTHON.exists():
        raise FileNotFoundError(f"{SYSTEM_PYTHON} is needed to build an ordinary user's venv")
    home = Path(tempfile.mkdtemp(prefix="course-ordinary-user-"))  # /tmp: not under /root
    os.chmod(home, 0o755)
    venv = home / "venv"
    subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(venv)], check=True)
    site = sysconfig.get_paths()["purelib"]
    (venv / "lib" / "python3.11" / "site-packages" / "course.pth").write_text(site + "\n")
    os.chown(home, uid, uid)
    return venv / "bin" / "python", home


def ordinary_env(home: Path) -> dict[str, str]:
    """A small environment for the ordinary user (nothing of root's, a home it may write)."""
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "CI")
    env = {k: v for k, v in os.environ.items() if k in keep}
    return env | {"HOME": str(home), "MPLCONFIGDIR": str(home), "COURSE_AS_ORDINARY_USER": "1"}


def cleanup(home: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)
