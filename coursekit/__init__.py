"""coursekit: the small library shared by the book's chapters and the assignments.

Modules:
    data       -- Fashion-MNIST, scikit-learn digits and CIFAR-10 as NumPy arrays (+ torch adapters)
    gradcheck  -- ``rel_error`` and centred numerical gradients for checking backward passes
    plotting   -- the course's colour-blind-safe palette and figure helpers
    device     -- picking ``cuda`` when present, ``cpu`` otherwise
    strict_device -- a CPU mode that fails where a GPU would (``COURSE_STRICT_DEVICE=1``)
    training   -- ``fit`` and the loaders the chapters train with
    glue       -- ``glue(name, value)`` for the chapters (myst-nb's, numbers made plain)
"""

import os as _os

__all__ = ["data", "device", "glue", "gradcheck", "plotting", "strict_device", "training"]

# Read here, so that chapters and notebooks run under the mode without a change of code.
if _os.environ.get("COURSE_STRICT_DEVICE", "").strip() == "1":
    from coursekit import strict_device as _strict_device

    _strict_device.enable()
