"""The prepared GPU check: run everything the course runs on PyTorch, on the GPU, in one go.

Run it through ``scripts/gpu_check.sh`` (which sets up the Jupyter packages on a machine
without them). It executes every chapter (``book/*.md`` notebooks) and every assignment
solution (``solutions/<a>/<a>.md``) with nbclient, grades the six solutions with the trusted
grader (``python -m autograder grade``), trains the A6 capstone reference
(``bench/capstone.py``) and runs the CIFAR-10 speed run (``bench/cifar10_speedrun.py``; on
synthetic data of CIFAR's shape when the real files are absent), and writes one report,
``report.json`` and ``report.md``, under ``--out`` (default ``$OUT/gpu_report`` when ``$OUT``
is set, else ``./gpu_report``). Nothing stops the run: a failure is recorded and the next item
goes on.

    bash scripts/gpu_check.sh                          # everything (about 8 minutes on an H100)
    bash scripts/gpu_check.sh --quick --only intro a1_backprop   # a dry run of two notebooks
    COURSE_DEVICE=cpu bash scripts/gpu_check.sh --out cpu_report  # the CPU baseline

Names for ``--only``: a chapter's file stem (``babysitting``), an assignment (``a1_backprop``:
its solution notebook and its grading), ``capstone``, ``speedrun``, or the path of any MyST
notebook (``<a>/<a>.md`` runs as a solution, beside the files of its folder; the suite's dry run
uses this for two tiny notebooks).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT_FIELDS = ("device", "gpu", "torch", "quick", "total_seconds", "notebooks", "grading")


def _tail(text: str, n: int = 2000) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text or "")  # no terminal colours in the report
    return text[-n:]


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("OMP_NUM_THREADS", str(threads))
    env.setdefault("MPLBACKEND", "Agg")
    return env


def chapters() -> list[Path]:
    """The chapters that execute: MyST notebooks with a kernel, in ``book/``."""
    return sorted(p for p in (ROOT / "book").glob("*.md") if "kernelspec:" in p.read_text()[:600])


def assignments() -> list[str]:
    return sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.md").exists())


_RUNNER = r"""
import sys, time, nbclient, jupytext
path, cwd, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])
nb = jupytext.read(path)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                 resources={"metadata": {"path": cwd}})
client.execute()
"""


def run_notebook(path: Path, kind: str, timeout: int, threads: int) -> dict:
    """Execute one notebook in a fresh kernel; its wall time includes the kernel's start."""
    name = path.stem
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    entry = {"name": name, "kind": kind, "path": str(shown)}
    with tempfile.TemporaryDirectory(prefix=f"gpu-check-{name}-") as tmp:
        if kind == "solution":  # run beside copies of its files, as a student's notebook is
            cwd = Path(tmp)
            for f in path.parent.iterdir():
                if f.is_file() and f.suffix != ".md":
                    shutil.copy(f, cwd / f.name)
        else:
            cwd = path.parent  # as jupyter-book runs a chapter
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _RUNNER, str(path), str(cwd), str(timeout)],
                capture_output=True,
                text=True,
                env=_env(threads),
                timeout=timeout + 60,
            )
            status = "ok" if proc.returncode == 0 else "failed"
            error = None if status == "ok" else _tail(proc.stderr + proc.stdout)
        except subprocess.TimeoutExpired as exc:
            status, error = "timeout", _tail(str(exc.stderr or ""))
    entry.update(status=status, seconds=round(time.perf_counter() - start, 2), error=error)
    return entry


def grade(name: str, timeout: int) -> dict:
    """Grade the solution of ``name`` with the trusted grader, as an instructor would."""
    import nbformat

    from autograder.release import source_notebook

    entry = {"assignment": name}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"gpu-grade-{name}-") as tmp:
        folder = Path(tmp) / "submitted" / "solution" / name
        folder.mkdir(parents=True)
        src = ROOT / "solutions" / name
        nbformat.write(source_notebook(src / f"{name}.md"), folder / f"{name}.ipynb")
        for f in src.iterdir():  # attachments (A6's capstone.npz)
            if f.is_file() and f.suffix not in (".md", ".py"):
                shutil.copy(f, folder / f.name)
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "autograder", "grade", name, str(Path(tmp) / "submitted")]
        cmd += ["--no-db", "--json", str(out), "--quiet", "--workers", "2", "--seed", "0"]
        try:
            proc = subprocess.run(
                cmd, cwd=ROOT, capture_output=True, text=True, env=_env(4), timeout=timeout
            )
            if proc.returncode == 0 and out.exists():
                sub = json.loads(out.read_text())["submissions"][0]
                # score None: a written answer, left to the instructor (manual grading)
                lost = [i for i in sub["items"] if (i["score"] or 0) < i["max_score"]]
                lost = [i for i in lost if i["score"] is not None]
                entry.update(
                    status="ok" if not lost else "lost points",
                    score=sub["score"],
                    max_score=sub["max_score"],
                    sandbox=json.loads(out.read_text()).get("sandbox"),
                    error="; ".join(f"{i['grade_id']}: {i['message']}" for i in lost)[:2000]
                    or None,
                )
            else:
                entry.update(status="failed", error=_tail(proc.stderr + proc.stdout))
        except subprocess.TimeoutExpired:
            entry.update(status="timeout", error=f"no result within {timeout} s")
    entry["seconds"] = round(time.perf_counter() - start, 2)
    return entry


