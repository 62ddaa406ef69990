"""Checks of A2 (data preprocessing and weight initialisation).

``probes`` drive the student's objects inside the worker and return plain data (generators and
models are built there from seeds and specifications); ``public`` holds the checks students run
from their notebook (and the oracles both tiers share); ``hidden`` holds the checks that only
official grading runs: other shapes, convolution kernels, random sizes and edge cases.
"""
