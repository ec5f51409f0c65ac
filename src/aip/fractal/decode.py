"""Fractal decoder: iterate the coded maps to their attractor, at any integral scale.

The maps of a plane are turned once into gather indices: every output pixel reads one pixel of the
2x2-decimated current image (domain position and isometry folded in). One iteration is then a
decimation, one gather, the domain means (from a summed-area table) and an affine map per pixel::

    x_{t+1} = clip(s * (D x_t - mean(D x_t)) + m, 0, 1)

Decoding at ``scale`` S draws every block S times larger (fractal zoom): the maps are resolution
independent, so the attractor is computed directly on the finer grid.
"""

from __future__ import annotations

import math

import numpy as np

from aip._shared.validate import check_int, check_positive
from aip.fractal.bitstream import MAX_PIXELS, Params, unpack
from aip.fractal.colour import upsample, ycbcr_to_rgb
from aip.fractal.entropy import Reader
from aip.fractal.partition import isometry_maps
from aip.fractal.planes import Leaves, pools, read_plane

MAX_DECODE_PIXELS = 1 << 28
DEBLOCK_STRENGTH = 1.0
DEBLOCK_MIN_SIZE = 4
ZOOM_SIGMA = 0.3  # Gaussian postfilter of zoomed decodes: sigma = ZOOM_SIGMA * scale (output pixels)


def _integral(v: float, name: str) -> int:
    r = round(v)
    if abs(v - r) > 1e-9:
        raise ValueError(name)
    return int(r)


