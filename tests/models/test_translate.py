"""pix2pix: PatchGAN receptive fields, the U-Net generator, losses, translation tasks, training and the CLI."""

from __future__ import annotations

import numpy as np
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
    with pytest.raises(ValueError, match="task: expected one of edges, colorize, sketch"):
        make_task("pencil")


def test_xdog_sketch_equals_its_formula_on_scipy_filters_and_leaves_flat_paper_white():
    from scipy.ndimage import gaussian_filter

    from aip.data.tasks import XDoG

    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 24, 24, generator=g).double()
    t = XDoG(sigma=1.0, k=1.6, tau=0.98, eps=-0.01, phi=100.0)
    out = t.degrade(x)["y"]
    for i in range(2):
        a = x[i, 0].numpy()
        d = gaussian_filter(a, 1.0, mode="nearest", truncate=3) - 0.98 * gaussian_filter(a, 1.6, mode="nearest",
                                                                                            truncate=3)
        ref = np.clip(np.where(d >= -0.01, 1.0, 1 + np.tanh(100 * (d + 0.01))), 0, 1)
        np.testing.assert_allclose(out[i, 0].numpy(), ref, atol=1e-4)   # float32 filters, slope phi = 100
    flat = t.degrade(torch.full((1, 1, 16, 16), 0.4))["y"]
    assert torch.equal(flat, torch.ones_like(flat))             # no edge: white paper
    step = torch.zeros(1, 1, 16, 16)
    step[..., 8:] = 1.0
    s = t.degrade(step)["y"][0, 0, 8]
    assert float(s.min()) < 0.2 and float(s[0]) == 1.0 and float(s[-1]) == 1.0   # one dark stroke at the edge
    assert make_task("sketch").degrade(step)["y"].shape == (1, 1, 16, 16)


def test_sketch_pair_is_unpaired_in_training_aligned_in_test_and_never_on_evaluation_photos():
    from aip.data.builtin import BUILTIN, EVALUATION_PHOTOS, PAIRS, PATCH_PHOTOS
    from aip.data.tasks import XDoG

    assert not set(EVALUATION_PHOTOS) & set(PATCH_PHOTOS)
    assert BUILTIN["patches"]("test")[2] == list(PATCH_PHOTOS)
    a, b, la, lb = PAIRS["sketch"]("test")
    assert a.shape == b.shape == (500, 32, 32) and (la == lb).all()
    want = XDoG().degrade(torch.from_numpy(a[:20].astype(np.float32) / 255)[:, None])["y"][:, 0].numpy()
    err = np.abs(b[:20] / 255.0 - want)     # a's own sketches, up to the 8-bit rounding of a (slope phi = 100)
    assert err.mean() < 0.002 and err.max() < 0.1
    ta, tb, _, _ = PAIRS["sketch"]("train")
    assert ta.shape == tb.shape == (10000, 32, 32)
    again = XDoG().degrade(torch.from_numpy(ta[:50].astype(np.float32) / 255)[:, None])["y"][:, 0].numpy()
    assert np.abs(tb[:50] / 255.0 - again).mean() > 0.05         # the training sketches are of other crops


def test_reverse_pix2pix_learns_the_task_itself():
    """With reverse the generator maps x to task(x) (photo -> sketch) and is scored that way."""
    from aip.data.tasks import XDoG
    from aip.models.translate import Pix2Pix, Pix2PixConfig

    torch.manual_seed(0)
    x = torch.rand(8, 1, 16, 16)
    batch = {"x": x, "y": XDoG().degrade(x)["y"]}
    net = Pix2Pix(Pix2PixConfig(task="sketch", reverse=True, image_size=16, base=8, depth=2, d_base=8,
                                gan_weight=0.0))
    ev = net.evaluation_batch(batch)
    assert torch.equal(ev["y"], x) and torch.equal(ev["x"], batch["y"])
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    first = None
    for _ in range(60):
        out = net.training_loss(batch, "g")
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        first = first if first is not None else float(out["l1"])
    assert float(out["l1"]) < 0.6 * first
    assert net.restore(x).shape == (8, 1, 16, 16)


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
    with pytest.raises(ValueError, match="task: expected one of edges, colorize, sketch, degrade"):
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
    # a folder of targets: the batch form, each output the one-image command's
    folder = tmp_path / "targets"
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"{i}.png", load_digits_split("test")[0][i] / 255.0)
    assert main(["translate", str(run), str(folder), "-o", str(tmp_path / "batch"), "--derive", "--jobs", "2"]) == 0
    import numpy as np

    from aip.io import read_image

    np.testing.assert_array_equal(read_image(tmp_path / "batch" / "0.png"), read_image(out))
    assert (tmp_path / "batch" / "2_source.png").is_file() and (tmp_path / "batch" / "aip-batch.csv").is_file()


# ------------------------------------------------------------------------------------------------ CycleGAN
CYC = {"base": 8, "n_blocks": 1, "d_base": 8, "image_size": 28}


