"""Fractal encoder: quadtree partition, Saupe search, quantisation, rate control."""

from __future__ import annotations

import math

import numpy as np

from aip._shared.validate import as_image, check_int, check_positive
from aip.fractal.bitstream import MAX_PIXELS, MAX_SIDE, Params, pack
from aip.fractal.colour import rgb_to_ycbcr, subsample
from aip.fractal.entropy import Writer
from aip.fractal.partition import level_sizes, pad_plane, root_nodes
from aip.fractal.planes import Leaves, mean_levels, write_plane, z_order
from aip.fractal.search import PlaneSearch, _torch_threads

# Chroma is coded coarser by 2x2 subsampling (one chroma sample per 4 pixels). Measured on chelsea and
# coffee: a Lagrange multiplier of 0.5x the luma one and the luma mean step serve RGB PSNR best.
CHROMA_THRESHOLD = 0.5
CHROMA_MEAN_STEP = 1.0
# Rate model of the RD decisions (bits): a leaf with a map (contrast, isometry, mean; + log2 pool),
# a flat leaf (contrast index 0, mean), a split flag; blocks with less distortion than
# EXPAND_BITS * lambda are not searched one level down.
RATE_MAP = 10.0
RATE_FLAT = 5.0
FLAG_BITS = 1.0
EXPAND_BITS = 24.0
LAMBDA_SCALE = 1.0
MEAN_STEP_SCALE = 0.5


def quality_params(quality: float) -> tuple[float, int]:
    """Lagrange multiplier (squared error on the 0..255 scale per bit) and luma mean step (x4).

    ``lambda = 2 ** (10 - quality / 10)``: quality 0 -> 1024, 100 -> 1; the mean step follows sqrt(lambda).
    """
    q = min(max(float(quality), 0.0), 100.0) / 100.0
    t255 = 2.0 ** (10.0 - 10.0 * q)
    step4 = int(np.clip(round(4 * min(4.0, max(1.0, MEAN_STEP_SCALE * math.sqrt(t255)))), 4, 64))
    return t255, step4


class _PlaneEncoder:
    def __init__(self, plane: np.ndarray, params: Params, chroma: bool, device, progress) -> None:
        self.h, self.w = plane.shape
        self.padded = pad_plane(plane, params.min_block)
        self.hp, self.wp = self.padded.shape
        self.chroma = chroma
        self.search = PlaneSearch(self.padded, step_div=params.step_div, max_domains=params.max_domains,
                                  s_max=params.s_max, device=device)
        self.progress = progress

    def leaves(self, params: Params, t255: float) -> Leaves:
        """Rate-distortion optimised quadtree (Lagrangian cost ``D + lambda R``, pruned bottom-up).

        Top-down, every block whose best single-map distortion is not negligible is searched one level
        further; bottom-up, a block is split when its children's total cost is lower. Rates are the
        typical field costs (bits) measured on natural images; ``lambda`` follows the quality.
        """
        lam = t255 / 255.0 ** 2 * LAMBDA_SCALE
        K, smax = params.s_levels, params.s_max
        step = params.mean_step(self.chroma)
        L = mean_levels(params, self.chroma)
        sizes = level_sizes(params.min_block, params.max_block)
        pool_bits = {b: np.log2(max(2, self.search.pool(b).size)) for b in sizes}
        y, x = root_nodes(self.hp, self.wp, params.max_block)
        parent = np.full(len(y), -1, np.int64)
        levels = []
        for b in sizes:
            n_pix = b * b
            inside = (y + b <= self.hp) & (x + b <= self.wp)
            iy, ix = y[inside], x[inside]
            r = self.search.search(b, iy, ix, progress=self.progress)
            s_opt = np.where(r["dnorm"] > 0, r["corr"] / np.maximum(r["dnorm"], 1e-12), 0.0)
            k = np.clip(np.rint(s_opt / smax * K), -K, K).astype(np.int64)
            s = k * (smax / K)
            d_nf = r["rss"] - 2 * s * r["corr"] * r["dnorm"] + s * s * r["dnorm"] ** 2
            qm = np.clip(np.rint(r["mean"] / step), 0, L - 1).astype(np.int64)
            d_mean = n_pix * (qm * step - r["mean"]) ** 2
            j_flat = r["rss"] + d_mean + lam * RATE_FLAT
            j_nf = np.where(k != 0, d_nf + d_mean + lam * (RATE_MAP + pool_bits[b]), np.inf)
            flat = j_flat <= j_nf
            k[flat] = 0
            d_leaf = np.where(flat, r["rss"], d_nf) + d_mean
            j_leaf = np.full(len(y), np.inf)
            j_leaf[inside] = np.minimum(j_flat, j_nf)
            expand = ~inside.copy()
            if b > params.min_block:
                expand[inside] = d_leaf > lam * EXPAND_BITS
            lv = {"y": y, "x": x, "inside": inside, "parent": parent, "j_leaf": j_leaf, "expand": expand,
                  "b": b, "k": np.zeros(len(y), np.int64), "iso": np.zeros(len(y), np.int64),
                  "p": np.zeros(len(y), np.int64), "qm": np.zeros(len(y), np.int64)}
            lv["k"][inside], lv["iso"][inside], lv["p"][inside], lv["qm"][inside] = k, r["iso"], r["p"], qm
            levels.append(lv)
            ex = np.nonzero(expand)[0]
            h = b // 2
            cy = (y[ex, None] + np.array([0, 0, h, h])).ravel()
            cx = (x[ex, None] + np.array([0, h, 0, h])).ravel()
            cp = np.repeat(ex, 4)
            keep = (cy < self.hp) & (cx < self.wp)
            y, x, parent = cy[keep], cx[keep], cp[keep]
        # bottom-up: cost of the best subtree, split where the children win
        for i in range(len(levels) - 1, -1, -1):
            lv = levels[i]
            j = lv["j_leaf"].copy()
            split = np.zeros(len(j), bool)
            if i + 1 < len(levels):
                child = levels[i + 1]
                jc = np.zeros(len(j))
                np.add.at(jc, child["parent"], child["j_best"])
                flag = lam * FLAG_BITS if lv["b"] > params.min_block else 0.0
                split = lv["expand"] & (jc < j)
                j = np.where(split, jc, j) + np.where(lv["inside"], flag, 0.0)
            lv["split"], lv["j_best"] = split, j
        # top-down: the chosen tree, its flags and leaves
        out = {key: [] for key in ("y", "x", "b", "k", "iso", "p", "qm")}
        flags = []
        active = np.ones(len(levels[0]["y"]), bool)
        for i, lv in enumerate(levels):
            if lv["b"] > params.min_block:
                flags.append(lv["split"][active & lv["inside"]])
            leaf = active & lv["inside"] & ~lv["split"]
            for key in ("y", "x", "k", "iso", "p", "qm"):
                out[key].append(lv[key][leaf])
            out["b"].append(np.full(int(leaf.sum()), lv["b"]))
            if i + 1 < len(levels):
                active = (active & lv["split"])[levels[i + 1]["parent"]]
        cat = {key: np.concatenate(v).astype(np.int64) for key, v in out.items()}
        order = z_order(cat["y"], cat["x"], params, self.wp)
        cat = {key: v[order] for key, v in cat.items()}
        return Leaves(**cat, flags=flags)


