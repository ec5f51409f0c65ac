"""Why deterministic DDIM scores worse than ancestral sampling on the shipped digit DDPM.

Issue 4 asks for DDIM with 50 steps within 15% of the FID-LeNet of 1000 ancestral steps; generative.md
shows the ratio is about 2.2 for the shipped model at guidance 1 (1.4-1.5 for v-prediction and a wider
network). This script measures what differs between the sample sets: the same N samples (seed 0, labels 0..9
cycling, guidance 1) from DDIM-50, DDIM-1000, DDIM-50 with eta 1 and ancestral-1000, against N real test
digits (the subsets that ``aip.train.evaluate`` uses), with

- the FID-LeNet split into its mean term ``||mu_g - mu_r||^2`` and its covariance (trace) term;
- simple image statistics: mean intensity, fractions of dark / saturated / grey pixels, ink (pixel sum),
  total variation, and the mean and spread of the background (pixels below 0.02 in 99% of real digits);
- the class accuracy of the shipped LeNet and the diversity within a class (mean pairwise distance).

Usage: ``python benchmarks/ddim_gap.py --full [--n 500]`` writes ``benchmarks/results/ddim_gap.md`` and
``.json`` (about 10 minutes on one core); without ``--full`` (what ``make bench`` runs) a smoke run with
N = 100 and no DDIM-1000 writes ``ddim_gap_quick.*`` (git-ignored), so it never replaces the results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"
SAMPLERS = {
    "DDIM-50": {"sampler": "ddim", "steps": 50},
    "DDIM-1000": {"sampler": "ddim", "steps": 1000},
    "DDIM-50, eta 1": {"sampler": "ddim", "steps": 50, "eta": 1.0},
    "ancestral-1000": {"sampler": "ddpm", "steps": 1000},
}
STATS = ("mean", "dark", "saturated", "grey", "ink", "tv", "bg_mean", "bg_std", "diversity", "accuracy")
STAT_NAMES = {"mean": "mean intensity", "dark": "pixels < 0.05", "saturated": "pixels > 0.95",
              "grey": "pixels in [0.05, 0.95]", "ink": "ink (pixel sum)", "tv": "total variation",
              "bg_mean": "background mean", "bg_std": "background std", "diversity": "diversity in a class",
              "accuracy": "class accuracy"}


def image_stats(x: torch.Tensor, labels: torch.Tensor, background: torch.Tensor, lenet) -> dict[str, float]:
    """Statistics of (N, 1, 28, 28) images in [0, 1] (see the module docstring)."""
    p = x.flatten(1)
    tv = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).sum(1) + (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(
        1).sum(1)
    bg = x[:, 0][:, background]
    div = []
    for c in labels.unique():
        q = p[labels == c]
        if q.shape[0] > 1:
            div.append(float(torch.cdist(q, q).sum()) / (q.shape[0] * (q.shape[0] - 1)))
    with torch.no_grad():
        acc = float((lenet(x).argmax(1) == labels).float().mean())
    return {"mean": float(p.mean()), "dark": float((p < 0.05).float().mean()),
            "saturated": float((p > 0.95).float().mean()),
            "grey": float(((p >= 0.05) & (p <= 0.95)).float().mean()), "ink": float(p.sum(1).mean()),
            "tv": float(tv.mean()), "bg_mean": float(bg.mean()), "bg_std": float(bg.std()),
            "diversity": float(np.mean(div)), "accuracy": acc}


def fid_split(feats: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """FID and its two terms: ``||mu1 - mu2||^2`` and ``tr(S1 + S2 - 2 (S1 S2)^(1/2))``."""
    from aip.metrics.fid import feature_statistics, frechet_distance

    mu1, s1 = feature_statistics(feats)
    mu2, s2 = feature_statistics(ref)
    total = frechet_distance(mu1, s1, mu2, s2)
    mean_term = float(((mu1 - mu2) ** 2).sum())
    return {"fid": total, "fid_mean_term": mean_term, "fid_cov_term": total - mean_term}


def run(n: int, samplers: dict[str, dict]) -> dict:
    from aip.data.dataset import load_dataset
    from aip.metrics.fid import extract_features
    from aip.models.lenet import load_lenet
    from aip.train.evaluate import _subset
    from aip.train.shipped import load_shipped
    from aip.train.trainer import balanced_labels, sample_model

    torch.set_num_threads(1)
    model = load_shipped("ddpm")
    lenet = load_lenet("digits").eval()
    test, train = _subset(load_dataset("digits", "test"), n, 1), _subset(load_dataset("digits", "train"), n, 2)
    background = (test.images[:, 0] < 0.02).float().mean(0) > 0.99
    ref = extract_features(test.images, lenet.features, batch_size=500)
    labels = balanced_labels(n, 10)
    rows = {"real test": {**image_stats(test.images, test.labels, background, lenet), "seconds": 0.0},
            "real train": {**image_stats(train.images, train.labels, background, lenet),
                           **fid_split(extract_features(train.images, lenet.features, batch_size=500), ref),
                           "seconds": 0.0}}
    for name, kw in samplers.items():
        t0 = time.perf_counter()
        x = sample_model(model, n, y=labels, seed=0, batch_size=500, guidance=1.0, **kw)
        secs = time.perf_counter() - t0
        rows[name] = {**image_stats(x, labels, background, lenet),
                      **fid_split(extract_features(x, lenet.features, batch_size=500), ref), "seconds": secs}
        print(f"{name}: FID {rows[name]['fid']:.2f} ({secs:.0f} s)", flush=True)
    return {"n": n, "background_pixels": int(background.sum()), "rows": rows,
            "meta": {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.machine(),
                     "cpus": os.cpu_count(), "threads": 1}}


def write_markdown(res: dict, path: Path, command: str) -> None:
    rows = res["rows"]
    names = list(rows)
    head = "| statistic | " + " | ".join(names) + " |"
    lines = ["# DDIM against ancestral sampling: what differs (shipped digit DDPM, guidance 1)", "",
             (f"Generated by `{command}` on {res['meta']['date']} ({res['meta']['machine']}, "
             f"{res['meta']['cpus']} CPUs, one thread). N = {res['n']} samples per sampler (seed 0, labels 0..9 "
             f"cycling, the same initial noise) against N real test digits; background = the "
             f"{res['background_pixels']} pixels below 0.02 in 99% of the real test digits."), "",
             head, "|" + "---|" * (len(names) + 1)]
    for key in ("fid", "fid_mean_term", "fid_cov_term"):
        label = {"fid": "FID-LeNet", "fid_mean_term": "FID mean term", "fid_cov_term": "FID covariance term"}[key]
        lines.append(f"| {label} | " + " | ".join(f"{rows[k][key]:.2f}" if key in rows[k] else "-"
                                                   for k in names) + " |")
    for key in STATS:
        fmt = "{:.1f}" if key in ("ink", "tv") else "{:.3f}" if key != "bg_mean" else "{:.4f}"
        lines.append(f"| {STAT_NAMES[key]} | " + " | ".join(fmt.format(rows[k][key]) for k in names) + " |")
    d50, anc = rows.get("DDIM-50"), rows.get("ancestral-1000")
    if d50 and anc:
        lines += ["", (f"DDIM-50 / ancestral-1000 FID ratio: {d50['fid'] / anc['fid']:.2f} (target <= 1.15). Of "
                  f"the FID difference {d50['fid'] - anc['fid']:.2f}, the mean term gives "
                  f"{d50['fid_mean_term'] - anc['fid_mean_term']:.2f} and the covariance term "
                  f"{d50['fid_cov_term'] - anc['fid_cov_term']:.2f}. Background mean: DDIM-50 "
                  f"{d50['bg_mean']:.4f}, ancestral-1000 {anc['bg_mean']:.4f}, real {rows['real test']['bg_mean']:.4f}; "
                  f"grey pixels: {d50['grey']:.3f}, {anc['grey']:.3f}, {rows['real test']['grey']:.3f}; class accuracy "
                  f"{d50['accuracy']:.3f} against {anc['accuracy']:.3f}."), "",
                  ("Reading: the deterministic sampler's deficit is mostly in the mean of the LeNet features, and "
                   "the statistics point to a cause: a grey haze on the background and more half-tone "
                   "pixels, the same at 1000 steps as at 50 (so not a step-size error), while its class accuracy "
                   "and diversity are no worse than the ancestral sampler's. Fresh noise at each step (eta 1) "
                   "removes most of the haze. DDIM follows the probability-flow ODE of this noise estimator, "
                   "whose errors it never corrects; a better estimator (see the v-prediction and wider models "
                   "in generative.md, and the training changes in ddim_training.md) is where the remaining gap "
                   "has to close.")]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--full", action="store_true", help="the real run (default: a smoke run, N = 100, no DDIM-1000)")
    args = ap.parse_args()
    quick = not args.full
    n = 100 if quick else args.n
    samplers = {k: v for k, v in SAMPLERS.items() if not (quick and k == "DDIM-1000")}
    res = run(n, samplers)
    stem = "ddim_gap_quick" if quick else "ddim_gap"
    RESULTS.mkdir(exist_ok=True)
    cmd = "python benchmarks/ddim_gap.py" + ("" if quick else " --full" + (f" --n {n}" if n != 500 else ""))
    (RESULTS / f"{stem}.json").write_text(json.dumps(res, indent=1) + "\n")
    write_markdown(res, RESULTS / f"{stem}.md", cmd)
    print(f"wrote {RESULTS / stem}.md")


if __name__ == "__main__":
    main()
