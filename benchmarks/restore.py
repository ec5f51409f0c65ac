"""Restoration benchmark: aip.restore against scikit-image, OpenCV and the bm3d package.

Same clean images, same seeded degradations (aip.degrade), peers run in the same process and run, one
thread for everyone (the bm3d package through its profile's ``num_threads = 1``: its default uses every
core whatever the thread variables say); PSNR (dB, data range 1), SSIM (Gaussian window) and wall time
per image.

Tasks (the Targets section of issue 3):
- denoise: Gaussian noise sigma 15/25/50 (0-255 scale) on gray camera, astronaut, coffee, chelsea; every aip
  denoiser against bm3d.bm3d, skimage denoise_nl_means (fast mode) and cv2.fastNlMeansDenoising, the two NLMs
  at their best h on a grid (an oracle choice, in their favour);
- deblur: circular convolution with a Gaussian (sigma 1.6), a 9x9 box and a 9x9 motion kernel, noise 0.01;
  aip deblurrers against skimage wiener (best balance), unsupervised_wiener, richardson_lucy (best number
  of iterations) and bm3d.bm3d_deblurring;
- inpaint: 50% and 80% random missing pixels and a text mask on the four gray images; against skimage
  inpaint_biharmonic and OpenCV's Telea and Navier-Stokes inpainting;
- sr: x2 and x3 bicubic (imresize-style, aip.degrade.Downsample) downsampling; aip upscalers against
  bicubic interpolation (Pillow) ; PSNR/SSIM with a border of `scale` pixels shaved;
- colour: RGB astronaut, coffee, chelsea (256), Gaussian noise sigma 25 drawn independently per channel;
  aip wnnm, nlm and dct through the front door in the opponent colour space (default) and on the RGB
  channels as they are (`:rgb` rows, colour="rgb": dct per channel, WNNM still matching patches once for
  the three channels, NLM weights from the colour distance either way), against bm3d.bm3d_rgb (CBM3D) and
  skimage denoise_nl_means(channel_axis=-1) (best h).

Usage::

    python benchmarks/restore.py --quick          # small images, one sigma: a minute or two
    python benchmarks/restore.py                  # the full tables (gray 256; about 20-30 min on one core)
    python benchmarks/restore.py --tasks denoise --sizes 256 512 --skip ksvd
    python benchmarks/restore.py --tasks denoise --sigmas 50 --merge   # redo sigma 50, keep the rest

Writes benchmarks/results/restore.md, restore.json, restore_<task>_strip.png and restore_scatter.png
(``--quick`` writes restore_quick.* so the full results are not overwritten).
"""

from __future__ import annotations

# ruff: noqa: B023 - the lambdas handed to Runner.run are called at once, inside their loop iteration
from _common import (  # first: importing it pins the thread pools before numpy loads
    RESULTS,
    RL_ITERATIONS,
    WIENER_BALANCES,
    best_of,
    blurred,
    deblur_kernels,
    import_bm3d,
    inpaint_masks,
    load_clean,
    md_table,
    one_thread,
    peer_bicubic,
    peer_biharmonic,
    peer_bm3d,
    peer_bm3d_deblurring,
    peer_bm3d_rgb,
    peer_opencv_inpaint,
    peer_richardson_lucy,
    peer_unsupervised_wiener,
    peer_wiener,
    quality,
    run_meta,
    seed_of,
    sr_pair,
    timed,
    to_u8,
)

# isort: split
import argparse
import json
import shlex
import sys
import time
import traceback
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------


