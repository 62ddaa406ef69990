"""Scores into the nbgrader gradebook, so instructors keep nbgrader's tools (formgrader, export).

Any SQLAlchemy URL works: SQLite by default, PostgreSQL for a gradebook that several graders (or
instructors) share. The assignment, its notebook and its grade cells are created or updated from
the source notebook, so grading into a fresh database works, and so does grading into the
database nbgrader itself uses. Automatic items get ``auto_score``; written answers stay
``needs_manual_grade`` for formgrader.

:class:`GradebookWriter` records one submission per transaction, as results arrive, so a grader
that is killed keeps everything it finished and loses only what was in flight. Beside nbgrader's
tables it keeps two of its own in the same database:

* ``autograder_result``: per (assignment, student) the whole result as JSON, with the SHA-256 of
  the notebook that was graded, the version of the checks (:attr:`Assignment.checks_version`)
  and the seed. A grader run again skips every submission whose notebook and checks are
  unchanged, so a killed batch resumes where it stopped.
* ``autograder_audit``: one row per change of a score: when, which checks version, the old and
  the new score, and why (first grade, checks changed, notebook changed, forced regrade).

Both tables and nbgrader's rows are written in the same transaction, so they never disagree.
Concurrent writers (two graders on one PostgreSQL gradebook) can race to create the same row;
the unique constraints refuse the second, which rolls back and retries: no row is lost or doubled.
nbgrader's own helpers issue one query per grade and commit after each row; this writer loads a
submission's grades in one query and commits once (about 40x faster), with nbgrader's tables.
"""

from __future__ import annotations

import json
import os
import random
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from .course import Assignment
from .grader import SubmissionResult, round_score
from .release import tool_env

