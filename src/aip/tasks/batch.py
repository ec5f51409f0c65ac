"""One task over a collection of images: folders and globs, resumable, in parallel or on a Dask cluster.

- :func:`plan` maps each input under a folder or glob to an output of the same relative path (and name,
  with the suffix changed if asked) under the output folder; a folder of references (or masks) is matched
  by relative path and stem.
- :func:`run_batch` skips outputs that exist (so an interrupted batch resumes) unless ``force``, runs the
  rest one by one, on ``jobs`` local processes, or on a Dask distributed cluster (``scheduler``), with one
  progress bar; a failing image is reported in its row and skipped, never stopping the batch. Each output
  is written atomically by the task, so finished outputs are never lost. A summary (per image: status,
  metrics, time) is written as JSON and CSV beside the outputs.

Dask rather than Ray: Dask distributed is a pure-Python install that starts a local cluster in a second on
a laptop, sends plain functions and returns futures, which is all a map over files needs; Ray brings a
large native runtime and object store sized for far bigger jobs than this.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GLOB_CHARS = "*?["
SUMMARY_NAME = "aip-batch"   # aip-batch.json and aip-batch.csv in the output folder


@dataclass
class Item:
    """One image of a batch: its input, output and relative path (the key of its summary row)."""

    rel: str
    input: str
    output: str
    matched: dict[str, str] = field(default_factory=dict)   # keyword -> value for this image (matched files)
    error: str | None = None                                 # why it cannot run (no matching file), if so


def is_batch(source: str | os.PathLike) -> bool:
    """True for a folder or a glob pattern (``photos/``, ``'shots/*.jpg'``, ``'data/**/*.png'``)."""
    s = str(source)
    return Path(s).is_dir() or any(c in s for c in GLOB_CHARS)


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    root: list[str] = []
    for part in parts:
        if any(c in part for c in GLOB_CHARS):
            break
        root.append(part)
    return Path(*root) if root else Path(".")


def _is_input(p: Path, suffixes: tuple[str, ...]) -> bool:
    from aip._shared.files import is_own_temp

    return p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".") \
        and not is_own_temp(p.name)


def _inside(p: Path, folder: Path) -> bool:
    try:
        p.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _match(folder: Path, rel: str, what: str) -> str:
    """The file of ``folder`` at relative path ``rel``, or of the same stem with another image suffix."""
    from aip.io.images import IMAGE_SUFFIXES

    exact = folder / rel
    if exact.is_file():
        return str(exact)
    stem = exact.with_suffix("")
    for suffix in IMAGE_SUFFIXES:
        if stem.with_suffix(suffix).is_file():
            return str(stem.with_suffix(suffix))
    raise FileNotFoundError(f"{what}: no file for {rel} in {folder} (matched by relative path and name)")


def plan(source: str | os.PathLike, out_dir: str | os.PathLike, *, suffix: str | None = None,
         matched: dict[str, str | os.PathLike] | None = None, inputs: tuple[str, ...] | None = None,
         outputs: tuple[str, ...] | None = None) -> list[Item]:
    """The items of a batch: every image file under folder ``source`` (recursively) or matching glob
    ``source``, with outputs at the same relative paths under ``out_dir``; sorted by relative path.

    ``suffix`` (e.g. ``".png"``) replaces the output suffix; ``matched`` maps an option name to a folder
    whose files pair with the inputs by relative path (e.g. ``{"reference": "clean/"}``). ``inputs`` and
    ``outputs`` are the file suffixes taken as inputs and allowed as ``suffix`` (default: the image ones).
    """
    from aip.io.images import IMAGE_SUFFIXES

    inputs = inputs or IMAGE_SUFFIXES
    outputs = outputs or IMAGE_SUFFIXES

    src, out = Path(source), Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out}: expected an output folder for a batch input, got a file")
    if suffix is not None:
        suffix = suffix if suffix.startswith(".") else "." + suffix
        if suffix.lower() not in outputs:
            raise ValueError(f"--suffix: expected one of {', '.join(outputs)}, got {suffix!r}")
    if src.is_dir():
        root, files = src, sorted(src.rglob("*"))
    elif any(c in str(source) for c in GLOB_CHARS):
        root, files = _glob_root(str(source)), sorted(Path(p) for p in glob.glob(str(source), recursive=True))
    else:
        raise FileNotFoundError(f"{source}: expected a folder or a glob pattern of images")
    folders = {}
    for name, folder in (matched or {}).items():
        if not Path(folder).is_dir():
            raise NotADirectoryError(f"--{name}: expected a folder matching the batch input, got {folder}")
        folders[name] = Path(folder)
    items = []
    for f in files:
        if not _is_input(f, inputs) or _inside(f, out):
            continue
        rel = f.relative_to(root).as_posix() if f.is_relative_to(root) else f.name
        target = out / rel
        if suffix is not None:
            target = target.with_suffix(suffix)
        items.append(Item(rel, str(f), str(target), {}))
        for name, folder in folders.items():
            try:
                items[-1].matched[name] = _match(folder, rel, "--" + name)
            except FileNotFoundError as exc:
                items[-1].error = str(exc)   # reported as this image's failure
    if not items:
        raise FileNotFoundError(f"{source}: no input files ({', '.join(inputs)}) found")
    return items


def _run_item(fn: Callable[..., dict[str, Any]], item: Item, force: bool) -> dict[str, Any]:
    """Run ``fn(input, output, force=, **matched)`` on one item; a failure becomes a row, never a raise."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {"rel": item.rel, "input": item.input, "output": item.output}
    try:
        if item.error is not None:
            raise FileNotFoundError(item.error)
        result = fn(item.input, item.output, force=force, **item.matched)
        row.update({k: v for k, v in result.items() if k not in row and isinstance(v, (int, float, str, bool))})
        row["status"] = "done"
    except Exception as exc:   # noqa: BLE001 -- any failure of one image is that image's row
        row["status"] = "failed"
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        row["error"] = f"{type(exc).__name__}: {msg}"
    row["total_s"] = time.perf_counter() - t0
    return row


