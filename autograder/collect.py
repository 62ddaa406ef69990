"""Import an LMS bulk download into nbgrader's ``submitted/<student>/<assignment>/`` layout.

A bulk download is a zip (or a folder) holding one entry per student: a zip of the student's
files, or the notebook itself. LMSs name the entries after the student, for example
``Jane Doe_123456_assignsubmission_file_`` (Moodle) or ``doejane_12345_67890_a1.zip`` (Canvas),
and rename resubmitted files (``a1_backprop (2).ipynb``, ``A1_Backprop-1.ipynb``). The student id
is taken from the entry's name with :data:`ID_PATTERNS` (or a pattern given with ``--id-pattern``
whose group ``student`` is the id); the notebook is the one file whose name, once the LMS's
decorations are removed, is the assignment's.

Nothing is ever extracted by its archive path: members are read into memory with hard limits and
the notebook is written to a path built from the id alone. Every malformed entry gets a clear
reason and is skipped; the others are imported: archives that are not zips or are empty, zip
bombs (too large once inflated, too many members, nested too deep), members with absolute paths
or ``..``, symbolic links, encrypted members, no notebook, two candidate notebooks, an empty file,
a file that is not a notebook. A single notebook with another name (``Untitled1.ipynb``) is
imported under the assignment's name, with a warning.

Submission policy, recorded where grading (and nbgrader) can see it:

- the submission time goes into nbgrader's own ``timestamp.txt`` beside the notebook (nbgrader
  computes late penalties from it); it is the time the bulk download stamps on the entry (a zip
  member's time, read as UTC, or a file's modification time);
- the LMS's ``LATE`` marker (Canvas), the time, the entry's name and any duplicate it replaced go
  into ``collect.json`` beside the notebook;
- two entries of the same student: the latest is kept by default (the later time, then the one
  marked late) and the other is ``superseded``; ``duplicates="skip"`` skips both instead;
- every student left without a submission is listed, with the reason, in ``skipped.json`` in the
  course folder (the parent of ``submitted/``), so that grading can list them with 0.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

MAX_MEMBER_BYTES = 50 * 2**20  # one inflated file
MAX_TOTAL_BYTES = 200 * 2**20  # everything inflated from one student's zip
MAX_MEMBERS = 2000
MAX_RATIO = 200  # inflated / compressed size of one member: beyond this it is a bomb

ID_PATTERNS = [
    # Moodle: "Full Name_123456_assignsubmission_file_" (+ the file name when not in folders)
    re.compile(r"^(?P<name>.+?)_(?P<student>\d+)_assignsubmission_(?:file_|onlinetext_)?"),
    # Canvas: "doejane_12345_67890_file.ext", late ones "doejane_LATE_12345_67890_file.ext"
    re.compile(r"^(?P<name>[^_]+)_(?P<late>LATE_)?(?P<student>\d+)_\d+_"),
    # Anything else: the whole name, less a .zip or .ipynb ending ("jdoe.zip", "jdoe/")
    re.compile(r"^(?P<student>[A-Za-z0-9][A-Za-z0-9._@-]*?)(?:\.zip|\.ipynb)?$"),
]


SKIPPED_FILE = "skipped.json"  # in the course folder: {assignment: [{student, source, reason}]}
SIDECAR = "collect.json"  # beside the notebook: where it came from, late or not, duplicates
TIMESTAMP = "timestamp.txt"  # nbgrader's own record of the submission time
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"  # nbgrader's default (Exchange.timestamp_format)
DUPLICATES = ("latest", "skip")


class CollectError(Exception):
    """Why one entry of the bulk download was skipped."""


@dataclass
class Entry:
    source: str  # the entry's name in the bulk download
    student: str | None
    # imported | updated | unchanged | merged (into another entry) | superseded (an older
    # duplicate of the kept entry) | skipped
    status: str
    message: str = ""
    late: bool = False  # the LMS marked the entry late
    submitted_at: str | None = None  # ISO 8601, UTC
    warning: str = ""  # imported, but the instructor should know (a renamed notebook)


@dataclass
class _Candidate:
    top: str
    notebook: bytes
    attached: dict[str, bytes]
    late: bool
    when: datetime | None
    warning: str


def collect(
    bulk: Path,
    assignment: str,
    into: Path,
    id_pattern: str | None = None,
    attachments: tuple[str, ...] = (),
    duplicates: str = "latest",
) -> list[Entry]:
    """Import every student of ``bulk`` (a zip or a folder); returns one Entry per entry.

    ``attachments`` names files the assignment asks for beside the notebook (a capstone's
    weights); they are imported with it, from the same entry or from a separate entry of the same
    student (Canvas lists each file of a submission as an entry of its own). ``duplicates``:
    ``latest`` keeps a student's latest notebook entry, ``skip`` skips the student. An
    ``id_pattern`` may have a group ``late`` that matches when the LMS marks an entry late.

    Raises CollectError only when ``bulk`` itself cannot be read; a bad entry is skipped."""
    if duplicates not in DUPLICATES:
        raise ValueError(f"duplicates must be one of {DUPLICATES}, not {duplicates!r}")
    patterns = [re.compile(id_pattern)] if id_pattern else ID_PATTERNS
    entries: list[Entry] = []
    candidates: dict[str, list[_Candidate]] = {}
    extra: dict[str, list[tuple[str, dict[str, bytes]]]] = {}  # entries holding attachments only
    for top, read, when in _groups(Path(bulk)):
        student, rest, late = _maybe_id(top, patterns)
        try:
            if student is None:
                raise CollectError(f"no student id in the name {top!r} (see --id-pattern)")
            # A file named after the student ("doejane_12345_67890_a1_backprop (2).ipynb")
            # is judged by the name the student gave it, after the LMS's prefix.
            members = [(rest if n == top and rest else n, d, e) for n, d, e in read()]
            files = _files_of(members)
            attached = _attachments_of(files, attachments)
            if attached and not any(n.lower().endswith(".ipynb") for n, _ in files):
                extra.setdefault(student, []).append((top, attached))
                continue
            notebook, warning = _notebook_of(files, assignment)
        except CollectError as err:
            entries.append(Entry(top, student, "skipped", str(err), late, _iso(when)))
            continue
        candidates.setdefault(student, []).append(
            _Candidate(top, notebook, attached, late, when, warning)
        )
    found: dict[str, _Candidate | None] = {}  # None: duplicated, nobody's notebook
    for student, cands in candidates.items():
        found[student] = _pick(student, cands, duplicates, entries)
    for student, more in extra.items():
        got = found.get(student)
        if got is None:
            why = (
                "duplicated notebook entries for this student"
                if student in found
                else "files for the assignment, but no notebook from this student"
            )
            entries += [Entry(top, student, "skipped", why) for top, _ in more]
            continue
        top, attached = got.top, got.attached
        names = [k for a in [attached, *(a for _, a in more)] for k in a]
        clash = sorted({k for k in names if names.count(k) > 1})
        if clash:
            why = f"two files could be {clash[0]}: which one is the submission?"
            entries += [Entry(t, student, "skipped", why) for t in [top] + [t for t, _ in more]]
            found[student] = None
            continue
        for t, a in more:
            attached.update(a)
            entries.append(Entry(t, student, "merged", f"{', '.join(a)} of {top}"))
    for student, got in found.items():
        if got is not None:
            replaced = [
                e.source for e in entries if e.student == student and e.status == "superseded"
            ]
            entry = _write(into, student, assignment, got, replaced)
            missing = [a for a in attachments if a not in got.attached]
            if missing:
                entry.message += f" (without {', '.join(missing)})"
            entries.append(entry)
    record_skipped(Path(into).parent / SKIPPED_FILE, assignment, entries)
    return entries


def skipped_students(paths, assignment: str, graded: set[str]) -> list[tuple[str, str, str]]:
    """(student, entry name, reason) of each student that ``collect`` skipped and grading has no
    submission of: read from ``skipped.json`` beside each ``submitted/`` folder given to grade."""
    out: list[tuple[str, str, str]] = []
    seen = set(graded)
    for raw in paths:
        p = Path(raw)
        if not p.is_dir():
            continue
        for r in read_skipped(p.resolve().parent / SKIPPED_FILE, assignment):
            who = str(r["student"])
            if who not in seen:
                seen.add(who)
                why = f"skipped at collection: {r.get('reason') or 'no reason recorded'}"
                out.append((who, str(r.get("source", "")), why))
    return out


def _pick(
    student: str, cands: list[_Candidate], duplicates: str, entries: list[Entry]
) -> _Candidate | None:
    """The entry to import among a student's notebook entries (None: none of them)."""
    if len(cands) == 1:
        return cands[0]
    # A later time wins; at the same time (or none), the entry the LMS marked late is the later.
    key = [(c.when or datetime.min.replace(tzinfo=UTC), c.late) for c in cands]
    best = max(range(len(cands)), key=key.__getitem__)
    tie = key.count(key[best]) > 1
    if duplicates == "skip" or tie:
        why = f"{len(cands)} entries for student {student!r}: which one is the submission?"
        why += " (the same time: cannot tell the latest)" if tie and duplicates != "skip" else ""
        why += " (--duplicates skip)" if duplicates == "skip" else ""
        entries += [Entry(c.top, student, "skipped", why, c.late, _iso(c.when)) for c in cands]
        return None
    kept = cands[best]
    for c in cands:
        if c is not kept:
            why = f"an older entry of student {student!r}: kept the latest, {kept.top}"
            entries.append(Entry(c.top, student, "superseded", why, c.late, _iso(c.when)))
    return kept


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def record_skipped(path: Path, assignment: str, entries: list[Entry]) -> None:
    """Update ``skipped.json``: every student of this import left without a submission, with
    the reason; students imported now are taken off, those skipped by an earlier import stay."""
    imported = {e.student for e in entries if e.status in ("imported", "updated", "unchanged")}
    now: dict[str, dict] = {}
    for e in entries:
        if e.status == "skipped" and e.student not in imported:
            who = e.student or e.source  # no id: the entry's name is all there is
            if who not in now:
                now[who] = {"student": who, "source": e.source, "reason": e.message}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    old = [r for r in data.get(assignment, []) if isinstance(r, dict)]
    keep = [r for r in old if r.get("student") not in imported and r.get("student") not in now]
    records = sorted(keep + list(now.values()), key=lambda r: str(r.get("student")))
    if not records and not path.exists():
        return
    data[assignment] = records
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".collect-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def read_skipped(path: Path, assignment: str) -> list[dict]:
    """The records of ``skipped.json`` for one assignment ([] when there is none)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    records = data.get(assignment, []) if isinstance(data, dict) else []
    return [r for r in records if isinstance(r, dict) and r.get("student")]


def _groups(bulk: Path):
    """(entry name, reader, time) per student entry; a reader returns [(name, bytes|None, error)];
    the time is the latest the bulk download stamps on the entry's files (None: unknown)."""
    if bulk.is_dir():
        for p in sorted(bulk.iterdir()):
            if p.name.startswith(".") or p.name == "__MACOSX":
                continue
            yield p.name, (lambda p=p: _read_path(p)), _mtime(p)
        return
    try:
        zf = zipfile.ZipFile(bulk)
    except (zipfile.BadZipFile, OSError) as err:
        raise CollectError(f"{bulk.name}: not a zip archive ({err})") from None
    groups: dict[str, list[zipfile.ZipInfo]] = {}
    for info in zf.infolist():
        top = info.filename.replace("\\", "/").split("/", 1)[0]
        if top in ("", "..") or re.match(r"^[A-Za-z]:", top):  # reported, never extracted
            top = info.filename
        elif top.startswith(".") or top == "__MACOSX":  # hidden files and macOS metadata
            continue
        groups.setdefault(top, []).append(info)
    if not groups:
        raise CollectError(f"{bulk.name}: no entries in the bulk download")
    for top, infos in groups.items():
        when = max((_zip_time(i) for i in infos), default=None, key=lambda t: t or datetime.min)
        yield top, (lambda infos=infos: _read_members(zf, infos, MAX_TOTAL_BYTES)), when


