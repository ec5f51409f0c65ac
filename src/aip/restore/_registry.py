"""Method registry behind the front doors ``denoise``, ``deblur``, ``upscale``, ``inpaint``.

Each entry maps a method name to "module:function": a family module inside ``aip.restore``, or a full
module path for the learned methods (``aip.models.learned``, above this package in the import order, so it
is named here as data and imported only when the method is called: :func:`module_path`). The functions
are imported on first use. Signatures, all float images in [0, 1], (H, W) or (H, W, C) with ``channel_axis``:

- denoise:  ``f(image, sigma, *, channel_axis=None, **knobs)``       sigma on the image's scale
- deblur:   ``f(image, psf, *, sigma, channel_axis=None, **knobs)``  psf a 2-D array summing to 1 (None
  for the blind methods, :data:`BLIND`)
- upscale:  ``f(image, scale, *, channel_axis=None, **knobs)``       scale an integer >= 2
- inpaint:  ``f(image, mask, *, channel_axis=None, **knobs)``        mask True where pixels are missing
The first name of each list is the default: the best method that restores a 12-megapixel colour photo in
well under a minute on one CPU core (``benchmarks/defaults_12mp.py``; the front doors tile large images
automatically). The best classical quality is one name away: ``wnnm`` (denoise, inpaint), ``pnp``
(deblur), ``sparse`` (upscale). :data:`SECONDS_PER_MP` gives the measured cost of every method.
The learned methods (``ffdnet``, ``dncnn``, ``espcn``, ``srcnn``, ``vdsr``, the blind ``msdeblur``, the inpainting
``context_encoder``) run networks whose
weights ship in the package; ``repaint``,
``dps`` and ``diffpir`` sample a diffusion prior (``prior=``, default the shipped 28 x 28 digit DDPM) and take images of
the prior's size.
"""

from __future__ import annotations

DENOISE = {
    "nlm": "filters:denoise_nl_means",
    "dct": "transforms:denoise_dct",
    "wnnm": "lowrank:denoise_wnnm",
    "gaussian": "filters:denoise_gaussian",
    "perona_malik": "filters:denoise_perona_malik",
    "tensor_diffusion": "filters:denoise_tensor_diffusion",
    "bilateral": "filters:denoise_bilateral",
    "bilateral_grid": "filters:denoise_bilateral_grid",
    "domain_transform": "filters:denoise_domain_transform",
    "wavelet": "transforms:denoise_wavelet",
    "tv": "variational:denoise_tv",
    "ksvd": "sparse:denoise_ksvd",
    "ffdnet": "aip.models.learned:denoise_ffdnet",
    "dncnn": "aip.models.learned:denoise_dncnn",
}

DEBLUR = {
    "wiener": "transforms:deblur_wiener",
    "pnp": "variational:deblur_pnp",
    "richardson_lucy": "variational:deblur_richardson_lucy",
    "tv": "variational:deblur_tv",
    "dps": "aip.models.prior_restore:deblur_dps",
    "diffpir": "aip.models.prior_restore:deblur_diffpir",
    "pulse": "aip.models.prior_restore:deblur_pulse",
    "msdeblur": "aip.models.learned:deblur_msdeblur",
}

#: The blind deblurring methods: they estimate the sharp image from the blurred one alone, so ``psf`` may be
#: ``None`` (a given PSF is not used).
BLIND = ("msdeblur",)

UPSCALE = {
    "bicubic": "variational:upscale_bicubic",
    "sparse": "sparse:upscale_sparse",
    "tv": "variational:upscale_tv",
    "espcn": "aip.models.learned:upscale_espcn",
    "srcnn": "aip.models.learned:upscale_srcnn",
    "vdsr": "aip.models.learned:upscale_vdsr",
    "srresnet": "aip.models.learned:upscale_srresnet",
    "srgan": "aip.models.learned:upscale_srgan",
    "dps": "aip.models.prior_restore:upscale_dps",
    "diffpir": "aip.models.prior_restore:upscale_diffpir",
    "pulse": "aip.models.prior_restore:upscale_pulse",
}

INPAINT = {
    "harmonic": "harmonic:inpaint_harmonic",
    "wnnm": "lowrank:inpaint_wnnm",
    "pnp": "variational:inpaint_pnp",
    "tv": "variational:inpaint_tv",
    "lowrank": "lowrank:inpaint_lowrank",
    "repaint": "aip.models.prior_restore:inpaint_repaint",
    "dps": "aip.models.prior_restore:inpaint_dps",
    "diffpir": "aip.models.prior_restore:inpaint_diffpir",
    "pulse": "aip.models.prior_restore:inpaint_pulse",
    "context_encoder": "aip.models.learned:inpaint_context_encoder",
}

#: The methods with a generative prior (``prior=`` a run or ``shipped:NAME``; the image has the prior's size):
#: diffusion samplers, and a GAN latent search (``pulse``).
SAMPLED = ("repaint", "dps", "diffpir", "pulse")


def module_path(target: str) -> tuple[str, str]:
    """``"filters:denoise_gaussian"`` -> ``("aip.restore.filters", "denoise_gaussian")``; a target whose
    module has a dot is a full path (``"aip.models.learned:denoise_ffdnet"``)."""
    mod, fn = target.split(":")
    return (mod if "." in mod else f"aip.restore.{mod}"), fn


TASKS = {"denoise": DENOISE, "deblur": DEBLUR, "upscale": UPSCALE, "inpaint": INPAINT}

#: Seconds per megapixel of a colour (RGB) input on one CPU thread, measured on 512 x 512 crops of the
#: skimage photographs (256 x 256 for the slowest; shared 2-core x86_64 machine, so a guide, not a
#: promise): denoise at sigma 25, deblur Gaussian 1.6 + noise 2.55, upscale x2, inpaint a text mask.
#: Gray images take about a third. The diffusion samplers (:data:`SAMPLED`) are timed on the 28 x 28 gray
#: digits their shipped prior models, with their default steps; VDSR (x4 only ships) at x4, per input
#: megapixel (it runs at the output's resolution). ``aip <task> --help`` prints them.
SECONDS_PER_MP = {
    "denoise": {"nlm": 0.6, "dct": 4, "wnnm": 730, "gaussian": 0.1, "perona_malik": 0.2,
                "tensor_diffusion": 0.9, "bilateral": 0.4, "bilateral_grid": 1, "domain_transform": 0.9,
                "wavelet": 2, "tv": 0.5, "ksvd": 195, "ffdnet": 4.5, "dncnn": 18},
    "deblur": {"wiener": 1, "pnp": 115, "richardson_lucy": 16, "tv": 67, "dps": 500, "diffpir": 620,
               "pulse": 3200, "msdeblur": 75},
    "upscale": {"bicubic": 0.13, "sparse": 140, "tv": 72, "espcn": 13, "srcnn": 80, "vdsr": 500, "srresnet": 240, "srgan": 240, "dps": 2450, "diffpir": 2230,
                "pulse": 11300},
    "inpaint": {"harmonic": 1.5, "wnnm": 2000, "pnp": 130, "tv": 16, "lowrank": 1800, "repaint": 1000,
                "dps": 470, "diffpir": 400, "pulse": 6200, "context_encoder": 170},
}
