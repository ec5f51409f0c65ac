"""Checkpoints: safetensors for every tensor, JSON for everything else, written atomically.

A checkpoint is a folder ``RUN/checkpoints/step_00001000/`` holding

- ``model.safetensors``: the model's state dict, and the EMA weights under the prefix ``ema.``;
- ``state.safetensors``: the tensors of the optimiser, scheduler and RNG states;
- ``state.json``: step, train and model configs, and the non-tensor parts of those states, with each
  tensor replaced by ``{"__tensor__": key}``.

The folder is written under a temporary name and renamed into place (atomic on one file system); then
``RUN/checkpoints/latest`` (a one-line text file) is replaced atomically. A crash leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from aip._shared.files import atomic_write


def flatten_state(obj: Any, tensors: dict[str, torch.Tensor], prefix: str) -> Any:
    """Replace every tensor in a nested dict/list/tuple by a reference, collecting the tensors."""
    if isinstance(obj, torch.Tensor):
        key = prefix
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(k, (int, float, bool)) or k is None:
                tag = f"__{type(k).__name__}__{k}"
            else:
                tag = str(k)
            out[tag] = flatten_state(v, tensors, f"{prefix}.{tag}")
        return {"__dict__": out}
    if isinstance(obj, tuple):
        return {"__tuple__": [flatten_state(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [flatten_state(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, float) and math.isnan(obj):
        return {"__float__": "nan"}
    if isinstance(obj, float) and obj in (float("inf"), float("-inf")):
        return {"__float__": "inf" if obj > 0 else "-inf"}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"checkpoint: cannot store a value of type {type(obj).__name__}")


def unflatten_state(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(unflatten_state(v, tensors) for v in obj["__tuple__"])
        if "__float__" in obj:
            return float(obj["__float__"])
        if "__dict__" in obj:
            out = {}
            for tag, v in obj["__dict__"].items():
                key: Any = tag
                for typ, conv in (("int", int), ("float", float), ("bool", lambda s: s == "True")):
                    if tag.startswith(f"__{typ}__"):
                        key = conv(tag[len(typ) + 4:])
                        break
                if tag == "__NoneType__None":
                    key = None
                out[key] = unflatten_state(v, tensors)
            return out
        return {k: unflatten_state(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unflatten_state(v, tensors) for v in obj]
    return obj


def rng_state() -> dict[str, Any]:
    """The global RNG states of torch (CPU and CUDA), numpy and Python's ``random``."""
    import random

    import numpy as np

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import random

    import numpy as np

    torch.set_rng_state(state["torch"].to(torch.uint8))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    v, internal, gauss = state["python"]
    random.setstate((v, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


def save_checkpoint(folder: str | os.PathLike, *, model_state: dict[str, torch.Tensor],
                    state: dict[str, Any], keep: int = 2) -> Path:
    """Write one checkpoint ``folder/step_<step>/`` atomically and point ``folder/latest`` at it.

    ``state`` must hold ``step`` (int); its tensors go to safetensors, the rest to JSON. Older checkpoints
    beyond the newest ``keep`` are removed.
    """
    from safetensors.torch import save_file

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step_{int(state['step']):08d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        tensors: dict[str, torch.Tensor] = {}
        meta = flatten_state(state, tensors, "s")
        save_file({k: v.detach().cpu().contiguous() for k, v in model_state.items()}, str(tmp / "model.safetensors"))
        save_file(tensors, str(tmp / "state.safetensors"))
        (tmp / "state.json").write_text(json.dumps(meta, indent=1))
        final = root / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write(root / "latest", name.encode(), force=True)
    done = sorted(p for p in root.glob("step_*") if p.is_dir())
    for old in done[:-keep]:
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The checkpoint ``folder/latest`` points at (or the newest ``step_*`` folder), None if there is none."""
    root = Path(folder)
    pointer = root / "latest"
    if pointer.is_file():
        p = root / pointer.read_text().strip()
        if (p / "state.json").is_file():
            return p
    done = sorted(p for p in root.glob("step_*") if (p / "state.json").is_file())
    return done[-1] if done else None


def load_checkpoint(path: str | os.PathLike, *, map_location: str | torch.device = "cpu"
                    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read ``(model_state, state)`` from a checkpoint folder written by :func:`save_checkpoint`."""
    from safetensors.torch import load_file

    p = Path(path)
    if not (p / "state.json").is_file():
        raise FileNotFoundError(f"{p}: not a checkpoint folder (no state.json)")
    device = str(map_location)
    model_state = load_file(str(p / "model.safetensors"), device=device)
    tensors = load_file(str(p / "state.safetensors"), device="cpu")
    state = unflatten_state(json.loads((p / "state.json").read_text()), tensors)
    return model_state, state
