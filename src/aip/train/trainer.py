"""One trainer for every model that follows :class:`aip.models.base.Trainable`: generative and restoration.

Each step draws one batch and runs the model's phases in order (``["main"]``, or ``["d", "g"]`` for GANs),
each with its own AdamW optimiser and learning-rate schedule: zero all gradients, compute the phase's loss
(optionally under bf16 autocast), backward, clip the phase's gradient norm, step. The loss is
``model(x, y, phase)["loss"]`` for a :class:`~aip.models.base.GenerativeModel` (images and labels) and
``model(batch, phase)["loss"]`` for any other kind (a batch dict from a :class:`~aip.data.BatchDataset`:
``{"x": clean, "y": observed, "sigma": ...}``); both go through ``forward`` so DDP can wrap the model.
After the step the EMA of the weights is updated; samples, restorations and evaluations come from the EMA.
Each task has its evaluator, run at ``eval_every`` steps and at the end: PSNR/SSIM on a held-out set for
restoration (:func:`aip.train.evaluate.restoration_metrics`), any ``evaluator`` given for the others.
Checkpoints hold everything needed to continue exactly (weights, EMA, optimisers, schedulers, data
position and every RNG state), so N steps equal N/2 steps + resume + N/2 steps, weight for weight.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import torch

from aip._shared.torch_bridge import resolve_device
from aip.data.dataset import BatchDataset, BatchStream, ImageDataset
from aip.models.base import GenerativeModel, RestorationModel, Trainable
from aip.train import distributed as D
from aip.train.checkpoint import latest_checkpoint, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from aip.train.config import TrainConfig
from aip.train.ema import EMA


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and Python's ``random``."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def image_grid(images: torch.Tensor, nrow: int | None = None, *, padding: int = 2) -> torch.Tensor:
    """Tile (N, C, H, W) images into one (C, H', W') grid with ``padding`` pixels of 0 between them."""
    if images.ndim != 4:
        raise ValueError(f"images: expected (N, C, H, W), got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = images.new_zeros((c, rows * (h + padding) + padding, nrow * (w + padding) + padding))
    for i in range(n):
        r, k = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + k * (w + padding)
        grid[:, top:top + h, left:left + w] = images[i]
    return grid


def save_image_grid(images: torch.Tensor, path: str | os.PathLike, *, nrow: int | None = None,
                    force: bool = True) -> Path:
    """Write (N, C, H, W) images in [0, 1] as one PNG grid (atomically)."""
    from aip.io import write_image

    g = image_grid(images.detach().float().clamp(0, 1).cpu(), nrow)
    arr = g[0].numpy() if g.shape[0] == 1 else g.permute(1, 2, 0).numpy()
    write_image(path, arr, force=force)
    return Path(path)


class Trainer:
    """Train ``model`` on ``dataset`` following ``config``, writing into ``run_dir``.

    Parameters
    ----------
    model : Trainable
        A :class:`~aip.models.base.GenerativeModel` or a :class:`~aip.models.base.RestorationModel`, built
        (and seeded) by the caller; moved to the config's device.
    dataset : ImageDataset or BatchDataset
        Training images (N, C, H, W) in [0, 1] with labels (generative models), or a dataset of batch dicts
        (:class:`~aip.data.Paired`, :class:`~aip.data.Unpaired`, :class:`~aip.data.Degraded`), which
        restoration models need.
    config : TrainConfig
    run_dir : path, optional
        Where ``config.json``, ``log.jsonl``, ``samples/`` and ``checkpoints/`` go (rank 0 only). None
        writes nothing.
    eval_data : BatchDataset, optional
        Held-out data for the restoration evaluator (PSNR/SSIM of the EMA model's restorations, the same
        degradations at every evaluation: centre crops, no flips, a generator seeded by ``config.seed``).
    evaluator : callable, optional
        ``evaluator(model) -> dict of numbers``, called on the EMA model at the evaluation steps instead of
        the task's own (e.g. :func:`aip.train.evaluate.evaluate_model` for a generative model).
    progress : bool
        Show a tqdm bar with the loss (rank 0).

    Example
    -------
    >>> trainer = Trainer(model, load_dataset("digits"), TrainConfig(steps=1000), "runs/vae")  # doctest: +SKIP
    >>> trainer.train()  # doctest: +SKIP
    """

    def __init__(self, model: Trainable, dataset: ImageDataset | BatchDataset, config: TrainConfig,
                 run_dir: str | os.PathLike | None = None, *, eval_data: BatchDataset | None = None,
                 evaluator: Any = None, progress: bool = True) -> None:
        if not isinstance(model, Trainable):
            raise TypeError(f"model: expected an aip.models.base.Trainable (GenerativeModel or "
                            f"RestorationModel), got {type(model).__name__}")
        if not isinstance(dataset, (ImageDataset, BatchDataset)):
            raise TypeError(f"dataset: expected an aip.data.ImageDataset or BatchDataset, got "
                            f"{type(dataset).__name__}")
        if not isinstance(model, GenerativeModel) and not isinstance(dataset, BatchDataset):
            raise TypeError(f"dataset: expected a dataset of batch dicts (aip.data Paired, Unpaired or Degraded) "
                            f"for a {type(model).__name__}, got {type(dataset).__name__}")
        if eval_data is not None and not isinstance(eval_data, BatchDataset):
            raise TypeError(f"eval_data: expected an aip.data BatchDataset (Paired or Degraded), got "
                            f"{type(eval_data).__name__}")
        if evaluator is not None and not callable(evaluator):
            raise TypeError(f"evaluator: expected a callable model -> dict, got {type(evaluator).__name__}")
        self.config = config.validate()
        self.device = D.local_device(resolve_device(config.device))
        D.init_distributed(self.device)
        self.rank, self.world_size = (0, 1)
        if D.is_distributed():
            import torch.distributed as dist

            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.main = self.rank == 0
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.progress = progress
        self.dataset = dataset
        self.eval_data = eval_data
        self.evaluator = evaluator
        self.generative = isinstance(model, GenerativeModel)
        self.module = model.to(self.device)
        self.phases = list(model.phases())
        if not self.phases:
            raise ValueError(f"{type(model).__name__}.phases(): expected at least one phase, got none")
        self.params = {ph: [p for p in model.phase_parameters(ph) if p.requires_grad] for ph in self.phases}
        for ph, ps in self.params.items():
            if not ps:
                raise ValueError(f"phase {ph!r}: expected trainable parameters, got none")
        self.net = (D.wrap_ddp(model, self.device, find_unused_parameters=len(self.phases) > 1)
                    if D.is_distributed() else model)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self.stream = BatchStream(dataset, config.batch_size, seed=config.seed)
        self.total_steps = config.steps if config.steps is not None else config.epochs * self.stream.per_epoch
        for ph in self.phases:
            # precedence: explicit TrainConfig value > the model's optimizer_options(phase) > AdamW defaults here
            opts: dict[str, Any] = {"lr": 2e-4, "betas": (0.9, 0.999), "weight_decay": 0.0}
            opts.update(model.optimizer_options(ph) if hasattr(model, "optimizer_options") else {})
            opts.update({k: getattr(config, k) for k in ("lr", "betas", "weight_decay")
                         if getattr(config, k) is not None})
            if "betas" in opts:
                opts["betas"] = tuple(float(b) for b in opts["betas"])
            opt = torch.optim.AdamW(self.params[ph], **opts)
            self.optimizers[ph] = opt
            self.schedulers[ph] = torch.optim.lr_scheduler.LambdaLR(opt, self._lr_factor)
        self.ema = EMA(model, config.ema_decay, warmup=config.ema_warmup) if config.ema_decay > 0 else None
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.evaluations: list[dict[str, float]] = []
        self._last_saved = -1
        # each process draws its own noise; model initialisation happened before (identical on all ranks)
        torch.manual_seed(config.seed + 1000003 * self.rank)

    # -- schedule ------------------------------------------------------------------------------------------
    def _lr_factor(self, step: int) -> float:
        c = self.config
        f = min(1.0, (step + 1) / c.warmup) if c.warmup else 1.0
        if c.lr_schedule == "cosine":
            f *= 0.5 * (1.0 + math.cos(math.pi * min(step, self.total_steps) / max(1, self.total_steps)))
        return f

    @property
    def sampling_model(self) -> Trainable:
        """The EMA copy when there is one, else the model itself."""
        return self.ema.module if self.ema is not None else self.module

    # -- one step -----------------------------------------------------------------------------------------
    def _loss_fn(self, batch: torch.Tensor | dict[str, Any], y: torch.Tensor | None):
        """``phase -> output dict`` for one batch: ``net(x, y, phase)`` (generative) or ``net(batch, phase)``."""
        if isinstance(batch, dict) and not self.generative:
            b = {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v
                 for k, v in batch.items()}
            return lambda ph: self.net(b, phase=ph)
        if isinstance(batch, dict):
            if "x" not in batch:
                raise ValueError(f"batch: expected the images under 'x', got keys {sorted(batch)}")
            batch, y = batch["x"], batch.get("label")
        x = batch.to(self.device, non_blocking=True)
        y_in = y.to(self.device, non_blocking=True) if (y is not None and self.module.conditional) else None
        return lambda ph: self.net(x, y_in, phase=ph)

    def train_step(self, batch: torch.Tensor | dict[str, Any], y: torch.Tensor | None = None) -> dict[str, float]:
        """Run every phase once on a batch (images ``batch`` and labels ``y``, or a batch dict); return the
        logged scalars."""
        self.module.train()
        loss_fn = self._loss_fn(batch, y)
        logs: dict[str, float] = {}
        multi = len(self.phases) > 1
        autocast = (torch.autocast(self.device.type, dtype=torch.bfloat16) if self.config.bf16
                    else contextlib.nullcontext())
        for ph in self.phases:
            self.module.zero_grad(set_to_none=True)
            with autocast:
                out = loss_fn(ph)
            if not isinstance(out, dict) or "loss" not in out:
                raise TypeError(f"{type(self.module).__name__}.forward: expected a dict with 'loss', got "
                                f"{type(out).__name__}")
            loss = out["loss"]
            if not torch.isfinite(loss.detach()).all():
                raise FloatingPointError(f"step {self.step}: the {ph!r} loss is {loss.item()} (lower --lr?)")
            loss.backward()
            if self.config.grad_clip is not None:
                gn = torch.nn.utils.clip_grad_norm_(self.params[ph], self.config.grad_clip)
                logs[f"{ph}/grad_norm" if multi else "grad_norm"] = float(gn)
            self.optimizers[ph].step()
            self.schedulers[ph].step()
            for k, v in out.items():
                if isinstance(v, torch.Tensor) and v.numel() == 1:
                    logs[f"{ph}/{k}" if multi else k] = float(v.detach())
        self.module.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(self.module)
        self.step += 1
        return logs

    # -- loop -----------------------------------------------------------------------------------------------
    def train(self, until: int | None = None) -> list[dict[str, float]]:
        """Train up to ``config``'s length (or up to step ``until``, as if interrupted there).

        A checkpoint is written at the end, at every ``checkpoint_every`` steps and on Ctrl-C.
        Returns the logged history (one dict per step).
        """
        from tqdm.auto import tqdm

        end = self.total_steps if until is None else min(int(until), self.total_steps)
        if self.main and self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not (self.progress and self.main),
                   dynamic_ncols=True, desc=self.module.name or "train")
        c = self.config
        t0 = time.perf_counter()
        try:
            while self.step < end:
                b = self.stream.next()
                logs = self.train_step(*b) if isinstance(b, tuple) else self.train_step(b)
                self.history.append(logs)
                bar.update(1)
                key = "loss" if "loss" in logs else next((k for k in logs if k.endswith("loss")), None)
                if key is not None and (self.step % 10 == 0 or self.step == end):
                    bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k.endswith("loss")}, refresh=False)
                if c.log_every and self.step % c.log_every == 0:
                    self._log(logs, time.perf_counter() - t0)
                if c.sample_every and self.step % c.sample_every == 0:
                    self.save_samples()
                if c.eval_every and self.step % c.eval_every == 0:
                    self.evaluate()
                if c.checkpoint_every and self.step % c.checkpoint_every == 0:
                    self.save()
        except KeyboardInterrupt:
            bar.close()
            if not D.is_distributed():
                self.save()
            raise
        bar.close()
        if self.step != self._last_saved:
            self.save()
        if self.step >= self.total_steps:
            if self.run_dir is not None:
                self.save_samples()
            if not (self.evaluations and self.evaluations[-1]["step"] == self.step):
                self.evaluate()
        return self.history

    def _log(self, logs: dict[str, float], elapsed: float) -> None:
        if not (self.main and self.run_dir is not None):
            return
        lr = self.schedulers[self.phases[0]].get_last_lr()[0]
        rec = {"step": self.step, "lr": lr, "seconds": round(elapsed, 3), **logs}
        with open(self.run_dir / "log.jsonl", "a") as fh:
            fh.write(json.dumps(rec) + "\n")

    # -- evaluation -----------------------------------------------------------------------------------------
    def evaluate(self) -> dict[str, float] | None:
        """The task's evaluation of the EMA model now (rank 0), logged to ``log.jsonl`` as ``eval/<name>``.

        ``evaluator(model)`` if one was given; for a restoration model with ``eval_data``, PSNR/SSIM on it
        (:func:`aip.train.evaluate.restoration_metrics`); otherwise nothing (None). Other ranks return None.
        """
        if not self.main:
            return None
        model = self.sampling_model
        if self.evaluator is not None:
            res = dict(self.evaluator(model))
        elif isinstance(self.module, RestorationModel) and self.eval_data is not None:
            from aip.train.evaluate import restoration_metrics

            res = restoration_metrics(model, self.eval_data, seed=self.config.seed)
        else:
            return None
        rec = {"step": self.step, **{k: v for k, v in res.items() if isinstance(v, (int, float))}}
        self.evaluations.append(rec)
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            with open(self.run_dir / "log.jsonl", "a") as fh:
                fh.write(json.dumps({"step": self.step, **{f"eval/{k}": v for k, v in rec.items()
                                                           if k != "step"}}) + "\n")
        return rec

    # -- samples --------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, y: torch.Tensor | None = None, seed: int | None = None,
               **kwargs: Any) -> torch.Tensor:
        """``n`` samples from the EMA model with a fixed generator, leaving the global RNG untouched."""
        if not self.generative:
            raise TypeError(f"sample: expected a generative model, got a {type(self.module).__name__} (a "
                            f"{self.module.task or 'non-generative'} model: see evaluate() and save_samples())")
        seed = self.config.seed if seed is None else seed
        return sample_model(self.sampling_model, n, y=y, seed=seed, device=self.device,
                            **{**self.config.sample_kwargs, **kwargs})

    def save_samples(self) -> Path | None:
        """Write ``samples/step_<step>.png`` (rank 0): samples from fixed noise (generative), or rows of
        observation, restoration and clean image of the first held-out images (restoration, with
        ``eval_data`` of inputs shaped like their targets)."""
        if not (self.main and self.run_dir is not None):
            return None
        if not self.generative:
            return self._save_restorations()
        n = self.config.num_samples
        y = balanced_labels(n, self.dataset.num_classes) if self.module.conditional else None
        imgs = self.sample(n, y=y)
        folder = self.run_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        nrow = self.dataset.num_classes if (y is not None and self.dataset.num_classes <= 16) else None
        return save_image_grid(imgs, folder / f"step_{self.step:08d}.png", nrow=nrow)

    @torch.no_grad()
    def _save_restorations(self) -> Path | None:
        if not isinstance(self.module, RestorationModel) or self.eval_data is None:
            return None
        from aip.data.dataset import batch_generator

        n = min(8, len(self.eval_data), self.config.num_samples)
        b = self.eval_data.batch(torch.arange(n), rng=batch_generator(self.config.seed, 0), augment=False)
        if b["y"].shape != b["x"].shape:
            return None
        from aip.train.evaluate import restore_batch

        model = self.sampling_model
        was = model.training
        model.eval()
        b, out = restore_batch(model, b, self.device)
        model.train(was)
        rows = torch.stack([b["y"], out, b["x"]], 1).flatten(0, 1)
        folder = self.run_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        return save_image_grid(rows, folder / f"step_{self.step:08d}.png", nrow=3)

    # -- checkpoints ----------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        rngs = [rng_state()]
        if D.is_distributed():
            import torch.distributed as dist

            rngs = [None] * self.world_size
            dist.all_gather_object(rngs, rng_state())
        return {
            "step": self.step,
            "train_config": self.config.to_dict(),
            "model_config": self.module.config_dict(),
            "optimizers": {ph: o.state_dict() for ph, o in self.optimizers.items()},
            "schedulers": {ph: s.state_dict() for ph, s in self.schedulers.items()},
            "data": self.stream.state_dict(),
            "rng": rngs,
            "world_size": self.world_size,
            "ema_updates": self.ema.num_updates if self.ema is not None else 0,
        }

    def model_state(self) -> dict[str, torch.Tensor]:
        sd = dict(self.module.state_dict())
        if self.ema is not None:
            sd.update({f"ema.{k}": v for k, v in self.ema.state_dict().items()})
        return sd

    def sync_buffers(self) -> None:
        """Under DDP, copy rank 0's buffers (batch-norm statistics) to every rank, model and EMA.

        DDP broadcasts buffers at the start of each forward, so after a step the replicas' running statistics
        differ by their last local batch; checkpoints and samples use rank 0's.
        """
        if not D.is_distributed():
            return
        import torch.distributed as dist

        mods = [self.module] + ([self.ema.module] if self.ema is not None else [])
        for m in mods:
            for b in m.buffers():
                dist.broadcast(b, src=0)

    def save(self) -> Path | None:
        """Write a checkpoint of the current step (rank 0 writes; every rank takes part)."""
        self.sync_buffers()
        state = self.state()
        path = None
        if self.main and self.run_dir is not None:
            path = save_checkpoint(self.run_dir / "checkpoints", model_state=self.model_state(), state=state,
                                   keep=self.config.keep_checkpoints)
        self._last_saved = self.step
        D.barrier()
        return path

    def load(self, path: str | os.PathLike | None = None) -> None:
        """Restore everything from a checkpoint folder (default: the run's latest)."""
        if path is None:
            if self.run_dir is None or (p := latest_checkpoint(self.run_dir / "checkpoints")) is None:
                raise FileNotFoundError(f"{self.run_dir}: no checkpoint to resume from")
            path = p
        model_state, state = load_checkpoint(path, map_location=self.device)
        saved_model = state.get("model_config", {})
        if saved_model.get("model") not in (None, self.module.name):
            raise ValueError(f"resume: the checkpoint holds a {saved_model.get('model')!r} model, not "
                             f"{self.module.name!r}")
        own = {k: v for k, v in model_state.items() if not k.startswith("ema.")}
        self.module.load_state_dict(own)
        if self.ema is not None:
            ema = {k[4:]: v for k, v in model_state.items() if k.startswith("ema.")}
            self.ema.load_state_dict(ema if ema else own)
            self.ema.num_updates = int(state.get("ema_updates", 0))
        for ph in self.phases:
            self.optimizers[ph].load_state_dict(state["optimizers"][ph])
            self.schedulers[ph].load_state_dict(state["schedulers"][ph])
        self.stream.load_state_dict(state["data"])
        self.step = int(state["step"])
        self._last_saved = self.step
        rngs = state["rng"]
        if int(state.get("world_size", 1)) == self.world_size and len(rngs) > self.rank:
            set_rng_state(rngs[self.rank])
        else:  # a different number of processes: keep the data order, reseed the noise per rank
            set_rng_state(rngs[0])
            torch.manual_seed(self.config.seed + 1000003 * self.rank + self.step)


def balanced_labels(n: int, num_classes: int) -> torch.Tensor:
    """``0, 1, ..., K-1, 0, 1, ...`` (n labels), so a grid with K columns shows one class per column."""
    return torch.arange(n, dtype=torch.int64) % max(1, num_classes)


@torch.no_grad()
def sample_model(model: GenerativeModel, n: int, *, y: torch.Tensor | None = None, seed: int = 0,
                 device: torch.device | str | None = None, batch_size: int = 0, **kwargs: Any) -> torch.Tensor:
    """Samples from ``model`` with ``torch.Generator`` seeded by ``seed``, leaving the global RNG alone.

    The global RNG is also seeded inside a forked RNG scope, so models that ignore ``generator`` are still
    reproducible. ``batch_size`` > 0 samples in chunks (labels are split alongside).
    """
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    devices = [dev.index or 0] if dev.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            g = torch.Generator(device=dev).manual_seed(seed)
            chunks = [n] if batch_size <= 0 else [min(batch_size, n - i) for i in range(0, n, batch_size)]
            out, start = [], 0
            for k in chunks:
                yk = y[start:start + k].to(dev) if y is not None else None
                out.append(model.sample(k, y=yk, generator=g, **kwargs).float().cpu())
                start += k
            return torch.cat(out)
    finally:
        model.train(was_training)
