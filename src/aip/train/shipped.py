"""Small generative models trained on the built-in ``digits`` set and shipped inside the package.

Each shipped model is the asset (:mod:`aip.io.assets`) ``gen_<name>_<dataset>``: ``.safetensors`` (the
EMA weights of a run of ``aip train``; parameters stored as float16, buffers as float32) and ``.json``
(``{"name", "model": the model config, "train": the TrainConfig, "data", "step", "wall_seconds",
"sample_kwargs": the defaults for sampling, "evaluation": FID-LeNet and class accuracy measured on the
shipped weights}``). Nothing is downloaded; the command that rebuilds each one is in
:data:`aip.io.assets.ASSET_COMMANDS` (``aip train ...`` then ``python -m aip.train.shipped RUN NAME``,
which calls :func:`export_run`).

Example
-------
>>> from aip.train.shipped import load_shipped, shipped_models
>>> "ddpm" in shipped_models()
True
>>> load_shipped("cvae").sample(2, y=torch.tensor([3, 7])).shape
torch.Size([2, 1, 28, 28])
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from aip.io.assets import ASSET_COMMANDS, asset_path, list_assets, load_asset, load_asset_meta, save_asset
from aip.models.base import GenerativeModel, Trainable

# samples per class in the demo grids (rows = classes 0..9)
GRID_PER_CLASS = 8
_PREFIX = "gen_"
_WEIGHTS_NOTE = "EMA weights of the run; parameters stored as float16, buffers as float32"


def _name_of(asset: str) -> str:
    """``gen_ddpm_digits`` -> ``ddpm`` (the shipped name when the JSON does not give one)."""
    return asset[len(_PREFIX):].rsplit("_", 1)[0]


def _index() -> dict[str, str]:
    """Shipped name -> asset name, from the complete ``gen_*`` assets present."""
    out: dict[str, str] = {}
    for asset in list_assets(_PREFIX):
        out[load_asset_meta(asset).get("name") or _name_of(asset)] = asset
    return out


def _asset_of(name: str) -> str:
    """The asset of shipped model ``name``: MissingAssetError (naming its command) for a known one whose files
    are gone, ValueError listing the shipped names for an unknown one."""
    index = _index()
    if name in index:
        return index[name]
    for asset in sorted(ASSET_COMMANDS):
        if asset.startswith(_PREFIX) and _name_of(asset) == name:
            load_asset_meta(asset)  # raises MissingAssetError with the command
    raise ValueError(f"shipped model: expected one of {', '.join(sorted(index)) or 'none (no gen_* files)'}, "
                     f"got {name!r}")


def shipped_models() -> list[str]:
    """Names of the shipped generative models (e.g. ``["cvae", "ddpm"]``)."""
    return sorted(_index())


def shipped_meta(name: str) -> dict[str, Any]:
    """The JSON record of shipped model ``name`` (config, training run, evaluation figures)."""
    return load_asset_meta(_asset_of(name))


def load_shipped_run(name: str, *, device: str | torch.device | None = None
                     ) -> tuple[GenerativeModel, dict[str, Any]]:
    """Shipped model ``name`` (eval mode) and a record shaped like :func:`aip.train.run.load_run`'s meta,
    whose ``train.sample_kwargs`` are the shipped sampling defaults (e.g. DDIM 50 steps, guidance 3)."""
    from aip.train.models import get_model_class, make_config

    asset = _asset_of(name)
    stored, meta = load_asset(asset)
    cfg = dict(meta["model"])
    model_name = cfg.pop("model")
    cls = get_model_class(model_name)
    net = cls(make_config(cls.config_class, cfg, what=model_name))
    own = net.state_dict()
    if set(stored) != set(own):
        missing, extra = sorted(set(own) - set(stored)), sorted(set(stored) - set(own))
        raise ValueError(f"shipped {name}: weights do not match the {model_name} config (missing {missing[:3]}, "
                         f"unexpected {extra[:3]})")
    net.load_state_dict({k: v.to(own[k].dtype) for k, v in stored.items()})
    dev = torch.device(device) if device is not None else torch.device("cpu")
    out = dict(meta)
    out["train"] = {**meta.get("train", {}), "sample_kwargs": dict(meta.get("sample_kwargs", {}))}
    out["checkpoint"] = str(asset_path(asset))
    return net.to(dev).eval(), out


def load_shipped(name: str, *, device: str | torch.device | None = None) -> GenerativeModel:
    """The shipped generative model ``name`` (see :func:`shipped_models`), in eval mode, offline.

    Raises ValueError listing the shipped names for an unknown ``name``, and
    :class:`~aip.io.assets.MissingAssetError` naming the command that retrains a known one whose files are gone.
    """
    return load_shipped_run(name, device=device)[0]


def save_shipped(model: Trainable, asset: str, meta: dict[str, Any], *, root: str | Path | None = None,
                 force: bool = False) -> Path:
    """Write asset ``asset`` (``gen_<name>_<dataset>``, ``restore_*``): the weights (parameters as float16,
    buffers as float32) and ``meta`` with the model's config, through :func:`aip.io.assets.save_asset`."""
    params = [k for k, _ in model.named_parameters()]
    config = {**model.config_dict(), **{f: "" for f in model.init_fields}}
    return save_asset(asset, model.state_dict(), {**meta, "model": config}, half_params=params,
                      root=root, force=force)


