"""Image transformers (issue 14): the shipped ViT digit classifier and feature network.

- Accuracy of the shipped ViT (``vit_digits``) on the whole digit test split, beside the shipped LeNet in the
  same run; target >= 98%. Test accuracy against training time from the ViT's own JSON record.
- The paper's views of what it learned (Dosovitskiy et al. 2021, Figure 7): the principal components of the
  patch-embedding filters and the position-embedding similarity map.
- FID on ViT features beside FID-LeNet, N test digits against: N training digits (the floor), the test
  digits blurred (Gaussian sigma 0.5, 1, 2: a controlled ladder both must rank in order), and N samples of each
  shipped generator (cGAN; CVAE; DDPM with DPM-Solver++ at 20 steps, guidance 2). The two feature networks
  should rank the sets alike (Spearman's rho).

Usage::

    python benchmarks/transformers.py [--n 1000]

Writes ``results/transformers.md``, ``.json`` and ``transformers_vit.png``.
"""

from __future__ import annotations

from _common import RESULTS, md_table, one_thread, run_meta, write_results  # first: pins the thread pools

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
    ap.add_argument("--n", type=int, default=1000, help="images per FID set (default 1000)")
    args = ap.parse_args(argv)
    one_thread()
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
    meta = {**run_meta(), "n": args.n, "command": shlex.join(["benchmarks/transformers.py",
                                                               *(sys.argv[1:] if argv is None else argv)])}
    curve = vit.meta.get("curve", [])
    lines = ["# Image transformers", "",
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
    write_results(str(RESULTS / "transformers"),
                  {"meta": meta, "accuracy": acc, "target_accuracy": target_acc, "curve": curve, "fid": rows,
                   "spearman": rho, "ladder_in_order": ladder_ok}, "\n".join(lines))
    print(target_acc)
    return 0


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
