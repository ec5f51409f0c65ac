"""aip: advanced image processing.

Fractal image compression, image restoration as inverse problems, and deep generative models,
as one library and one ``aip`` command line tool.

Submodules load lazily, so ``import aip`` stays quick::

    import aip
    img = aip.io.load_sample("camera")
    print(aip.metrics.psnr(img, img * 0.9, data_range=1.0))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "io", "metrics", "degrade", "fractal", "restore", "models", "sampling", "train", "data", "cli",
)

__all__ = [
    "__version__",
    "cli",
    "data",
    "degrade",
    "fractal",
    "io",
    "metrics",
    "models",
    "restore",
    "sampling",
    "train",
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"aip.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'aip' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
