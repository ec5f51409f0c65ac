"""Learned-restoration benchmark (issue 11, section 4): DnCNN/FFDNet/SRCNN/VDSR/ESPCN against the classical methods.

Same clean images and seeded degradations as ``benchmarks/restore.py`` (``_common``: gray camera, astronaut,
coffee, chelsea at 256; the same noise seeds, blur and bicubic downsampling), peers in the same process, one
thread for everyone (torch, OpenCV, BLAS, the bm3d package through its profile). PSNR (dB, data range 1,
outputs clipped to [0, 1]), SSIM and wall seconds per image.

Sections:
1. denoise: gray, sigma 15/25/50: noisy, every learned denoiser, bm3d, aip WNNM (``--skip wnnm``: slow);
   colour: RGB astronaut/coffee/chelsea at sigma 25, every 3-channel learned denoiser against CBM3D.
2. sr: x2 and x4 bicubic downsampling: aip bicubic, aip sparse SR, every learned SR model of that scale
   (``scale`` pixels shaved).
3. deblur: Gaussian blur 1.6 (circular) + noise 0.01: aip TV, aip PnP with its classical denoiser, and PnP
   (``deblur_pnp``) with every learned gray denoiser.
   Learned PnP runs with its own settings (PNP_LEARNED: tuned on training-photo crops, never on these images).
4. blind: the same blurred images; the multi-scale CNN (no PSF given) against Wiener and TV given the true PSF
   (a border of BLIND_SHAVE pixels left out for all, since the CNN never saw the circular wrap-around).
5. hole: 25% central holes (the context encoder's setting, Pathak et al.): HOLE_CROP-pixel crops of the gray
   images on a checkerboard of tiles, PSNR/SSIM on the hole only; the context encoder against aip harmonic,
   scikit-image's biharmonic and aip WNNM.
6. timing: every learned denoiser on 512x512 gray (median of 3 after a warm-up), and bm3d once on the same image.
7. curves: PSNR against training time from the ``log.jsonl`` of every run directory given.
8. strips: clean / degraded / outputs (centre crops) of the first image of each task.

Models are given as specs (:func:`load_restorer`): ``shipped:NAME`` (the package's asset store), a run directory
of ``aip train`` or a folder/file holding a state dict (``.pt`` or ``.safetensors``) with a JSON config
``{"model": "ffdnet", ...fields}`` beside it, or ``untrained:NAME[,key=value...]`` (a fresh model, for smoke
runs). With no spec, every restorer in the shipped asset store is used; with none there, nothing runs and the
results are left as they are.

Usage::

    python benchmarks/deep_restore.py --denoiser shipped:ffdnet --sr shipped:espcn_x2 --sr shipped:espcn_x4
    python benchmarks/deep_restore.py --denoiser runs/ffdnet --skip wnnm --sizes 512   # timing at 512
    python benchmarks/deep_restore.py --quick --denoiser untrained:ffdnet --out-dir /tmp/deep
    python benchmarks/deep_restore.py --blind runs/msdeblur --inpaint runs/context_encoder --tasks blind hole

Writes ``<out-dir>/<out-prefix>.md``, ``.json``, ``<prefix>_<task>_strip.png`` and ``<prefix>_curves.png``
(out-dir: benchmarks/results; prefix ``deep_restore``, ``deep_restore_quick`` with ``--quick``).
"""

from __future__ import annotations

# ruff: noqa: B023 - the lambdas handed to Runner.run are called at once, inside their loop iteration
from _common import (  # first: importing it pins the thread pools before numpy loads
    RESULTS,
    blurred,
    deblur_kernels,
    load_clean,
    md_table,
    one_thread,
    peer_bm3d,
    peer_bm3d_rgb,
    quality,
    run_meta,
    seed_of,
    sr_pair,
    timed,
    write_results,
)
from restore import COLOUR_IMAGES, Runner, _mean, plot_strips, summarise

# isort: split
import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np

IMAGES = ("camera", "astronaut", "coffee", "chelsea")
DENOISERS = ("dncnn", "ffdnet")
SR_MODELS = ("srcnn", "vdsr", "espcn", "srresnet", "srgan")
KINDS = {"dncnn": "denoiser", "ffdnet": "denoiser", "msdeblur": "blind", "context_encoder": "inpaint"}
TASKS = ("denoise", "colour", "sr", "deblur", "blind", "hole", "timing", "curves")
PNP_LEARNED = {"lam": 0.6, "n_iter": 6, "sigma_start": 0.3}  # best of a sweep on 6 training-photo crops
BLIND_SHAVE = 8
HOLE_CROP, HOLE_FRACTION = 64, 0.25
DEBLUR_KERNEL, DEBLUR_SIGMA = "gaussian1.6", 0.01
TIMING_SIZE, TIMING_SIGMA, TIMING_REPS = 512, 25.0, 3


# --------------------------------------------------------------------------------------------------------
# loading the learned restorers
# --------------------------------------------------------------------------------------------------------

