"""How often A6's overfit check would fail a correct answer (issue 17, point 5).

A correct ``overfit_tiny_sample`` reproduces the reference history exactly, so it fails only
when the reference itself stays below 100%: the check draws up to ``OVERFIT_DRAWS`` samples
until the reference reaches it. This script measures the miss rate ``p`` of one draw over many
seeds, for each configuration the checks use, and prints the false-failure rate ``p**draws``
(with a 95% upper bound on ``p``):

    .venv/bin/python bench/calibrate_overfit.py --seeds 3000
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.checks.a6_training.public import (  # noqa: E402
    OVERFIT_DRAWS,
    overfit_oracle,
    seed_of,
    tiny_sample,
)

# (per_class, d, hidden, c, steps, lr): check_overfit's arguments in public.py and hidden.py.
CONFIGS = [(20, 16, 64, 5, 60, 0.01), (10, 24, 48, 8, 80, 0.02), (5, 8, 32, 3, 40, 0.03)]


def miss_rate(config: tuple, seeds: int) -> tuple[int, int]:
    per_class, d, hidden, c, steps, lr = config
    misses = 0
    for k in range(seeds):
        rng = np.random.default_rng([17, k])
        x, y = tiny_sample(rng, per_class, d, c)
        history = overfit_oracle(x, y, [d, hidden, c], seed_of(rng), steps, lr)
        misses += history[-1] < 1.0
    return misses, seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for config in CONFIGS:
        misses, n = miss_rate(config, args.seeds)
        upper = 1.0 - 0.05 ** (1.0 / n) if misses == 0 else None
        if upper is None:  # Wilson-style bound, good enough for a handful of misses
            p = misses / n
            upper = p + 1.96 * math.sqrt(p * (1 - p) / n) + 2 / n
        print(
            f"{config}: {misses}/{n} single draws miss 100% (p = {misses / n:.2e}, 95% upper "
            f"{upper:.2e}); false failures with {OVERFIT_DRAWS} draws: {(misses / n) ** OVERFIT_DRAWS:.1e} "
            f"(upper {upper**OVERFIT_DRAWS:.1e})",
            flush=True,
        )


if __name__ == "__main__":
    main()
