"""The degradation task (``aip degrade``): y = noise(mask(downsample(blur(x)))) from an image file, with
the mask and PSF written beside the output."""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np


def side_paths(output: str | os.PathLike) -> tuple[Path, Path]:
    """Where the mask and PSF of ``output`` go: OUT stem + "_mask.png" and + "_psf.npy"."""
    out = Path(output)
    return out.with_name(out.stem + "_mask.png"), out.with_name(out.stem + "_psf.npy")


def image_seed(seed: int, key: str) -> int:
    """The seed of one image of a batch: ``seed`` combined with its relative path, so every image gets its
    own noise and mask, and the same ones in every run."""
    return zlib.crc32(f"{int(seed)}:{key}".encode()) & 0x7FFFFFFF


def degrade_file(input: str | os.PathLike, output: str | os.PathLike, *, blur: str | None = None,
                 blur_mode: str = "symmetric", downsample: int | None = None, mask: str | None = None,
                 noise: str | None = None, seed: int = 0, gray: bool = False, bit_depth: str | int = "auto",
                 force: bool = False, seed_key: str | None = None) -> dict[str, Any]:
    """Degrade the image file ``input`` into ``output`` (atomically; nothing overwritten without ``force``).

    The specs are those of the CLI (``blur="gaussian:1.6"``, ``noise="gaussian:25"`` on the 0-255 scale,
    ``mask="random:0.5"``); ``seed`` seeds every random part (with ``seed_key``, a batch image's relative
    path, mixed in by :func:`image_seed`). Returns the CLI's JSON report.
    """
    from aip._shared.files import atomic_write, check_writable
    from aip.degrade import degrade, make_noise
    from aip.degrade.kernels import check_kernel_size
    from aip.io import load_image, write_image
    from aip.io.images import output_bit_depth

    if downsample is not None and downsample < 1:
        raise ValueError(f"--downsample: expected an integer >= 1, got {downsample}")
    noise_op = make_noise(noise, scale=255.0) if noise else None
    out = Path(output)
    mask_path, psf_path = side_paths(out)
    check_writable(out, force)
    if mask:
        check_writable(mask_path, force)
    if blur:
        check_writable(psf_path, force)
    x = load_image(input, gray=gray)
    h, w = x.shape[:2]
    if blur:
        check_kernel_size(blur, x.shape, name="--blur")
    if downsample is not None and downsample > min(h, w):
        raise ValueError(f"--downsample: expected an integer in 1..{min(h, w)} (the smaller side of the "
                         f"{w}x{h} image), got {downsample}")
    rng = seed if seed_key is None else image_seed(seed, seed_key)
    res = degrade(x, blur=blur, downsample=downsample, mask=mask, noise=noise_op, mode=blur_mode, rng=rng)
    write_image(out, res.y, bit_depth=output_bit_depth(input, out, bit_depth), force=force)
    result: dict[str, Any] = {"input": str(input), "output": str(out), "input_shape": list(x.shape),
                              "output_shape": list(res.y.shape)}
    if res.psf is not None:
        psf = res.psf.astype(np.float64)

        def _w(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                np.save(fh, psf)

        atomic_write(psf_path, _w, force=force)
        result["psf"] = str(psf_path)
        result["psf_shape"] = list(psf.shape)
    if res.mask is not None:
        write_image(mask_path, res.mask.astype(np.float32), force=force)
        result["mask"] = str(mask_path)
        result["missing_fraction"] = float(res.mask.mean())
    if res.scale > 1:
        result["scale"] = res.scale
    if res.sigma is not None:
        result["sigma_255"] = float(res.sigma * 255.0)
    if noise is not None:
        result["noise"] = noise
    result["seed"] = rng
    return result
