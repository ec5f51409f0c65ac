"""Train the ViT digit classifier shipped in ``src/aip/data/weights`` as ``vit_digits``.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/train_vit.py [--epochs 10] [--depth 6] [--dim 64]``.
AdamW (lr 1e-3, weight decay 0.05, 500 warm-up steps then cosine decay), batch 128, random shifts of up to
2 pixels (the LeNet recipe of ``train_lenet.py``, with the optimiser transformers need); the test accuracy
after every epoch goes into the JSON beside the weights, with the exact command.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

import torch
from train_lenet import fit

from aip.data import load_dataset
from aip.io.assets import weights_dir
from aip.models.vit import ViT, ViTConfig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--depth", type=int, default=ViTConfig.depth)
    ap.add_argument("--dim", type=int, default=ViTConfig.dim)
    ap.add_argument("--patch-size", type=int, default=ViTConfig.patch_size)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="asset stem (default: the package's vit_<dataset>)")
    args = ap.parse_args(argv)
    tr, te = load_dataset(args.dataset, "train"), load_dataset(args.dataset, "test")
    torch.manual_seed(args.seed)
    cfg = ViTConfig(image_size=tr.shape[1], in_channels=tr.shape[0], num_classes=tr.num_classes,
                    depth=args.depth, dim=args.dim, patch_size=args.patch_size)
    net = ViT(cfg)
    info = fit(net, tr, te, args.epochs, lr=1e-3, weight_decay=0.05, warmup=500, adamw=True, seed=args.seed,
               label=f"vit {args.dataset}")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], check=False, capture_output=True, text=True).stdout.strip()
    info.update(command=shlex.join(["python", "benchmarks/train_vit.py", *(sys.argv[1:] if argv is None else argv)]),
                commit=commit, threads=torch.get_num_threads())
    net.save(args.out or weights_dir() / f"vit_{args.dataset}", extra=info, force=True)
    print({k: v for k, v in info.items() if k != "curve"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
