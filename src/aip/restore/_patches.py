"""Patch extraction, aggregation and block matching shared by the sparse and low-rank methods (torch).

All functions work on one 2-D image held as a torch tensor. Patches are indexed in raster order over the
``(H - p + 1) x (W - p + 1)`` top-left positions, each patch flattened row-major to ``p * p`` values,
which is the layout of ``torch.nn.functional.unfold``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def extract(image: torch.Tensor, p: int) -> torch.Tensor:
    """All overlapping ``p x p`` patches of a 2-D tensor as an ``(N, p*p)`` matrix (raster order); of a
    ``(C, H, W)`` tensor as ``(N, C*p*p)``, the channels one after the other in each row."""
    return F.unfold(image[None] if image.ndim == 3 else image[None, None], kernel_size=p)[0].T.contiguous()


def aggregate(values: torch.Tensor, weights: torch.Tensor, shape: tuple[int, int], p: int) -> tuple:
    """Sum patch estimates back into an image: returns ``(numerator, denominator)`` images.

    ``values`` is ``(N, p*p)`` (already multiplied by its weight), ``weights`` is ``(N,)`` (or ``(N, p*p)``).
    Overlapping patches add up (the adjoint of :func:`extract`), so ``num / den`` is the weighted average.
    """
    num = F.fold(values.T[None], output_size=shape, kernel_size=p)[0, 0]
    w = weights if weights.ndim == 2 else weights[:, None].expand(-1, p * p)
    den = F.fold(w.T.contiguous()[None], output_size=shape, kernel_size=p)[0, 0]
    return num, den


def scatter_groups(estimates: torch.Tensor, index: torch.Tensor, n_patches: int,
                   weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Scatter-add group estimates ``(G, k, d)`` at patch indices ``(G, k)`` into ``(N, d)`` sums and counts."""
    d = estimates.shape[-1]
    flat_idx = index.reshape(-1)
    vals = estimates.reshape(-1, d)
    if weights is None:
        w = torch.ones(flat_idx.shape[0], dtype=estimates.dtype, device=estimates.device)
    else:
        w = weights.reshape(-1).to(estimates.dtype)
        vals = vals * w[:, None]
    acc = torch.zeros(n_patches, d, dtype=estimates.dtype, device=estimates.device)
    cnt = torch.zeros(n_patches, dtype=estimates.dtype, device=estimates.device)
    acc.index_add_(0, flat_idx, vals)
    cnt.index_add_(0, flat_idx, w)
    return acc, cnt


def group_pass(patches: torch.Tensor, groups: torch.Tensor, estimate, shape: tuple[int, int], p: int, *,
               chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimate every group (chunk by chunk) and aggregate into image sums and weights.

    ``estimate(stacked, rows)`` maps the stacked groups ``(G, k, d)`` of the group rows ``rows`` (a slice
    of ``groups``, for per-group parameters) to estimates of the same shape; returns the aggregated
    numerator and denominator images of :func:`aggregate` (divide where the denominator is positive).
    """
    n_patches = patches.shape[0]
    acc = torch.zeros(n_patches, patches.shape[1], dtype=patches.dtype, device=patches.device)
    cnt = torch.zeros(n_patches, dtype=patches.dtype, device=patches.device)
    for b in range(0, groups.shape[0], chunk):
        gi = groups[b:b + chunk]
        a, n = scatter_groups(estimate(patches[gi], slice(b, b + chunk)), gi, n_patches)
        acc += a
        cnt += n
    return aggregate(acc, cnt, shape, p)


def reference_grid(n: int, step: int) -> torch.Tensor:
    """Positions 0, step, 2 step, ... along one axis of ``n`` patch positions, always including ``n - 1``."""
    pos = list(range(0, n, step))
    if pos[-1] != n - 1:
        pos.append(n - 1)
    return torch.tensor(pos, dtype=torch.long)


def block_match(patches: torch.Tensor, grid_shape: tuple[int, int], k: int, *, step: int = 3,
                window: int = 20, tile: int = 8, batch: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """k nearest patches (squared Euclidean distance) of reference patches on a regular grid.

    Reference patches sit every ``step`` positions (the last row/column always included, so their union
    covers the image). Distances are computed tile by tile: the references of a ``tile x tile`` block of
    the grid share one candidate region (the block grown by ``window`` on each side, shifted to stay
    inside the image), so the search is one batched matrix product ``||c||^2 - 2 <r, c>`` per batch of
    tiles, followed by ``topk``. Each reference is forced into its own group (first entry).

    Returns ``(ref_index (G,), group_index (G, k))`` as flat patch indices.
    """
    hp, wp = grid_shape
    _n, _d = patches.shape
    dev = patches.device
    rows = reference_grid(hp, step).to(dev)
    cols = reference_grid(wp, step).to(dev)
    sq = (patches * patches).sum(1)
    span = (tile - 1) * step
    rh = min(hp, span + 1 + 2 * window)
    rw = min(wp, span + 1 + 2 * window)
    k = min(k, rh * rw)
    ar_h = torch.arange(rh, device=dev)
    ar_w = torch.arange(rw, device=dev)
    tiles = []  # (ref rows, ref cols, r0, c0)
    for ti in range(0, len(rows), tile):
        for tj in range(0, len(cols), tile):
            rr = rows[ti:ti + tile]
            cc = cols[tj:tj + tile]
            r0 = int(min(max(int(rr[0]) - window, 0), hp - rh))
            c0 = int(min(max(int(cc[0]) - window, 0), wp - rw))
            tiles.append((rr, cc, r0, c0))
    ref_out, grp_out = [], []
    for b in range(0, len(tiles), batch):
        chunk = tiles[b:b + batch]
        nref = max(len(t[0]) * len(t[1]) for t in chunk)
        ref_idx = torch.empty(len(chunk), nref, dtype=torch.long, device=dev)
        valid = torch.zeros(len(chunk), nref, dtype=torch.bool, device=dev)
        cand_idx = torch.empty(len(chunk), rh * rw, dtype=torch.long, device=dev)
        self_loc = torch.empty(len(chunk), nref, dtype=torch.long, device=dev)
        for i, (rr, cc, r0, c0) in enumerate(chunk):
            ri = (rr[:, None] * wp + cc[None, :]).reshape(-1)
            m = ri.shape[0]
            ref_idx[i, :m] = ri
            ref_idx[i, m:] = ri[-1]
            valid[i, :m] = True
            loc = ((rr[:, None] - r0) * rw + (cc[None, :] - c0)).reshape(-1)
            self_loc[i, :m] = loc
            self_loc[i, m:] = loc[-1]
            cand_idx[i] = ((r0 + ar_h)[:, None] * wp + (c0 + ar_w)[None, :]).reshape(-1)
        refs = patches[ref_idx]                      # (T, nref, d)
        cands = patches[cand_idx]                    # (T, ncand, d)
        dist = sq[cand_idx][:, None, :] - 2.0 * torch.bmm(refs, cands.transpose(1, 2))
        dist.scatter_(2, self_loc[..., None], float("-inf"))
        _, pos = torch.topk(dist, k, dim=2, largest=False, sorted=True)
        grp = torch.gather(cand_idx[:, None, :].expand(-1, nref, -1), 2, pos)
        ref_out.append(ref_idx[valid])
        grp_out.append(grp[valid])
    return torch.cat(ref_out), torch.cat(grp_out)