def _planes(image: np.ndarray, chroma_sub: int) -> list[np.ndarray]:
    if image.ndim == 2:
        return [image]
    ycc = rgb_to_ycbcr(image)
    out = [ycc[..., 0]]
    for c in (1, 2):
        out.append(subsample(ycc[..., c], chroma_sub))
    return out


def _prepare(image, min_block: int, max_block: int) -> np.ndarray:
    img = as_image(image, "image")
    if img.ndim == 3:
        if img.shape[2] == 1:
            img = img[..., 0]
        elif img.shape[2] != 3:
            raise ValueError(f"image: expected gray (H, W) or RGB (H, W, 3), got shape {img.shape}")
    if img.size and (img.min() < 0 or img.max() > 1):
        raise ValueError(f"image: expected values in [0, 1], got [{img.min():.4g}, {img.max():.4g}]")
    return img


class Encoder:
    """Holds the searched planes of one image so several rates cost one search (rate control)."""

    def __init__(self, image, *, min_block: int = 2, max_block: int = 32, step_div: int = 4,
                 pool_log2: int = 12, device=None, progress: bool = False) -> None:
        check_int(min_block, "min_block", low=2, high=64)
        check_int(max_block, "max_block", low=2, high=64)
        for name, v in (("min_block", min_block), ("max_block", max_block)):
            if v & (v - 1):
                raise ValueError(f"{name}: expected a power of two, got {v}")
        if max_block < min_block:
            raise ValueError(f"max_block: expected >= min_block ({min_block}), got {max_block}")
        self.image = _prepare(image, min_block, max_block)
        h, w = self.image.shape[:2]
        if max(h, w) > MAX_SIDE or h * w > MAX_PIXELS:
            raise ValueError(f"image: expected sides up to {MAX_SIDE} and at most {MAX_PIXELS} pixels, "
                             f"got {h}x{w}")
        self.channels = 1 if self.image.ndim == 2 else 3
        self.base = Params(height=self.image.shape[0], width=self.image.shape[1], channels=self.channels,
                           min_block=min_block, max_block=max_block, step_div=step_div, pool_log2=pool_log2)
        self._bar = None
        tick = None
        if progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=None, unit="range", unit_scale=True, desc="fractal search", leave=False)
            tick = self._bar.update
        self.planes = [_PlaneEncoder(p, self.base, i > 0, device, tick)
                       for i, p in enumerate(_planes(self.image, self.base.chroma_sub))]

    def encode(self, quality: float, t255: float | None = None) -> bytes:
        """Code at ``quality``; ``t255`` overrides its multiplier (the quantisers stay those of quality)."""
        from dataclasses import replace

        tq, step4 = quality_params(quality)
        t255 = tq if t255 is None else t255
        step_c4 = min(255, max(1, round(step4 * CHROMA_MEAN_STEP)))
        params = replace(self.base, mean_step_y4=step4, mean_step_c4=step_c4,
                         quality=round(min(max(quality, 0), 100)))
        w = Writer()
        with _torch_threads(self.planes[0].search.device):  # pools and search: one thread setting
            for i, pe in enumerate(self.planes):
                leaves = pe.leaves(params, t255 * (CHROMA_THRESHOLD if i else 1.0))
                write_plane(w, leaves, params, pe.hp, pe.wp, i > 0)
        return pack(params, w.finish())

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def encode(image, *, quality: float = 50, max_bytes: int | None = None, min_block: int = 2,
           max_block: int = 32, device=None, progress: bool = False) -> bytes:
    """Compress an image with a quadtree fractal (PIFS) code; returns the ``.aipf`` bytes.

    Parameters
    ----------
    image : array_like
        (H, W) gray or (H, W, 3) RGB, float in [0, 1] (integers by aip's conversion rule); any size.
    quality : float
        0 (smallest file) .. 100 (best); sets the quadtree split threshold and the mean quantiser.
    max_bytes : int, optional
        Rate control: search the quality so the file lands in (0.98 N, N] bytes (or as close under N
        as the coarsest/finest code allows). Overrides ``quality``.
    min_block, max_block : int
        Range block sizes (powers of two, 2..64).
    device : str or torch.device, optional
        Where the search runs: None or ``"cpu"`` in numpy (torch is not imported), ``"auto"`` on CUDA
        when present, ``"cuda"`` / ``"cuda:N"`` / a ``torch.device`` in torch.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    bytes
        The file (magic, header, range-coded maps, CRC-32); see :mod:`aip.fractal.bitstream`.

    References
    ----------
    A. E. Jacquin, "Image coding based on a fractal theory of iterated contractive image
    transformations", IEEE Trans. Image Processing 1(1), 1992. Y. Fisher (ed.), *Fractal Image
    Compression*, Springer 1995. D. Saupe, Proc. DCC 1995.

    Example
    -------
    >>> import aip
    >>> img = aip.io.load_sample("camera", size=64)
    >>> data = aip.fractal.encode(img, quality=60)
    >>> aip.fractal.decode(data).shape
    (64, 64)
    """
    check_positive(quality, "quality", allow_zero=True)
    if quality > 100:
        raise ValueError(f"quality: expected a number in [0, 100], got {quality!r}")
    if max_bytes is not None:
        check_int(max_bytes, "max_bytes", low=1)
    enc = Encoder(image, min_block=min_block, max_block=max_block, device=device, progress=progress)
    try:
        if max_bytes is None:
            return enc.encode(quality)
        return _rate_control(enc, max_bytes)
    finally:
        enc.close()