def capstone(epochs: int, timeout: int) -> dict:
    """Train the A6 capstone reference with bench/capstone.py; parse its per-epoch lines."""
    cmd = [sys.executable, "-u", str(ROOT / "bench" / "capstone.py"), "--epochs", str(epochs)]
    start = time.perf_counter()
    entry: dict = {"epochs_asked": epochs}
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, env=_env(8), timeout=timeout
        )
        out, status = proc.stdout, "ok" if proc.returncode == 0 else "failed"
        err = proc.stderr
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        status, err = "timeout", f"stopped after {timeout} s (the epochs done are reported)"
    rows = re.findall(r"^\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s*$", out, flags=re.M)
    entry.update(
        status=status,
        seconds=round(time.perf_counter() - start, 2),
        epochs_done=len(rows),
        per_epoch=[
            {"epoch": int(e), "train_seconds": float(t), "test_accuracy": float(a)}
            for e, t, a in rows
        ],  # fmt: skip
        test_accuracy=float(rows[-1][2]) if rows else None,
        train_seconds=float(rows[-1][1]) if rows else None,
        error=None if status == "ok" else _tail(err + "\n" + out),
    )
    return entry


def speedrun(quick: bool) -> dict:
    """The CIFAR-10 speed run: the real files when present, else synthetic data of their shape."""
    sys.path.insert(0, str(ROOT / "bench"))
    import numpy as np
    import torch
    from cifar10_speedrun import normalise, train
    from cifar10_speedrun import speedrun as real_speedrun

    from coursekit.data import DataError, load_cifar10
    from coursekit.device import pick_device

    device = pick_device()
    start = time.perf_counter()
    entry: dict = {}
    try:
        try:
            load_cifar10("test")
            entry["data"] = "cifar10"
            out = real_speedrun(device=device, epochs=1 if quick else None)
        except (DataError, FileNotFoundError, OSError):
            # Accuracy on random images means nothing; the time per epoch is what is measured.
            n_train, n_test = (256, 128) if quick else (50_000, 10_000)
            rng = np.random.default_rng(0)
            x = rng.integers(0, 256, (n_train + n_test, 3, 32, 32), dtype=np.uint8)
            y = torch.from_numpy(rng.integers(0, 10, n_train + n_test)).to(device)
            images = normalise(x, device)
            kwargs = {"epochs": 1, "batch_size": 128, "widths": (8, 16, 16)} if quick else {}
            entry["data"] = f"synthetic ({n_train} + {n_test} images of CIFAR-10's shape)"
            out = train(
                images[:n_train], y[:n_train], images[n_train:], y[n_train:],
                log=lambda *_: None, **kwargs,
            )  # fmt: skip
        entry.update(
            status="ok",
            time_to_94=out["time_to_target"],
            final_accuracy=out["final_accuracy"],
            train_seconds=out["epochs"][-1]["seconds"],
            epochs=len(out["epochs"]),
            error=None,
        )
    except Exception as exc:  # noqa: BLE001 -- reported, not raised
        entry.update(status="failed", error=_tail(f"{type(exc).__name__}: {exc}"))
    entry["seconds"] = round(time.perf_counter() - start, 2)
    return entry


