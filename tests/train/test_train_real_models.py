"""Every registered model trains for a few steps through the trainer, checkpoints and samples back.

Tiny configurations on 8x8 digits keep this fast; the models' own maths is tested in tests/models.
"""

import pytest
import torch

from aip.data import load_dataset
from aip.train import TrainConfig, Trainer, seed_everything
from aip.train.models import available_models, build_model, get_model_class
from aip.train.run import data_defaults

TINY = {
    "ae": {"latent_dim": 2, "hidden_channels": "4,8", "hidden_dim": 16},
    "vae": {"latent_dim": 2, "hidden_channels": "4,8", "hidden_dim": 16},
    "cvae": {"latent_dim": 2, "hidden_channels": "4,8", "hidden_dim": 16},
    "vampvae": {"latent_dim": 2, "hidden_channels": "4,8", "hidden_dim": 16, "num_pseudo_inputs": 5},
    "vqvae": {"hidden_channels": "4,8", "embedding_dim": 4, "num_embeddings": 8, "prior_channels": 8,
              "prior_layers": 1},
    "gan": {"latent_dim": 4, "hidden_dim": 16},
    "dcgan": {"latent_dim": 4, "base_channels": 4},
    "cgan": {"latent_dim": 4, "base_channels": 4},
    "ddpm": {"base_channels": 8, "channel_mult": "1,2", "num_timesteps": 20, "sample_steps": 3, "num_classes": 10},
    "ncsn": {"base_channels": 8, "channel_mult": "1,2", "num_sigmas": 3, "n_steps_each": 2},
}
REQUIRED = ("vae", "cvae", "vampvae", "vqvae", "gan", "dcgan", "cgan", "ddpm", "ncsn")


def test_every_required_model_is_registered():
    missing = [m for m in REQUIRED if m not in available_models()]
    assert not missing, f"models not registered: {missing}"


@pytest.mark.parametrize("name", [m for m in REQUIRED])
def test_model_trains_resumes_and_samples(name, tmp_path):
    ds = load_dataset("digits8", "train")
    cls = get_model_class(name)
    values = {**data_defaults(cls.config_class, ds, TINY[name]), **TINY[name]}

    def make():
        seed_everything(0)
        return Trainer(build_model(name, values), ds, TrainConfig(steps=4, batch_size=16, seed=0, log_every=0,
                                                                   num_samples=4), tmp_path, progress=False)

    full = make()
    full.train(until=2)  # writes a checkpoint at step 2
    again = make()
    again.load()
    assert again.step == 2
    for k, v in full.module.state_dict().items():
        assert torch.equal(v, again.module.state_dict()[k]), k
    hist = again.train()
    assert again.step == 4 and all(torch.isfinite(torch.tensor(v)) for h in hist for v in h.values())
    x = again.sample(4)
    assert x.shape == (4, *ds.shape) and float(x.min()) >= 0 and float(x.max()) <= 1