def load_restorer(spec: str):
    """The restorer of ``spec`` (eval mode) and a record ``{label, spec, model, kind, config, params, source,
    log}``: ``shipped:NAME`` through :func:`aip.models.learned.load_restorer` (asset ``restore_NAME``), a run
    directory through :func:`aip.train.run.load_run` (EMA weights), ``untrained:NAME[,key=value...]`` through
    the registry. A missing asset raises :class:`~aip.io.assets.MissingAssetError`."""
    import torch

    from aip.io.assets import asset_path
    from aip.models import learned
    from aip.models.registry import build_model
    from aip.train.run import load_run

    record: dict = {"spec": spec, "log": None}
    if spec.startswith("shipped:"):
        name = spec.split(":", 1)[1]
        asset = name if name.startswith(learned.PREFIX) else learned.PREFIX + name
        net = learned.load_restorer(asset)
        record.update(label=name, source=str(asset_path(asset)))
    elif spec.startswith("untrained:"):
        name, *pairs = spec.split(":", 1)[1].split(",")
        torch.manual_seed(0)
        net = build_model(name, **{k: json.loads(v) for k, v in (q.split("=", 1) for q in pairs)})
        record.update(label=f"{name}-untrained", source="fresh weights (torch seed 0)")
    else:
        net, meta = load_run(spec, ema=True)
        log = Path(spec) / "log.jsonl"
        record.update(label=Path(spec).name, source=meta["checkpoint"], log=str(log) if log.is_file() else None)
    net = net.eval()
    cfg = net.config_dict()
    record.update(model=cfg["model"], kind=KINDS.get(cfg["model"], "sr"), config=cfg,
                  channels=int(getattr(net.config, "channels", 1)), scale=int(getattr(net.config, "scale", 1)),
                  params=int(sum(p.numel() for p in net.parameters())))
    return net, record


def load_all(specs: list[tuple[str, str]], notes: list[str]) -> list[tuple]:
    """[(model, record)] for every (spec, kind) (shipped restorers when none is given); problems go to ``notes``."""
    from aip.io.assets import MissingAssetError
    from aip.models.learned import PREFIX, shipped_restorers

    if not specs:
        specs = [(f"shipped:{a[len(PREFIX):]}", None) for a in shipped_restorers()
                 if shipped_restorers()[a].get("model") in (*KINDS, *SR_MODELS)]
        if not specs:
            notes.append("skipped: no shipped weights (no --denoiser/--sr given and the asset store holds no restorer)")
    out, labels = [], set()
    for spec, want in specs:
        try:
            net, rec = load_restorer(spec)
        except MissingAssetError as exc:
            notes.append(f"{spec}: skipped: {exc}")
            continue
        except (ValueError, FileNotFoundError, OSError, RuntimeError) as exc:
            notes.append(f"{spec}: not loaded: {type(exc).__name__}: {exc}")
            continue
        if want is not None and rec["kind"] != want:
            notes.append(f"{spec}: a {rec['model']} given as --{want}: skipped")
            continue
        base, i = rec["label"], 2
        while rec["label"] in labels:
            rec["label"], i = f"{base}#{i}", i + 1
        labels.add(rec["label"])
        out.append((net, rec))
        scale = f", x{rec['scale']}" if rec["kind"] == "sr" else ""
        print(f"loaded {rec['label']}: {rec['model']} ({rec['params']:,} parameters, {rec['channels']} channel(s)"
              f"{scale}) from {rec['source']}", flush=True)
    return out


# --------------------------------------------------------------------------------------------------------
# running a network on numpy images
# --------------------------------------------------------------------------------------------------------

SPEC_OPTIONS = ("denoiser", "sr", "blind", "inpaint")  # the --OPTION SPEC flags, named as the record kinds


def net_apply(net, image: np.ndarray, *, sigma: float | None = None, scale: int = 1, mask=None) -> np.ndarray:
    """``net.restore`` on one (H, W) or (H, W, 3) image, tiled (aip.models.restorers.apply_tiled) above 512 px;
    with a ``mask`` (True = missing), whole (a hole needs all its context)."""
    import torch

    from aip.models.restorers import apply_tiled

    a = np.asarray(image, dtype=np.float32)
    x = torch.from_numpy(np.ascontiguousarray(a[None, None] if a.ndim == 2 else np.moveaxis(a, -1, 0)[None]))
    with torch.inference_mode():
        if mask is not None:
            out = net.restore(x, mask=torch.from_numpy(np.asarray(mask, dtype=bool)))
        else:
            out = apply_tiled(lambda t: net.restore(t, sigma=sigma), x, tile=512, overlap=32, scale=scale,
                              multiple=2 if scale == 1 else 1)
    out = out[0].numpy()
    return out[0] if a.ndim == 2 else np.moveaxis(out, 0, -1)


def warm_up(nets) -> None:
    """First-call costs (torch kernels, bm3d, the aip methods' imports) paid before any timing."""
    import aip.restore as R

    x = np.random.default_rng(0).random((32, 32))
    for net, rec in nets:
        shape = (32, 32) if rec["channels"] == 1 else (32, 32, 3)
        mask = np.zeros((32, 32), bool) if rec["kind"] == "inpaint" else None
        if mask is not None:
            mask[8:24, 8:24] = True
        net_apply(net, np.resize(x, shape), sigma=0.1, mask=mask, scale=rec["scale"])
    for call in (lambda: peer_bm3d(x, 0.1), lambda: R.denoise(x, "wnnm", sigma=0.1),
                 lambda: R.deblur(x, np.full((3, 3), 1 / 9), "tv", sigma=0.01, edges="circular")):
        try:
            call()
        except Exception:  # noqa: BLE001, S110 - a method failing here fails again, recorded, in the run
            pass


def _gray_denoisers(nets, channels: int = 1):
    return [(n, r) for n, r in nets if r["kind"] == "denoiser" and r["channels"] == channels]