def _zip_time(info: zipfile.ZipInfo) -> datetime | None:
    """A member's time: zips store local time without a zone; read as UTC."""
    try:
        return datetime(*info.date_time, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _mtime(p: Path) -> datetime | None:
    try:
        files = [p] if not p.is_dir() else [f for f in p.rglob("*") if f.is_file()]
        stamps = [f.lstat().st_mtime for f in files]
    except OSError:
        return None
    return datetime.fromtimestamp(max(stamps), UTC) if stamps else None


def _read_path(p: Path) -> list[tuple[str, bytes | None, str | None]]:
    """One entry of a bulk folder: a file, or a folder of files (no links followed)."""
    if p.is_symlink():
        return [(p.name, None, "a symbolic link: refused")]
    if p.is_file():
        if p.stat().st_size > MAX_TOTAL_BYTES:
            return [(p.name, None, f"larger than {MAX_TOTAL_BYTES} bytes: refused")]
        return [(p.name, p.read_bytes(), None)]
    out, total = [], 0
    for f in sorted(p.rglob("*")):
        rel = str(f.relative_to(p))
        if f.is_symlink():
            out.append((rel, None, "a symbolic link: refused"))
        elif f.is_file():
            total += f.stat().st_size
            if total > MAX_TOTAL_BYTES or len(out) > MAX_MEMBERS:
                return out + [(rel, None, "the folder is too large: refused")]
            out.append((rel, f.read_bytes(), None))
    return out


def student_id(name: str, patterns=ID_PATTERNS) -> tuple[str, str]:
    """The student's id from an entry's name, safe as a folder name, and the rest of the name
    (the file name the student gave, where the LMS keeps it)."""
    for pat in patterns:
        m = pat.match(name)
        if m and m.groupdict().get("student"):
            sid = m.group("student")
            if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}", sid) and ".." not in sid:
                return sid, name[m.end() :]
    raise CollectError(f"no student id in the name {name!r}")


