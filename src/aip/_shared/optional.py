"""Lazy imports of optional packages behind one helper that names what to install."""

from __future__ import annotations

import importlib
from types import ModuleType

_EXTRA_OF = {
    "cv2": ("opencv-python-headless", "dev"),
    "bm3d": ("bm3d", "bench"),
    "diffusers": ("diffusers", "bench"),
    "hypothesis": ("hypothesis", "dev"),
    "fastapi": ("fastapi", "web"),
    "uvicorn": ("uvicorn", "web"),
    "distributed": ("distributed", "batch"),
    "playwright": ("playwright", "dev"),
}


def require(module: str) -> ModuleType:
    """Import ``module`` or raise ImportError saying which package/extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pkg, extra = _EXTRA_OF.get(module.split(".")[0], (module, None))
        hint = f"pip install '{pkg}'" + (f" (or: pip install 'aip[{extra}]')" if extra else "")
        raise ImportError(f"{module} is needed for this feature: {hint}") from exc
