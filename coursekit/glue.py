"""``glue(name, value)`` for the book's chapters: myst-nb's glue, with numbers made plain.

Under NumPy 2 a NumPy scalar's text is ``np.float64(0.5)``, which a ``{glue:text}`` format such
as ``:.2f`` cannot read (the build warns and, with ``-W``, fails): NumPy and PyTorch scalars and
0-d arrays are converted to Python numbers first. It publishes exactly what ``myst_nb.glue``
publishes (the display data under the papermill record prefix, with the scrapbook metadata), but
without importing myst_nb, which loads nbformat's validator into every chapter's kernel (~3 s).
"""

from __future__ import annotations

from typing import Any

GLUE_PREFIX = "application/papermill.record/"  # myst_nb.ext.glue.GLUE_PREFIX


def plain(value: Any) -> Any:
    """``value`` as a Python number when it is a NumPy/PyTorch scalar or a 0-d array."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


def glue(name: str, value: Any, display: bool = True) -> None:
    """Store ``value``'s display data under ``name`` for ``{glue:text}`` and ``{glue}``."""
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    bundle, metadata = format_display_data(plain(value))
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)
