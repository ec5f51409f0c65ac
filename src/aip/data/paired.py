"""Training data for restoration: aligned pairs, unpaired domains, and clean images degraded on the fly.

Every dataset here is a :class:`~aip.data.dataset.BatchDataset`: ``batch(indices, rng=g)`` gives a dict
of tensors, its random crops, flips and degradations drawn from the ``torch.Generator`` ``g``. A
:class:`~aip.data.dataset.BatchStream` (what the trainer uses) seeds ``g`` from ``(seed, rank, epoch,
batch)``, so every batch draws afresh, the same seed gives the same batches, and a resumed run continues
with the batches it would have seen.

- :class:`Paired` ``(inputs, targets)``: aligned pairs (two folders of the same file names, or tensors),
  the same crop and flip applied to both; ``scale`` for super-resolution pairs. Batches ``{"x": target,
  "y": input}``.
- :class:`Unpaired` ``(a, b)``: two domains drawn independently. Batches ``{"y": from a, "x": from b}``.
- :class:`Degraded` ``(clean_source, physics)``: crops of clean images, then ``physics.degrade`` with a fresh
  draw per batch; ``physics`` is one :class:`~aip.degrade.Physics` or a callable ``rng -> physics`` (a new
  operator per batch, such as :class:`RandomBlur`). Batches ``{"x": clean, "y": observed, "sigma": (B,)
  noise level per image (0 without Gaussian noise), "physics": the physics of the batch}``.

A source is a float tensor (N, C, H, W), an :class:`~aip.data.dataset.ImageDataset`, a list of images
(numpy (H, W[, C]) or tensors (C, H, W), sizes may differ when ``crop`` is set) or a folder of image files
(read in sorted order; 8-bit files are held as uint8, a quarter of the memory, and crops converted exactly).

References
----------
K. Zhang et al., "Beyond a Gaussian denoiser: residual learning of deep CNN for image denoising", IEEE TIP
2017 (random patches, random flips, blind training over a range of noise levels).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aip._shared.validate import check_int, describe
from aip.data.dataset import BatchDataset, ImageDataset

__all__ = ["Degraded", "Paired", "RandomBlur", "Unpaired", "make_degradation"]

Source = torch.Tensor | ImageDataset | Sequence[Any] | str | os.PathLike


def _image_files(folder: Path, name: str) -> list[Path]:
    from aip.io import IMAGE_SUFFIXES

    if not folder.is_dir():
        raise ValueError(f"{name}: expected a folder of images, got {os.fspath(folder)!r} (not a folder)")
    suffixes = {s.lower() for s in IMAGE_SUFFIXES}
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise ValueError(f"{name}: expected image files ({', '.join(sorted(suffixes))}) in {folder}, got none")
    return files


def _to_chw(img: Any, name: str) -> torch.Tensor:
    from aip._shared.validate import as_image

    if isinstance(img, torch.Tensor):
        if img.ndim != 3 or not (img.is_floating_point() or img.dtype == torch.uint8):
            raise ValueError(f"{name}: expected float or uint8 (C, H, W) tensors, got {describe(img)}")
        return img.detach().cpu() if img.dtype == torch.uint8 else img.detach().to(torch.float32).cpu()
    a = as_image(img, name)
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1).contiguous()


class _Images:
    """A source as (C, H, W) float32 tensors: one stacked tensor when the sizes agree, else a list."""

    def __init__(self, source: Source, name: str) -> None:
        self.files: list[Path] | None = None
        if isinstance(source, ImageDataset):
            source = source.images
        if isinstance(source, (str, os.PathLike)):
            from aip.io import read_image

            self.files = _image_files(Path(source), name)
            source = [_compact(_to_chw(read_image(p), f"{name} {p.name}")) for p in self.files]
        if isinstance(source, torch.Tensor):
            if source.ndim != 4 or not source.is_floating_point():
                raise ValueError(f"{name}: expected a float (N, C, H, W) tensor, got {describe(source)}")
            items = list(source.detach().to(torch.float32).cpu())
        elif isinstance(source, (list, tuple)):
            items = [_to_chw(im, f"{name}[{i}]") for i, im in enumerate(source)]
        else:
            raise TypeError(f"{name}: expected a (N, C, H, W) tensor, an ImageDataset, a list of images or a "
                            f"folder, got {describe(source)}")
        if not items:
            raise ValueError(f"{name}: expected at least one image, got none")
        chans = {int(t.shape[0]) for t in items}
        if len(chans) > 1:
            raise ValueError(f"{name}: expected images with the same number of channels, got {sorted(chans)}")
        self.items = items
        self.channels = chans.pop()
        self.sizes = [(int(t.shape[1]), int(t.shape[2])) for t in items]
        self.min_size = (min(h for h, _ in self.sizes), min(w for _, w in self.sizes))

    def __len__(self) -> int:
        return len(self.items)


def _compact(t: torch.Tensor) -> torch.Tensor:
    """8-bit images (every value k / 255) held as uint8: a quarter of the memory for large photos; crops are
    converted back exactly (``k / 255`` in float32, what the float image held)."""
    q = torch.round(t * 255.0)
    if torch.equal(q / 255.0, t) and bool(((q >= 0) & (q <= 255)).all()):
        return q.to(torch.uint8)
    return t


def _crop_size(crop: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if crop is None:
        return None
    if isinstance(crop, (tuple, list)):
        if len(crop) != 2:
            raise ValueError(f"crop: expected an int or (height, width), got {crop!r}")
        return (check_int(crop[0], "crop height", low=1), check_int(crop[1], "crop width", low=1))
    c = check_int(crop, "crop", low=1)
    return (c, c)


def _check_fits(images: _Images, crop: tuple[int, int] | None, name: str) -> None:
    if crop is None:
        if len(set(images.sizes)) > 1:
            raise ValueError(f"crop: expected a crop size for {name} of different sizes "
                             f"({sorted(set(images.sizes))[:3]}...), got None")
        return
    h, w = images.min_size
    if crop[0] > h or crop[1] > w:
        raise ValueError(f"crop: expected at most the smallest {name} image ({h}, {w}), got {crop}")


def _as_generator(rng: torch.Generator | int | None) -> torch.Generator | None:
    if rng is None or isinstance(rng, torch.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)):
        raise TypeError(f"rng: expected None, an int seed or a torch.Generator, got {describe(rng)}")
    return torch.Generator().manual_seed(int(rng))


def _as_indices(indices: Any, n: int) -> list[int]:
    idx = [int(i) for i in (indices.tolist() if isinstance(indices, torch.Tensor) else indices)]
    if not idx:
        raise ValueError("indices: expected at least one index, got none")
    bad = [i for i in idx if not 0 <= i < n]
    if bad:
        raise IndexError(f"indices: expected values in [0, {n}), got {bad[0]}")
    return idx


def _windows(sizes: list[tuple[int, int]], crop: tuple[int, int] | None, g: torch.Generator | None,
             augment: bool, flips: bool, step: int = 1) -> list[tuple[int, int, bool, bool]]:
    """(top, left, hflip, vflip) per image; ``step`` keeps the corner on a grid (super-resolution pairs).

    Four uniform draws per image whatever the options, so a batch's randomness does not depend on them."""
    u = torch.rand((len(sizes), 4), generator=g, dtype=torch.float64)
    out = []
    for (h, w), (a, b, c, d) in zip(sizes, u.tolist()):
        if crop is None:
            top = left = 0
        elif augment:
            top = step * int(a * ((h - crop[0]) // step + 1))
            left = step * int(b * ((w - crop[1]) // step + 1))
        else:
            top, left = step * (((h - crop[0]) // 2) // step), step * (((w - crop[1]) // 2) // step)
        out.append((top, left, augment and flips and c < 0.5, augment and flips and d < 0.5))
    return out


def _cut(img: torch.Tensor, top: int, left: int, size: tuple[int, int] | None, hflip: bool,
         vflip: bool) -> torch.Tensor:
    if size is not None:
        img = img[:, top:top + size[0], left:left + size[1]]
    if img.dtype == torch.uint8:
        img = img.to(torch.float32) / 255.0
    if hflip:
        img = img.flip(-1)
    if vflip:
        img = img.flip(-2)
    return img


class _Cropped(BatchDataset):
    """Shared crop/flip settings."""

    def __init__(self, crop: int | tuple[int, int] | None, flips: bool) -> None:
        self.crop = _crop_size(crop)
        if not isinstance(flips, bool):
            raise TypeError(f"flips: expected a bool, got {describe(flips)}")
        self.flips = flips

    def _crops(self, images: _Images, idx: list[int], g: torch.Generator | None, augment: bool) -> torch.Tensor:
        wins = _windows([images.sizes[i] for i in idx], self.crop, g, augment, self.flips)
        return torch.stack([_cut(images.items[i], t, left, self.crop, hf, vf)
                            for i, (t, left, hf, vf) in zip(idx, wins)])


class Paired(_Cropped):
    """Aligned (input, target) image pairs with the same random crop and flip applied to both.

    Parameters
    ----------
    inputs, targets : tensor (N, C, H, W), ImageDataset, list of images or folder
        ``inputs[i]`` is the observation of ``targets[i]``. Two folders are matched by file name (both
        must hold the same names).
    crop : int or (height, width), optional
        Random crop in target pixels (centre crop with ``augment=False``); None keeps whole images (then
        they must share one size).
    scale : int
        Target size over input size (super-resolution pairs): a target of (s H, s W) for an input (H, W);
        the crop must then be a multiple of ``scale`` and the input crop is ``crop // scale``.
    flips : bool
        Random horizontal and vertical flips.

    Batches are ``{"x": targets (B, C, H, W), "y": inputs (B, C', H / s, W / s)}``.

    Examples
    --------
    >>> import torch
    >>> clean = torch.rand(4, 1, 16, 16)
    >>> ds = Paired(clean + 0.1, clean, crop=8)
    >>> b = ds.batch([0, 1], rng=0)
    >>> b["x"].shape, bool(torch.allclose(b["y"] - b["x"], torch.tensor(0.1)))
    (torch.Size([2, 1, 8, 8]), True)
    """

    def __init__(self, inputs: Source, targets: Source, *, crop: int | tuple[int, int] | None = None,
                 scale: int = 1, flips: bool = True) -> None:
        super().__init__(crop, flips)
        self.inputs = _Images(inputs, "inputs")
        self.targets = _Images(targets, "targets")
        self.scale = check_int(scale, "scale", low=1)
        if len(self.inputs) != len(self.targets):
            raise ValueError(f"inputs/targets: expected as many inputs as targets, got {len(self.inputs)} and "
                             f"{len(self.targets)}")
        if self.inputs.files is not None and self.targets.files is not None:
            a = [p.name for p in self.inputs.files]
            b = [p.name for p in self.targets.files]
            if a != b:
                odd = next(x for x, y in zip(a, b) if x != y)
                raise ValueError(f"inputs/targets: expected the same file names in both folders, got {odd!r} "
                                 f"without its pair")
        s = self.scale
        for i, ((hi, wi), (ht, wt)) in enumerate(zip(self.inputs.sizes, self.targets.sizes)):
            if (ht, wt) != (s * hi, s * wi):
                raise ValueError(f"targets[{i}]: expected size ({s * hi}, {s * wi}) (scale {s} times its input), "
                                 f"got ({ht}, {wt})")
        if self.crop is not None and (self.crop[0] % s or self.crop[1] % s):
            raise ValueError(f"crop: expected a multiple of scale {s}, got {self.crop}")
        _check_fits(self.targets, self.crop, "targets")

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def channels(self) -> int:
        """Channels of the targets ``x``."""
        return self.targets.channels

    def batch(self, indices: Any, *, rng: torch.Generator | int | None = None,
              augment: bool = True) -> dict[str, Any]:
        idx = _as_indices(indices, len(self))
        g = _as_generator(rng)
        s = self.scale
        wins = _windows([self.targets.sizes[i] for i in idx], self.crop, g, augment, self.flips, step=s)
        small = None if self.crop is None else (self.crop[0] // s, self.crop[1] // s)
        x = torch.stack([_cut(self.targets.items[i], t, left, self.crop, hf, vf)
                         for i, (t, left, hf, vf) in zip(idx, wins)])
        y = torch.stack([_cut(self.inputs.items[i], t // s, left // s, small, hf, vf)
                         for i, (t, left, hf, vf) in zip(idx, wins)])
        return {"x": x, "y": y}

    def __repr__(self) -> str:
        return f"Paired(n={len(self)}, crop={self.crop}, scale={self.scale}, flips={self.flips})"


class Unpaired(_Cropped):
    """Two image domains drawn independently (unpaired translation, e.g. CycleGAN).

    An epoch runs over ``a`` in the sampler's order; each batch draws as many ``b`` images uniformly at
    random from the batch generator. Each image gets its own random crop and flips. Batches are ``{"y":
    from a, "x": from b}``.

    Parameters
    ----------
    a, b : tensor (N, C, H, W), ImageDataset, list of images or folder
    crop : int or (height, width), optional
    flips : bool
    """

    def __init__(self, a: Source, b: Source, *, crop: int | tuple[int, int] | None = None,
                 flips: bool = True) -> None:
        super().__init__(crop, flips)
        self.a = _Images(a, "a")
        self.b = _Images(b, "b")
        _check_fits(self.a, self.crop, "a")
        _check_fits(self.b, self.crop, "b")

    def __len__(self) -> int:
        return len(self.a)

    @property
    def channels(self) -> int:
        """Channels of the target domain ``x`` (``b``)."""
        return self.b.channels

    def batch(self, indices: Any, *, rng: torch.Generator | int | None = None,
              augment: bool = True) -> dict[str, Any]:
        idx = _as_indices(indices, len(self))
        g = _as_generator(rng)
        jdx = torch.randint(len(self.b), (len(idx),), generator=g).tolist()
        return {"y": self._crops(self.a, idx, g, augment), "x": self._crops(self.b, jdx, g, augment)}

    def __repr__(self) -> str:
        return f"Unpaired(n_a={len(self.a)}, n_b={len(self.b)}, crop={self.crop}, flips={self.flips})"


def _is_physics(obj: Any) -> bool:
    return callable(getattr(obj, "degrade", None))


class Degraded(_Cropped):
    """Clean images, randomly cropped and flipped, degraded afresh at every batch: ``y = N(A x)``.

    Parameters
    ----------
    clean_source : tensor (N, C, H, W), ImageDataset, list of images or folder
    physics : Physics or callable
        A fixed :class:`~aip.degrade.Physics` (its noise drawn per batch, e.g. ``GaussianNoise((0, 0.2))``
        for a level per image), or a callable ``rng -> physics`` called once per batch with the batch's
        ``torch.Generator`` (a new blur kernel per batch, see :class:`RandomBlur`). Anything with a
        ``degrade(x, *, rng) -> {"y", "sigma"}`` method serves as a physics.
    crop : int or (height, width), optional
        Random crop of the clean images (centre crop with ``augment=False``).
    flips : bool
        Random horizontal and vertical flips of the clean crops.
    clip : bool
        Clip the observations to [0, 1] (as an 8-bit camera would).

    Batches are ``{"x": clean (B, C, h, w), "y": observed, "sigma": (B,) float32 noise level per image (0
    without Gaussian noise), "physics": the batch's physics}``.

    Examples
    --------
    >>> import torch
    >>> from aip.degrade import GaussianNoise, Physics
    >>> ds = Degraded(torch.rand(8, 1, 32, 32), Physics(noise=GaussianNoise((0.0, 0.2))), crop=16)
    >>> b = ds.stream(4, seed=0).next()
    >>> b["y"].shape, b["sigma"].shape
    (torch.Size([4, 1, 16, 16]), torch.Size([4]))
    """

    def __init__(self, clean_source: Source, physics: Any, *, crop: int | tuple[int, int] | None = None,
                 flips: bool = True, clip: bool = False) -> None:
        super().__init__(crop, flips)
        self.clean = _Images(clean_source, "clean_source")
        if not (_is_physics(physics) or callable(physics)):
            raise TypeError(f"physics: expected a Physics (with a degrade method) or a callable rng -> physics, "
                            f"got {describe(physics)}")
        self.physics = physics
        self.clip = bool(clip)
        _check_fits(self.clean, self.crop, "clean_source")

    def __len__(self) -> int:
        return len(self.clean)

    @property
    def channels(self) -> int:
        """Channels of the clean images ``x``."""
        return self.clean.channels

    def physics_for(self, rng: torch.Generator | None) -> Any:
        """The physics of one batch: the fixed one, or ``physics(rng)``."""
        if _is_physics(self.physics):
            return self.physics
        phys = self.physics(rng)
        if not _is_physics(phys):
            raise TypeError(f"physics: expected the callable to return a Physics (with a degrade method), got "
                            f"{describe(phys)}")
        return phys

    def batch(self, indices: Any, *, rng: torch.Generator | int | None = None,
              augment: bool = True) -> dict[str, Any]:
        idx = _as_indices(indices, len(self))
        g = _as_generator(rng)
        x = self._crops(self.clean, idx, g, augment)
        phys = self.physics_for(g)
        out = phys.degrade(x, rng=g)
        y = out["y"].to(torch.float32)
        if self.clip:
            y = y.clamp(0.0, 1.0)
        sigma = out.get("sigma")
        sigma = (torch.zeros(x.shape[0]) if sigma is None else
                 torch.as_tensor(sigma, dtype=torch.float32).reshape(-1).expand(x.shape[0]).clone())
        return {"x": x, "y": y, "sigma": sigma, "physics": phys}

    def __repr__(self) -> str:
        return f"Degraded(n={len(self)}, physics={self.physics!r}, crop={self.crop}, flips={self.flips})"


class RandomBlur:
    """A callable ``rng -> Physics``: a new random blur kernel per call, then optional noise.

    Parameters
    ----------
    kind : {"gaussian", "motion"}
        ``"gaussian"``: an isotropic Gaussian of width drawn uniformly from ``width``; ``"motion"``:
        :func:`aip.degrade.random_motion` camera shake seeded from the generator.
    size : int
        Kernel size (odd).
    width : (low, high)
        Gaussian widths in pixels (``kind="gaussian"``).
    intensity : float
        Jerkiness of the motion trajectory (``kind="motion"``).
    noise : noise model, spec or float, optional
        Passed to :class:`~aip.degrade.Physics` (e.g. ``GaussianNoise((0.0, 0.05))``).
    mode : str
        The :class:`~aip.degrade.Blur` boundary mode.
    scale : int
        Decimation after the blur (``y = (k * x)[::s, ::s]`` through :class:`~aip.degrade.Downsample` with
        the random kernel): blind super-resolution data; 1 for none.

    Examples
    --------
    >>> import torch
    >>> phys = RandomBlur("gaussian", size=9, width=(0.5, 2.0))(torch.Generator().manual_seed(0))
    >>> phys.operator.psf.shape
    (9, 9)
    """

    def __init__(self, kind: str = "gaussian", *, size: int = 15, width: tuple[float, float] = (0.5, 3.0),
                 intensity: float = 0.5, noise: Any = None, mode: str = "reflect", scale: int = 1) -> None:
        from aip._shared.validate import check_choice, check_positive

        self.kind = check_choice(kind, "kind", ("gaussian", "motion"))
        self.size = check_int(size, "size", low=3)
        if len(width) != 2 or not 0 < float(width[0]) <= float(width[1]):
            raise ValueError(f"width: expected (low, high) with 0 < low <= high, got {width!r}")
        self.width = (float(width[0]), float(width[1]))
        self.intensity = check_positive(intensity, "intensity", allow_zero=True)
        self.noise = noise
        self.mode = mode
        self.scale = check_int(scale, "scale", low=1)

    def kernel(self, rng: torch.Generator | None) -> np.ndarray:
        from aip.degrade import gaussian, random_motion

        if self.kind == "gaussian":
            lo, hi = self.width
            w = lo + (hi - lo) * float(torch.rand((), generator=rng, dtype=torch.float64))
            return gaussian(w, self.size)
        seed = int(torch.randint(0, 2**62, (), generator=rng))
        return random_motion(self.size, rng=seed, intensity=self.intensity)

    def __call__(self, rng: torch.Generator | None = None) -> Any:
        from aip.degrade import Blur, Downsample, Physics

        k = self.kernel(rng)
        op = Blur(k, mode=self.mode) if self.scale == 1 else Downsample(self.scale, k, mode=self.mode)
        return Physics(op, self.noise)

    def __repr__(self) -> str:
        tail = f", scale={self.scale}" if self.scale > 1 else ""
        return f"RandomBlur({self.kind!r}, size={self.size}, width={self.width}, noise={self.noise!r}{tail})"


def make_degradation(noise: Any = None, blur: str | None = None, *, scale: int = 1, noise_scale: float = 1.0,
                     mode: str = "reflect") -> Any:
    """The ``physics`` argument of :class:`Degraded` from spec strings (what ``aip train`` passes).

    Parameters
    ----------
    noise : str, float or noise model, optional
        A :func:`aip.degrade.make_noise` spec: ``gaussian:SIGMA``, ``gaussian:LOW-HIGH`` (a level per
        image), ``poisson:PEAK``, ... Gaussian levels are divided by ``noise_scale`` (255 reads them on the
        0-255 scale, as the CLI does).
    blur : str, optional
        ``gaussian:LOW-HIGH[:SIZE]`` (a Gaussian of random width per batch), ``random_motion[:SIZE]`` (a new
        camera-shake kernel per batch), or any fixed :func:`aip.degrade.make_kernel` spec
        (``gaussian:1.6``, ``motion:9:30``, ``box:5``, a PSF file).
    scale : int
        Super-resolution data: decimation by ``scale`` after the blur (:class:`~aip.degrade.Downsample`;
        the bicubic kernel of ``imresize`` when no blur is given), then the noise.
    noise_scale : float
    mode : str
        The blur's boundary mode.

    Returns
    -------
    Physics or RandomBlur
        A fixed :class:`~aip.degrade.Physics`, or a :class:`RandomBlur` (a callable ``rng -> Physics``).
        Nothing given is the identity (``y = x``), for models that degrade inside their loss (inpainting
        with random holes).

    Examples
    --------
    >>> make_degradation("gaussian:0-50", noise_scale=255).noise.sigma == (0.0, 50 / 255)
    True
    >>> make_degradation(None, "random_motion:11")
    RandomBlur('motion', size=11, width=(0.5, 3.0), noise=None)
    """
    import math

    from aip.degrade import Blur, Downsample, Physics, make_kernel, make_noise

    s = check_int(scale, "scale", low=1)
    nm = make_noise(noise, scale=noise_scale) if noise else None
    if not blur:
        return Physics(Downsample(s, "bicubic", mode=mode) if s > 1 else None, nm)
    if not isinstance(blur, str):
        raise TypeError(f"blur: expected a spec string such as 'gaussian:0.5-2.5' or 'random_motion', got "
                        f"{describe(blur)}")
    name, _, rest = blur.partition(":")
    args = [a for a in rest.split(":") if a] if rest else []
    if name == "gaussian" and args and "-" in args[0].strip("-"):
        lo_s, _, hi_s = args[0].partition("-")
        try:
            lo, hi = float(lo_s), float(hi_s)
            size = int(args[1]) if len(args) > 1 else 2 * math.ceil(3 * hi) + 1
        except ValueError:
            raise ValueError(f"blur: could not read {blur!r}; expected gaussian:LOW-HIGH[:SIZE]") from None
        return RandomBlur("gaussian", size=size, width=(lo, hi), noise=nm, mode=mode, scale=s)
    if name == "random_motion":
        try:
            size = int(args[0]) if args else 17
        except ValueError:
            raise ValueError(f"blur: could not read {blur!r}; expected random_motion[:SIZE]") from None
        return RandomBlur("motion", size=size, noise=nm, mode=mode, scale=s)
    k = make_kernel(blur)
    return Physics(Blur(k, mode=mode) if s == 1 else Downsample(s, k, mode=mode), nm)
