"""Restoration by sampling (issue 13): RePaint, DPS and DiffPIR with the shipped digit DDPM against aip's classical methods.

Held-out digits (the test split of the built-in digits, never seen in training or tuning), degraded three ways for
inpainting: 50% and 80% of the pixels missing at random, and a 14x14 hole in the middle. Every method sees the
same masks. Classical: harmonic (the default), TV, plug-and-play DCT (``pnp``) and WNNM (the best classical
quality on photos; on fewer digits with ``--wnnm N``, it takes seconds per digit). Sampling: RePaint, DPS and
DiffPIR (the paper's lam 7; zeta 1 for inpainting, 0.3 otherwise; noiseless data: sigma 0) with the shipped DDPM as
an unconditional prior (its null label); PULSE-style latent search of the shipped cGAN (every class tried, latents on
the sphere, 200 Adam steps; on the first ``--pulse`` digits). DPS's step size ``zeta`` is picked on training
digits (``--zetas``), not on the test digits.

Measures per method and setting: PSNR (dB), class accuracy of the shipped LeNet on the result, FID-LeNet between
the results and the clean test digits (the same number of other clean test digits gives the floor), seconds per
digit (batched where the method batches, one thread), and for DPS the RMS measurement residual
``||y - A(x0_hat)||`` after each step (its fall is the consistency plot). Also: DPS x2 and x4 super-resolution and
Gaussian deblurring of digits against bicubic and TV/PnP, for orientation.

deepinv's DPS beside ours, as the issue asks, needs deepinv importable; its 0.5.0 wheel imports torchvision at load
time, which does not install beside this torch build, so the comparison is skipped (recorded in the results).

Usage::

    python benchmarks/diffusion_restore.py            # about 15 minutes on one thread
    python benchmarks/diffusion_restore.py --quick    # a smoke run on 16 digits
"""

from __future__ import annotations

from _common import RESULTS, md_table, one_thread, run_meta, write_results  # first: pins the thread pools

# isort: split
import argparse
import time

import numpy as np
import torch

from aip.data.digits import load_digits_split
from aip.degrade import Blur, Downsample, gaussian
from aip.metrics import fid_from_features
from aip.models.lenet import load_lenet
from aip.models.prior_restore import load_gan, load_prior
from aip.restore import deblur, inpaint, upscale
from aip.sampling.posterior import diffpir, dps, repaint

SETTINGS = ("random50", "random80", "hole14")
CLASSICAL = ("harmonic", "tv", "pnp", "wnnm")


