"""A consistent copy of the gradebook, taken while formgrader or a grader has it open.

The grader opens SQLite gradebooks in WAL mode (see ``gradebook._sqlite_pragmas``): committed
transactions sit in ``gradebook.db-wal`` until a checkpoint moves them into ``gradebook.db``, so a
plain copy of ``gradebook.db`` can miss the latest grades. SQLite's online backup API reads the
database as one snapshot, WAL included, while others keep reading and writing; the copy is a
single file in rollback-journal mode, checked with ``PRAGMA integrity_check``.

A PostgreSQL gradebook is backed up with its own tool, ``pg_dump``: the command prints how and
exits non-zero rather than run a program with the database's password on its command line.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path


class BackupError(Exception):
    """Why no backup was written."""


def sqlite_path(db_url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (None for another database)."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise BackupError(f"{db_url}: an in-memory database has nothing to back up")
    return Path(url.database)


def pg_dump_advice(db_url: str, dest: Path) -> str:
    """How to back up a PostgreSQL gradebook (password never shown)."""
    from sqlalchemy.engine import URL, make_url

    u = make_url(db_url)
    # URL.set(password=None) keeps the password: build the URL again without it.
    url = URL.create("postgresql", u.username, None, u.host, u.port, u.database, u.query)
    uri = url.render_as_string(hide_password=False)
    return (
        "a PostgreSQL gradebook is backed up with pg_dump, which takes a consistent snapshot "
        "while others write:\n"
        f"  pg_dump --format=custom --file {dest} '{uri}'\n"
        "(the password from ~/.pgpass or PGPASSWORD; restore with pg_restore)"
    )


def backup_sqlite(source: Path, dest: Path) -> int:
    """Copy ``source`` to ``dest`` with SQLite's online backup; returns the copy's page count.

    The copy is written beside ``dest`` and renamed into place, so a failed backup never leaves
    a file that looks complete."""
    source, dest = Path(source), Path(dest)
    if not source.is_file():
        raise BackupError(f"{source}: no such database")
    if dest.exists() and dest.resolve() == source.resolve():
        raise BackupError(f"{dest}: the backup would replace the database itself")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}-", suffix=".tmp")
    os.close(fd)
    try:
        # mode=rw: never create an empty database where the URL named a missing one
        src = sqlite3.connect(f"file:{source.resolve()}?mode=rw", uri=True, timeout=60)
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)  # one snapshot, the WAL's committed transactions included
                # One self-contained file: the copy needs no -wal beside it.
                dst.execute("PRAGMA journal_mode=DELETE")
                check = dst.execute("PRAGMA integrity_check").fetchone()[0]
                if check != "ok":
                    raise BackupError(f"the copy fails SQLite's integrity check: {check}")
                pages = dst.execute("PRAGMA page_count").fetchone()[0]
            finally:
                dst.close()
        finally:
            src.close()
        os.replace(tmp, dest)
    except sqlite3.Error as err:
        raise BackupError(f"{source}: {err}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return pages
