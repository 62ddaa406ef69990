"""The course's trusted autograder.

Layout (read in this order):
    checking    -- how checks are written (@check, expect_close, CheckFailure)
    stats       -- calibrated statistical tests for checks of random code (A5, A6)
    student     -- what a check holds: Student, Remote proxies, LocalStudent for notebooks
    endpoint    -- the code that answers requests beside the student's code
    wire        -- the only data format between grader and worker (JSON + .npy, no pickle);
                   parse_reply validates every reply before the grader reads it
    notebook    -- Checker: public checks in the student's kernel
    course      -- assignments, their cells and items, where their checks live
    submission  -- which cells of a submission run (instructor setup + student answers)
    sandbox     -- namespaces, rlimits, unprivileged uid
    zygote, worker, session -- pre-imported forking server, worker loop, grader-side sessions
    grader      -- verdicts: runs every check in this process
    distributed -- the same grading as tasks on a Dask cluster (--scheduler)
    gradebook   -- scores into nbgrader's gradebook, results and audit trail (resume, regrade)
    feedback, report -- students' feedback HTML and grades CSV; the instructor's report
    collect     -- LMS bulk downloads into submitted/<student>/<assignment>/ (late flags, times,
                   duplicates, skipped.json)
    backup      -- a consistent copy of a WAL-mode gradebook (SQLite's online backup)
    release, pages, kit, cli -- student versions, the book's assignment pages, the student
               kit (what students get: no solutions, no hidden checks), the commands
    checks/<assignment>/{public,hidden,probes}.py -- each assignment's checks
"""
