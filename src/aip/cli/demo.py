"""``aip demo``: the main job on built-in data.

Compresses a few built-in images with the fractal codec at two qualities, decodes them, writes
before/after strips and a rate-distortion plot, and prints a table. When shipped generative checkpoints
are present, it also samples digit grids from them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aip.cli.common import add_force_flag, add_json_flag, print_json, print_table

DEMO_IMAGES = (("camera", True), ("astronaut", True), ("coffee", False))
DEMO_QUALITIES = (30, 70)
RD_QUALITIES = (10, 30, 50, 70, 90)


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the main job on built-in data and write results to a folder",
                       description="Fractal-compress built-in images at two qualities, decode them, and write "
                                   "before/after PNGs, a rate-distortion plot and a table to --out.")
    p.add_argument("-o", "--out", default="demo-out", help="output folder (default: demo-out)")
    p.add_argument("--size", type=int, default=256, help="square size of the demo images (default 256)")
    p.add_argument("--no-rd", action="store_true", help="skip the rate-distortion sweep and plot")
    p.add_argument("--no-generative", action="store_true", help="skip sampling from shipped checkpoints")
    add_force_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def _strip(images, labels, path, force):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from aip._shared.files import atomic_write

    fig, axes = plt.subplots(1, len(images), figsize=(3.2 * len(images), 3.5))
    for ax, img, lab in zip(axes, images, labels):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(lab, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"), force=force)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    import time

    from aip import fractal
    from aip._shared.files import atomic_write
    from aip.io import load_sample
    from aip.metrics import bits_per_pixel, compression_ratio, psnr, ssim

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    for name, gray in DEMO_IMAGES:
        img = load_sample(name, gray=gray, size=args.size)
        h, w = img.shape[:2]
        chans = 1 if img.ndim == 2 else img.shape[2]
        qualities = sorted(set(DEMO_QUALITIES) | (set() if args.no_rd else set(RD_QUALITIES)))
        shown, labels = [img], ["original"]
        for q in qualities:
            t0 = time.perf_counter()
            data = fractal.encode(img, quality=q)
            t1 = time.perf_counter()
            rec = fractal.decode(data)
            t2 = time.perf_counter()
            row = {
                "image": name + ("" if gray else " (rgb)"), "quality": q, "bytes": len(data),
                "bpp": bits_per_pixel(len(data), h, w),
                "ratio": compression_ratio(len(data), h, w, chans),
                "psnr": psnr(img, rec, data_range=1.0),
                "ssim": ssim(img, rec, data_range=1.0, channel_axis=-1 if chans > 1 else None),
                "encode_s": t1 - t0, "decode_s": t2 - t1,
            }
            curves.setdefault(row["image"], []).append((row["bpp"], row["psnr"]))
            if q in DEMO_QUALITIES:
                rows.append(row)
                shown.append(rec)
                labels.append(f"q={q}: {row['bpp']:.2f} bpp, {row['psnr']:.1f} dB")
                atomic_write(out / f"{name}_q{q}.aipf", data, force=args.force)
        _strip(shown, labels, out / f"{name}_before_after.png", force=True)
    if not args.no_rd:
        _rd_plot(curves, out / "rate_distortion.png")
    gen = [] if args.no_generative else _generative_demo(out)
    if args.json:
        print_json({"fractal": rows, "generative": gen, "out": str(out)})
    else:
        print_table(rows)
        for g in gen:
            print(f"generative: {g}")
        print(f"wrote before/after strips{'' if args.no_rd else ', rate_distortion.png'} to {out}/")
    return 0


def _rd_plot(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from aip._shared.files import atomic_write

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, pts in curves.items():
        pts = sorted(pts)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=name)
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("aip fractal codec: rate-distortion")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"), force=True)
    plt.close(fig)


def _generative_demo(out: Path) -> list[str]:
    """Sample grids from the shipped checkpoints, when the generative package provides them."""
    try:
        from aip.train.shipped import sample_shipped_grids  # provided by the generative engine
    except ImportError:
        return []
    return sample_shipped_grids(out)
