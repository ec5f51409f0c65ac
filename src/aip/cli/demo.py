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
TOPICS = {"gaussian": "maximum-likelihood Gaussian in closed form",
          "gmm": "Gaussian mixture by EM on 2-D points and on digit pixels",
          "plant": "a Bernoulli-driven turtle grows plants (noise is the latent variable)"}


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the main job on built-in data and write results to a folder",
                       description="Fractal-compress built-in images at two qualities, decode them, and write "
                                   "before/after PNGs, a rate-distortion plot and a table to --out.")
    p.add_argument("-o", "--out", default="demo-out", help="output folder (default: demo-out)")
    p.add_argument("--size", type=int, default=256, help="square size of the demo images (default 256)")
    p.add_argument("--no-rd", action="store_true", help="skip the rate-distortion sweep and plot")
    p.add_argument("--no-generative", action="store_true", help="skip sampling from shipped checkpoints")
    p.add_argument("--topic", choices=("main", *TOPICS), default="main",
                   help="main (default): the fractal codec and shipped samples; or a first-principles example: "
                        + "; ".join(f"{k}: {v}" for k, v in TOPICS.items()))
    add_force_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def _strip(images, labels, path, force):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(images), figsize=(3.2 * len(images), 3.5))
    for ax, img, lab in zip(axes, images, labels):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(lab, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    _save(fig, path, force=force)


def run(args: argparse.Namespace) -> int:
    import time

    from aip import fractal
    from aip._shared.files import atomic_write
    from aip.io import load_sample
    from aip.metrics import bits_per_pixel, compression_ratio, psnr, ssim

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.topic != "main":
        result = _topic_demo(args.topic, out)
        if args.json:
            print_json({"topic": args.topic, **result, "out": str(out)})
        else:
            for k, v in result.items():
                print(f"{k}: {v}")
            print(f"wrote {', '.join(result['figures'])} to {out}/")
        return 0
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


def _save(fig, path: Path, *, force: bool = True) -> str:
    """Write ``fig`` as a PNG atomically and close it; returns the file name."""
    import matplotlib.pyplot as plt

    from aip._shared.files import atomic_write

    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"), force=force)
    plt.close(fig)
    return path.name


def _ellipse(ax, mu, cov, **kw) -> None:
    import numpy as np

    vals, vecs = np.linalg.eigh(cov)
    t = np.linspace(0, 2 * np.pi, 100)
    circle = np.stack([np.cos(t), np.sin(t)])
    for r in (1, 2):
        pts = mu[:, None] + r * vecs @ (np.sqrt(np.maximum(vals, 0))[:, None] * circle)
        ax.plot(pts[0], pts[1], **kw)


def _topic_demo(topic: str, out: Path) -> dict:
    """A first-principles example (:mod:`aip.models.primer`): figures written to ``out``, numbers returned."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from aip.models import primer

    rng = np.random.default_rng(0)
    if topic == "gaussian":
        true_mu, true_cov = np.array([1.0, -0.5]), np.array([[1.0, 0.6], [0.6, 0.5]])
        x = rng.multivariate_normal(true_mu, true_cov, size=500)
        mu, cov = primer.gaussian_mle(x)
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.scatter(x[:, 0], x[:, 1], s=4, alpha=0.4)
        _ellipse(ax, true_mu, true_cov, color="k", ls=":", lw=1)
        _ellipse(ax, mu, cov, color="C3", lw=1.5)
        ax.set_title("ML Gaussian (red) against the truth (dotted)", fontsize=9)
        return {"mle_mean": mu.round(4).tolist(), "mle_cov": cov.round(4).tolist(),
                "log_likelihood": round(primer.gaussian_log_likelihood(x, mu, cov), 3),
                "figures": [_save(fig, out / "gaussian_mle.png")]}
    if topic == "gmm":
        centres = np.array([[-2.0, 0.0], [2.0, 1.0], [0.0, 3.0]])
        x = np.concatenate([rng.normal(c, 0.6, size=(200, 2)) for c in centres])
        gm, trace = primer.fit_gmm(x, 3, init="random_from_data", seed=0)
        from aip.data.dataset import load_dataset

        digits = load_dataset("digits8", "train").images[:, 0].numpy()
        img_model = primer.gmm_image_model(digits, k=10, components=16)
        samples = img_model["sample"](32, 0)
        fig, axes = plt.subplots(1, 3, figsize=(12, 4))
        axes[0].scatter(x[:, 0], x[:, 1], s=4, alpha=0.4)
        for m, c in zip(gm.means_, gm.covariances_):
            _ellipse(axes[0], m, c, color="C3", lw=1)
        axes[0].set_title("EM mixture of 3 Gaussians", fontsize=9)
        axes[1].plot(trace, "-o", ms=3, label="2-D points")
        axes[1].plot(img_model["trace"], "-o", ms=3, label="digit pixels (PCA 16)")
        axes[1].set_xlabel("EM iteration")
        axes[1].set_ylabel("mean log-likelihood (nats)")
        axes[1].legend(fontsize=8)
        axes[1].set_title("EM never lowers the likelihood", fontsize=9)
        grid = samples.reshape(4, 8, 8, 8).transpose(0, 2, 1, 3).reshape(32, 64)
        axes[2].imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[2].axis("off")
        axes[2].set_title("8x8 digits sampled from a 10-Gaussian mixture", fontsize=9)
        return {"em_iterations": len(trace), "log_likelihood_first_last": [round(trace[0], 4), round(trace[-1], 4)],
                "means": np.round(gm.means_[np.argsort(gm.means_[:, 0])], 3).tolist(),
                "figures": [_save(fig, out / "gmm_em.png")]}
    plants = [primer.grow_plant(seed) for seed in range(8)]
    fig, axes = plt.subplots(2, 4, figsize=(10, 5.4))
    for seed, (ax, plant) in enumerate(zip(axes.flat, plants)):
        ax.imshow(primer.render_plant(plant, 192), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"seed {seed}: {plant.branches} branchings", fontsize=8)
        ax.axis("off")
    fig.suptitle("The same turtle, different coin flips: the noise is the latent variable", fontsize=10)
    return {"segments": [len(p.segments) for p in plants], "branchings": [p.branches for p in plants],
            "figures": [_save(fig, out / "plants.png")]}
