"""CLI: aip degrade and aip denoise|deblur|upscale|inpaint, end to end on tiny images."""

import json

import numpy as np
import pytest

from aip.cli.main import main
from aip.degrade import Blur, Mask, degrade, gaussian
from aip.io import load_sample, read_image, write_image
from aip.metrics import psnr


@pytest.fixture()
def clean_file(tmp_path):
    x = load_sample("camera", size=48)
    p = tmp_path / "clean.png"
    write_image(p, x)
    return p, read_image(p)


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_degrade_writes_image_mask_and_psf(tmp_path, clean_file, capsys):
    src, x = clean_file
    out = tmp_path / "y.npy"
    rc = main(["degrade", str(src), "-o", str(out), "--blur", "gaussian:1.6", "--downsample", "2",
               "--mask", "random:0.5", "--noise", "gaussian:25", "--seed", "3", "--json"])
    assert rc == 0
    info = _json(capsys)
    y = np.load(out)
    ref = degrade(x, blur="gaussian:1.6", downsample=2, mask="random:0.5", noise=25 / 255, rng=3)
    np.testing.assert_allclose(y, ref.y, atol=1e-6)  # the same seeded chain as the API
    m = read_image(tmp_path / "y_mask.png") > 0.5
    np.testing.assert_array_equal(m, ref.mask)
    np.testing.assert_allclose(np.load(tmp_path / "y_psf.npy"), gaussian(1.6), atol=1e-15)
    assert info["output_shape"] == [24, 24] and info["sigma_255"] == pytest.approx(25.0)
    assert info["missing_fraction"] == pytest.approx(0.5)
    # existing outputs need --force
    assert main(["degrade", str(src), "-o", str(out), "--noise", "gaussian:5"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["degrade", str(src), "-o", str(out), "--noise", "gaussian:5", "--force"]) == 0


def test_degrade_sample_name_and_errors(tmp_path, capsys):
    out = tmp_path / "s.png"
    assert main(["degrade", "camera", "-o", str(out), "--blur", "box:3"]) == 0
    y = read_image(out)
    ref = Blur(np.ones((3, 3)), mode="symmetric").A(load_sample("camera"))
    assert np.abs(y - ref).max() <= 0.5 / 255 + 1e-6  # 8-bit rounding only
    capsys.readouterr()
    for bad in (["--noise", "gaussian:-1"], ["--blur", "blob:3"], ["--mask", "random:2"], ["--downsample", "0"]):
        assert main(["degrade", "camera", "-o", str(tmp_path / "e.png"), *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("aip: error:") and err.count("\n") == 1
    assert main(["degrade", str(tmp_path / "missing.png"), "-o", str(tmp_path / "e.png")]) == 2


def test_denoise_cli_matches_api_and_reports(tmp_path, clean_file, capsys):
    import aip.restore as R

    src, x = clean_file
    noisy = x + 25 / 255 * np.random.default_rng(0).standard_normal(x.shape)
    np.save(tmp_path / "n.npy", noisy.astype(np.float32))
    out = tmp_path / "d.npy"
    rc = main(["denoise", str(tmp_path / "n.npy"), "-o", str(out), "--method", "gaussian", "--sigma", "25",
               "--reference", str(src), "--json"])
    assert rc == 0
    info = _json(capsys)
    got = np.load(out)
    api = R.denoise(noisy.astype(np.float32), "gaussian", sigma=25 / 255)
    np.testing.assert_allclose(got, api, atol=1e-6)
    assert info["method"] == "gaussian" and info["time_s"] >= 0
    assert info["psnr"] == pytest.approx(psnr(x, np.clip(got, 0, 1), data_range=1.0), abs=1e-6)
    assert info["psnr"] > psnr(x, np.clip(noisy, 0, 1), data_range=1.0) and 0 < info["ssim"] <= 1
    # --sigma auto estimates from the image
    rc = main(["denoise", str(tmp_path / "n.npy"), "-o", str(tmp_path / "a.npy"), "--method", "gaussian", "--json"])
    info = _json(capsys)
    assert rc == 0 and info["sigma_estimated"] and abs(info["sigma_255"] - 25) < 5


def test_denoise_cli_progress_bar_unless_json(tmp_path, clean_file, capsys):
    """A restore command shows one bar over the image on stderr (WNNM's rounds report into it); --json
    keeps stderr quiet; the output is the same either way."""
    _, x = clean_file
    gray = x.mean(-1) if x.ndim == 3 else x
    noisy = (gray + 0.1 * np.random.default_rng(1).standard_normal(gray.shape)).astype(np.float32)
    np.save(tmp_path / "n.npy", noisy)
    args = ["denoise", str(tmp_path / "n.npy"), "--sigma", "25.5", "--method", "wnnm", "--set", "n_iter=2"]
    assert main([*args, "-o", str(tmp_path / "a.npy")]) == 0
    err = capsys.readouterr().err
    assert "denoise wnnm" in err and "px" in err and "WNNM:" not in err
    assert main([*args, "-o", str(tmp_path / "b.npy"), "--json"]) == 0
    assert "denoise wnnm" not in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_restore_cli_defaults_are_the_fast_methods(tmp_path, clean_file, capsys):
    """Without --method each command runs the registry's default, as the Python API does."""
    import aip.restore as R

    src, x = clean_file
    noisy = (x + 25 / 255 * np.random.default_rng(2).standard_normal(x.shape)).astype(np.float32)
    np.save(tmp_path / "n.npy", noisy)
    assert main(["denoise", str(tmp_path / "n.npy"), "-o", str(tmp_path / "d.npy"), "--sigma", "25",
                 "--reference", str(src), "--json"]) == 0
    info = _json(capsys)
    assert info["method"] == "nlm" == R.DEFAULTS["denoise"]
    np.testing.assert_allclose(np.load(tmp_path / "d.npy"), R.denoise(noisy, sigma=25 / 255), atol=1e-6)
    assert info["psnr"] > psnr(x, np.clip(noisy, 0, 1), data_range=1.0) + 4
    m = np.zeros(x.shape[:2], bool)
    m[20:24, 5:40] = True
    write_image(tmp_path / "m.png", m.astype(np.float32))
    write_image(tmp_path / "holes.png", np.where(m if x.ndim == 2 else m[..., None], 0, x))
    for task, extra in (("deblur", ["--psf", "gaussian:1.0", "--sigma", "1"]), ("upscale", []),
                        ("inpaint", ["--mask", str(tmp_path / "m.png")])):
        src_img = str(tmp_path / "holes.png") if task == "inpaint" else str(src)
        assert main([task, src_img, "-o", str(tmp_path / f"{task}.npy"), *extra, "--json"]) == 0
        assert _json(capsys)["method"] == R.DEFAULTS[task]


def test_deblur_upscale_inpaint_cli(tmp_path, clean_file, capsys):
    import aip.restore as R

    src, x = clean_file
    y = Blur(gaussian(1.6)).A(x.astype(np.float64))
    np.save(tmp_path / "b.npy", y.astype(np.float32))
    assert main(["deblur", str(tmp_path / "b.npy"), "-o", str(tmp_path / "db.npy"), "--psf", "gaussian:1.6",
                 "--sigma", "1", "--method", "wiener", "--edges", "circular", "--reference", str(src),
                 "--json"]) == 0
    info = _json(capsys)
    assert info["psf_shape"] == [11, 11] and info["psnr"] > psnr(x, y, data_range=1.0)
    # tiles, and the default mirrored edges on data blurred with the symmetric boundary (aip degrade's default)
    ys = Blur(gaussian(1.6), mode="symmetric").A(x.astype(np.float64))
    np.save(tmp_path / "bs.npy", ys.astype(np.float32))
    assert main(["deblur", str(tmp_path / "bs.npy"), "-o", str(tmp_path / "dbs.npy"), "--psf", "gaussian:1.6",
                 "--sigma", "1", "--method", "wiener", "--tile", "32", "--reference", str(src), "--json"]) == 0
    info = _json(capsys)
    assert info["edges"] == "mirror" and info["psnr"] > psnr(x, ys, data_range=1.0) + 1.0

    m = np.zeros(x.shape, bool)
    m[::3, ::2] = True
    write_image(tmp_path / "m.png", m.astype(np.float32))
    write_image(tmp_path / "holes.png", Mask(m).A(x))
    assert main(["inpaint", str(tmp_path / "holes.png"), "-o", str(tmp_path / "f.npy"), "--mask",
                 str(tmp_path / "m.png"), "--method", "tv", "--reference", str(src), "--json"]) == 0
    info = _json(capsys)
    assert info["missing_fraction"] == pytest.approx(m.mean()) and info["psnr"] > 25

    write_image(tmp_path / "small.png", x[::2, ::2])
    assert main(["upscale", str(tmp_path / "small.png"), "-o", str(tmp_path / "big.npy"), "--scale", "2",
                 "--method", "bicubic", "--json"]) == 0
    info = _json(capsys)
    big = np.load(tmp_path / "big.npy")
    assert info["output_shape"] == [48, 48]
    np.testing.assert_allclose(big, R.upscale(read_image(tmp_path / "small.png"), 2, "bicubic"), atol=1e-6)


def test_restore_cli_help_lists_methods_and_errors(tmp_path, capsys):
    assert main(["denoise", "--help"]) == 0
    text = capsys.readouterr().out
    for name in ("nlm ~0.6 s (default)", "wnnm ~12 min (best quality)", "dct ~4 s", "bilateral_grid", "ksvd",
                 "seconds per colour megapixel", "1024 pixels"):
        assert name in " ".join(text.split())
    import aip.restore as R

    assert R.AUTO_TILE == 1024
    assert main(["denoise", "camera", "-o", str(tmp_path / "o.png"), "--sigma", "-3"]) == 2
    assert "--sigma" in capsys.readouterr().err
    assert main(["inpaint", "camera", "-o", str(tmp_path / "o.png"), "--mask", str(tmp_path / "nope.png")]) == 2
    capsys.readouterr()
    write_image(tmp_path / "m.png", np.zeros((8, 8), np.float32))
    assert main(["inpaint", "camera", "-o", str(tmp_path / "o.png"), "--mask", str(tmp_path / "m.png")]) == 2
    assert "expected a mask of size" in capsys.readouterr().err
    assert main(["denoise", "camera", "-o", str(tmp_path / "o.png"), "--set", "1x=2"]) == 2


def test_denoise_colour_flag(tmp_path, capsys):
    import aip.restore as R

    x = load_sample("astronaut", size=48).astype(np.float64)
    y = x + 25 / 255 * np.random.default_rng(0).standard_normal(x.shape)
    np.save(tmp_path / "n.npy", y.astype(np.float32))
    outs = {}
    for colour in ("opponent", "rgb"):
        out = tmp_path / f"{colour}.npy"
        assert main(["denoise", str(tmp_path / "n.npy"), "-o", str(out), "--method", "dct", "--sigma", "25",
                     "--colour", colour]) == 0
        outs[colour] = np.load(out)
        ref = R.denoise(y.astype(np.float32), "dct", sigma=25 / 255, colour=colour)
        np.testing.assert_allclose(outs[colour], ref, atol=1e-6)
    assert np.abs(outs["opponent"] - outs["rgb"]).max() > 1e-3
    # argparse rejects the choice in one line, exit code 2
    assert main(["denoise", str(tmp_path / "n.npy"), "-o", str(tmp_path / "e.npy"), "--colour", "lab"]) == 2


def test_deblur_pnp_with_the_shipped_denoiser(tmp_path, capsys):
    import aip.restore as R
    from aip.degrade import make_kernel

    x = load_sample("camera", size=48).astype(np.float32)
    assert main(["degrade", "camera", "-o", str(tmp_path / "b.npy"), "--blur", "gaussian:1.2", "--noise",
                 "gaussian:2.55", "--seed", "0", "--json"]) == 0
    capsys.readouterr()
    y = np.load(tmp_path / "b.npy")[:48, :48]
    np.save(tmp_path / "y.npy", y)
    assert main(["deblur", str(tmp_path / "y.npy"), "-o", str(tmp_path / "o.npy"), "--psf", "gaussian:1.2",
                 "--sigma", "2.55", "--method", "pnp", "--denoiser", "ffdnet", "--set", "n_iter=3"]) == 0
    ref = R.deblur(y, make_kernel("gaussian:1.2"), "pnp", sigma=0.01, denoiser="ffdnet", n_iter=3)
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), ref, atol=1e-5)
    assert x.shape == y.shape
    capsys.readouterr()
    assert main(["deblur", str(tmp_path / "y.npy"), "-o", str(tmp_path / "p.npy"), "--psf", "gaussian:1.2",
                 "--denoiser", "ffdnet"]) == 2
    assert "--denoiser: expected --method pnp" in capsys.readouterr().err


def test_deblur_psf_is_required_except_for_the_blind_method(tmp_path, capsys):
    """--psf: needed by every non-blind method, refused by the blind msdeblur; one line, exit 2."""
    import aip.restore as R

    np.save(tmp_path / "y.npy", np.full((16, 16), 0.5, np.float32))
    assert main(["deblur", str(tmp_path / "y.npy"), "-o", str(tmp_path / "o.npy"), "--method", "tv"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--psf: expected a blur kernel (e.g. --psf gaussian:1.6) for --method tv" in err
    assert main(["deblur", str(tmp_path / "y.npy"), "-o", str(tmp_path / "o.npy"), "--method", "msdeblur",
                 "--psf", "gaussian:1.6"]) == 2
    assert "--psf: --method msdeblur is blind and takes no PSF" in capsys.readouterr().err
    assert not (tmp_path / "o.npy").exists()
    with pytest.raises(ValueError, match="psf: expected a blur kernel .* for method 'wiener'; only the blind"):
        R.deblur(np.zeros((16, 16)), None, sigma=0.01)
    assert main(["deblur", "--help"]) == 0
    assert "msdeblur" in capsys.readouterr().out
