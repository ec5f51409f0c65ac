"""``aip fractal encode | decode | bench`` end to end, in process."""

import json

import numpy as np

import aip
from aip.cli.main import main
from aip.metrics import psnr


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_encode_decode_json_force(tmp_path, capsys):
    src = tmp_path / "in.png"
    img = aip.io.load_sample("camera", size=48)
    aip.io.write_image(src, img)
    f = tmp_path / "x.aipf"
    code, out, _ = _run(capsys, "fractal", "encode", str(src), "-o", str(f), "--quality", "60", "--json")
    assert code == 0
    res = json.loads(out)
    assert res["bytes"] == f.stat().st_size
    assert abs(res["bpp"] - 8 * res["bytes"] / 48 ** 2) < 1e-9
    assert abs(res["ratio"] - 48 ** 2 / res["bytes"]) < 1e-6
    ref = aip.io.read_image(src)
    dec = aip.fractal.decode(f.read_bytes())
    assert abs(res["psnr"] - psnr(ref, dec, data_range=1.0)) < 1e-6
    # refuses to overwrite without --force
    code, _, err = _run(capsys, "fractal", "encode", str(src), "-o", str(f))
    assert code == 2 and "exists" in err and err.count("\n") == 1
    assert _run(capsys, "fractal", "encode", str(src), "-o", str(f), "--force", "--max-bytes", "500")[0] == 0
    assert 490 < f.stat().st_size <= 500
    png = tmp_path / "out.png"
    code, out, _ = _run(capsys, "fractal", "decode", str(f), "-o", str(png), "--json")
    assert code == 0 and json.loads(out)["width"] == 48
    back = aip.io.read_image(png)
    assert np.abs(back - aip.fractal.decode(f.read_bytes())).max() <= 0.5 / 255 + 1e-6
    code, _, _ = _run(capsys, "fractal", "decode", str(f), "-o", str(tmp_path / "big.png"), "--scale", "2")
    assert code == 0 and aip.io.read_image(tmp_path / "big.png").shape == (96, 96)


def test_sample_name_and_colour(tmp_path, capsys):
    f = tmp_path / "c.aipf"
    code, out, _ = _run(capsys, "fractal", "encode", "coffee", "-o", str(f), "--quality", "10", "--json")
    assert code == 0
    assert aip.fractal.read_header(f.read_bytes())["channels"] == 3
    assert json.loads(out)["psnr"] > 20


def test_corrupt_file_exits_2(tmp_path, capsys):
    f = tmp_path / "bad.aipf"
    f.write_bytes(b"AIPF" + bytes(60))
    code, _, err = _run(capsys, "fractal", "decode", str(f), "-o", str(tmp_path / "o.png"))
    assert code == 2 and err.startswith("aip: error:") and err.count("\n") == 1
    f.write_bytes(b"hello")
    assert _run(capsys, "fractal", "decode", str(f), "-o", str(tmp_path / "o.png"))[0] == 2
    assert _run(capsys, "fractal", "decode", str(tmp_path / "missing.aipf"), "-o", str(tmp_path / "o.png"))[0] == 2
    assert not (tmp_path / "o.png").exists()


def test_bench_table(tmp_path, capsys):
    src = tmp_path / "in.png"
    aip.io.write_image(src, aip.io.load_sample("camera", size=32))
    code, out, _ = _run(capsys, "fractal", "bench", str(src), "--quality", "20", "80", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 2 and rows[0]["bytes"] < rows[1]["bytes"]
