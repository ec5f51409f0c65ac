"""Run directories: start or resume a training run, and load a trained model back for sampling.

A run directory holds ``config.json`` (``{"train": TrainConfig, "model": model config, "data": ...}``),
``log.jsonl``, ``samples/step_*.png`` and ``checkpoints/step_*`` (see :mod:`aip.train.checkpoint`).

Generative models train on ``load_dataset(config.data)``. Restoration models train on the same images
degraded afresh at every batch (:func:`restoration_data`: the config's ``noise``, ``blur`` and ``crop``) and
are scored at ``eval_every`` steps on ``eval_images`` held-out images (the test split).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aip._shared.files import atomic_write
from aip.data.dataset import BatchDataset, ImageDataset, load_dataset
from aip.models.base import RestorationModel, Trainable
from aip.train import distributed as D
from aip.train.checkpoint import latest_checkpoint, load_checkpoint
from aip.train.config import TrainConfig
from aip.train.models import build_model, get_model_class, make_config
from aip.train.trainer import Trainer, seed_everything

# model config fields filled from the data when the user does not set them
_CHANNEL_FIELDS = ("in_channels", "channels", "image_channels")
_SIZE_FIELDS = ("image_size", "resolution", "size")


def data_defaults(config_class: type, dataset: ImageDataset | BatchDataset,
                  given: dict[str, Any]) -> dict[str, Any]:
    """Model config values implied by the data (channels, image size, number of classes) not given.

    A :class:`~aip.data.BatchDataset` (crops of images of any size) implies its channels, and its image size
    when it cuts square crops."""
    names = {f.name: f for f in dataclasses.fields(config_class)}
    out: dict[str, Any] = {}
    if isinstance(dataset, BatchDataset):
        c = getattr(dataset, "channels", None)
        for f in _CHANNEL_FIELDS:
            if c is not None and f in names and f not in given:
                out[f] = c
        crop = getattr(dataset, "crop", None)
        if crop and crop[0] == crop[1]:
            for f in _SIZE_FIELDS:
                if f in names and f not in given:
                    out[f] = int(crop[0])
        return out
    c, h, w = dataset.shape
    for f in _CHANNEL_FIELDS:
        if f in names and f not in given:
            out[f] = c
    if h == w:
        for f in _SIZE_FIELDS:
            if f in names and f not in given:
                out[f] = h
    if "num_classes" in names and "num_classes" not in given:
        default = names["num_classes"].default
        if isinstance(default, int) and default > 0 and dataset.num_classes > 0:
            out["num_classes"] = dataset.num_classes
    return out


def _data_info(ds: ImageDataset | BatchDataset, config: TrainConfig) -> dict[str, Any]:
    if isinstance(ds, BatchDataset):
        return {"name": config.data, "kind": type(ds).__name__, "channels": getattr(ds, "channels", None),
                "n_train": len(ds), "crop": config.crop, "noise": config.noise, "blur": config.blur}
    return {"name": ds.name, "shape": list(ds.shape), "num_classes": ds.num_classes, "classes": ds.classes,
            "n_train": len(ds)}


def restoration_data(config: TrainConfig, split: str = "train", *, scale: int = 1,
                     task: str | None = None) -> BatchDataset | None:
    """The :class:`~aip.data.Degraded` data of a restoration run: ``config.data`` degraded on the fly.

    Parameters
    ----------
    config : TrainConfig
        ``data``: a built-in dataset (its ``train`` / ``test`` split) or a folder of images (its ``train``
        / ``test`` sub-folders if it has them, else the folder itself for training and no held-out set);
        ``noise`` and ``blur``: :func:`aip.data.make_degradation` specs, noise on the 0-255 scale; ``crop``:
        the random crop size (0: whole images); ``eval_images``: how many held-out images.
    split : {"train", "test"}
        ``"test"`` gives the held-out set (its first ``eval_images`` images), None if there is none.
    scale : int
        Super-resolution data (the model config's ``scale``): the observation is decimated by ``scale``
        (:func:`aip.data.make_degradation`); crops, or whole held-out images without ``crop``, are cut to a
        multiple of ``scale``.
    task : str, optional
        A translation task of :mod:`aip.data.tasks` (``"edges"``, ``"colorize"``) that makes the observation
        instead of ``noise``/``blur`` (the model config's ``task``; any other value or None: the degradation).

    Returns
    -------
    Degraded or None

    Example
    -------
    >>> cfg = TrainConfig(data="digits8", steps=1, noise="gaussian:0-50", crop=6)
    >>> restoration_data(cfg, "train").batch([0, 1], rng=0)["y"].shape
    torch.Size([2, 1, 6, 6])
    """
    from aip._shared.validate import check_choice
    from aip.data.builtin import BUILTIN
    from aip.data.paired import Degraded, make_degradation

    check_choice(split, "split", ("train", "test"))
    from aip.data.tasks import TRANSLATION_TASKS, make_task

    if task in TRANSLATION_TASKS:
        physics: Any = make_task(task)
    else:
        physics = make_degradation(config.noise or None, config.blur or None, scale=scale, noise_scale=255.0)
    crop = config.crop or None
    if crop is not None and crop % scale:
        raise ValueError(f"crop: expected a multiple of the model's scale {scale}, got {crop}")
    source: Any
    if config.data in BUILTIN:
        images = load_dataset(config.data, split).images
        source = images if split == "train" else images[:config.eval_images]
    else:
        from aip.io import IMAGE_SUFFIXES, read_image

        root = Path(config.data)
        if not root.is_dir():
            raise ValueError(f"data: expected a built-in dataset ({', '.join(BUILTIN)}) or a folder of images, "
                             f"got {config.data!r}")
        folder = root / split if (root / split).is_dir() else (root if split == "train" else None)
        if folder is None:
            return None
        if split == "train":
            source = folder
        else:
            suffixes = {s.lower() for s in IMAGE_SUFFIXES}
            files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
            source = [read_image(p) for p in files[:config.eval_images]]
    data = Degraded(source, physics, crop=crop)
    if scale > 1 and crop is None:  # whole images (all of one size): cut to a multiple of scale
        h, w = data.clean.min_size
        data.crop = (h - h % scale, w - w % scale)
    return data


def unpaired_data(config: TrainConfig, split: str = "train") -> BatchDataset | None:
    """The two-domain data of an unpaired translation run (CycleGAN): batches ``{"y": from A, "x": from B}``.

    ``config.data`` is a built-in pair (:data:`aip.data.builtin.PAIRS`, e.g. ``fonts``) or a folder with
    ``trainA``/``trainB`` sub-folders (CycleGAN's layout). ``split="test"``: the held-out aligned pairs
    (:class:`~aip.data.Paired`, the first ``eval_images``) of a built-in pair, or a folder's ``testA``/``testB``
    when their file names match; None otherwise (nothing to score a translation against).
    """
    from aip._shared.validate import check_choice
    from aip.data.builtin import PAIRS
    from aip.data.paired import Paired, Unpaired

    check_choice(split, "split", ("train", "test"))
    crop = config.crop or None
    if config.data in PAIRS:
        a, b, _, _ = PAIRS[config.data](split)
        a, b = (torch.from_numpy(v.astype(np.float32) / 255.0)[:, None] for v in (a, b))
        if split == "train":
            return Unpaired(a, b, crop=crop)
        return Paired(a[:config.eval_images], b[:config.eval_images], flips=False)
    root = Path(config.data)
    if not ((root / "trainA").is_dir() and (root / "trainB").is_dir()):
        raise ValueError(f"data: expected a built-in pair ({', '.join(PAIRS)}) or a folder with trainA/ and "
                         f"trainB/, got {config.data!r}")
    if split == "train":
        return Unpaired(root / "trainA", root / "trainB", crop=crop)
    ta, tb = root / "testA", root / "testB"
    if not (ta.is_dir() and tb.is_dir()) or sorted(p.name for p in ta.iterdir()) != sorted(p.name for p in tb.iterdir()):
        return None
    return Paired(ta, tb, flips=False)


# TrainConfig keys a resumed run may change: its length, intervals and device
RESUME_OVERRIDES = ("steps", "epochs", "log_every", "sample_every", "checkpoint_every", "device", "num_samples",
                    "keep_checkpoints")


def train_run(model: str | None, run_dir: str | os.PathLike, *, config: TrainConfig | None = None,
              model_options: dict[str, Any] | None = None, resume: bool = False, progress: bool = True,
              overrides: dict[str, Any] | None = None, stop_at: int | None = None) -> Trainer:
    """Start (or with ``resume`` continue) the run in ``run_dir``; returns the finished trainer.

    New run: ``model`` is a registry name, ``model_options`` its config values (strings are converted;
    unknown keys raise ValueError), ``config`` the TrainConfig. Resume: the run's saved configs are used,
    ``overrides`` may change the length (``steps``/``epochs``) and the intervals, and training continues
    exactly from the latest checkpoint.
    """
    run = Path(run_dir)
    if resume:
        cfg_path = run / "config.json"
        if not cfg_path.is_file():
            raise FileNotFoundError(f"{run}: no config.json to resume from")
        saved = json.loads(cfg_path.read_text())
        tc = saved["train"]
        for k, v in (overrides or {}).items():
            if k not in RESUME_OVERRIDES:
                raise ValueError(f"resume: {k!r} cannot change when resuming (only the length, intervals and "
                                 f"device can)")
            if v is not None:
                tc[k] = v
                if k == "steps":
                    tc["epochs"] = None
                elif k == "epochs":
                    tc["steps"] = None
        config = TrainConfig.from_dict(tc).validate()
        model_cfg = dict(saved["model"])
        name = model_cfg.pop("model")
        if model is not None and model != name:
            raise ValueError(f"resume: {run} holds a {name!r} run, not {model!r}")
        options = model_cfg
        if latest_checkpoint(run / "checkpoints") is None:
            raise FileNotFoundError(f"{run}: no checkpoint to resume from")
    else:
        if model is None:
            raise ValueError("model: expected a model name, got none")
        config = (config or TrainConfig()).validate()
        name = model
        options = dict(model_options or {})
        if latest_checkpoint(run / "checkpoints") is not None:
            raise FileExistsError(f"{run}: holds a run already; pass --resume to continue it or choose another --out")
    config.model = name
    cls = get_model_class(name)
    if getattr(cls, "unpaired", False):
        dataset = unpaired_data(config, "train")
        eval_data = unpaired_data(config, "test")
    elif issubclass(cls, RestorationModel):
        model_cfg = make_config(cls.config_class, options, what=name, validate=False)  # the data fills in more
        scale = int(getattr(model_cfg, "data_scale", getattr(model_cfg, "scale", 1)) or 1)
        task = getattr(model_cfg, "task", None)
        dataset: ImageDataset | BatchDataset = restoration_data(config, "train", scale=scale, task=task)
        eval_data = restoration_data(config, "test", scale=scale, task=task)
    else:
        dataset, eval_data = load_dataset(config.data, "train"), None
    device = D.local_device(torch.device(config.device) if config.device != "auto" else
                            torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    D.init_distributed(device)
    values = {**data_defaults(cls.config_class, dataset, options), **options}
    make_config(cls.config_class, values, what=name)  # validate before any file is written
    seed_everything(config.seed)
    net = build_model(name, values)
    trainer = Trainer(net, dataset, config, run, eval_data=eval_data, progress=progress)
    if D.is_main():
        run.mkdir(parents=True, exist_ok=True)
        meta = {"train": config.to_dict(), "model": net.config_dict(), "data": _data_info(dataset, config)}
        atomic_write(run / "config.json", json.dumps(meta, indent=2, default=list).encode(), force=True)
    if resume:
        trainer.load()
    trainer.train(until=stop_at)
    return trainer


def load_run(run_dir: str | os.PathLike, *, ema: bool = True, device: str | torch.device | None = None
             ) -> tuple[Trainable, dict[str, Any]]:
    """The trained model of a run (EMA weights by default, in eval mode) and the run's ``config.json``."""
    run = Path(run_dir)
    cfg_path = run / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{run}: not a run directory (no config.json)")
    meta = json.loads(cfg_path.read_text())
    ckpt = latest_checkpoint(run / "checkpoints")
    if ckpt is None:
        raise FileNotFoundError(f"{run}: no checkpoint yet")
    model_cfg = dict(meta["model"])
    name = model_cfg.pop("model")
    cls = get_model_class(name)
    net = cls(make_config(cls.config_class, model_cfg, what=name))
    dev = torch.device(device) if device is not None else torch.device("cpu")
    state, st = load_checkpoint(ckpt, map_location="cpu")
    ema_state = {k[4:]: v for k, v in state.items() if k.startswith("ema.")}
    own = {k: v for k, v in state.items() if not k.startswith("ema.")}
    net.load_state_dict(ema_state if (ema and ema_state) else own)
    meta["step"] = int(st["step"])
    meta["checkpoint"] = str(ckpt)
    return net.to(dev).eval(), meta


def evaluate_restoration_run(run_dir: str | os.PathLike, *, seed: int | None = None,
                             device: str | torch.device | None = None) -> dict[str, Any]:
    """PSNR/SSIM of a restoration run's EMA model on its held-out set (what the trainer logs at ``eval_every``).

    The held-out set is :func:`restoration_data` of the run's saved config (``"test"`` split); ``seed``
    defaults to the run's, so the figures equal the last ``eval/*`` lines of its ``log.jsonl``.

    Example
    -------
    >>> evaluate_restoration_run("runs/dncnn")  # doctest: +SKIP
    {'run': 'runs/dncnn', 'model': 'dncnn', 'step': 20000, 'psnr': 30.1, 'ssim': 0.86, 'n': 64, ...}
    """
    model, meta = load_run(run_dir, device=device)
    if not isinstance(model, RestorationModel):
        raise TypeError(f"run_dir: expected a restoration run, got a {meta['model']['model']!r} "
                         f"({getattr(model, 'task', '') or type(model).__name__}) run")
    res = score_restorer(model, meta["train"], seed=seed)
    return {"run": str(run_dir), "model": meta["model"]["model"], "step": meta["step"], **res}


def score_restorer(model: RestorationModel, train: dict[str, Any], *, seed: int | None = None) -> dict[str, Any]:
    """PSNR/SSIM of ``model`` on the held-out set of the training config ``train`` (a run's or a shipped
    asset's ``"train"`` record): :func:`restoration_data` ``"test"`` split, the config's seed by default."""
    from aip.train.evaluate import restoration_metrics

    config = TrainConfig.from_dict(train)
    held = restoration_data(config, "test", scale=int(getattr(model.config, "scale", 1) or 1))
    if held is None:
        raise ValueError(f"data: expected a held-out set for {config.data!r} (a built-in dataset or a folder with "
                         f"a test/ sub-folder), got none")
    return restoration_metrics(model, held, seed=config.seed if seed is None else seed)
