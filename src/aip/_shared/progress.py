"""One way to show progress: a tqdm bar over an iterable when asked for, the iterable itself otherwise."""

from __future__ import annotations

from collections.abc import Iterable


def progress(seq: Iterable, enabled: bool, desc: str) -> Iterable:
    """``seq`` wrapped in a tqdm bar (cleared when done) if ``enabled``, else ``seq`` unchanged."""
    if not enabled:
        return seq
    from tqdm.auto import tqdm

    return tqdm(seq, desc=desc, leave=False)