def digits(split: str, start: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = load_digits_split(split)
    return (torch.from_numpy(x[start:start + n].astype(np.float32) / 255)[:, None],
            torch.as_tensor(y[start:start + n]).long())


def masks(setting: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """True where missing, one mask per digit."""
    if setting == "hole14":
        m = torch.zeros(shape, dtype=torch.bool)
        m[..., 7:21, 7:21] = True
        return m
    frac = {"random50": 0.5, "random80": 0.8}[setting]
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < frac


class Scorer:
    def __init__(self, clean: torch.Tensor, labels: torch.Tensor, reference: torch.Tensor) -> None:
        self.lenet = load_lenet("digits")
        self.clean, self.labels = clean, labels
        self.ref_features = self.features(reference)
        self.floor = fid_from_features(self.features(clean), self.ref_features)

    def features(self, x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return self.lenet.features(x).double().numpy()

    def __call__(self, out: torch.Tensor, seconds: float) -> dict:
        out = out.clamp(0, 1)
        mse = ((out - self.clean) ** 2).flatten(1).mean(1)
        with torch.no_grad():
            acc = float((self.lenet(out).argmax(1) == self.labels).float().mean())
        return {"psnr": float((10 * torch.log10(1 / mse.clamp_min(1e-10))).mean()), "accuracy": acc,
                "fid": fid_from_features(self.features(out), self.ref_features),
                "seconds_per_digit": seconds / len(out)}


def per_image(fn, y: torch.Tensor, miss: torch.Tensor) -> tuple[torch.Tensor, float]:
    t0 = time.perf_counter()
    out = [torch.from_numpy(np.asarray(fn(y[i, 0].double().numpy(), miss[i, 0].numpy()), np.float32))
           for i in range(len(y))]
    return torch.stack(out)[:, None], time.perf_counter() - t0


def tune_zeta(pipe, zetas, steps, n, seed) -> tuple[float, dict]:
    """The DPS step size with the best LeNet accuracy (then PSNR) on training digits at 80% missing."""
    x, labels = digits("train", 5000, n)
    sc = Scorer(x, labels, x)
    miss = masks("random80", x.shape, seed)
    res = {}
    for z in zetas:
        t0 = time.perf_counter()
        out = dps(pipe, x * ~miss, lambda v: v * ~miss, steps=steps, zeta=z, generator=torch.Generator().manual_seed(0))
        res[z] = sc(out, time.perf_counter() - t0)
        print(f"  tune zeta {z}: acc {res[z]['accuracy']:.3f} PSNR {res[z]['psnr']:.2f}", flush=True)
    best = max(zetas, key=lambda z: (res[z]["accuracy"], res[z]["psnr"]))
    return best, {str(k): v for k, v in res.items()}


def strip(rows: dict[str, torch.Tensor], path, k: int = 8) -> None:
    from aip.train.trainer import save_image_grid

    imgs = torch.cat([r[:k].clamp(0, 1) for r in rows.values()])
    save_image_grid(imgs, path, nrow=k)


def plot_consistency(curves: dict[str, list[float]], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, h in curves.items():
        ax.plot(np.arange(1, len(h) + 1), h, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("DPS step")
    ax.set_ylabel("RMS of y - A(x0_hat)")
    ax.set_title("DPS measurement consistency over the reverse steps")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="test digits per setting (default 200)")
    ap.add_argument("--wnnm", type=int, default=24, help="digits for WNNM, the slow one (default 24; 0: skip)")
    ap.add_argument("--steps", type=int, default=100, help="reverse steps of RePaint and DPS (default 100)")
    ap.add_argument("--resample", type=int, default=4, help="RePaint resamplings per step (default 4)")
    ap.add_argument("--zetas", default="0.5,1,2", help="DPS step sizes tried on training digits")
    ap.add_argument("--pulse", type=int, default=64, help="digits for the GAN latent search (default 64; 0: skip)")
    ap.add_argument("--quick", action="store_true", help="16 digits, 20 steps, no WNNM, written as *_quick")
    args = ap.parse_args(argv)
    one_thread()
    if args.quick:
        args.n, args.wnnm, args.steps, args.pulse = 16, 0, 20, 8
    stem = "diffusion_restore_quick" if args.quick else "diffusion_restore"
    pipe = load_prior("shipped:ddpm")
    gan = load_gan("shipped:cgan")
    zetas = [float(z) for z in args.zetas.split(",")]
    print("tuning DPS zeta on training digits", flush=True)
    zeta, tuning = tune_zeta(pipe, zetas, args.steps, min(args.n, 64), seed=11)
    print(f"  zeta = {zeta}", flush=True)

    clean, labels = digits("test", 0, args.n)
    reference, _ = digits("test", 5000, args.n)
    sc = Scorer(clean, labels, reference)
    results: dict = {"meta": {**run_meta(), "n": args.n, "n_wnnm": args.wnnm, "n_pulse": args.pulse, "steps": args.steps,
                              "resample": args.resample, "zeta": zeta, "zeta_tuning": tuning,
                              "fid_floor": sc.floor, "prior": "shipped:ddpm (unconditional: null label)",
                              "deepinv": "skipped: deepinv 0.5.0 imports torchvision at load, which does not "
                                         "install beside torch 2.13.0+cpu here"},
                     "inpaint": {}, "consistency": {}, "other": {}}
    for setting in SETTINGS:
        miss = masks(setting, clean.shape, seed=7 + SETTINGS.index(setting))
        y = clean * ~miss
        row: dict = {"masked": sc(y, 0.0)}
        outs: dict[str, torch.Tensor] = {"clean": clean, "observed": y}
        for method in CLASSICAL:
            n = args.wnnm if method == "wnnm" else args.n
            if n == 0:
                continue
            out, secs = per_image(lambda a, m, method=method: inpaint(a, m, method), y[:n], miss[:n])
            sub = Scorer(clean[:n], labels[:n], reference[:n]) if n < args.n else sc
            row[method] = {**sub(out, secs), "n": n}
            if n == args.n:
                outs[method] = out
            print(f"[{setting}] {method}: {row[method]}", flush=True)
        t0 = time.perf_counter()
        out = repaint(pipe, y, ~miss, steps=args.steps, resample=args.resample,
                      generator=torch.Generator().manual_seed(1))
        row["repaint"] = sc(out, time.perf_counter() - t0)
        row["repaint"]["known_pixels_exact"] = bool(torch.equal(out[~miss], clean[~miss]))
        outs["repaint"] = out
        print(f"[{setting}] repaint: {row['repaint']}", flush=True)
        hist: list[float] = []
        t0 = time.perf_counter()
        out = dps(pipe, y, lambda v, keep=~miss: v * keep, steps=args.steps, zeta=zeta,
                  generator=torch.Generator().manual_seed(1), history=hist)
        row["dps"] = sc(out, time.perf_counter() - t0)
        row["dps"]["residual_first_mid_last"] = [hist[0], hist[len(hist) // 2], hist[-1]]
        outs["dps"] = out
        results["consistency"][setting] = hist
        print(f"[{setting}] dps: {row['dps']}", flush=True)
        keep = (~miss).float()
        t0 = time.perf_counter()
        out = diffpir(pipe, y, None, sigma=0.0, zeta=1.0, steps=args.steps,
                      prox=lambda z, yy, gamma, keep=keep: (z + gamma * keep * yy) / (1 + gamma * keep),
                      generator=torch.Generator().manual_seed(1))
        row["diffpir"] = sc(out, time.perf_counter() - t0)
        outs["diffpir"] = out
        print(f"[{setting}] diffpir: {row['diffpir']}", flush=True)
        if args.pulse:
            n = args.pulse
            keep_rep = keep[:n].repeat(10, 1, 1, 1)          # the class search stacks 10 copies of the batch
            t0 = time.perf_counter()
            out, _ = gan.restore_latent(y[:n], lambda v, k=keep_rep: v * k,
                                        generator=torch.Generator().manual_seed(1))
            sub = Scorer(clean[:n], labels[:n], reference[:n]) if n < args.n else sc
            row["pulse"] = {**sub(out, time.perf_counter() - t0), "n": n}
            print(f"[{setting}] pulse: {row['pulse']}", flush=True)
        results["inpaint"][setting] = row
        strip(outs, RESULTS / f"{stem}_{setting}_strip.png")

    # orientation: super-resolution and deblurring of the same digits by DPS
    n = min(args.n, 64)
    for scale in (2, 4):
        op = Downsample(scale, "bicubic", mode="circular")
        y = op(clean[:n])
        t0 = time.perf_counter()
        out = dps(pipe, y, op, steps=args.steps, zeta=zeta, generator=torch.Generator().manual_seed(1))
        sub = Scorer(clean[:n], labels[:n], reference[:n])
        r = {"dps": sub(out, time.perf_counter() - t0)}
        t0 = time.perf_counter()
        out = diffpir(pipe, y, op, sigma=0.0, steps=args.steps, generator=torch.Generator().manual_seed(1))
        r["diffpir"] = sub(out, time.perf_counter() - t0)
        bic, secs = per_image(lambda a, m, s=scale: upscale(a, s, "bicubic"), y, y)
        r["bicubic"] = sub(bic, secs)
        results["other"][f"upscale_x{scale}"] = r
        print(f"[x{scale}] {r}", flush=True)
    psf = gaussian(1.5)
    op = Blur(psf, "circular")
    y = op(clean[:n]) + 0.01 * torch.randn(clean[:n].shape, generator=torch.Generator().manual_seed(3))
    t0 = time.perf_counter()
    out = dps(pipe, y, op, steps=args.steps, zeta=zeta, generator=torch.Generator().manual_seed(1))
    sub = Scorer(clean[:n], labels[:n], reference[:n])
    r = {"dps": sub(out, time.perf_counter() - t0)}
    t0 = time.perf_counter()
    out = diffpir(pipe, y, op, sigma=0.01, steps=args.steps, generator=torch.Generator().manual_seed(1))
    r["diffpir"] = sub(out, time.perf_counter() - t0)
    for method in ("tv", "pnp"):
        res, secs = per_image(lambda a, m, method=method: deblur(a, psf, method, sigma=0.01, edges="circular"), y, y)
        r[method] = sub(res, secs)
    results["other"]["deblur_gaussian1.5_noise0.01"] = r
    print(f"[deblur] {r}", flush=True)
    plot_consistency({s: results["consistency"][s] for s in SETTINGS}, RESULTS / f"{stem}_consistency.png")
    write_results(stem, results, markdown(results, stem))
    print(markdown(results, stem))
    return 0


def markdown(r: dict, stem: str) -> str:
    m = r["meta"]
    L = ["# Restoration by sampling: RePaint, DPS and DiffPIR with the shipped digit DDPM", "",
         (f"{m['date']}, {m['machine']}, {m['threads']}. {m['n']} held-out test digits per setting (WNNM on the "
         f"first {m['n_wnnm']}, PULSE on the first {m.get('n_pulse', 0)}; FID over fewer digits is not comparable); prior {m['prior']}; {m['steps']} reverse steps; RePaint resamples each step "
         f"{m['resample']} times; DPS zeta {m['zeta']} (picked on training digits at 80% missing, among "
         f"{', '.join(m['zeta_tuning'])}). FID-LeNet against {m['n']} other clean test digits; the floor (clean "
         f"against clean) is {m['fid_floor']:.2f}."), "",
         "## Inpainting", ""]
    for setting, row in r["inpaint"].items():
        L += [f"### {setting}", ""]
        rows = []
        for name, v in row.items():
            rows.append([name, f"{v['psnr']:.2f}", f"{v['accuracy']:.3f}", f"{v['fid']:.2f}",
                         f"{v['seconds_per_digit']:.3f}", v.get("n", m["n"])])
        L += md_table(["method", "PSNR", "class accuracy", "FID-LeNet", "s / digit", "digits"], rows)
        best = max((k for k in row if k in CLASSICAL), key=lambda k: row[k]["accuracy"], default=None)
        if best:
            L += ["", (f"Best classical by accuracy: {best} ({row[best]['accuracy']:.3f}, FID {row[best]['fid']:.2f});"
                       f" RePaint {row['repaint']['accuracy']:.3f} / {row['repaint']['fid']:.2f}, known pixels "
                       f"exact: {row['repaint']['known_pixels_exact']}; DPS {row['dps']['accuracy']:.3f} / "
                       f"{row['dps']['fid']:.2f}; DiffPIR {row['diffpir']['accuracy']:.3f} / "
                       f"{row['diffpir']['fid']:.2f}. DPS residual RMS first/middle/last step "
                       + " / ".join(f"{v:.4f}" for v in row["dps"]["residual_first_mid_last"]) + ".")]
        L += ["", f"Strip (rows: clean, observed, then each method): `{stem}_{setting}_strip.png`.", ""]
    L += ["## Super-resolution and deblurring by DPS and DiffPIR (same prior, first 64 digits)", ""]
    rows = []
    for task, row in r["other"].items():
        for name, v in row.items():
            rows.append([task, name, f"{v['psnr']:.2f}", f"{v['accuracy']:.3f}", f"{v['fid']:.2f}",
                         f"{v['seconds_per_digit']:.3f}"])
    L += md_table(["task", "method", "PSNR", "class accuracy", "FID-LeNet", "s / digit"], rows)
    L += ["", f"DPS consistency over steps: `{stem}_consistency.png`.", "",
          f"deepinv's DPS on the same network: {m['deepinv']}.", ""]
    return "\n".join(L)


if __name__ == "__main__":
    raise SystemExit(main())