class Runner:
    """Runs methods, records rows, keeps the outputs of the first image for the strips."""

    def __init__(self, quick: bool, skip: set[str], only: set[str] | None) -> None:
        self.rows: list[dict] = []
        self.notes: list[str] = []
        self.strips: dict[str, list[tuple[str, np.ndarray]]] = {}
        self.skip = skip
        self.only = only
        self.quick = quick
        self.strip_only = False

    def wanted(self, method: str) -> bool:
        base = method.split(":", 1)[-1]
        if method in self.skip or base in self.skip:
            return False
        return self.only is None or method in self.only or base in self.only

    def run(self, task: str, setting: str, image: str, method: str, fn, clean: np.ndarray, *,
            shave: int = 0, strip_key: str | None = None, extra: dict | None = None,
            measure=None) -> dict | None:
        """Run ``fn``, score it against ``clean``; ``measure(clean, out)`` (both shaved) may add figures to the row."""
        if not self.wanted(method) or (self.strip_only and strip_key is None):
            return None
        try:
            out, secs = timed(fn)
            if isinstance(out, tuple):  # (image, chosen parameter)
                out, param = out
            else:
                param = None
            out = np.asarray(out, dtype=np.float64)
            if out.ndim == 3 and out.shape[2] == 1:
                out = out[..., 0]
            if out.shape != clean.shape:
                raise ValueError(f"output shape {out.shape} != clean {clean.shape}")
            p, s = quality(clean, out, shave)
        except ImportError as exc:
            note = f"{task}/{method}: skipped ({exc})"
            if note not in self.notes:
                self.notes.append(note)
            return None
        except Exception as exc:  # noqa: BLE001 - a broken method must not stop the benchmark
            self.notes.append(f"{task}/{method} on {image} {setting}: failed: {type(exc).__name__}: {exc}")
            traceback.print_exc()
            return None
        row = {"task": task, "setting": setting, "image": image, "method": method, "psnr": p, "ssim": s,
               "time_s": secs}
        if param is not None:
            row["param"] = param
        if extra:
            row.update(extra)
        if measure is not None:
            c, o = clean, np.clip(out, 0, 1)
            if shave:
                c, o = c[shave:-shave, shave:-shave], o[shave:-shave, shave:-shave]
            row.update(measure(c, o))
        self.rows.append(row)
        print(f"  {task:8s} {setting:14s} {image:10s} {method:28s} {p:6.2f} dB  {s:.4f}  {secs:7.2f} s"
              + (f"  ({param})" if param is not None else ""), flush=True)
        if strip_key is not None:
            self.strips.setdefault(strip_key, []).append((f"{method}\n{p:.2f} dB", np.clip(out, 0, 1)))
        return row


def aip_methods(run: Runner, task: str) -> list[str]:
    """The aip methods of ``task`` that are built; the others are noted as skipped."""
    import aip.restore as R

    for m in R.METHODS[task]:
        if m not in R.available(task):
            run.notes.append(f"{task}/{m}: not built yet, skipped")
    return R.available(task)


# --------------------------------------------------------------------------------------------------------
# peers
# --------------------------------------------------------------------------------------------------------

def peer_skimage_nlm(noisy, sigma, clean):
    from skimage.restoration import denoise_nl_means

    grid = (0.6, 0.8, 1.0)
    out, h = best_of(lambda f: denoise_nl_means(noisy, h=f * sigma, sigma=sigma, patch_size=5, patch_distance=6,
                                                fast_mode=True), grid, clean)
    return out, f"h={h}*sigma"


def peer_opencv_nlm(noisy, sigma, clean):
    import cv2

    s255 = sigma * 255.0
    u8 = to_u8(noisy)  # OpenCV needs 8-bit input: clipped and rounded
    grid = (0.8, 1.0, 1.2)
    out, h = best_of(lambda f: cv2.fastNlMeansDenoising(u8, None, h=f * s255, templateWindowSize=7,
                                                        searchWindowSize=21) / 255.0, grid, clean)
    return out, f"h={h}*sigma"


def warm_up(tasks) -> None:
    """Pay import and first-call costs before any timing (tiny calls of every peer, imports of aip families)."""
    import aip.restore as R

    for t in ("denoise", "deblur", "upscale", "inpaint"):
        R.available(t)
    rng = np.random.default_rng(0)
    x = rng.random((32, 32))
    k = np.full((3, 3), 1 / 9)
    m = np.zeros((32, 32), bool)
    m[::2] = True
    calls = []
    from skimage import restoration as skr

    calls += [lambda: skr.denoise_nl_means(x, h=0.1, sigma=0.1, fast_mode=True),
              lambda: skr.wiener(x, k, 0.01), lambda: skr.unsupervised_wiener(x, k, rng=0),
              lambda: skr.richardson_lucy(x, k, num_iter=2), lambda: skr.inpaint_biharmonic(x, m)]
    try:
        import cv2

        u8 = to_u8(x)
        calls += [lambda: cv2.fastNlMeansDenoising(u8, None, 10.0),
                  lambda: cv2.inpaint(u8, m.astype(np.uint8), 3, cv2.INPAINT_TELEA)]
    except ImportError:  # pragma: no cover
        pass
    try:
        import_bm3d()
        calls += [lambda: peer_bm3d(x, 0.1)]
    except ImportError:
        pass
    for c in calls:
        try:
            c()
        except Exception:  # noqa: BLE001, S110 - a peer failing here fails again, recorded, in the run
            pass
    for name in ("gaussian", "nlm", "tv"):
        try:
            R.denoise(x, name, sigma=0.1)
        except Exception:  # noqa: BLE001, S110 - warm-up only
            pass


# --------------------------------------------------------------------------------------------------------
# tasks
# --------------------------------------------------------------------------------------------------------

