"""Checks of A6 (training in practice: sanity checks, hyperparameter search, babysitting and
transfer learning).

Models, optimisers, generators and objectives cannot cross the wire, so ``probes`` build them
beside the student's code from arrays and seeds that the checks draw, run the student's code on
them and return plain data: numbers, parameter names, flags, modes. ``public`` holds the checks
students run from their notebook and the oracles both tiers share: PyTorch in float64 in the
grader's own process (the same network rebuilt from the same weights, the same optimiser
stepped here), exact formulas, and the calibrated distribution tests of
:mod:`autograder.stats` for the random draws. ``hidden`` holds the checks that
only official grading runs (other sizes, seeds, optimisers, layouts and edge cases).
``capstone`` grades the capstone: the weights submitted in ``capstone.npz``, evaluated on the
test split (accuracy tiers in public, one-pixel shifts and batch independence in hidden).
"""

ATTACHMENTS = {"capstone.npz": "capstone"}  # file submitted beside the notebook -> its item
