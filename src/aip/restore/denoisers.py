"""Every denoiser of the ``denoise`` registry in the batch contract ``(B, C, H, W) tensor, sigma -> tensor``.

The classical methods are numpy functions of one image; :func:`get_denoiser` wraps each once
(:class:`aip._shared.denoiser.ImageDenoiser`), so a solver such as plug-and-play calls any of them, or a
learned network, the same way: ``denoiser(batch, sigma)`` with one level for the batch or one per image.

Example
-------
>>> import torch
>>> d = get_denoiser("gaussian")
>>> d(torch.rand(2, 1, 16, 16), torch.tensor([0.05, 0.1])).shape
torch.Size([2, 1, 16, 16])
"""

from __future__ import annotations

import importlib
from typing import Any

from aip._shared.denoiser import ImageDenoiser
from aip.restore._registry import DENOISE, module_path

__all__ = ["DENOISERS", "get_denoiser"]

#: The names :func:`get_denoiser` knows (those of ``aip.restore.METHODS["denoise"]``).
DENOISERS: tuple[str, ...] = tuple(DENOISE)


def get_denoiser(name: str, **knobs: Any) -> ImageDenoiser:
    """The registry's denoiser ``name`` meeting the batch contract; ``knobs`` go to the method
    (e.g. ``get_denoiser("dct", weighted=False)``)."""
    if name not in DENOISE:
        raise ValueError(f"denoiser: expected one of {', '.join(DENOISE)}; got {name!r}")
    mod, fn = module_path(DENOISE[name])
    f = getattr(importlib.import_module(mod), fn)
    return ImageDenoiser(f, name=name, **knobs)
