"""Training engine for the generative models: config, trainer, EMA, checkpoints, DDP and evaluation.

``Trainer`` trains any :class:`aip.models.base.GenerativeModel` (one optimiser per phase); ``train_run`` /
``load_run`` work on run directories as ``aip train`` / ``aip sample`` do; ``evaluate_run`` reports
FID-LeNet (with its real-data floor), classifier score, class accuracy and NLL.
"""

from aip.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from aip.train.config import TrainConfig
from aip.train.ema import EMA
from aip.train.trainer import (
    Trainer,
    balanced_labels,
    image_grid,
    sample_model,
    save_image_grid,
    seed_everything,
)

__all__ = [
    "EMA",
    "TrainConfig",
    "Trainer",
    "balanced_labels",
    "evaluate_model",
    "evaluate_run",
    "image_grid",
    "latest_checkpoint",
    "load_checkpoint",
    "load_run",
    "sample_model",
    "save_checkpoint",
    "save_image_grid",
    "seed_everything",
    "train_run",
]


def __getattr__(name):  # run and evaluate pull in the registry and the data: import them on demand
    if name in ("train_run", "load_run"):
        from aip.train import run

        return getattr(run, name)
    if name in ("evaluate_run", "evaluate_model"):
        from aip.train import evaluate

        return getattr(evaluate, name)
    raise AttributeError(name)
