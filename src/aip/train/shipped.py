"""Small generative models trained on the built-in ``digits`` set and shipped inside the package.

Each shipped model is a pair ``aip/data/weights/gen_<name>_<dataset>.safetensors`` (the EMA weights of a run of
``aip train``; parameters stored as float16, buffers as float32) and ``.json`` (``{"name", "model": the model
config, "train": the TrainConfig, "data", "step", "wall_seconds", "sample_kwargs": the defaults for sampling,
"evaluation": FID-LeNet and class accuracy measured on the shipped weights}``). Nothing is downloaded.

Example
-------
>>> from aip.train.shipped import load_shipped, shipped_models
>>> "ddpm" in shipped_models()
True
>>> load_shipped("cvae").sample(2, y=torch.tensor([3, 7])).shape
torch.Size([2, 1, 28, 28])
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from aip.models.base import GenerativeModel

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "data" / "weights"

# samples per class in the demo grids (rows = classes 0..9)
GRID_PER_CLASS = 8


def _index() -> dict[str, Path]:
    """Shipped name -> JSON path, from the files present (``gen_*.json`` with its ``.safetensors``)."""
    out: dict[str, Path] = {}
    for meta_path in sorted(WEIGHTS_DIR.glob("gen_*.json")):
        if not meta_path.with_suffix(".safetensors").is_file():
            continue
        name = json.loads(meta_path.read_text()).get("name") or meta_path.stem[len("gen_"):]
        out[name] = meta_path
    return out


def shipped_models() -> list[str]:
    """Names of the shipped generative models (e.g. ``["cvae", "ddpm"]``)."""
    return sorted(_index())


def shipped_meta(name: str) -> dict[str, Any]:
    """The JSON record of shipped model ``name`` (config, training run, evaluation figures)."""
    index = _index()
    if name not in index:
        raise ValueError(f"shipped model: expected one of {', '.join(sorted(index)) or 'none (no gen_* files)'}, "
                         f"got {name!r}")
    return json.loads(index[name].read_text())


def load_shipped_run(name: str, *, device: str | torch.device | None = None
                     ) -> tuple[GenerativeModel, dict[str, Any]]:
    """Shipped model ``name`` (eval mode) and a record shaped like :func:`aip.train.run.load_run`'s meta,
    whose ``train.sample_kwargs`` are the shipped sampling defaults (e.g. DDIM 50 steps, guidance 3)."""
    from safetensors.torch import load_file

    from aip.train.models import get_model_class, make_config

    meta = shipped_meta(name)
    cfg = dict(meta["model"])
    model_name = cfg.pop("model")
    cls = get_model_class(model_name)
    net = cls(make_config(cls.config_class, cfg, what=model_name))
    own = net.state_dict()
    stored = load_file(str(_index()[name].with_suffix(".safetensors")))
    if set(stored) != set(own):
        missing, extra = sorted(set(own) - set(stored)), sorted(set(stored) - set(own))
        raise ValueError(f"shipped {name}: weights do not match the {model_name} config (missing {missing[:3]}, "
                         f"unexpected {extra[:3]})")
    net.load_state_dict({k: v.to(own[k].dtype) for k, v in stored.items()})
    dev = torch.device(device) if device is not None else torch.device("cpu")
    out = dict(meta)
    out["train"] = {**meta.get("train", {}), "sample_kwargs": dict(meta.get("sample_kwargs", {}))}
    out["checkpoint"] = str(_index()[name].with_suffix(".safetensors"))
    return net.to(dev).eval(), out


def load_shipped(name: str, *, device: str | torch.device | None = None) -> GenerativeModel:
    """The shipped generative model ``name`` (see :func:`shipped_models`), in eval mode, offline.

    Raises ValueError listing the shipped names for an unknown ``name``.
    """
    return load_shipped_run(name, device=device)[0]


def save_shipped(model: GenerativeModel, stem: str | os.PathLike, meta: dict[str, Any]) -> None:
    """Write ``stem.safetensors`` (parameters as float16, buffers as float32) and ``stem.json`` (``meta`` with
    the model's config), atomically. Used once, to export a trained run into the package."""
    from safetensors.torch import save

    from aip._shared.files import atomic_write

    stem = Path(stem)
    params = {k for k, _ in model.named_parameters()}
    state = {k: (v.detach().cpu().to(torch.float16) if k in params and v.is_floating_point() else v.detach().cpu())
             .contiguous() for k, v in model.state_dict().items()}
    atomic_write(stem.with_suffix(".safetensors"), save(state), force=True)
    record = {**meta, "model": model.config_dict()}
    atomic_write(stem.with_suffix(".json"), json.dumps(record, indent=2, default=list).encode(), force=True)


def sample_shipped(name: str, per_class: int = GRID_PER_CLASS, *, seed: int = 0,
                   **sample_kwargs: Any) -> torch.Tensor:
    """``per_class`` samples of each class from shipped model ``name`` (class-major order: all 0s, then 1s...),
    with the shipped sampling defaults unless overridden."""
    from aip.train.trainer import sample_model

    model, meta = load_shipped_run(name)
    k = int(getattr(model.config, "num_classes", 0) or 0)
    y = torch.arange(k).repeat_interleave(per_class) if k else None
    n = per_class * k if k else per_class * 10
    return sample_model(model, n, y=y, seed=seed, **{**meta["train"]["sample_kwargs"], **sample_kwargs})


def sample_shipped_grids(out_dir: Path) -> list[str]:
    """Write ``out_dir/<name>_samples.png`` for every shipped model (rows = digit classes 0..9, 8 per row)
    and return one line per model: name, file and seconds. Overwrites the demo's own files."""
    from aip.train.trainer import save_image_grid

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for name in shipped_models():
        t0 = time.perf_counter()
        imgs = sample_shipped(name)
        path = save_image_grid(imgs, out_dir / f"{name}_samples.png", nrow=GRID_PER_CLASS, force=True)
        secs = time.perf_counter() - t0
        meta = shipped_meta(name)
        how = ", ".join(f"{k} {v}" for k, v in meta.get("sample_kwargs", {}).items())
        lines.append(f"{name}: {len(imgs)} digits{f' ({how})' if how else ''} -> {path} in {secs:.1f}s")
    return lines
