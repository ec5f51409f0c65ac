"""Shared set-up of the restoration benchmarks (restore.py, restore_filters.py, restore_variational.py,
restore_lowrank.py).

One thread for everyone, the clean images, the seeded degradations, the peers both scripts run the same
way, timing and quality, and the output files. Import it before numpy: importing it pins the thread pools.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import json
import platform
import time
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
THREADS = "OMP/MKL/torch/OpenCV/bm3d threads = 1"
WIENER_BALANCES = (1e-3, 3e-3, 1e-2, 3e-2, 0.1)
RL_ITERATIONS = (10, 20, 40, 80)


# ------------------------------------------------------------------------------------------------ set-up
def one_thread() -> None:
    """torch and OpenCV on one thread (the BLAS pools are pinned by importing this module)."""
    import torch

    torch.set_num_threads(1)
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass


def run_meta(machine_note: str = "") -> dict:
    """Date, machine and thread settings for a results file."""
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs{machine_note}",
            "threads": THREADS}


def seed_of(*parts) -> int:
    """A seed from the names of a case, so each degradation is the same in every script and run."""
    return zlib.crc32("-".join(map(str, parts)).encode()) & 0x7FFFFFFF


def load_clean(name: str, size: int) -> np.ndarray:
    from aip.io import load_sample

    return load_sample(name, gray=True, size=size).astype(np.float64)


def to_u8(x: np.ndarray) -> np.ndarray:
    """8-bit copy for OpenCV: clipped to [0, 1] and rounded."""
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


# ------------------------------------------------------------------------------------------------ degradations
def deblur_kernels() -> dict[str, np.ndarray]:
    from aip.degrade import box, gaussian, motion

    return {"gaussian1.6": gaussian(1.6), "box9": box(9), "motion9": motion(9, 45, size=9)}


def blurred(clean: np.ndarray, k: np.ndarray, sigma: float, image: str, size: int, kname: str) -> np.ndarray:
    """Circular convolution with ``k`` plus seeded Gaussian noise ``sigma``."""
    from aip.degrade import Blur, add_gaussian_noise

    return add_gaussian_noise(Blur(k, "circular").A(clean), sigma, rng=seed_of("deblur", image, size, kname))


def inpaint_masks() -> dict:
    """Mask makers (shape -> boolean mask, True = missing): 50% and 80% random, and a text mask."""
    from aip.degrade import random_mask, text_mask

    return {"random50": lambda s: random_mask(s, 0.5, rng=seed_of("inpaint50", s)),
            "random80": lambda s: random_mask(s, 0.8, rng=seed_of("inpaint80", s)),
            "text": lambda s: text_mask(s)}


def sr_pair(full: np.ndarray, size: int, scale: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(clean crop of side n divisible by ``scale``, its bicubic x``scale`` downsampling, n)."""
    from aip.degrade import Downsample

    n = (size // scale) * scale
    clean = full[:n, :n]
    return clean, Downsample(scale, "bicubic", mode="symmetric").A(clean), n


# ------------------------------------------------------------------------------------------------ measuring
def timed(fn, *a, **k):
    t0 = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t0


def batch_psnr(x, ref) -> float:
    """Mean per-image PSNR (dB, data range 1) of a (B, C, H, W) torch batch against ``ref``; an exact image
    counts as 100 dB (MSE floored at 1e-10)."""
    import torch

    mse = ((x - ref) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(1 / mse)).mean())


def quality(clean: np.ndarray, out: np.ndarray, shave: int = 0) -> tuple[float, float]:
    """(PSNR, SSIM) of ``out`` clipped to [0, 1], with a border of ``shave`` pixels left out."""
    from aip.metrics import psnr, ssim

    out = np.clip(np.asarray(out, dtype=np.float64), 0.0, 1.0)
    c = np.asarray(clean, dtype=np.float64)
    if shave:
        out, c = out[shave:-shave, shave:-shave], c[shave:-shave, shave:-shave]
    return psnr(c, out, data_range=1.0), ssim(c, out, data_range=1.0)


def best_of(fn, grid, clean, shave: int = 0):
    """Oracle choice over a parameter grid (in the peer's favour): (best output, best parameter)."""
    best = None
    for g in grid:
        out = np.asarray(fn(g), dtype=np.float64)
        p, _ = quality(clean, out, shave)
        if best is None or p > best[0]:
            best = (p, out, g)
    return best[1], best[2]


