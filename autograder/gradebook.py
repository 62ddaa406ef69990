"""Scores into the nbgrader gradebook, so instructors keep nbgrader's tools (formgrader, export).

Any SQLAlchemy URL works (SQLite by default; PostgreSQL for a shared gradebook). The assignment,
its notebook and its grade cells are created or updated from the source notebook, so grading into
a fresh database works, and so does grading into the database nbgrader itself uses.
Automatic items get ``auto_score``; written answers stay ``needs_manual_grade`` for formgrader.
"""

from __future__ import annotations

import warnings

from .course import Assignment
from .grader import SubmissionResult
from .release import tool_env


def write_gradebook(db_url: str, assignment: Assignment, results: list[SubmissionResult]) -> int:
    """Record ``results``; returns the number of submissions written."""
    import os

    os.environ["PATH"] = tool_env()["PATH"]  # nbgrader's Gradebook runs `alembic`
    from nbgrader.api import Gradebook, MissingEntry

    name, nb_name = assignment.name, assignment.notebook_name
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        # nbgrader 0.9.6 triggers SQLAlchemy 2 autoflush warnings in add_submission: harmless.
        warnings.simplefilter("ignore", category=Warning)
        gb.update_or_create_assignment(name)
        gb.update_or_create_notebook(nb_name, name)
        for cell in assignment.cells:
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
        written = 0
        for r in results:
            gb.update_or_create_student(r.student)
            try:
                gb.find_submission(name, r.student)
            except MissingEntry:
                gb.add_submission(name, r.student)
            for item in r.items:
                grade = gb.find_grade(item.grade_id, nb_name, name, r.student)
                if item.manual:
                    grade.needs_manual_grade = grade.manual_score is None
                else:
                    grade.auto_score = item.score
                    grade.needs_manual_grade = False
            gb.db.commit()
            written += 1
    return written