def _maybe_id(name: str, patterns) -> tuple[str | None, str, bool]:
    """The id, the rest of the name, and whether the LMS marked the entry late."""
    try:
        sid, rest = student_id(name, patterns)
    except CollectError:
        return None, "", False
    late = any((m := p.match(name)) and m.groupdict().get("late") for p in patterns)
    return sid, rest, bool(late)


def notebook_matches(filename: str, assignment: str) -> bool:
    """Whether an LMS-renamed file is the assignment's notebook: ``A1_Backprop (2).ipynb``,
    ``a1_backprop-1.ipynb`` and ``a1 backprop.ipynb`` are ``a1_backprop.ipynb``."""
    p = PurePosixPath(filename)
    if p.suffix.lower() != ".ipynb":
        return False
    stem = p.stem.lower().strip()
    stem = re.sub(r"(\s*\(\d+\)|-\d+)+$", "", stem)
    stem = re.sub(r"[\s-]+", "_", stem)
    return stem == assignment.lower()


def attachment_matches(filename: str, wanted: str) -> bool:
    """Whether an LMS-renamed file is the attachment ``wanted``: ``Capstone (2).npz`` and
    ``capstone-1.npz`` are ``capstone.npz``."""
    p, w = PurePosixPath(filename), PurePosixPath(wanted)
    if p.suffix.lower() != w.suffix.lower():
        return False
    stem = re.sub(r"(\s*\(\d+\)|-\d+)+$", "", p.stem.lower().strip())
    return re.sub(r"[\s-]+", "_", stem) == w.stem.lower()


