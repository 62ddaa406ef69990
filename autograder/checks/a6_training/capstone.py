"""The capstone of A6: the student's best Fashion-MNIST classifier, graded on the test split.

The student submits ``capstone.npz`` (the model's ``state_dict`` as plain arrays, written by the
notebook's ``save_capstone``) beside the notebook, and ``build_capstone_model()`` in an answer
cell. The grader reads the file itself (size-limited, no pickle), counts the parameters, and sends
the arrays and the 10,000 test images, in an order drawn from the check's generator, to the
worker; there ``build_capstone_model()`` is called, the state loaded strictly and the images
classified. Only the logits come back: the labels never leave the grader, which computes the
accuracy. No training happens at grading time.

What it cannot rule out: Fashion-MNIST's test split is public, so a student could train on it.
The notebook asks students to select on a validation split and to evaluate on the test split
once; instructors who need more can swap in a held-out set of their own (``TEST_SPLIT`` below).
"""

from __future__ import annotations

import hashlib

import numpy as np

from autograder.checking import CheckFailure, check, expect
from autograder.wire import WireError, load_npz

FILE = "capstone.npz"
MAX_FILE_BYTES = 25 * 2**20  # the .npz as submitted (float32 weights of 5M parameters: 20 MiB)
MAX_STATE_BYTES = 64 * 2**20  # inflated, when it was saved with np.savez_compressed
MAX_PARAMETERS = 5_000_000
TIERS = (0.88, 0.91, 0.93)  # accuracy thresholds; the last is the capstone's target
SHIFTED_MIN = 0.85  # accuracy on test images shifted by one pixel (hidden) ...
SHIFTED_N = 2000  # ... on this many of them (the reference scores 0.93-0.94: far above)
TEST_SPLIT = "test"
WHAT = "build_capstone_model() with the weights of capstone.npz"

_last: dict = {}  # the evaluation of the submission being graded, shared by its checks


def _test_split() -> tuple[np.ndarray, np.ndarray]:
    if "data" not in _last:
        from coursekit.data import load_fashion_mnist

        _last["data"] = load_fashion_mnist(TEST_SPLIT)
    return _last["data"]


def load_state(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of a submitted ``capstone.npz``, checked for size; CheckFailure otherwise."""
    try:
        state = load_npz(data, MAX_STATE_BYTES)
    except WireError as err:
        raise CheckFailure(
            f"{FILE} could not be read: {err}",
            hint="write it with save_capstone(model) from the setup cell (np.savez of the "
            "state_dict's tensors, no pickled objects)",
        ) from None
    expect(bool(state), f"{FILE} holds no arrays")
    n = sum(a.size for a in state.values() if a.dtype.kind in "fc")
    expect(
        n <= MAX_PARAMETERS,
        f"{FILE} holds {n:,} floating-point values; the limit is {MAX_PARAMETERS:,}",
        hint="a smaller model: the capstone is about training well, not about size",
    )
    return state


def submitted_state(s) -> dict[str, np.ndarray]:
    """The arrays of the submission's ``capstone.npz``; CheckFailure when it is missing or bad."""
    return load_state(s.attachment(FILE, MAX_FILE_BYTES))


def logits_of(s, state: dict, images: np.ndarray, **kw) -> np.ndarray:
    """The submitted model's logits on uint8 ``images`` (N, 28, 28), from the worker, checked
    for shape (N, 10) and finiteness. ``kw`` goes to the probe (``batch_size``)."""
    n = len(images)
    logits = s.probe("a6_training.capstone_logits", state, images, what=WHAT, **kw)
    expect(
        isinstance(logits, np.ndarray) and logits.shape == (n, 10),
        f"the model's output on {n} test images has shape "
        f"{getattr(logits, 'shape', type(logits).__name__)}; expected ({n}, 10)",
    )
    expect(bool(np.isfinite(logits).all()), "the model's output contains NaN or inf")
    return logits


def evaluate(s, rng) -> float:
    """Test accuracy of the submitted model, computed once per submission and reused by the
    other checks of the item (a failure too: the evaluation is the costly part)."""
    data = s.attachment(FILE, MAX_FILE_BYTES)
    key = hashlib.sha256(data).digest()
    owner = getattr(s, "session", s)  # the grader's session of this submission, or the notebook
    if _last.get("owner") is owner and _last.get("key") == key:
        if "failure" in _last:
            raise _last["failure"]
        return _last["accuracy"]
    _last.update(owner=owner, key=key)
    _last.pop("accuracy", None)
    _last.pop("failure", None)
    try:
        _last["accuracy"] = _accuracy(s, load_state(data), rng)  # the bytes already read
    except CheckFailure as err:
        _last["failure"] = err
        raise
    return _last["accuracy"]


def _accuracy(s, state: dict, rng) -> float:
    images, labels = _test_split()
    order = rng.permutation(len(labels))
    logits = logits_of(s, state, images[order])
    return float((logits.argmax(axis=1) == labels[order]).mean())


def _tier(threshold: float):
    def fn(s, rng):
        acc = evaluate(s, rng)
        expect(
            acc >= threshold,
            f"test accuracy {acc:.2%}; this check needs {threshold:.0%}",
            hint=None
            if acc >= 0.85
            else "far below a simple CNN: was the model trained, and saved after training?",
        )

    fn.__name__ = f"capstone_accuracy_{round(threshold * 100)}"
    fn.__doc__ = f"test accuracy of at least {threshold:.0%}"
    return check("capstone", f"test accuracy at least {threshold:.0%}", weight=1.0, timeout=120.0)(
        fn
    )


capstone_accuracy_88, capstone_accuracy_91, capstone_accuracy_93 = (_tier(t) for t in TIERS)
