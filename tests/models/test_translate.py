"""pix2pix: PatchGAN receptive fields, the U-Net generator, losses, translation tasks, training and the CLI."""

from __future__ import annotations

import pytest
import torch

from aip.data.tasks import Edges, Luma, luma, make_task
from aip.models.translate import PatchDiscriminator, Pix2Pix, Pix2PixConfig, UNetGenerator, receptive_field

TINY = {"base": 8, "depth": 2, "d_base": 8, "image_size": 16}


def measured_field(disc: PatchDiscriminator, size: int = 160) -> int:
    """Side of the input region that moves the centre logit: the support of its gradient."""
    disc.eval()
    with torch.no_grad():  # positive weights: no cancellation hides a pixel inside the field
        for m in disc.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.abs_()
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    y = torch.zeros(1, 1, size, size)
    out = disc.net(torch.cat([y, x], dim=1))
    h, w = out.shape[-2:]
    out[0, 0, h // 2, w // 2].backward()
    nz = (x.grad[0, 0].abs() > 0).nonzero()
    return int(nz[:, 0].max() - nz[:, 0].min() + 1)


@pytest.mark.parametrize("patch,nominal", [("1", 1), ("16", 16), ("70", 70)])
def test_patchgan_receptive_fields_equal_the_nominal_ones(patch, nominal):
    torch.manual_seed(0)
    disc = PatchDiscriminator(2, 8, patch)
    assert receptive_field(disc) == nominal
    assert measured_field(disc) == nominal


def test_full_image_discriminator_sees_the_whole_image():
    for size in (16, 28, 64):
        disc = PatchDiscriminator(2, 8, "full", image_size=size)
        assert receptive_field(disc) >= size
        assert disc(torch.zeros(3, 1, size, size), torch.zeros(3, 1, size, size)).shape == (3, 1, 1, 1)
    with pytest.raises(ValueError, match="patch: expected one of 1, 16, 70, full"):
        PatchDiscriminator(2, 8, "32")


def test_unet_generator_keeps_the_size_and_the_range():
    g = UNetGenerator(1, 3, base=8, depth=3)
    for h, w in ((16, 16), (28, 28), (13, 21)):
        out = g(torch.rand(2, 1, h, w))
        assert out.shape == (2, 3, h, w) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_tasks_make_their_sources():
    x = torch.zeros(1, 1, 16, 16)
    x[..., 4:12, 4:12] = 1
    e = Edges().degrade(x)["y"]
    assert set(e.unique().tolist()) <= {0.0, 1.0}
    assert float(e[0, 0, 8, 8]) == 0 and float(e[0, 0, 8, 4]) == 1 and float(e[0, 0, 0, 0]) == 0
    rgb = torch.rand(2, 3, 5, 5)
    torch.testing.assert_close(luma(rgb), (0.299 * rgb[:, :1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:]))
    assert Luma().degrade(rgb)["y"].shape == (2, 1, 5, 5)
    with pytest.raises(ValueError, match="task: expected one of edges, colorize"):
        make_task("sketch")


def _pairs(n=8, size=16):
    torch.manual_seed(0)
    x = torch.zeros(n, 1, size, size)
    for i in range(n):
        x[i, 0, 2 + i % 4: 10 + i % 4, 3:12] = 1.0
    return {"x": x, "y": Edges().degrade(x)["y"]}


def _fit(model, batch, steps=40):
    opts = {p: torch.optim.Adam(model.phase_parameters(p), **model.optimizer_options(p)) for p in model.phases()}
    l1 = []
    for _ in range(steps):
        for phase in model.phases():
            out = model.training_loss(batch, phase)
            opts[phase].zero_grad()
            out["loss"].backward()
            opts[phase].step()
            if phase == "g":
                l1.append(float(out["l1"]))
    return l1


@pytest.mark.parametrize("gan_weight", [1.0, 0.0])
def test_pix2pix_loss_falls_on_tiny_pairs(gan_weight):
    torch.manual_seed(0)
    model = Pix2Pix(Pix2PixConfig(gan_weight=gan_weight, patch="16", lr=2e-3, **TINY))
    assert model.phases() == (["d", "g"] if gan_weight else ["g"])
    batch = _pairs()
    l1 = _fit(model, batch)
    assert sum(l1[-5:]) / 5 < 0.5 * sum(l1[:5]) / 5
    d = model.training_loss(batch, "g")
    assert ("adv" in d) == bool(gan_weight)
    # the generator's paired objective: cGAN + lambda L1 with lambda 100
    if gan_weight:
        assert float(d["loss"]) == pytest.approx(100 * float(d["l1"]) + float(d["adv"]), rel=1e-5)


def test_bad_configs_are_one_line_errors():
    with pytest.raises(ValueError, match=r"task colorize: expected colour targets \(channels 3\), got channels 1"):
        Pix2Pix(Pix2PixConfig(task="colorize", channels=1))
    with pytest.raises(ValueError, match="task: expected one of edges, colorize, degrade"):
        Pix2Pix(Pix2PixConfig(task="paint"))
    m = Pix2Pix(Pix2PixConfig(task="colorize", channels=3, **TINY))
    assert m.restore(torch.rand(1, 1, 16, 16)).shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="y: expected 1 channel"):
        m.restore(torch.rand(1, 3, 16, 16))


def test_train_without_data_and_translate(tmp_path):
    from aip.cli.main import main

    run = tmp_path / "run"
    assert main(["train", "pix2pix", "--out", str(run), "--steps", "3", "--batch-size", "4", "--crop", "16",
                 "--base", "8", "--depth", "2", "--d-base", "8", "--patch", "16", "--eval-every", "3",
                 "--checkpoint-every", "3", "--log-every", "1", "--quiet"]) == 0
    import json

    meta = json.loads((run / "config.json").read_text())
    assert meta["train"]["data"] == "digits" and meta["model"]["task"] == "edges"
    assert meta["model"]["image_size"] == 16                     # the crop
    from aip.data.digits import load_digits_split
    from aip.io import write_image

    write_image(tmp_path / "d.png", load_digits_split("test")[0][0] / 255.0)
    out = tmp_path / "t.png"
    assert main(["translate", str(run), str(tmp_path / "d.png"), "-o", str(out), "--derive", "--json"]) == 0
    assert out.exists() and (tmp_path / "t_source.png").exists()
    assert main(["translate", str(run), str(tmp_path / "d.png"), "-o", str(out)]) == 2     # exists: --force
    assert main(["translate", str(tmp_path), str(tmp_path / "d.png"), "-o", str(tmp_path / "u.png")]) == 2
