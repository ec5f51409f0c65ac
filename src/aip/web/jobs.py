"""Jobs of the workbench: one worker thread runs them in order, so two heavy jobs never run at once on a
small machine; each reports its progress and can be cancelled (queued jobs at once, a running one at its
next step; a restoration method inside its own loops, at its next tile or round, through
:func:`aip._shared.progress.watch`)."""

from __future__ import annotations

import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Cancelled(Exception):
    """Raised inside a job at its next step once cancellation was asked for."""


@dataclass
class Job:
    kind: str
    fn: Callable[[Job], dict[str, Any]]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = "queued"            # queued | running | done | failed | cancelled
    progress: float = 0.0
    message: str = "queued"
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    created: float = field(default_factory=time.time)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def step(self, fraction: float, message: str) -> None:
        """Report progress in [0, 1]; raises :class:`Cancelled` if the job was cancelled."""
        if self._cancel.is_set():
            raise Cancelled
        self.progress = max(0.0, min(1.0, float(fraction)))
        self.message = message

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def public(self, position: int | None = None) -> dict[str, Any]:
        out = {"id": self.id, "kind": self.kind, "state": self.state, "progress": self.progress,
               "message": self.message, "result": self.result, "error": self.error}
        if position is not None:
            out["queue_position"] = position
        return out


class JobQueue:
    """FIFO of :class:`Job`; ``workers`` threads (default 1) take them in order."""

    def __init__(self, workers: int = 1, keep: int = 200):
        self._jobs: dict[str, Job] = {}
        self._order: deque[str] = deque()
        self._pending: deque[str] = deque()
        self._cv = threading.Condition()
        self._keep = keep
        self._closed = False
        self._threads = [threading.Thread(target=self._loop, name=f"aip-job-{i}", daemon=True)
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, kind: str, fn: Callable[[Job], dict[str, Any]]) -> Job:
        job = Job(kind, fn)
        with self._cv:
            self._jobs[job.id] = job
            self._order.append(job.id)
            self._pending.append(job.id)
            while len(self._order) > self._keep:   # forget the oldest finished jobs
                old = self._order.popleft()
                if self._jobs[old].state in ("queued", "running"):
                    self._order.append(old)
                    break
                del self._jobs[old]
            self._cv.notify()
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def position(self, job: Job) -> int | None:
        with self._cv:
            return list(self._pending).index(job.id) + 1 if job.id in self._pending else None

    def cancel(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None:
            return None
        job._cancel.set()
        with self._cv:
            if job.id in self._pending:
                self._pending.remove(job.id)
                job.state, job.message = "cancelled", "cancelled before it started"
        return job

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                job = self._jobs[self._pending.popleft()]
                job.state, job.message = "running", "starting"
            try:
                job.result = job.fn(job) or {}
                job.state, job.progress, job.message = "done", 1.0, "done"
            except Cancelled:
                job.state, job.message = "cancelled", "cancelled"
            except Exception as exc:   # noqa: BLE001 -- any failure is the job's, reported in one line
                job.state = "failed"
                job.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
                job.message = job.error
                if not isinstance(exc, (ValueError, TypeError, FileNotFoundError)):   # not a user error
                    print(f"aip serve: job {job.id} ({job.kind}) failed:\n{traceback.format_exc()}",
                          file=sys.stderr)
