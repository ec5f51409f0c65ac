"""Quality targets of the generative models on the built-in synthetic digits (issue 4), CPU only.

Each model is trained by :class:`aip.train.Trainer` for a stated wall-clock budget, then evaluated with the
shipped LeNet (FID-LeNet on its penultimate features, float64, at a fixed N against N real test images;
the floor is N real train vs N real test images) and its class predictions:

1. class-conditional DDPM with classifier-free guidance (linear schedule): accuracy of samples and FID-LeNet
   over guidance scales 0, 1, 2, 3, 5 (DDIM, 50 steps); DDIM 50 steps against 1000 ancestral steps (FID).
2. the same DDPM with the cosine schedule (Nichol & Dhariwal 2021) against the linear one.
3. VAE against VampPrior VAE: importance-weighted NLL (nats, bits/dim) on test digits.
4. conditional GAN: class accuracy of its samples.

Targets: CFG accuracy >= 95% at a sensible scale; DDIM-50 FID within 15% of the 1000-step FID; VampPrior NLL
below the VAE's; cGAN accuracy >= 90%. Speed targets (U-Net throughput against diffusers, 64 DDIM samples in
< 10 s) are measured by ``benchmarks/diffusion_speed.py``; its results are quoted here when present.

Budgets (``--full``): DDPM 30 min per schedule, VAE and VampVAE 10 min each, cGAN 15 min, N = 1000: about
1.7 h of training plus sampling (1000 ancestral steps on 1000 images is the slowest part). The default
``--smoke`` run trains each model for ``--smoke-seconds`` (20 s) with N = 100, DDIM 10 steps and 50
ancestral steps, to check that the pipeline runs end to end; its numbers are NOT the targets' numbers.

Usage: ``python benchmarks/generative.py [--full | --smoke] [--only ddpm,vae,cgan]``; writes
``benchmarks/results/generative.md``, ``.json`` and sample grids ``generative_<model>.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

from aip.data import load_dataset
from aip.metrics import fid_from_features
from aip.models.lenet import load_lenet
from aip.train import TrainConfig, Trainer, seed_everything
from aip.train.evaluate import _subset, evaluate_model
from aip.train.models import build_model, get_model_class
from aip.train.run import data_defaults
from aip.train.trainer import balanced_labels, sample_model, save_image_grid

RESULTS = Path(__file__).resolve().parent / "results"
GUIDANCE = (0.0, 1.0, 2.0, 3.0, 5.0)

FULL = {"ddpm": 30 * 60, "ddpm_cosine": 30 * 60, "vae": 10 * 60, "vampvae": 10 * 60, "cgan": 15 * 60,
        "n": 1000, "nll_n": 500, "ancestral_steps": 1000, "ddim_steps": 50}
EXPERIMENTS = {
    # name: (model, model options, train options)
    "ddpm": ("ddpm", {"num_classes": 10, "schedule": "linear"}, {"batch_size": 64, "lr": 2e-4, "ema_decay": 0.999}),
    "ddpm_cosine": ("ddpm", {"num_classes": 10, "schedule": "cosine"},
                    {"batch_size": 64, "lr": 2e-4, "ema_decay": 0.999}),
    "vae": ("vae", {}, {"batch_size": 128, "ema_decay": 0.0}),
    "vampvae": ("vampvae", {}, {"batch_size": 128, "ema_decay": 0.0}),
    "cgan": ("cgan", {"num_classes": 10}, {"batch_size": 64, "ema_decay": 0.0}),
}


def train_for(key: str, budget_s: float, *, seed: int = 0, chunk: int = 25) -> tuple[Trainer, dict[str, Any]]:
    """Train experiment ``key`` until ``budget_s`` seconds of wall time have passed (checked every ``chunk``
    steps); returns the trainer and the run's facts."""
    name, options, train_opts = EXPERIMENTS[key]
    ds = load_dataset("digits", "train")
    cls = get_model_class(name)
    values = {**data_defaults(cls.config_class, ds, options), **options}
    seed_everything(seed)
    model = build_model(name, values)
    cfg = TrainConfig(model=name, data="digits", steps=10 ** 8, seed=seed, log_every=0, **train_opts)
    tr = Trainer(model, ds, cfg, None, progress=False)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < budget_s:
        tr.train(until=tr.step + chunk)
    secs = time.perf_counter() - t0
    last = tr.history[-1] if tr.history else {}
    facts = {"model": name, "options": options, "train": train_opts, "steps": tr.step, "seconds": round(secs, 1),
             "images_seen": tr.step * cfg.batch_size, "img_per_s": round(tr.step * cfg.batch_size / secs, 1),
             "params": sum(p.numel() for p in model.parameters()),
             "last_losses": {k: round(v, 5) for k, v in last.items() if k.endswith("loss")}}
    print(f"[{key}] {tr.step} steps in {secs:.0f}s ({facts['img_per_s']} img/s) {facts['last_losses']}", flush=True)
    return tr, facts


