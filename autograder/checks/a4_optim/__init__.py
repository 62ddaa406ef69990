"""Checks of A4 (optimisers and learning-rate schedules).

``probes`` run the student's update rules, schedules, range test, optimisers and scheduler
inside the worker and return plain data; ``public`` holds the checks students run from their
notebook and the oracles both tiers share (``torch.optim`` in float64 on the same gradients, the
real scheduler objects of ``torch.optim.lr_scheduler`` stepped next to the student's functions,
and a reference range test on a synthetic training run), plus NumPy simulations of classic
mistakes for the hints; ``hidden`` holds the checks that only official grading runs: other shapes
and hyperparameters, runs of 500 steps, learning rates that change at every step, parameters
without gradients, other model shapes, schedules past their end.
"""
