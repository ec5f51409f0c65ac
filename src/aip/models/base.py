"""The contract between generative models and the trainer (``aip.train``).

A model is an ``nn.Module`` built from a dataclass config (saved as JSON beside safetensors weights).
The trainer knows nothing about a model beyond this class:

- ``phases()``: the ordered names of the optimiser groups updated in turn at every step: ``["main"]`` for
  most models, ``["d", "g"]`` for GANs. ``phase_parameters(phase)`` gives each group's parameters.
- ``forward(x, y=None, phase="main")``: the training loss of one phase on a batch, as a dict holding a
  scalar tensor ``"loss"`` and any other scalars to log. ``x`` is float (B, C, H, W) in [0, 1] (the model
  rescales as it needs); ``y`` is an int64 (B,) label tensor or None. Going through ``forward`` lets the
  trainer wrap the model in DistributedDataParallel.
- ``sample(n, *, y=None, generator=None, **kwargs)``: ``n`` images as float (n, C, H, W) in [0, 1].
- ``conditional``: whether the model takes labels.
- ``optimizer_options(phase)`` (optional): overrides of the trainer's optimiser settings for one phase,
  e.g. ``{"lr": 2e-4, "betas": (0.5, 0.999)}`` for a DCGAN; the default takes the config's ``lr``, ``betas``
  and ``weight_decay`` fields where present. Values set explicitly in the TrainConfig override these.
- ``nll(x, y=None)`` (optional, not defined here): per-image negative log-likelihood in nats (B,) of
  images in [0, 1], exact or a bound; ``aip evaluate`` reports it in nats and bits/dim when present.

Models are listed by name in ``aip.models.registry.MODELS``; the trainer (:mod:`aip.train.models`) also finds
any subclass with a ``name`` and a ``config_class`` (plug-ins, tiny test models).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import nn


class GenerativeModel(nn.Module, metaclass=abc.ABCMeta):
    """Base class of every trainable generative model."""

    config_class: ClassVar[type]
    name: ClassVar[str] = ""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    @property
    def conditional(self) -> bool:
        return bool(getattr(self.config, "num_classes", 0))

    def phases(self) -> list[str]:
        return ["main"]

    def phase_parameters(self, phase: str) -> Iterable[nn.Parameter]:
        if phase != "main":
            raise ValueError(f"phase: expected 'main', got {phase!r}")
        return self.parameters()

    def optimizer_options(self, phase: str) -> dict[str, Any]:
        """The model's optimiser defaults for ``phase``: its config's ``lr``, ``betas`` and ``weight_decay``
        fields where it has them (an explicit ``--lr`` etc. of the trainer overrides them)."""
        return {k: getattr(self.config, k) for k in ("lr", "betas", "weight_decay") if hasattr(self.config, k)}

    @abc.abstractmethod
    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "main") -> dict[str, torch.Tensor]:
        """Training loss of one phase on a batch: ``{"loss": scalar, ...}``."""

    @abc.abstractmethod
    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               **kwargs: Any) -> torch.Tensor:
        """``n`` images as float (n, C, H, W) in [0, 1] (subclasses decorate with ``torch.no_grad``)."""

    def config_dict(self) -> dict[str, Any]:
        return {"model": self.name, **dataclasses.asdict(self.config)}
