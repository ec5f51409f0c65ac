"""CLI: bombs and absurd sizes refused in one line (exit 2), --max-pixels, 16-bit kept, SIGTERM -> 143."""

from __future__ import annotations

import os
import signal
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import aip.cli.degrade as cli_degrade
from aip.cli.main import main
from aip.io import read_image, write_image
from aip.io.images import get_max_pixels, image_info


def bomb_png(path, width=60000, height=60000):
    """A 64x64 gray PNG whose IHDR is patched to declare ``width`` x ``height`` (CRC fixed)."""
    Image.new("L", (64, 64), 128).save(path)
    raw = bytearray(path.read_bytes())
    raw[16:24] = struct.pack(">II", width, height)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    path.write_bytes(bytes(raw))
    return path


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err):
    assert code == 2, err
    assert err.startswith("aip: error: ") and err.count("\n") == 1, err


@pytest.mark.parametrize("command", [["degrade"], ["fractal", "encode"]])
def test_bomb_png_one_line(tmp_path, capsys, command):
    bomb = bomb_png(tmp_path / "bomb.png")
    code, _, err = _run(capsys, *command, bomb, "-o", tmp_path / "out.aipf")
    _one_line_error(code, err)
    assert "60000x60000" in err
    assert sorted(os.listdir(tmp_path)) == ["bomb.png"]


def test_fractal_encode_checks_codec_size_from_header(tmp_path, capsys):
    bomb = bomb_png(tmp_path / "wide.png", 40000, 100)  # 4 MP: under the pixel limit, over the codec's side
    code, _, err = _run(capsys, "fractal", "encode", bomb, "-o", tmp_path / "o.aipf")
    _one_line_error(code, err)
    assert "sides up to 32768" in err and "40000x100" in err


def test_max_pixels_flag(tmp_path, capsys):
    src = write_image(tmp_path / "x.png", np.full((40, 50), 0.5))
    code, _, err = _run(capsys, "degrade", src, "-o", tmp_path / "y.png", "--max-pixels", "1k")
    _one_line_error(code, err)
    assert "at most 0.001 megapixels" in err and "50x40 = 0.002 megapixels" in err
    code, _, err = _run(capsys, "--max-pixels", "1000", "degrade", src, "-o", tmp_path / "y.png")
    _one_line_error(code, err)
    assert _run(capsys, "--max-pixels", "1000", "degrade", src, "-o", tmp_path / "y.png",
                "--max-pixels", "2000")[0] == 0  # the command's own flag wins
    assert read_image(tmp_path / "y.png").shape == (40, 50)
    assert get_max_pixels() == 100_000_000  # restored after the command


@pytest.mark.parametrize("spec", ["box:100000", "gaussian:1e6", "disk:50000", "motion:1e7:30",
                                  "random_motion:99999", "gaussian:1:100001"])
def test_absurd_kernel_sizes_one_line(tmp_path, capsys, spec):
    src = write_image(tmp_path / "x.png", np.full((32, 32), 0.5))
    code, _, err = _run(capsys, "degrade", src, "-o", tmp_path / "y.png", "--blur", spec)
    _one_line_error(code, err)
    assert "32x32" in err
    assert sorted(os.listdir(tmp_path)) == ["x.png"]


@pytest.mark.parametrize("spec", ["blocks:100000", "scribble:3:5000", "text:100000", "scribble:100000000"])
def test_absurd_mask_sizes_one_line(tmp_path, capsys, spec):
    src = write_image(tmp_path / "x.png", np.full((32, 32), 0.5))
    code, _, err = _run(capsys, "degrade", src, "-o", tmp_path / "y.png", "--mask", spec)
    _one_line_error(code, err)
    assert "32x32" in err or "at most" in err


def test_absurd_downsample_one_line(tmp_path, capsys):
    src = write_image(tmp_path / "x.png", np.full((32, 32), 0.5))
    code, _, err = _run(capsys, "degrade", src, "-o", tmp_path / "y.png", "--downsample", "1000000")
    _one_line_error(code, err)
    assert "32x32" in err


def test_16bit_input_stays_16bit(tmp_path, capsys):
    g = np.linspace(0, 1, 32 * 32).reshape(32, 32)
    src = write_image(tmp_path / "g16.png", g, bit_depth=16)
    assert _run(capsys, "degrade", src, "-o", tmp_path / "y.png")[0] == 0
    assert image_info(tmp_path / "y.png")["bit_depth"] == 16
    np.testing.assert_array_equal(read_image(tmp_path / "y.png"), read_image(src))  # no 8-bit rounding
    assert _run(capsys, "degrade", src, "-o", tmp_path / "y8.png", "--bit-depth", "8")[0] == 0
    assert image_info(tmp_path / "y8.png")["bit_depth"] == 8
    src8 = write_image(tmp_path / "g8.png", g)
    assert _run(capsys, "degrade", src8, "-o", tmp_path / "z.png")[0] == 0
    assert image_info(tmp_path / "z.png")["bit_depth"] == 8
    assert _run(capsys, "degrade", src, "-o", tmp_path / "y.jpg")[0] == 0  # JPEG: 8 bits, no error
    code, _, err = _run(capsys, "degrade", src, "-o", tmp_path / "y2.jpg", "--bit-depth", "16")
    _one_line_error(code, err)


def test_sigterm_exit_143_and_no_temp(tmp_path, capsys, monkeypatch):
    def run(args):
        from aip._shared.files import atomic_write

        def writer(tmp):
            with open(tmp, "wb") as fh:
                fh.write(b"partial")
            os.kill(os.getpid(), signal.SIGTERM)  # what `timeout` sends, mid-write

        atomic_write(args.output, writer)
        return 0

    monkeypatch.setattr(cli_degrade, "run", run)
    before = signal.getsignal(signal.SIGTERM)
    code, _, err = _run(capsys, "degrade", "camera", "-o", tmp_path / "y.png")
    assert code == 143 and err == "aip: terminated (SIGTERM)\n"
    assert os.listdir(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is before  # handler restored


def test_fractal_decode_bad_inputs_name_the_file(tmp_path, capsys):
    out = tmp_path / "o.png"
    for src, words in ((tmp_path / "none.aipf", "none.aipf: no such file"),
                       (tmp_path, "no input files (.aipf) found")):   # a folder is a batch
        code, _, err = _run(capsys, "fractal", "decode", src, "-o", out)
        _one_line_error(code, err)
        assert words in err
    bad = tmp_path / "bad.aipf"
    bad.write_bytes(b"hello")
    code, _, err = _run(capsys, "fractal", "decode", bad, "-o", out)
    _one_line_error(code, err)
    assert f"{bad}: not an .aipf file" in err
    assert not out.exists()


def test_kernel_shape_matches_built_kernels():
    from aip.degrade.kernels import MAX_KERNEL_SIDE, kernel_shape, make_kernel

    for spec in ("gaussian:1.6", "gaussian:0.3", "gaussian:2:7", "box:5", "disk:0.4", "disk:3.2", "motion:9",
                 "motion:9:30", "motion:12.5:45", "motion:0.5:90", "random_motion", "random_motion:9"):
        assert kernel_shape(spec) == make_kernel(spec, rng=0).shape, spec
    with pytest.raises(ValueError, match=f"at most {MAX_KERNEL_SIDE} pixels a side.*100000x100000"):
        make_kernel("box:100000")
    with pytest.raises(ValueError, match="at most 21x21 pixels .* 10x8 image"):
        make_kernel("box:22", shape=(8, 10))
    assert make_kernel("box:21", shape=(8, 10)).shape == (21, 21)
