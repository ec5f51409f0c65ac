"""Latent diffusion: the KL autoencoder's losses and shapes, the frozen first stage, the measured latent
scale, falling losses, and the two-stage path through aip train / aip sample."""

import json

import pytest
import torch

from aip.cli.main import main
from aip.models.ldm import KLAEConfig, KLAutoencoder, LatentDiffusion, LDMConfig
from aip.models.registry import MODELS


def _bars(n=16):
    x = torch.zeros(n, 1, 28, 28)
    for i in range(n):
        x[i, 0, :, 4 + i % 10: 8 + i % 10] = 1.0
    return x


def test_klae_shapes_kl_and_perceptual():
    ae = KLAutoencoder(KLAEConfig(hidden_channels=(8, 16)))
    x = _bars(4)
    assert ae.encode(x).shape == (4, 4, 7, 7) and ae.decode(ae.encode(x)).shape == x.shape
    assert float(ae.perceptual(x, x)) == 0.0 and float(ae.perceptual(x, 1 - x)) > 0.0   # LeNet features
    out = ae(x, phase="g")
    assert set(out) >= {"loss", "l1", "kl", "perceptual", "adv"} and ae.phases() == ["d", "g"]
    assert not any(n.startswith("_perceptual") for n in ae.state_dict())   # the LeNet is not saved
    assert {id(p) for p in ae.phase_parameters("g")}.isdisjoint(id(p) for p in ae.discriminator.parameters())


def test_klae_loss_falls():
    torch.manual_seed(0)
    ae = KLAutoencoder(KLAEConfig(hidden_channels=(8, 16), adversarial_weight=0.0, perceptual_weight=0.0))
    opt = torch.optim.Adam(ae.parameters(), lr=3e-3)
    x = _bars()
    first = float(ae(x, phase="g")["l1"])
    for _ in range(60):
        opt.zero_grad()
        ae(x, phase="g")["loss"].backward()
        opt.step()
    assert float(ae(x, phase="g")["l1"]) < 0.5 * first


def test_ldm_freezes_the_autoencoder_measures_the_scale_and_learns():
    torch.manual_seed(0)
    m = LatentDiffusion(LDMConfig(base_channels=16, num_timesteps=50, num_classes=10))
    trained = {id(p) for p in m.phase_parameters("main")}
    assert trained.isdisjoint(id(p) for p in m.autoencoder.parameters()) and trained
    before = {k: v.clone() for k, v in m.autoencoder.state_dict().items()}
    x, y = _bars(), torch.arange(16) % 10
    assert float(m.latent_scale) == 0.0
    z = m.to_latent(x)
    assert float(m.latent_scale) > 0 and float(z.std()) == pytest.approx(1.0, rel=1e-4)   # unit variance
    opt = torch.optim.Adam(m.phase_parameters("main"), lr=2e-3)
    m.train()
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = m(x, y)["loss"]
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) < sum(losses[:10])
    assert not m.autoencoder.training
    assert all(torch.equal(before[k], v) for k, v in m.autoencoder.state_dict().items())
    s = m.sample(3, y=torch.tensor([1, 2, 3]), steps=4, guidance=2.0, generator=torch.Generator().manual_seed(0))
    assert s.shape == (3, 1, 28, 28) and 0 <= float(s.min()) and float(s.max()) <= 1


def test_two_stage_training_from_the_cli(tmp_path, capsys):
    ae_run, ldm_run = tmp_path / "ae", tmp_path / "ldm"
    assert main(["train", "klae", "--data", "digits", "--out", str(ae_run), "--steps", "2", "--batch-size", "8",
                 "--set", "hidden_channels=[8,16]", "--quiet"]) == 0
    assert main(["train", "ldm", "--data", "digits", "--out", str(ldm_run), "--steps", "2", "--batch-size", "8",
                 "--set", f"autoencoder={ae_run}", "--set", "base_channels=16", "--set", "num_classes=10",
                 "--quiet"]) == 0
    cfg = json.loads((ldm_run / "config.json").read_text())
    assert cfg["model"]["autoencoder"] == str(ae_run)
    assert main(["sample", str(ldm_run), "-n", "4", "-o", str(tmp_path / "g.png"), "--steps", "3", "--json"]) == 0
    capsys.readouterr()
    from aip.train.run import load_run

    model, _ = load_run(ldm_run)
    assert float(model.latent_scale) > 0          # the measured scale travels with the weights
    with pytest.raises(TypeError, match="expected a run of aip train klae"):
        LatentDiffusion(LDMConfig(autoencoder=str(ldm_run)))
    assert MODELS["ldm"].family == "diffusion" and MODELS["klae"].family == "autoencoders"


def test_frozen_parts_are_a_trainer_feature_of_the_base():
    """Staged training: any model names its fixed submodules in ``frozen``; the base keeps them out of every
    phase, without gradients and in eval mode (MaskGIT's tokenizer, latent diffusion's autoencoder)."""
    from aip.models.maskgit import MaskGIT, MaskGITConfig

    for m in (LatentDiffusion(LDMConfig(base_channels=8, num_heads=2)), MaskGIT(MaskGITConfig(dim=16, depth=1))):
        part = getattr(m, m.frozen[0])
        m.train()
        assert not part.training and all(not p.requires_grad for p in part.parameters())
        ids = {id(p) for p in m.phase_parameters("main")}
        assert ids and ids.isdisjoint(id(p) for p in part.parameters())
