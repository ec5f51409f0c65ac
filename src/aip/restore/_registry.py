"""Method registry behind the front doors ``denoise``, ``deblur``, ``upscale``, ``inpaint``.

Each entry maps a method name to "module:function" inside ``aip.restore``; the functions are imported on
first use. Signatures, all float images in [0, 1], (H, W) or (H, W, C) with ``channel_axis``:

- denoise:  ``f(image, sigma, *, channel_axis=None, **knobs)``       sigma on the image's scale
- deblur:   ``f(image, psf, *, sigma, channel_axis=None, **knobs)``  psf a 2-D array summing to 1
- upscale:  ``f(image, scale, *, channel_axis=None, **knobs)``       scale an integer >= 2
- inpaint:  ``f(image, mask, *, channel_axis=None, **knobs)``        mask True where pixels are missing
The first name of each list is the default (the best method for that task).
"""

from __future__ import annotations

DENOISE = {
    "wnnm": "lowrank:denoise_wnnm",
    "gaussian": "filters:denoise_gaussian",
    "perona_malik": "filters:denoise_perona_malik",
    "tensor_diffusion": "filters:denoise_tensor_diffusion",
    "bilateral": "filters:denoise_bilateral",
    "bilateral_grid": "filters:denoise_bilateral_grid",
    "nlm": "filters:denoise_nl_means",
    "domain_transform": "filters:denoise_domain_transform",
    "wavelet": "transforms:denoise_wavelet",
    "dct": "transforms:denoise_dct",
    "tv": "variational:denoise_tv",
    "ksvd": "sparse:denoise_ksvd",
}

DEBLUR = {
    "pnp": "variational:deblur_pnp",
    "wiener": "transforms:deblur_wiener",
    "richardson_lucy": "variational:deblur_richardson_lucy",
    "tv": "variational:deblur_tv",
}

UPSCALE = {
    "sparse": "sparse:upscale_sparse",
    "bicubic": "variational:upscale_bicubic",
    "tv": "variational:upscale_tv",
}

INPAINT = {
    "wnnm": "lowrank:inpaint_wnnm",
    "pnp": "variational:inpaint_pnp",
    "tv": "variational:inpaint_tv",
    "lowrank": "lowrank:inpaint_lowrank",
}

TASKS = {"denoise": DENOISE, "deblur": DEBLUR, "upscale": UPSCALE, "inpaint": INPAINT}
