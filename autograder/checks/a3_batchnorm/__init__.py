"""Checks of A3 (batch normalisation and other normalisations).

``probes`` drive the student's PyTorch objects (an autograd Function, a module, a fusion of
modules) inside the worker and return plain data; ``public`` holds the checks students run from
their notebook and the oracles both tiers share (``torch.nn.functional.batch_norm``,
``layer_norm``, ``group_norm`` and ``nn.BatchNorm2d``, with autograd, in float64); ``hidden``
holds the checks that only official grading runs: other shapes, batches of two and of one,
constant features, other values of ``eps`` and ``momentum``, cumulative averages, dtypes.
"""
