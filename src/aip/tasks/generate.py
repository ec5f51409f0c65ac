"""The sampling task: draw a grid of samples from a training run or a shipped model (``aip sample``)."""

from __future__ import annotations

import inspect
import os
import time
from typing import Any

SAMPLE_OPTIONS = ("sampler", "steps", "eta", "guidance", "temperature")


def load_model(run: str | os.PathLike, *, ema: bool = True, device: Any = None) -> tuple[Any, dict[str, Any]]:
    """``(model, meta)`` of a run folder of ``aip train`` or of ``shipped:NAME``."""
    run = str(run)
    if run.startswith("shipped:"):
        from aip.train.shipped import load_shipped_run

        return load_shipped_run(run[len("shipped:"):], device=device)
    from aip.train.run import load_run

    return load_run(run, ema=ema, device=device)


def check_sample_options(model: Any, options: dict[str, Any]) -> None:
    """One-line error for a sampling option the model's ``sample()`` does not take."""
    params = inspect.signature(model.sample).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return   # **kwargs: the model decides
    for k in options:
        if k not in params:
            raise ValueError(f"--{k}: the {model.name} model does not take it (its sample() options: "
                             f"{', '.join(n for n in params if n not in ('n', 'y', 'generator')) or 'none'})")


def sample_grid(run: str | os.PathLike, n: int = 64, *, label: int | None = None, seed: int = 0,
                nrow: int | None = None, ema: bool = True, device: Any = None, model: Any = None,
                meta: dict[str, Any] | None = None, **options: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Sample ``n`` images; returns ``(images (N, C, H, W) tensor, grid (C, H', W') tensor, result)``.

    ``options`` are the sampler options (``sampler``, ``steps``, ``eta``, ``guidance``, ``temperature``;
    None values are left to the run's defaults); conditional models sample ``label``, or every class in
    turn. ``model``/``meta`` reuse a model already loaded with :func:`load_model`.
    """
    import torch

    from aip._shared.validate import check_int
    from aip.train.trainer import balanced_labels, image_grid, sample_model

    n = check_int(n, "-n", low=1)
    for k in options:
        if k not in SAMPLE_OPTIONS:
            raise ValueError(f"sample option: expected one of {', '.join(SAMPLE_OPTIONS)}, got {k!r}")
    given = {k: v for k, v in options.items() if v is not None}
    if model is None:
        model, meta = load_model(run, ema=ema, device=device)
    assert meta is not None
    check_sample_options(model, given)
    kwargs = {**meta["train"].get("sample_kwargs", {}), **given}
    k = int(meta["data"]["num_classes"])
    y = None
    if label is not None:
        if not model.conditional:
            raise ValueError(f"--label: the {model.name} model is unconditional")
        check_int(label, "--label", low=0, high=getattr(model.config, "num_classes", k) - 1)
        y = torch.full((n,), int(label), dtype=torch.int64)
    elif model.conditional:
        y = balanced_labels(n, getattr(model.config, "num_classes", k))
    t0 = time.perf_counter()
    imgs = sample_model(model, n, y=y, seed=seed, **kwargs)
    secs = time.perf_counter() - t0
    nrow = nrow or (k if (y is not None and label is None and k <= 16) else None)
    grid = image_grid(imgs.detach().float().clamp(0, 1).cpu(), nrow)
    result = {"run": str(run), "model": model.name, "step": meta["step"], "n": n, "seconds": round(secs, 3),
              **kwargs}
    return imgs, grid, result
