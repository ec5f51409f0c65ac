"""Name -> (model class, config dataclass) for every trainable generative model, and ``build_model``."""

from __future__ import annotations

import dataclasses
from typing import Any

from aip.models.base import GenerativeModel
from aip.models.diffusion import DDPM, DDPMConfig
from aip.models.gan import CGAN, DCGAN, GAN, CGANConfig, DCGANConfig, GANConfig
from aip.models.ncsn import NCSN, NCSNConfig
from aip.models.vae import AE, CVAE, VAE, VQVAE, CVAEConfig, VAEConfig, VampVAE, VampVAEConfig, VQVAEConfig

MODELS: dict[str, tuple[type[GenerativeModel], type]] = {
    "ae": (AE, VAEConfig),
    "vae": (VAE, VAEConfig),
    "cvae": (CVAE, CVAEConfig),
    "vampvae": (VampVAE, VampVAEConfig),
    "vqvae": (VQVAE, VQVAEConfig),
    "gan": (GAN, GANConfig),
    "dcgan": (DCGAN, DCGANConfig),
    "cgan": (CGAN, CGANConfig),
    "ddpm": (DDPM, DDPMConfig),
    "ncsn": (NCSN, NCSNConfig),
}


def make_config(name: str, **overrides: Any) -> Any:
    """The config dataclass of model ``name`` with ``overrides`` (lists become tuples where the default is one)."""
    if name not in MODELS:
        raise ValueError(f"model: expected one of {', '.join(sorted(MODELS))}; got {name!r}")
    config_cls = MODELS[name][1]
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


def build_model(name: str, **config_overrides: Any) -> GenerativeModel:
    """Build model ``name`` from its default config with ``config_overrides``.

    Example
    -------
    >>> build_model("vae", latent_dim=8).config.latent_dim
    8
    """
    config = make_config(name, **config_overrides)
    return MODELS[name][0](config)


def model_from_config_dict(d: dict[str, Any]) -> GenerativeModel:
    """Inverse of ``GenerativeModel.config_dict()``: ``{"model": name, **fields}`` -> a fresh model."""
    d = dict(d)
    if "model" not in d:
        raise ValueError(f"config: expected a 'model' key naming one of {', '.join(sorted(MODELS))}, got keys {sorted(d)}")
    name = d.pop("model")
    return build_model(name, **d)
