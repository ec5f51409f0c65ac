"""``aip translate``: run an image-to-image translation model (pix2pix, CycleGAN) on an image.

    aip translate RUN_DIR edges.png -o photo.png
    aip translate RUN_DIR photo.png -o back.png --derive      # make the source from a target image first
"""

from __future__ import annotations

import argparse

from aip.cli.common import add_force_flag, add_json_flag, add_output_flag, report


def register(sub) -> None:
    p = sub.add_parser("translate", help="translate an image with a trained pix2pix run (edges -> image, "
                                         "gray -> colour, degraded -> clean)",
                       description="Translate IN from the run's source domain to its target domain.")
    p.add_argument("run", metavar="RUN", help="run directory written by aip train pix2pix")
    p.add_argument("input", metavar="IN", help="source-domain image (or, with --derive, a target-domain image)")
    add_output_flag(p, "translated image (.png, .tif, .npy, ...)")
    p.add_argument("--derive", action="store_true",
                   help="make the source from IN with the run's task first (edges, gray), and write it beside "
                        "OUT as OUT_source.png")
    p.add_argument("--direction", choices=["a2b", "b2a"], default="a2b",
                   help="CycleGAN runs: translate from domain A to B (default) or back")
    p.add_argument("--mask", metavar="MASK", default=None,
                   help="Palette inpainting runs: the missing pixels (white = missing; an image, .npy or a spec as "
                        "for aip degrade, e.g. random:0.5)")
    p.add_argument("--seed", type=int, default=0, help="diffusion runs (sr3, palette): the sample's seed")
    p.add_argument("--tile", type=int, default=512, help="process in tiles of this size (default 512)")
    p.add_argument("--device", default=None, help="torch device (cpu, cuda)")
    p.add_argument("--no-ema", action="store_true", help="use the raw weights instead of the EMA ones")
    add_force_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    import numpy as np
    import torch

    from aip._shared.files import check_writable
    from aip.data.tasks import luma, make_task
    from aip.io import load_image, write_image
    from aip.models.restorers import apply_tiled
    from aip.train.run import load_run

    check_writable(args.output, args.force)
    model, meta = load_run(args.run, ema=not args.no_ema, device=args.device)
    if not any(hasattr(model, k) for k in ("generator", "translate", "pipeline")) or not hasattr(model, "restore"):
        raise ValueError(f"RUN: expected a translation run (pix2pix, cyclegan, sr3, palette), got a "
                         f"{meta['model'].get('model')} run")
    cfg = model.config
    task = getattr(cfg, "task", None)
    cyclic = hasattr(model, "translate")
    if hasattr(model, "pipeline"):  # conditional diffusion: the whole image at once, one seeded sample
        return _run_diffusion(args, model, meta)
    if cyclic:
        want = cfg.in_channels if args.direction == "a2b" else cfg.channels
        fn = lambda t: model.translate(t, args.direction)
    else:
        want = cfg.in_channels
        fn = model.restore
    img = load_image(args.input)
    x = torch.from_numpy(np.ascontiguousarray(img if img.ndim == 3 else img[..., None], dtype=np.float32))
    x = x.permute(2, 0, 1)[None]
    source_path = None
    if args.derive:
        if task is None:
            raise ValueError("--derive: only for pix2pix runs, whose task makes the source from a target image")
        if task == "degrade":
            raise ValueError("--derive: the run's task is 'degrade', whose source is a degraded photo: give that")
        if task == "colorize" and x.shape[1] != 3:
            raise ValueError(f"--derive: colorization derives gray from a colour image, got {x.shape[1]} channel(s)")
        x = make_task(task).degrade(x)["y"]
        source_path = Path(args.output).with_name(Path(args.output).stem + "_source.png")
        check_writable(source_path, args.force)
        write_image(source_path, x[0, 0].numpy(), force=args.force)
    if x.shape[1] != want:
        if want == 1:
            x = luma(x)
        else:
            raise ValueError(f"IN: the run translates {want}-channel images, got {x.shape[1]}")
    dev = next(model.parameters()).device
    t0 = time.perf_counter()
    with torch.no_grad():
        out = apply_tiled(lambda t: fn(t.to(dev)).cpu(), x, tile=args.tile, overlap=min(64, args.tile // 4),
                          multiple=4 if cyclic else 2 ** cfg.depth)
    secs = time.perf_counter() - t0
    arr = out[0].clamp(0, 1).permute(1, 2, 0).numpy()
    write_image(args.output, arr[..., 0] if arr.shape[-1] == 1 else arr, force=args.force)
    result = {"run": str(args.run), "task": task or args.direction, "step": meta["step"], "input": str(args.input),
              "output": str(args.output), "shape": list(arr.shape), "seconds": round(secs, 3)}
    if source_path is not None:
        result["source"] = str(source_path)
    report(args, result)
    return 0


def _run_diffusion(args: argparse.Namespace, model, meta) -> int:
    """SR3 / Palette: sample one restoration of IN (the model's image size: diffusion U-Nets are not tiled)."""
    import time

    import numpy as np
    import torch

    from aip.data.tasks import luma
    from aip.io import load_image, write_image

    cfg = model.config
    img = load_image(args.input)
    x = torch.from_numpy(np.ascontiguousarray(img if img.ndim == 3 else img[..., None], dtype=np.float32))
    x = x.permute(2, 0, 1)[None]
    want = 1 if cfg.task == "colorize" else cfg.channels
    if x.shape[1] != want:
        if want != 1:
            raise ValueError(f"IN: the run restores {want}-channel images, got {x.shape[1]}")
        x = luma(x)
    mask = None
    if cfg.task == "inpaint":
        if args.mask is None:
            raise ValueError("--mask: a Palette inpainting run needs the mask of missing pixels")
        from aip.degrade import make_mask

        mask = torch.from_numpy(make_mask(args.mask, x.shape[-2:], rng=0))[None, None]
    elif args.mask is not None:
        raise ValueError(f"--mask: only for inpainting runs, this one's task is {cfg.task!r}")
    dev = next(model.parameters()).device
    g = torch.Generator(device=dev).manual_seed(int(args.seed))
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model.restore(x.to(dev), mask=None if mask is None else mask.to(dev), generator=g).cpu()
    secs = time.perf_counter() - t0
    arr = out[0].clamp(0, 1).permute(1, 2, 0).numpy()
    write_image(args.output, arr[..., 0] if arr.shape[-1] == 1 else arr, force=args.force)
    report(args, {"run": str(args.run), "task": cfg.task, "step": meta["step"], "input": str(args.input),
                  "output": str(args.output), "shape": list(arr.shape), "seed": args.seed, "seconds": round(secs, 3)})
    return 0
