"""Scores into the nbgrader gradebook, so instructors keep nbgrader's tools (formgrader, export).

Any SQLAlchemy URL works (SQLite by default; PostgreSQL for a shared gradebook). The assignment,
its notebook and its grade cells are created or updated from the source notebook, so grading into
a fresh database works, and so does grading into the database nbgrader itself uses.
Automatic items get ``auto_score``; written answers stay ``needs_manual_grade`` for formgrader.

:class:`GradebookWriter` records one submission per transaction, as results arrive, so a grader
that is killed keeps everything it finished. nbgrader's own helpers issue one query per grade and
commit after each row; this writer loads a submission's grades in one query and commits once per
submission (about 100x faster), using nbgrader's ORM classes so the rows are exactly nbgrader's.
"""

from __future__ import annotations

import os
import warnings

from .course import Assignment
from .grader import SubmissionResult
from .release import tool_env


class GradebookWriter:
    """``with GradebookWriter(url, assignment) as gb: gb.record(result)``."""

    def __init__(self, db_url: str, assignment: Assignment):
        os.environ["PATH"] = tool_env()["PATH"]  # nbgrader's Gradebook runs `alembic`
        from nbgrader import api
        from sqlalchemy import event

        self.api = api
        self.assignment = assignment
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        # nbgrader 0.9.6 triggers SQLAlchemy 2 autoflush warnings: harmless.
        warnings.simplefilter("ignore", category=Warning)
        # A new database gets nbgrader's alembic version; nbgrader finds it by running the
        # `alembic` command (seconds); the same answer comes from alembic's API in-process.
        run_alembic, api.get_alembic_version = api.get_alembic_version, _alembic_head
        try:
            self.gb = api.Gradebook(db_url)
        finally:
            api.get_alembic_version = run_alembic
        if self.gb.engine.dialect.name == "sqlite":
            # WAL: readers (formgrader) never block the grader; synchronous=NORMAL stays durable
            # when a process is killed (only a power cut can lose the last commits).
            event.listen(self.gb.engine, "connect", _sqlite_pragmas)
            with self.gb.engine.connect() as conn:
                _sqlite_pragmas(conn.connection.dbapi_connection, None)
        self._ensure_structure()

    def _ensure_structure(self) -> None:
        gb, a = self.gb, self.assignment
        name, nb_name = a.name, a.notebook_name
        gb.update_or_create_assignment(name)
        gb.update_or_create_notebook(nb_name, name)
        for cell in a.cells:
            if cell.kind in ("check", "manual") and cell.grade_id:
                gb.update_or_create_grade_cell(
                    cell.grade_id,
                    nb_name,
                    name,
                    max_score=cell.points,
                    cell_type="markdown" if cell.kind == "manual" else "code",
                )
            if cell.kind in ("answer", "manual") and cell.grade_id:
                gb.update_or_create_solution_cell(cell.grade_id, nb_name, name)
        gb.db.commit()
        api = self.api
        assignment = gb.find_assignment(name)
        notebook = gb.find_notebook(nb_name, name)
        if notebook.task_cells:
            raise ValueError("nbgrader task cells are not supported by the trusted grader")
        self.assignment_id, self.notebook_id = assignment.id, notebook.id
        self.grade_cells = {c.name: c.id for c in notebook.grade_cells}
        self.solution_cells = [c.id for c in notebook.solution_cells]
        self.students = {s for (s,) in gb.db.query(api.Student.id)}
        self.t_student = api.Student.__table__
        t_grade = api.Grade.__table__
        from sqlalchemy import bindparam

        self._update_grade = (
            t_grade.update()
            .where(t_grade.c.id == bindparam("gid"))
            .values(auto_score=bindparam("auto"), needs_manual_grade=bindparam("nmg"))
        )

    def record(self, result: SubmissionResult) -> None:
        """Write one submission's scores in one transaction (rolled back on any error)."""
        db = self.gb.db
        try:
            if result.student not in self.students:
                db.execute(self.t_student.insert().values(id=result.student))
            rows = self._grades(result.student)
            updates = []
            for item in result.items:
                if item.grade_id not in rows:
                    raise self.api.MissingEntry(f"no grade cell {item.grade_id!r} in the gradebook")
                gid, manual_score = rows[item.grade_id]
                if item.manual:
                    updates.append({"gid": gid, "auto": None, "nmg": manual_score is None})
                else:
                    updates.append({"gid": gid, "auto": item.score, "nmg": False})
            if updates:
                db.execute(self._update_grade, updates)
            db.commit()
            self.students.add(result.student)
        except BaseException:
            db.rollback()
            raise

    def _grades(self, student: str) -> dict[str, tuple[str, float | None]]:
        """``{cell name: (grade id, manual score)}`` of the student's submission, which is created
        first when missing, with the rows nbgrader's ``Gradebook.add_submission`` creates."""
        from sqlalchemy import select

        db, api = self.gb.db, self.api
        t_sa, t_sn = api.SubmittedAssignment.__table__, api.SubmittedNotebook.__table__
        t_grade, t_comment = api.Grade.__table__, api.Comment.__table__
        sn_id = db.execute(
            select(t_sn.c.id)
            .join(t_sa, t_sa.c.id == t_sn.c.assignment_id)
            .where(
                t_sa.c.assignment_id == self.assignment_id,
                t_sa.c.student_id == student,
                t_sn.c.notebook_id == self.notebook_id,
            )
        ).scalar_one_or_none()
        if sn_id is None:
            sa_id, sn_id = api.new_uuid(), api.new_uuid()
            db.execute(
                t_sa.insert().values(id=sa_id, assignment_id=self.assignment_id, student_id=student)
            )
            db.execute(
                t_sn.insert().values(
                    id=sn_id, assignment_id=sa_id, notebook_id=self.notebook_id, flagged=False
                )
            )
            db.execute(
                t_grade.insert(),
                [
                    {"id": api.new_uuid(), "notebook_id": sn_id, "cell_id": cid}
                    for cid in self.grade_cells.values()
                ],
            )
            if self.solution_cells:
                db.execute(
                    t_comment.insert(),
                    [
                        {"id": api.new_uuid(), "notebook_id": sn_id, "cell_id": cid}
                        for cid in self.solution_cells
                    ],
                )
        names = {cid: name for name, cid in self.grade_cells.items()}
        rows = db.execute(
            select(t_grade.c.id, t_grade.c.cell_id, t_grade.c.manual_score).where(
                t_grade.c.notebook_id == sn_id
            )
        )
        return {names[cid]: (gid, ms) for gid, cid, ms in rows if cid in names}

    def close(self) -> None:
        try:
            self.gb.close()
        finally:
            self._warnings.__exit__(None, None, None)

    def __enter__(self) -> GradebookWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _alembic_head() -> str:
    import nbgrader
    from alembic.script import ScriptDirectory

    return ScriptDirectory(
        os.path.join(os.path.dirname(nbgrader.__file__), "alembic")
    ).get_current_head()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def write_gradebook(db_url: str, assignment: Assignment, results: list[SubmissionResult]) -> int:
    """Record ``results``; returns the number of submissions written."""
    with GradebookWriter(db_url, assignment) as gb:
        for r in results:
            gb.record(r)
    return len(results)