def bench_denoise(run: Runner, images, sizes, sigmas, after_image=None, reps: int = 1) -> None:
    """Every aip denoiser and the peers; ``after_image()`` is called after each image (saves partial results).
    ``reps > 1`` repeats each image with other noise draws, as rows named ``image#r``."""
    import aip.restore as R
    from aip.degrade import add_gaussian_noise

    methods = aip_methods(run, "denoise")
    for size in sizes:
        for image, rep in [(i, r) for i in images for r in range(reps)]:
            clean = load_clean(image, size)
            image_name = f"{image}#{rep}" if rep else image
            for s255 in sigmas:
                sigma = s255 / 255.0
                seed = seed_of("denoise", image, size, s255, *([rep] if rep else []))
                noisy = add_gaussian_noise(clean, sigma, rng=seed)
                setting = f"{size}/sigma{s255:g}"
                key = f"denoise-{image}-{size}-{s255:g}" if image == images[0] and size == sizes[0] \
                    and s255 == sigmas[len(sigmas) // 2] and not rep else None
                if key:
                    run.strips[key] = [("clean", clean)]
                run.run("denoise", setting, image_name, "noisy", lambda: noisy, clean, strip_key=key)
                for m in methods:
                    run.run("denoise", setting, image_name, f"aip:{m}",
                            lambda m=m: R.denoise(noisy, m, sigma=sigma), clean, strip_key=key)
                run.run("denoise", setting, image_name, "bm3d", lambda: peer_bm3d(noisy, sigma), clean, strip_key=key)
                _sweep(run, "denoise", setting, image_name, "skimage:nl_means", 3,
                       lambda: peer_skimage_nlm(noisy, sigma, clean), clean, key)
                _sweep(run, "denoise", setting, image_name, "opencv:fastNlMeans", 3,
                       lambda: peer_opencv_nlm(noisy, sigma, clean), clean, key)
            if after_image is not None:
                after_image()


COLOUR_IMAGES = ("astronaut", "coffee", "chelsea")
COLOUR_METHODS = ("wnnm", "nlm", "dct")


def peer_skimage_nlm_rgb(noisy, sigma, clean):
    from skimage.restoration import denoise_nl_means

    grid = (0.6, 0.8, 1.0)
    out, h = best_of(lambda f: denoise_nl_means(noisy, h=f * sigma, sigma=sigma, patch_size=5, patch_distance=6,
                                                fast_mode=True, channel_axis=-1), grid, clean)
    return out, f"h={h}*sigma"


def bench_colour(run: Runner, images, size, s255=25.0) -> None:
    """RGB denoising: aip in the opponent space (the front door's default) and per RGB channel vs CBM3D."""
    import aip.restore as R
    from aip.io import load_sample

    sigma = s255 / 255.0
    methods = [m for m in COLOUR_METHODS if m in aip_methods(run, "denoise")]
    for image in images:
        clean = load_sample(image, size=size).astype(np.float64)
        noisy = (clean + sigma * np.random.default_rng(seed_of("colour", image, size, s255))
                 .standard_normal(clean.shape)).astype(np.float32)
        setting = f"rgb{size}/sigma{s255:g}"
        run.run("colour", setting, image, "noisy", lambda: noisy, clean)
        for m in methods:
            for col in ("opponent", "rgb"):
                name = f"aip:{m}" if col == "opponent" else f"aip:{m}:rgb"
                run.run("colour", setting, image, name, lambda m=m, col=col: R.denoise(noisy, m, sigma=sigma, colour=col),
                        clean)
        run.run("colour", setting, image, "bm3d:bm3d_rgb", lambda: peer_bm3d_rgb(noisy, sigma), clean)
        _sweep(run, "colour", setting, image, "skimage:nl_means", 3, lambda: peer_skimage_nlm_rgb(noisy, sigma, clean),
               clean, None)


def _sweep(run: Runner, task, setting, image, method, n_grid, fn, clean, key, shave: int = 0):
    """Record a grid-searched peer with the time of one setting (sweep time / grid size)."""
    row = run.run(task, setting, image, method, fn, clean, strip_key=key, shave=shave)
    if row is not None:
        row["time_s"] /= n_grid
        row["time_note"] = f"sweep of {n_grid} settings / {n_grid}"


def bench_deblur(run: Runner, images, size, sigma=0.01) -> None:
    import aip.restore as R

    kernels = deblur_kernels()
    methods = aip_methods(run, "deblur")
    for image in images:
        clean = load_clean(image, size)
        for kname, k in kernels.items():
            y = blurred(clean, k, sigma, image, size, kname)
            setting = f"{size}/{kname}"
            key = f"deblur-{image}-{kname}" if image == images[0] and kname == "gaussian1.6" else None
            if key:
                run.strips[key] = [("clean", clean)]
            run.run("deblur", setting, image, "blurred", lambda: y, clean, strip_key=key)
            for m in methods:
                # Richardson-Lucy assumes non-negative (Poisson) data: it gets y clipped at 0, as skimage's does
                y_in = np.clip(y, 0.0, None) if m == "richardson_lucy" else y
                run.run("deblur", setting, image, f"aip:{m}", lambda m=m, y_in=y_in: R.deblur(y_in, k, m, sigma=sigma,
                                                                                         edges="circular"),
                        clean, strip_key=key)
            _deblur_peers(run, setting, image, y, k, sigma, clean, key)


def _deblur_peers(run, setting, image, y, k, sigma, clean, key):
    _sweep(run, "deblur", setting, image, "skimage:wiener", len(WIENER_BALANCES),
           lambda: peer_wiener(y, k, clean), clean, key)
    run.run("deblur", setting, image, "skimage:unsupervised_wiener", lambda: peer_unsupervised_wiener(y, k), clean,
            strip_key=key)
    _sweep(run, "deblur", setting, image, "skimage:richardson_lucy", len(RL_ITERATIONS),
           lambda: peer_richardson_lucy(y, k, clean), clean, key)
    run.run("deblur", setting, image, "bm3d:bm3d_deblurring", lambda: peer_bm3d_deblurring(y, k, sigma), clean,
            strip_key=key)


def bench_inpaint(run: Runner, images, size) -> None:
    import aip.restore as R

    masks = inpaint_masks()
    methods = aip_methods(run, "inpaint")
    for image in images:
        clean = load_clean(image, size)
        for mname, mk in masks.items():
            m = mk(clean.shape)
            y = np.where(m, 0.0, clean)
            setting = f"{size}/{mname}"
            key = f"inpaint-{image}-{mname}" if image == images[0] and mname in ("random80", "text") else None
            if key:
                run.strips[key] = [("clean", clean)]
            run.run("inpaint", setting, image, "masked", lambda: y, clean, strip_key=key,
                    extra={"missing": float(m.mean())})
            for meth in methods:
                run.run("inpaint", setting, image, f"aip:{meth}", lambda meth=meth: R.inpaint(y, m, meth), clean,
                        strip_key=key)
            run.run("inpaint", setting, image, "skimage:biharmonic", lambda: peer_biharmonic(y, m), clean,
                    strip_key=key)
            for cv in ("telea", "ns"):
                run.run("inpaint", setting, image, f"opencv:{cv}", lambda cv=cv: peer_opencv_inpaint(y, m, cv), clean,
                        strip_key=key)


def bench_sr(run: Runner, images, size, scales=(2, 3)) -> None:
    import aip.restore as R

    methods = aip_methods(run, "upscale")
    for image in images:
        full = load_clean(image, size)
        for s in scales:
            clean, lr, n = sr_pair(full, size, s)
            setting = f"{n}/x{s}"
            key = f"sr-{image}-x{s}" if image == images[0] else None
            if key:
                run.strips[key] = [("clean", clean)]
            run.run("sr", setting, image, "pillow:bicubic", lambda: peer_bicubic(lr, n), clean, shave=s,
                    strip_key=key)
            for m in methods:
                run.run("sr", setting, image, f"aip:{m}", lambda m=m: R.upscale(lr, s, m), clean, shave=s,
                        strip_key=key)


# --------------------------------------------------------------------------------------------------------
# summaries, targets, plots
# --------------------------------------------------------------------------------------------------------

def summarise(rows: list[dict]) -> list[dict]:
    """Mean PSNR/SSIM/time (and any figure in ``EXTRA_FIGURES`` every row has) per (task, setting without the
    image, method)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["task"], r["setting"], r["method"]), []).append(r)
    out = []
    for (task, setting, method), rs in groups.items():
        row = {"task": task, "setting": setting, "method": method, "n": len(rs)}
        for key in ("psnr", "ssim", "time_s", *(k for k in EXTRA_FIGURES if all(k in r for r in rs))):
            row[key] = float(np.mean([r[key] for r in rs]))
        out.append(row)
    return out


#: Figures besides PSNR/SSIM/time that :func:`summarise` averages where a method's rows all have them
EXTRA_FIGURES = ("hf_ratio",)


def _mean(summary, task, method, setting_filter=lambda s: True, key="psnr"):
    vals = [r[key] for r in summary if r["task"] == task and r["method"] == method and setting_filter(r["setting"])]
    return float(np.mean(vals)) if vals else None


def targets(summary: list[dict]) -> list[dict]:
    """The issue's targets, evaluated on what ran."""
    t: list[dict] = []

    def add(name, ok, detail):
        t.append({"target": name, "status": "n/a" if ok is None else ("PASS" if ok else "FAIL"), "detail": detail})

    den_settings = sorted({r["setting"] for r in summary if r["task"] == "denoise"})
    if den_settings:
        w, b = _mean(summary, "denoise", "aip:wnnm"), _mean(summary, "denoise", "bm3d")
        wt, bt = _mean(summary, "denoise", "aip:wnnm", key="time_s"), _mean(summary, "denoise", "bm3d", key="time_s")
        if w is not None and b is not None:
            add("WNNM >= bm3d + 0.2 dB (mean)", w >= b + 0.2, f"WNNM {w:.2f} dB vs bm3d {b:.2f} dB ({w - b:+.2f})")
            add("WNNM time <= 10x bm3d", wt <= 10 * bt, f"WNNM {wt:.2f} s vs bm3d {bt:.2f} s ({wt / bt:.1f}x)")
        else:
            add("WNNM >= bm3d + 0.2 dB (mean)", None, "WNNM or bm3d did not run")
        n, sk, cv = (_mean(summary, "denoise", m) for m in ("aip:nlm", "skimage:nl_means", "opencv:fastNlMeans"))
        if None not in (n, sk, cv):
            add("NLM >= skimage NLM and OpenCV NLM (best h)", n >= max(sk, cv) - 1e-9,
                f"aip {n:.2f} dB, skimage {sk:.2f} dB, OpenCV {cv:.2f} dB")
            nt = _mean(summary, "denoise", "aip:nlm", key="time_s")
            st = _mean(summary, "denoise", "skimage:nl_means", key="time_s")
            add("NLM faster than skimage NLM", nt < st, f"aip {nt:.3f} s vs skimage {st:.3f} s ({st / nt:.2f}x)")
        worse = []
        for s in den_settings:
            noisy = _mean(summary, "denoise", "noisy", lambda x, s=s: x == s)
            for r in summary:
                if r["task"] == "denoise" and r["setting"] == s and r["method"].startswith("aip:") \
                        and r["psnr"] <= noisy:
                    worse.append(f"{r['method']} at {s}")
        add("every aip denoiser beats the noisy input", not worse, "all do" if not worse else "not: " + ", ".join(worse))
    if any(r["task"] == "deblur" for r in summary):
        for kset in sorted({r["setting"] for r in summary if r["task"] == "deblur"}):
            f = (lambda x, k=kset: x == k)
            tv = _mean(summary, "deblur", "aip:tv", f)
            sk = [v for v in (_mean(summary, "deblur", m, f) for m in
                              ("skimage:wiener", "skimage:unsupervised_wiener", "skimage:richardson_lucy"))
                  if v is not None]
            if tv is not None and sk:
                add(f"deblur {kset}: TV >= best skimage + 1 dB", tv >= max(sk) + 1.0,
                    f"TV {tv:.2f} dB vs best skimage {max(sk):.2f} dB ({tv - max(sk):+.2f})")
            pnp, bd = _mean(summary, "deblur", "aip:pnp", f), _mean(summary, "deblur", "bm3d:bm3d_deblurring", f)
            if pnp is not None and bd is not None:
                add(f"deblur {kset}: PnP >= bm3d_deblurring", pnp >= bd,
                    f"PnP {pnp:.2f} dB vs bm3d_deblurring {bd:.2f} dB ({pnp - bd:+.2f})")
    if any(r["task"] == "inpaint" for r in summary):
        for mset in sorted({r["setting"] for r in summary if r["task"] == "inpaint"}):
            f = (lambda x, k=mset: x == k)
            n_all = max(r["n"] for r in summary if r["task"] == "inpaint" and r["setting"] == mset)
            ours = {r["method"]: r["psnr"] for r in summary if r["task"] == "inpaint" and r["setting"] == mset
                    and r["method"].startswith("aip:") and r["n"] == n_all}  # methods that ran on every image
            peers = [v for v in (_mean(summary, "inpaint", m, f) for m in
                                 ("skimage:biharmonic", "opencv:telea", "opencv:ns")) if v is not None]
            if ours and peers:
                bm = max(ours, key=ours.get)
                add(f"inpaint {mset}: best aip >= best peer + 1 dB", ours[bm] >= max(peers) + 1.0,
                    f"{bm} {ours[bm]:.2f} dB vs best peer {max(peers):.2f} dB ({ours[bm] - max(peers):+.2f})")
    if any(r["task"] == "sr" for r in summary):
        for sset in sorted({r["setting"] for r in summary if r["task"] == "sr"}):
            f = (lambda x, k=sset: x == k)
            sp, bc = _mean(summary, "sr", "aip:sparse", f), _mean(summary, "sr", "pillow:bicubic", f)
            if sp is not None and bc is not None:
                add(f"SR {sset}: sparse >= bicubic + 0.5 dB", sp >= bc + 0.5,
                    f"sparse {sp:.2f} dB vs bicubic {bc:.2f} dB ({sp - bc:+.2f})")
            else:
                add(f"SR {sset}: sparse >= bicubic + 0.5 dB", None, "sparse SR not available")
    for cset in sorted({r["setting"] for r in summary if r["task"] == "colour"}):
        f = (lambda x, k=cset: x == k)
        cb = _mean(summary, "colour", "bm3d:bm3d_rgb", f)
        for m in COLOUR_METHODS:
            opp, rgb = _mean(summary, "colour", f"aip:{m}", f), _mean(summary, "colour", f"aip:{m}:rgb", f)
            if opp is not None and rgb is not None:  # NLM's colour distance is rotation invariant: equal is right
                add(f"colour {cset}: {m} in opponent space >= on RGB", opp >= rgb - 0.01,
                    f"opponent {opp:.2f} dB vs RGB {rgb:.2f} dB ({opp - rgb:+.2f})")
        w = _mean(summary, "colour", "aip:wnnm", f)
        if w is not None and cb is not None:
            add(f"colour {cset}: WNNM (opponent) vs CBM3D (informative)", None if w < cb else True,
                f"WNNM {w:.2f} dB vs bm3d_rgb {cb:.2f} dB ({w - cb:+.2f})")
    return t


def write_markdown(path: Path, meta: dict, summary: list[dict], tgt: list[dict], notes: list[str], plots: list[str]):
    cmd = meta.get("command") or f"benchmarks/restore.py{' --quick' if meta['quick'] else ''}"
    intro = (f"Generated by `{cmd}` on {meta['date']} "
             f"({meta['machine']}; {meta['threads']}). Gray images {', '.join(meta['images'])}; "
             "PSNR in dB (data range 1, outputs clipped to [0, 1]), SSIM with a Gaussian window, time in seconds "
             "per image (one thread; the machine was shared, so compare times within a table, as ratios).")
    if meta.get("reps", 1) > 1:
        intro += (f" Denoising used {meta['reps']} noise draws per image (rows `image#r` in the JSON), so each mean "
                  f"is over {meta['reps']} x {len(meta['images'])} cases.")
    if meta.get("merged_from"):
        intro += (f" Tasks were run one after the other (`--merge`); the earlier tables come from the run of "
                  f"{meta['merged_from']}.")
    if meta.get("merged_settings"):
        intro += (f" Denoising settings {', '.join(meta['merged_settings'])} were kept from that run; the other "
                  "settings were re-run (all methods, side by side).")
    grid = ("skimage:nl_means (h), opencv:fastNlMeans (h), skimage:wiener (balance) and skimage:richardson_lucy "
            "(iterations) were run on a parameter grid and the best PSNR kept (an oracle choice in their favour); "
            "their time is that of one setting (the `param` field of the JSON rows names the choice). "
            "aip methods run with their defaults, with the true sigma.")
    lines = ["# Restoration benchmark", "", intro, "", grid, ""]
    lines += ["## Targets", "", *md_table(["target", "status", "measured"],
                                         [[t["target"], t["status"], t["detail"]] for t in tgt]), ""]
    for task, title in (("denoise", "Denoising"), ("deblur", "Deblurring"), ("inpaint", "Inpainting"),
                        ("sr", "Super-resolution"), ("colour", "Colour denoising (RGB)")):
        rows = [r for r in summary if r["task"] == task]
        if not rows:
            continue
        settings = sorted({r["setting"] for r in rows}, key=lambda s: (len(s), s))
        methods = list(dict.fromkeys(r["method"] for r in rows))
        table = []
        for m in methods:
            cells = [m]
            for s in settings:
                r = next((r for r in rows if r["method"] == m and r["setting"] == s), None)
                n_all = max(x["n"] for x in rows if x["setting"] == s)
                cell = "-" if r is None else f"{r['psnr']:.2f} / {r['ssim']:.3f} / {r['time_s']:.2f}"
                if r is not None and r["n"] < n_all:
                    cell += f" ({r['n']}/{n_all} images, see notes)"
                cells.append(cell)
            table.append(cells)
        lines += [f"## {title} (mean over images)", "",
                  *md_table(["method", *(f"{s} PSNR / SSIM / s" for s in settings)], table), ""]
    if plots:
        lines += ["## Figures", ""] + [f"![{p}]({p})" for p in plots] + [""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    path.write_text("\n".join(lines))


def plot_strips(strips: dict, prefix: str, n_cols: int = 6, crop: int = 128) -> list[str]:
    """One PNG per task: for each strip key, the clean image, the input and every output, wrapped in rows
    of ``n_cols``; a centre crop of ``crop`` pixels so the detail is visible."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    by_task: dict[str, list] = {}
    for key, items in strips.items():
        by_task.setdefault(key.split("-")[0], []).append((key, items))
    for task, groups in by_task.items():
        layout = []  # (row index, key, items of that row)
        for key, items in groups:
            for r0 in range(0, len(items), n_cols):
                layout.append((key, items[r0:r0 + n_cols], r0 == 0))
        fig, axes = plt.subplots(len(layout), n_cols, figsize=(2.0 * n_cols, 2.25 * len(layout)), squeeze=False)
        for i, (key, items, first) in enumerate(layout):
            for j in range(n_cols):
                ax = axes[i][j]
                ax.axis("off")
                if j < len(items):
                    label, img = items[j]
                    h, w = img.shape[:2]
                    c = min(crop, h, w)
                    y0, x0 = (h - c) // 2, (w - c) // 2
                    ax.imshow(img[y0:y0 + c, x0:x0 + c], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                    ax.set_title(label, fontsize=7)
            if first:
                axes[i][0].text(-0.08, 0.5, key.split("-", 1)[1], transform=axes[i][0].transAxes, rotation=90,
                                va="center", ha="right", fontsize=7)
        fig.suptitle(f"{task}: centre crops ({crop} px); PSNR of the whole image", fontsize=8)
        fig.tight_layout()
        name = f"{prefix}_{task}_strip.png"
        fig.savefig(RESULTS / name, dpi=100)
        plt.close(fig)
        names.append(name)
    return names


def plot_scatter(summary: list[dict], prefix: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in ("denoise", "deblur", "inpaint", "sr") if any(r["task"] == t for r in summary)]
    if not tasks:
        return []
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rows = [r for r in summary if r["task"] == task and r["method"] not in ("noisy", "blurred", "masked")]
        methods = list(dict.fromkeys(r["method"] for r in rows))
        for m in methods:
            p = np.mean([r["psnr"] for r in rows if r["method"] == m])
            t = max(np.mean([r["time_s"] for r in rows if r["method"] == m]), 1e-4)
            ax.scatter([t], [p], marker="o" if m.startswith("aip:") else "s",
                       color="tab:blue" if m.startswith("aip:") else "tab:red", s=18)
            ax.annotate(m.replace("aip:", ""), (t, p), fontsize=6, xytext=(2, 2), textcoords="offset points")
        ax.set_xscale("log")
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_xlabel("time per image (s, log)")
        ax.set_ylabel("mean PSNR (dB)")
        ax.set_title(f"{task}: aip (blue) vs peers (red)", fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    name = f"{prefix}_scatter.png"
    fig.savefig(RESULTS / name, dpi=120)
    plt.close(fig)
    return [name]


# --------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small images, one sigma, fewer settings")
    ap.add_argument("--tasks", nargs="+", default=["denoise", "deblur", "inpaint", "sr", "colour"],
                    choices=["denoise", "deblur", "inpaint", "sr", "colour"])
    ap.add_argument("--images", nargs="+", default=None, help="sample names (default: camera astronaut coffee chelsea)")
    ap.add_argument("--sizes", nargs="+", type=int, default=None, help="denoising sizes (default: 256)")
    ap.add_argument("--reps", type=int, default=1,
                    help="denoising: noise draws per image (rows image#1, image#2... after the first)")
    ap.add_argument("--sigmas", nargs="+", type=float, default=None, help="0-255 scale (default: 15 25 50)")
    ap.add_argument("--size", type=int, default=None, help="size for deblur/inpaint/sr (default: 256)")
    ap.add_argument("--skip", nargs="*", default=[], help="method names to skip (e.g. ksvd bm3d)")
    ap.add_argument("--only", nargs="*", default=None, help="run only these methods (plus the input rows)")
    ap.add_argument("--prefix", default=None, help="output file prefix (default: restore, or restore_quick)")
    ap.add_argument("--strips-only", action="store_true",
                    help="only redo the before/after strip PNGs (first image, middle sigma); tables untouched")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the markdown and the scatter plot from the existing JSON, running nothing")
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows of the tasks not run now from the existing results file (run task by task)")
    args = ap.parse_args(argv)

    one_thread()
    q = args.quick
    images = args.images or (["camera", "astronaut"] if q else ["camera", "astronaut", "coffee", "chelsea"])
    sizes = args.sizes or ([96] if q else [256])
    sigmas = args.sigmas or ([25.0] if q else [15.0, 25.0, 50.0])
    size = args.size or (96 if q else 256)
    prefix = args.prefix or ("restore_quick" if q else "restore")
    only = set(args.only) | {"noisy", "blurred", "masked"} if args.only is not None else None
    run = Runner(q, set(args.skip), only)
    run.strip_only = args.strips_only
    RESULTS.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    meta = {"quick": q, **run_meta(), "images": images, "sizes": sizes, "sigmas": sigmas, "size": size,
            "python": sys.version.split()[0], "reps": args.reps,
            "command": shlex.join(["benchmarks/restore.py", *(sys.argv[1:] if argv is None else argv)])}

    kept: list[dict] = []
    kept_notes: list[str] = []
    old_path = RESULTS / f"{prefix}.json"
    if args.report_only:
        if not old_path.exists():
            print(f"{old_path}: no results to report", file=sys.stderr)
            return 2
        old = json.loads(old_path.read_text())
        summary = summarise(old["rows"])
        tgt = targets(summary)
        plot_scatter(summary, prefix)
        tasks_done = {r["task"] for r in old["rows"]}
        plots = [f"{prefix}_{t}_strip.png" for t in ("denoise", "deblur", "inpaint", "sr")
                 if t in tasks_done and (RESULTS / f"{prefix}_{t}_strip.png").exists()] + [f"{prefix}_scatter.png"]
        old["summary"], old["targets"] = summary, tgt
        old_path.write_text(json.dumps(old, indent=1))
        write_markdown(RESULTS / f"{prefix}.md", old["meta"], summary, tgt, old.get("notes", []), plots)
        print(f"rewrote {RESULTS / (prefix + '.md')}")
        return 0
    if args.strips_only:
        warm_up(args.tasks)
        if "denoise" in args.tasks:
            bench_denoise(run, images[:1], sizes[:1], [sigmas[len(sigmas) // 2]])
        if "deblur" in args.tasks:
            bench_deblur(run, images[:1], size)
        if "inpaint" in args.tasks:
            bench_inpaint(run, images[:1], size)
        if "sr" in args.tasks:
            bench_sr(run, images[:1], size)
        print("wrote", ", ".join(plot_strips(run.strips, prefix)))
        return 0
    if args.merge and old_path.exists():
        old = json.loads(old_path.read_text())
        # denoising is merged per setting (size/sigma): a run of some sigmas keeps the others' rows
        redo = {f"{z}/sigma{s:g}" for z in sizes for s in sigmas} if "denoise" in args.tasks else set()
        kept = [r for r in old.get("rows", []) if r["task"] not in args.tasks
                or (r["task"] == "denoise" and r["setting"] not in redo)]
        now = set(args.tasks) | ({"upscale"} if "sr" in args.tasks else set())
        kept_notes = [n for n in old.get("notes", []) if n.split("/")[0] not in now
                      or (n.startswith("denoise/") and " on " in n
                          and n.split(" on ", 1)[1].split(":", 1)[0].split()[-1] not in redo)]
        old_meta = old.get("meta", {})
        meta["merged_from"] = old_meta.get("date")
        kept_den = sorted({r["setting"] for r in kept if r["task"] == "denoise"})
        if kept_den:
            meta["merged_settings"] = kept_den
            if set(kept_den) <= set(old_meta.get("merged_settings", [])):  # kept rows older than the old run
                meta["merged_from"] = old_meta.get("merged_from")

    def save(final: bool = False):
        rows = kept + run.rows
        summary = summarise(rows)
        tgt = targets(summary)
        plots = []
        if final:
            plot_strips(run.strips, prefix)
            plot_scatter(summary, prefix)
            tasks_done = {r["task"] for r in rows}
            plots = [f"{prefix}_{t}_strip.png" for t in ("denoise", "deblur", "inpaint", "sr")
                     if t in tasks_done and (RESULTS / f"{prefix}_{t}_strip.png").exists()]
            plots.append(f"{prefix}_scatter.png")
        meta["elapsed_s"] = time.perf_counter() - t_start
        notes = kept_notes + run.notes
        (RESULTS / f"{prefix}.json").write_text(json.dumps(
            {"meta": meta, "targets": tgt, "summary": summary, "rows": rows, "notes": notes}, indent=1))
        write_markdown(RESULTS / f"{prefix}.md", meta, summary, tgt, notes, plots)
        return tgt

    sr_images = images[:2]
    warm_up(args.tasks)
    if "denoise" in args.tasks:
        print("== denoise", flush=True)
        bench_denoise(run, images, sizes, sigmas, after_image=save, reps=args.reps)
        save()
    if "deblur" in args.tasks:
        print("== deblur", flush=True)
        bench_deblur(run, images[:1] if q else images[:2], size)
        save()
    if "inpaint" in args.tasks:
        print("== inpaint", flush=True)
        bench_inpaint(run, images[:1] if q else images, size)
        save()
    if "sr" in args.tasks:
        print("== sr", flush=True)
        bench_sr(run, sr_images[:1] if q else sr_images, size)
        save()
    if "colour" in args.tasks:
        print("== colour", flush=True)
        bench_colour(run, COLOUR_IMAGES[:1] if q else COLOUR_IMAGES, size)
        save()
    tgt = save(final=True)
    print(f"\nwrote {RESULTS / (prefix + '.md')} in {time.perf_counter() - t_start:.0f} s")
    for t in tgt:
        print(f"  [{t['status']}] {t['target']}: {t['detail']}")
    for n in run.notes:
        print(f"  note: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
