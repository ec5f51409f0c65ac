"""In-memory image datasets, ``load_dataset`` and the seeded (optionally distributed) batch loaders.

Two kinds of training data share one :class:`BatchStream`: an :class:`ImageDataset` (images and labels,
batches ``(x, labels)``) and a :class:`BatchDataset` (:mod:`aip.data.paired`: batches are dicts of tensors
drawn with a generator, for random crops, flips and fresh degradations).
"""

from __future__ import annotations

import abc
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

SPLITS = ("train", "test")


class ImageDataset(Dataset):
    """Images as float32 (N, C, H, W) in [0, 1] with int64 labels, held in memory.

    ``dataset[i]`` gives ``(image (C, H, W), label)``; ``dataset.images`` / ``dataset.labels`` are the
    whole tensors, and ``dataset.batch(indices)`` indexes both at once (what the trainer uses).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *, name: str = "",
                 classes: list[str] | None = None) -> None:
        if images.ndim != 4:
            raise ValueError(f"images: expected a (N, C, H, W) tensor, got shape {tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels: expected shape ({images.shape[0]},), got {tuple(labels.shape)}")
        self.images = images
        self.labels = labels.to(torch.int64)
        self.name = name
        self.classes = list(classes) if classes is not None else [str(k) for k in
                                                                   range(int(labels.max()) + 1 if len(labels) else 0)]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i], self.labels[i]

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[indices], self.labels[indices]

    def __repr__(self) -> str:
        return (f"ImageDataset({self.name!r}, n={len(self)}, shape={self.shape}, "
                f"classes={self.num_classes})")


class BatchDataset(Dataset, metaclass=abc.ABCMeta):
    """Base of the datasets whose batches are dicts of tensors drawn with a ``torch.Generator``.

    ``batch(indices, rng=g)`` gives the batch of the samples ``indices`` (random crops, flips and
    degradations drawn from ``g``; ``augment=False`` uses centre crops, no flips, for held-out sets);
    ``dataset[i]`` is a batch of one, squeezed, drawn from torch's global generator.
    """

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def batch(self, indices: Any, *, rng: torch.Generator | int | None = None,
              augment: bool = True) -> dict[str, Any]:
        """The batch dict of the samples ``indices``."""

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= int(i) < len(self):
            raise IndexError(f"index: expected 0 <= i < {len(self)}, got {i}")
        b = self.batch(torch.tensor([int(i)]))
        return {k: v[0] if isinstance(v, torch.Tensor) else v for k, v in b.items()}

    def stream(self, batch_size: int, *, seed: int = 0) -> BatchStream:
        """A resumable, seeded :class:`BatchStream` of this dataset's batches."""
        return BatchStream(self, batch_size, seed=seed)


