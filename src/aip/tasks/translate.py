"""The translation task (``aip translate``): a pix2pix, CycleGAN, SR3 or Palette run applied to an image file.

:func:`translate_file` loads the run once per process (cached, so a batch worker loads it once), checks the
image against the run, translates (tiled for the GAN translators; the whole image, one seeded sample, for the
conditional diffusion models) and writes the result atomically.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

import numpy as np


def _stamp(run: str) -> tuple[str, float]:
    """What identifies a run's current weights: its latest checkpoint's name and time (a retrained or resumed
    run is loaded again)."""
    p = Path(run) / "checkpoints" / "latest"
    try:
        return p.read_text().strip(), p.stat().st_mtime
    except OSError:
        return "", 0.0


def load_translator(run: str, ema: bool = True, device: str | None = None) -> tuple[Any, dict[str, Any]]:
    """``(model, meta)`` of a translation run, checked to be one (cached per process and checkpoint)."""
    return _load_translator(str(run), ema, device, _stamp(str(run)))


@functools.lru_cache(maxsize=2)
def _load_translator(run: str, ema: bool, device: str | None, stamp: tuple[str, float]) -> tuple[Any, dict]:
    from aip.train.run import load_run

    model, meta = load_run(run, ema=ema, device=device)
    if not any(hasattr(model, k) for k in ("generator", "translate", "pipeline")) or not hasattr(model, "restore"):
        raise ValueError(f"RUN: expected a translation run (pix2pix, cyclegan, sr3, palette), got a "
                         f"{meta['model'].get('model')} run")
    return model, meta


def _as_batch(img: np.ndarray):
    import torch

    x = torch.from_numpy(np.ascontiguousarray(img if img.ndim == 3 else img[..., None], dtype=np.float32))
    return x.permute(2, 0, 1)[None]


def translate_file(run: str | os.PathLike, input: str | os.PathLike, output: str | os.PathLike, *,
                   direction: str = "a2b", derive: bool = False, mask: str | None = None, seed: int = 0,
                   tile: int = 512, device: str | None = None, ema: bool = True,
                   force: bool = False) -> dict[str, Any]:
    """Translate the image file ``input`` with the run ``run`` into ``output``; returns the CLI's report."""
    import torch

    from aip._shared.files import check_writable
    from aip.data.tasks import luma, make_task
    from aip.io import load_image, write_image
    from aip.models.restorers import apply_tiled

    check_writable(output, force)
    model, meta = load_translator(str(run), ema, device)
    cfg = model.config
    x = _as_batch(load_image(input))
    dev = next(model.parameters()).device
    if hasattr(model, "pipeline"):          # conditional diffusion: the whole image, one seeded sample
        want = 1 if cfg.task == "colorize" else cfg.channels
        if x.shape[1] != want:
            if want != 1:
                raise ValueError(f"IN: the run restores {want}-channel images, got {x.shape[1]}")
            x = luma(x)
        m = None
        if cfg.task == "inpaint":
            if mask is None:
                raise ValueError("--mask: a Palette inpainting run needs the mask of missing pixels")
            from aip.degrade import make_mask

            m = torch.from_numpy(make_mask(mask, x.shape[-2:], rng=0))[None, None]
        elif mask is not None:
            raise ValueError(f"--mask: only for inpainting runs, this one's task is {cfg.task!r}")
        g = torch.Generator(device=dev).manual_seed(int(seed))
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.restore(x.to(dev), mask=None if m is None else m.to(dev), generator=g).cpu()
        secs = time.perf_counter() - t0
        arr = out[0].clamp(0, 1).permute(1, 2, 0).numpy()
        write_image(output, arr[..., 0] if arr.shape[-1] == 1 else arr, force=force)
        return {"run": str(run), "task": cfg.task, "step": meta["step"], "input": str(input), "output": str(output),
                "shape": list(arr.shape), "seed": seed, "seconds": round(secs, 3)}
    task = getattr(cfg, "task", None)
    cyclic = hasattr(model, "translate")
    if cyclic:
        want = cfg.in_channels if direction == "a2b" else cfg.channels

        def fn(t):
            return model.translate(t, direction)
    else:
        want = cfg.in_channels
        fn = model.restore
    source_path = None
    if derive:
        if task is None:
            raise ValueError("--derive: only for pix2pix runs, whose task makes the source from a target image")
        if task == "degrade":
            raise ValueError("--derive: the run's task is 'degrade', whose source is a degraded photo: give that")
        if task == "colorize" and x.shape[1] != 3:
            raise ValueError(f"--derive: colorization derives gray from a colour image, got {x.shape[1]} channel(s)")
        x = make_task(task).degrade(x)["y"]
        source_path = Path(output).with_name(Path(output).stem + "_source.png")
        check_writable(source_path, force)
        write_image(source_path, x[0, 0].numpy(), force=force)
    if x.shape[1] != want:
        if want == 1:
            x = luma(x)
        else:
            raise ValueError(f"IN: the run translates {want}-channel images, got {x.shape[1]}")
    t0 = time.perf_counter()
    with torch.no_grad():
        out = apply_tiled(lambda t: fn(t.to(dev)).cpu(), x, tile=tile, overlap=min(64, tile // 4),
                          multiple=4 if cyclic else 2 ** cfg.depth)
    secs = time.perf_counter() - t0
    arr = out[0].clamp(0, 1).permute(1, 2, 0).numpy()
    write_image(output, arr[..., 0] if arr.shape[-1] == 1 else arr, force=force)
    result = {"run": str(run), "task": task or direction, "step": meta["step"], "input": str(input),
              "output": str(output), "shape": list(arr.shape), "seconds": round(secs, 3)}
    if source_path is not None:
        result["source"] = str(source_path)
    return result