def grid(tr: Trainer, key: str, **kwargs: Any) -> str:
    model = tr.sampling_model
    y = balanced_labels(100, 10) if model.conditional else None
    imgs = sample_model(model, 100, y=y, seed=1, **kwargs)
    path = RESULTS / f"generative_{key}.png"
    save_image_grid(imgs, path, nrow=10)
    return path.name


def floor(n: int) -> float:
    lenet = load_lenet("digits")
    te, tr = load_dataset("digits", "test"), load_dataset("digits", "train")
    with torch.no_grad():
        a = lenet.features(_subset(te, n, 1).images).double().numpy()
        b = lenet.features(_subset(tr, n, 2).images).double().numpy()
    return fid_from_features(a, b)


def run(args: argparse.Namespace) -> dict[str, Any]:
    smoke = not args.full
    budgets = dict(FULL)
    if smoke:
        budgets.update({k: args.smoke_seconds for k in EXPERIMENTS}, n=100, nll_n=50, ancestral_steps=50,
                       ddim_steps=10)
    n = budgets["n"]
    only = set(args.only.split(",")) if args.only else {"ddpm", "ddpm_cosine", "vae", "vampvae", "cgan"}
    out: dict[str, Any] = {"mode": "smoke" if smoke else "full", "n": n, "budgets_s": budgets,
                           "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                                       "python": platform.python_version(), "torch": torch.__version__},
                           "fid_floor": floor(n), "runs": {}}
    print(f"FID-LeNet floor (test vs train, N={n}): {out['fid_floor']:.2f}", flush=True)
    for key in ("ddpm", "ddpm_cosine"):
        if key not in only:
            continue
        tr, facts = train_for(key, budgets[key])
        model = tr.sampling_model
        rows = []
        for w in GUIDANCE:
            t0 = time.perf_counter()
            ev = evaluate_model(model, "digits", n=n, seed=0,
                                sample_kwargs={"sampler": "ddim", "steps": budgets["ddim_steps"], "guidance": w})
            rows.append({"guidance": w, "class_accuracy": ev["class_accuracy"], "fid": ev["fid"],
                         "classifier_score": ev["classifier_score"], "seconds": round(time.perf_counter() - t0, 1)})
            print(f"[{key}] w={w}: acc {ev['class_accuracy']:.3f} FID {ev['fid']:.2f} "
                  f"CS {ev['classifier_score']:.2f}", flush=True)
        facts["guidance_table"] = rows
        if key == "ddpm":
            t0 = time.perf_counter()
            anc = evaluate_model(model, "digits", n=n, seed=0,
                                 sample_kwargs={"sampler": "ddpm", "steps": budgets["ancestral_steps"],
                                                "guidance": 1.0})
            ddim = next(r for r in rows if r["guidance"] == 1.0)
            facts["ddim50_vs_ancestral"] = {"ancestral_steps": budgets["ancestral_steps"],
                                            "ddim_steps": budgets["ddim_steps"], "fid_ancestral": anc["fid"],
                                            "fid_ddim50": ddim["fid"],
                                            "ratio": ddim["fid"] / anc["fid"] if anc["fid"] > 0 else None,
                                            "seconds": round(time.perf_counter() - t0, 1)}
            print(f"[ddpm] ancestral {budgets['ancestral_steps']} steps FID {anc['fid']:.2f} vs DDIM "
                  f"{ddim['fid']:.2f}", flush=True)
        facts["grid"] = grid(tr, key, sampler="ddim", steps=budgets["ddim_steps"], guidance=3.0)
        out["runs"][key] = facts
    for key in ("vae", "vampvae"):
        if key not in only:
            continue
        tr, facts = train_for(key, budgets[key])
        ev = evaluate_model(tr.sampling_model, "digits", n=n, seed=0, nll_n=budgets["nll_n"])
        facts.update({k: ev.get(k) for k in ("fid", "classifier_score", "nll_nats", "bits_per_dim")})
        facts["grid"] = grid(tr, key)
        print(f"[{key}] NLL {ev.get('nll_nats')} nats, FID {ev['fid']:.2f}", flush=True)
        out["runs"][key] = facts
    if "cgan" in only:
        tr, facts = train_for("cgan", budgets["cgan"])
        ev = evaluate_model(tr.sampling_model, "digits", n=n, seed=0)
        facts.update({k: ev.get(k) for k in ("fid", "classifier_score", "class_accuracy")})
        facts["grid"] = grid(tr, "cgan")
        print(f"[cgan] acc {ev['class_accuracy']:.3f} FID {ev['fid']:.2f}", flush=True)
        out["runs"]["cgan"] = facts
    speed = RESULTS / "diffusion_speed.json"
    if speed.is_file():
        out["speed_from_diffusion_speed"] = json.loads(speed.read_text())
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def write_markdown(res: dict[str, Any], path: Path) -> None:
    r = res["runs"]

    def verdict(ok: bool) -> str:
        if res["mode"] == "smoke":
            return "not assessed (smoke run)"
        return "met" if ok else "NOT met"

    lines = ["# Generative models on the synthetic digits (CPU)", ""]
    if res["mode"] == "smoke":
        lines += [("**Smoke run**: every model trained for only a few seconds to check the pipeline end to end. "
                  "These numbers say nothing about the targets; run `python benchmarks/generative.py --full` "
                  "(about 2 h of CPU) for those."), ""]
    lines += [f"N = {res['n']} samples per FID-LeNet; floor (real test vs real train, N = {res['n']}): "
              f"**{res['fid_floor']:.2f}**. Budgets (s): "
              + ", ".join(f"{k} {v}" for k, v in res["budgets_s"].items() if k in EXPERIMENTS), ""]
    lines += ["| run | steps | wall s | img/s | params | last losses |", "|---|---|---|---|---|---|"]
    for k, f in r.items():
        lines.append(f"| {k} | {f['steps']} | {f['seconds']} | {f['img_per_s']} | {f['params']} | "
                     f"{', '.join(f'{a} {b:.4g}' for a, b in f['last_losses'].items())} |")
    lines.append("")
    for key in ("ddpm", "ddpm_cosine"):
        if key in r:
            lines += [f"## {key}: classifier-free guidance (DDIM {res['budgets_s']['ddim_steps']} steps)", "",
                      "| guidance w | class accuracy | FID-LeNet | classifier score |", "|---|---|---|---|"]
            for row in r[key]["guidance_table"]:
                lines.append(f"| {row['guidance']:g} | {row['class_accuracy']:.3f} | {row['fid']:.2f} | "
                             f"{row['classifier_score']:.2f} |")
            best = max(row["class_accuracy"] for row in r[key]["guidance_table"])
            lines += ["", (f"Target: accuracy >= 0.95 at a sensible scale: best {best:.3f} -> "
                      f"{verdict(best >= 0.95)}."), f"![{key}]({r[key]['grid']})", ""]
    if "ddpm" in r and "ddim50_vs_ancestral" in r["ddpm"]:
        d = r["ddpm"]["ddim50_vs_ancestral"]
        ok = d["ratio"] is not None and d["ratio"] <= 1.15
        lines += [f"## DDIM {d['ddim_steps']} steps against ancestral sampling (guidance 1)", "",
                  (f"FID-LeNet: DDIM-{d['ddim_steps']} {d['fid_ddim50']:.2f}, DDPM {d['ancestral_steps']} ancestral steps "
                  f"{d['fid_ancestral']:.2f}, ratio {_fmt(d['ratio'])} (target <= 1.15: {verdict(ok)})."), ""]
    if "ddpm" in r and "ddpm_cosine" in r:
        lin = {row["guidance"]: row for row in r["ddpm"]["guidance_table"]}
        cos = {row["guidance"]: row for row in r["ddpm_cosine"]["guidance_table"]}
        lines += ["## Cosine against linear schedule (same budget, DDIM)", "",
                  "| guidance | FID linear | FID cosine | acc linear | acc cosine |", "|---|---|---|---|---|"]
        for w in GUIDANCE:
            lines.append(f"| {w:g} | {lin[w]['fid']:.2f} | {cos[w]['fid']:.2f} | {lin[w]['class_accuracy']:.3f} | "
                         f"{cos[w]['class_accuracy']:.3f} |")
        lines.append("")
    if "vae" in r or "vampvae" in r:
        lines += ["## VAE against VampPrior VAE (importance-weighted NLL on test digits)", "",
                  "| model | NLL nats | bits/dim | FID-LeNet |", "|---|---|---|---|"]
        for k in ("vae", "vampvae"):
            if k in r:
                lines.append(f"| {k} | {_fmt(r[k]['nll_nats'])} | {_fmt(r[k]['bits_per_dim'])} | {r[k]['fid']:.2f} |")
        if "vae" in r and "vampvae" in r and r["vae"]["nll_nats"] is not None:
            ok = r["vampvae"]["nll_nats"] < r["vae"]["nll_nats"]
            lines.append(f"\nTarget: VampPrior NLL below the VAE's: {verdict(ok)} "
                         "(published, binarized MNIST: 89.8 vs 85.8 nats; these digits are not binarized MNIST).")
        lines.append("")
    if "cgan" in r:
        acc = r["cgan"]["class_accuracy"]
        lines += ["## Conditional GAN", "", (f"Class accuracy of samples {acc:.3f} (target >= 0.90: "
                  f"{verdict(acc >= 0.9)}); FID-LeNet {r['cgan']['fid']:.2f}."),
                  f"![cgan]({r['cgan']['grid']})", ""]
    if "speed_from_diffusion_speed" in res:
        lines += ["## Speed", "", "See `diffusion_speed.md` (measured by `benchmarks/diffusion_speed.py`).", ""]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="the targets' budgets (about 2 h of CPU)")
    mode.add_argument("--smoke", action="store_true", help="a few seconds per model (default)")
    ap.add_argument("--smoke-seconds", type=float, default=20.0)
    ap.add_argument("--only", default="", help="comma-separated subset of ddpm,ddpm_cosine,vae,vampvae,cgan")
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    res = run(args)
    (RESULTS / "generative.json").write_text(json.dumps(res, indent=2, default=str))
    write_markdown(res, RESULTS / "generative.md")
    print(f"wrote {RESULTS / 'generative.md'}")


if __name__ == "__main__":
    main()
