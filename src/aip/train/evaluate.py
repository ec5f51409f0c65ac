"""Evaluation of trained generative models: FID-LeNet with its real-data floor, classifier score, class
accuracy of conditional samples, and negative log-likelihood in nats and bits/dim.

FID-LeNet is the Fréchet distance (float64) between Gaussians fitted to the penultimate features of the
shipped LeNet classifier of the dataset, on ``n`` generated images against ``n`` real test images. The
*floor* is the same distance between ``n`` real test and ``n`` real train images: a model cannot be
expected to go below it at that ``n``.

References
----------
Heusel et al., "GANs trained by a two time-scale update rule converge to a local Nash equilibrium", 2017.
Salimans et al., "Improved techniques for training GANs", 2016 (the classifier/Inception score).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from aip.data.dataset import ImageDataset, load_dataset
from aip.metrics.fid import classifier_score, extract_features, fid_from_features
from aip.models.base import GenerativeModel


def _subset(ds: ImageDataset, n: int, seed: int) -> ImageDataset:
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds), generator=g)[:n]
    return ImageDataset(ds.images[idx], ds.labels[idx], name=ds.name, classes=ds.classes)


def sample_metrics(samples: torch.Tensor, *, real_test: torch.Tensor, real_train: torch.Tensor | None = None,
                   feature_fn: Callable[[torch.Tensor], torch.Tensor],
                   classifier: Callable[[torch.Tensor], torch.Tensor] | None = None,
                   labels: torch.Tensor | None = None, batch_size: int = 500) -> dict[str, float]:
    """FID of ``samples`` against ``real_test`` (and the train-vs-test floor), classifier score and the
    accuracy of ``classifier`` on ``labels`` (conditional samples)."""
    f_fake = extract_features(samples, feature_fn, batch_size=batch_size)
    f_test = extract_features(real_test, feature_fn, batch_size=batch_size)
    out = {"fid": fid_from_features(f_fake, f_test)}
    if real_train is not None:
        out["fid_floor"] = fid_from_features(extract_features(real_train, feature_fn, batch_size=batch_size),
                                             f_test)
    if classifier is not None:
        with torch.no_grad():
            logits = torch.cat([classifier(samples[i:i + batch_size]) for i in range(0, len(samples), batch_size)])
        probs = torch.softmax(logits.double(), 1).numpy()
        out["classifier_score"] = classifier_score(probs)
        if labels is not None:
            out["class_accuracy"] = float((logits.argmax(1) == labels.to(logits.device)).float().mean())
    return out


@torch.no_grad()
def nll_metrics(model: GenerativeModel, data: ImageDataset, *, batch_size: int = 250,
                **kwargs: Any) -> dict[str, float] | None:
    """Mean ``model.nll(x)`` (nats per image) over ``data`` and the same in bits/dim; None if the model has no
    ``nll``."""
    fn = getattr(model, "nll", None)
    if fn is None:
        return None
    dev = next(model.parameters()).device
    tot, n = 0.0, 0
    for i in range(0, len(data), batch_size):
        x, y = data.images[i:i + batch_size].to(dev), data.labels[i:i + batch_size].to(dev)
        v = fn(x, y=y, **kwargs) if model.conditional else fn(x, **kwargs)
        v = torch.as_tensor(v, dtype=torch.float64)
        tot += float(v.sum()) if v.ndim else float(v) * x.shape[0]
        n += x.shape[0]
    nats = tot / n
    dims = int(np.prod(data.shape))
    return {"nll_nats": nats, "bits_per_dim": nats / (dims * math.log(2))}


def evaluate_model(model: GenerativeModel, dataset: str | os.PathLike, *, n: int = 1000, seed: int = 0,
                   feature_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
                   sample_kwargs: dict[str, Any] | None = None, nll_n: int | None = None,
                   batch_size: int = 500) -> dict[str, Any]:
    """Evaluate ``model`` on the data it was trained on.

    Draws ``n`` samples (balanced labels if conditional), computes FID against ``n`` test images with the
    shipped LeNet of a built-in dataset (or ``feature_fn``, e.g. a user's network for their data), the floor
    (``n`` train vs ``n`` test), the classifier score and, for conditional models, the class accuracy of the
    samples; ``model.nll`` on ``nll_n`` (default ``min(n, 500)``) test images if the model defines it.
    """
    from aip.models.lenet import load_lenet, shipped_lenets
    from aip.train.trainer import balanced_labels, sample_model

    name = os.fspath(dataset)
    test, train = load_dataset(name, "test"), load_dataset(name, "train")
    n = min(n, len(test), len(train))
    real_test, real_train = _subset(test, n, seed + 1), _subset(train, n, seed + 2)
    classifier = None
    result: dict[str, Any] = {"dataset": name, "n": n}
    if feature_fn is None:
        if name not in shipped_lenets():
            raise ValueError(f"feature_fn: expected a feature network for {name!r} (shipped LeNets: "
                             f"{', '.join(shipped_lenets())})")
        lenet = load_lenet(name)
        feature_fn, classifier = lenet.features, lenet
        result["features"] = f"lenet_{name}"
    else:
        result["features"] = getattr(feature_fn, "__name__", type(feature_fn).__name__)
    labels = balanced_labels(n, test.num_classes) if model.conditional else None
    samples = sample_model(model, n, y=labels, seed=seed, batch_size=batch_size, **(sample_kwargs or {}))
    result.update(sample_metrics(samples, real_test=real_test.images, real_train=real_train.images,
                                 feature_fn=feature_fn, classifier=classifier,
                                 labels=labels if classifier is not None else None, batch_size=batch_size))
    if classifier is not None:
        with torch.no_grad():
            p = torch.softmax(torch.cat([classifier(real_test.images[i:i + batch_size]).double()
                                         for i in range(0, n, batch_size)]), 1).numpy()
        result["classifier_score_real"] = classifier_score(p)
    nll = nll_metrics(model, _subset(test, min(nll_n or min(n, 500), len(test)), seed + 3))
    if nll is not None:
        result.update(nll)
    return result


def evaluate_run(run_dir: str | os.PathLike, *, n: int = 1000, seed: int = 0,
                 sample_kwargs: dict[str, Any] | None = None, device: str | None = None) -> dict[str, Any]:
    """:func:`evaluate_model` on a run directory's EMA model and training data."""
    from aip.train.run import load_run

    model, meta = load_run(run_dir, device=device)
    kw = {**meta["train"].get("sample_kwargs", {}), **(sample_kwargs or {})}
    res = evaluate_model(model, meta["train"]["data"], n=n, seed=seed, sample_kwargs=kw)
    return {"run": str(run_dir), "model": meta["model"]["model"], "step": meta["step"], **res}
