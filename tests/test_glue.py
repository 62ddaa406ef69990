"""coursekit.glue publishes what myst_nb's glue publishes, with NumPy/PyTorch scalars as plain
Python numbers (a ``{glue:text}`` format such as ``:.2f`` cannot read ``np.float64(0.5)``)."""

from __future__ import annotations

import IPython.display
import myst_nb.ext.glue as myst_glue
import numpy as np
import torch

from coursekit.glue import glue, plain


def _published(fn, monkeypatch, *args, **kwargs):
    calls = []

    def capture(bundle, raw=False, metadata=None):
        calls.append((bundle, raw, metadata))

    monkeypatch.setattr(IPython.display, "display", capture)
    monkeypatch.setattr(myst_glue, "ipy_display", capture)
    fn(*args, **kwargs)
    return calls


def test_same_data_as_myst_nb(monkeypatch):
    for value, display in [(0.25, False), ("text", True), (3, False)]:
        ours = _published(glue, monkeypatch, "k", value, display=display)
        theirs = _published(myst_glue.glue, monkeypatch, "k", value, display=display)
        assert ours == theirs and ours


def test_numpy_and_torch_scalars_become_plain_numbers(monkeypatch):
    assert plain(np.float64(0.5)) == 0.5 and type(plain(np.float64(0.5))) is float
    assert type(plain(np.int64(3))) is int and type(plain(torch.tensor(1.5))) is float
    assert type(plain(np.array(2.0))) is float and plain(np.array([1, 2])).shape == (2,)
    ((bundle, _, _),) = _published(glue, monkeypatch, "k", np.float64(0.5), display=False)
    assert bundle["application/papermill.record/text/plain"] == "0.5"
