"""Domain search as batched matrix products (Saupe's reformulation), in numpy or torch.

For a range ``r`` and domain ``d`` (both ``n = b*b`` pixels) with centred copies ``r_c``, ``d_c`` the
least-squares collage error over contrast ``s`` is ``|r_c|^2 - <r_c, d_c/|d_c|>^2``, so the best domain
(over positions and the 8 isometries) maximises ``|<r_c, d_hat>|``: one row of ``R_c @ D_hat^T``.
Ranges of one size are searched together, in chunks that bound the score matrix to ``chunk_elems``
floats. On the CPU (``device=None`` or ``"cpu"``) the products are numpy's BLAS GEMM and torch is not
imported (it costs more to import than a 512x512 search takes); any other device (``"cuda"``,
``"auto"``, a ``torch.device``) runs the same maths in torch.

References
----------
D. Saupe, "Accelerating fractal image compression by multi-dimensional nearest neighbor search",
Proc. DCC 1995. Y. Fisher (ed.), *Fractal Image Compression*, Springer 1995.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from aip.fractal.partition import domain_grid, domain_step, isometry


@dataclass
class Pool:
    """Domain pool of one range size; rows (domain x isometry) sorted by decreasing domain norm."""

    b: int
    step: int
    dy: np.ndarray
    dx: np.ndarray
    rows: object  # torch (M, n) float32, unit-norm centred domains, M = 8 * (non-flat domains); numpy: None
    row_p: np.ndarray  # (M,) domain index of each row
    row_iso: np.ndarray  # (M,) isometry of each row
    row_norm: np.ndarray  # (M,) |d_c| of each row, decreasing
    norm: np.ndarray  # (P,) |d_c| per domain
    rows_t: np.ndarray | None = None  # numpy backend: the rows as an (n, M) C-contiguous transpose (faster GEMM)

    @property
    def size(self) -> int:
        return len(self.dy)


def half_resolution(plane: np.ndarray) -> np.ndarray:
    """2x2 mean decimation of an even-sized plane."""
    h, w = plane.shape
    return plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3), dtype=np.float32)


def extract_blocks(img: np.ndarray, y: np.ndarray, x: np.ndarray, b: int) -> np.ndarray:
    """(N, b, b) blocks with top-left corners (y, x)."""
    ar = np.arange(b)
    return img[y[:, None, None] + ar[None, :, None], x[:, None, None] + ar[None, None, :]]


# Python threads over chunks. Measured on the shared 2-core machine (load ~8): one thread 1.5-1.7 s wall
# per 512x512 gray encode, two threads 2.7-3.6 s (GIL hand-offs stall when a thread is descheduled).
SEARCH_THREADS = 1


def uses_numpy(device) -> bool:
    """True where the search runs in numpy: no device, ``"cpu"``, or a CPU ``torch.device``."""
    if device is None:
        return True
    if isinstance(device, str):
        return device.strip().lower() == "cpu"
    return getattr(device, "type", None) == "cpu" and getattr(device, "index", None) is None


@contextmanager
def _blas_threads():
    """Single-threaded BLAS for the search GEMMs (threadpoolctl when installed; else as configured)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield 1
        return
    with threadpool_limits(limits=SEARCH_THREADS, user_api="blas"):
        yield 1


@contextmanager
def _torch_threads(device):
    """On the CPU, run torch single-threaded and parallelise over chunks with Python threads instead.

    torch releases the GIL inside its kernels, and coarse chunks do not suffer the OpenMP barrier
    stalls that small intra-op parallel kernels hit on a loaded machine. Yields the worker count.
    ``device="numpy"`` (the numpy backend) limits BLAS instead and never imports torch.
    """
    if isinstance(device, str) and device == "numpy":
        with _blas_threads() as workers:
            yield workers
        return
    import torch

    if device.type != "cpu":
        yield 1
        return
    before = torch.get_num_threads()
    workers = max(1, min(before, os.cpu_count() or 1, SEARCH_THREADS))
    if before == 1:  # already inside (re-entrant): no toggling
        yield workers
        return
    torch.set_num_threads(1)
    try:
        yield workers
    finally:
        torch.set_num_threads(before)


