"""Train the LeNet classifiers shipped in ``src/aip/data/weights`` (one per built-in dataset).

Usage: ``python benchmarks/train_lenet.py [digits digits8 faces patches] [--epochs N]``.
Adam (lr 1e-3, cosine decay), batch 128, light random shifts as augmentation; the test accuracy is stored
in the JSON beside the weights. CPU, a few minutes in all.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F

from aip.data import load_dataset
from aip.io.assets import weights_dir
from aip.models.lenet import LeNet, LeNetConfig

EPOCHS = {"digits": 3, "digits8": 60, "faces": 150, "patches": 8}


def shift(x: torch.Tensor, g: torch.Generator, m: int) -> torch.Tensor:
    """Random translation by up to m pixels (zero padding)."""
    if m == 0:
        return x
    pad = F.pad(x, (m, m, m, m))
    dy, dx = torch.randint(0, 2 * m + 1, (2,), generator=g).tolist()
    return pad[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]


def fit(net: torch.nn.Module, tr, te, epochs: int, *, lr: float = 1e-3, weight_decay: float = 1e-4,
        warmup: int = 0, adamw: bool = False, seed: int = 0, label: str = "") -> dict:
    """Train ``net`` on the dataset ``tr`` (Adam or AdamW, batch 128, linear warm-up over ``warmup`` steps
    then cosine decay, random shifts of 2 pixels on images over 8 pixels) and report its test accuracy."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    opt = (torch.optim.AdamW if adamw else torch.optim.Adam)(net.parameters(), lr, weight_decay=weight_decay)
    bs = min(128, len(tr))
    steps = epochs * (len(tr) // bs)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) if s < warmup
        else 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, steps - warmup))))
    m = 0 if tr.shape[1] <= 8 else 2
    t0 = time.time()
    curve = []
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(len(tr), generator=g)
        for i in range(len(tr) // bs):
            idx = perm[i * bs:(i + 1) * bs]
            x, y = tr.batch(idx)
            loss = F.cross_entropy(net(shift(x, g, m)), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = (net.predict(te.images) == te.labels).float().mean().item()
        curve.append({"epoch": ep + 1, "seconds": time.time() - t0, "test_accuracy": acc})
        print(f"{label or tr.name} epoch {ep + 1}/{epochs} loss {loss.item():.4f} test acc {acc:.4f} "
              f"({time.time() - t0:.0f}s)", flush=True)
    train_acc = (net.predict(tr.images) == tr.labels).float().mean().item()
    return {"dataset": tr.name, "epochs": epochs, "test_accuracy": acc, "train_accuracy": train_acc,
            "n_train": len(tr), "n_test": len(te), "seconds": time.time() - t0, "curve": curve}


def train(name: str, epochs: int, seed: int = 0) -> dict:
    tr, te = load_dataset(name, "train"), load_dataset(name, "test")
    torch.manual_seed(seed)
    net = LeNet(LeNetConfig(in_channels=tr.shape[0], num_classes=tr.num_classes))
    info = fit(net, tr, te, epochs, seed=seed, label=name)
    info.pop("curve")
    net.save(weights_dir() / f"lenet_{name}", extra=info, force=True)
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("datasets", nargs="*", default=list(EPOCHS))
    ap.add_argument("--epochs", type=int, default=None)
    args = ap.parse_args()
    for name in args.datasets:
        print(train(name, args.epochs or EPOCHS[name]))


if __name__ == "__main__":
    main()