class PlaneOperator:
    """Gather form of one plane's fractal operator at scale ``scale``."""

    def __init__(self, leaves: Leaves, params: Params, hp: int, wp: int, chroma: bool, scale: float) -> None:
        S = scale
        try:
            H2, W2 = _integral(hp * S, ""), _integral(wp * S, "")
            pl = pools(params, hp, wp)
            for b, (step, _, _) in pl.items():
                _integral(b * S, "")
                _integral(step * S, "")
            if H2 % 2 or W2 % 2:
                raise ValueError("")
        except ValueError:
            raise ValueError(f"scale: expected a value that maps every block to whole pixels (an integer, "
                             f"or a multiple of 1/{params.min_block // 2 or 1} for this file), got {scale!r}") from None
        self.H2, self.W2 = H2, W2
        self.scale = S
        self.Hh, self.Wh = H2 // 2, W2 // 2
        n = len(leaves)
        K = params.s_levels
        self.s_leaf = (leaves.k * (params.s_max / K)).astype(np.float32)
        step = params.mean_step(chroma)
        self.m_leaf = (leaves.qm * step).astype(np.float32)
        src = np.zeros((H2, W2), np.int64)
        leafpix = np.zeros((H2, W2), np.int64)
        self.dy = np.zeros(n, np.int64)
        self.dx = np.zeros(n, np.int64)
        self.bs = np.zeros(n, np.int64)
        for b in np.unique(leaves.b):
            sel = np.nonzero(leaves.b == b)[0]
            bs = _integral(int(b) * S, "")
            _, gy, gx = pl[int(b)]
            p = leaves.p[sel]
            if len(gy):
                dy = np.rint(gy[p] * S).astype(np.int64)
                dx = np.rint(gx[p] * S).astype(np.int64)
            else:
                dy = dx = np.zeros(len(sel), np.int64)
            flat = leaves.k[sel] == 0  # no domain: any valid index will do (s = 0)
            dy[flat] = 0
            dx[flat] = 0
            self.dy[sel], self.dx[sel] = dy, dx
            self.bs[sel] = np.where(flat, 1, bs)
            m = isometry_maps(bs)[leaves.iso[sel]]
            blk = (dy[:, None, None] + m // bs) * self.Wh + dx[:, None, None] + m % bs
            blk[flat] = 0
            ar = np.arange(bs)
            ry = np.rint(leaves.y[sel] * S).astype(np.int64)[:, None, None] + ar[None, :, None]
            rx = np.rint(leaves.x[sel] * S).astype(np.int64)[:, None, None] + ar[None, None, :]
            src[ry, rx] = blk
            leafpix[ry, rx] = sel[:, None, None]
        idx_dtype = np.int32 if self.Hh * self.Wh < 2**31 else np.int64
        self.src = src.ravel().astype(idx_dtype)
        self.leafpix = leafpix.astype(idx_dtype)
        self.leaf_size = np.rint(leaves.b * S).astype(np.int64)  # block side of each leaf at this scale
        self.s_pix = self.s_leaf[self.leafpix].ravel()
        self.m_pix = self.m_leaf[self.leafpix].ravel()

    def apply(self, img: np.ndarray) -> np.ndarray:
        """One application of the operator to an (H2, W2) image."""
        half = img[0::2, 0::2] + img[1::2, 0::2]
        half += img[0::2, 1::2]
        half += img[1::2, 1::2]
        half *= 0.25
        g = half.ravel().take(self.src)
        sat = np.zeros((self.Hh + 1, self.Wh + 1), np.float64)
        np.cumsum(np.cumsum(half, axis=0, dtype=np.float64), axis=1, out=sat[1:, 1:])
        y0, x0, y1, x1 = self.dy, self.dx, self.dy + self.bs, self.dx + self.bs
        dmean = ((sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0]) / (self.bs * self.bs)).astype(np.float32)
        off = self.m_leaf - self.s_leaf * dmean
        out = self.s_pix * g + off.take(self.leafpix.ravel())
        np.clip(out, 0.0, 1.0, out=out)
        return out.reshape(self.H2, self.W2)

    def start(self) -> np.ndarray:
        return self.m_pix.reshape(self.H2, self.W2).copy()

    def iterate(self, max_iterations: int, tol: float, start: np.ndarray | None = None,
                history: list | None = None) -> np.ndarray:
        img = self.start() if start is None else start
        for _ in range(max_iterations):
            new = self.apply(img)
            diff = float(np.abs(new - img).max())
            if history is not None:
                history.append(diff)
            img = new
            if diff <= tol:
                break
        return img

    def deblock(self, img: np.ndarray, strength: float = DEBLOCK_STRENGTH) -> np.ndarray:
        """Smooth across block borders where both blocks are at least DEBLOCK_MIN_SIZE (scaled) pixels.

        The step ``d`` across a border is spread as a ramp over two pixels each side, weighted by
        ``alpha = strength * min(1, size / 16)`` of the smaller block: larger blocks, smoother image.
        """
        lp = self.leafpix
        size = self.leaf_size.astype(np.float32)
        out = img.copy()
        lo = DEBLOCK_MIN_SIZE * self.scale
        for axis in (0, 1):
            a = lp if axis == 1 else lp.T
            x = out if axis == 1 else out.T
            border = a[:, 1:] != a[:, :-1]
            r, c = np.nonzero(border)  # border between columns c and c + 1
            bmin = np.minimum(size[a[r, c]], size[a[r, c + 1]])
            keep = bmin >= lo
            r, c, bmin = r[keep], c[keep], bmin[keep]
            if not len(r):
                continue
            alpha = strength * np.minimum(1.0, bmin / (16.0 * self.scale))
            d = x[r, c + 1] - x[r, c]
            x[r, c] += alpha * d / 3
            x[r, c + 1] -= alpha * d / 3
            wide = (bmin >= 4 * self.scale) & (c >= 1) & (c + 2 < a.shape[1])
            x[r[wide], c[wide] - 1] += (alpha * d / 6)[wide]
            x[r[wide], c[wide] + 2] -= (alpha * d / 6)[wide]
        return np.clip(out, 0.0, 1.0, out=out)


