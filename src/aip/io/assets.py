"""The asset store: every file that ships inside the package (weights, dictionaries) and its JSON record.

An asset ``NAME`` is the pair ``NAME.safetensors`` (the tensors) and ``NAME.json`` (what they are and where
they come from) in :func:`weights_dir` (``aip/data/weights``). Both files are written atomically
(:func:`aip._shared.files.atomic_write`), the tensors first, so a reader never sees a JSON record without
its tensors; floating tensors may be stored as float16 (``half_params``) to keep the package small, and
come back exactly as stored (the caller casts them to its own dtype). Nothing is downloaded: a missing
asset raises :class:`MissingAssetError`, whose one-line message names the command that rebuilds it when
:data:`ASSET_COMMANDS` knows it.

This module is low in the import order (it imports nothing of ``aip.models`` or ``aip.train``): the
callers own the meaning of the tensors (a state dict, SR dictionaries, ...).

Example
-------
>>> from aip.io.assets import list_assets, load_asset
>>> "lenet_digits" in list_assets("lenet_")
True
>>> tensors, meta = load_asset("lenet_digits")
>>> meta["config"]["num_classes"], tuple(tensors["fc2.weight"].shape)
(10, (10, 128))
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "ASSET_COMMANDS",
    "MissingAssetError",
    "asset_path",
    "list_assets",
    "load_asset",
    "load_asset_meta",
    "save_asset",
    "weights_dir",
]

_EXPORT = "python -m aip.train.shipped {run} {name}"

#: Asset name -> the command that (re)builds it from the repository root (no download; the CPU seconds are
#: in each asset's JSON). ``tests/train/test_shipped.py`` checks that the ``aip train`` commands reproduce
#: the training config recorded in the shipped JSON.
ASSET_COMMANDS: dict[str, str] = {
    "gen_ddpm_digits": (  # v-prediction, no space-to-depth: no DDIM haze (benchmarks/results/ddim_training.md)
        "OMP_NUM_THREADS=1 aip train ddpm --data digits --steps 8500 --batch-size 64 --lr 2e-3 --warmup 200 "
        "--lr-schedule cosine --ema-decay 0.999 --grad-clip 1 --seed 0 --sample-every 0 --log-every 100 "
        "--checkpoint-every 500 --num_classes 10 --base_channels 16 --schedule linear --prediction v --patch_size 1 "
        "--out runs/gen_ddpm_digits"
        " && " + _EXPORT.format(run="runs/gen_ddpm_digits", name="ddpm")),
    "gen_cvae_digits": (
        "OMP_NUM_THREADS=1 aip train cvae --data digits --steps 3000 --ema-decay 0.995 --seed 0 "
        "--checkpoint-every 250 --hidden-dim 128 --out runs/gen_cvae_digits"
        " && " + _EXPORT.format(run="runs/gen_cvae_digits", name="cvae")),
    "gen_cgan_digits": (  # minibatch std in D and the mode-seeking term in G: no mode collapse
        "OMP_NUM_THREADS=1 aip train cgan --data digits --steps 3000 --batch-size 64 --warmup 0 "
        "--lr-schedule constant --ema-decay 0.995 --grad-clip 1 --seed 0 --log-every 50 --checkpoint-every 250 "
        "--num-samples 64 --set base_channels=32 --set minibatch_std=true --set mode_seeking=1.0 "
        "--out runs/gen_cgan_digits"
        " && " + _EXPORT.format(run="runs/gen_cgan_digits", name="cgan")),
    # learned restorers: trained on the allowed wallpaper photos (benchmarks/training_photos.py writes them)
    "restore_ffdnet_gray": (
        "python benchmarks/training_photos.py && OMP_NUM_THREADS=1 aip train ffdnet "
        "--data ~/.cache/aip-wallpapers/photos_gray --steps 12000 --batch-size 32 --lr 1e-3 --warmup 200 "
        "--lr-schedule cosine --ema-decay 0.999 --grad-clip 1 --seed 0 --log-every 100 --checkpoint-every 500 "
        "--eval-every 1000 --crop 48 --noise gaussian:0-55 --depth 10 --features 48 --batch-norm false "
        "--residual true --sigma-range 0,0.2157 --out runs/restore_ffdnet_gray"
        " && " + _EXPORT.format(run="runs/restore_ffdnet_gray", name="restore_ffdnet_gray")),
    **{f"restore_espcn_x{s}_gray": (
        "python benchmarks/training_photos.py && OMP_NUM_THREADS=1 aip train espcn "
        "--data ~/.cache/aip-wallpapers/photos_gray --steps 4000 --batch-size 32 --lr 1e-3 --warmup 200 "
        "--lr-schedule cosine --ema-decay 0.999 --grad-clip 1 --seed 0 --log-every 100 --checkpoint-every 500 "
        f"--eval-every 500 --crop 96 --scale {s} --out runs/restore_espcn_x{s}_gray"
        " && " + _EXPORT.format(run=f"runs/restore_espcn_x{s}_gray", name=f"restore_espcn_x{s}_gray"))
       for s in (2, 4)},
    "restore_dncnn_gray": (
        "python benchmarks/training_photos.py && OMP_NUM_THREADS=1 aip train dncnn "
        "--data ~/.cache/aip-wallpapers/photos_gray --steps 3000 --batch-size 32 --lr 1e-3 --warmup 200 "
        "--lr-schedule cosine --ema-decay 0.999 --grad-clip 1 --seed 0 --log-every 50 --checkpoint-every 250 "
        "--eval-every 1000 --crop 48 --noise gaussian:0-55 --depth 12 --features 48 --batch-norm true "
        "--out runs/restore_dncnn_gray"
        " && " + _EXPORT.format(run="runs/restore_dncnn_gray", name="restore_dncnn_gray")),
    "restore_srcnn_x2_gray": (
        "python benchmarks/training_photos.py && OMP_NUM_THREADS=1 aip train srcnn "
        "--data ~/.cache/aip-wallpapers/photos_gray --steps 3000 --batch-size 16 --lr 1e-3 --warmup 200 "
        "--lr-schedule cosine --ema-decay 0.999 --grad-clip 1 --seed 0 --log-every 50 --checkpoint-every 250 "
        "--eval-every 500 --crop 64 --scale 2 --out runs/restore_srcnn_x2_gray"
        " && " + _EXPORT.format(run="runs/restore_srcnn_x2_gray", name="restore_srcnn_x2_gray")),
    "restore_vdsr_x4_gray": (  # one chunk (--stop-at) of a 6000-step schedule: eval PSNR had levelled off
        "python benchmarks/training_photos.py && OMP_NUM_THREADS=1 aip train vdsr "
        "--data ~/.cache/aip-wallpapers/photos_gray --steps 6000 --stop-at 4000 --batch-size 16 --lr 1e-3 "
        "--warmup 200 --lr-schedule cosine --ema-decay 0.999 --grad-clip 1 --seed 0 --log-every 100 "
        "--checkpoint-every 500 --eval-every 500 --crop 64 --scale 4 --depth 16 --features 32 "
        "--out runs/restore_vdsr_x4_gray"
        " && " + _EXPORT.format(run="runs/restore_vdsr_x4_gray", name="restore_vdsr_x4_gray")),
    "restore_srresnet_x4_gray": (  # SRGAN's PSNR-trained twin (8 residual blocks of 48 channels)
        "python benchmarks/training_photos.py && OMP_NUM_THREADS=1 aip train srresnet "
        "--data ~/.cache/aip-wallpapers/photos_gray --steps 3000 --batch-size 16 --lr 1e-3 --warmup 200 "
        "--lr-schedule cosine --ema-decay 0.999 --grad-clip 1 --seed 0 --log-every 50 --checkpoint-every 250 "
        "--eval-every 500 --crop 64 --scale 4 --n_blocks 8 --features 48 --out runs/restore_srresnet_x4_gray"
        " && " + _EXPORT.format(run="runs/restore_srresnet_x4_gray", name="restore_srresnet_x4_gray")),
    "restore_srgan_x4_gray": (  # starts from the SRResNet run above (--init), as in the paper
        "OMP_NUM_THREADS=1 aip train srgan --data ~/.cache/aip-wallpapers/photos_gray --steps 1000 --batch-size 16 "
        "--lr 1e-4 --warmup 0 --lr-schedule constant --ema-decay 0.999 --grad-clip 1 --seed 0 --log-every 50 "
        "--checkpoint-every 250 --eval-every 250 --crop 64 --scale 4 --n_blocks 8 --features 48 --d_features 32 "
        "--init runs/restore_srresnet_x4_gray --out runs/restore_srgan_x4_gray"
        " && " + _EXPORT.format(run="runs/restore_srgan_x4_gray", name="restore_srgan_x4_gray")),
    "restore_msdeblur_gray": (  # blind: Gaussian blurs of random width 1-2.5 px, fresh every batch
        "python benchmarks/training_photos.py && OMP_NUM_THREADS=1 aip train msdeblur "
        "--data ~/.cache/aip-wallpapers/photos_gray --steps 3000 --batch-size 16 --lr 1e-4 --warmup 100 "
        "--lr-schedule cosine --ema-decay 0.999 --grad-clip 1 --seed 0 --log-every 100 --checkpoint-every 250 "
        "--eval-every 500 --crop 64 --blur gaussian:1.0-2.5 --noise gaussian:2.55 --out runs/restore_msdeblur_gray"
        " && " + _EXPORT.format(run="runs/restore_msdeblur_gray", name="restore_msdeblur_gray")),
    "restore_context_encoder_gray": (  # 25% central holes of 64-pixel crops, reconstruction + adversarial loss
        "python benchmarks/training_photos.py && OMP_NUM_THREADS=1 aip train context_encoder "
        "--data ~/.cache/aip-wallpapers/photos_gray --steps 3000 --batch-size 32 --warmup 100 --lr-schedule cosine "
        "--ema-decay 0.999 --grad-clip 1 --seed 0 --log-every 100 --checkpoint-every 250 --eval-every 500 "
        "--crop 64 --out runs/restore_context_encoder_gray"
        " && " + _EXPORT.format(run="runs/restore_context_encoder_gray", name="restore_context_encoder_gray")),
    "lenet_digits": "python benchmarks/train_lenet.py digits",
    "vit_digits": "OMP_NUM_THREADS=1 python benchmarks/train_vit.py --epochs 10",
    "lenet_digits8": "python benchmarks/train_lenet.py digits8",
    "lenet_faces": "python benchmarks/train_lenet.py faces",
    "lenet_patches": "python benchmarks/train_lenet.py patches",
    "sparse_sr": "python benchmarks/restore_lowrank.py --train-sr",
}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SUFFIXES = (".safetensors", ".json")


class MissingAssetError(FileNotFoundError):
    """An asset (``NAME.safetensors`` or ``NAME.json``) is not in its folder; the message names the command
    that rebuilds it when :data:`ASSET_COMMANDS` (or the asset's own JSON) knows one."""

    def __init__(self, name: str, path: Path, command: str | None = None) -> None:
        self.name, self.path, self.command = name, Path(path), command
        how = f"rebuild it with: {command}" if command else "no command is known to rebuild it"
        super().__init__(f"asset {name!r}: expected {self.path}, which is missing; {how}")


def weights_dir() -> Path:
    """The folder of the shipped assets, ``aip/data/weights`` inside the installed package."""
    return Path(__file__).resolve().parents[1] / "data" / "weights"


def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name: expected an asset name (str), got {type(name).__name__}")
    if not _NAME_RE.match(name) or name.endswith(SUFFIXES):
        raise ValueError(f"name: expected a file stem such as 'lenet_digits' (letters, digits, '_', '-', '.', "
                         f"no folder or suffix), got {name!r}")
    return name


def _root(root: str | os.PathLike | None) -> Path:
    return weights_dir() if root is None else Path(root)


def asset_path(name: str, suffix: str = ".safetensors", *, root: str | os.PathLike | None = None) -> Path:
    """The path of asset ``name``'s tensors (``suffix=".safetensors"``) or record (``".json"``).

    ``root`` is the folder (default :func:`weights_dir`); the file need not exist.
    """
    if suffix not in SUFFIXES:
        raise ValueError(f"suffix: expected one of {', '.join(SUFFIXES)}, got {suffix!r}")
    return _root(root) / f"{_check_name(name)}{suffix}"


def list_assets(prefix: str = "", *, root: str | os.PathLike | None = None) -> list[str]:
    """Sorted names of the complete assets (both files present) whose name starts with ``prefix``."""
    if not isinstance(prefix, str):
        raise TypeError(f"prefix: expected a str, got {type(prefix).__name__}")
    folder = _root(root)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob(f"{_glob_escape(prefix)}*.safetensors")
                  if p.stem.startswith(prefix) and p.with_suffix(".json").is_file())