def test_cycle_loss_is_zero_for_inverse_pairs():
    from aip.models.translate import cycle_consistency

    a, b = torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8)
    assert float(cycle_consistency(lambda v: 1 - v, lambda v: 1 - v, a, b)) == 0.0
    assert float(cycle_consistency(lambda v: v.flip(-1), lambda v: v.flip(-1), a, b)) == 0.0
    assert float(cycle_consistency(lambda v: 1 - v, lambda v: v, a, b)) > 0.5


def test_image_pool_returns_new_or_stored_images():
    from aip.models.translate import ImagePool

    torch.manual_seed(0)
    pool = ImagePool(4)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)            # filling: the new images come back
    out = pool.query(first + 10)
    assert set(out.flatten().tolist()) <= set(range(4)) | set(range(10, 14))
    assert len(pool.images) == 4
    assert torch.equal(ImagePool(0).query(first), first)


def test_cyclegan_trains_and_translates_both_ways():
    from aip.models.translate import CycleGAN, CycleGANConfig

    torch.manual_seed(0)
    model = CycleGAN(CycleGANConfig(lr=2e-3, **CYC))
    a = torch.zeros(6, 1, 28, 28)
    a[..., 8:20, 12:16] = 1                                  # vertical bars in A, horizontal in B
    b = a.transpose(-1, -2).clone()
    batch = {"y": a, "x": b}
    opts = {p: torch.optim.Adam(model.phase_parameters(p), **model.optimizer_options(p)) for p in model.phases()}
    cyc = []
    for _ in range(30):
        for phase in model.phases():
            out = model.training_loss(batch, phase)
            opts[phase].zero_grad()
            out["loss"].backward()
            opts[phase].step()
            if phase == "g":
                cyc.append(float(out["cycle"]))
                assert float(out["loss"]) == pytest.approx(
                    float(out["adv"]) + 10 * float(out["cycle"]) + 5 * float(out["identity"]), rel=1e-4)
    assert sum(cyc[-5:]) < 0.5 * sum(cyc[:5])
    assert model.translate(a, "a2b").shape == a.shape and model.translate(b, "b2a").shape == b.shape
    assert torch.equal(model.restore(a), model.translate(a, "a2b"))
    rgb = CycleGAN(CycleGANConfig(channels=3, source_channels=1, **CYC))
    assert rgb.translate(a, "a2b").shape == (6, 3, 28, 28)
    out = rgb.training_loss({"y": a, "x": torch.rand(6, 3, 28, 28)}, "g")
    assert "identity" not in out                              # channels differ: no identity loss
    with pytest.raises(ValueError, match="direction: expected one of a2b, b2a"):
        model.translate(a, "ab")
    with pytest.raises(ValueError, match="y \\(domain A\\): expected 1 channel"):
        rgb.training_loss({"y": torch.rand(2, 3, 28, 28), "x": torch.rand(2, 3, 28, 28)}, "g")


def test_font_pair_is_unpaired_in_training_and_aligned_in_test():
    from aip.data.digits import synthetic_digits

    a, la = synthetic_digits(40, seed=23, fonts="sans")
    b, lb = synthetic_digits(40, seed=23, fonts="serif")
    assert (la == lb).all() and a.shape == b.shape
    # the same digit, stroke and deformation: the two renderings overlap far more than random digit pairs do
    same = np.mean([np.corrcoef(a[i].ravel(), b[i].ravel())[0, 1] for i in range(40)])
    other = np.mean([np.corrcoef(a[i].ravel(), b[(i + 1) % 40].ravel())[0, 1] for i in range(40)])
    assert same > 0.6 and same > other + 0.3
    with pytest.raises(ValueError, match="fonts: expected one of sans, serif, mono"):
        synthetic_digits(2, fonts="gothic")


def test_cyclegan_cli_on_a_trainA_trainB_folder(tmp_path):
    from aip.cli.main import main
    from aip.io import write_image

    rng = np.random.default_rng(0)
    for sub in ("trainA", "trainB", "testA", "testB"):
        (tmp_path / "data" / sub).mkdir(parents=True)
        for i in range(4):
            write_image(tmp_path / "data" / sub / f"{i}.png", rng.random((28, 28)))
    run = tmp_path / "run"
    assert main(["train", "cyclegan", "--data", str(tmp_path / "data"), "--out", str(run), "--steps", "2",
                 "--batch-size", "2", "--base", "8", "--n-blocks", "1", "--d-base", "8", "--eval-every", "2",
                 "--checkpoint-every", "2", "--quiet"]) == 0
    log = (run / "log.jsonl").read_text()
    assert "eval/psnr" in log                                  # testA/testB share file names: scored as pairs
    for d in ("a2b", "b2a"):
        out = tmp_path / f"{d}.png"
        assert main(["translate", str(run), str(tmp_path / "data" / "testA" / "0.png"), "-o", str(out),
                     "--direction", d]) == 0 and out.exists()
    assert main(["translate", str(run), str(tmp_path / "data" / "testA" / "0.png"), "-o",
                 str(tmp_path / "x.png"), "--derive"]) == 2
    assert main(["train", "cyclegan", "--data", str(tmp_path), "--out", str(tmp_path / "r2"), "--steps", "1"]) == 2
