"""Checks of A6 (training in practice: sanity checks, hyperparameter search, babysitting and
transfer learning).

Models, optimisers, generators and objectives cannot cross the wire, so ``probes`` build them
beside the student's code from arrays and seeds that the checks draw, run the student's code on
them and return plain data: numbers, parameter names, flags, modes. ``public`` holds the checks
students run from their notebook and the oracles both tiers share: PyTorch in float64 in the
grader's own process (the same network rebuilt from the same weights, the same optimiser
stepped here), exact formulas, and the calibrated distribution tests of
:mod:`autograder.checks.a5_dropout.stats` for the random draws. ``hidden`` holds the checks that
only official grading runs (other sizes, seeds, optimisers, layouts and edge cases).
"""