def _glob_escape(text: str) -> str:
    """``text`` with the glob wildcards ``*?[`` quoted."""
    return re.sub(r"([*?[])", r"[\1]", text)


def _missing(name: str, path: Path, meta: Mapping[str, Any] | None = None) -> MissingAssetError:
    command = ASSET_COMMANDS.get(name) or (meta or {}).get("command")
    return MissingAssetError(name, path, command if isinstance(command, str) else None)


def load_asset_meta(name: str, *, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """The JSON record of asset ``name`` (MissingAssetError if it, or its tensors, are missing)."""
    meta_path = asset_path(name, ".json", root=root)
    if not meta_path.is_file():
        raise _missing(name, meta_path)
    meta = json.loads(meta_path.read_text())
    tensors_path = meta_path.with_suffix(".safetensors")
    if not tensors_path.is_file():
        raise _missing(name, tensors_path, meta)
    return meta


def load_asset(name: str, *, numpy: bool = False, root: str | os.PathLike | None = None
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tensors and the JSON record of asset ``name``, exactly as stored.

    Parameters
    ----------
    name : str
        The asset's file stem (e.g. ``"lenet_digits"``, ``"gen_ddpm_digits"``, ``"sparse_sr"``).
    numpy : bool
        Return numpy arrays instead of CPU torch tensors (torch is then not imported).
    root : path, optional
        The folder (default :func:`weights_dir`).

    Returns
    -------
    tensors : dict of str to torch.Tensor or numpy.ndarray
        In their stored dtypes (float16 where saved with ``half_params``).
    meta : dict
        The JSON record.

    Raises
    ------
    MissingAssetError
        If either file is missing; the message names the command that rebuilds the asset.
    """
    meta = load_asset_meta(name, root=root)
    path = str(asset_path(name, root=root))
    if numpy:
        from safetensors.numpy import load_file
    else:
        from safetensors.torch import load_file
    return load_file(path), meta


def _json_default(v: Any) -> Any:
    """JSON for the values a record commonly holds beyond JSON's own: sets, paths, numpy numbers and arrays."""
    if isinstance(v, (set, frozenset)):
        return sorted(v)
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if hasattr(v, "tolist") and type(v).__module__ == "numpy":
        return v.tolist()
    raise TypeError(f"meta: expected JSON values (numbers, strings, lists, dicts), got {type(v).__name__}")


def _is_torch(v: Any) -> bool:
    return type(v).__module__.startswith("torch")


def save_asset(name: str, tensors: Mapping[str, Any], meta: Mapping[str, Any], *,
               half_params: bool | Iterable[str] = (), root: str | os.PathLike | None = None,
               force: bool = False) -> Path:
    """Write asset ``name``: ``name.safetensors`` (``tensors``) then ``name.json`` (``meta``), each atomically.

    Parameters
    ----------
    name : str
        The file stem.
    tensors : mapping of str to torch.Tensor or numpy.ndarray
        All torch (saved with ``safetensors.torch``) or all numpy (``safetensors.numpy``); torch tensors are
        detached and moved to the CPU.
    meta : mapping
        The JSON record (tuples are written as lists). Say where the tensors come from: the command, the
        data, the seconds, the figures measured on them.
    half_params : bool or iterable of str
        Floating tensors stored as float16: ``True`` for all, or the keys of those (e.g. a model's
        parameter names, keeping its buffers in float32).
    root : path, optional
        The folder (default :func:`weights_dir`; created if missing).
    force : bool
        Replace existing files (otherwise FileExistsError).

    Returns
    -------
    Path
        The ``.safetensors`` path.

    Example
    -------
    >>> import numpy as np, tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = save_asset("demo", {"w": np.ones(3, np.float32)}, {"what": "ones"}, half_params=True, root=d)
    >>> t, m = load_asset("demo", numpy=True, root=d)
    >>> t["w"].dtype, m["what"]
    (dtype('float16'), 'ones')
    """
    from aip._shared.files import atomic_write, check_writable

    if not isinstance(tensors, Mapping) or not tensors:
        raise ValueError(f"tensors: expected a non-empty dict of name -> tensor, got {type(tensors).__name__}"
                         f"{' (empty)' if isinstance(tensors, Mapping) else ''}")
    if not isinstance(meta, Mapping):
        raise TypeError(f"meta: expected a dict (the JSON record), got {type(meta).__name__}")
    bad = [k for k in tensors if not isinstance(k, str)]
    if bad:
        raise TypeError(f"tensors: expected str keys, got {bad[0]!r}")
    half = set(tensors) if half_params is True else set() if half_params is False else set(half_params)
    unknown = sorted(half - set(tensors))
    if unknown:
        raise ValueError(f"half_params: expected keys of tensors, got unknown {', '.join(unknown[:3])}")
    record = json.dumps(dict(meta), indent=2, default=_json_default).encode()  # fails before any file is written
    kinds = {_is_torch(v) for v in tensors.values()}
    if len(kinds) > 1:
        raise TypeError("tensors: expected all torch tensors or all numpy arrays, got a mix")
    folder = _root(root)
    folder.mkdir(parents=True, exist_ok=True)
    out = asset_path(name, root=folder)
    for p in (out, out.with_suffix(".json")):
        check_writable(p, force)
    if kinds == {True}:
        import torch
        from safetensors.torch import save

        def prep(k: str, v: Any) -> Any:
            v = v.detach().cpu()
            return (v.to(torch.float16) if k in half and v.is_floating_point() else v).contiguous()
    else:
        import numpy as np
        from safetensors.numpy import save

        def prep(k: str, v: Any) -> Any:
            v = np.asarray(v)
            return np.ascontiguousarray(v.astype(np.float16) if k in half and v.dtype.kind == "f" else v)
    atomic_write(out, save({k: prep(k, v) for k, v in tensors.items()}), force=force)
    atomic_write(out.with_suffix(".json"), record, force=force)
    return out