_META = sa.MetaData()
RESULTS = sa.Table(
    "autograder_result",
    _META,
    sa.Column("assignment", sa.String(128), primary_key=True),
    sa.Column("student", sa.String(128), primary_key=True),
    sa.Column("notebook_sha256", sa.String(64), nullable=False),
    sa.Column("checks_version", sa.String(64), nullable=False),
    sa.Column("seed", sa.String(32), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("max_score", sa.Float, nullable=False),
    sa.Column("graded_at", sa.DateTime, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
)
AUDIT = sa.Table(
    "autograder_audit",
    _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("assignment", sa.String(128), nullable=False, index=True),
    sa.Column("student", sa.String(128), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("checks_version", sa.String(64), nullable=False),
    sa.Column("old_checks_version", sa.String(64)),
    sa.Column("old_score", sa.Float),
    sa.Column("new_score", sa.Float, nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    # The hidden inputs of the new grade: "batch seed" (a first grade), "same seed" (a regrade
    # of the same notebook: only a change of the checks moves the score) or "fresh seed" (the
    # notebook changed). Added after the table existed: see _add_new_columns.
    sa.Column("seed", sa.String(32)),
    sa.Column("hidden_inputs", sa.String(16)),
)
RETRIES = 8


@dataclass
class ManualGrade:
    """What formgrader stores for one grade cell of one submission."""

    score: float | None  # manual_score: None until graded by hand
    extra_credit: float = 0.0
    comment: str = ""


@dataclass
class Stored:
    """What the gradebook remembers of one graded submission."""

    notebook_sha256: str
    checks_version: str
    seed: int
    score: float
    graded_at: datetime
    result: dict


def split_name(name: str) -> tuple[str | None, str | None]:
    """nbgrader's (first_name, last_name) from a full name: the last word is the last name."""
    words = name.split()
    if not words:
        return None, None
    return (" ".join(words[:-1]) or None), words[-1]


class GradebookWriter:
    """``with GradebookWriter(url, assignment) as gb: gb.record(result, sha)``.

    :attr:`names` (student id -> full name, e.g. from the LMS download that ``collect`` read)
    names the students it adds, so formgrader and ``nbgrader export`` show who they are."""

    def __init__(self, db_url: str, assignment: Assignment):
        self.names: dict[str, str] = {}
        os.environ["PATH"] = tool_env()["PATH"]  # nbgrader's Gradebook may run `alembic`
        from nbgrader import api

        self.api = api
        self.assignment = assignment
        self.version = assignment.checks_version
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        # nbgrader 0.9.6 triggers SQLAlchemy 2 autoflush warnings: harmless.
        warnings.simplefilter("ignore", category=Warning)
        self.gb = _retry(lambda: _open_gradebook(api, db_url), what="open the gradebook")
        if self.gb.engine.dialect.name == "sqlite":
            sa.event.listen(self.gb.engine, "connect", _sqlite_pragmas)
            with self.gb.engine.connect() as conn:
                _sqlite_pragmas(conn.connection.dbapi_connection, None)
        _retry(lambda: _META.create_all(self.gb.engine), what="create the grader's tables")
        _retry(lambda: _add_new_columns(self.gb.engine), what="update the grader's tables")
        _retry(self._ensure_structure, rollback=self.gb.db.rollback, what="add the assignment")

    # -- structure ----------------------------------------------------------------------------
    def _ensure_structure(self) -> None:
        gb, a, api = self.gb, self.assignment, self.api
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
        notebook = gb.find_notebook(nb_name, name)
        if notebook.task_cells:
            raise ValueError("nbgrader task cells are not supported by the trusted grader")
        self.assignment_id = gb.find_assignment(name).id
        self.notebook_id = notebook.id
        self.grade_cells = {c.name: c.id for c in notebook.grade_cells}
        self.solution_cells = [c.id for c in notebook.solution_cells]
        self._solution_names = {c.id: c.name for c in notebook.solution_cells}
        self.students = {s for (s,) in gb.db.query(api.Student.id)}
        t_grade = api.Grade.__table__
        self._update_grade = (
            t_grade.update()
            .where(t_grade.c.id == sa.bindparam("gid"))
            .values(auto_score=sa.bindparam("auto"), needs_manual_grade=sa.bindparam("nmg"))
        )

    # -- reading ------------------------------------------------------------------------------
    def stored(self) -> dict[str, Stored]:
        """Every graded submission of this assignment, by student."""
        rows = self.gb.db.execute(
            sa.select(RESULTS).where(RESULTS.c.assignment == self.assignment.name)
        )
        out = {
            r.student: Stored(
                r.notebook_sha256,
                r.checks_version,
                int(r.seed),
                r.score,
                r.graded_at,
                json.loads(r.result),
            )
            for r in rows
        }
        self.gb.db.rollback()  # end the read transaction: no snapshot held while grading
        return out

    def audit(self, student: str | None = None) -> list[dict]:
        """The audit trail of this assignment (oldest first), optionally of one student."""
        q = sa.select(AUDIT).where(AUDIT.c.assignment == self.assignment.name)
        if student is not None:
            q = q.where(AUDIT.c.student == student)
        rows = [dict(r._mapping) for r in self.gb.db.execute(q.order_by(AUDIT.c.id))]
        self.gb.db.rollback()
        return rows

    # -- writing ------------------------------------------------------------------------------
    def record(
        self,
        result: SubmissionResult,
        notebook_sha256: str = "",
        forced: bool = False,
        timestamp: datetime | None = None,
    ):
        """Write one submission's scores, result and audit row in one transaction; retried
        when a concurrent writer got there first. Returns the audit reason, or None when the
        score and the checks version are unchanged. ``timestamp`` (naive UTC, from the
        submission's ``timestamp.txt``) goes into nbgrader's ``SubmittedAssignment.timestamp``:
        formgrader lists a submission as autograded only when the two agree."""
        return _retry(
            lambda: self._record(result, notebook_sha256, forced, timestamp),
            rollback=self._rollback,
            what=f"record {result.student}",
        )

    def _rollback(self) -> None:
        self.gb.db.rollback()
        self.students = {s for (s,) in self.gb.db.query(self.api.Student.id)}
        self.gb.db.rollback()

    def _record(
        self, result: SubmissionResult, sha: str, forced: bool, timestamp: datetime | None
    ) -> str | None:
        db, api = self.gb.db, self.api
        if result.student not in self.students:
            first, last = split_name(self.names.get(result.student, ""))
            db.execute(
                api.Student.__table__.insert().values(
                    id=result.student, first_name=first, last_name=last
                )
            )
        rows = self._grades(result.student, timestamp)
        updates = []
        for item in result.items:
            if item.grade_id not in rows:
                raise api.MissingEntry(f"no grade cell {item.grade_id!r} in the gradebook")
            gid, manual_score = rows[item.grade_id]
            if item.manual:
                updates.append({"gid": gid, "auto": None, "nmg": manual_score is None})
            else:
                updates.append({"gid": gid, "auto": round_score(item.score or 0.0), "nmg": False})
        if updates:
            db.execute(self._update_grade, updates)
        reason = self._store(result, sha, forced)
        db.commit()
        self.students.add(result.student)
        return reason

    def _store(self, result: SubmissionResult, sha: str, forced: bool) -> str | None:
        db, name, now = self.gb.db, self.assignment.name, _now()
        key = (RESULTS.c.assignment == name) & (RESULTS.c.student == result.student)
        old = db.execute(
            sa.select(
                RESULTS.c.score, RESULTS.c.checks_version, RESULTS.c.notebook_sha256, RESULTS.c.seed
            ).where(key)
        ).one_or_none()
        values = {
            "notebook_sha256": sha,
            "checks_version": self.version,
            "seed": str(result.seed),
            "score": round_score(result.score),
            "max_score": result.max_score,
            "graded_at": now,
            "result": json.dumps(result.to_json()),
        }
        if old is None:
            db.execute(RESULTS.insert().values(assignment=name, student=result.student, **values))
            reason = "first grade"
        else:
            db.execute(RESULTS.update().where(key).values(**values))
            if forced:
                reason = "forced regrade"
            elif old.checks_version != self.version:
                reason = "checks changed"
            elif old.notebook_sha256 != sha:
                reason = "notebook changed"
            else:
                reason = "regrade"
            if old.score == round_score(result.score) and old.checks_version == self.version:
                reason = None  # nothing an auditor needs to know
        if reason is not None:
            db.execute(
                AUDIT.insert().values(
                    assignment=name,
                    student=result.student,
                    at=now,
                    checks_version=self.version,
                    old_checks_version=None if old is None else old.checks_version,
                    old_score=None if old is None else old.score,
                    new_score=round_score(result.score),
                    reason=reason,
                    seed=str(result.seed),
                    hidden_inputs=(
                        "batch seed"
                        if old is None
                        else "same seed"
                        if old.seed == str(result.seed)
                        else "fresh seed"
                    ),
                )
            )
        return reason

    def _grades(
        self, student: str, timestamp: datetime | None = None
    ) -> dict[str, tuple[str, float | None]]:
        """``{cell name: (grade id, manual score)}`` of the student's submission, which is created
        first when missing, with the rows nbgrader's ``Gradebook.add_submission`` creates."""
        db, api = self.gb.db, self.api
        t_sa, t_sn = api.SubmittedAssignment.__table__, api.SubmittedNotebook.__table__
        t_grade, t_comment = api.Grade.__table__, api.Comment.__table__
        sn_id = db.execute(
            sa.select(t_sn.c.id)
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
                t_sa.insert().values(
                    id=sa_id,
                    assignment_id=self.assignment_id,
                    student_id=student,
                    timestamp=timestamp,
                )
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
        elif timestamp is not None:  # formgrader compares it with submitted/'s timestamp.txt
            db.execute(
                t_sa.update()
                .where(
                    t_sa.c.assignment_id == self.assignment_id,
                    t_sa.c.student_id == student,
                )
                .values(timestamp=timestamp)
            )
        names = {cid: name for name, cid in self.grade_cells.items()}
        rows = db.execute(
            sa.select(t_grade.c.id, t_grade.c.cell_id, t_grade.c.manual_score).where(
                t_grade.c.notebook_id == sn_id
            )
        )
        return {names[cid]: (gid, ms) for gid, cid, ms in rows if cid in names}

    # -- what formgrader added -----------------------------------------------------------------
    def manual_grades(self) -> dict[str, dict[str, ManualGrade]]:
        """``{student: {cell name: ManualGrade}}``: what the instructor entered in formgrader
        (a manual score, which overrides an automatic one as in nbgrader, extra credit, the
        comment), for every grade cell where any of them is set."""
        api, db = self.api, self.gb.db
        t_sa, t_sn = api.SubmittedAssignment.__table__, api.SubmittedNotebook.__table__
        t_grade, t_comment = api.Grade.__table__, api.Comment.__table__
        ours = (t_sa.c.assignment_id == self.assignment_id) & (
            t_sn.c.notebook_id == self.notebook_id
        )
        grade_names = {cid: name for name, cid in self.grade_cells.items()}
        grades = (
            sa.select(t_sa.c.student_id, t_grade.c.cell_id, t_grade.c.manual_score)
            .add_columns(t_grade.c.extra_credit)
            .join(t_sn, t_sn.c.id == t_grade.c.notebook_id)
            .join(t_sa, t_sa.c.id == t_sn.c.assignment_id)
            .where(ours)
        )
        out: dict[str, dict[str, ManualGrade]] = {}
        for student, cid, score, extra in db.execute(grades):
            if cid in grade_names and (score is not None or extra):
                out.setdefault(student, {})[grade_names[cid]] = ManualGrade(score, extra or 0.0)
        comments = (
            sa.select(t_sa.c.student_id, t_comment.c.cell_id, t_comment.c.manual_comment)
            .join(t_sn, t_sn.c.id == t_comment.c.notebook_id)
            .join(t_sa, t_sa.c.id == t_sn.c.assignment_id)
            .where(ours)
        )
        for student, cid, text in db.execute(comments):
            if text and cid in self._solution_names:
                mine = out.setdefault(student, {})
                mine.setdefault(self._solution_names[cid], ManualGrade(None)).comment = text
        db.rollback()
        return out

    def timestamps(self) -> dict[str, datetime | None]:
        """Each submission's time as the gradebook has it (naive UTC)."""
        t_sa = self.api.SubmittedAssignment.__table__
        rows = self.gb.db.execute(
            sa.select(t_sa.c.student_id, t_sa.c.timestamp).where(
                t_sa.c.assignment_id == self.assignment_id
            )
        )
        out = dict(rows.all())
        self.gb.db.rollback()
        return out

    def penalties(self) -> dict[str, float]:
        """Each submission's late penalty as the gradebook has it (0 when none)."""
        t_sa = self.api.SubmittedAssignment.__table__
        t_sn = self.api.SubmittedNotebook.__table__
        rows = self.gb.db.execute(
            sa.select(t_sa.c.student_id, t_sn.c.late_submission_penalty)
            .join(t_sn, t_sn.c.assignment_id == t_sa.c.id)
            .where(
                t_sa.c.assignment_id == self.assignment_id, t_sn.c.notebook_id == self.notebook_id
            )
        )
        out = {student: penalty or 0.0 for student, penalty in rows}
        self.gb.db.rollback()
        return out

    def write_late(self, due: datetime | None, penalties: dict[str, float]) -> None:
        """The due date into nbgrader's ``Assignment.duedate`` and each submission's penalty into
        ``SubmittedNotebook.late_submission_penalty`` (what ``nbgrader export`` subtracts)."""
        api = self.api
        t_a, t_sa = api.Assignment.__table__, api.SubmittedAssignment.__table__
        t_sn = api.SubmittedNotebook.__table__

        def write() -> None:
            db = self.gb.db
            if due is not None:  # none given: keep one set in formgrader
                db.execute(t_a.update().where(t_a.c.id == self.assignment_id).values(duedate=due))
            for student, penalty in penalties.items():
                sa_ids = sa.select(t_sa.c.id).where(
                    t_sa.c.assignment_id == self.assignment_id, t_sa.c.student_id == student
                )
                db.execute(
                    t_sn.update()
                    .where(t_sn.c.assignment_id.in_(sa_ids), t_sn.c.notebook_id == self.notebook_id)
                    .values(late_submission_penalty=penalty or None)
                )
            db.commit()

        _retry(write, rollback=self.gb.db.rollback, what="record late penalties")

    def close(self) -> None:
        try:
            self.gb.close()
        finally:
            self._warnings.__exit__(None, None, None)

    def __enter__(self) -> GradebookWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _add_new_columns(engine: sa.Engine) -> None:
    """Columns added to the grader's tables after a gradebook may have been created: added to an
    older table in place (``create_all`` creates missing tables only)."""
    for table in (RESULTS, AUDIT):
        have = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
        missing = [c for c in table.columns if c.name not in have]
        for c in missing:
            kind = c.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {c.name} {kind}"))
            except sa.exc.DBAPIError:  # a concurrent grader may have added it first
                if c.name not in {x["name"] for x in sa.inspect(engine).get_columns(table.name)}:
                    raise


def _open_gradebook(api, db_url: str):
    # A new database gets nbgrader's alembic version; nbgrader finds it by running the `alembic`
    # command (seconds); the same answer comes from alembic's API in-process.
    run_alembic, api.get_alembic_version = api.get_alembic_version, _alembic_head
    try:
        return api.Gradebook(db_url)
    finally:
        api.get_alembic_version = run_alembic


def _retry(fn, *, what: str, rollback=None):
    """Run ``fn``; on a conflict with a concurrent writer (unique constraint, lock, deadlock,
    serialisation failure), roll back and try again with a random back-off."""
    from nbgrader.api import InvalidEntry

    for attempt in range(RETRIES):
        try:
            return fn()
        except (sa.exc.IntegrityError, sa.exc.OperationalError, InvalidEntry) as err:
            if rollback is not None:
                rollback()
            if attempt == RETRIES - 1:
                raise RuntimeError(f"could not {what} after {RETRIES} tries: {err}") from err
            time.sleep(random.uniform(0.01, 0.05) * 2**attempt)
        except BaseException:
            if rollback is not None:  # nothing of a failed write may reach a later commit
                rollback()
            raise


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _alembic_head() -> str:
    import nbgrader
    from alembic.script import ScriptDirectory

    return ScriptDirectory(
        os.path.join(os.path.dirname(nbgrader.__file__), "alembic")
    ).get_current_head()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL: readers (formgrader) never block the grader, and a second grader waits for the lock
    # instead of failing; synchronous=NORMAL stays durable when a process is killed (only a
    # power cut can lose the last commits).
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.close()


def write_gradebook(db_url: str, assignment: Assignment, results: list[SubmissionResult]) -> int:
    """Record ``results``; returns the number of submissions written."""
    with GradebookWriter(db_url, assignment) as gb:
        for r in results:
            gb.record(r)
    return len(results)