# --------------------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------------------

def bench_denoise(run: Runner, nets, images, sizes, sigmas, after_image=None) -> None:
    """Gray denoising: the same noisy images as restore.py (seed_of("denoise", image, size, sigma))."""
    import aip.restore as R
    from aip.degrade import add_gaussian_noise

    dens = _gray_denoisers(nets)
    for size in sizes:
        for image in images:
            clean = load_clean(image, size)
            for s255 in sigmas:
                sigma = s255 / 255.0
                noisy = add_gaussian_noise(clean, sigma, rng=seed_of("denoise", image, size, s255))
                setting = f"{size}/sigma{s255:g}"
                key = f"denoise-{image}-{size}-{s255:g}" if (image, size, s255) == (
                    images[0], sizes[0], sigmas[len(sigmas) // 2]) else None
                if key:
                    run.strips[key] = [("clean", clean)]
                run.run("denoise", setting, image, "noisy", lambda: noisy, clean, strip_key=key)
                for net, rec in dens:
                    run.run("denoise", setting, image, f"net:{rec['label']}",
                            lambda net=net: net_apply(net, noisy, sigma=sigma), clean, strip_key=key)
                run.run("denoise", setting, image, "bm3d", lambda: peer_bm3d(noisy, sigma), clean, strip_key=key)
                run.run("denoise", setting, image, "aip:wnnm", lambda: R.denoise(noisy, "wnnm", sigma=sigma), clean,
                        strip_key=key)
            if after_image is not None:
                after_image()


def bench_colour(run: Runner, nets, images, size, s255: float = 25.0) -> None:
    """RGB denoising at sigma 25, the noise of restore.py's colour task (seed_of("colour", image, size, sigma))."""
    from aip.io import load_sample

    sigma = s255 / 255.0
    dens = _gray_denoisers(nets, channels=3)
    for image in images:
        clean = load_sample(image, size=size).astype(np.float64)
        noisy = (clean + sigma * np.random.default_rng(seed_of("colour", image, size, s255))
                 .standard_normal(clean.shape)).astype(np.float32)
        setting = f"rgb{size}/sigma{s255:g}"
        key = f"colour-{image}" if image == images[0] else None
        if key:
            run.strips[key] = [("clean", clean)]
        run.run("colour", setting, image, "noisy", lambda: noisy, clean, strip_key=key)
        for net, rec in dens:
            run.run("colour", setting, image, f"net:{rec['label']}", lambda net=net: net_apply(net, noisy, sigma=sigma),
                    clean, strip_key=key)
        run.run("colour", setting, image, "bm3d:bm3d_rgb", lambda: peer_bm3d_rgb(noisy, sigma), clean, strip_key=key)


def _sparse_refuses(scale: int) -> str | None:
    """Why aip's sparse SR cannot run at ``scale`` (None if it can); the call also loads its dictionary."""
    import aip.restore as R

    if "sparse" not in R.available("upscale"):
        return "not built"
    try:
        R.upscale(np.full((16, 16), 0.5), scale, "sparse")
    except ValueError as exc:
        return str(exc)
    return None


def _sharpness(scale: int):
    """``measure`` of an SR row: the high-frequency ratio above the low-resolution Nyquist frequency."""
    from aip.metrics import high_frequency_ratio

    return lambda clean, out: {"hf_ratio": high_frequency_ratio(clean, out, cutoff=0.5 / scale)}


def bench_sr(run: Runner, nets, images, size, scales=(2, 4)) -> None:
    import aip.restore as R

    for s in scales:
        models = [(n, r) for n, r in nets if r["kind"] == "sr" and r["scale"] == s and r["channels"] == 1]
        if not models:
            run.notes.append(f"sr x{s}: no learned SR model of this scale given")
        refused = _sparse_refuses(s) if run.wanted("aip:sparse") else None
        if refused:
            run.notes.append(f"sr/aip:sparse x{s}: skipped ({refused})")
        for image in images:
            clean, lr, n = sr_pair(load_clean(image, size), size, s)
            setting = f"{n}/x{s}"
            key = f"sr-{image}-x{s}" if image == images[0] else None
            if key:
                run.strips[key] = [("clean", clean)]
            sharp = _sharpness(s)
            run.run("sr", setting, image, "aip:bicubic", lambda: R.upscale(lr, s, "bicubic"), clean, shave=s,
                    strip_key=key, measure=sharp)
            if not refused:
                run.run("sr", setting, image, "aip:sparse", lambda: R.upscale(lr, s, "sparse"), clean, shave=s,
                        strip_key=key, measure=sharp)
            for net, rec in models:
                run.run("sr", setting, image, f"net:{rec['label']}", lambda net=net: net_apply(net, lr, scale=s),
                        clean, shave=s, strip_key=key, measure=sharp)


def _blurred_cases(run: Runner, images, size, task: str):
    """(image, clean, y, setting, strip key) for each image: Gaussian blur 1.6 (circular) + noise 0.01, the
    degradation of restore.py's deblurring task; the first image's strip is started with the clean one."""
    k, sigma = deblur_kernels()[DEBLUR_KERNEL], DEBLUR_SIGMA
    for image in images:
        clean = load_clean(image, size)
        key = f"{task}-{image}-{DEBLUR_KERNEL}" if image == images[0] else None
        if key:
            run.strips[key] = [("clean", clean)]
        yield image, clean, blurred(clean, k, sigma, image, size, DEBLUR_KERNEL), f"{size}/{DEBLUR_KERNEL}", key


def bench_deblur(run: Runner, nets, images, size) -> None:
    """TV and classical PnP against PnP with every learned gray denoiser."""
    import aip.restore as R
    from aip._shared.denoiser import as_denoiser
    from aip.restore.variational import deblur_pnp

    k, sigma = deblur_kernels()[DEBLUR_KERNEL], DEBLUR_SIGMA
    for image, clean, y, setting, key in _blurred_cases(run, images, size, "deblur"):
        run.run("deblur", setting, image, "blurred", lambda: y, clean, strip_key=key)
        for m in ("tv", "pnp"):
            run.run("deblur", setting, image, f"aip:{m}", lambda m=m: R.deblur(y, k, m, sigma=sigma, edges="circular"),
                    clean, strip_key=key)
        for net, rec in _gray_denoisers(nets):
            run.run("deblur", setting, image, f"pnp:{rec['label']}",
                    lambda net=net: deblur_pnp(y, k, sigma=sigma, denoiser=as_denoiser(net), boundary="circular",
                                               **PNP_LEARNED),
                    clean, strip_key=key)


def bench_blind(run: Runner, nets, images, size) -> None:
    """The deblurring task's images; the CNN is given only y, Wiener and TV the true PSF (and sigma)."""
    import aip.restore as R

    k, sigma = deblur_kernels()[DEBLUR_KERNEL], DEBLUR_SIGMA
    models = [(n, r) for n, r in nets if r["kind"] == "blind" and r["channels"] == 1]
    for image, clean, y, setting, key in _blurred_cases(run, images, size, "blind"):
        run.run("blind", setting, image, "blurred", lambda: y, clean, shave=BLIND_SHAVE, strip_key=key)
        for m in ("wiener", "tv"):
            run.run("blind", setting, image, f"aip:{m} (true PSF)",
                    lambda m=m: R.deblur(y, k, m, sigma=sigma, edges="circular"), clean, shave=BLIND_SHAVE,
                    strip_key=key)
        for net, rec in models:
            run.run("blind", setting, image, f"net:{rec['label']} (blind)", lambda net=net: net_apply(net, y), clean,
                    shave=BLIND_SHAVE, strip_key=key)


def hole_crops(clean: np.ndarray, crop: int = HOLE_CROP) -> list[tuple[int, int]]:
    """Top-left corners of the tiles of side ``crop`` on a checkerboard (every other tile)."""
    n_r, n_c = clean.shape[0] // crop, clean.shape[1] // crop
    return [(r * crop, c * crop) for r in range(n_r) for c in range(n_c) if (r + c) % 2 == 0]


def bench_hole(run: Runner, nets, images, size, crop: int = HOLE_CROP) -> None:
    """25% central square holes in crops; every method fills the whole crop, scored on the hole only."""
    import aip.restore as R
    from aip.models.inpaint import hole_masks

    mask = hole_masks(1, (crop, crop), HOLE_FRACTION, "center")[0, 0].numpy().astype(bool)
    rows, cols = np.nonzero(mask)
    hole = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))

    def biharmonic(y):
        from skimage.restoration import inpaint_biharmonic

        return inpaint_biharmonic(y, mask)

    methods = [("aip:harmonic", lambda y: R.inpaint(y, mask, "harmonic")), ("skimage:biharmonic", biharmonic),
               ("aip:wnnm", lambda y: R.inpaint(y, mask, "wnnm"))]
    methods += [(f"net:{r['label']}", lambda y, net=n: net_apply(net, y, mask=mask)) for n, r in nets
                if r["kind"] == "inpaint" and r["channels"] == 1]
    side = f"{rows.max() - rows.min() + 1}"
    for image in images:
        full = load_clean(image, size)
        corners = hole_crops(full, crop)
        shown = int(np.argmax([full[r:r + crop, c:c + crop].std() for r, c in corners]))  # the busiest crop
        for i, (r0, c0) in enumerate(corners):
            clean = full[r0:r0 + crop, c0:c0 + crop]
            y = np.where(mask, 0.0, clean)
            setting = f"{crop}/hole{side}"
            key = f"hole-{image}" if image == images[0] and i == shown else None
            if key:
                run.strips[key] = [("clean", clean), ("holed", y)]
            for name, fn in methods:
                full_out: dict = {}

                def fill(fn=fn, y=y, full_out=full_out):
                    full_out["x"] = np.asarray(fn(y), dtype=np.float64)
                    return full_out["x"][hole]

                row = run.run("hole", setting, f"{image}@{r0},{c0}", name, fill, clean[hole])
                if row is not None and key:
                    run.strips[key].append((f"{name}\n{row['psnr']:.2f} dB on the hole",
                                            np.clip(full_out["x"], 0, 1)))


