"""SR3 and Palette: conditions, training masks, loss, sampling through the pipeline, the CLI."""

from __future__ import annotations

import pytest
import torch

from aip.models.cond_diffusion import SR3, ConditionalDiffusionConfig, Palette, PaletteConfig, training_masks

TINY = {"base_channels": 8, "channel_mult": (1, 2), "num_timesteps": 50, "sample_steps": 5}


def test_training_masks_mix_scattered_pixels_and_boxes():
    m = training_masks(400, 28, 28, generator=torch.Generator().manual_seed(0))
    assert m.shape == (400, 1, 28, 28) and m.dtype == torch.bool
    frac = m.float().mean((1, 2, 3))
    assert 0.05 < float(frac.min()) and float(frac.max()) < 0.95
    # a box is one filled rectangle: its rows and columns of missing pixels are contiguous
    rows = m.any(-1)[:, 0]
    boxes = [(r.nonzero().max() - r.nonzero().min() + 1 == r.sum()) and m[i].sum() == r.sum() * m[i].any(-2).sum()
             for i, r in enumerate(rows) if r.any()]
    assert 100 < sum(bool(b) for b in boxes) < 300


def test_conditions_of_each_task():
    sr = SR3(ConditionalDiffusionConfig(scale=2, **TINY))
    y = torch.rand(2, 1, 14, 14)
    cond = sr.condition(y)
    assert cond.shape == (2, 1, 28, 28) and float(cond.min()) >= -1 and float(cond.max()) <= 1
    pal = Palette(PaletteConfig(**TINY))
    mask = torch.zeros(2, 1, 28, 28, dtype=torch.bool)
    mask[..., 7:21, 7:21] = True
    c = pal.condition(torch.rand(2, 1, 28, 28), mask)
    assert c.shape == (2, 2, 28, 28) and float(c[:, 0][mask[:, 0]].abs().max()) == 0 and torch.equal(c[:, 1].bool(), mask[:, 0])
    with pytest.raises(ValueError, match="mask: Palette inpainting needs the mask"):
        pal.condition(torch.rand(2, 1, 28, 28))
    col = Palette(PaletteConfig(task="colorize", channels=3, **TINY))
    assert col.condition(torch.rand(2, 1, 28, 28)).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match=r"task colorize: expected colour targets \(channels 3\)"):
        Palette(PaletteConfig(task="colorize", channels=1))
    with pytest.raises(ValueError, match="scale: expected 2, 3 or 4, got 5"):
        SR3(ConditionalDiffusionConfig(scale=5))


@pytest.mark.parametrize("task", ["sr", "inpaint"])
def test_loss_falls_and_restore_samples_with_the_pipeline(task):
    torch.manual_seed(0)
    cls = SR3 if task == "sr" else Palette
    model = cls(ConditionalDiffusionConfig(task=task, scale=2, lr=2e-3, **TINY))
    x = torch.zeros(16, 1, 28, 28)
    for i in range(16):
        x[i, 0, 6:22, 8 + i % 8: 12 + i % 8] = 1
    y = torch.nn.functional.avg_pool2d(x, 2)
    opt = torch.optim.Adam(model.parameters(), **model.optimizer_options("main"))
    losses = []
    for _ in range(40):
        out = model.training_loss({"x": x, "y": y})
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(float(out["loss"]))
    assert sum(losses[-5:]) < 0.6 * sum(losses[:5])
    model.eval()
    g = lambda: torch.Generator().manual_seed(3)
    if task == "sr":
        a = model.restore(y[:2], generator=g())
        assert a.shape == (2, 1, 28, 28)
    else:
        batch = model.evaluation_batch({"x": x[:2], "y": x[:2]})
        a = model.restore(batch["y"], mask=batch["mask"], generator=g())
        assert torch.equal(a[~batch["mask"].expand_as(a)], x[:2][~batch["mask"].expand_as(a)])   # known kept
        y = batch["y"]
    b = model.restore(y[:2], mask=None if task == "sr" else batch["mask"], generator=g())
    assert torch.equal(a, b)                                        # seeded
    # restore is the pipeline's DDIM sampling with the condition image
    from aip.sampling import Conditioning

    cond = model.condition(y[:2], None if task == "sr" else batch["mask"])
    ref = model.pipeline().sample((2, 1, 28, 28), cond=Conditioning(image=cond), generator=g())
    if task == "sr":
        torch.testing.assert_close(a, ((ref + 1) / 2).clamp(0, 1))


def test_train_and_translate_cli(tmp_path):
    from aip.cli.main import main
    from aip.data.digits import load_digits_split
    from aip.io import write_image

    run = tmp_path / "sr3"
    assert main(["train", "sr3", "--out", str(run), "--steps", "2", "--batch-size", "4", "--base-channels", "8",
                 "--eval-every", "2", "--eval-images", "4", "--checkpoint-every", "2", "--sample-steps", "2",
                 "--quiet"]) == 0
    lr = load_digits_split("test")[0][0][::4, ::4] / 255.0
    write_image(tmp_path / "lr.png", lr)
    assert main(["translate", str(run), str(tmp_path / "lr.png"), "-o", str(tmp_path / "hr.png"), "--json"]) == 0
    from aip.io import read_image

    assert read_image(tmp_path / "hr.png").shape[:2] == (28, 28)
    assert main(["translate", str(run), str(tmp_path / "lr.png"), "-o", str(tmp_path / "x.png"),
                 "--mask", "random:0.5"]) == 2
