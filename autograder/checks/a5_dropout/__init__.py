"""Checks of A5 (dropout, regularisation and data augmentation).

The student's code is random, so most checks are property-based and statistical: they run it on
large inputs (or many times) with a generator the grader seeds, and test what must hold for any
seed, with bounds from :mod:`autograder.stats` that a correct implementation misses with probability below
about 1e-9 per test. ``probes`` drive the student's generators, trackers and PyTorch modules
inside the worker and return plain data; ``public`` holds the checks students run from their
notebook and the helpers and oracles both tiers share; ``hidden`` holds the checks that only
official grading runs (other probabilities, shapes, fill modes and edge cases).
"""