def bench_timing(run: Runner, nets, with_bm3d: bool) -> None:
    """Each learned gray denoiser on camera 512 at sigma 25: median of TIMING_REPS calls; bm3d once."""
    from aip.degrade import add_gaussian_noise

    size, s255 = TIMING_SIZE, TIMING_SIGMA
    clean = load_clean("camera", size)
    noisy = add_gaussian_noise(clean, s255 / 255.0, rng=seed_of("denoise", "camera", size, s255))
    setting = f"{size}/sigma{s255:g}"
    for net, rec in _gray_denoisers(nets):
        method = f"net:{rec['label']}"
        if not run.wanted(method):
            continue
        net_apply(net, noisy, sigma=s255 / 255.0)  # warm-up at this size
        times, out = [], None
        for _ in range(TIMING_REPS):
            out, secs = timed(net_apply, net, noisy, sigma=s255 / 255.0)
            times.append(secs)
        p, s = quality(clean, out)
        run.rows.append({"task": "timing", "setting": setting, "image": "camera", "method": method, "psnr": p,
                         "ssim": s, "time_s": statistics.median(times), "times": times})
        print(f"  timing   {setting:14s} camera     {method:28s} {p:6.2f} dB  median {statistics.median(times):.3f} s"
              f" of {', '.join(f'{t:.3f}' for t in times)}", flush=True)
    if with_bm3d:
        run.run("timing", setting, "camera", "bm3d", lambda: peer_bm3d(noisy, s255 / 255.0), clean,
                extra={"time_note": "one call"})