class PlaneSearch:
    """Best-match search for the ranges of one padded plane, cached across calls (for rate control)."""

    def __init__(self, plane: np.ndarray, *, step_div: int, max_domains: int, s_max: float,
                 device=None, band: float = 0.5, n_iso: int = 8, chunk_elems: int = 1 << 20) -> None:
        self.img = np.ascontiguousarray(plane, dtype=np.float32)
        self.hp, self.wp = plane.shape
        self.half = half_resolution(self.img)
        self.step_div = step_div
        self.max_domains = max_domains
        if uses_numpy(device):
            self.device = "numpy"  # no torch import on the CPU path
        else:
            from aip._shared.torch_bridge import resolve_device

            self.device = resolve_device(device)  # "auto" without CUDA: torch on the CPU
        self.numpy = self.device == "numpy"
        self.chunk_elems = chunk_elems
        self.s_max = float(s_max)
        self.band = float(band)
        self.n_iso = n_iso
        self._pools: dict[int, Pool] = {}
        self._cache: dict[int, dict[str, np.ndarray]] = {}

    def pool(self, b: int) -> Pool:
        if b not in self._pools:
            step = domain_step(b, self.hp, self.wp, self.step_div, self.max_domains)
            dy, dx = domain_grid(b, self.hp, self.wp, step)
            blocks = extract_blocks(self.half, dy, dx, b).astype(np.float32)
            blocks -= blocks.mean(axis=(1, 2), keepdims=True)
            norm = np.sqrt((blocks.astype(np.float64) ** 2).sum(axis=(1, 2))).astype(np.float32)
            keep = np.nonzero(norm > 1e-6)[0]
            keep = keep[np.argsort(-norm[keep], kind="stable")]
            unit = blocks[keep] / norm[keep, None, None]
            del blocks
            ni = self.n_iso
            rows = np.empty((len(keep), ni, b * b), dtype=np.float32)  # rows of one domain together
            for k in range(ni):
                rows[:, k] = isometry(unit, k).reshape(len(keep), b * b)
            del unit
            rows = rows.reshape(-1, b * b)
            rows_t = None
            if self.numpy:
                rows_t, rows = np.ascontiguousarray(rows.T), None
            else:
                import torch

                rows = torch.from_numpy(rows).to(self.device)
            self._pools[b] = Pool(b, step, dy, dx, rows, np.repeat(keep, ni), np.tile(np.arange(ni), len(keep)),
                                  np.repeat(norm[keep], ni), norm, rows_t)
        return self._pools[b]

    def search(self, b: int, y: np.ndarray, x: np.ndarray, progress=None) -> dict[str, np.ndarray]:
        """Per range: ``mean``, ``rss`` (|r_c|^2), and best ``p``, ``iso``, ``corr`` (<r_c, d_hat>), ``dnorm``.

        The best domain minimises the collage error with the contrast clamped to ``|s| <= s_max``:
        with ``a = |<r_c, d_hat>|`` and ``t = s_max |d_c|`` the error drop is ``a^2 - max(a - t, 0)^2``.
        Rows are sorted by ``t``; rows with ``t < band * |r_c|`` are skipped (they cannot win by much).
        """
        gh, gw = -(-self.hp // b), -(-self.wp // b)
        cache = self._cache.get(b)
        if cache is None:
            cache = {"done": np.zeros((gh, gw), bool), "mean": np.zeros((gh, gw), np.float32),
                     "rss": np.zeros((gh, gw), np.float32), "p": np.zeros((gh, gw), np.int64),
                     "iso": np.zeros((gh, gw), np.int64), "corr": np.zeros((gh, gw), np.float32),
                     "dnorm": np.zeros((gh, gw), np.float32)}
            self._cache[b] = cache
        gy, gx = y // b, x // b
        todo = ~cache["done"][gy, gx]
        if todo.any():
            ty, tx = y[todo], x[todo]
            r = extract_blocks(self.img, ty, tx, b).reshape(len(ty), b * b).astype(np.float32)
            mean = r.mean(axis=1, dtype=np.float64).astype(np.float32)
            rc = r - mean[:, None]
            rss = (rc.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)
            pool = self.pool(b)
            n = len(ty)
            best = np.full(n, -1, np.int64)
            m_all = len(pool.row_p)
            # ranges flat at any quality (MSE below 1/4 of an 8-bit level squared) are not searched
            active = np.nonzero(rss > 0.25 * b * b / 255.0 ** 2)[0]
            if m_all and len(active):
                active = active[np.argsort(rss[active], kind="stable")]
                rho = np.sqrt(rss[active])
                t_sorted = self.s_max * pool.row_norm
                if self.numpy:
                    t_t = t_sorted.astype(np.float32)
                    rct = np.ascontiguousarray(rc[active])
                else:
                    import torch

                    t_t = torch.from_numpy(t_sorted).to(self.device)
                    rct = torch.from_numpy(rc[active]).to(self.device)
                chunk = max(1, min(64, self.chunk_elems // m_all))
                starts = list(range(0, len(active), chunk))
                out = np.zeros(len(active), np.int64)

                def run(start: int) -> None:
                    stop = min(start + chunk, len(active))
                    m = int(np.searchsorted(-t_sorted, -self.band * rho[start], side="right"))
                    m = max(m, min(8, m_all))
                    if self.numpy:
                        a = rct[start:stop] @ pool.rows_t[:, :m]
                        np.abs(a, out=a)
                        u = a - t_t[:m]
                        np.maximum(u, 0, out=u)
                        a *= a
                        u *= u
                        a -= u
                        out[start:stop] = a.argmax(axis=1)
                        return
                    a = (rct[start:stop] @ pool.rows[:m].T).abs_()
                    u = (a - t_t[:m]).clamp_(min=0)
                    g = a.mul_(a).sub_(u.mul_(u))
                    out[start:stop] = g.argmax(dim=1).cpu().numpy()

                with _torch_threads(self.device) as workers:
                    if workers > 1 and len(starts) > 1:
                        from concurrent.futures import ThreadPoolExecutor

                        with ThreadPoolExecutor(workers) as ex:
                            for i, _ in enumerate(ex.map(run, starts)):
                                if progress is not None:
                                    progress(min(chunk, len(active) - starts[i]))
                    else:
                        for start in starts:
                            run(start)
                            if progress is not None:
                                progress(min(chunk, len(active) - start))
                best[active] = out
            found = best >= 0
            p = np.where(found, pool.row_p[np.maximum(best, 0)] if m_all else 0, 0)
            iso = np.where(found, pool.row_iso[np.maximum(best, 0)] if m_all else 0, 0)
            dnorm = np.where(found, pool.norm[p] if pool.size else 0, 0).astype(np.float32)
            corr = np.zeros(n, np.float32)
            if found.any():
                if self.numpy:
                    rows = pool.rows_t[:, best[found]].T
                else:
                    import torch

                    rows = pool.rows[torch.from_numpy(best[found])].cpu().numpy()
                corr[found] = (rc[found] * rows).sum(axis=1)
            for key, val in (("mean", mean), ("rss", rss), ("p", p), ("iso", iso), ("corr", corr),
                             ("dnorm", dnorm)):
                cache[key][ty // b, tx // b] = val
            cache["done"][ty // b, tx // b] = True
        return {k: v[gy, gx] for k, v in cache.items() if k != "done"}
