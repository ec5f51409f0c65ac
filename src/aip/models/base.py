"""The contract between trainable models and the trainer (``aip.train``).

A model is an ``nn.Module`` built from a dataclass config (saved as JSON beside safetensors weights).
The trainer knows nothing about a model beyond :class:`Trainable`:

- ``phases()``: the ordered names of the optimiser groups updated in turn at every step: ``["main"]`` for
  most models, ``["d", "g"]`` for GANs. ``phase_parameters(phase)`` gives each group's parameters.
- ``training_loss(batch, phase)``: the training loss of one phase on a batch dict (``"x"`` the clean or
  target images, ``"y"`` the observation of a restoration task, ``"label"`` class labels, ``"sigma"`` the
  noise level per image, ...), as a dict holding a scalar tensor ``"loss"`` and any other scalars to log.
  The trainer reaches it through ``forward(batch, phase)`` (the default calls ``training_loss``) so that
  it can wrap the model in DistributedDataParallel.
- ``optimizer_options(phase)``: overrides of the trainer's optimiser settings for one phase, e.g.
  ``{"lr": 2e-4, "betas": (0.5, 0.999)}`` for a DCGAN; the default takes the config's ``lr``, ``betas``
  and ``weight_decay`` fields where present. Values set explicitly in the TrainConfig override these.
- ``task``: ``"generative"`` or ``"restoration"``, which picks the evaluator.

Two kinds of it:

:class:`GenerativeModel`
    ``forward(x, y=None, phase="main")`` is the loss on images ``x`` (float (B, C, H, W) in [0, 1]; the
    model rescales as it needs) with int64 (B,) labels ``y`` or None; its ``training_loss`` maps a batch
    ``{"x", "label"}`` to it. ``sample(n, *, y=None, generator=None, **kwargs)`` gives ``n`` images as
    float (n, C, H, W) in [0, 1]; ``conditional`` says whether it takes labels. ``nll(x, y=None)``
    (optional, not defined here): per-image negative log-likelihood in nats (B,) of images in [0, 1],
    exact or a bound; ``aip evaluate`` reports it in nats and bits/dim when present.
:class:`RestorationModel`
    ``restore(y, *, sigma=None, **kwargs)`` maps observations (B, C, H, W) to estimates of the clean
    images; ``forward(batch, phase="main")`` is ``training_loss(batch, phase)``, by default the mean
    squared (or, with a config field ``loss="l1"``, absolute) error of ``restore(batch["y"],
    sigma=batch["sigma"])`` against ``batch["x"]``.

A third kind, :class:`Classifier`, is not trained by ``aip train``: the shipped judges and feature networks
(LeNet, ViT) with ``features(x)``, logits from ``forward(x)``, ``predict`` and ``save``/``load`` through the
asset store.

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

__all__ = ["GenerativeModel", "RestorationModel", "Trainable"]


class Trainable(nn.Module, metaclass=abc.ABCMeta):
    """Base class of every model the trainer can train: phases, their parameters, a loss from a batch dict."""

    config_class: ClassVar[type]
    name: ClassVar[str] = ""
    task: ClassVar[str] = ""
    #: Submodules trained before and kept fixed (staged training: a tokenizer, a first-stage autoencoder):
    #: their parameters get no gradient and are in no phase, and they stay in eval mode.
    frozen: ClassVar[tuple[str, ...]] = ()
    #: Config fields that name a run whose weights start training (SRGAN from its SRResNet): a saved model
    #: holds its own weights, so a shipped config clears them (the model loads without that run).
    init_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    def freeze(self) -> None:
        """Fix the :attr:`frozen` submodules (call once they are built): no gradients, eval mode."""
        for name in self.frozen:
            module = getattr(self, name)
            for p in module.parameters():
                p.requires_grad_(False)
            module.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        for name in self.frozen:
            if hasattr(self, name):
                getattr(self, name).eval()      # frozen parts keep their running statistics and no dropout
        return self

    @staticmethod
    def load_stage(run: str, expected: type, what: str, image_size: int, in_channels: int) -> nn.Module:
        """The EMA model of an earlier training run, to be a :attr:`frozen` stage: of class ``expected`` and
        for images of the given size and channels, else one-line errors naming the option ``what``."""
        from aip.train.run import load_run  # imported here: train sits above models

        model, _ = load_run(run, ema=True)
        if not isinstance(model, expected):
            raise TypeError(f"{what}: expected a run of aip train {expected.name}, got one of "
                            f"{type(model).__name__}")
        if (model.config.image_size, model.config.in_channels) != (image_size, in_channels):
            raise ValueError(f"{what}: expected a {expected.name} of {in_channels} x {image_size} images, got "
                             f"{model.config.in_channels} x {model.config.image_size}")
        return model.eval()

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters outside the :attr:`frozen` submodules."""
        skip = tuple(f"{name}." for name in self.frozen)
        return [p for n, p in self.named_parameters() if not n.startswith(skip)]

    def phases(self) -> list[str]:
        return ["main"]

    def phase_parameters(self, phase: str) -> Iterable[nn.Parameter]:
        if phase != "main":
            raise ValueError(f"phase: expected 'main', got {phase!r}")
        return self.trainable_parameters()

    def optimizer_options(self, phase: str) -> dict[str, Any]:
        """The model's optimiser defaults for ``phase``: its config's ``lr``, ``betas`` and ``weight_decay``
        fields where it has them (an explicit ``--lr`` etc. of the trainer overrides them)."""
        return {k: getattr(self.config, k) for k in ("lr", "betas", "weight_decay") if hasattr(self.config, k)}

    @abc.abstractmethod
    def training_loss(self, batch: dict[str, Any], phase: str = "main") -> dict[str, torch.Tensor]:
        """Training loss of one phase on a batch dict: ``{"loss": scalar, ...}``."""

    def forward(self, batch: dict[str, Any], phase: str = "main") -> dict[str, torch.Tensor]:
        """``training_loss(batch, phase)``: the trainer calls the model (so DDP can wrap it)."""
        return self.training_loss(batch, phase)

    def config_dict(self) -> dict[str, Any]:
        return {"model": self.name, **dataclasses.asdict(self.config)}


