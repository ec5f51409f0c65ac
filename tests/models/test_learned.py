"""The numpy front doors of the learned restorers: shipped-weight loading, channels, tiling, errors."""

import numpy as np
import pytest
import torch

from aip.io.assets import MissingAssetError, save_asset
from aip.models import learned
from aip.models.restorers import FFDNet, FFDNetConfig


@pytest.fixture
def fake_store(tmp_path, monkeypatch):
    """A weights folder holding one small FFDNet as ``restore_ffdnet_gray``."""
    from aip.io import assets

    monkeypatch.setattr(assets, "weights_dir", lambda: tmp_path)
    learned._CACHE.clear()
    torch.manual_seed(0)
    net = FFDNet(FFDNetConfig(depth=3, features=8, residual=True, batch_norm=False))
    save_asset("restore_ffdnet_gray", net.state_dict(), {"model": net.config_dict()}, root=tmp_path)
    yield net.eval()
    learned._CACHE.clear()


def test_denoise_learned_loads_the_asset_and_tiles_exactly(fake_store):
    img = np.random.default_rng(0).random((70, 90)).astype(np.float32)
    out = learned.denoise_learned(img, 0.1)
    with torch.no_grad():
        ref = fake_store.restore(torch.from_numpy(img)[None, None], sigma=0.1)[0, 0].clamp(0, 1).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-5)
    tiled = learned.denoise_learned(img, 0.1, tile=80)  # 3 x 2 tiles with 32 pixels of context
    np.testing.assert_allclose(tiled, ref, atol=1e-5)
    rgb = np.random.default_rng(1).random((20, 24, 3)).astype(np.float32)
    out_rgb = learned.denoise_learned(rgb, 0.1, channel_axis=-1)  # no colour net: channel by channel
    np.testing.assert_allclose(out_rgb[..., 1], learned.denoise_learned(rgb[..., 1], 0.1), atol=1e-6)
    assert "restore_ffdnet_gray" in learned.shipped_restorers()


def test_missing_weights_name_the_command(fake_store):
    with pytest.raises(MissingAssetError, match="restore_espcn_x2_gray"):
        learned.upscale_learned(np.zeros((8, 8), np.float32), 2)
    with pytest.raises(ValueError, match="sigma"):
        learned.denoise_learned(np.zeros((8, 8), np.float32), 0.0)


@pytest.mark.parametrize("method,scale", [("espcn", 2), ("espcn", 4), ("srcnn", 2), ("vdsr", 4), ("srresnet", 4)])
def test_shipped_sr_networks_beat_bicubic_on_a_test_image(method, scale):
    import aip.restore as R
    from aip.degrade import degrade
    from aip.io import load_sample
    from aip.metrics import psnr

    learned._CACHE.clear()
    x = load_sample("camera", size=128)
    y = degrade(x, downsample=scale).y
    inner = (slice(scale, -scale), slice(scale, -scale))
    p_bic = psnr(x[inner], np.clip(R.upscale(y, scale, "bicubic"), 0, 1)[inner], data_range=1)
    p_net = psnr(x[inner], np.clip(R.upscale(y, scale, method), 0, 1)[inner], data_range=1)
    assert p_net > p_bic + 0.3, (p_net, p_bic)


def test_shipped_srgan_is_sharper_than_its_psnr_twin_and_still_beats_bicubic():
    """SRGAN trades PSNR for detail: on camera x4 (128 px) it is above bicubic in PSNR (22.86 vs 22.60 dB at
    export) and its high-frequency ratio is far nearer the original's than SRResNet's (0.54 vs 0.32)."""
    import aip.restore as R
    from aip.degrade import degrade
    from aip.io import load_sample
    from aip.metrics import high_frequency_ratio, psnr

    learned._CACHE.clear()
    x = load_sample("camera", size=128)
    y = degrade(x, downsample=4).y
    inner = (slice(4, -4), slice(4, -4))
    out = {m: np.clip(R.upscale(y, 4, m), 0, 1)[inner] for m in ("bicubic", "srresnet", "srgan")}
    p = {m: psnr(x[inner], o, data_range=1) for m, o in out.items()}
    hf = {m: high_frequency_ratio(x[inner], o, cutoff=0.125) for m, o in out.items()}
    assert p["srgan"] > p["bicubic"] + 0.1 and p["srresnet"] > p["srgan"], p
    assert hf["srgan"] > 1.4 * hf["srresnet"] > 1.4 * hf["bicubic"], hf


def test_shipped_blind_deblurrer_sharpens_without_a_psf(tmp_path, capsys):
    import aip.restore as R
    from aip.cli.main import main
    from aip.degrade import Blur, add_gaussian_noise, gaussian
    from aip.io import load_sample
    from aip.metrics import psnr

    learned._CACHE.clear()
    x = load_sample("camera", size=96)
    y = np.clip(add_gaussian_noise(Blur(gaussian(1.6)).A(x), 2.55 / 255, rng=0), 0, 1).astype(np.float32)
    out = R.deblur(y, None, "msdeblur", sigma=2.55 / 255)
    inner = (slice(8, -8), slice(8, -8))
    assert psnr(x[inner], np.clip(out, 0, 1)[inner], data_range=1) > psnr(x[inner], y[inner], data_range=1) + 1.0
    np.save(tmp_path / "y.npy", y)
    assert main(["deblur", str(tmp_path / "y.npy"), "-o", str(tmp_path / "o.npy"), "--method", "msdeblur",
                 "--sigma", "2.55", "--json"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), out, atol=1e-5)


def test_shipped_context_encoder_fills_a_central_hole(tmp_path, capsys):
    import aip.restore as R
    from aip.cli.main import main
    from aip.io import load_sample

    learned._CACHE.clear()
    x = load_sample("camera", size=64)
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True                                    # the 25% central hole it was trained on
    y = np.where(mask, 0.0, x).astype(np.float32)
    out = R.inpaint(y, mask, "context_encoder")
    flat = np.where(mask, x[~mask].mean(), x)                    # the hole filled with the mean grey

    def hole_psnr(img):
        return -10 * np.log10(np.mean((np.clip(img, 0, 1)[mask] - x[mask]) ** 2))

    assert hole_psnr(out) > hole_psnr(flat) + 2
    np.testing.assert_array_equal(out[~mask], y[~mask])           # the known pixels are kept
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "m.npy", mask)
    assert main(["inpaint", str(tmp_path / "y.npy"), "-o", str(tmp_path / "o.npy"), "--mask", str(tmp_path / "m.npy"),
                 "--method", "context_encoder", "--json"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), out, atol=1e-5)
