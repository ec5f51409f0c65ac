"""One way to show progress: tqdm bars on stderr, and one bar for a whole job made of parts.

- :func:`progress` wraps a loop: a bar of its own when asked for, the loop itself otherwise.
- :func:`job` opens one bar for a job made of parts (the tiles of an image, the stages of an evaluation),
  with a total and an ETA. While a part runs, the first :func:`progress` loop inside it (whatever its
  ``enabled``) advances the job's bar by the part's share instead of drawing a bar of its own, so a tiled
  WNNM shows one bar over all tiles and rounds rather than one that restarts at 0 for every tile. Loops
  nested inside that loop, and parts without a loop, advance the bar when the part ends. A job opened
  inside a part splits that part among its own parts.

Example
-------
>>> from aip._shared.progress import job, progress
>>> with job(2, False, "tiles") as bar:
...     for tile in range(2):
...         with bar.part(1):
...             total = sum(progress(range(4), False, "rounds"))
>>> bar.done
2.0
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_SHARE: ContextVar[_Share | None] = ContextVar("aip_progress_share", default=None)


def _tqdm(**kw: Any):
    from tqdm.auto import tqdm

    return tqdm(leave=False, dynamic_ncols=True, **kw)


def progress(seq: Iterable, enabled: bool, desc: str) -> Iterable:
    """``seq`` wrapped in a tqdm bar (cleared when done) if ``enabled``, else ``seq`` unchanged.

    Inside a part of a :func:`job`, the first such loop reports into the job's bar instead (see the module).
    """
    share = _SHARE.get()
    if share is not None:
        return share.iterate(seq)
    if not enabled:
        return seq
    return _tqdm(iterable=seq, desc=desc)


class _Share:
    """The part of a job now running: ``size`` units of its bar, spread over the items of its first
    ``loops`` loops (``size / loops`` each)."""

    def __init__(self, job: Job, size: float, loops: int = 1) -> None:
        self.job, self.size, self.given, self.busy = job, float(size), 0.0, False
        self.per_loop = self.size / max(1, int(loops))

    def iterate(self, seq: Iterable) -> Iterable:
        if self.busy or self.given >= self.size:
            return seq                  # nested inside the reporting loop, or the share is spent
        return self._walk(seq)

    def _walk(self, seq: Iterable) -> Iterator:
        items = seq if hasattr(seq, "__len__") else list(seq)
        n = len(items)  # type: ignore[arg-type]
        step = min(self.per_loop, self.size - self.given) / n if n else 0.0
        self.busy = True
        try:
            for item in items:
                yield item
                self.give(step)
        finally:
            self.busy = False

    def give(self, amount: float) -> None:
        amount = min(amount, self.size - self.given)
        if amount > 0:
            self.given += amount
            self.job.advance(amount)


@contextmanager
def _running(share: _Share) -> Iterator[None]:
    """``share`` is the current part while the block runs; it counts in full when the block ends (when the
    block raises, what its loops gave stays, and no more)."""
    token = _SHARE.set(share)
    try:
        yield
    finally:
        _SHARE.reset(token)
    share.give(share.size)


class Job:
    """One bar over ``total`` units of work done in parts; see :func:`job`."""

    def __init__(self, total: float, enabled: bool, desc: str, unit: str = "it") -> None:
        self.total, self.done, self.enabled = float(total), 0.0, bool(enabled)
        self.bar = _tqdm(total=self.total, desc=desc, unit=unit, unit_scale=True) if self.enabled else None

    def advance(self, amount: float) -> None:
        self.done += amount
        if self.bar is not None:
            self.bar.update(amount)

    @contextmanager
    def part(self, size: float, loops: int = 1) -> Iterator[None]:
        """Run one part of ``size`` units: its first ``loops`` :func:`progress` loops (one after the other,
        such as a sampler's over several batches) report into this bar, ``size / loops`` each, and the
        part counts in full when it ends (when it raises, the bar is left where it is)."""
        with _running(_Share(self, size, loops)):
            yield

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextmanager
def job(total: float, enabled: bool, desc: str, *, unit: str = "it") -> Iterator[Job]:
    """One tqdm bar (stderr, cleared when done) for ``total`` units of work split into :meth:`Job.part`\\ s.

    ``enabled=False`` draws nothing, and the loops inside the parts stay quiet too (a caller that asked for
    no bar gets none from the methods it runs). A job opened inside a part of another job draws no bar of
    its own: its parts report into the outer part like its loops would.
    """
    outer = _SHARE.get()
    j = Job(total, enabled and outer is None, desc, unit)
    if outer is not None:
        # nested: each part of this job is its slice of what is left of the outer part, and the loops inside
        # a part report into that slice (a tiled method inside a job part advances tile by tile)
        room = outer.size - outer.given

        @contextmanager
        def nested_part(size: float, loops: int = 1) -> Iterator[None]:
            with _running(_Share(_Forward(outer), room * float(size) / j.total if j.total > 0 else 0.0, loops)):
                yield

        j.part = nested_part  # type: ignore[method-assign]
    try:
        yield j
    finally:
        j.close()


class _Forward:
    """The job of a nested part's share: what it advances goes to the outer share."""

    def __init__(self, outer: _Share) -> None:
        self.outer = outer

    def advance(self, amount: float) -> None:
        self.outer.give(amount)


class _Watched(Job):
    def __init__(self, callback: Any) -> None:
        super().__init__(1.0, False, "watch")
        self.callback = callback

    def advance(self, amount: float) -> None:
        super().advance(amount)
        self.callback(min(1.0, self.done))


@contextmanager
def watch(callback: Any) -> Iterator[None]:
    """Report the work of the :func:`progress` loops (and :func:`job` parts) run inside the block to
    ``callback(fraction)``, a fraction in [0, 1] that grows as they advance; ``callback`` may raise to stop
    the work at that point (the workbench cancels a running method so). No bar is drawn."""
    j = _Watched(callback)
    with j.part(1.0):
        yield