def batch_generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``seed`` and ``keys`` (e.g. rank, epoch, batch) through numpy's
    SeedSequence, so neighbouring keys give independent streams."""
    state = np.random.SeedSequence([int(seed), *(int(k) for k in keys)]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def from_uint8(images: np.ndarray, labels: np.ndarray, *, name: str = "",
               classes: list[str] | None = None) -> ImageDataset:
    """uint8 (N, H, W) or (N, H, W, C) -> an :class:`ImageDataset` of float (N, C, H, W) in [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    x = x.to(torch.float32).div_(255.0).contiguous()
    return ImageDataset(x, torch.from_numpy(np.asarray(labels, np.int64)), name=name, classes=classes)


def load_dataset(name_or_path: str | os.PathLike, split: str = "train", *,
                 size: int | None = None) -> ImageDataset:
    """Load a built-in dataset by name or a user dataset from a folder.

    Parameters
    ----------
    name_or_path : str or PathLike
        A built-in name (``digits``: synthetic 28x28 MNIST-like digits, 60,000 train / 10,000 test;
        ``digits8``: scikit-learn's 8x8 digits; ``faces``: the 200 LFW crops of scikit-image, 25x25;
        ``patches``: 32x32 gray patches of the bundled photos) or a folder holding MNIST/Fashion-MNIST
        IDX files, CIFAR-10 python batches, or one image sub-folder per class.
    split : {"train", "test"}
    size : int, optional
        Image folders only: centre-crop and resize every image to ``size`` x ``size``.

    Returns
    -------
    ImageDataset
        float32 (N, C, H, W) images in [0, 1] with int64 labels.

    Example
    -------
    >>> ds = load_dataset("digits8", "test")
    >>> ds.images.shape[1:], ds.num_classes
    (torch.Size([1, 8, 8]), 10)
    """
    from aip._shared.validate import check_choice
    from aip.data import files
    from aip.data.builtin import BUILTIN

    check_choice(split, "split", SPLITS)
    key = os.fspath(name_or_path)
    if key in BUILTIN:
        x, y, classes = BUILTIN[key](split)
        return from_uint8(x, y, name=key, classes=classes)
    p = Path(key)
    if not p.exists():
        raise ValueError(f"data: expected a built-in dataset ({', '.join(BUILTIN)}) or an existing folder, "
                         f"got {key!r}")
    if not p.is_dir():
        raise NotADirectoryError(f"{p}: expected a folder (IDX files, CIFAR-10 batches or class sub-folders)")
    if files.is_idx_folder(p):
        x, y = files.load_idx_folder(p, split)
        return from_uint8(x, y, name=str(p), classes=[str(k) for k in range(int(y.max()) + 1)])
    if files.is_cifar_folder(p):
        x, y = files.load_cifar_folder(p, split)
        classes = None
        meta = p / "batches.meta"
        if meta.is_file():
            d = files._unpickle(meta)
            names = d.get("label_names")
            if names:
                classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        return from_uint8(x, y, name=str(p), classes=classes)
    x, y, classes = files.load_image_folder(p, split, size=size)
    return from_uint8(x, y, name=str(p), classes=classes)


def dist_info() -> tuple[int, int]:
    """(rank, world size) of the running process group, (0, 1) without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def make_sampler(dataset: Dataset, *, seed: int = 0, shuffle: bool = True, drop_last: bool = True,
                 rank: int | None = None, world_size: int | None = None) -> DistributedSampler:
    """A :class:`~torch.utils.data.DistributedSampler` for this process (one replica without DDP).

    Its order in epoch ``e`` is ``randperm(N)`` seeded by ``seed + e`` (call ``set_epoch``), the same for
    any number of processes, each taking every ``world_size``-th index from ``rank``.
    """
    r, w = dist_info()
    return DistributedSampler(dataset, num_replicas=w if world_size is None else world_size,
                              rank=r if rank is None else rank, shuffle=shuffle, seed=seed,
                              drop_last=drop_last)


def make_loader(dataset: Dataset, batch_size: int, *, seed: int = 0, shuffle: bool = True,
                drop_last: bool = True, num_workers: int = 0, **kwargs: Any) -> DataLoader:
    """A DataLoader over ``dataset`` with a seeded :func:`make_sampler` (DistributedSampler under DDP).

    Call ``loader.sampler.set_epoch(e)`` at each epoch for a new order, as with any DistributedSampler.
    """
    from aip._shared.validate import check_int

    check_int(batch_size, "batch_size", low=1)
    sampler = make_sampler(dataset, seed=seed, shuffle=shuffle, drop_last=drop_last)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                      num_workers=num_workers, **kwargs)


class BatchStream:
    """An endless stream of batches with a resumable position ``(epoch, batch)``.

    Epoch ``e`` uses the order of a :func:`make_sampler` with ``set_epoch(e)``; batches are cut from it
    without replacement and the last partial batch is dropped. ``state_dict`` / ``load_state_dict`` save
    and restore the position, so a resumed run sees exactly the batches it would have seen.

    An :class:`ImageDataset` gives ``(images, labels)``; a :class:`BatchDataset` gives its batch dict, its
    random crops, flips and degradations drawn from a generator seeded by ``(seed, rank, epoch, batch)``:
    fresh at every batch, the same for the same seed, and restored with the position.
    """

    def __init__(self, dataset: ImageDataset | BatchDataset, batch_size: int, *, seed: int = 0,
                 rank: int | None = None, world_size: int | None = None) -> None:
        if not isinstance(dataset, (ImageDataset, BatchDataset)):
            raise TypeError(f"dataset: expected an aip.data ImageDataset or BatchDataset (Paired, Unpaired, "
                            f"Degraded), got {type(dataset).__name__}")
        self.dataset = dataset
        self.seed = int(seed)
        self.batch_size = batch_size
        self.sampler = make_sampler(dataset, seed=seed, rank=rank, world_size=world_size)
        self.per_epoch = len(self.sampler) // batch_size
        if self.per_epoch < 1:
            raise ValueError(f"batch_size: expected at most {len(self.sampler)} (the samples per process), "
                             f"got {batch_size}")
        self.epoch = 0
        self.position = 0
        self._order: torch.Tensor | None = None

    def _load_order(self) -> None:
        self.sampler.set_epoch(self.epoch)
        self._order = torch.tensor(list(iter(self.sampler)), dtype=torch.int64)

    def next(self) -> tuple[torch.Tensor, torch.Tensor] | dict[str, Any]:
        if self.position >= self.per_epoch:
            self.epoch += 1
            self.position = 0
            self._order = None
        if self._order is None:
            self._load_order()
        idx = self._order[self.position * self.batch_size:(self.position + 1) * self.batch_size]
        self.position += 1
        if isinstance(self.dataset, ImageDataset):
            return self.dataset.batch(idx)
        g = batch_generator(self.seed, self.sampler.rank, self.epoch, self.position - 1)
        return self.dataset.batch(idx, rng=g)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self._order = None
