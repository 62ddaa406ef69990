"""``python -m autograder backup``: a copy of a WAL-mode gradebook taken while another connection
holds uncheckpointed commits has them all; a plain file copy would not."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path


def backup(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder", "backup", *args], capture_output=True, text=True
    )


def rows(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [r[0] for r in con.execute("SELECT id FROM student ORDER BY id")]
    finally:
        con.close()


def test_backup_of_a_wal_gradebook_has_the_uncheckpointed_commits(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook

    # nbgrader stamps a new gradebook by running the venv's `alembic`
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")

    db = tmp_path / "gradebook.db"
    with Gradebook(f"sqlite:///{db}") as gb:  # nbgrader's own schema
        gb.add_student("before")
    # formgrader's side: WAL mode, commits that stay in the -wal file (no checkpoint while it
    # keeps the database open)
    writer = sqlite3.connect(db)
    try:
        assert writer.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.executemany("INSERT INTO student (id) VALUES (?)", [("ann",), ("ben",)])
        writer.commit()
        assert Path(f"{db}-wal").stat().st_size > 0
        plain = tmp_path / "plain-copy.db"
        shutil.copyfile(db, plain)  # what a plain copy gets: the commits are missing
        assert rows(plain) == ["before"]

        proc = backup("--db", f"sqlite:///{db}", str(tmp_path / "backup" / "copy.db"))
        assert proc.returncode == 0, proc.stderr
        assert "integrity ok" in proc.stdout
    finally:
        writer.close()
    copy = tmp_path / "backup" / "copy.db"
    assert rows(copy) == ["ann", "before", "ben"]
    assert not Path(f"{copy}-wal").exists()  # one self-contained file
    con = sqlite3.connect(copy)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()
    assert [p.name for p in (tmp_path / "backup").iterdir()] == ["copy.db"]  # no leftovers


def test_backup_refuses_what_it_cannot_copy(tmp_path):
    missing = backup("--db", f"sqlite:///{tmp_path / 'none.db'}", str(tmp_path / "c.db"))
    assert missing.returncode == 1 and "no such database" in missing.stderr
    assert not (tmp_path / "none.db").exists() and not (tmp_path / "c.db").exists()
    pg = backup("--db", "postgresql+psycopg://grader:secret@dbhost/course", "course.dump")
    assert pg.returncode == 2 and "pg_dump --format=custom --file course.dump" in pg.stderr
    assert "postgresql://grader@dbhost/course" in pg.stderr and "secret" not in pg.stderr
    db = tmp_path / "g.db"
    sqlite3.connect(db).close()
    same = backup("--db", f"sqlite:///{db}", str(db))
    assert same.returncode == 1 and "replace the database itself" in same.stderr
