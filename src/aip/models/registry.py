"""The one table of models: :data:`SPECS`. Everything that lists models by name derives from it.

Adding a model is one :class:`ModelSpec` line in :data:`SPECS` (the class as ``"module:Class"``, loaded on
first use, so reading the table imports no torch): ``aip train MODEL`` and its ``--help``,
:func:`aip.train.models.available_models`, ``aip info``, :data:`aip.models.METHODS`, :func:`build_model`
and the tests over every model (it builds from its default config; it honours its kind's contract) pick
it up from there. Weights shipped for a model go through :mod:`aip.io.assets`.

Models outside the table (a plug-in, a tiny model in a test) are added with :func:`register_model` and
removed with :func:`unregister_model`.

Example
-------
>>> from aip.models.registry import MODELS, build_model, model_names
>>> MODELS["ddpm"].kind, MODELS["dncnn"].task
('generative', 'denoise')
>>> "srcnn" in model_names("restoration")
True
>>> build_model("vae", latent_dim=8).config.latent_dim
8
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterable
from typing import Any, Literal

__all__ = [
    "KINDS",
    "METHODS",
    "MODELS",
    "SPECS",
    "ModelSpec",
    "build_model",
    "get_spec",
    "make_config",
    "model_from_config_dict",
    "model_names",
    "register_model",
    "unregister_model",
]

Kind = Literal["generative", "restoration", "classifier"]
KINDS: tuple[str, ...] = ("generative", "restoration", "classifier")


def _resolve(ref: str | type, what: str) -> type:
    if isinstance(ref, type):
        return ref
    module, _, attr = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ImportError(f"{what}: cannot load {ref!r} ({exc})") from exc


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One model of the table.

    Parameters
    ----------
    name : str
        The registry name (``aip train NAME``); equals the class's ``name`` attribute where it has one.
    cls : str or type
        The model class, or ``"module:Class"`` loaded on first use.
    kind : {"generative", "restoration", "classifier"}
        Which contract it follows: :class:`~aip.models.base.GenerativeModel`,
        :class:`~aip.models.base.RestorationModel`, or a plain classifier (not trained by ``aip train``).
    family : str
        Its group in ``aip info`` and :data:`METHODS` (``"gans"``, ``"denoisers"``, ...).
    task : str
        What it does: ``"generate"``, ``"denoise"``, ``"upscale"``, ``"classify"``.
    default_data : str
        The built-in dataset it is meant for (``aip train NAME --data`` and its shipped weights).
    config_cls : str or type, optional
        The config dataclass; default: the class's ``config_class``.
    description : str
        One line for listings.
    """

    name: str
    cls: str | type
    kind: Kind
    family: str
    task: str
    default_data: str = "digits"
    config_cls: str | type | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not self.name.replace("_", "").isalnum():
            raise ValueError(f"name: expected a lower-case identifier such as 'dncnn', got {self.name!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {self.kind!r}")
        for field in ("cls", "config_cls"):
            ref = getattr(self, field)
            if not (isinstance(ref, type) or (isinstance(ref, str) and ":" in ref)
                    or (ref is None and field == "config_cls")):
                raise TypeError(f"{field}: expected a class or 'module:Class', got {ref!r}")

    @property
    def model_class(self) -> type:
        """The model class (imported on first use)."""
        return _resolve(self.cls, f"model {self.name}")

    @property
    def config_class(self) -> type:
        """The config dataclass (imported on first use)."""
        if self.config_cls is not None:
            return _resolve(self.config_cls, f"model {self.name} config")
        cfg = getattr(self.model_class, "config_class", None)
        if cfg is None:
            raise TypeError(f"model {self.name}: expected config_cls or a class with config_class, got neither")
        return cfg

    @property
    def trainable(self) -> bool:
        """Whether ``aip train`` trains it (generative and restoration kinds)."""
        return self.kind != "classifier"


_G, _R = "generative", "restoration"

