"""The course's trusted autograder.

Layout (read in this order):
    checking    -- how checks are written (@check, expect_close, CheckFailure)
    student     -- what a check holds: Student, Remote proxies, LocalStudent for notebooks
    endpoint    -- the code that answers requests beside the student's code
    wire        -- the only data format between grader and worker (JSON + .npy, no pickle)
    notebook    -- Checker: public checks in the student's kernel
    course      -- assignments, their cells and items, where their checks live
    submission  -- which cells of a submission run (instructor setup + student answers)
    sandbox     -- namespaces, rlimits, unprivileged uid
    zygote, worker, session -- pre-imported forking server, worker loop, grader-side sessions
    grader      -- verdicts: runs every check in this process
    gradebook, feedback, release, cli -- nbgrader gradebook, HTML/CSV, student versions, commands
    checks/<assignment>/{public,hidden,probes}.py -- each assignment's checks
"""
