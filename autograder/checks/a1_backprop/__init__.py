"""Checks of A1 (backpropagation, activations and losses).

``probes`` drive the student's objects inside the worker and return plain data; ``public`` holds
the checks students run from their notebook (and the oracles both tiers share); ``hidden`` holds
the checks that only official grading runs: other shapes, random sizes and edge cases.
"""