#: The table. One line per model; keep names unique.
SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("ae", "aip.models.vae:AE", _G, "autoencoders", "generate",
              description="deterministic convolutional autoencoder"),
    ModelSpec("vae", "aip.models.vae:VAE", _G, "autoencoders", "generate",
              description="variational autoencoder (Kingma & Welling 2014)"),
    ModelSpec("cvae", "aip.models.vae:CVAE", _G, "autoencoders", "generate",
              description="class-conditional VAE (Sohn et al. 2015)"),
    ModelSpec("vampvae", "aip.models.vae:VampVAE", _G, "autoencoders", "generate",
              description="VAE with a VampPrior (Tomczak & Welling 2018)"),
    ModelSpec("vqvae", "aip.models.vae:VQVAE", _G, "autoencoders", "generate",
              description="VQ-VAE with a PixelCNN prior (van den Oord et al. 2017)"),
    ModelSpec("pixelcnn", "aip.models.pixelcnn:PixelCNN", _G, "autoregressive", "generate",
              description="PixelCNN / gated PixelCNN, exact likelihood (van den Oord et al. 2016)"),
    ModelSpec("pixelrnn", "aip.models.pixelcnn:PixelRNN", _G, "autoregressive", "generate",
              description="PixelRNN with Row LSTM layers, the slow exact-likelihood reference (van den Oord et al. 2016)"),
    ModelSpec("realnvp", "aip.models.flow:RealNVP", _G, "flows", "generate",
              description="RealNVP normalizing flow: affine couplings, multi-scale (Dinh et al. 2017)"),
    ModelSpec("glow", "aip.models.flow:Glow", _G, "flows", "generate",
              description="Glow flow: actnorm, invertible 1x1 convolutions (Kingma & Dhariwal 2018)"),
    ModelSpec("maskgit", "aip.models.maskgit:MaskGIT", _G, "transformers", "generate",
              description="masked (or causal) transformer over VQ-VAE tokens (Chang et al. 2022)"),
    ModelSpec("gan", "aip.models.gan:GAN", _G, "gans", "generate", description="MLP GAN (Goodfellow et al. 2014)"),
    ModelSpec("dcgan", "aip.models.gan:DCGAN", _G, "gans", "generate",
              description="convolutional GAN (Radford et al. 2016)"),
    ModelSpec("cgan", "aip.models.gan:CGAN", _G, "gans", "generate",
              description="class-conditional DCGAN with a projection discriminator"),
    ModelSpec("transgan", "aip.models.gan:TransGAN", _G, "transformers", "generate",
              description="transformer generator and ViT discriminator, class-conditional (Jiang et al. 2021)"),
    ModelSpec("ddpm", "aip.models.diffusion:DDPM", _G, "diffusion", "generate",
              description="denoising diffusion with a U-Net (Ho et al. 2020)"),
    ModelSpec("klae", "aip.models.ldm:KLAutoencoder", _G, "autoencoders", "generate",
              description="KL-regularised autoencoder, the first stage of latent diffusion (Rombach et al. 2022)"),
    ModelSpec("ldm", "aip.models.ldm:LatentDiffusion", _G, "diffusion", "generate",
              description="latent diffusion: a DDPM over a frozen KL autoencoder's latents (Rombach et al. 2022)"),
    ModelSpec("diffae", "aip.models.diffae:DiffAE", _G, "diffusion", "generate",
              description="diffusion autoencoder: semantic code + DDIM-inverted x_T (Preechakul et al. 2022)"),
    ModelSpec("ncsn", "aip.models.ncsn:NCSN", _G, "diffusion", "generate",
              description="noise-conditional score network (Song & Ermon 2019)"),
    ModelSpec("dncnn", "aip.models.restorers:DnCNN", _R, "denoisers", "denoise", "patches",
              description="residual CNN denoiser (Zhang et al. 2017)"),
    ModelSpec("ffdnet", "aip.models.restorers:FFDNet", _R, "denoisers", "denoise", "patches",
              description="denoiser with a noise-level map (Zhang et al. 2018)"),
    ModelSpec("srcnn", "aip.models.restorers:SRCNN", _R, "super-resolution", "upscale", "patches",
              description="three-layer SR CNN on the bicubic input (Dong et al. 2014)"),
    ModelSpec("vdsr", "aip.models.restorers:VDSR", _R, "super-resolution", "upscale", "patches",
              description="very deep residual SR network (Kim et al. 2016)"),
    ModelSpec("espcn", "aip.models.restorers:ESPCN", _R, "super-resolution", "upscale", "patches",
              description="sub-pixel convolution SR network (Shi et al. 2016)"),
    ModelSpec("srresnet", "aip.models.srgan:SRResNet", _R, "super-resolution", "upscale", "patches",
              description="residual SR generator trained for PSNR (Ledig et al. 2017)"),
    ModelSpec("srgan", "aip.models.srgan:SRGAN", _R, "super-resolution", "upscale", "patches",
              description="SRResNet + discriminator, feature-matching content loss (Ledig et al. 2017)"),
    ModelSpec("msdeblur", "aip.models.deblur:MultiScaleDeblur", _R, "deblurring", "deblur", "patches",
              description="blind multi-scale coarse-to-fine deblurring CNN (Nah et al. 2017)"),
    ModelSpec("context_encoder", "aip.models.inpaint:ContextEncoder", _R, "inpainting", "inpaint", "patches",
              description="encoder-decoder hole filling, reconstruction + adversarial (Pathak et al. 2016)"),
    ModelSpec("pix2pix", "aip.models.translate:Pix2Pix", _R, "translation", "translate", "digits",
              description="paired image-to-image translation: U-Net + PatchGAN, cGAN + L1 (Isola et al. 2017)"),
    ModelSpec("cyclegan", "aip.models.translate:CycleGAN", _R, "translation", "translate", "fonts",
              description="unpaired translation: two generators, cycle + identity losses (Zhu et al. 2017)"),
    ModelSpec("sr3", "aip.models.cond_diffusion:SR3", _R, "diffusion restoration", "upscale", "digits",
              description="conditional diffusion super-resolution (Saharia et al. 2022, SR3)"),
    ModelSpec("palette", "aip.models.cond_diffusion:Palette", _R, "diffusion restoration", "inpaint", "digits",
              description="conditional diffusion inpainting / colorization (Saharia et al. 2022, Palette)"),
    ModelSpec("lenet", "aip.models.lenet:LeNet", "classifier", "classifiers", "classify",
              config_cls="aip.models.lenet:LeNetConfig",
              description="LeNet-style classifier, the feature network of FID-LeNet (LeCun et al. 1998)"),
    ModelSpec("vit", "aip.models.vit:ViT", "classifier", "classifiers", "classify",
              description="vision transformer classifier and feature network (Dosovitskiy et al. 2021)"),
)

