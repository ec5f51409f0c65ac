"""The CPU search runs in numpy without importing torch, and agrees with the torch path."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import aip.fractal as fr
from aip.fractal import search
from aip.fractal.colour import upsample
from aip.fractal.search import PlaneSearch, uses_numpy
from aip.io import load_sample
from aip.metrics import psnr


def _torch_path(monkeypatch):
    monkeypatch.setattr(search, "uses_numpy", lambda device: False)  # device None -> torch on the CPU


def test_backend_choice():
    assert uses_numpy(None) and uses_numpy("cpu") and uses_numpy("CPU")
    assert not uses_numpy("cuda") and not uses_numpy("auto") and not uses_numpy("cuda:0")
    assert PlaneSearch(np.zeros((16, 16), np.float32), step_div=4, max_domains=64, s_max=0.9).device == "numpy"


def test_search_numpy_equals_torch(monkeypatch):
    img = load_sample("camera", size=64)
    args = {"step_div": 4, "max_domains": 1 << 12, "s_max": 0.9}
    b = 4
    yy, xx = np.meshgrid(np.arange(0, 64, b), np.arange(0, 64, b), indexing="ij")
    ref_np = PlaneSearch(img, **args).search(b, yy.ravel(), xx.ravel())
    _torch_path(monkeypatch)
    ps_t = PlaneSearch(img, **args)
    assert ps_t.device.type == "cpu"
    ref_t = ps_t.search(b, yy.ravel(), xx.ravel())
    same = (ref_np["p"] == ref_t["p"]) & (ref_np["iso"] == ref_t["iso"])
    assert same.mean() >= 0.99  # float32 GEMMs of two BLAS libraries: ties may break differently
    np.testing.assert_allclose(np.abs(ref_np["corr"]), np.abs(ref_t["corr"]), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(ref_np["rss"], ref_t["rss"])


@pytest.mark.parametrize("name", ["camera", "coffee"])
def test_encode_numpy_vs_torch(monkeypatch, name):
    img = load_sample(name, size=96)
    a = fr.encode(img, quality=50)
    _torch_path(monkeypatch)
    b = fr.encode(img, quality=50)
    pa, pb = psnr(img, fr.decode(a), data_range=1.0), psnr(img, fr.decode(b), data_range=1.0)
    assert abs(len(a) - len(b)) <= 0.01 * len(b)
    assert abs(pa - pb) < 0.05
    if a == b:  # the usual case (camera 512: byte-identical files)
        assert pa == pb


def test_upsample_matches_torch_bilinear():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    plane = rng.random((7, 9)).astype(np.float32)
    for factor, shape in ((2, (14, 18)), (2, (13, 17)), (3, (20, 25))):
        t = torch.from_numpy(plane)[None, None]
        ref = torch.nn.functional.interpolate(t, scale_factor=factor, mode="bilinear", align_corners=False)
        ref = ref[0, 0, : shape[0], : shape[1]].numpy()
        got = upsample(plane, factor, shape)
        assert got.shape == shape and got.dtype == np.float32
        np.testing.assert_allclose(got, ref, atol=1e-6)  # float32 rounding of the source coordinate


def test_cpu_encode_decode_do_not_import_torch():
    code = ("import sys, numpy as np, aip.fractal as fr\n"
            "rng = np.random.default_rng(0)\n"
            "img = rng.random((48, 40, 3)).astype(np.float32)\n"
            "out = fr.decode(fr.encode(img, quality=40))\n"
            "assert out.shape == (48, 40, 3)\n"
            "print('torch' in sys.modules)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"
