"""Evaluation of trained generative models: FID-LeNet with its real-data floor, classifier score, class
accuracy of conditional samples, and negative log-likelihood in nats and bits/dim.

FID-LeNet is the Fréchet distance (float64) between Gaussians fitted to the penultimate features of the
shipped LeNet classifier of the dataset, on ``n`` generated images against ``n`` real test images. The
*floor* is the same distance between ``n`` real test and ``n`` real train images: a model cannot be
expected to go below it at that ``n``.

Restoration models are scored by :func:`restoration_metrics`: mean PSNR and SSIM of their restorations of a
held-out set under fixed, seeded degradations (what the trainer logs at ``eval_every``).

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
                   labels: torch.Tensor | None = None, batch_size: int = 500,
                   real_labels: Any = None) -> dict[str, Any]:
    """FID of ``samples`` against ``real_test`` (and the train-vs-test floor), improved precision and recall
    (k = 3) on the same features, classifier score, the accuracy of ``classifier`` on ``labels``
    (conditional samples) and, given ``real_labels`` of ``real_test``, the within-class diversity ratio; the
    border haze (:func:`aip.metrics.diversity.border_haze`) of samples and real images where the images have
    a border (at least 8 pixels a side)."""
    from aip.metrics.diversity import border_haze, precision_recall, within_class_diversity

    f_fake = extract_features(samples, feature_fn, batch_size=batch_size)
    f_test = extract_features(real_test, feature_fn, batch_size=batch_size)
    out: dict[str, Any] = {"fid": fid_from_features(f_fake, f_test)}
    if min(len(f_fake), len(f_test)) > 3:
        out.update(precision_recall(f_test, f_fake, k=3))
    if min(samples.shape[-2:]) >= 8:
        out["border_haze"] = border_haze(samples)
        out["border_haze_real"] = border_haze(real_test)
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
        if real_labels is not None:
            # within-class spread, classes by the asked label (conditional) or the classifier's (unconditional)
            fake_labels = labels.cpu().numpy() if labels is not None else logits.argmax(1).cpu().numpy()
            try:
                out.update(within_class_diversity(f_fake, fake_labels, f_test, np.asarray(real_labels)))
            except ValueError:   # no class with 2 samples in both sets (tiny n): no diversity figure
                pass
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
                   batch_size: int = 500, progress: bool = False) -> dict[str, Any]:
    """Evaluate ``model`` on the data it was trained on.

    Draws ``n`` samples (balanced labels if conditional), computes FID against ``n`` test images with the
    shipped LeNet of a built-in dataset (or ``feature_fn``, e.g. a user's network for their data), the floor
    (``n`` train vs ``n`` test), the classifier score and, for conditional models, the class accuracy of the
    samples; ``model.nll`` on ``nll_n`` (default ``min(n, 500)``) test images if the model defines it.
    ``progress`` shows one bar (stderr) over the whole evaluation: sampling (the samplers' steps, batch by
    batch), features, NLL.
    """
    from aip._shared.progress import job

    nll_n = nll_n or min(n, 500)
    with job(2 * n + (nll_n if getattr(model, "nll", None) is not None else 0), progress, "evaluate",
             unit="img") as bar:
        return _evaluate_model(model, dataset, n=n, seed=seed, feature_fn=feature_fn, sample_kwargs=sample_kwargs,
                               nll_n=nll_n, batch_size=batch_size, bar=bar)


def _evaluate_model(model, dataset, *, n, seed, feature_fn, sample_kwargs, nll_n, batch_size, bar):
    from aip.models.lenet import load_lenet, shipped_lenets
    from aip.train.trainer import balanced_labels, sample_model

    share = n        # the bar's parts are sized by the n asked for (the datasets may cut it)
    name = os.fspath(dataset)
    test, train = load_dataset(name, "test"), load_dataset(name, "train")
    n = min(n, len(test), len(train))
    real_test, real_train = _subset(test, n, seed + 1), _subset(train, n, seed + 2)
    classifier = None
    result: dict[str, Any] = {"dataset": name, "n": n, "sampling": dict(sample_kwargs or {})}
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
    with bar.part(share, loops=-(-n // batch_size) if batch_size > 0 else 1):      # a sampler loop per batch
        samples = sample_model(model, n, y=labels, seed=seed, batch_size=batch_size, **(sample_kwargs or {}))
    with bar.part(share):
        result.update(sample_metrics(samples, real_test=real_test.images, real_train=real_train.images,
                                     feature_fn=feature_fn, classifier=classifier,
                                     labels=labels if classifier is not None else None, batch_size=batch_size,
                                     real_labels=real_test.labels))
        if classifier is not None:
            with torch.no_grad():
                p = torch.softmax(torch.cat([classifier(real_test.images[i:i + batch_size]).double()
                                             for i in range(0, n, batch_size)]), 1).numpy()
            result["classifier_score_real"] = classifier_score(p)
    with bar.part(nll_n):
        nll = nll_metrics(model, _subset(test, min(nll_n, len(test)), seed + 3))
    if nll is not None:
        result.update(nll)
    return result


def evaluate_run(run_dir: str | os.PathLike, *, n: int = 1000, seed: int = 0,
                 sample_kwargs: dict[str, Any] | None = None, device: str | None = None,
                 progress: bool = False) -> dict[str, Any]:
    """:func:`evaluate_model` on a run directory's EMA model and training data (``progress``: one bar).

    ``run_dir`` may be ``shipped:NAME``, as for ``aip sample``: a shipped generative model (``shipped:ddpm``)
    or a shipped restorer (``shipped:restore_ffdnet_gray``). Restoration models (runs or shipped) are scored
    by PSNR/SSIM on the held-out set of their training config (:func:`aip.train.run.score_restorer`);
    ``n`` and ``sample_kwargs`` apply to generative models only."""
    from aip.models.base import RestorationModel
    from aip.train.run import load_run, score_restorer

    name = str(run_dir)
    if name.startswith("shipped:"):
        name = name[len("shipped:"):]
        from aip.models.learned import PREFIX, load_restorer

        if name.startswith(PREFIX):
            from aip.io.assets import load_asset_meta

            model, meta = load_restorer(name, device=device), load_asset_meta(name)
        else:
            from aip.train.shipped import load_shipped_run

            model, meta = load_shipped_run(name, device=device)
    else:
        model, meta = load_run(run_dir, device=device)
    if isinstance(model, RestorationModel):
        return {"run": str(run_dir), "model": meta["model"]["model"], "step": meta["step"],
                **score_restorer(model, meta["train"], seed=None)}
    kw = {**meta["train"].get("sample_kwargs", {}), **(sample_kwargs or {})}
    res = evaluate_model(model, meta["train"]["data"], n=n, seed=seed, sample_kwargs=kw, progress=progress)
    return {"run": str(run_dir), "model": meta["model"]["model"], "step": meta["step"], **res}


# -- restoration ------------------------------------------------------------------------------------------------

def _hwc(t: torch.Tensor) -> np.ndarray:
    a = t.detach().float().cpu().numpy()
    return a[0] if a.shape[0] == 1 else np.moveaxis(a, 0, -1)


@torch.no_grad()
def restore_batch(model: Any, batch: dict[str, Any], device: Any) -> tuple[dict[str, Any], torch.Tensor]:
    """``(batch as scored, restorations on the CPU)`` of a held-out batch: the model's
    :meth:`~aip.models.base.RestorationModel.evaluation_batch` first (holes for an inpainter), then
    ``restore(y, sigma=..., **the other keys)``."""
    if hasattr(model, "evaluation_batch"):
        batch = model.evaluation_batch(batch)
    sigma = batch.get("sigma")
    extra = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()
             if k not in ("x", "y", "sigma", "physics")}
    out = model.restore(batch["y"].to(device), sigma=None if sigma is None else sigma.to(device), **extra)
    return batch, out.float().cpu()


#: PSNR (dB) credited to an exact restoration in :func:`restoration_metrics` (its own PSNR is infinite)
PSNR_CAP = 100.0


@torch.no_grad()
def restoration_metrics(model: Any, data: Any, *, seed: int = 0, batch_size: int = 16,
                        data_range: float = 1.0, clip: bool = True) -> dict[str, float]:
    """Mean PSNR and SSIM of ``model.restore`` on a held-out :class:`~aip.data.BatchDataset`.

    Every evaluation sees the same observations: the data is cut into consecutive chunks of ``batch_size``
    images, chunk ``k`` drawn with ``augment=False`` (centre crops, no flips) from a generator seeded by
    ``(seed, k)``. Restorations are clipped to [0, 1] (``clip``) and scored per image with
    :func:`aip.metrics.psnr` and :func:`aip.metrics.ssim` (channels last for colour), then averaged.
    ``psnr_input`` / ``ssim_input`` score the observations themselves when they have the clean images'
    shape (clipped too with ``clip``; the gain is ``psnr - psnr_input``). An exact image counts as
    :data:`PSNR_CAP` dB, so one flat crop restored exactly does not make the mean infinite.

    Parameters
    ----------
    model : RestorationModel
        Evaluated in eval mode (its mode is restored afterwards).
    data : BatchDataset
        Batches ``{"x": clean, "y": observed[, "sigma"]}`` (:class:`~aip.data.Degraded`, :class:`~aip.data.Paired`).
    seed : int
    batch_size : int
    data_range : float
    clip : bool

    Returns
    -------
    dict
        ``{"psnr", "ssim", "n"}`` and, for same-shape observations, ``"psnr_input"``, ``"ssim_input"``.

    Example
    -------
    >>> restoration_metrics(model, Degraded(test_images, physics))  # doctest: +SKIP
    {'psnr': 31.2, 'ssim': 0.88, 'n': 68, 'psnr_input': 20.2, 'ssim_input': 0.41}
    """
    from aip._shared.validate import check_int
    from aip.data.dataset import BatchDataset, batch_generator
    from aip.metrics import psnr, ssim

    if not isinstance(data, BatchDataset):
        raise TypeError(f"data: expected an aip.data BatchDataset (Paired or Degraded), got {type(data).__name__}")
    if not callable(getattr(model, "restore", None)):
        raise TypeError(f"model: expected a restoration model with a restore method, got {type(model).__name__}")
    check_int(batch_size, "batch_size", low=1)
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    scores: dict[str, list[float]] = {"psnr": [], "ssim": [], "psnr_input": [], "ssim_input": []}
    try:
        for k, start in enumerate(range(0, len(data), batch_size)):
            idx = torch.arange(start, min(start + batch_size, len(data)))
            b, out = restore_batch(model, data.batch(idx, rng=batch_generator(seed, k), augment=False), dev)
            if clip:
                out = out.clamp(0.0, 1.0)
            x = b["x"]
            if out.shape != x.shape:
                raise ValueError(f"model.restore: expected an output shaped like the clean images "
                                 f"{tuple(x.shape)}, got {tuple(out.shape)}")
            same = b["y"].shape == x.shape
            for i in range(x.shape[0]):
                ref = _hwc(x[i])
                ch = -1 if ref.ndim == 3 else None
                est = _hwc(out[i])
                scores["psnr"].append(min(psnr(ref, est, data_range=data_range), PSNR_CAP))
                scores["ssim"].append(float(ssim(ref, est, data_range=data_range, channel_axis=ch)))
                if same:
                    obs = _hwc(b["y"][i].clamp(0.0, 1.0) if clip else b["y"][i])
                    scores["psnr_input"].append(min(psnr(ref, obs, data_range=data_range), PSNR_CAP))
                    scores["ssim_input"].append(float(ssim(ref, obs, data_range=data_range, channel_axis=ch)))
    finally:
        model.train(was)
    res: dict[str, float] = {"psnr": float(np.mean(scores["psnr"])), "ssim": float(np.mean(scores["ssim"])),
                             "n": len(scores["psnr"])}
    if scores["psnr_input"]:
        res.update(psnr_input=float(np.mean(scores["psnr_input"])), ssim_input=float(np.mean(scores["ssim_input"])))
    return res