def _device_info() -> dict:
    import torch

    from coursekit.device import autocast_dtype, pick_device

    device = pick_device()
    info = {
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "capability": list(torch.cuda.get_device_capability(device))
        if device.type == "cuda"
        else None,
        "autocast_dtype": str(autocast_dtype(device)),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    return info


def _markdown(report: dict) -> str:
    def fmt(v, spec=".1f"):
        return "" if v is None else format(v, spec)

    lines = [
        "# GPU check",
        "",
        f"{report['started']}: device `{report['device']}` ({report['gpu'] or 'no GPU'}), "
        f"torch {report['torch']}, CUDA {report['cuda']}, autocast {report['autocast_dtype']}, "
        f"Python {report['python']}, {report['cpus']} CPUs; quick={report['quick']}; "
        f"total {report['total_seconds']:.0f} s.",
        "",
        "## Notebooks",
        "",
        "| notebook | kind | status | seconds here | CPU seconds |",
        "| --- | --- | --- | --- | --- |",
    ]
    for nb in report["notebooks"]:
        lines.append(
            f"| {nb['name']} | {nb['kind']} | {nb['status']} | {fmt(nb['seconds'])} "
            f"| {fmt(nb.get('cpu_seconds'))} |"
        )
    lines += ["", "## Grading (trusted grader, the solutions)", ""]
    lines += ["| assignment | status | score | seconds |", "| --- | --- | --- | --- |"]
    for g in report["grading"]:
        score = f"{g['score']:g} / {g['max_score']:g}" if g.get("score") is not None else ""
        lines.append(f"| {g['assignment']} | {g['status']} | {score} | {fmt(g['seconds'])} |")
    cap = report.get("capstone")
    if cap:
        lines += [
            "",
            "## A6 capstone reference",
            "",
            f"{cap['status']}: {cap['epochs_done']} of {cap['epochs_asked']} epochs, test "
            f"accuracy {fmt(cap['test_accuracy'], '.4f')} after {fmt(cap['train_seconds'])} s "
            f"of training ({fmt(cap['seconds'])} s in all).",
        ]
    run = report.get("speedrun")
    if run:
        lines += [
            "",
            "## CIFAR-10 speed run",
            "",
            f"{run['status']} on {run.get('data')}: {run.get('epochs')} epochs in "
            f"{fmt(run.get('train_seconds'), '.2f')} s, final accuracy "
            f"{fmt(run.get('final_accuracy'), '.4f')}, time to 94%: "
            f"{fmt(run.get('time_to_94'), '.2f') or 'not reached'} (published record: 2.59 s "
            "on one A100, airbench94).",
        ]
    lines += ["", "## Failures", ""]
    lines += [f"- {f}" for f in report["failures"]] or ["None."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these items")
    p.add_argument("--quick", action="store_true", help="1 capstone epoch, a tiny speed run")
    p.add_argument("--out", type=Path, default=None, help="report folder")
    p.add_argument("--jobs", type=int, default=None, help="notebooks at once (default: CPUs/3)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per notebook")
    p.add_argument("--capstone-epochs", type=int, default=None, help="default 12 (1 if --quick)")
    p.add_argument("--capstone-timeout", type=int, default=150)
    p.add_argument("--cpu-report", type=Path, help="a report.json of a CPU run: its times")
    args = p.parse_args(argv)
    out = args.out or (Path(os.environ["OUT"]) / "gpu_report" if os.environ.get("OUT") else None)
    out = (out or ROOT / "gpu_report").resolve()
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))

    only = {n for n in args.only or [] if not n.endswith(".md")}
    extra = [Path(n).resolve() for n in args.only or [] if n.endswith(".md")]
    missing = [str(n) for n in extra if not n.is_file()]
    if missing:
        p.error(f"no such notebook: {missing}")
    names = {p.stem for p in chapters()} | set(assignments()) | {"capstone", "speedrun"}
    unknown = only - names
    if unknown:
        p.error(f"unknown names {sorted(unknown)}; known: {sorted(names)}")
    t0 = time.perf_counter()
    report = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "quick": args.quick}
    report.update(_device_info())

    def wanted(name: str) -> bool:
        return not (only or extra) or name in only

    cpus = os.cpu_count() or 2
    jobs = args.jobs or max(1, cpus // 3)
    threads = max(1, cpus // jobs)
    print(f"gpu_check: {report['device']} ({report['gpu']}), {jobs} notebooks at once", flush=True)

    # The timed GPU benchmarks first, alone on the machine.
    report["speedrun"] = speedrun(args.quick) if wanted("speedrun") else None
    if report["speedrun"]:
        print(f"speedrun: {report['speedrun']['status']}", flush=True)
    epochs = args.capstone_epochs or (1 if args.quick else 12)
    report["capstone"] = capstone(epochs, args.capstone_timeout) if wanted("capstone") else None
    if report["capstone"]:
        print(f"capstone: {report['capstone']['status']}", flush=True)

    tasks = [(p, "chapter") for p in chapters() if wanted(p.stem)]
    tasks += [(ROOT / "solutions" / a / f"{a}.md", "solution") for a in assignments() if wanted(a)]
    tasks += [(n, "solution" if n.parent.name == n.stem else "chapter") for n in extra]
    to_grade = [a for a in assignments() if wanted(a)]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        graded = [pool.submit(grade, a, args.timeout) for a in to_grade]
        ran = [pool.submit(run_notebook, path, kind, args.timeout, threads) for path, kind in tasks]
        notebooks = []
        for fut in ran:
            nb = fut.result()
            print(f"{nb['name']}: {nb['status']} in {nb['seconds']:.1f} s", flush=True)
            notebooks.append(nb)
        report["grading"] = [f.result() for f in graded]

    cpu = {}
    if args.cpu_report and args.cpu_report.exists():
        cpu = {
            nb["name"]: nb["seconds"] for nb in json.loads(args.cpu_report.read_text())["notebooks"]
        }
    for nb in notebooks:
        nb["cpu_seconds"] = cpu.get(nb["name"])
    report["notebooks"] = notebooks
    failures = [
        f"notebook {nb['name']}: {nb['status']}" for nb in notebooks if nb["status"] != "ok"
    ]
    failures += [f"grading {g['assignment']}: {g['status']}" for g in report["grading"]
                 if g["status"] != "ok"]  # fmt: skip
    for key in ("capstone", "speedrun"):
        if report[key] and report[key]["status"] != "ok":
            failures.append(f"{key}: {report[key]['status']}")
    report["failures"] = failures
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(_markdown(report))
    print(f"report: {out / 'report.md'} ({len(failures)} failures)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
