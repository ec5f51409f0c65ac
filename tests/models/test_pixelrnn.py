"""PixelRNN (Row LSTM): causal (no later pixel reaches a pixel's logits), an exact normalised likelihood,
class-conditional, a loss that falls, and the full-recomputation sampler."""

import itertools

import pytest
import torch

from aip.models.pixelcnn import PixelRNN, PixelRNNConfig


def tiny(**kw):
    torch.manual_seed(0)
    return PixelRNN(PixelRNNConfig(**{"image_size": 8, "levels": 4, "features": 8, "head_features": 8,
                                      "first_kernel": 5, **kw}))


@pytest.mark.parametrize("ij", [(0, 0), (3, 5), (7, 7), (5, 0)])
def test_causal(ij):
    model = tiny(layers=2)
    i, j = ij
    levels = torch.randint(0, 4, (1, 1, 8, 8), generator=torch.Generator().manual_seed(1))
    captured = {}

    def hook(_, __, out):
        out.retain_grad()
        captured["e"] = out

    handle = model.embed.register_forward_hook(hook)
    model.logits(levels)[0, :, :, i, j].sum().backward()
    handle.remove()
    dep = captured["e"].grad[0].abs().sum(0) > 0
    assert not dep[i, j:].any() and not dep[i + 1:].any()
    if i > 1 and 0 < j < 7:
        assert dep[i, j - 1] and dep[i - 2, j + 1]      # left in the row, and up-right through the recurrence


def test_likelihood_is_normalised_and_conditional():
    model = tiny(image_size=3, levels=2, first_kernel=3).eval()
    imgs = torch.tensor(list(itertools.product([0.0, 1.0], repeat=9))).view(-1, 1, 3, 3)
    with torch.no_grad():
        assert abs(float(torch.exp(-model.nll(imgs).double()).sum()) - 1.0) < 1e-5
    cond = tiny(image_size=3, levels=2, first_kernel=3, num_classes=3).eval()
    with torch.no_grad():
        for c in range(3):
            p = torch.exp(-cond.nll(imgs, torch.full((len(imgs),), c)).double()).sum()
            assert abs(float(p) - 1.0) < 1e-5


def test_loss_falls_and_samples():
    model = tiny(levels=2)
    x = torch.zeros(16, 1, 8, 8)
    x[:, :, :, 2:4] = 1.0
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = model(x)["loss"].item()
    for _ in range(40):
        opt.zero_grad()
        model(x)["loss"].backward()
        opt.step()
    assert model(x)["loss"].item() < 0.5 * first
    s = model.sample(3, generator=torch.Generator().manual_seed(0))
    assert s.shape == (3, 1, 8, 8) and set(s.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="variant: expected one of row_lstm"):
        PixelRNN(PixelRNNConfig(variant="gated"))