def _plane_shapes(params: Params) -> list[tuple[int, int, bool]]:
    h, w = params.height, params.width
    if params.channels == 1:
        return [(h, w, False)]
    f = params.chroma_sub
    hc, wc = -(-h // f), -(-w // f)
    return [(h, w, False), (hc, wc, True), (hc, wc, True)]


def decode(data: bytes, *, scale: float = 1.0, max_iterations: int = 16, tol: float = 5e-4,
           deblock: bool = True, device=None, return_info: bool = False):
    """Decode an ``.aipf`` stream to a float32 image in [0, 1].

    Parameters
    ----------
    data : bytes
        The file contents.
    scale : float
        Output size factor (fractal zoom): 2 decodes at twice the width and height. Must map every block
        to whole pixels (any integer works).
    max_iterations : int
        Cap on the fixed-point iterations.
    tol : float
        Stop when the largest pixel change of an iteration is at most ``tol``.
    deblock : bool
        Apply the block-border smoothing postfilter (and, when ``scale > 1``, a Gaussian blur of
        ``sigma = 0.3 * scale`` output pixels that hides the enlarged block edges).
    device : optional
        Accepted for symmetry with :func:`encode`; decoding runs on the CPU with numpy.
    return_info : bool
        Also return a dict with the iteration count and the per-iteration changes.

    Returns
    -------
    numpy.ndarray
        (H*scale, W*scale) or (H*scale, W*scale, 3), float32 in [0, 1].

    Raises
    ------
    FractalFormatError
        The data is not a valid ``.aipf`` file (one line).

    References
    ----------
    Y. Fisher (ed.), *Fractal Image Compression*, Springer 1995 (decoding, resolution independence).
    G. E. Oien, S. Lepsoy, "Fractal-based image coding with fast decoder convergence", Signal
    Processing 40, 1994 (range-mean coding).

    Example
    -------
    >>> import numpy as np, aip.fractal as fr
    >>> fr.decode(fr.encode(np.full((8, 8), 0.5)), scale=2).shape
    (16, 16)
    """
    scale = check_positive(scale, "scale")
    max_iterations = check_int(max_iterations, "max_iterations", low=1, high=10000)
    tol = check_positive(tol, "tol", allow_zero=True)
    params, payload = unpack(data)
    out_h, out_w = params.height * scale, params.width * scale
    if out_h * out_w * (params.channels) > MAX_DECODE_PIXELS or params.height * params.width > MAX_PIXELS:
        raise ValueError(f"scale: the output would have {out_h * out_w:.0f} pixels per channel, "
                         f"more than the limit {MAX_DECODE_PIXELS // 3}")
    oh, ow = math.ceil(out_h - 1e-9), math.ceil(out_w - 1e-9)
    reader = Reader(payload)
    decoded = [read_plane(reader, params, h, w, chroma) for h, w, chroma in _plane_shapes(params)]
    planes = []
    info = {"iterations": [], "changes": []}
    for (leaves, hp, wp), (h, w, chroma) in zip(decoded, _plane_shapes(params)):
        op = PlaneOperator(leaves, params, hp, wp, chroma, scale)
        hist: list[float] = []
        img = op.iterate(max_iterations, tol, history=hist)
        info["iterations"].append(len(hist))
        info["changes"].append(hist)
        if deblock:
            img = op.deblock(img)
            if scale > 1:  # zoomed blocks show their edges: a light blur (measured +1.1 dB at scale 2)
                from scipy.ndimage import gaussian_filter

                img = gaussian_filter(img, ZOOM_SIGMA * scale, mode="nearest")
        planes.append(img)
    if params.channels == 1:
        out = planes[0][:oh, :ow]
    else:
        f = params.chroma_sub
        y = planes[0][:oh, :ow]
        cb = upsample(planes[1], f, (oh, ow))
        cr = upsample(planes[2], f, (oh, ow))
        out = ycbcr_to_rgb(np.stack([y, cb, cr], axis=-1))
    out = np.ascontiguousarray(out, dtype=np.float32)
    return (out, info) if return_info else out
