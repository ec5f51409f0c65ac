import numpy as np
import pytest
from PIL import Image

from aip._shared.validate import as_image, int_to_float
from aip.io import load_image, load_sample, read_image, write_image


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp", ".npy"])
@pytest.mark.parametrize("shape", [(13, 7), (9, 11, 3)])
def test_lossless_round_trip_8bit(tmp_path, rng, suffix, shape):
    img = rng.integers(0, 256, size=shape).astype(np.float32) / 255.0
    p = write_image(tmp_path / f"x{suffix}", img)
    back = read_image(p)
    assert back.dtype == np.float32 and back.shape == img.shape
    np.testing.assert_array_equal(back, img)


def test_16bit_gray_png_and_rgb_tiff(tmp_path, rng):
    g = rng.integers(0, 65536, size=(10, 12)).astype(np.float64) / 65535.0
    back = read_image(write_image(tmp_path / "g.png", g, bit_depth=16))
    assert np.max(np.abs(back - g)) < 1e-6
    c = rng.integers(0, 65536, size=(6, 5, 3)).astype(np.float64) / 65535.0
    back = read_image(write_image(tmp_path / "c.tif", c, bit_depth=16))
    assert back.shape == c.shape and np.max(np.abs(back - c)) < 1e-6


def test_rgba_alpha_modes(tmp_path):
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[..., 0] = 255
    arr[..., 3] = 0  # fully transparent red
    Image.fromarray(arr).save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png").shape == (4, 4, 4)
    assert read_image(tmp_path / "a.png", alpha="drop").shape == (4, 4, 3)
    comp = read_image(tmp_path / "a.png", alpha="composite")
    np.testing.assert_allclose(comp, 1.0)  # transparent over white is white


def test_jpeg_close(tmp_path):
    img = load_sample("camera", size=64)
    back = read_image(write_image(tmp_path / "c.jpg", img, quality=95))
    assert np.abs(back - img).mean() < 0.02


def test_exif_orientation_honoured(tmp_path):
    arr = np.zeros((2, 3), np.uint8)
    arr[0, 0] = 255
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 CW for display
    im.save(tmp_path / "o.jpg", exif=exif, quality=100)
    out = read_image(tmp_path / "o.jpg")
    assert out.shape == (3, 2)  # upright as a viewer shows it


def test_integer_rule():
    np.testing.assert_allclose(int_to_float(np.array([0, 255], np.uint8)), [0, 1])
    np.testing.assert_allclose(int_to_float(np.array([0, 65535], np.uint16)), [0, 1])
    # floats are never rescaled
    assert as_image(np.full((2, 2), 3.0)).max() == 3.0


def test_no_overwrite_without_force(tmp_path):
    p = write_image(tmp_path / "x.png", np.zeros((3, 3)))
    with pytest.raises(FileExistsError, match="--force"):
        write_image(p, np.ones((3, 3)))
    write_image(p, np.ones((3, 3)), force=True)
    assert read_image(p).min() == 1.0


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="not an image"):
        read_image(tmp_path / "junk.png")
    with pytest.raises(ValueError, match="finite"):
        as_image(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="ndim"):
        as_image(np.zeros((2, 2, 2, 2)))
    with pytest.raises(ValueError, match="suffix"):
        write_image(tmp_path / "x.gif", np.zeros((2, 2)))


def test_samples():
    cam = load_sample("camera")
    assert cam.shape == (512, 512) and cam.dtype == np.float32 and 0 <= cam.min() < cam.max() <= 1
    ast = load_sample("astronaut", gray=True, size=128)
    assert ast.shape == (128, 128)
    assert load_image("coffee").shape[2] == 3
    with pytest.raises(ValueError, match="expected one of"):
        load_sample("lena")
    with pytest.raises(FileNotFoundError, match="built-in sample"):
        load_image("no_such_file_or_sample.png")
