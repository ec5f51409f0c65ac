"""numpy <-> torch bridge and device selection (CPU by default)."""

from __future__ import annotations

from typing import Any

import numpy as np


def resolve_device(device: Any = None):
    """Return a ``torch.device``; None means CPU, ``"auto"`` picks CUDA when present."""
    import torch

    if device is None:
        return torch.device("cpu")
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device: expected 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} was asked for but no CUDA device is available")
    return dev


def to_tensor(array: np.ndarray, device: Any = None, dtype: Any = None):
    """numpy array -> torch tensor on ``device`` (float32 unless ``dtype`` says otherwise)."""
    import torch

    dtype = torch.float32 if dtype is None else dtype
    return torch.as_tensor(np.ascontiguousarray(array), dtype=dtype, device=resolve_device(device))


def to_numpy(tensor) -> np.ndarray:
    """torch tensor -> numpy array on the CPU."""
    return tensor.detach().cpu().numpy()
