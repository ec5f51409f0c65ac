"""The training configuration: one dataclass, saved as JSON in the run directory."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Literal

from aip._shared.validate import check_choice, check_fraction, check_int, check_positive


@dataclasses.dataclass
class TrainConfig:
    """Everything the trainer needs besides the model and the data.

    ``lr``, ``betas`` and ``weight_decay`` left at None take the model's defaults
    (``model.optimizer_options(phase)``), else 2e-4, (0.9, 0.999) and 0. ``steps`` or ``epochs`` (exactly one)
    sets the length; ``batch_size`` is per process (the global batch
    under DDP is ``batch_size * world_size``). The learning rate warms up linearly over ``warmup`` steps and
    then stays constant or follows a cosine to 0 (``lr_schedule``). ``ema_decay`` 0 disables the EMA;
    ``ema_warmup`` uses ``min(ema_decay, (1 + k) / (10 + k))`` at the k-th update.
    Intervals (``log_every``, ``sample_every``, ``checkpoint_every``, ``eval_every``) are in steps; 0 means
    only at the end. ``eval_every`` runs the task's evaluator (PSNR/SSIM on the held-out set for restoration).

    Restoration runs started by :func:`aip.train.run.train_run` degrade ``data`` on the fly
    (:class:`aip.data.Degraded`): ``noise`` is a noise spec on the 0-255 scale (``"gaussian:0-55"``: a level
    per image), ``blur`` a blur spec (``"gaussian:0.5-2.5"``, ``"random_motion:15"``, ``"gaussian:1.6"``; see
    :func:`aip.data.make_degradation`), ``crop`` the training crop size (0: whole images) and ``eval_images``
    the number of held-out images scored at each evaluation. Generative runs ignore them.
    """

    model: str = ""
    data: str = "digits"
    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 64
    lr: float | None = None
    betas: tuple[float, float] | None = None
    weight_decay: float | None = None
    warmup: int = 0
    lr_schedule: Literal["constant", "cosine"] = "constant"
    ema_decay: float = 0.999
    ema_warmup: bool = True
    grad_clip: float | None = 1.0
    bf16: bool = False
    seed: int = 0
    log_every: int = 50
    sample_every: int = 0
    checkpoint_every: int = 0
    eval_every: int = 0
    crop: int = 0
    noise: str = ""
    blur: str = ""
    eval_images: int = 64
    keep_checkpoints: int = 2
    num_samples: int = 64
    sample_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    device: str = "cpu"

    def validate(self) -> TrainConfig:
        if self.steps is None and self.epochs is None:
            raise ValueError("steps/epochs: expected one of them, got neither")
        if self.steps is not None and self.epochs is not None:
            raise ValueError(f"steps/epochs: expected only one of them, got steps={self.steps} and "
                             f"epochs={self.epochs}")
        if self.steps is not None:
            check_int(self.steps, "steps", low=1)
        if self.epochs is not None:
            check_int(self.epochs, "epochs", low=1)
        check_int(self.batch_size, "batch_size", low=1)
        if self.lr is not None:
            check_positive(self.lr, "lr")
        if self.betas is not None:
            if len(self.betas) != 2 or not all(0 <= float(b) < 1 for b in self.betas):
                raise ValueError(f"betas: expected two numbers in [0, 1), got {self.betas!r}")
            self.betas = (float(self.betas[0]), float(self.betas[1]))
        if self.weight_decay is not None:
            check_positive(self.weight_decay, "weight_decay", allow_zero=True)
        check_int(self.warmup, "warmup", low=0)
        check_choice(self.lr_schedule, "lr_schedule", ("constant", "cosine"))
        check_fraction(self.ema_decay, "ema_decay")
        if self.grad_clip is not None:
            check_positive(self.grad_clip, "grad_clip")
        check_int(self.seed, "seed", low=0)
        for name in ("log_every", "sample_every", "checkpoint_every", "eval_every"):
            check_int(getattr(self, name), name, low=0)
        check_int(self.keep_checkpoints, "keep_checkpoints", low=1)
        check_int(self.crop, "crop", low=0)
        check_int(self.eval_images, "eval_images", low=1)
        for name in ("noise", "blur"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name}: expected a spec string (empty for none), got "
                                f"{type(getattr(self, name)).__name__}")
        check_int(self.num_samples, "num_samples", low=1)
        if not isinstance(self.sample_kwargs, dict):
            raise TypeError(f"sample_kwargs: expected a dict, got {type(self.sample_kwargs).__name__}")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas) if self.betas is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"train config: unknown key {unknown[0]!r}; expected one of {', '.join(sorted(names))}")
        d = dict(d)
        if d.get("betas") is not None:
            d["betas"] = tuple(d["betas"])
        return cls(**d)

    def save(self, path: str | Path, *, force: bool = True) -> None:
        from aip._shared.files import atomic_write

        atomic_write(path, json.dumps(self.to_dict(), indent=2).encode(), force=force)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))
