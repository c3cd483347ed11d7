"""Progress bars: tqdm's notebook-aware bar when a reader steps through a notebook, none in
batch runs (``DALNB_PROGRESS=0``, which the pipeline sets), so that no blank widget and no dead
widget state reach the HTML reports."""

from __future__ import annotations

import os

__all__ = ["bar", "ENV"]

ENV = "DALNB_PROGRESS"


def bar(iterable=None, show: bool = True, **kw):
    """``tqdm.auto.tqdm(iterable, **kw)``, disabled when ``show`` is False or ``$DALNB_PROGRESS`` is 0."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not show or os.environ.get(ENV, "1") == "0", **kw)