class GenerativeModel(Trainable):
    """Base class of every trainable generative model."""

    task: ClassVar[str] = "generative"

    @property
    def conditional(self) -> bool:
        return bool(getattr(self.config, "num_classes", 0))

    @abc.abstractmethod
    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, phase: str = "main") -> dict[str, torch.Tensor]:
        """Training loss of one phase on a batch: ``{"loss": scalar, ...}``."""

    def training_loss(self, batch: dict[str, Any], phase: str = "main") -> dict[str, torch.Tensor]:
        """``forward(batch["x"], batch["label"], phase)``; the label is dropped for unconditional models."""
        label = batch.get("label") if self.conditional else None
        return self(batch["x"], label, phase=phase)

    @abc.abstractmethod
    def sample(self, n: int, *, y: torch.Tensor | None = None, generator: torch.Generator | None = None,
               **kwargs: Any) -> torch.Tensor:
        """``n`` images as float (n, C, H, W) in [0, 1] (subclasses decorate with ``torch.no_grad``)."""


class RestorationModel(Trainable):
    """Base class of the learned restorers: observations ``y`` (B, C, H, W) in, clean estimates out.

    A restorer that takes ``sigma`` meets the denoiser contract (a batch and a noise level, scalar or (B,),
    in; a batch out). The default loss is the mean squared error against ``batch["x"]`` (or the mean
    absolute error when the config has ``loss="l1"``); override :meth:`training_loss` for anything else
    (perceptual or adversarial losses, several phases).
    """

    task: ClassVar[str] = "restoration"

    @abc.abstractmethod
    def restore(self, y: torch.Tensor, *, sigma: torch.Tensor | float | None = None,
                **kwargs: Any) -> torch.Tensor:
        """Estimates of the clean images (B, C, H', W') from observations ``y`` (B, C, H, W)."""

    def evaluation_batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        """A held-out batch as this model is scored on it (:func:`aip.train.evaluate.restoration_metrics`):
        unchanged by default; a model that makes its own observations (an inpainter cutting holes) adds them
        here, e.g. ``{"y": x with holes, "mask": ...}``; every key besides ``x``, ``y`` and ``sigma`` goes to
        :meth:`restore`."""
        return batch

    def training_loss(self, batch: dict[str, Any], phase: str = "main") -> dict[str, torch.Tensor]:
        x = batch["x"]
        out = self.restore(batch["y"], sigma=batch.get("sigma"))
        if out.shape != x.shape:
            raise ValueError(f"{type(self).__name__}.restore: expected an output shaped like x {tuple(x.shape)}, "
                             f"got {tuple(out.shape)}")
        kind = getattr(self.config, "loss", "l2")
        if kind not in ("l1", "l2"):
            raise ValueError(f"loss: expected 'l1' or 'l2' (override training_loss for others), got {kind!r}")
        err = (out.float() - x.float())
        loss = err.abs().mean() if kind == "l1" else err.square().mean()
        return {"loss": loss, "mse": err.detach().square().mean()}


class TwoPlayer:
    """Mixin of the adversarial models: phases ``"d"`` then ``"g"``, each updating the modules named in
    :attr:`phase_modules` (attribute names)."""

    phase_modules: ClassVar[dict[str, tuple[str, ...]]] = {"d": ("discriminator",), "g": ("generator",)}

    def phases(self) -> list[str]:
        return ["d", "g"]

    def phase_parameters(self, phase: str) -> Iterable[nn.Parameter]:
        if phase not in self.phase_modules:
            raise ValueError(f"phase: expected 'd' or 'g', got {phase!r}")
        return [p for name in self.phase_modules[phase] for p in getattr(self, name).parameters()]


class Classifier(nn.Module):
    """An image classifier with a feature layer: ``features(x)`` (B, D) (FID's features), ``forward(x)`` the
    class logits (B, num_classes), on float (B, C, H, W) images in [0, 1]. Built from ``config_class``;
    weights and config go through :mod:`aip.io.assets` (:meth:`save`, :meth:`load`)."""

    config_class: ClassVar[type]

    @torch.no_grad()
    def predict(self, x: torch.Tensor, *, batch_size: int = 512) -> torch.Tensor:
        """Predicted labels (B,) int64."""
        self.eval()
        return torch.cat([self(x[i:i + batch_size]).argmax(1) for i in range(0, x.shape[0], batch_size)])

    def save(self, stem: Any, *, extra: dict | None = None, force: bool = True) -> Any:
        """Write ``stem.safetensors`` (float32 weights) and ``stem.json`` (config and ``extra``) through
        :func:`aip.io.assets.save_asset` (atomic; ``force`` replaces existing files)."""
        from pathlib import Path

        from aip.io.assets import save_asset

        stem = Path(stem)
        meta = {"config": dataclasses.asdict(self.config), **(extra or {})}
        return save_asset(stem.name, self.state_dict(), meta, root=stem.parent, force=force)

    @classmethod
    def load(cls, stem: Any) -> Classifier:
        """The classifier saved by :meth:`save` at ``stem`` (eval mode; its JSON record as ``.meta``)."""
        from pathlib import Path

        from aip.io.assets import load_asset

        stem = Path(stem)
        tensors, meta = load_asset(stem.name, root=stem.parent)
        net = cls(cls.config_class(**meta["config"]))
        net.load_state_dict(tensors)
        net.meta = meta
        return net.eval()
