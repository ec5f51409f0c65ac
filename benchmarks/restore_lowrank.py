"""Low-rank and sparse restoration (aip.restore.lowrank / sparse) against the `bm3d` package, and sparse SR.

Denoising: gray camera, astronaut, coffee, chelsea (256, and 512 on a subset), seeded Gaussian noise at
sigma 15/25/50 (0-255 scale, not clipped); WNNM and K-SVD with their defaults, `bm3d.bm3d` (gray input as
(H, W, 1), ``np.trapz`` aliased to ``np.trapezoid``) side by side in this process, one thread for everyone.
Outputs are clipped to [0, 1] before PSNR/SSIM. Super-resolution: the same images at 256 (HR), degraded by
``aip.degrade.Downsample(s, "bicubic", mode="symmetric")`` (MATLAB-style anti-aliased bicubic), restored by
bicubic interpolation and by `upscale_sparse` (dictionaries trained on other images, see
``aip.restore.sparse.SR_TRAINING_IMAGES``).

Usage::

    python benchmarks/restore_lowrank.py                 # 256 full, 512 on --images512 (default camera)
    python benchmarks/restore_lowrank.py --quick         # 256, sigma 25, camera and astronaut
    python benchmarks/restore_lowrank.py --train-sr      # re-train the shipped SR dictionaries first

Writes benchmarks/results/restore_lowrank.md and .json (``--quick``: restore_lowrank_quick.*).
"""

from __future__ import annotations

from _common import (  # first: importing it pins the thread pools before numpy loads
    RESULTS,
    load_clean,
    peer_bm3d,
    seed_of,
    timed,
)

# isort: split
import argparse
import json
import platform
import sys
import time

import numpy as np

IMAGES = ("camera", "astronaut", "coffee", "chelsea")
SIGMAS = (15, 25, 50)
SR_SCALES = (2, 3)