def _init_worker(threads: int, max_pixels: int) -> None:
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                      OPENBLAS_NUM_THREADS=str(threads))
    from aip.io.images import set_max_pixels

    set_max_pixels(max_pixels)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def _local_pool(items: list[Item], fn, force: bool, jobs: int) -> Iterable[dict[str, Any]]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from aip.io.images import get_max_pixels

    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(threads, get_max_pixels())) as pool:
        futures = [pool.submit(_run_item, fn, it, force) for it in items]
        try:
            for f in as_completed(futures):
                yield f.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _dask(items: list[Item], fn, force: bool, scheduler: str) -> Iterable[dict[str, Any]]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ImportError("--scheduler needs Dask distributed: pip install 'aip[batch]' (or distributed)") \
            from None
    cluster = None
    if scheduler.startswith("local:"):
        n = scheduler.partition(":")[2]
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"--scheduler: expected local:N with N >= 1 workers, or an address such as "
                             f"tcp://host:8786, got {scheduler!r}")
        cluster = LocalCluster(n_workers=int(n), threads_per_worker=1, processes=True, dashboard_address=None)
        address: Any = cluster
    else:
        address = scheduler
    try:
        with Client(address, timeout="20s") as client:
            # the task function on every worker up front: passed as a plain argument it would be one piece
            # of data, and the scheduler would run every task beside it, on one worker
            [shared] = client.scatter([fn], broadcast=True, hash=False)
            futures = client.map(_run_item, [shared] * len(items), items, [force] * len(items), pure=False)
            try:
                for f in as_completed(futures):
                    yield f.result()
            except BaseException:
                client.cancel(futures)
                raise
    except OSError as exc:
        raise ValueError(f"--scheduler: could not reach the Dask scheduler at {scheduler!r} ({exc})") from None
    finally:
        if cluster is not None:
            cluster.close()


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    first = ["rel", "status"]
    last = ["total_s", "input", "output", "error"]
    mid = sorted({k for r in rows for k in r} - set(first) - set(last))
    return first + mid + [c for c in last if any(c in r for r in rows)]


