"""Learned restoration on numpy images: the front doors ``aip.restore.denoise(..., "ffdnet")`` and friends
call these, with weights shipped in the package (:mod:`aip.io.assets`, assets ``restore_<name>``).

Each function takes a float image in [0, 1], (H, W) or (H, W, C) with ``channel_axis``, like the classical
methods; colour images go to a colour network when one is shipped, else channel by channel. Large images
are tiled with overlap (:func:`~aip.models.restorers.apply_tiled`), so memory stays bounded and the result
equals the untiled one. A missing weight file raises :class:`~aip.io.assets.MissingAssetError`, whose
message names the command that trains it.

Example
-------
>>> from aip.models.learned import shipped_restorers
>>> isinstance(shipped_restorers(), dict)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aip._shared.validate import as_channel_image, check_positive
from aip.models.base import RestorationModel

__all__ = [
    "deblur_learned",
    "deblur_msdeblur",
    "denoise_dncnn",
    "denoise_ffdnet",
    "denoise_learned",
    "inpaint_learned",
    "load_restorer",
    "restorer_from_state",
    "shipped_restorers",
    "upscale_espcn",
    "upscale_learned",
    "upscale_srcnn",
    "upscale_vdsr",
]

PREFIX = "restore_"

_CACHE: dict[tuple[str, str], RestorationModel] = {}


def shipped_restorers() -> dict[str, dict[str, Any]]:
    """Asset name -> its model config, for every shipped learned restorer (``restore_*`` assets)."""
    from aip.io.assets import list_assets, load_asset_meta

    return {name: load_asset_meta(name).get("model", {}) for name in list_assets(PREFIX)}


def restorer_from_state(config: dict[str, Any], state: dict[str, torch.Tensor]) -> RestorationModel:
    """Build the model a config dict names (``{"model": "ffdnet", ...fields}``) and load ``state`` into it
    (tensors cast to the model's own dtypes); eval mode."""
    from aip.models.registry import build_model

    cfg = dict(config)
    name = cfg.pop("model", None)
    if name is None:
        raise ValueError(f"config: expected a 'model' key naming the network, got keys {sorted(cfg)}")
    model = build_model(name, **cfg)
    own = model.state_dict()
    if set(own) != set(state):
        missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        raise ValueError(f"{name}: weights do not match the config (missing {missing[:3]}, unexpected {extra[:3]})")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return model.eval()


def load_restorer(asset: str, *, device: Any = None) -> RestorationModel:
    """The shipped restorer ``asset`` (e.g. ``"restore_ffdnet_gray"``), cached, in eval mode on ``device``."""
    from aip._shared.torch_bridge import resolve_device
    from aip.io.assets import load_asset

    dev = resolve_device(device)
    key = (asset, str(dev))
    if key not in _CACHE:
        tensors, meta = load_asset(asset)
        _CACHE[key] = restorer_from_state(meta["model"], tensors).to(dev)
    return _CACHE[key]


def _pick(task: str, model: str, channels: int, scale: int | None = None) -> tuple[str, bool]:
    """The asset for ``model`` on images of ``channels`` channels: (name, whether it takes them all at once).

    Prefers a colour network for colour images, else the gray one applied per channel."""
    tag = f"_x{scale}" if scale else ""
    names = ([f"{PREFIX}{model}{tag}_rgb"] if channels == 3 else []) + [f"{PREFIX}{model}{tag}_gray"]
    from aip.io.assets import MissingAssetError, load_asset_meta

    for name in names:
        try:
            load_asset_meta(name)
            return name, name.endswith("_rgb")
        except MissingAssetError:
            continue
    load_asset_meta(names[-1])  # raises the one-line error naming the command that trains it
    raise AssertionError("unreachable")  # pragma: no cover


def _run(img: np.ndarray, channel_axis: int | None, fn, *, whole: bool) -> np.ndarray:
    """Apply ``fn`` ((1, C, H, W) tensor -> tensor) to a numpy image, whole or one channel at a time."""
    if img.ndim == 2:
        t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))[None, None]
        return fn(t)[0, 0].numpy()
    hwc = np.moveaxis(img, channel_axis, -1)
    chw = torch.from_numpy(np.ascontiguousarray(np.moveaxis(hwc, -1, 0), dtype=np.float32))
    if whole:
        out = fn(chw[None])[0]
    else:
        out = torch.cat([fn(c[None, None])[0] for c in chw])
    return np.moveaxis(np.moveaxis(out.numpy(), 0, -1), -1, channel_axis)


