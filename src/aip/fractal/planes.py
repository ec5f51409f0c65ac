"""Coding of one plane's quadtree and maps: the field layout shared by encoder and decoder.

A plane's fields, in stream order:

1. split flags, one field per quadtree level (context = level), nodes in breadth-first order;
2. contrast index ``k + K`` per leaf (``k`` in -K..K, ``s = k s_max / K``; ``k = 0`` is a flat block
   whose only parameter is its mean), one field per block size;
3. isometry (0..7) of the non-flat leaves, one field;
4. domain index of the non-flat leaves, uniform over the pool of their size;
5. quantised range mean, predicted from the left, top and top-left neighbours (median edge detector of
   LOCO-I) and coded as a residual, contexts flat / non-flat.

Leaves are listed in Z (depth-first) order, so the neighbours of a leaf precede it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aip.fractal.bitstream import FractalFormatError, Params
from aip.fractal.entropy import Reader, Writer
from aip.fractal.partition import (
    children,
    domain_grid,
    domain_step,
    leaf_neighbours,
    level_sizes,
    morton_key,
    padded_size,
    root_nodes,
)


@dataclass
class Leaves:
    """The coded maps of one plane, leaves in Z order."""

    y: np.ndarray
    x: np.ndarray
    b: np.ndarray
    k: np.ndarray  # signed contrast index, 0 = flat
    iso: np.ndarray
    p: np.ndarray
    qm: np.ndarray  # quantised mean index
    flags: list[np.ndarray]  # coded split flags per level

    def __len__(self) -> int:
        return len(self.y)


def mean_levels(params: Params, chroma: bool) -> int:
    """Number of quantised mean values: indices 0..L-1 cover [0, 1]."""
    return round(1.0 / params.mean_step(chroma)) + 1


def predict_means(qm: np.ndarray, left: np.ndarray, top: np.ndarray, tl: np.ndarray, mid: int) -> np.ndarray:
    """Vectorised MED prediction (the encoder knows every mean)."""
    lv = np.where(left >= 0, qm[np.maximum(left, 0)], -1)
    tv = np.where(top >= 0, qm[np.maximum(top, 0)], -1)
    cv = np.where(tl >= 0, qm[np.maximum(tl, 0)], -1)
    both = (lv >= 0) & (tv >= 0)
    med = np.where(cv >= np.maximum(lv, tv), np.minimum(lv, tv),
                   np.where(cv <= np.minimum(lv, tv), np.maximum(lv, tv), lv + tv - cv))
    med = np.where(cv < 0, (lv + tv) // 2, med)
    pred = np.where(both, med, np.where(lv >= 0, lv, np.where(tv >= 0, tv, mid)))
    return pred.astype(np.int64)


def z_order(y: np.ndarray, x: np.ndarray, params: Params, wp: int) -> np.ndarray:
    return np.argsort(morton_key(y, x, params.min_block, params.max_block, wp), kind="stable")


def pools(params: Params, hp: int, wp: int) -> dict[int, tuple[int, np.ndarray, np.ndarray]]:
    out = {}
    for b in level_sizes(params.min_block, params.max_block):
        step = domain_step(b, hp, wp, params.step_div, params.max_domains)
        dy, dx = domain_grid(b, hp, wp, step)
        out[b] = (step, dy, dx)
    return out


def write_plane(w: Writer, leaves: Leaves, params: Params, hp: int, wp: int, chroma: bool) -> None:
    K = params.s_levels
    for f in leaves.flags:
        w.field(f.astype(np.int64), 2)
    sizes = level_sizes(params.min_block, params.max_block)
    for b in sizes:
        w.field(leaves.k[leaves.b == b] + K, 2 * K + 1)
    nf = leaves.k != 0
    w.field(leaves.iso[nf], 8)
    pl = pools(params, hp, wp)
    for b in sizes:
        w.uniform(leaves.p[nf & (leaves.b == b)], len(pl[b][1]))
    L = mean_levels(params, chroma)
    left, top, tl = leaf_neighbours(leaves.y, leaves.x, leaves.b, hp, wp, params.min_block)
    res = leaves.qm - predict_means(leaves.qm, left, top, tl, L // 2)
    for ctx in (False, True):
        w.field(res[nf == ctx] + L - 1, 2 * L - 1)


def read_plane(r: Reader, params: Params, h: int, w: int, chroma: bool) -> tuple[Leaves, int, int]:
    hp, wp = padded_size(h, w, params.min_block)
    sizes = level_sizes(params.min_block, params.max_block)
    y, x = root_nodes(hp, wp, params.max_block)
    ly, lx, lb, flags = [], [], [], []
    for b in sizes:
        inside = (y + b <= hp) & (x + b <= wp)
        split = ~inside
        if b > params.min_block:
            codable = inside
            f = r.field(int(codable.sum()), 2).astype(bool)
            split = split.copy()
            split[codable] = f
            flags.append(f)
        elif not inside.all():
            raise FractalFormatError("corrupt file: inconsistent quadtree")  # pragma: no cover
        leaf = inside & ~split
        ly.append(y[leaf])
        lx.append(x[leaf])
        lb.append(np.full(int(leaf.sum()), b, np.int64))
        y, x = children(y[split], x[split], b, hp, wp)
    y = np.concatenate(ly)
    x = np.concatenate(lx)
    bb = np.concatenate(lb)
    order = z_order(y, x, params, wp)
    y, x, bb = y[order], x[order], bb[order]
    n = len(y)
    K = params.s_levels
    k = np.zeros(n, np.int64)
    for b in sizes:
        sel = bb == b
        k[sel] = r.field(int(sel.sum()), 2 * K + 1) - K
    nf = k != 0
    iso = np.zeros(n, np.int64)
    iso[nf] = r.field(int(nf.sum()), 8)
    p = np.zeros(n, np.int64)
    pl = pools(params, hp, wp)
    for b in sizes:
        sel = nf & (bb == b)
        if sel.any() and len(pl[b][1]) == 0:
            raise FractalFormatError("corrupt file: a block refers to an empty domain pool")
        p[sel] = r.uniform(int(sel.sum()), len(pl[b][1]))
    L = mean_levels(params, chroma)
    res = np.zeros(n, np.int64)
    for ctx in (False, True):
        sel = nf == ctx
        res[sel] = r.field(int(sel.sum()), 2 * L - 1) - (L - 1)
    left, top, tl = leaf_neighbours(y, x, bb, hp, wp, params.min_block)
    qm = [0] * n
    lt, tt, ct, rs = left.tolist(), top.tolist(), tl.tolist(), res.tolist()
    mid = L // 2
    for i in range(n):  # the MED predictor of _med, inlined (sequential: neighbours are decoded first)
        a, t, c = lt[i], tt[i], ct[i]
        if a < 0:
            pred = mid if t < 0 else qm[t]
        elif t < 0:
            pred = qm[a]
        else:
            va, vt = qm[a], qm[t]
            if c < 0:
                pred = (va + vt) // 2
            else:
                vc = qm[c]
                hi, lo = (va, vt) if va >= vt else (vt, va)
                pred = lo if vc >= hi else (hi if vc <= lo else va + vt - vc)
        qm[i] = pred + rs[i]
    qm = np.clip(np.array(qm, dtype=np.int64), 0, L - 1)
    return Leaves(y, x, bb, k, iso, p, qm, flags), hp, wp
