"""PixelCNN and gated PixelCNN: causality (the gradient of pixel (i, j)'s logits reaches no later pixel),
the receptive band the sampler relies on, exact likelihood (normalised over every image of a tiny grid),
banded sampling equal to full recomputation, and a loss that falls."""

import itertools
import math

import pytest
import torch

from aip.models import build_model
from aip.models.pixelcnn import PixelCNN, PixelCNNConfig, to_levels


def tiny(variant="gated", **kw):
    torch.manual_seed(0)
    cfg = {"image_size": 10, "levels": 4, "variant": variant, "features": 8, "layers": 3, "head_features": 8,
           "first_kernel": 5, **kw}
    return PixelCNN(PixelCNNConfig(**cfg))


def _dependence(model, i, j, y=None):
    """Which input pixels the logits at (i, j) depend on (gradient through the embedding)."""
    s = model.config.image_size
    levels = torch.randint(0, model.config.levels, (1, 1, s, s), generator=torch.Generator().manual_seed(1))
    captured = {}

    def hook(_, __, out):
        out.retain_grad()
        captured["e"] = out

    handle = model.embed.register_forward_hook(hook)
    model.logits(levels, y)[0, :, :, i, j].sum().backward()
    handle.remove()
    return captured["e"].grad[0].abs().sum(0) > 0


@pytest.mark.parametrize("variant", ["gated", "plain"])
@pytest.mark.parametrize("ij", [(0, 0), (4, 7), (9, 9), (5, 0)])
def test_causal_and_within_the_band(variant, ij):
    model = tiny(variant)
    i, j = ij
    dep = _dependence(model, i, j)
    assert not dep[i, j:].any() and not dep[i + 1:].any()  # nothing at or after the pixel in raster order
    if i > model.receptive_rows:
        assert not dep[: i - model.receptive_rows].any()
    if i > 0 and j > 0:
        assert dep[i, j - 1] and dep[i - 1, j]  # the pixels just before it are seen


def test_gated_has_no_blind_spot_and_plain_has_one():
    """Pixel (9, 2) in the gated model sees (7, 6), up and to the right; the plain stack of masked 3x3
    convolutions cannot (its blind spot)."""
    assert _dependence(tiny("gated", layers=4), 9, 2)[7, 6]
    assert not _dependence(tiny("plain", layers=4), 9, 2)[7, 6]


def test_likelihood_is_normalised():
    """Summed over all 2^(3x3) binary images, exp(-nll) is 1: the model is an exact distribution."""
    model = tiny(image_size=3, levels=2, layers=2, first_kernel=3).eval()
    imgs = torch.tensor(list(itertools.product([0.0, 1.0], repeat=9))).view(-1, 1, 3, 3)
    with torch.no_grad():
        total = torch.exp(-model.nll(imgs).double()).sum()
    assert abs(float(total) - 1.0) < 1e-5


def test_colour_likelihood_is_normalised():
    model = tiny(image_size=2, levels=2, layers=1, first_kernel=3, in_channels=3).eval()
    imgs = torch.tensor(list(itertools.product([0.0, 1.0], repeat=12))).view(-1, 3, 2, 2)
    with torch.no_grad():
        assert abs(float(torch.exp(-model.nll(imgs).double()).sum()) - 1.0) < 1e-5
    assert model.sample(2, generator=torch.Generator().manual_seed(0)).shape == (2, 3, 2, 2)


def test_class_conditional_likelihood_is_normalised_per_class():
    model = tiny(image_size=2, levels=3, layers=2, first_kernel=3, num_classes=3).eval()
    imgs = torch.tensor(list(itertools.product([0.0, 0.5, 1.0], repeat=4))).view(-1, 1, 2, 2)
    for c in range(3):
        with torch.no_grad():
            total = torch.exp(-model.nll(imgs, torch.full((len(imgs),), c)).double()).sum()
        assert abs(float(total) - 1.0) < 1e-5
    with pytest.raises(ValueError, match="labels"):
        model.nll(imgs)


@pytest.mark.parametrize("variant", ["gated", "plain"])
def test_banded_sampling_equals_full_recomputation(variant):
    model = tiny(variant, image_size=12, layers=2, first_kernel=3).eval()
    assert model.receptive_rows < 11  # the band is narrower than the image
    a = model.sample(3, generator=torch.Generator().manual_seed(0), band=True)
    b = model.sample(3, generator=torch.Generator().manual_seed(0), band=False)
    assert torch.equal(a, b) and a.shape == (3, 1, 12, 12)
    assert set(torch.unique(a * 3).round().tolist()) <= {0.0, 1.0, 2.0, 3.0}


def test_loss_falls_and_bits_per_dim():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(32, 1, 8, 8, generator=g) > 0.5).float()
    x[:, :, :, :4] = 0.0  # a learnable structure: the left half is always black
    model = build_model("pixelcnn", image_size=8, levels=2, features=16, layers=2, head_features=16)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        out = model(x)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        first = first if first is not None else float(out["bits_per_dim"])
    last = float(model(x)["bits_per_dim"])
    assert first > 0.9 and last < 0.6  # half the pixels become certain: the ideal is 0.5 bit/dim
    nll = model.nll(x[:4]).detach()
    torch.testing.assert_close(model.bits_per_dim(x[:4]).detach(), nll / (64 * math.log(2)))


def test_levels_and_bad_config():
    x = torch.tensor([0.0, 0.49, 0.5, 1.0])
    assert to_levels(x, 2).tolist() == [0, 0, 1, 1] and to_levels(x, 256).tolist() == [0, 125, 128, 255]
    with pytest.raises(ValueError, match="in_channels"):
        PixelCNNConfig(in_channels=5).validate()
    with pytest.raises(ValueError, match="odd"):
        PixelCNNConfig(kernel=4).validate()
    with pytest.raises(ValueError, match="variant"):
        PixelCNNConfig(variant="rnn").validate()


def test_the_data_sets_the_image_channels_not_the_width():
    """``aip train`` fills the image channel fields from the data; the network width is ``features``
    (a field named ``channels`` once took the data's 1 and trained a one-channel network)."""
    from aip.data.dataset import load_dataset
    from aip.train.run import data_defaults

    got = data_defaults(PixelCNNConfig, load_dataset("digits8", "train"), {})
    assert got.get("in_channels") == 1 and "features" not in got and "head_features" not in got