def quality(clean: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    """(PSNR, SSIM) after reshaping ``out`` to the clean image (bm3d returns (H, W, 1))."""
    from _common import quality as _quality

    return _quality(clean, np.asarray(out).reshape(clean.shape))


def methods(with_ksvd: bool, device):
    from aip.restore.lowrank import denoise_wnnm
    from aip.restore.sparse import denoise_ksvd

    out = {
        "bm3d": peer_bm3d,
        "wnnm": lambda y, s: denoise_wnnm(y, s, device=device),
    }
    if with_ksvd:
        out["ksvd"] = lambda y, s: denoise_ksvd(y, s, device=device)
    return out


def denoise_table(cases, fns, ksvd_cases=None) -> list[dict]:
    rows = []
    for size, name, sigma255 in cases:
        clean = load_clean(name, size)
        rng = np.random.default_rng(seed_of(name, size, sigma255))
        noisy = (clean + sigma255 / 255.0 * rng.standard_normal(clean.shape)).astype(np.float32)
        p0, s0 = quality(clean, noisy)
        rows.append({"size": size, "image": name, "sigma": sigma255, "method": "noisy", "psnr": p0, "ssim": s0, "seconds": 0.0})
        for m, fn in fns.items():
            if m == "ksvd" and ksvd_cases is not None and (size, sigma255) not in ksvd_cases:
                continue
            out, t = timed(fn, noisy, sigma255 / 255.0)
            p, s = quality(clean, out)
            rows.append({"size": size, "image": name, "sigma": sigma255, "method": m, "psnr": p, "ssim": s, "seconds": t})
            print(f"{size} {name:10s} sigma {sigma255:2d} {m:6s} {p:6.2f} dB  ssim {s:.4f}  {t:7.2f} s", flush=True)
    return rows


def sr_table(images, scales, size: int = 256) -> list[dict]:
    from aip.restore.sparse import _sr_degrade, upscale_sparse
    from aip.restore.variational import upscale_bicubic

    rows = []
    for s in scales:
        for name in images:
            hr = load_clean(name, size)
            hr = hr[: hr.shape[0] // s * s, : hr.shape[1] // s * s]
            lr = _sr_degrade(hr, s).astype(np.float32)
            for m, fn in (("bicubic", upscale_bicubic), ("sparse", upscale_sparse)):
                out, t = timed(fn, lr, s)
                p, q = quality(hr, out)
                rows.append({"scale": s, "image": name, "size": size, "method": m, "psnr": p, "ssim": q, "seconds": t})
                print(f"SR x{s} {name:10s} {m:8s} {p:6.2f} dB  ssim {q:.4f}  {t:6.2f} s", flush=True)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Mean PSNR/SSIM/time per (size, sigma, method), and WNNM/K-SVD minus bm3d per (size, sigma)."""
    keys = sorted({(r["size"], r["sigma"]) for r in rows})
    out = []
    for size, sigma in keys:
        sel = [r for r in rows if r["size"] == size and r["sigma"] == sigma]
        ms = sorted({r["method"] for r in sel}, key=lambda m: ["noisy", "bm3d", "wnnm", "ksvd"].index(m))
        means = {m: {k: float(np.mean([r[k] for r in sel if r["method"] == m])) for k in ("psnr", "ssim", "seconds")}
                 for m in ms}
        n = len({r["image"] for r in sel})
        for m in ms:
            rec = dict(size=size, sigma=sigma, method=m, images=n, **means[m])
            if m not in ("noisy", "bm3d") and "bm3d" in means:
                rec["delta_psnr_vs_bm3d"] = means[m]["psnr"] - means["bm3d"]["psnr"]
                rec["time_ratio_vs_bm3d"] = means[m]["seconds"] / means["bm3d"]["seconds"]
            out.append(rec)
    return out


def markdown(rows, summ, sr_rows, meta) -> str:
    lines = ["# Low-rank and sparse restoration vs the bm3d package", "",
             (f"{meta['date']}, {meta['machine']}, {meta['threads']}. Total {meta['total_seconds']:.0f} s. "
             "Times are wall-clock on a shared machine (other jobs were running): compare the ratios, "
             "which are measured side by side on the same inputs."), "",
             "## Denoising: mean over images (PSNR dB / SSIM / seconds per image)", "",
             "| size | sigma | method | images | PSNR | SSIM | s | PSNR - bm3d | time / bm3d |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in summ:
        d = f"{r['delta_psnr_vs_bm3d']:+.2f}" if "delta_psnr_vs_bm3d" in r else ""
        t = f"{r['time_ratio_vs_bm3d']:.1f}x" if "time_ratio_vs_bm3d" in r else ""
        lines.append(f"| {r['size']} | {r['sigma']} | {r['method']} | {r['images']} | {r['psnr']:.2f} | "
                     f"{r['ssim']:.4f} | {r['seconds']:.2f} | {d} | {t} |")
    allw = [r for r in summ if r["method"] == "wnnm" and "delta_psnr_vs_bm3d" in r]
    if allw:
        lines += ["", (f"WNNM minus bm3d, mean over all cases: {np.mean([r['delta_psnr_vs_bm3d'] for r in allw]):+.3f} dB"
                  f" (target >= +0.2 dB); time ratio {np.mean([r['time_ratio_vs_bm3d'] for r in allw]):.1f}x "
                  "(target <= 10x).")]
    lines += ["", "## Denoising: every case", "", "| size | image | sigma | method | PSNR | SSIM | s |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['size']} | {r['image']} | {r['sigma']} | {r['method']} | {r['psnr']:.2f} | "
                     f"{r['ssim']:.4f} | {r['seconds']:.2f} |")
    if sr_rows:
        lines += ["", "## Super-resolution (HR 256, anti-aliased bicubic downsampling)", "",
                  "| scale | image | bicubic PSNR | sparse PSNR | gain dB | bicubic SSIM | sparse SSIM | sparse s |",
                  "|---|---|---|---|---|---|---|---|"]
        for s in sorted({r["scale"] for r in sr_rows}):
            gains = []
            for name in dict.fromkeys(r["image"] for r in sr_rows):
                b = next(r for r in sr_rows if r["scale"] == s and r["image"] == name and r["method"] == "bicubic")
                q = next(r for r in sr_rows if r["scale"] == s and r["image"] == name and r["method"] == "sparse")
                gains.append(q["psnr"] - b["psnr"])
                lines.append(f"| x{s} | {name} | {b['psnr']:.2f} | {q['psnr']:.2f} | {q['psnr'] - b['psnr']:+.2f} | "
                             f"{b['ssim']:.4f} | {q['ssim']:.4f} | {q['seconds']:.2f} |")
            lines.append(f"| x{s} | **mean** | | | **{np.mean(gains):+.2f}** | | | |")
        lines += ["", "Target: sparse SR >= +0.5 dB over bicubic at x2 and x3."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="256, sigma 25, camera and astronaut")
    ap.add_argument("--images512", default="camera", help="comma-separated images also run at 512 ('' for none)")
    ap.add_argument("--sigmas512", default="15,25,50")
    ap.add_argument("--no-ksvd", action="store_true", help="skip K-SVD denoising")
    ap.add_argument("--ksvd-sigmas", default="25", help="sigmas at which K-SVD runs (at 256)")
    ap.add_argument("--no-sr", action="store_true")
    ap.add_argument("--train-sr", action="store_true", help="re-train and rewrite the shipped SR dictionaries")
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.train_sr:
        from aip.restore.sparse import SR_TRAINING_IMAGES, save_sr_dictionaries, train_sr_dictionary

        t = time.perf_counter()
        dicts = {s: train_sr_dictionary(s) for s in SR_SCALES}
        secs = time.perf_counter() - t
        path = save_sr_dictionaries(dicts, meta={
            "trained_by": "aip.restore.sparse.train_sr_dictionary(scale) with its defaults",
            "training_images": list(SR_TRAINING_IMAGES), "seconds": round(secs, 1)})
        print(f"trained SR dictionaries in {secs:.0f} s -> {path} ({path.stat().st_size} bytes)")
    if args.quick:
        cases = [(256, n, 25) for n in IMAGES[:2]]
        sr_images = IMAGES[:1]
    else:
        cases = [(256, n, s) for s in SIGMAS for n in IMAGES]
        im512 = [n for n in args.images512.split(",") if n]
        cases += [(512, n, int(s)) for s in args.sigmas512.split(",") for n in im512]
        sr_images = IMAGES
    fns = methods(not args.no_ksvd, args.device)
    warm = np.random.default_rng(0).random((48, 48)).astype(np.float32)
    for fn in fns.values():  # first-call costs (imports, allocator) are not the methods' cost
        fn(warm, 0.1)
    t0 = time.perf_counter()
    ksvd_cases = {(256, int(v)) for v in args.ksvd_sigmas.split(",") if v}
    rows = denoise_table(cases, fns, ksvd_cases)
    sr_rows = [] if args.no_sr else sr_table(sr_images, SR_SCALES)
    summ = summarise(rows)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": platform.machine() + " " + platform.processor(),
            "threads": "OMP/MKL/torch threads = 1", "total_seconds": time.perf_counter() - t0,
            "cases": len(cases), "device": args.device or "cpu"}
    RESULTS.mkdir(exist_ok=True)
    stem = "restore_lowrank_quick" if args.quick else "restore_lowrank"
    md = markdown(rows, summ, sr_rows, meta)
    (RESULTS / f"{stem}.md").write_text(md + "\n")
    (RESULTS / f"{stem}.json").write_text(json.dumps({"meta": meta, "rows": rows, "summary": summ, "sr": sr_rows},
                                                     indent=1))
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