def export_run(run_dir: str | Path, name: str, *, root: str | Path | None = None, force: bool = False) -> Path:
    """Export the EMA weights of a finished ``aip train`` run as the shipped model ``name``
    (asset ``gen_<name>_<dataset>``). The record holds the run's configs, step and seconds; the evaluation
    figures are measured separately (``aip evaluate``) and added to the JSON by whoever ships it;
    ``wall_seconds`` is the time of the last line of the run's ``log.jsonl`` (None without one)."""
    from aip.models.unet import count_parameters
    from aip.train.run import load_run

    model, meta = load_run(run_dir, ema=True)
    dataset = meta["train"]["data"]
    asset = f"{_PREFIX}{name}_{dataset}"
    last = (_log_lines(run_dir) or [{}])[-1]
    record = {"name": name, "dataset": dataset, "train": meta["train"], "data": meta["data"],
              "step": meta["step"], "wall_seconds": last.get("seconds"), "last_log": last,
              "weights": _WEIGHTS_NOTE, "params": count_parameters(model),
              "sample_kwargs": dict(meta["train"].get("sample_kwargs", {})),
              "command": ASSET_COMMANDS.get(asset, f"aip train {meta['model']['model']} (see 'train')")}
    return save_shipped(model, asset, record, root=root, force=force)


def export_restorer(run_dir: str | Path, asset: str, *, root: str | Path | None = None,
                    force: bool = False) -> Path:
    """Export the EMA weights of a finished restoration run (``aip train ffdnet|espcn|...``) as the asset
    ``asset`` (``restore_<model>[_xS]_{gray,rgb}``, what :mod:`aip.models.learned` loads). The record holds
    the model config, the run's training config, step and seconds, the last held-out ``eval/*`` figures of
    its ``log.jsonl`` and the command that retrains it (:data:`~aip.io.assets.ASSET_COMMANDS`)."""
    from aip.models.base import RestorationModel
    from aip.models.learned import PREFIX
    from aip.models.unet import count_parameters
    from aip.train.run import load_run

    if not asset.startswith(PREFIX):
        raise ValueError(f"asset: expected a name starting with {PREFIX!r} (e.g. restore_ffdnet_gray), got {asset!r}")
    model, meta = load_run(run_dir, ema=True)
    if not isinstance(model, RestorationModel):
        raise TypeError(f"{run_dir}: expected a restoration run, got a {meta['model']['model']} run")
    lines = _log_lines(run_dir)
    evals = [r for r in lines if any(k.startswith("eval/") for k in r)]
    last = next((r for r in reversed(lines) if "seconds" in r), {})
    record = {"name": asset, "train": meta["train"], "data": meta["data"], "step": meta["step"],
              "wall_seconds": last.get("seconds"), "evaluation": evals[-1] if evals else {},
              "weights": _WEIGHTS_NOTE, "params": count_parameters(model),
              "command": ASSET_COMMANDS.get(asset, f"aip train {meta['model']['model']} (see 'train')")}
    return save_shipped(model, asset, record, root=root, force=force)


def _log_lines(run_dir: str | Path) -> list[dict[str, Any]]:
    """The records of a run's ``log.jsonl`` (none without one)."""
    import json

    log = Path(run_dir) / "log.jsonl"
    return [json.loads(t) for t in log.read_text().splitlines() if t.strip()] if log.is_file() else []


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


def main(argv: list[str] | None = None) -> int:
    """``python -m aip.train.shipped RUN NAME [--root DIR] [--force]``: :func:`export_run` (or
    :func:`export_restorer` for a ``restore_*`` NAME) from the command line; prints the written path."""
    ap = argparse.ArgumentParser(prog="python -m aip.train.shipped", description=export_run.__doc__)
    ap.add_argument("run", help="run directory written by aip train")
    ap.add_argument("name", help="shipped name, e.g. ddpm (asset gen_ddpm_<dataset>), or a restorer asset "
                                 "such as restore_ffdnet_gray")
    ap.add_argument("--root", default=None, help="folder of the asset (default: the package's weights folder)")
    ap.add_argument("--force", action="store_true", help="replace the shipped files")
    args = ap.parse_args(argv)
    from aip.models.learned import PREFIX

    export = export_restorer if args.name.startswith(PREFIX) else export_run
    print(export(args.run, args.name, root=args.root, force=args.force))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