def _rate_control(enc: Encoder, max_bytes: int) -> bytes:
    """Largest file not above ``max_bytes``: bisection on quality, then on the split threshold alone.

    The second stage keeps the quantisers fixed, so the size moves one block split at a time.
    """
    lo_q, hi_q = 0.0, 100.0
    best = enc.encode(lo_q)
    if len(best) > max_bytes:
        raise ValueError(f"max_bytes: expected at least {len(best)} bytes for this image "
                         f"(its smallest code), got {max_bytes}")
    top = enc.encode(hi_q)
    if len(top) <= max_bytes:
        return top
    for _ in range(12):
        mid = 0.5 * (lo_q + hi_q)
        data = enc.encode(mid)
        if len(data) <= max_bytes:
            lo_q = mid
            best = max(best, data, key=len)
        else:
            hi_q = mid
        if len(best) > 0.98 * max_bytes:
            return best
    # threshold only, with the quantisers of either bracketing quality (their step may jump between)
    for qq in (lo_q, hi_q):
        t_hi, t_lo = quality_params(0.0)[0], 0.25  # larger threshold = smaller file
        for _ in range(24):
            if len(best) > 0.98 * max_bytes or t_hi / t_lo < 1.0 + 1e-4:
                break
            mid = math.sqrt(t_hi * t_lo)
            data = enc.encode(qq, t255=mid)
            if len(data) <= max_bytes:
                t_hi = mid
                best = max(best, data, key=len)
            else:
                t_lo = mid
    return best
