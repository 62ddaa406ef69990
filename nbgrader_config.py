"""Settings for plain nbgrader (``nbgrader validate``/``autograde`` and the Validate button),
read from the folder where nbgrader or the Jupyter server starts. Copy them into a course
directory of your own.

A6's capstone check classifies the 10,000 Fashion-MNIST test images in the student's kernel:
15-30 s on a 2-core CPU, which a busy machine pushes past nbgrader's default limit of 30 s per
cell. The trusted grader (``python -m autograder grade``) has limits of its own per check.
"""

c = get_config()  # noqa: F821 -- provided by traitlets when nbgrader loads this file
c.Execute.timeout = 300