def _apply(model: RestorationModel, t: torch.Tensor, *, tile: int, scale: int = 1, **kw: Any) -> torch.Tensor:
    from aip.models.restorers import apply_tiled

    dev = next(model.parameters()).device
    with torch.no_grad():
        out = apply_tiled(lambda p: model.restore(p.to(dev), **kw).cpu(), t, tile=tile, overlap=32, scale=scale)
    return out.clamp(0.0, 1.0)


def denoise_learned(image: Any, sigma: float, *, model: str = "ffdnet", channel_axis: int | None = None,
                    tile: int = 512, device: Any = None) -> np.ndarray:
    """Denoise with a shipped network (``model``: "ffdnet" or "dncnn"); ``sigma`` on the image's scale.

    References
    ----------
    K. Zhang, W. Zuo and L. Zhang, "FFDNet: toward a fast and flexible solution for CNN-based image
    denoising", IEEE TIP 27(9), 2018.
    """
    img = as_channel_image(image, channel_axis)
    s = check_positive(sigma, "sigma")
    c = 1 if img.ndim == 2 else img.shape[channel_axis]
    name, whole = _pick("denoise", model, c)
    net = load_restorer(name, device=device)
    return _run(img, channel_axis, lambda t: _apply(net, t, tile=tile, sigma=s), whole=whole)


def denoise_ffdnet(image: Any, sigma: float, *, channel_axis: int | None = None, tile: int = 512,
                   device: Any = None) -> np.ndarray:
    """The ``denoise`` registry's ``"ffdnet"``: the shipped FFDNet (one network for every noise level up to
    sigma 55 on the 0-255 scale, trained on the allowed training photos; see its asset's JSON)."""
    return denoise_learned(image, sigma, model="ffdnet", channel_axis=channel_axis, tile=tile, device=device)


def denoise_dncnn(image: Any, sigma: float, *, channel_axis: int | None = None, tile: int = 512,
                  device: Any = None) -> np.ndarray:
    """The ``denoise`` registry's ``"dncnn"``: the shipped blind DnCNN (residual learning with batch norm,
    trained on noise levels 0-55 of the 0-255 scale; ``sigma`` is not used).

    References
    ----------
    K. Zhang, W. Zuo, Y. Chen, D. Meng and L. Zhang, "Beyond a Gaussian denoiser: residual learning of deep CNN
    for image denoising", IEEE TIP 26(7), 2017.
    """
    return denoise_learned(image, sigma, model="dncnn", channel_axis=channel_axis, tile=tile, device=device)


def upscale_learned(image: Any, scale: int, *, model: str = "espcn", channel_axis: int | None = None,
                    tile: int = 256, device: Any = None) -> np.ndarray:
    """Super-resolve by ``scale`` with a shipped network (``model``: "espcn", "vdsr", "srcnn", "srresnet",
    "srgan"), trained on the bicubic degradation at that scale."""
    img = as_channel_image(image, channel_axis)
    c = 1 if img.ndim == 2 else img.shape[channel_axis]
    name, whole = _pick("upscale", model, c, scale=int(scale))
    net = load_restorer(name, device=device)
    return _run(img, channel_axis, lambda t: _apply(net, t, tile=tile, scale=int(scale)), whole=whole)


def upscale_espcn(image: Any, scale: int, *, channel_axis: int | None = None, tile: int = 256,
                  device: Any = None) -> np.ndarray:
    """The ``upscale`` registry's ``"espcn"``: the shipped ESPCN of that scale (sub-pixel convolution over a
    bicubic skip, trained on the bicubic degradation).

    References
    ----------
    W. Shi et al., "Real-time single image and video super-resolution using an efficient sub-pixel
    convolutional neural network", CVPR 2016.
    """
    return upscale_learned(image, scale, model="espcn", channel_axis=channel_axis, tile=tile, device=device)