def _attachments_of(files, attachments) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for wanted in attachments:
        hits = [d for n, d in files if attachment_matches(PurePosixPath(n).name, wanted)]
        if len(hits) > 1:
            raise CollectError(f"{len(hits)} files could be {wanted}: which one?")
        if hits:
            out[wanted] = hits[0]
    return out


def _files_of(members) -> list[tuple[str, bytes]]:
    """The files of one student's entry (a zip, a notebook, or a folder of files)."""
    files: list[tuple[str, bytes]] = []
    for name, data, error in members:
        if error:
            raise CollectError(f"{name}: {error}")
        if data is None:
            continue
        base = name.split("/", 1)[1] if "/" in name else name
        if name.lower().endswith(".zip") or data[:4] == b"PK\x03\x04":
            if not data:
                raise CollectError(f"{name} is empty (0 bytes)")
            try:
                zf = zipfile.ZipFile(io.BytesIO(data))
            except (zipfile.BadZipFile, OSError) as err:
                raise CollectError(f"{name}: not a zip archive ({err})") from None
            for inner, inner_data, inner_error in _read_members(zf, zf.infolist(), MAX_TOTAL_BYTES):
                if inner_error:
                    raise CollectError(f"{inner}: {inner_error}")
                if inner_data is not None:
                    files.append((inner, inner_data))
        else:
            files.append((base or name, data))
    files = [(n, d) for n, d in files if not _ignorable(n)]
    if not files:
        raise CollectError("empty: no files in this submission")
    return files


