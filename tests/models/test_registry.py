"""The one model table: every generative model honours the trainer contract (phases, forward, sample) and its
config round-trips; every registered model builds from its default config; everything that lists models
derives from the table (a spec added in a test shows in ``aip train --help``, available_models and info)."""

from __future__ import annotations

import json

import pytest
import torch

from aip import models
from aip.models import MODELS, build_model, model_from_config_dict
from aip.models.registry import model_names

GENERATIVE = model_names("generative")

SMALL = {
    "ddpm": {"base_channels": 8, "num_heads": 2, "num_timesteps": 50, "sample_steps": 3},
    "ldm": {"base_channels": 8, "num_heads": 2, "num_timesteps": 50, "sample_steps": 3},
    "klae": {"hidden_channels": (8, 8), "disc_channels": 8},
    "transgan": {"dim": 32, "depth": 1, "heads": 2, "latent_dim": 8},
    "pixelrnn": {"features": 8, "head_features": 8},
    "diffae": {"sem_dim": 8, "encoder_channels": (8, 8), "base_channels": 8, "num_heads": 2, "num_timesteps": 50,
               "sample_steps": 3},
    "ncsn": {"base_channels": 8, "n_steps_each": 2, "num_sigmas": 3},
    "gan": {"hidden_dim": 16, "latent_dim": 8},
    "dcgan": {"base_channels": 4, "latent_dim": 8},
    "cgan": {"base_channels": 4, "latent_dim": 8},
    "vqvae": {"num_embeddings": 8, "embedding_dim": 4, "prior_channels": 8, "prior_layers": 1},
    "pixelcnn": {"features": 8, "layers": 2, "head_features": 8, "first_kernel": 3},
}


@pytest.mark.parametrize("name", GENERATIVE)
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


@pytest.mark.parametrize("name", GENERATIVE)
@pytest.mark.parametrize("size,channels", [(25, 1), (8, 1), (12, 3)])
def test_other_sizes_and_channels(name, size, channels):
    torch.manual_seed(0)
    kw = dict(SMALL.get(name, {}), image_size=size, in_channels=channels)
    if name in ("ddpm", "ncsn", "diffae") and size < 16:
        kw["channel_mult"] = (1, 2)
    if name == "ldm" and size < 13:                  # the (size / 4)^2 latent map must be at least 4x4
        with pytest.raises(ValueError, match="image_size: latent diffusion needs images of at least 13"):
            build_model(name, **kw)
        return
    if name in ("realnvp", "glow") and size % 4:     # a flow's squeezes need the side divisible by 2^levels
        with pytest.raises(ValueError, match=f"scales: expected image_size {size} divisible by"):
            build_model(name, **kw)
        return
    model = build_model(name, **kw)
    x = torch.rand(2, channels, size, size)
    y = torch.tensor([0, 1]) if model.conditional else None
    for phase in model.phases():
        assert torch.isfinite(model(x, y, phase=phase)["loss"])
    s = model.sample(2)
    assert s.shape == (2, channels, size, size) and float(s.min()) >= 0 and float(s.max()) <= 1


# ------------------------------------------------------------------ the one table

def test_table_is_the_source_of_every_listing():
    from aip.models.registry import SPECS

    assert [s.name for s in SPECS] == list(MODELS) and len(set(MODELS)) == len(SPECS) == 34
    assert {f: sorted(n) for f, n in models.METHODS.items()} == {
        "autoencoders": ["ae", "cvae", "klae", "vae", "vampvae", "vqvae"], "gans": ["cgan", "dcgan", "gan"],
        "autoregressive": ["pixelcnn", "pixelrnn"], "transformers": ["maskgit", "transgan"], "flows": ["glow", "realnvp"],
        "diffusion": ["ddpm", "diffae", "ldm", "ncsn"], "denoisers": ["dncnn", "ffdnet"],
        "super-resolution": ["espcn", "srcnn", "srgan", "srresnet", "vdsr"], "deblurring": ["msdeblur"],
        "inpainting": ["context_encoder"], "translation": ["cyclegan", "pix2pix"],
        "diffusion restoration": ["palette", "sr3"], "classifiers": ["lenet", "vit"]}
    assert model_names("restoration") == ["context_encoder", "cyclegan", "dncnn", "espcn", "ffdnet", "msdeblur",
                                          "palette", "pix2pix", "sr3", "srcnn", "srgan", "srresnet", "vdsr"]
    assert model_names("classifier") == ["lenet", "vit"]
    assert model_names(("generative", "restoration")) == sorted(set(MODELS) - {"lenet", "vit"})
    with pytest.raises(ValueError, match="kind: expected some of generative, restoration, classifier, got 'gan'"):
        model_names("gan")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_builds_from_its_default_config(name):
    import dataclasses

    from aip.models.base import GenerativeModel, RestorationModel

    spec = MODELS[name]
    torch.manual_seed(0)
    model = build_model(name)
    assert type(model) is spec.model_class and dataclasses.is_dataclass(model.config)
    assert model.config == spec.config_class()  # the default config, nothing changed
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params > 1000
    base = {"generative": GenerativeModel, "restoration": RestorationModel}.get(spec.kind)
    if base is not None:  # the class's own name and task agree with its line of the table
        assert isinstance(model, base) and model.name == name and model.task == spec.kind
        assert spec.trainable and spec.config_class is type(model).config_class
    else:
        assert not spec.trainable and not hasattr(model, "training_loss")