def upscale_srcnn(image: Any, scale: int, *, channel_axis: int | None = None, tile: int = 256,
                  device: Any = None) -> np.ndarray:
    """The ``upscale`` registry's ``"srcnn"``: the shipped SRCNN of that scale (9-5-5 convolutions refining the
    bicubic upsampling; x2 ships).

    References
    ----------
    C. Dong, C. C. Loy, K. He and X. Tang, "Image super-resolution using deep convolutional networks",
    IEEE TPAMI 38(2), 2016.
    """
    return upscale_learned(image, scale, model="srcnn", channel_axis=channel_axis, tile=tile, device=device)


def upscale_vdsr(image: Any, scale: int, *, channel_axis: int | None = None, tile: int = 256,
                 device: Any = None) -> np.ndarray:
    """The ``upscale`` registry's ``"vdsr"``: the shipped VDSR of that scale (a deep residual stack of 3x3
    convolutions on the bicubic upsampling, He-initialised; x4 ships).

    References
    ----------
    J. Kim, J. K. Lee and K. M. Lee, "Accurate image super-resolution using very deep convolutional
    networks", CVPR 2016.
    """
    return upscale_learned(image, scale, model="vdsr", channel_axis=channel_axis, tile=tile, device=device)


def upscale_srresnet(image: Any, scale: int, *, channel_axis: int | None = None, tile: int = 256,
                     device: Any = None) -> np.ndarray:
    """The ``upscale`` registry's ``"srresnet"``: the shipped SRResNet of that scale (residual blocks and
    sub-pixel upsampling over a bicubic skip, trained for PSNR alone: SRGAN's twin; x4 ships).

    References
    ----------
    C. Ledig et al., "Photo-realistic single image super-resolution using a generative adversarial network",
    CVPR 2017.
    """
    return upscale_learned(image, scale, model="srresnet", channel_axis=channel_axis, tile=tile, device=device)


def upscale_srgan(image: Any, scale: int, *, channel_axis: int | None = None, tile: int = 256,
                  device: Any = None) -> np.ndarray:
    """The ``upscale`` registry's ``"srgan"``: the shipped SRGAN of that scale (the SRResNet generator trained
    on from the shipped SRResNet with a discriminator: pixel MSE + discriminator feature matching + adversarial
    loss; sharper textures at some cost in PSNR; x4 ships). See :func:`upscale_srresnet` for the reference."""
    return upscale_learned(image, scale, model="srgan", channel_axis=channel_axis, tile=tile, device=device)


def deblur_learned(image: Any, psf: Any = None, *, sigma: float | None = None, model: str = "msdeblur",
                   channel_axis: int | None = None, tile: int = 512, device: Any = None) -> np.ndarray:
    """Blind deblurring with the shipped multi-scale CNN: the PSF and sigma are not used (it estimates the
    sharp image from the blurred one alone)."""
    img = as_channel_image(image, channel_axis)
    c = 1 if img.ndim == 2 else img.shape[channel_axis]
    name, whole = _pick("deblur", model, c)
    net = load_restorer(name, device=device)
    return _run(img, channel_axis, lambda t: _apply(net, t, tile=tile), whole=whole)


def deblur_msdeblur(image: Any, psf: Any = None, *, sigma: float | None = None, channel_axis: int | None = None,
                    tile: int = 512, device: Any = None) -> np.ndarray:
    """The ``deblur`` registry's blind ``"msdeblur"``: the shipped coarse-to-fine multi-scale CNN, trained on
    Gaussian blurs of width 1-2.5 pixels with noise sigma 2.55 (0-255 scale); ``psf`` and ``sigma`` are not used.

    References
    ----------
    S. Nah, T. H. Kim and K. M. Lee, "Deep multi-scale convolutional neural network for dynamic scene
    deblurring", CVPR 2017.
    """
    return deblur_learned(image, psf, sigma=sigma, model="msdeblur", channel_axis=channel_axis, tile=tile,
                          device=device)