# --------------------------------------------------------------------------------------------------------
# training curves
# --------------------------------------------------------------------------------------------------------

def read_curve(log: Path) -> dict:
    """``{"seconds": [...], "<psnr key>": [...]}`` from a log.jsonl: every line with a key containing "psnr";
    lines without a time ("wall", "seconds", "time", "elapsed") get one interpolated from the training lines."""
    recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip().startswith("{")]

    def secs_of(r):
        return next((float(r[k]) for k in ("wall", "wall_s", "seconds", "time", "elapsed") if
                     isinstance(r.get(k), (int, float))), None)

    timed_steps = sorted((r["step"], secs_of(r)) for r in recs if "step" in r and secs_of(r) is not None)
    keys = sorted({k for r in recs for k, v in r.items() if "psnr" in k.lower() and isinstance(v, (int, float))})
    curve: dict[str, list] = {"seconds": [], "step": [], **{k: [] for k in keys}}
    for r in recs:
        if not any(k in r for k in keys):
            continue
        t = secs_of(r)
        if t is None and timed_steps and "step" in r:
            st, ts = zip(*timed_steps)
            t = float(np.interp(r["step"], st, ts))
        if t is None:
            continue
        curve["seconds"].append(t)
        curve["step"].append(r.get("step"))
        for k in keys:
            curve[k].append(r.get(k))
    return curve


