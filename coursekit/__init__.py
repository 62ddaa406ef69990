"""coursekit: the small library shared by the book's chapters and the assignments.

Modules:
    data       -- Fashion-MNIST, scikit-learn digits and CIFAR-10 as NumPy arrays (+ torch adapters)
    gradcheck  -- ``rel_error`` and centred numerical gradients for checking backward passes
    plotting   -- the course's colour-blind-safe palette and figure helpers
    device     -- picking ``cuda`` when present, ``cpu`` otherwise
"""

__all__ = ["data", "device", "gradcheck", "plotting"]