def inpaint_learned(image: Any, mask: Any, *, model: str = "context_encoder", channel_axis: int | None = None,
                    device: Any = None) -> np.ndarray:
    """Fill the pixels where ``mask`` is True with the shipped context encoder (whole image, no tiling:
    a hole needs its whole context)."""
    from aip._shared.validate import as_mask

    img = as_channel_image(image, channel_axis)
    h, w = img.shape[:2] if img.ndim == 2 or channel_axis in (-1, 2) else img.shape[-2:]
    m = torch.from_numpy(as_mask(mask, (h, w)))
    c = 1 if img.ndim == 2 else img.shape[channel_axis]
    name, whole = _pick("inpaint", model, c)
    net = load_restorer(name, device=device)
    dev = next(net.parameters()).device

    def fn(t):
        with torch.no_grad():
            return net.restore(t.to(dev), mask=m.to(dev)).cpu().clamp(0.0, 1.0)

    return _run(img, channel_axis, fn, whole=whole)


def inpaint_context_encoder(image: Any, mask: Any, *, channel_axis: int | None = None, min_hole: int = 16,
                            device: Any = None) -> np.ndarray:
    """The ``inpaint`` registry's ``"context_encoder"``: the shipped context encoder, for large holes.

    The network was trained on 64-pixel crops with a central 32-pixel hole (a quarter of the area), and it
    only fills holes at that geometry well. So every hole (connected component of the mask) of at least
    ``min_hole`` pixels is cut out with its context: a square twice its larger side, centred on it, resized
    to 64 x 64 so the hole takes the trained quarter, filled, resized back and pasted into the hole. Smaller
    holes and scattered pixels are filled by harmonic interpolation (:func:`aip.restore.inpaint`
    ``"harmonic"``), which is also the start. Colour images are filled one channel at a time.

    References
    ----------
    D. Pathak, P. Krahenbuhl, J. Donahue, T. Darrell and A. A. Efros, "Context encoders: feature learning by
    inpainting", CVPR 2016.
    """
    import torch.nn.functional as F
    from scipy import ndimage

    from aip._shared.validate import as_mask
    from aip.restore import inpaint

    img = as_channel_image(image, channel_axis)
    hwc = img if img.ndim == 2 else np.moveaxis(img, channel_axis, -1)
    m = as_mask(mask, hwc.shape[:2])
    out = np.asarray(inpaint(hwc, m, "harmonic", channel_axis=None if hwc.ndim == 2 else -1), dtype=np.float32)
    name, _ = _pick("inpaint", "context_encoder", 1)
    net = load_restorer(name, device=device)
    dev = next(net.parameters()).device
    size = int(getattr(net.config, "image_size", 64) or 64)
    labels, _ = ndimage.label(m)
    H, W = m.shape
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        comp = labels[sl] == k
        if comp.sum() < min_hole:
            continue
        side = 2 * max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
        cy, cx = (sl[0].start + sl[0].stop) // 2, (sl[1].start + sl[1].stop) // 2
        y0, x0 = cy - side // 2, cx - side // 2
        ys = np.clip(np.arange(y0, y0 + side), 0, H - 1)          # borders replicated where the square leaves
        xs = np.clip(np.arange(x0, x0 + side), 0, W - 1)
        hole = (labels[np.ix_(ys, xs)] == k)
        hole_t = torch.from_numpy(hole.astype(np.float32))[None, None]
        m64 = (F.interpolate(hole_t, size=(size, size), mode="bilinear", align_corners=False) > 0.5).float()
        chans = [out] if out.ndim == 2 else [out[..., c] for c in range(out.shape[-1])]
        for c, plane in enumerate(chans):
            crop = torch.from_numpy(np.ascontiguousarray(plane[np.ix_(ys, xs)]))[None, None]
            small = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
            with torch.no_grad():
                filled = net.restore(small.to(dev), mask=m64.to(dev)).cpu()
            back = F.interpolate(filled, size=(side, side), mode="bicubic", align_corners=False)[0, 0].numpy()
            target = out if out.ndim == 2 else out[..., c]
            rows, cols = np.nonzero(hole)                     # the component's pixels inside the square
            target[ys[rows], xs[cols]] = np.clip(back[rows, cols], 0, 1)
    return out if img.ndim == 2 else np.moveaxis(out, -1, channel_axis)