# ------------------------------------------------------------------------------------------------ peers
def import_bm3d():
    if not hasattr(np, "trapz"):
        np.trapz = np.trapezoid  # bm3d still calls np.trapz (removed in numpy 2)
    import bm3d

    return bm3d


def peer_wiener(y, k, clean):
    """skimage ``wiener`` at the best balance of ``WIENER_BALANCES``: (output, balance)."""
    from skimage import restoration as skr

    return best_of(lambda b: skr.wiener(y, k, b, clip=False), WIENER_BALANCES, clean)


def peer_unsupervised_wiener(y, k):
    from skimage import restoration as skr

    return skr.unsupervised_wiener(y, k, clip=False, rng=0)[0]


def peer_richardson_lucy(y, k, clean):
    """skimage ``richardson_lucy`` at the best of ``RL_ITERATIONS``: (output, iterations).

    skimage convolves with zero boundaries; the data are circular, so it runs on a periodically padded
    copy, cropped afterwards (in its favour: without this it loses 5-10 dB at the borders)."""
    from skimage import restoration as skr

    pad = max(k.shape)

    def rl(n):
        yp = np.pad(np.clip(y, 0, None), pad, mode="wrap")
        return skr.richardson_lucy(yp, k, num_iter=n, clip=False)[pad:-pad, pad:-pad]

    return best_of(rl, RL_ITERATIONS, clean)


def bm3d_profile():
    """The bm3d package's default profile ('np') on one thread: its own default (num_threads = 0) uses
    every core, which the thread variables do not limit."""
    pro = import_bm3d().BM3DProfile()
    pro.num_threads = 1
    return pro


def peer_bm3d(noisy, sigma):
    """bm3d.bm3d on a gray image (it wants (H, W, 1)), one thread."""
    return np.squeeze(import_bm3d().bm3d(noisy[..., None], sigma, profile=bm3d_profile()))


def peer_bm3d_rgb(noisy, sigma):
    return import_bm3d().bm3d_rgb(noisy, sigma, profile=bm3d_profile())


def peer_bm3d_deblurring(y, k, sigma):
    return import_bm3d().bm3d_deblurring(y[..., None], sigma, k, profile=bm3d_profile())


def peer_biharmonic(y, m):
    from skimage.restoration import inpaint_biharmonic

    return inpaint_biharmonic(y, m)


def peer_opencv_inpaint(y, m, method: str):
    """OpenCV inpainting, ``method`` "telea" or "ns", on the 8-bit image (radius 3)."""
    import cv2

    flag = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}[method]
    return cv2.inpaint(to_u8(y), m.astype(np.uint8), 3, flag) / 255.0


def peer_bicubic(lr, n: int):
    """Pillow's bicubic interpolation of ``lr`` to n x n."""
    from PIL import Image

    return np.asarray(Image.fromarray(lr.astype(np.float32), mode="F").resize((n, n), Image.BICUBIC))


# ------------------------------------------------------------------------------------------------ output
def md_table(header: list[str], rows: list[list]) -> list[str]:
    """Markdown table lines: the header, the rule, one line per row."""
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(map(str, r)) + " |" for r in rows])


def write_results(stem: str, data: dict, markdown: str) -> None:
    """``results/<stem>.json`` (indented) and ``results/<stem>.md``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(data, indent=1))
    (RESULTS / f"{stem}.md").write_text(markdown)


def sample_panels(panels: dict[str, object], path: Path, *, nrow: int = 10, dpi: int = 100) -> Path:
    """One titled panel per entry (label -> (N, 1, H, W) images in [0, 1], tiled ``nrow`` to a row by
    :func:`aip.train.trainer.image_grid`), stacked in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from aip.train.trainer import image_grid

    grids = {k: image_grid(x, nrow=min(nrow, len(x)), padding=0)[0].numpy() for k, x in panels.items()}
    heights = [g.shape[0] / g.shape[1] for g in grids.values()]
    fig, axes = plt.subplots(len(grids), 1, figsize=(10, sum(10 * h + 0.3 for h in heights) * 0.6 + 0.3),
                             squeeze=False)
    for ax, (label, g) in zip(axes[:, 0], grids.items(), strict=True):
        ax.imshow(g, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(label, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
