"""Filtering denoisers (aip.restore.filters) against scikit-image's and OpenCV's non-local means.

Same clean images (gray camera, astronaut, coffee, chelsea at 256 and 512), same seeded Gaussian noise
(sigma 15/25/50 on the 0-255 scale, not clipped), one thread for everyone, peers run side by side in this
process. Every aip filter runs with its defaults (knobs chosen from sigma by rules tuned on other images);
the peers get an oracle choice of h per image (the best PSNR over a grid, in their favour), with patch
and search sizes set to the best found on the training images (see ``PEERS``). Outputs are clipped to
[0, 1] before PSNR/SSIM (OpenCV's uint8 output is clipped by construction).

A second table times the bilateral grid against the direct bilateral filter for growing spatial sigma.

Usage::

    python benchmarks/restore_filters.py            # full tables, a few minutes on one core
    python benchmarks/restore_filters.py --quick    # 256 only, sigma 25, two images

Writes benchmarks/results/restore_filters.md, restore_filters.json and restore_filters_scatter.png (PSNR
against time) (``--quick``: restore_filters_quick.*).
"""

from __future__ import annotations

from _common import (  # first: importing it pins the thread pools before numpy loads
    RESULTS,
    load_clean,
    md_table,
    one_thread,
    quality,
    run_meta,
    seed_of,
    timed,
    to_u8,
    write_results,
)

# isort: split
import argparse
import sys
import time
from pathlib import Path

import numpy as np

IMAGES = ("camera", "astronaut", "coffee", "chelsea")
SIGMAS = (15, 25, 50)
SIZES = (256, 512)
OURS = {
    "gaussian": "denoise_gaussian",
    "perona_malik": "denoise_perona_malik",
    "tensor_diffusion": "denoise_tensor_diffusion",
    "bilateral": "denoise_bilateral",
    "bilateral_grid": "denoise_bilateral_grid",
    "domain_transform": "denoise_domain_transform",
    "nlm": "denoise_nl_means",
}
# Peer settings: patch/search sizes that were best on the training images (brick, grass, gravel, rocket,
# moon, coins at 256, resized and native crops; scikit-image over patch 5/7 x distance 4/5/6/8, OpenCV over
# template 5/7 x search 11/15/21); h is then searched per image on H_GRID (multiples of sigma).
PEERS = {  # per sigma (0-255 scale)
    "skimage_nlm": {15: {"patch_size": 5, "patch_distance": 6}, 25: {"patch_size": 7, "patch_distance": 8},
                    50: {"patch_size": 7, "patch_distance": 6}},
    "opencv_nlm": {15: {"templateWindowSize": 5, "searchWindowSize": 11},
                   25: {"templateWindowSize": 5, "searchWindowSize": 15},
                   50: {"templateWindowSize": 7, "searchWindowSize": 21}},
}
H_GRID = {
    "skimage_nlm": (0.5, 0.6, 0.7, 0.8, 0.9),
    "opencv_nlm": (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.4),
}


def noisy_copy(clean: np.ndarray, sigma255: float, *seed_parts) -> np.ndarray:
    """``clean`` plus seeded Gaussian noise of ``sigma255`` (0-255 scale), not clipped, as float32."""
    rng = np.random.default_rng(seed_of(*seed_parts))
    return (clean + sigma255 / 255.0 * rng.standard_normal(clean.shape)).astype(np.float32)


def run_peer(name: str, noisy: np.ndarray, clean: np.ndarray, sigma255: float):
    """Best-h run of a peer NLM: (psnr, ssim, seconds of the best run, best h factor)."""
    import cv2
    from skimage.restoration import denoise_nl_means

    s = sigma255 / 255.0
    best = None
    for f in H_GRID[name]:
        if name == "skimage_nlm":
            out, t = timed(denoise_nl_means, noisy, h=f * s, sigma=s, fast_mode=True,
                           **PEERS[name][int(sigma255)])
        else:
            out, t = timed(cv2.fastNlMeansDenoising, to_u8(noisy), None, h=f * sigma255, **PEERS[name][int(sigma255)])
            out = out.astype(np.float64) / 255.0
        p = quality(clean, out)[0]
        if best is None or p > best[0]:
            best = (p, out, t, f)
    p, out, t, f = best
    return p, quality(clean, out)[1], t, f


