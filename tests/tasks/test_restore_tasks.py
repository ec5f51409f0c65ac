"""aip.tasks.restore: the service functions behind the CLI give the CLI's numbers and its one-line errors."""

import json

import numpy as np
import pytest

from aip.cli.main import main
from aip.degrade import degrade
from aip.io import load_sample, read_image, write_image
from aip.metrics import psnr
from aip.tasks import restore_file, restore_image


@pytest.fixture()
def pair(tmp_path):
    x = load_sample("camera", size=48)
    y = degrade(x, noise=25 / 255, rng=1).y
    clean, noisy = tmp_path / "clean.png", tmp_path / "noisy.png"
    write_image(clean, x)
    write_image(noisy, y)
    return clean, noisy


@pytest.mark.parametrize("task, extra, cli", [
    ("denoise", {"method": "nlm", "sigma": 25}, ["--method", "nlm", "--sigma", "25"]),
    ("deblur", {"method": "wiener", "psf": "gaussian:1.2", "sigma": 5},
     ["--method", "wiener", "--psf", "gaussian:1.2", "--sigma", "5"]),
    ("inpaint", {"method": "harmonic", "mask": "random:0.3"}, ["--method", "harmonic", "--mask", "random:0.3"]),
])
def test_service_function_equals_the_cli(tmp_path, pair, capsys, task, extra, cli):
    clean, noisy = pair
    api = restore_file(task, noisy, tmp_path / "api.png", reference=clean, **extra)
    assert main([task, str(noisy), "-o", str(tmp_path / "cli.png"), "--reference", str(clean), "--json", *cli]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("psnr", "ssim", "method", "output_shape"):
        assert out[key] == pytest.approx(api[key])
    np.testing.assert_array_equal(read_image(tmp_path / "api.png"), read_image(tmp_path / "cli.png"))
    # the array function gives the same restored image as the file one
    img, res = restore_image(task, read_image(noisy), reference=read_image(clean), **extra)
    assert res["psnr"] == pytest.approx(psnr(read_image(clean), np.clip(img, 0, 1), data_range=1.0))


def test_restore_image_validates_before_work():
    x = load_sample("camera", size=32)
    with pytest.raises(ValueError, match="--psf: expected a blur kernel"):
        restore_image("deblur", x, method="tv")
    with pytest.raises(ValueError, match="--method: expected one of"):
        restore_image("denoise", x, method="nope")
    with pytest.raises(ValueError, match="--set zz: expected a knob"):
        restore_image("denoise", x, method="nlm", knobs={"zz": 1})
    with pytest.raises(ValueError, match="task: expected one of"):
        restore_image("sharpen", x)
    with pytest.raises(ValueError, match=r"--sigma: expected a number in \(0, 255\]"):
        restore_image("denoise", x, sigma=300)
    with pytest.raises(ValueError, match="--mask: expected"):
        restore_image("inpaint", x)


def test_restore_file_never_overwrites_without_force(tmp_path, pair):
    _, noisy = pair
    out = tmp_path / "out.png"
    out.write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="already exists"):
        restore_file("denoise", noisy, out, method="gaussian", sigma=25)
    assert out.read_bytes() == b"mine"
    restore_file("denoise", noisy, out, method="gaussian", sigma=25, force=True)
    assert read_image(out).shape == (48, 48)
