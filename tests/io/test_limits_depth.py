"""Header-first pixel limit (decompression bombs), folders as input, 16-bit round trips."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from aip.io import images, read_image, write_image
from aip.io.images import DEFAULT_MAX_PIXELS, check_pixels, image_info, set_max_pixels


def bomb_png(path, width=60000, height=60000):
    """A 64x64 gray PNG whose IHDR is patched to declare ``width`` x ``height`` (CRC fixed)."""
    Image.new("L", (64, 64), 128).save(path)
    raw = bytearray(path.read_bytes())
    raw[16:24] = struct.pack(">II", width, height)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    path.write_bytes(bytes(raw))
    return path


def test_default_limit_documented_value():
    assert DEFAULT_MAX_PIXELS == 100_000_000
    assert images.get_max_pixels() == DEFAULT_MAX_PIXELS
    check_pixels(3000, 4000, "photo")  # a 12-megapixel photo passes
    check_pixels(10000, 10000, "x")  # exactly at the limit passes


def test_bomb_png_refused_from_header(tmp_path):
    p = bomb_png(tmp_path / "bomb.png")
    assert p.stat().st_size < 200
    info = image_info(p)
    assert (info["height"], info["width"], info["channels"], info["bit_depth"]) == (60000, 60000, 1, 8)
    with pytest.raises(ValueError) as exc:
        read_image(p)
    msg = str(exc.value)
    assert "\n" not in msg and "60000x60000 = 3600 megapixels" in msg and "at most 100 megapixels" in msg


def test_pillow_limit_replaced_by_ours(tmp_path, recwarn):
    before = Image.MAX_IMAGE_PIXELS
    p = bomb_png(tmp_path / "b.png", 13000, 13000)  # 169 MP: between Pillow's warning and error sizes
    with pytest.raises(ValueError, match="13000x13000 = 169 megapixels"):
        read_image(p)
    assert Image.MAX_IMAGE_PIXELS == before  # Pillow's own setting restored
    assert len(recwarn) == 0  # no DecompressionBombWarning line beside ours


def test_limit_per_call_and_per_process(tmp_path):
    p = tmp_path / "x.png"
    Image.fromarray(np.zeros((30, 40), np.uint8)).save(p)
    with pytest.raises(ValueError, match="at most 0.001 megapixels.*40x30 = 0.0012 megapixels"):
        read_image(p, max_pixels=1000)
    assert read_image(p, max_pixels=1200).shape == (30, 40)
    old = set_max_pixels(1000)
    try:
        with pytest.raises(ValueError, match="megapixels"):
            read_image(p)
        assert read_image(p, max_pixels=0).shape == (30, 40)  # 0: no limit
    finally:
        set_max_pixels(old)
    with pytest.raises(ValueError, match="max_pixels: expected a whole number"):
        read_image(p, max_pixels=-1)


@pytest.mark.parametrize("suffix", [".npy", ".tif"])
def test_limit_applies_to_npy_and_tiff(tmp_path, suffix):
    p = write_image(tmp_path / f"x{suffix}", np.zeros((20, 50, 3)))
    assert image_info(p)["height"] == 20 and image_info(p)["width"] == 50
    with pytest.raises(ValueError, match="50x20 = 0.001 megapixels"):
        read_image(p, max_pixels=999)


def test_folder_and_missing_inputs(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder; expected an image file"):
        read_image(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_image(tmp_path / "none.png")


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_16bit_colour_png_round_trip(tmp_path, channels):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 65536, size=(9, 7, channels)).astype(np.float64) / 65535.0
    p = write_image(tmp_path / "c16.png", img, bit_depth=16)
    info = image_info(p)
    assert info["bit_depth"] == 16 and info["channels"] == channels
    # a peer decoder reads the same 16-bit values
    cv2 = pytest.importorskip("cv2")
    ref = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    ref = ref[..., {2: [0, 3], 3: [2, 1, 0], 4: [2, 1, 0, 3]}[channels]]  # BGR(A); LA comes as BGRA
    np.testing.assert_array_equal(ref, np.round(img * 65535).astype(np.uint16))
    back = read_image(p)  # Pillow cannot give 16-bit colour; read_image takes it through OpenCV
    assert back.shape == img.shape and np.max(np.abs(back - img)) < 1e-6


def test_16bit_gray_info(tmp_path):
    g = np.linspace(0, 1, 64).reshape(8, 8)
    p = write_image(tmp_path / "g.png", g, bit_depth=16)
    assert image_info(p)["bit_depth"] == 16
    assert image_info(write_image(tmp_path / "g8.png", g))["bit_depth"] == 8
    assert np.max(np.abs(read_image(p) - g)) <= 0.5 / 65535 + 1e-7  # rounding to 16 bits only