def denoise_table(images, sizes, sigmas) -> list[dict]:
    from aip.restore import filters

    rows = []
    for size in sizes:
        for name in images:
            clean = load_clean(name, size)
            for sig in sigmas:
                noisy = noisy_copy(clean, sig, name, size, sig)
                base = {"image": name, "size": size, "sigma": sig}
                p, q = quality(clean, noisy)
                rows.append(dict(base, method="noisy", psnr=p, ssim=q, seconds=0.0))
                for method, fn in OURS.items():
                    out, t = timed(getattr(filters, fn), noisy, sig / 255.0)
                    p, q = quality(clean, out)
                    rows.append(dict(base, method=method, psnr=p, ssim=q, seconds=t))
                for peer in PEERS:
                    p, q, t, f = run_peer(peer, noisy, clean, sig)
                    rows.append(dict(base, method=peer, psnr=p, ssim=q, seconds=t, h_factor=f))
                nlm = {r["method"]: r for r in rows[-10:]}
                print(f"{name:9s} {size} s{sig:2d}  nlm {nlm['nlm']['psnr']:.2f} dB {nlm['nlm']['seconds']:.2f}s"
                      f"  skimage {nlm['skimage_nlm']['psnr']:.2f} dB {nlm['skimage_nlm']['seconds']:.2f}s"
                      f"  opencv {nlm['opencv_nlm']['psnr']:.2f} dB {nlm['opencv_nlm']['seconds']:.2f}s",
                      flush=True)
    return rows


def grid_table(size: int = 512, sigma255: float = 25.0, spatial=(2.0, 4.0, 8.0, 16.0)) -> list[dict]:
    from aip.restore import filters

    clean = load_clean("camera", size)
    noisy = noisy_copy(clean, sigma255, "grid", size, sigma255)
    s = sigma255 / 255.0
    rows = []
    for ss in spatial:
        kw = {"sigma_color": 2.5 * s, "sigma_spatial": ss}
        direct, td = timed(filters.denoise_bilateral, noisy, s, **kw)
        grid, tg = timed(filters.denoise_bilateral_grid, noisy, s, **kw)
        rows.append({"sigma_spatial": ss, "direct_seconds": td, "grid_seconds": tg, "speedup": td / tg,
                         "direct_psnr": quality(clean, direct)[0], "grid_psnr": quality(clean, grid)[0],
                         "mean_abs_diff": float(np.abs(grid - direct).mean())})
        print(f"bilateral sigma_spatial {ss:4.1f}: direct {td:.2f}s grid {tg:.3f}s x{td / tg:.1f}", flush=True)
    return rows


def summarise(rows: list[dict]) -> dict:
    """Mean PSNR/SSIM/seconds per (size, sigma, method)."""
    out: dict = {}
    for r in rows:
        key = (r["size"], r["sigma"], r["method"])
        out.setdefault(key, []).append(r)
    return {k: {m: float(np.mean([r[m] for r in v])) for m in ("psnr", "ssim", "seconds")}
            for k, v in out.items()}