def write_summary(out_dir: str | os.PathLike, summary: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``aip-batch.json`` and ``aip-batch.csv`` (one row per image) atomically in ``out_dir``."""
    from aip._shared.files import atomic_write, json_safe

    out = Path(out_dir)
    jpath, cpath = out / f"{SUMMARY_NAME}.json", out / f"{SUMMARY_NAME}.csv"
    text = json.dumps(json_safe(summary), indent=2)
    buf = io.StringIO()
    rows = summary["images"]
    writer = csv.DictWriter(buf, fieldnames=_columns(rows), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    for path, data in ((jpath, text), (cpath, buf.getvalue())):
        atomic_write(path, data.encode(), force=True)
    return jpath, cpath


def _previous(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Rows of an earlier run's summary in ``out_dir`` by relative path (metrics of skipped images)."""
    try:
        data = json.loads((out_dir / f"{SUMMARY_NAME}.json").read_text())
        return {r["rel"]: r for r in data.get("images", []) if r.get("status") == "done"}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def run_batch(fn: Callable[..., dict[str, Any]], items: list[Item], out_dir: str | os.PathLike, *,
              force: bool = False, jobs: int = 1, scheduler: str | None = None, progress: bool = True,
              describe: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``fn(input, output, force=, **item.matched) -> result dict`` over ``items``; returns the summary.

    ``fn`` must be picklable for ``jobs > 1`` and ``scheduler`` (a module function or ``functools.partial``).
    ``scheduler``: a Dask scheduler address (``tcp://host:8786``) or ``local:N`` for a local cluster of N
    one-thread workers. The summary counts done, skipped and failed images and lists one row per image;
    it is also written to ``out_dir`` (see :func:`write_summary`).
    """
    from tqdm.auto import tqdm

    from aip._shared.validate import check_int

    check_int(jobs, "--jobs", low=1)
    if scheduler is not None and jobs != 1:
        raise ValueError(f"--jobs: expected 1 with --scheduler (the cluster sets the parallelism), got {jobs}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    old = _previous(out)
    rows: dict[str, dict[str, Any]] = {}
    todo = []
    for it in items:
        if Path(it.output).exists() and not force:
            row = dict(old.get(it.rel, {}), rel=it.rel, input=it.input, output=it.output)
            row.pop("error", None)
            rows[it.rel] = dict(row, status="skipped")
        else:
            Path(it.output).parent.mkdir(parents=True, exist_ok=True)
            todo.append(it)
    t0 = time.perf_counter()
    bar = tqdm(total=len(items), initial=len(items) - len(todo), unit="img", disable=not progress,
               desc="batch", dynamic_ncols=True)
    failed = 0
    if scheduler is not None:
        results: Iterable[dict[str, Any]] = _dask(todo, fn, force, scheduler)
    elif jobs > 1 and len(todo) > 1:
        results = _local_pool(todo, fn, force, min(jobs, len(todo)))
    else:
        results = (_run_item(fn, it, force) for it in todo)
    try:
        for row in results:
            rows[row["rel"]] = row
            failed += row["status"] == "failed"
            bar.update(1)
            if failed:
                bar.set_postfix(failed=failed)
    finally:
        bar.close()
        wall = time.perf_counter() - t0
        ordered = [rows[it.rel] for it in items if it.rel in rows]
        counts = {s: sum(r["status"] == s for r in ordered) for s in ("done", "skipped", "failed")}
        summary = {**(describe or {}), "images_total": len(items), **counts,
                   "not_run": len(items) - len(ordered), "wall_s": wall,
                   "images_per_s": counts["done"] / wall if wall > 0 and counts["done"] else 0.0,
                   "jobs": jobs, "scheduler": scheduler, "images": ordered}
        jpath, cpath = write_summary(out, summary)
    summary["summary_json"], summary["summary_csv"] = str(jpath), str(cpath)
    return summary


__all__ = ["Item", "is_batch", "plan", "run_batch", "write_summary"]
