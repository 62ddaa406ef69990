"""Benchmark: what the sandbox costs per submission, as root and as an ordinary user.

Starts a zygote, then N times: spawns a worker, runs one trivial cell in it and closes it, once
with isolation (namespaces, allowlist root, dropped privileges, seccomp) and once without (rlimits
only); the difference of the medians is the sandbox's setup cost per submission. Run as root, it
runs itself again as an ordinary user (``setpriv``, a venv of /usr/bin/python3.11) and prints both.

    .venv/bin/python bench/sandbox_cost.py --n 40
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from autograder.session import Session, SessionConfig, Zygote  # noqa: E402


def measure(n: int) -> dict:
    zygote = Zygote(preload=[])
    try:
        out = {"mode": zygote.mode, "uid": os.geteuid()}
        for isolate in (True, False):
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                s = Session(zygote, SessionConfig(isolate=isolate), slot=0, cells=[("c", "x = 1")])
                runs = s.start()
                assert runs[0].ok, runs[0].message
                s.close()
                times.append(time.perf_counter() - t0)
            out["isolated" if isolate else "rlimits_only"] = statistics.median(times)
        out["setup_cost"] = out["isolated"] - out["rlimits_only"]
        return out
    finally:
        zygote.close()


def as_ordinary_user(n: int) -> dict | None:
    import ordinary_user

    try:
        python, home = ordinary_user.ordinary_python()
    except FileNotFoundError as err:
        print(f"ordinary user: skipped ({err})")
        return None
    try:
        proc = subprocess.run(
            [*ordinary_user.drop_command(), str(python), __file__, "--n", str(n), "--json"],
            cwd=ROOT,
            env=ordinary_user.ordinary_env(home),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            print(f"ordinary user: failed\n{proc.stderr[-2000:]}")
            return None
        return json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        ordinary_user.cleanup(home)


def show(who: str, r: dict) -> None:
    print(
        f"{who:>14}: mode {r['mode']}, worker start + one cell + close: median "
        f"{r['isolated'] * 1000:.0f} ms isolated, {r['rlimits_only'] * 1000:.0f} ms rlimits only "
        f"-> sandbox setup {r['setup_cost'] * 1000:.0f} ms per submission"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="workers per configuration")
    ap.add_argument("--json", action="store_true", help="print one JSON line (internal)")
    args = ap.parse_args()
    mine = measure(args.n)
    if args.json:
        print(json.dumps(mine))
        return
    show("root" if os.geteuid() == 0 else "this user", mine)
    if os.geteuid() == 0:
        other = as_ordinary_user(args.n)
        if other:
            show("ordinary user", other)


if __name__ == "__main__":
    main()