def markdown(rows, grid_rows, sizes, sigmas, meta) -> str:
    summ = summarise(rows)
    methods = ["noisy", *OURS, *PEERS]
    lines = ["# Filtering denoisers: aip.restore.filters vs scikit-image and OpenCV NLM", "",
             (f"Generated by `benchmarks/restore_filters.py` on {meta['date']} ({meta['machine']}; "
             f"{meta['threads']}). Images: gray {', '.join(meta['images'])}; Gaussian noise, seeded, not "
             "clipped; outputs clipped to [0, 1] before PSNR/SSIM. aip methods run with their defaults; "
             "peers with an oracle h per image (best PSNR over "
             f"{H_GRID['skimage_nlm']} sigma for scikit-image, {H_GRID['opencv_nlm']} sigma for OpenCV) and "
             f"the patch/search sizes {PEERS}. Times are wall seconds per image on one thread, on a "
             "shared machine: compare within a row (same process, same moment), quote ratios."), ""]
    for size in sizes:
        table = [[m, *("-" if (v := summ.get((size, s, m))) is None
                       else f"{v['psnr']:.2f} / {v['ssim']:.3f} / {v['seconds']:.3f}" for s in sigmas)]
                 for m in methods]
        lines += [f"## {size} x {size}: mean PSNR (dB) / SSIM / seconds per image", "",
                  *md_table(["method", *(f"sigma {s}" for s in sigmas)], table), ""]
    # NLM targets
    lines += ["## Non-local means targets", "",
              ("| size | sigma | aip nlm dB | skimage best dB | opencv best dB | aip - skimage | aip - opencv "
              "| skimage time / aip time |"), "|---|---|---|---|---|---|---|---|"]
    for size in sizes:
        for s in sigmas:
            a, k, o = (summ.get((size, s, m)) for m in ("nlm", "skimage_nlm", "opencv_nlm"))
            if a is None:
                continue
            lines.append(f"| {size} | {s} | {a['psnr']:.2f} | {k['psnr']:.2f} | {o['psnr']:.2f} | "
                         f"{a['psnr'] - k['psnr']:+.2f} | {a['psnr'] - o['psnr']:+.2f} | "
                         f"{k['seconds'] / a['seconds']:.2f} |")
    # per-image ratio of times measured back to back
    ratios = []
    by_case: dict = {}
    for r in rows:
        by_case.setdefault((r["image"], r["size"], r["sigma"]), {})[r["method"]] = r
    for case in by_case.values():
        ratios.append(case["skimage_nlm"]["seconds"] / case["nlm"]["seconds"])
    lines += ["", (f"Per image, scikit-image's best-h run took {np.median(ratios):.2f}x the time of aip's NLM "
              f"(median of {len(ratios)} images; min {np.min(ratios):.2f}, max {np.max(ratios):.2f})."), ""]
    wins = sum(1 for c in by_case.values() if all(c[m]["psnr"] > c["noisy"]["psnr"] for m in OURS))
    lines += [f"Every aip filter beats the noisy input on {wins} of {len(by_case)} images.", ""]
    if grid_rows:
        lines += ["## Bilateral grid vs direct bilateral (camera 512, sigma 25, sigma_color 2.5 sigma)", "",
                  "| sigma_spatial | direct s | grid s | speed-up | direct dB | grid dB | mean abs diff |",
                  "|---|---|---|---|---|---|---|"]
        for g in grid_rows:
            lines.append(f"| {g['sigma_spatial']:.0f} | {g['direct_seconds']:.3f} | {g['grid_seconds']:.3f} | "
                         f"{g['speedup']:.1f} | {g['direct_psnr']:.2f} | {g['grid_psnr']:.2f} | "
                         f"{g['mean_abs_diff']:.4f} |")
        lines.append("")
    return "\n".join(lines)


def scatter(rows: list[dict], path: Path, size: int) -> None:
    """PSNR against time (log scale), one point per method and sigma, mean over the images of ``size``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summ = summarise(rows)
    sigmas = sorted({k[1] for k in summ if k[0] == size})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = dict(zip(sigmas, "os^D"))
    for i, m in enumerate([*OURS, *PEERS]):
        pts = [(summ[(size, s, m)]["seconds"], summ[(size, s, m)]["psnr"], s) for s in sigmas
               if (size, s, m) in summ]
        for t, p, s in pts:
            ax.scatter(max(t, 1e-3), p, color=f"C{i}", marker=markers[s], label=m if s == sigmas[0] else None)
    ax.set_xscale("log")
    ax.set_xlabel("seconds per image (one thread)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"Filtering denoisers, gray {size}x{size}; markers: sigma " + ", ".join(
        f"{s} ({markers[s]})" for s in sigmas))
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="256 only, sigma 25, two images")
    args = ap.parse_args(argv)
    one_thread()
    images, sizes, sigmas = (IMAGES[:2], (256,), (25,)) if args.quick else (IMAGES, SIZES, SIGMAS)
    # warm-up (first-call costs of torch and the peers are not the filters' cost)
    from aip.restore import filters

    warm = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    for fn in OURS.values():
        getattr(filters, fn)(warm, 0.1)
    t0 = time.perf_counter()
    rows = denoise_table(images, sizes, sigmas)
    grid_rows = grid_table(spatial=(2.0, 4.0) if args.quick else (2.0, 4.0, 8.0, 16.0))
    meta = {**run_meta(" shared with other jobs"), "images": list(images),
            "total_seconds": time.perf_counter() - t0, "peers": PEERS, "h_grid": H_GRID}
    stem = "restore_filters_quick" if args.quick else "restore_filters"
    md = markdown(rows, grid_rows, sizes, sigmas, meta)
    summ = {f"{k[0]}/{k[1]}/{k[2]}": v for k, v in summarise(rows).items()}
    write_results(stem, {"meta": meta, "rows": rows, "summary": summ, "grid": grid_rows}, md + "\n")
    scatter(rows, RESULTS / f"{stem}_scatter.png", max(sizes))
    print(md)
    print(f"total {meta['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
