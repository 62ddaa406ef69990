"""Downloadable notebooks hold the outputs the HTML page shows, once each.

The download button and the Colab link serve the notebook myst-nb (1.x) writes to
``_build/jupyter_execute``: the object it parsed the page from, after rendering. Two things go
wrong there, and this extension fixes both.

* With ``nb_merge_streams: true`` the page merges a cell's stream outputs: myst-nb appends the
  text of every later ``stdout``/``stderr`` output to the first one *in place* and renders the
  merged list, but leaves the later outputs in the cell. Every line printed after a cell's first
  stream output then appears twice in the downloaded notebook. Writing the merged list back into
  the cell gives the download exactly the page's outputs.
* When a chapter comes from the execution cache (``execute_notebooks: cache``, any rebuild of an
  unchanged chapter), myst-nb renders from a merged copy and writes the parsed notebook, which has
  no outputs at all. Merging the cached outputs into the parsed notebook itself fixes that.
"""

from __future__ import annotations

from myst_nb.core import render
from myst_nb.core.execute.cache import NotebookClientCache
from sphinx.application import Sphinx

_coalesce = render.coalesce_streams
_start_client = NotebookClientCache.start_client


def coalesce_streams_in_place(outputs: list) -> list:
    merged = _coalesce(outputs)
    outputs[:] = merged  # the cell's own list: the written notebook gets what the page shows
    return outputs


def start_client_in_place(self: NotebookClientCache) -> None:
    parsed = self._notebook
    _start_client(self)
    if self._notebook is not parsed:  # outputs came from the cache, in a copy
        parsed.clear()
        parsed.update(self._notebook)
        self._notebook = parsed


def setup(app: Sphinx) -> dict:
    if render.coalesce_streams is _coalesce:
        render.coalesce_streams = coalesce_streams_in_place
    if NotebookClientCache.start_client is _start_client:
        NotebookClientCache.start_client = start_client_in_place
    return {"parallel_read_safe": True, "parallel_write_safe": True}