def test_restorers_of_the_table_restore_batches():
    torch.manual_seed(0)
    y = torch.rand(2, 1, 12, 12)
    for name in model_names("restoration"):
        spec = MODELS[name]
        model = build_model(name, depth=3, features=8) if name in ("dncnn", "ffdnet", "vdsr") else build_model(name)
        kw = {"mask": torch.zeros(12, 12, dtype=torch.bool)} if spec.task == "inpaint" else {}
        with torch.no_grad():
            out = model.eval().restore(y, sigma=torch.full((2,), 0.1), **kw)
        scale = model.config.scale if spec.task == "upscale" else 1
        assert out.shape == (2, 1, 12 * scale, 12 * scale) and torch.isfinite(out).all(), name


def test_spec_errors_are_one_line():
    from aip.models.registry import ModelSpec, register_model, unregister_model

    with pytest.raises(ValueError, match="kind: expected one of generative, restoration, classifier, got 'gan'"):
        ModelSpec("x", "aip.models.vae:VAE", "gan", "gans", "generate")
    with pytest.raises(TypeError, match="cls: expected a class or 'module:Class', got 'VAE'"):
        ModelSpec("x", "VAE", "generative", "gans", "generate")
    with pytest.raises(ValueError, match="name: expected a lower-case identifier"):
        ModelSpec("a b", "aip.models.vae:VAE", "generative", "gans", "generate")
    with pytest.raises(ValueError, match="spec: expected a new model name, got 'vae', which is registered"):
        register_model(ModelSpec("vae", "aip.models.vae:VAE", "generative", "autoencoders", "generate"))
    with pytest.raises(TypeError, match="spec: expected an aip.models.registry.ModelSpec, got tuple"):
        register_model(("vae", None))
    with pytest.raises(ValueError, match="name: expected a registered model, got 'nope'"):
        unregister_model("nope")
    with pytest.raises(ImportError, match="model broken: cannot load 'aip.models.vae:Nope'"):
        _ = ModelSpec("broken", "aip.models.vae:Nope", "generative", "x", "generate").model_class


def test_a_spec_added_to_the_table_is_visible_everywhere_then_gone(capsys):
    import dataclasses
    import gc

    from aip.cli.main import build_parser, main
    from aip.models.base import GenerativeModel
    from aip.models.registry import ModelSpec, register_model, unregister_model
    from aip.train.models import available_models, get_model_class
    from aip.train.models import build_model as train_build

    @dataclasses.dataclass
    class TinyRegConfig:
        in_channels: int = 1
        image_size: int = 8
        width: int = 3

    class TinyReg(GenerativeModel):
        name = "tinyreg"
        config_class = TinyRegConfig

        def __init__(self, config):
            super().__init__(config)
            self.w = torch.nn.Parameter(torch.zeros(config.width))

        def forward(self, x, y=None, phase="main"):
            return {"loss": (x.mean() - self.w.sum()) ** 2}

        def sample(self, n, *, y=None, generator=None, **kwargs):
            c = self.config
            return torch.zeros(n, c.in_channels, c.image_size, c.image_size)

    def train_help() -> str:
        sub = next(a for a in build_parser()._actions if a.dest == "command")
        return sub.choices["train"].format_help()

    assert "tinyreg" not in train_help()
    register_model(ModelSpec("tinyreg", TinyReg, "generative", "toys", "generate", "digits8"))
    try:
        assert "tinyreg" in train_help().replace("\n", " ")
        assert "tinyreg" in available_models() and "tinyreg" in available_models("generative")
        assert "tinyreg" not in available_models("restoration")
        assert get_model_class("tinyreg") is TinyReg
        assert train_build("tinyreg", {"width": "5"}).w.numel() == 5  # CLI strings are converted
        assert build_model("tinyreg", width=4).w.numel() == 4
        assert main(["info", "--json"]) == 0
        import json

        assert json.loads(capsys.readouterr().out)["methods"]["models.toys"] == ["tinyreg"]
    finally:
        unregister_model("tinyreg")
    assert "tinyreg" not in MODELS and "toys" not in models.METHODS and "tinyreg" not in train_help()
    with pytest.raises(ValueError, match="model: expected one of .*; got 'tinyreg'"):
        build_model("tinyreg")
    del TinyReg
    gc.collect()  # the class is gone, so the plug-in discovery no longer finds it either
    assert "tinyreg" not in available_models()


def test_train_lookup_refuses_classifiers_and_lists_the_trainable():
    from aip.train.models import available_models, get_model_class

    assert {"dncnn", "srcnn", "ddpm", "vae"} <= set(available_models()) and "lenet" not in available_models()
    assert {"dncnn", "ffdnet", "srcnn", "vdsr", "espcn"} <= set(available_models("restoration"))
    with pytest.raises(ValueError, match="model: expected one that aip train trains .*got 'lenet', a classifier"):
        get_model_class("lenet")
    with pytest.raises(ValueError, match="kind: expected 'generative' or 'restoration', got 'classifier'"):
        available_models("classifier")
