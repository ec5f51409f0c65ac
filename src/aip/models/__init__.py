"""Generative networks: autoencoders (AE, VAE, CVAE, VampPrior VAE, VQ-VAE), GANs (GAN, DCGAN, cGAN),
DDPM with a compact U-Net, and the noise-conditional score network (NCSN).

Every model is a :class:`~aip.models.base.GenerativeModel` built from a dataclass config;
``build_model(name, **overrides)`` builds one by name. Every model is one line of the table
:data:`aip.models.registry.SPECS` (``MODELS`` by name, ``METHODS`` by family derive from it). Names load
lazily, so ``import aip.models`` does not import torch until a model is touched.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "GenerativeModel": "base",
    "METHODS": "registry", "ModelSpec": "registry", "SPECS": "registry", "register_model": "registry",
    "unregister_model": "registry", "model_names": "registry",
    "MODELS": "registry", "build_model": "registry", "make_config": "registry", "model_from_config_dict": "registry",
    "UNet": "unet", "UNetConfig": "unet", "count_parameters": "unet",
    "AE": "vae", "VAE": "vae", "CVAE": "vae", "VampVAE": "vae", "VQVAE": "vae", "VAEConfig": "vae",
    "CVAEConfig": "vae", "VampVAEConfig": "vae", "VQVAEConfig": "vae", "VectorQuantizerEMA": "vae",
    "nats_to_bits_per_dim": "layers",
    "GAN": "gan", "DCGAN": "gan", "CGAN": "gan", "GANConfig": "gan", "DCGANConfig": "gan", "CGANConfig": "gan",
    "DDPM": "diffusion", "DDPMConfig": "diffusion", "NoiseAwareClassifier": "diffusion",
    "NoiseAwareClassifierConfig": "diffusion",
    "NCSN": "ncsn", "NCSNConfig": "ncsn",
}

__all__ = [
    "AE",
    "CGAN",
    "CVAE",
    "DCGAN",
    "DDPM",
    "GAN",
    "METHODS",
    "MODELS",
    "NCSN",
    "SPECS",
    "VAE",
    "VQVAE",
    "CGANConfig",
    "CVAEConfig",
    "DCGANConfig",
    "DDPMConfig",
    "GANConfig",
    "GenerativeModel",
    "ModelSpec",
    "NCSNConfig",
    "NoiseAwareClassifier",
    "NoiseAwareClassifierConfig",
    "UNet",
    "UNetConfig",
    "VAEConfig",
    "VQVAEConfig",
    "VampVAE",
    "VampVAEConfig",
    "VectorQuantizerEMA",
    "build_model",
    "count_parameters",
    "make_config",
    "model_from_config_dict",
    "model_names",
    "nats_to_bits_per_dim",
    "register_model",
    "unregister_model",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"aip.models.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aip.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
