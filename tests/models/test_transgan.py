"""TransGAN: a convolution-free transformer generator, a ViT discriminator, and each player learning
against a fixed other (the loss of the phase trained falls)."""

import pytest
import torch
from torch import nn

from aip.models.gan import TransGAN, TransGANConfig


def tiny(**kw):
    torch.manual_seed(0)
    return TransGAN(TransGANConfig(**{"dim": 32, "depth": 1, "heads": 2, "latent_dim": 8, **kw}))


def test_generator_is_convolution_free_and_shapes():
    g = tiny()
    assert not any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in g.generator.modules())
    assert g.sample(3, y=torch.tensor([0, 1, 2])).shape == (3, 1, 28, 28)
    assert tiny(image_size=25, num_classes=0).sample(2).shape == (2, 1, 25, 25)
    assert g.discriminator.features(torch.rand(2, 1, 28, 28)).shape == (2, 16)
    with pytest.raises(ValueError, match="dim: expected a multiple of 16"):
        tiny(dim=24)
    with pytest.raises(ValueError, match="a TransGAN needs arch='transformer'"):
        TransGAN(TransGANConfig(arch="dcgan"))


@pytest.mark.parametrize("phase", ["d", "g"])
def test_each_player_learns_against_a_fixed_other(phase):
    m = tiny()
    x = torch.zeros(16, 1, 28, 28)
    x[:, :, 6:22, 12:16] = 1.0
    y = torch.arange(16) % 10
    params = list(m.phase_parameters(phase))
    other = [p for p in m.parameters() if all(p is not q for q in params)]
    frozen = [p.detach().clone() for p in other]
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.0, 0.99))
    losses = []
    for i in range(30):
        torch.manual_seed(i % 3)
        loss = m(x, y, phase=phase)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) < sum(losses[:5])
    assert all(torch.equal(a, b) for a, b in zip(frozen, other))     # the other player untouched