def plot_curves(curves: dict[str, dict], path: Path) -> bool:
    """PSNR against training time (hours), one colour per run; "input" PSNR keys dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    drawn = False
    for i, (label, c) in enumerate(curves.items()):
        hours = np.asarray(c["seconds"], dtype=float) / 3600.0
        for k in (k for k in c if "psnr" in k.lower()):
            v = np.array([np.nan if x is None else x for x in c[k]], dtype=float)
            if np.isfinite(v).any():
                ax.plot(hours, v, ":" if "input" in k else "-o", ms=3, color=f"C{i}", label=f"{label} {k}")
                drawn = True
    if not drawn:
        plt.close(fig)
        return False
    ax.set_xlabel("training time (hours of the run's wall clock)")
    ax.set_ylabel("PSNR (dB) on the run's held-out set")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# --------------------------------------------------------------------------------------------------------
# targets and report
# --------------------------------------------------------------------------------------------------------

def _best(summary, task: str, prefix: str, settings=None, models=None):
    """(method, mean PSNR) of the best method named ``prefix...`` over ``settings`` (all when None)."""
    f = (lambda s: True) if settings is None else (lambda s: s in settings)
    cands = {r["method"] for r in summary if r["task"] == task and r["method"].startswith(prefix)
             and (models is None or r["method"].split(":", 1)[1] in models) and f(r["setting"])}
    scored = {m: _mean(summary, task, m, f) for m in cands}
    return max(scored.items(), key=lambda kv: kv[1]) if scored else (None, None)


def targets(summary: list[dict], records: list[dict]) -> list[dict]:
    """The issue's targets on what ran: status met / not met / not run, with the figures."""
    t: list[dict] = []

    def add(name, ok, detail):
        t.append({"target": name, "status": "not run" if ok is None else ("met" if ok else "not met"),
                  "measured": detail})

    def settings_with(task, *methods):
        sets = [{r["setting"] for r in summary if r["task"] == task and r["method"] == m} for m in methods]
        return set.intersection(*sets)

    def at(task, method, setting):
        return _mean(summary, task, method, lambda x: x == setting)

    # 1. denoising
    best, _ = _best(summary, "denoise", "net:")
    name = "denoise gray sigma 15/25/50: best learned >= bm3d + 0.3 dB (mean)"
    if best is None:
        add(name, None, "no learned gray denoiser ran")
        add("denoise gray: best learned >= aip WNNM (mean)", None, "no learned gray denoiser ran")
    else:
        for peer, label, margin in (("bm3d", name, 0.3), ("aip:wnnm", "denoise gray: best learned >= aip WNNM (mean)",
                                                          0.0)):
            common = settings_with("denoise", best, peer)
            if not common:
                add(label, None, f"{peer} did not run")
                continue
            f = (lambda s, c=common: s in c)
            a, b = _mean(summary, "denoise", best, f), _mean(summary, "denoise", peer, f)
            per = "; ".join(f"{x.split('/')[-1]} {at('denoise', best, x) - at('denoise', peer, x):+.2f}"
                            for x in sorted(common, key=lambda x: (len(x), x)))
            add(label, a >= b + margin, f"{best} {a:.2f} dB vs {peer} {b:.2f} dB ({a - b:+.2f}; {per})")
    tname = "denoise: best learned time <= 1/3 of bm3d on 512x512"
    tb = f"{TIMING_SIZE}/sigma{TIMING_SIGMA:g}"
    if best is None:
        add(tname, None, "no learned gray denoiser ran")
    else:
        nt = _mean(summary, "timing", best, lambda s: s == tb, key="time_s")
        bt = _mean(summary, "timing", "bm3d", lambda s: s == tb, key="time_s")
        if nt is None or bt is None:
            add(tname, None, f"{'bm3d' if nt is not None else best} not timed at 512 (timing section)")
        else:
            add(tname, nt <= bt / 3, f"{best} {nt:.3f} s vs bm3d {bt:.2f} s ({nt / bt:.3f}x)")
    cbest, cp = _best(summary, "colour", "net:")
    cname = "denoise colour sigma 25: learned >= CBM3D + 0.3 dB (mean)"
    cb = _mean(summary, "colour", "bm3d:bm3d_rgb")
    if cbest is None or cb is None:
        add(cname, None, "no 3-channel learned denoiser given" if cbest is None else "CBM3D did not run")
    else:
        add(cname, cp >= cb + 0.3, f"{cbest} {cp:.2f} dB vs bm3d_rgb {cb:.2f} dB ({cp - cb:+.2f})")
    # 2. super-resolution
    for s, margin in ((2, 1.5), (4, 1.0)):
        sset = {r["setting"] for r in summary if r["task"] == "sr" and r["setting"].endswith(f"/x{s}")}
        models = [r["label"] for r in records if r["kind"] == "sr" and r["scale"] == s and r["model"] in ("espcn",
                                                                                                          "vdsr")]
        m, mp = _best(summary, "sr", "net:", sset, set(models))
        f = (lambda x, c=sset: x in c)
        bc, sp = _mean(summary, "sr", "aip:bicubic", f), _mean(summary, "sr", "aip:sparse", f)
        n1, n2 = f"SR x{s}: ESPCN/VDSR >= bicubic + {margin} dB", f"SR x{s}: ESPCN/VDSR > aip sparse SR"
        if m is None or bc is None:
            add(n1, None, f"no ESPCN/VDSR x{s} model ran")
            add(n2, None, f"no ESPCN/VDSR x{s} model ran")
            continue
        add(n1, mp >= bc + margin, f"{m} {mp:.2f} dB vs bicubic {bc:.2f} dB ({mp - bc:+.2f})")
        add(n2, None if sp is None else mp > sp,
            "sparse SR did not run (see notes)" if sp is None else f"{m} {mp:.2f} dB vs sparse {sp:.2f} dB "
                                                                  f"({mp - sp:+.2f})")
    # SRGAN beside its PSNR-trained twin: sharper (HF ratio nearer the original's 1) at what PSNR cost
    for s in (2, 3, 4):
        by = {m: [r for r in records if r["kind"] == "sr" and r["scale"] == s and r["model"] == m]
              for m in ("srgan", "srresnet")}
        if not (by["srgan"] and by["srresnet"]):
            continue
        f = (lambda x, s=s: x.endswith(f"/x{s}"))
        gm, tm = (f"net:{by[m][0]['label']}" for m in ("srgan", "srresnet"))
        gp, tp = (_mean(summary, "sr", m, f) for m in (gm, tm))
        gh, th = (_mean(summary, "sr", m, f, key="hf_ratio") for m in (gm, tm))
        name = f"SR x{s}: SRGAN sharper than its PSNR-trained twin (HF ratio nearer 1), PSNR reported"
        if None in (gp, tp, gh, th):
            add(name, None, "SRGAN or SRResNet did not run")
        else:
            add(name, abs(gh - 1) < abs(th - 1), f"{gm} {gp:.2f} dB, HF {gh:.2f} vs {tm} {tp:.2f} dB, HF {th:.2f}")
    # 3. PnP deblurring
    pm, pp = _best(summary, "deblur", "pnp:")
    tv, cl = _mean(summary, "deblur", "aip:tv"), _mean(summary, "deblur", "aip:pnp")
    names = ("deblur: learned PnP >= aip TV + 0.5 dB", "deblur: learned PnP > classical PnP",
             "deblur: learned PnP faster than classical PnP")
    if pm is None:
        for n in names:
            add(n, None, "no learned PnP ran")
    else:
        add(names[0], None if tv is None else pp >= tv + 0.5,
            "TV did not run" if tv is None else f"{pm} {pp:.2f} dB vs TV {tv:.2f} dB ({pp - tv:+.2f})")
        add(names[1], None if cl is None else pp > cl,
            "classical PnP did not run" if cl is None else f"{pm} {pp:.2f} dB vs aip:pnp {cl:.2f} dB ({pp - cl:+.2f})")
        lt, ct = _mean(summary, "deblur", pm, key="time_s"), _mean(summary, "deblur", "aip:pnp", key="time_s")
        add(names[2], None if ct is None else lt < ct,
            "classical PnP did not run" if ct is None else f"{pm} {lt:.2f} s vs aip:pnp {ct:.2f} s ({lt / ct:.2f}x)")
    # 4. blind deblurring and holes
    bm, bp = _best(summary, "blind", "net:")
    wi = _mean(summary, "blind", "aip:wiener (true PSF)")
    name = "blind CNN deblurring > Wiener given the true PSF"
    if bm is None or wi is None:
        add(name, None, "no blind deblurring network ran" if bm is None else "Wiener did not run")
    else:
        add(name, bp > wi, f"{bm} {bp:.2f} dB vs Wiener {wi:.2f} dB ({bp - wi:+.2f})")
    hm, hp = _best(summary, "hole", "net:")
    for peer in ("skimage:biharmonic", "aip:harmonic", "aip:wnnm"):
        name = f"context encoder > {peer} on 25% central holes (PSNR on the hole)"
        pv = _mean(summary, "hole", peer)
        if hm is None or pv is None:
            add(name, None, "no inpainting network ran" if hm is None else f"{peer} did not run")
        else:
            add(name, hp > pv, f"{hm} {hp:.2f} dB vs {peer} {pv:.2f} dB ({hp - pv:+.2f})")
    # 5. inference
    timed_nets = [r for r in summary if r["task"] == "timing" and r["method"].startswith("net:")]
    if not timed_nets:
        add("inference: 512x512 gray <= 1 s (each learned denoiser)", None, "no learned denoiser timed")
    for r in timed_nets:
        add(f"inference: {r['method']} 512x512 gray <= 1 s", r["time_s"] <= 1.0,
            f"median {r['time_s']:.3f} s of {TIMING_REPS}")
    return t


