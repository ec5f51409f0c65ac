"""Likelihood models (issue 14): exact or bounded NLL on held-out binarized and 256-level digits, in nats and
bits/dim.

Every run given (``--run LABEL=RUN_DIR``, an ``aip train`` run of a model with ``nll``) is scored on the first N
digits of the test split, binarized at 0.5 (the models binarize the same way; a VAE's NLL is its
importance-weighted bound, k = 100). Beside them, the published binarized-MNIST figures the issue quotes, and
the ordering target: gated PixelCNN < VampPrior VAE < VAE. Runs given with ``--run256`` (flows, a 256-level
PixelCNN) are scored on the same test digits at their 256 grey levels (a flow's NLL: one uniform
dequantization, seeded, plus D log 256), beside published MNIST bits/dim. Sample grids of each run are
written too.

Usage::

    python benchmarks/likelihood.py --run "gated PixelCNN=runs/pixelcnn" --run "VAE=runs/vae_bin" [--n 1000] \
        [--run256 "RealNVP=runs/realnvp"]

Writes ``results/likelihood.md``, ``.json`` and ``likelihood_samples.png``.
"""

from __future__ import annotations

from _common import (  # first: pins the thread pools
    RESULTS,
    md_table,
    one_thread,
    run_meta,
    sample_panels,
    write_results,
)

# isort: split
import argparse
import shlex
import sys
import time

import torch

PUBLISHED_256 = [("RealNVP", 1.06, "Grathwohl et al. 2019 (FFJORD), Table 2"),
                 ("Glow", 1.05, "Grathwohl et al. 2019 (FFJORD), Table 2")]
PUBLISHED = [("gated PixelCNN", 81.3, "van den Oord et al. 2016b"), ("VampPrior VAE", 85.8, "Tomczak & Welling 2018"),
             ("VAE", 89.8, "Burda et al. 2016 (IWAE paper's VAE, k = 5000)")]


def score(model, x: torch.Tensor, batch: int = 250) -> float:
    """Mean NLL in nats per image over ``x`` (a model whose ``nll`` draws noise gets a seeded generator)."""
    import inspect

    seeded = "generator" in inspect.signature(model.nll).parameters
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            kw = {"generator": torch.Generator().manual_seed(i)} if seeded else {}
            total += float(model.nll(x[i:i + batch], **kw).double().sum())
    return total / len(x)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", action="append", default=[], metavar="LABEL=DIR", help="a run to score; may repeat")
    ap.add_argument("--run256", action="append", default=[], metavar="LABEL=DIR",
                    help="a run scored on the 256-level digits (flows); may repeat")
    ap.add_argument("--n", type=int, default=1000, help="test digits (default 1000)")
    ap.add_argument("--samples", type=int, default=16, help="samples drawn per run for the grid")
    args = ap.parse_args(argv)
    one_thread()
    from aip.data.dataset import load_dataset
    from aip.models import nats_to_bits_per_dim
    from aip.models.lenet import load_lenet
    from aip.train.run import load_run

    x256 = load_dataset("digits", "test").images[: args.n]
    x = (x256 >= 0.5).float()
    dims = x[0].numel()
    lenet = load_lenet("digits").eval()
    rows, grids = [], []
    for spec in [*args.run, *(f"256:{r}" for r in args.run256)]:
        levels256 = spec.startswith("256:")
        label, _, path = spec.removeprefix("256:").partition("=")
        model, meta = load_run(path, ema=True)
        t0 = time.perf_counter()
        nats = score(model, x256 if levels256 else x)
        t_nll = time.perf_counter() - t0
        t0 = time.perf_counter()
        s = model.sample(args.samples, generator=torch.Generator().manual_seed(0))
        t_s = time.perf_counter() - t0
        with torch.no_grad():
            classes = lenet(s).argmax(1)
        rows.append({"label": label, "data": "256 levels" if levels256 else "binarized",
                     "model": meta["model"]["model"], "run": path, "step": str(meta.get("checkpoint", "")).rstrip("/").rsplit("_", 1)[-1].lstrip("0") or None,
                     "nll_nats": nats, "bits_per_dim": nats_to_bits_per_dim(nats, dims), "nll_seconds": t_nll,
                     "sample_seconds_per_image": t_s / args.samples,
                     "classes_in_grid": len(set(classes.tolist()))})
        grids.append((label, s))
        print(f"{label}: {nats:.2f} nats ({nats_to_bits_per_dim(nats, dims):.4f} bits/dim), "
              f"{t_s / args.samples:.2f} s per sample", flush=True)
    fig = sample_panels(dict(grids), RESULTS / "likelihood_samples.png", dpi=110) if grids else None
    by = {r["label"]: r["nll_nats"] for r in rows if r["data"] == "binarized"}
    need = ("gated PixelCNN", "VampPrior VAE", "VAE")
    if all(k in by for k in need):
        ok = by[need[0]] < by[need[1]] < by[need[2]]
        target = (f"{'met' if ok else 'not met'}: " + ", ".join(f"{k} {by[k]:.1f}" for k in need)
                  + " nats" + ("" if ok else " (the ranking: " + " < ".join(sorted(need, key=by.get)) + ")"))
    else:
        target = "not run: needs runs labelled " + ", ".join(need) + f" (given: {', '.join(by) or 'none'})"
    meta = {**run_meta(), "n": args.n, "command": shlex.join(["benchmarks/likelihood.py",
                                                               *(sys.argv[1:] if argv is None else argv)])}
    lines = ["# Likelihood on binarized and 256-level digits", "",
             (f"Generated by `{meta['command']}` on {meta['date']} ({meta['machine']}; {meta['threads']}). "
              f"The first {args.n} test digits, binarized at 0.5 or at their 256 grey levels; NLL in nats per "
              "image (exact for PixelCNN, the importance-weighted bound for VAEs, one seeded uniform "
              "dequantization for flows) and bits/dim; samples timed one image at a time."),
             "", f"Ordering target (gated PixelCNN < VampPrior VAE < VAE): {target}.", "",
             *md_table(["label", "data", "model", "run (step)", "NLL (nats)", "bits/dim", "s per sample",
                        "digit classes in the grid"],
                       [[r["label"], r["data"], r["model"], f"`{r['run']}` ({r['step']})", f"{r['nll_nats']:.2f}",
                         f"{r['bits_per_dim']:.4f}", f"{r['sample_seconds_per_image']:.2f}",
                         f"{r['classes_in_grid']} of 10"] for r in rows]), "",
             "Published binarized-MNIST NLL (nats; stochastic binarization, so not the same data):", "",
             *md_table(["model", "NLL", "source"], [[m, v, s] for m, v, s in PUBLISHED]), "",
             "Published MNIST bits/dim at 256 levels (dequantized; other architectures and budgets):", "",
             *md_table(["model", "bits/dim", "source"], [[m, v, s] for m, v, s in PUBLISHED_256]), ""]
    if fig:
        lines += [f"![{fig.name}]({fig.name})", ""]
    write_results(str(RESULTS / "likelihood"), {"meta": meta, "rows": rows, "target": target}, "\n".join(lines))
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