#: Name -> spec, derived from :data:`SPECS` (and :func:`register_model`).
MODELS: dict[str, ModelSpec] = {}
#: Family -> names, for ``aip info`` (derived; kept in step by :func:`register_model`).
METHODS: dict[str, list[str]] = {}


def _rebuild_methods() -> None:
    METHODS.clear()
    for spec in MODELS.values():
        METHODS.setdefault(spec.family, []).append(spec.name)


def register_model(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add ``spec`` to the table (a plug-in, or a tiny model in a test); ValueError if the name is taken."""
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"spec: expected an aip.models.registry.ModelSpec, got {type(spec).__name__}")
    if spec.name in MODELS and not replace:
        raise ValueError(f"spec: expected a new model name, got {spec.name!r}, which is registered already")
    MODELS[spec.name] = spec
    _rebuild_methods()
    return spec


def unregister_model(name: str) -> ModelSpec:
    """Remove model ``name`` from the table and return its spec (KeyError-free: ValueError if unknown)."""
    if name not in MODELS:
        raise ValueError(f"name: expected a registered model, got {name!r}")
    spec = MODELS.pop(name)
    _rebuild_methods()
    return spec


for _spec in SPECS:
    register_model(_spec)
del _spec


def model_names(kind: str | Iterable[str] | None = None) -> list[str]:
    """Sorted names of the registered models, of ``kind`` (a kind or several) when given."""
    if kind is None:
        kinds = set(KINDS)
    else:
        kinds = {kind} if isinstance(kind, str) else set(kind)
        bad = sorted(kinds - set(KINDS))
        if bad:
            raise ValueError(f"kind: expected some of {', '.join(KINDS)}, got {', '.join(map(repr, bad))}")
    return sorted(n for n, s in MODELS.items() if s.kind in kinds)


def get_spec(name: str) -> ModelSpec:
    """The spec of model ``name``; ValueError listing the registered names otherwise."""
    if name not in MODELS:
        raise ValueError(f"model: expected one of {', '.join(sorted(MODELS))}; got {name!r}")
    return MODELS[name]


def make_config(name: str, **overrides: Any) -> Any:
    """The config dataclass of model ``name`` with ``overrides`` (lists become tuples where the default is one)."""
    config_cls = get_spec(name).config_class
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"{name} config: unknown key(s) {', '.join(unknown)}; expected some of "
                         f"{', '.join(sorted(fields))}")
    base = config_cls()
    fixed = {}
    for k, v in overrides.items():
        if isinstance(getattr(base, k), tuple) and isinstance(v, list):
            v = tuple(v)
        fixed[k] = v
    return dataclasses.replace(base, **fixed)


def build_model(name: str, **config_overrides: Any) -> Any:
    """Build model ``name`` from its default config with ``config_overrides``.

    Example
    -------
    >>> build_model("vae", latent_dim=8).config.latent_dim
    8
    """
    config = make_config(name, **config_overrides)
    return get_spec(name).model_class(config)


def model_from_config_dict(d: dict[str, Any]) -> Any:
    """Inverse of ``Trainable.config_dict()``: ``{"model": name, **fields}`` -> a fresh model."""
    d = dict(d)
    if "model" not in d:
        raise ValueError(f"config: expected a 'model' key naming one of {', '.join(sorted(MODELS))}, got keys {sorted(d)}")
    name = d.pop("model")
    return build_model(name, **d)