def _task_table(summary, task: str) -> list[str]:
    rows = [r for r in summary if r["task"] == task]
    cols = sorted({r["setting"] for r in rows}, key=lambda s: (len(s), s))
    cell = {(r["method"], r["setting"]): r for r in rows}
    hf = task == "sr" and any("hf_ratio" in r for r in rows)

    def fmt(c):
        if not c:
            return "-"
        text = f"{c['psnr']:.2f} / {c['ssim']:.3f} / {c['time_s']:.3g}"
        return text + (f" / {c['hf_ratio']:.2f}" if "hf_ratio" in c else " / -") if hf else text

    body = [[m] + [fmt(cell.get((m, s))) for s in cols] for m in dict.fromkeys(r["method"] for r in rows)]
    what = "PSNR / SSIM / s / HF ratio" if hf else "PSNR / SSIM / s"
    return md_table(["method", *(f"{s} {what}" for s in cols)], body)


TITLES = {"denoise": "Denoising, gray", "colour": "Denoising, colour (RGB)",
          "sr": "Super-resolution (bicubic x2, x4; HF ratio: energy above the low-resolution Nyquist frequency "
                "0.5 / scale cycles per pixel, over the original's: 1 = as sharp as the original)",
          "deblur": f"PnP deblurring ({DEBLUR_KERNEL}, sigma {DEBLUR_SIGMA}, circular)",
          "blind": f"Blind deblurring ({DEBLUR_KERNEL}, sigma {DEBLUR_SIGMA}, circular; {BLIND_SHAVE}-pixel border "
                   "left out)",
          "hole": f"Inpainting 25% central holes ({HOLE_CROP}-pixel crops, PSNR / SSIM on the hole)",
          "timing": f"Inference time, camera {TIMING_SIZE}x{TIMING_SIZE} gray, sigma {TIMING_SIGMA:g} (networks: median of "
                    f"{TIMING_REPS} calls; bm3d: one call)"}


