"""Image transformers (issue 14): the ViT classifier and feature network, and MaskGIT against token-by-token
decoding over the same tokens.

Section ``vit`` (``results/transformers_vit.*``):

- Accuracy of the shipped ViT (``vit_digits``) on the whole digit test split, beside the shipped LeNet in the
  same run; target >= 98%. Test accuracy against training time from the ViT's own JSON record.
- The paper's views of what it learned (Dosovitskiy et al. 2021, Figure 7): the principal components of the
  patch-embedding filters and the position-embedding similarity map.
- FID on ViT features beside FID-LeNet, N test digits against: N training digits (the floor), the test
  digits blurred (Gaussian sigma 0.5, 1, 2: a controlled ladder both must rank in order), and N samples of each
  shipped generator (cGAN; CVAE; DDPM with DPM-Solver++ at 20 steps, guidance 2). The two feature networks
  should rank the sets alike (Spearman's rho).

Section ``maskgit`` (``results/transformers_maskgit.*``; ``--maskgit RUN --ar RUN``, two ``aip train maskgit``
runs over the same VQ-VAE tokenizer, one with ``--decoding autoregressive``): N class-conditional samples
(labels 0-9 cycling) of MaskGIT at 4, 8, 10, 12 and 16 rounds and of the autoregressive transformer (one token per
pass), timed in batches of 250, scored by FID-LeNet against N test digits and by the shipped LeNet's class
accuracy, beside the tokenizer's own reconstructions (the floor both share). Target: MaskGIT in 8-12 rounds at
least 5x faster than token-by-token decoding at an FID-LeNet within 10% of it.

Usage::

    python benchmarks/transformers.py [--section vit|maskgit|all] [--n 1000] [--maskgit RUN --ar RUN]
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
import itertools
import shlex
import sys
import time

import numpy as np
import torch


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    from aip.degrade import Blur, gaussian

    op = Blur(gaussian(sigma))
    return torch.stack([torch.from_numpy(np.asarray(op.A(im[0].double().numpy()), np.float32))[None]
                        for im in x]).clamp(0, 1)


def sample_sets(n: int) -> dict[str, tuple[torch.Tensor, torch.Tensor, float]]:
    """Image sets to score (name -> (images, their labels, seconds to make them))."""
    from aip.data import load_dataset
    from aip.train.shipped import load_shipped

    te, tr = load_dataset("digits", "test"), load_dataset("digits", "train")
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(tr), generator=g)[:n]
    out = {"training digits": (tr.images[idx], tr.labels[idx], 0.0)}
    for s in (0.5, 1.0, 2.0):
        out[f"test digits blurred {s:g}"] = (_blur(te.images[n:2 * n], s), te.labels[n:2 * n], 0.0)
    labels = torch.arange(n) % 10
    for name, kw in (("cgan", {}), ("cvae", {}),
                     ("ddpm", {"sampler": "dpm++", "steps": 20, "guidance": 2.0})):
        model = load_shipped(name)
        t0 = time.perf_counter()
        with torch.no_grad():
            x = torch.cat([model.sample(len(lab), y=lab, generator=torch.Generator().manual_seed(i), **kw)
                           for i, lab in enumerate(labels.split(250))])
        out[f"{name} samples" + (" (DPM++ 20, w 2)" if name == "ddpm" else "")] = (x.clamp(0, 1), labels,
                                                                                 time.perf_counter() - t0)
        print(f"sampled {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    return out


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--section", choices=["vit", "maskgit", "all"], default="all")
    ap.add_argument("--n", type=int, default=1000, help="images per FID set (default 1000)")
    ap.add_argument("--maskgit", metavar="RUN", help="run of aip train maskgit (decoding maskgit)")
    ap.add_argument("--ar", metavar="RUN", help="run of aip train maskgit --decoding autoregressive")
    ap.add_argument("--choice-temperatures", default="4.5,20", metavar="T,T",
                    help="MaskGIT choice temperatures to run (default 4.5, the paper's, and 20, the best of "
                         "0-50 by FID against training digits at 8 rounds)")
    args = ap.parse_args(argv)
    one_thread()
    command = shlex.join(["benchmarks/transformers.py", *(sys.argv[1:] if argv is None else argv)])
    if args.section in ("vit", "all"):
        vit_section(args, command)
    if args.section in ("maskgit", "all"):
        if not (args.maskgit and args.ar):
            ap.error("--section maskgit: expected --maskgit RUN and --ar RUN")
        maskgit_section(args, command)
    return 0


def vit_section(args, command: str) -> None:
    from aip.data import load_dataset
    from aip.metrics.fid import extract_features, fid_from_features
    from aip.models.lenet import load_lenet
    from aip.models.vit import load_vit

    te = load_dataset("digits", "test")
    vit, lenet = load_vit("digits"), load_lenet("digits")
    acc = {}
    for name, net in (("ViT", vit), ("LeNet", lenet)):
        t0 = time.perf_counter()
        acc[name] = {"accuracy": float((net.predict(te.images) == te.labels).float().mean()),
                     "seconds": time.perf_counter() - t0,
                     "parameters": sum(p.numel() for p in net.parameters())}
        print(f"{name}: test accuracy {acc[name]['accuracy']:.4f}", flush=True)
    target_acc = ("met" if acc["ViT"]["accuracy"] >= 0.98 else "not met") + \
        f": ViT {100 * acc['ViT']['accuracy']:.2f}% on the {len(te)} test digits (target >= 98%)"

    ref = te.images[:args.n]
    feats = {"ViT": vit.features, "LeNet": lenet.features}
    ref_f = {k: extract_features(ref, f, batch_size=500) for k, f in feats.items()}
    rows = []
    judges = {"ViT": vit, "LeNet": lenet}
    for name, (x, labels, secs) in sample_sets(args.n).items():
        r = {"set": name, "n": len(x), "make_seconds": secs}
        for k, f in feats.items():
            r[f"fid_{k}"] = float(fid_from_features(extract_features(x, f, batch_size=500), ref_f[k]))
            r[f"accuracy_{k}"] = float((judges[k].predict(x) == labels).float().mean())
        rows.append(r)
        print(f"{name}: FID-ViT {r['fid_ViT']:.2f}  FID-LeNet {r['fid_LeNet']:.2f}", flush=True)
    rho = spearman([r["fid_ViT"] for r in rows], [r["fid_LeNet"] for r in rows])
    ladder = [r for r in rows if r["set"].startswith("test digits blurred")]
    ladder_ok = all(all(a[f"fid_{k}"] < b[f"fid_{k}"] for a, b in itertools.pairwise(ladder)) for k in feats)

    fig = plot(vit, RESULTS / "transformers_vit.png")
    meta = {**run_meta(), "n": args.n, "command": command}
    curve = vit.meta.get("curve", [])
    lines = ["# Image transformers: ViT", "",
             (f"Generated by `{meta['command']}` on {meta['date']} ({meta['machine']}; {meta['threads']})."),
             "", "## ViT digit classifier", "",
             f"Target (ViT classifier >= 98% on the digit test split): **{target_acc}**.", "",
             (f"Shipped `vit_digits`: {vit.config.depth} blocks of width {vit.config.dim}, {vit.config.heads} heads, "
              f"{vit.config.patch_size} x {vit.config.patch_size} patches ({vit.grid ** 2} tokens + class token), "
              f"trained by `{vit.meta.get('command', '?')}` in {vit.meta.get('seconds', float('nan')) / 60:.0f} "
              f"min on one thread (commit {str(vit.meta.get('commit', '?'))[:7]})."), "",
             *md_table(["network", "test accuracy", "parameters", "seconds for the 10000 test digits"],
                       [[k, f"{100 * v['accuracy']:.2f}%", f"{v['parameters']:,}", f"{v['seconds']:.1f}"]
                        for k, v in acc.items()]), "",
             "Test accuracy against training time (from the asset's record):", "",
             *md_table(["epoch", "minutes", "test accuracy"],
                       [[c["epoch"], f"{c['seconds'] / 60:.1f}", f"{100 * c['test_accuracy']:.2f}%"] for c in curve]),
             "", "## FID on ViT features beside FID-LeNet", "",
             (f"Each set against the first {args.n} test digits. The blur ladder is ranked in order by both: "
              f"**{'yes' if ladder_ok else 'no'}**; Spearman's rho between the two FIDs over all sets: "
              f"**{rho:.2f}**. The ViT's features are its final class-token state ({vit.config.dim} values), "
              f"LeNet's its 128 penultimate pre-activations, so the two scales differ."), "",
             *md_table(["set", "FID-ViT", "FID-LeNet", "label accuracy by ViT", "by LeNet", "seconds to make"],
                       [[r["set"], f"{r['fid_ViT']:.2f}", f"{r['fid_LeNet']:.2f}", f"{100 * r['accuracy_ViT']:.1f}%",
                         f"{100 * r['accuracy_LeNet']:.1f}%", f"{r['make_seconds']:.1f}"] for r in rows]), "",
             ("Label accuracy: the class each set was drawn for (its true labels; the generators' conditioning "
              "labels 0-9 cycling), as judged by each classifier."), "",
             f"![{fig.name}]({fig.name})", "",
             ("Left: the principal components of the patch-embedding filters (each a 4 x 4 patch; share of the "
              "variance above each). Right: cosine similarity of each position's embedding to every other "
              "position, one small map per patch position, laid out on the 7 x 7 grid (the paper's Figure 7)."), ""]
    write_results("transformers_vit",
                  {"meta": meta, "accuracy": acc, "target_accuracy": target_acc, "curve": curve, "fid": rows,
                   "spearman": rho, "ladder_in_order": ladder_ok}, "\n".join(lines))
    print(target_acc)


def maskgit_section(args, command: str) -> None:
    from aip.data import load_dataset
    from aip.metrics.fid import extract_features, fid_from_features
    from aip.models.lenet import load_lenet
    from aip.train.run import load_run

    te = load_dataset("digits", "test")
    lenet = load_lenet("digits")
    ref = te.images[:args.n]
    ref_f = extract_features(ref, lenet.features, batch_size=500)
    mg, mg_meta = load_run(args.maskgit)
    ar, ar_meta = load_run(args.ar)
    if mg.config.decoding != "maskgit" or ar.config.decoding != "autoregressive":
        raise SystemExit("--maskgit: expected a run with decoding maskgit; --ar: one with decoding autoregressive")
    if mg_meta["model"]["tokenizer"] != ar_meta["model"]["tokenizer"]:
        raise SystemExit("--maskgit, --ar: expected runs over the same tokenizer")
    labels = torch.arange(args.n) % 10

    def score(name, x, seconds, passes, truth=labels):
        f = extract_features(x, lenet.features, batch_size=500)
        r = {"method": name, "passes": passes, "seconds": seconds, "seconds_per_image": seconds / len(x),
             "fid_lenet": float(fid_from_features(f, ref_f)),
             "accuracy": float((lenet.predict(x) == truth[:len(x)]).float().mean())}
        print(f"{name}: {passes} passes, {seconds:.1f} s, FID-LeNet {r['fid_lenet']:.2f}, "
              f"accuracy {r['accuracy']:.3f}", flush=True)
        return r

    rows, grids = [], {}
    with torch.no_grad():
        rec = torch.cat([mg.tokenizer.decode_codes(mg.tokenizer.encode(b)) for b in ref.split(250)])
    rows.append(score("tokenizer reconstructions of the test digits (the floor)", rec, 0.0, 0,
                      truth=te.labels[:args.n]))

    def run(model, name, **kw):
        xs, passes, t0 = [], 0, time.perf_counter()
        for i, lab in enumerate(labels.split(250)):
            g = torch.Generator().manual_seed(i)
            codes, passes = model.sample_codes(len(lab), y=lab, generator=g, **kw)
            with torch.no_grad():
                xs.append(model.tokenizer.decode_codes(codes.view(len(lab), model.grid, model.grid)))
        x = torch.cat(xs)
        grids[name] = x[:20]
        return score(name, x, time.perf_counter() - t0, passes)

    ar_row = run(ar, "autoregressive, token by token")
    rows.append(ar_row)
    for ct in (float(v) for v in args.choice_temperatures.split(",")):
        for steps in (4, 8, 10, 12, 16):
            rows.append({**run(mg, f"MaskGIT, {steps} rounds, choice temperature {ct:g}", steps=steps,
                               choice_temperature=ct), "rounds": steps, "choice_temperature": ct})
    for r in rows[1:]:
        r["speedup_vs_ar"] = ar_row["seconds"] / r["seconds"]
        r["fid_ratio_vs_ar"] = r["fid_lenet"] / ar_row["fid_lenet"]
    ok = [r for r in rows if 8 <= r.get("rounds", 0) <= 12 and r["speedup_vs_ar"] >= 5
          and r["fid_ratio_vs_ar"] <= 1.10]
    best = min((r for r in rows if "rounds" in r), key=lambda r: r["fid_lenet"])
    target = (f"met by {', '.join(r['method'] for r in ok)}" if ok else "not met") + \
        f" (best MaskGIT FID {best['fid_lenet']:.2f} at {best['passes']} rounds, choice temperature " \
        f"{best['choice_temperature']:g}; token by token " \
        f"{ar_row['fid_lenet']:.2f} in {ar_row['passes']} passes)"
    fig = sample_panels(grids, RESULTS / "transformers_maskgit.png")
    meta = {**run_meta(), "n": args.n, "command": command}
    desc = (f"MaskGIT: `{args.maskgit}` (step {mg_meta['step']}), autoregressive: `{args.ar}` (step "
            f"{ar_meta['step']}), both {mg.config.depth} blocks of width {mg.config.dim} over the "
            f"{mg.grid} x {mg.grid} codes ({mg.vocab} entries) of the VQ-VAE `{mg_meta['model']['tokenizer']}`; "
            "no guidance; the autoregressive pass recomputes the whole sequence (no key-value cache), so a "
            "pass of either costs the same.")
    lines = ["# Image transformers: MaskGIT against token-by-token decoding", "",
             f"Generated by `{command}` on {meta['date']} ({meta['machine']}; {meta['threads']}).", "",
             (f"Target (MaskGIT in 8-12 rounds >= 5x faster than token by token, FID-LeNet within 10%): "
              f"**{target}**."), "", desc, "",
             *md_table(["decoding", "network passes", "seconds", "s per image", "speed-up", "FID-LeNet",
                        "FID / token-by-token", "class accuracy (LeNet)"],
                       [[r["method"], r["passes"], f"{r['seconds']:.1f}", f"{r['seconds_per_image']:.4f}",
                         f"{r.get('speedup_vs_ar', float('nan')):.1f}x" if "speedup_vs_ar" in r else "",
                         f"{r['fid_lenet']:.2f}",
                         f"{r['fid_ratio_vs_ar']:.2f}" if "fid_ratio_vs_ar" in r else "",
                         f"{100 * r['accuracy']:.1f}%"] for r in rows]), "",
             f"![{fig.name}]({fig.name})", ""]
    write_results("transformers_maskgit", {"meta": meta, "rows": rows, "target": target}, "\n".join(lines))
    print(target)


def plot(vit, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comps, var = vit.embedding_components()
    sim = vit.position_similarity().numpy()
    g = vit.grid
    k = comps.shape[0]
    cols = 4
    fig = plt.figure(figsize=(11, 5))
    left = fig.add_gridspec(int(np.ceil(k / cols)), cols, left=0.02, right=0.36, top=0.88, bottom=0.04,
                            wspace=0.1, hspace=0.35)
    for i in range(k):
        ax = fig.add_subplot(left[i // cols, i % cols])
        ax.imshow(comps[i, 0].numpy(), cmap="RdBu_r", interpolation="nearest")
        ax.set_title(f"{100 * var[i]:.0f}%", fontsize=7)
        ax.axis("off")
    fig.text(0.19, 0.95, "patch-embedding filters: principal components", ha="center", fontsize=9)
    right = fig.add_gridspec(g, g, left=0.42, right=0.9, top=0.88, bottom=0.04, wspace=0.06, hspace=0.06)
    for i in range(g):
        for j in range(g):
            ax = fig.add_subplot(right[i, j])
            im = ax.imshow(sim[i, j], cmap="viridis", vmin=-1, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.text(0.66, 0.95, "position-embedding similarity (row, column of the patch)", ha="center", fontsize=9)
    cax = fig.add_axes([0.92, 0.1, 0.012, 0.7])
    fig.colorbar(im, cax=cax, label="cosine similarity")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.exit(main())
