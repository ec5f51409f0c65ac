"""The shared progress helper: one bar per job, loops inside parts report into it."""

from typing import ClassVar

import pytest

import aip._shared.progress as P


class FakeBar:
    """Records what a tqdm bar would show."""

    made: ClassVar[list] = []

    def __init__(self, iterable=None, total=None, desc="", **kw):
        self.iterable, self.total, self.desc, self.n, self.updates, self.closed = iterable, total, desc, 0.0, [], False
        FakeBar.made.append(self)

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)

    def update(self, n):
        self.n += n
        self.updates.append(n)

    def close(self):
        self.closed = True


@pytest.fixture
def bars(monkeypatch):
    FakeBar.made = []
    monkeypatch.setattr(P, "_tqdm", lambda **kw: FakeBar(**kw))
    return FakeBar.made


def test_plain_loop_bar_only_when_enabled(bars):
    assert list(P.progress(range(3), False, "x")) == [0, 1, 2] and bars == []
    assert list(P.progress(range(3), True, "x")) == [0, 1, 2]
    assert len(bars) == 1 and bars[0].n == 3 and bars[0].desc == "x"


def test_job_bar_spans_parts_and_inner_loops(bars):
    """Three parts of sizes 2, 1, 1: the first loop of each part spreads the part's share over its items,
    nested loops and later loops draw nothing, and a part without a loop counts when it ends."""
    with P.job(4, True, "tiles", unit="px") as job:
        with job.part(2):
            for _ in P.progress(range(4), True, "rounds"):
                assert list(P.progress(range(7), True, "nested")) == list(range(7))
            list(P.progress(range(5), True, "second"))      # the share is spent: no bar, no update
        with job.part(1):
            pass
        with job.part(1):
            list(P.progress(iter(range(2)), False, "quiet"))  # reports although not enabled; any iterable
    assert len(bars) == 1
    bar = bars[0]
    assert bar.total == 4.0 and bar.desc == "tiles" and bar.closed
    assert bar.updates == [0.5, 0.5, 0.5, 0.5, 1.0, 0.5, 0.5]
    assert bar.n == pytest.approx(4.0) and job.done == pytest.approx(4.0)


def test_part_over_several_loops(bars):
    """A part of 6 over 3 loops (a sampler run batch by batch): 2 units per loop, whatever its length."""
    with P.job(6, True, "sampling") as job, job.part(6, loops=3):
        for n in (2, 4, 1):
            list(P.progress(range(n), True, "steps"))
        list(P.progress(range(3), True, "a fourth"))           # beyond the share: nothing
    assert bars[0].updates == [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 2.0] and bars[0].n == pytest.approx(6)


def test_disabled_job_silences_its_loops_and_nested_job_reports_outside(bars):
    with P.job(2, False, "quiet") as job, job.part(2):
        list(P.progress(range(3), True, "would show"))
    assert bars == [] and job.done == pytest.approx(2.0)
    with P.job(10, True, "outer") as outer, outer.part(10), P.job(3, True, "inner") as inner:  # no inner bar
        for _ in range(3):
            with inner.part(1):
                list(P.progress(range(2), False, "r"))
    # each inner part is a third of the outer part, its loop's two items a sixth each
    assert len(bars) == 1 and bars[0].updates == pytest.approx([10 / 6] * 6)


def test_part_that_raises_leaves_the_bar(bars):
    with pytest.raises(RuntimeError), P.job(2, True, "t") as job, job.part(2):
        for i in P.progress(range(4), False, "r"):
            if i == 1:
                raise RuntimeError("stop")
    assert bars[0].n == pytest.approx(0.5) and bars[0].closed      # item 0 done, item 1 not