def report(meta: dict, summary, tgt, records, notes, figures, curves) -> str:
    intro = (f"Generated by `{meta['command']}` on {meta['date']} ({meta['machine']}; {meta['threads']}). "
             f"Gray images {', '.join(meta['images'])} (colour: {', '.join(meta['colour_images'])}), the clean "
             "images and seeded degradations of benchmarks/restore.py; PSNR in dB (data range 1, outputs clipped "
             "to [0, 1]), SSIM, wall seconds per image, one thread for every method; the machine may be shared, "
             "so compare times within a table. `net:X` is learned model X, `pnp:X` plug-and-play deblurring with "
             "learned denoiser X.")
    lines = ["# Learned restoration benchmark", "", intro, "",
             "## Targets", "", *md_table(["target", "status", "measured"],
                                         [[x["target"], x["status"], x["measured"]] for x in tgt]), "",
             "## Models", "", *md_table(["label", "model", "params", "config", "source"],
                                        [[r["label"], r["model"], f"{r['params']:,}",
                                          ", ".join(f"{k}={v}" for k, v in r["config"].items() if k != "model"),
                                          f"`{r['source']}`"] for r in records]), ""]
    for task, title in TITLES.items():
        if any(r["task"] == task for r in summary):
            mean = "" if task == "timing" else " (mean over images)"
            lines += [f"## {title}{mean}", "", *_task_table(summary, task), ""]
    if curves:
        rows = [[label, len(c["seconds"]), c["step"][-1], f"{c['seconds'][-1] / 3600:.2f}",
                 ", ".join(f"{k} {c[k][-1]:.2f}" for k in c if "psnr" in k.lower() and c[k][-1] is not None)]
                for label, c in curves.items()]
        lines += ["## Training curves (PSNR against training time; figure below)", "",
                  *md_table(["run", "evaluations", "last step", "hours", "last PSNR (dB)"], rows), ""]
    if figures:
        lines += ["## Figures", ""] + [f"![{f}]({f})" for f in figures] + [""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--denoiser", action="append", default=[], metavar="SPEC",
                    help="a learned denoiser: shipped:NAME, a run directory or weights file (JSON config beside), "
                         "untrained:NAME[,key=value...]; may repeat")
    ap.add_argument("--sr", action="append", default=[], metavar="SPEC",
                    help="a learned SR model (scale from its config), same forms; may repeat")
    ap.add_argument("--blind", action="append", default=[], metavar="SPEC",
                    help="a blind deblurring network (msdeblur), same forms; may repeat")
    ap.add_argument("--inpaint", action="append", default=[], metavar="SPEC",
                    help="an inpainting network (context_encoder), same forms; may repeat")
    ap.add_argument("--quick", action="store_true", help="camera only, 128 px, sigma 25 (a smoke run)")
    ap.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    ap.add_argument("--images", nargs="+", default=None, help=f"gray images (default: {' '.join(IMAGES)})")
    ap.add_argument("--sizes", nargs="+", type=int, default=None, help="denoising sizes (default: 256)")
    ap.add_argument("--size", type=int, default=None, help="size of the colour, SR and deblurring tasks (256)")
    ap.add_argument("--sigmas", nargs="+", type=float, default=None, help="0-255 scale (default: 15 25 50)")
    ap.add_argument("--skip", nargs="*", default=[], help="method names to skip (e.g. wnnm sparse bm3d)")
    ap.add_argument("--out-dir", type=Path, default=RESULTS, help="where the results go (default: benchmarks/results)")
    ap.add_argument("--out-prefix", default=None, help="file prefix (default: deep_restore, deep_restore_quick)")
    args = ap.parse_args(argv)

    one_thread()
    q = args.quick
    images = args.images or (["camera"] if q else list(IMAGES))
    sizes = args.sizes or ([128] if q else [256])
    sigmas = args.sigmas or ([25.0] if q else [15.0, 25.0, 50.0])
    size = args.size or (128 if q else 256)
    colour_images = list(COLOUR_IMAGES[:1] if q else COLOUR_IMAGES)
    prefix = args.out_prefix or ("deep_restore_quick" if q else "deep_restore")
    out_dir = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = str(out_dir / prefix)  # absolute: RESULTS / stem is then stem (write_results, plot_strips)
    run = Runner(q, set(args.skip), None)
    t_start = time.perf_counter()
    nets = load_all([(sp, kind) for kind in SPEC_OPTIONS for sp in getattr(args, kind)], run.notes)
    if not nets:
        print("nothing to benchmark (no learned model loaded); results left as they are:", *run.notes, sep="\n  ")
        return 0
    records = [r for _, r in nets]
    meta = {"quick": q, **run_meta(), "images": images, "colour_images": colour_images, "sizes": sizes,
            "sigmas": sigmas, "size": size, "python": sys.version.split()[0],
            "command": shlex.join(["benchmarks/deep_restore.py", *(sys.argv[1:] if argv is None else argv)])}
    curves: dict[str, dict] = {}

    def save(final: bool = False) -> list[dict]:
        summary = summarise(run.rows)
        tgt = targets(summary, records)
        figures = []
        if final:
            figures = [Path(p).name for p in plot_strips(run.strips, stem)]
            if curves and plot_curves(curves, out_dir / f"{prefix}_curves.png"):
                figures.append(f"{prefix}_curves.png")
        meta["elapsed_s"] = round(time.perf_counter() - t_start, 1)
        data = {"meta": meta, "targets": tgt, "models": records, "summary": summary, "rows": run.rows,
                "curves": curves, "notes": run.notes}
        write_results(stem, data, report(meta, summary, tgt, records, run.notes, figures, curves))
        return tgt

    warm_up(nets)
    dens, srs = _gray_denoisers(nets), [r for r in records if r["kind"] == "sr"]
    steps = [("denoise", bool(dens), lambda: bench_denoise(run, nets, images, sizes, sigmas, after_image=save)),
             ("colour", bool(_gray_denoisers(nets, 3)), lambda: bench_colour(run, nets, colour_images, size)),
             ("sr", bool(srs), lambda: bench_sr(run, nets, images, size)),
             ("deblur", bool(dens), lambda: bench_deblur(run, nets, images, size)),
             ("blind", any(r["kind"] == "blind" for r in records), lambda: bench_blind(run, nets, images, size)),
             ("hole", any(r["kind"] == "inpaint" for r in records), lambda: bench_hole(run, nets, images, size)),
             ("timing", bool(dens), lambda: bench_timing(run, nets, with_bm3d=not q and run.wanted("bm3d")))]
    for task, has_model, fn in steps:
        if task not in args.tasks:
            continue
        if not has_model:
            run.notes.append(f"{task}: not run (no learned model for it was given)")
            continue
        print(f"== {task}", flush=True)
        fn()
        save()
    if q and "timing" in args.tasks and dens:
        run.notes.append("timing: bm3d not timed at 512 in --quick (the 1/3-of-bm3d target is not run)")
    if "curves" in args.tasks:
        for rec in records:
            if rec["log"]:
                c = read_curve(Path(rec["log"]))
                if c["seconds"]:
                    curves[rec["label"]] = c
                else:
                    run.notes.append(f"curves: {rec['log']} has no line with a PSNR key and a time")
            else:
                run.notes.append(f"curves: {rec['label']}: no log.jsonl (not a run directory)")
    tgt = save(final=True)
    print(f"\nwrote {stem}.md in {time.perf_counter() - t_start:.0f} s")
    for x in tgt:
        print(f"  [{x['status']}] {x['target']}: {x['measured']}")
    for n in run.notes:
        print(f"  note: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