def _notebook_of(files, assignment: str) -> tuple[bytes, str]:
    """The one notebook among a student's files, and a warning ("" when none)."""
    notebooks = [(n, d) for n, d in files if n.lower().endswith(".ipynb")]
    if not notebooks:
        raise CollectError(f"no notebook among {', '.join(n for n, _ in files[:5])}")
    right = [(n, d) for n, d in notebooks if notebook_matches(PurePosixPath(n).name, assignment)]
    warning = ""
    if not right and len(notebooks) == 1:
        # The only notebook handed in is the submission, whatever the student called it.
        right = notebooks
        warning = (
            f"the notebook is named {notebooks[0][0]!r}, not {assignment}.ipynb: "
            f"imported as {assignment}.ipynb"
        )
    if not right:
        names = ", ".join(n for n, _ in notebooks[:5])
        raise CollectError(f"no notebook named {assignment}.ipynb among {names}")
    if len(right) > 1:
        names = ", ".join(n for n, _ in right)
        raise CollectError(f"{len(right)} notebooks could be the submission ({names}): which one?")
    name, data = right[0]
    if not data.strip():
        raise CollectError(f"{name} is empty ({len(data)} bytes)")
    try:
        nb = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise CollectError(f"{name} is not a notebook (not JSON: {err})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise CollectError(f"{name} is not a notebook (no cells)")
    return data, warning


def _ignorable(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or name.endswith("/")


def _read_members(zf: zipfile.ZipFile, infos, limit: int):
    """Members as (name, bytes, error). A member that is unsafe (a path out of the archive, a
    link, a bomb) makes the whole entry unsafe: CollectError. Header sizes can lie, so what is
    inflated is capped as it is read."""
    files = [i for i in infos if not i.is_dir()]
    if not files:
        raise CollectError("empty: no files in this submission")
    if len(files) > MAX_MEMBERS:
        raise CollectError(f"{len(files)} files: more than {MAX_MEMBERS}, refused")
    out, total = [], 0
    for info in files:
        name = info.filename
        if _unsafe_name(name):
            raise CollectError(f"file name {name!r} points outside the archive: refused")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise CollectError(f"{name!r} is a symbolic link: refused")
        if info.flag_bits & 0x1:
            raise CollectError(f"{name!r} is encrypted")
        if info.file_size > MAX_MEMBER_BYTES or (
            info.compress_size and info.file_size / info.compress_size > MAX_RATIO
        ):
            raise CollectError(f"{name!r} inflates to {info.file_size} bytes: a zip bomb? refused")
        try:
            with zf.open(info) as f:
                blob = f.read(min(MAX_MEMBER_BYTES, limit - total) + 1)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError) as err:
            raise CollectError(f"{name!r} cannot be read ({err})") from None
        total += len(blob)
        if len(blob) > MAX_MEMBER_BYTES or total > limit:
            raise CollectError(f"{name!r} inflates past the size limit: a zip bomb? refused")
        out.append((name, blob, None))
    return out


def _unsafe_name(name: str) -> bool:
    p = PurePosixPath(name.replace("\\", "/"))
    return p.is_absolute() or ".." in p.parts or re.match(r"^[A-Za-z]:", name) is not None


def _write(
    into: Path, student: str, assignment: str, got: _Candidate, replaced: list[str]
) -> Entry:
    folder = Path(into) / student / assignment
    # attachment names are plain names
    files = {f"{assignment}.ipynb": got.notebook, **got.attached}
    meta = {
        "source": got.top,
        "late": got.late,
        "submitted_at": _iso(got.when),
        "replaced": replaced,
        "warning": got.warning,
    }
    files[SIDECAR] = json.dumps(meta, indent=1).encode()
    if got.when is not None:
        files[TIMESTAMP] = got.when.astimezone(UTC).strftime(TIMESTAMP_FORMAT).encode()
    entry = Entry(got.top, student, "unchanged", "", got.late, _iso(got.when), got.warning)
    entry.message = str(folder / f"{assignment}.ipynb")
    if all((folder / n).exists() and (folder / n).read_bytes() == d for n, d in files.items()):
        return entry
    entry.status = "updated" if (folder / f"{assignment}.ipynb").exists() else "imported"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".collect-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, folder / name)  # a killed import never leaves half a file
    return entry
