"""Every registered model honours the trainer contract (phases, forward, sample) and its config round-trips."""

from __future__ import annotations

import json

import pytest
import torch

from aip import models
from aip.models import MODELS, build_model, model_from_config_dict

SMALL = {
    "ddpm": {"base_channels": 8, "num_heads": 2, "num_timesteps": 50, "sample_steps": 3},
    "ncsn": {"base_channels": 8, "n_steps_each": 2, "num_sigmas": 3},
    "gan": {"hidden_dim": 16, "latent_dim": 8},
    "dcgan": {"base_channels": 4, "latent_dim": 8},
    "cgan": {"base_channels": 4, "latent_dim": 8},
    "vqvae": {"num_embeddings": 8, "embedding_dim": 4, "prior_channels": 8, "prior_layers": 1},
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_contract(name):
    torch.manual_seed(0)
    model = build_model(name, **SMALL.get(name, {}))
    assert model.name == name and isinstance(model, models.GenerativeModel)
    x = torch.rand(4, 1, 28, 28)
    y = torch.tensor([0, 1, 2, 3]) if model.conditional else None
    for phase in model.phases():
        out = model(x, y, phase=phase)
        assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
        params = list(model.phase_parameters(phase))
        assert params and all(isinstance(p, torch.nn.Parameter) for p in params)
        out["loss"].backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
    s = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert s.shape == (3, 1, 28, 28) and s.dtype == torch.float32
    assert float(s.min()) >= 0 and float(s.max()) <= 1 and torch.isfinite(s).all()
    # config -> JSON -> config gives the same network
    d = json.loads(json.dumps(model.config_dict()))
    clone = model_from_config_dict(d)
    clone.load_state_dict(model.state_dict())
    assert type(clone) is type(model) and clone.config == model.config


def test_methods_and_lazy_exports():
    names = sorted(n for group in models.METHODS.values() for n in group)
    assert names == sorted(MODELS)
    for required in ("vae", "cvae", "vampvae", "vqvae", "gan", "dcgan", "cgan", "ddpm", "ncsn"):
        assert required in MODELS
    with pytest.raises(AttributeError):
        models.NoSuchModel  # noqa: B018


def test_build_model_errors():
    with pytest.raises(ValueError, match="model: expected one of .*ddpm.*; got 'diffusion'"):
        build_model("diffusion")
    with pytest.raises(ValueError, match="vae config: unknown key\\(s\\) latent; expected some of"):
        build_model("vae", latent=3)
    with pytest.raises(ValueError, match="config: expected a 'model' key"):
        model_from_config_dict({"latent_dim": 3})


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("size,channels", [(25, 1), (8, 1), (12, 3)])
def test_other_sizes_and_channels(name, size, channels):
    torch.manual_seed(0)
    kw = dict(SMALL.get(name, {}), image_size=size, in_channels=channels)
    if name in ("ddpm", "ncsn") and size < 16:
        kw["channel_mult"] = (1, 2)
    model = build_model(name, **kw)
    x = torch.rand(2, channels, size, size)
    y = torch.tensor([0, 1]) if model.conditional else None
    for phase in model.phases():
        assert torch.isfinite(model(x, y, phase=phase)["loss"])
    s = model.sample(2)
    assert s.shape == (2, channels, size, size) and float(s.min()) >= 0 and float(s.max()) <= 1
