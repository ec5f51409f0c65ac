"""Fractal codec benchmark: rate-distortion against Pillow JPEG and JPEG 2000, speed, memory, zoom.

Run: ``.venv/bin/python benchmarks/fractal.py [--quick]``. Writes ``benchmarks/results/fractal.md``,
``fractal.json`` and ``fractal_rd.png``. Peers run side by side in the same process on the same images:

* JPEG: Pillow, ``optimize=True``, the largest quality whose file fits the byte budget (4:2:0 for colour).
* JPEG 2000: Pillow/OpenJPEG, ``quality_mode="rates"`` at the target compression ratio (fits the budget).
* aip fractal: ``encode(max_bytes=budget)`` (rate control lands in (0.98 budget, budget]).

Timings are wall clock on a shared machine; the load average is recorded next to them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import aip
from aip.fractal import decode, encode
from aip.fractal.codec import Encoder
from aip.metrics import psnr, ssim

RESULTS = Path(__file__).resolve().parent / "results"
RATES = (0.25, 0.5, 1.0)
JPEG_REF = {"camera": (29.3, 31.6, 34.8), "astronaut_gray": (28.5, 32.3, 36.9)}


def images(quick: bool) -> dict[str, np.ndarray]:
    out = {
        "camera": aip.io.load_sample("camera", gray=True, size=512),
        "astronaut_gray": aip.io.load_sample("astronaut", gray=True, size=512),
    }
    if not quick:
        out["coffee_rgb"] = aip.io.load_sample("coffee", size=512)
        out["chelsea_rgb"] = aip.io.load_sample("chelsea")  # native 300x451, non-square
    return out


def _to_pil(img):
    from PIL import Image

    arr = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, mode="L" if arr.ndim == 2 else "RGB")


def _from_pil(im) -> np.ndarray:
    return np.asarray(im, dtype=np.float32) / 255.0


def jpeg(img, q: int) -> tuple[int, np.ndarray]:
    from PIL import Image

    buf = io.BytesIO()
    _to_pil(img).save(buf, format="JPEG", quality=int(q), optimize=True)
    n = buf.tell()
    buf.seek(0)
    return n, _from_pil(Image.open(buf))


def jpeg_at(img, budget: int) -> tuple[int, np.ndarray, int]:
    """Largest JPEG quality (1..100) whose optimised file fits ``budget`` (bisection)."""
    lo, hi = 1, 100
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        n, out = jpeg(img, mid)
        if n <= budget:
            best = (n, out, mid)
            lo = mid + 1
        else:
            hi = mid - 1
    if best is None:
        n, out = jpeg(img, 1)
        best = (n, out, 1)
    return best


def j2k(img, budget: int) -> tuple[int, np.ndarray]:
    from PIL import Image

    raw = img.size  # 8-bit samples
    ratio = raw / budget
    for _ in range(20):
        buf = io.BytesIO()
        _to_pil(img).save(buf, format="JPEG2000", quality_mode="rates", quality_layers=[ratio],
                          irreversible=True)
        if buf.tell() <= budget:
            break
        ratio *= 1.01 * buf.tell() / budget
    n = buf.tell()
    buf.seek(0)
    return n, _from_pil(Image.open(buf))


def rd_point(name, img, rate):
    h, w = img.shape[:2]
    budget = int(rate * h * w / 8)
    row = {"image": name, "rate": rate, "budget": budget}
    t0 = time.perf_counter()
    data = encode(img, max_bytes=budget)
    row["fractal_rc_s"] = time.perf_counter() - t0
    out = decode(data)
    row.update(fractal_bytes=len(data), fractal_bpp=8 * len(data) / h / w,
               fractal_psnr=psnr(img, out, data_range=1.0), fractal_ssim=ssim(img, out, data_range=1.0))
    nd = decode(data, deblock=False)
    row["fractal_psnr_nodeblock"] = psnr(img, nd, data_range=1.0)
    n, jout, q = jpeg_at(img, budget)
    row.update(jpeg_bytes=n, jpeg_bpp=8 * n / h / w, jpeg_quality=q, jpeg_psnr=psnr(img, jout, data_range=1.0),
               jpeg_ssim=ssim(img, jout, data_range=1.0))
    try:
        n, kout = j2k(img, budget)
        row.update(j2k_bytes=n, j2k_bpp=8 * n / h / w, j2k_psnr=psnr(img, kout, data_range=1.0),
                   j2k_ssim=ssim(img, kout, data_range=1.0))
    except (OSError, ValueError) as exc:  # pragma: no cover - Pillow without OpenJPEG
        row["j2k_error"] = str(exc)
    row["fractal_minus_jpeg_db"] = row["fractal_psnr"] - row["jpeg_psnr"]
    return row


def curves(name, img):
    h, w = img.shape[:2]
    enc = Encoder(img)
    fr = []
    for q in np.linspace(0, 100, 21):
        d = enc.encode(float(q))
        fr.append((8 * len(d) / h / w, psnr(img, decode(d), data_range=1.0)))
    jp = []
    for q in (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95):
        n, out = jpeg(img, q)
        jp.append((8 * n / h / w, psnr(img, out, data_range=1.0)))
    k2 = []
    for rate in (0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0):
        try:
            n, out = j2k(img, int(rate * h * w / 8))
            k2.append((8 * n / h / w, psnr(img, out, data_range=1.0)))
        except (OSError, ValueError):  # pragma: no cover - Pillow without OpenJPEG
            break
    return {"fractal": sorted(fr), "jpeg": sorted(jp), "jpeg2000": sorted(k2)}


def _median_time(fn, n):
    """Median wall time of ``n`` runs (and the list); CPU time (all threads) is kept in _CPU."""
    ts, cs = [], []
    for _ in range(n):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
        cs.append(time.process_time() - c0)
    _CPU.append(float(np.median(cs)))
    return float(np.median(ts)), ts


_CPU: list[float] = []


def quality_for_rate(img, rate):
    """Quality whose code is closest under ``rate`` bpp (bisection on the cached encoder)."""
    enc = Encoder(img)
    h, w = img.shape[:2]
    lo, hi = 0.0, 100.0
    for _ in range(14):
        mid = 0.5 * (lo + hi)
        if 8 * len(enc.encode(mid)) / h / w <= rate:
            lo = mid
        else:
            hi = mid
    return lo


def speed(imgs):
    out = {}
    gray = imgs["camera"]
    q = quality_for_rate(gray, 0.5)
    encode(gray, quality=q)  # warm-up (imports, allocator)
    t_enc, all_enc = _median_time(lambda: encode(gray, quality=q), 5)
    cpu_enc = _CPU[-1]
    data = encode(gray, quality=q)
    t_dec, all_dec = _median_time(lambda: decode(data), 7)
    cpu_dec = _CPU[-1]
    out["gray512_quality"] = q
    out["gray512_bpp"] = 8 * len(data) / 512 / 512
    out["gray512_encode_s"] = t_enc
    out["gray512_encode_cpu_s"] = cpu_enc
    out["gray512_encode_all_s"] = all_enc
    out["gray512_decode_s"] = t_dec
    out["gray512_decode_cpu_s"] = cpu_dec
    out["gray512_decode_all_s"] = all_dec
    # one thread (no intra-op or chunk parallelism): CPU time is then nearly independent of the load
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _median_time(lambda: encode(gray, quality=q), 5)
        out["gray512_encode_1thread_cpu_s"] = _CPU[-1]
        rgb = aip.io.load_sample("coffee", size=512)
        _median_time(lambda: encode(rgb, quality=50), 3)
        out["rgb512_encode_1thread_cpu_s"] = _CPU[-1]
    finally:
        torch.set_num_threads(threads)
    t_rgb, all_rgb = _median_time(lambda: encode(rgb, quality=50), 3)
    cpu_rgb = _CPU[-1]
    d = encode(rgb, quality=50)
    out["rgb512_encode_s"] = t_rgb
    out["rgb512_encode_cpu_s"] = cpu_rgb
    out["rgb512_encode_all_s"] = all_rgb
    out["rgb512_bpp"] = 8 * len(d) / 512 / 512
    out["rgb512_decode_s"] = _median_time(lambda: decode(d), 3)[0]
    out["gray512_command_s"], out["gray512_command_all_s"] = command_time(gray, 5)
    return out


def command_time(img, n):
    """Median wall time of the whole ``aip fractal encode`` command (a fresh interpreter: imports included)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.png"
        aip.io.write_image(src, img)
        cmd = [sys.executable, "-m", "aip.cli", "fractal", "encode", str(src), "-o", str(Path(tmp) / "out.fic"),
               "--force"]
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
        return _median_time(lambda: subprocess.run(cmd, check=True, capture_output=True, env=env), n)


_RSS_CHILD = """
import time, numpy as np, torch, aip


def hwm():  # peak resident set of this process image (VmHWM; getrusage would count the forked parent)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])


# 2048x2048 RGB by bicubic upsampling of the 512x512 sample (cheap in memory, unlike a Lanczos resize)
small = torch.from_numpy(aip.io.load_sample("astronaut", size=512)).permute(2, 0, 1)[None]
img = torch.nn.functional.interpolate(small, scale_factor=4, mode="bicubic", align_corners=False)
img = np.ascontiguousarray(img[0].permute(1, 2, 0).clamp(0, 1).numpy())
del small
base = hwm()
t = time.perf_counter()
data = aip.fractal.encode(img, quality=50)
t = time.perf_counter() - t
print(base, hwm(), len(data), t)
"""


def memory():
    res = subprocess.run([sys.executable, "-c", _RSS_CHILD], capture_output=True, text=True, check=True)
    base, peak, n, t = res.stdout.split()
    return {"rgb2048_peak_rss_mib": int(peak) / 1024, "rgb2048_rss_before_encode_mib": int(base) / 1024,
            "rgb2048_bytes": int(n), "rgb2048_bpp": 8 * int(n) / 2048 ** 2, "rgb2048_encode_s": float(t)}


def zoom():
    """Encode a 256x256 image, decode at scale 2, compare with the 512x512 original and bicubic."""
    import torch

    rows = []
    for name in ("camera", "astronaut"):
        full = aip.io.load_sample(name, gray=True, size=512)
        small = full.reshape(256, 2, 256, 2).mean(axis=(1, 3))
        data = encode(small, quality=70)
        z = decode(data, scale=2)
        one = decode(data)
        t = torch.from_numpy(one)[None, None]
        bic = torch.nn.functional.interpolate(t, scale_factor=2, mode="bicubic", align_corners=False)
        bic = bic[0, 0].clamp(0, 1).numpy()
        ts = torch.from_numpy(small)[None, None]
        bic_orig = torch.nn.functional.interpolate(ts, scale_factor=2, mode="bicubic", align_corners=False)
        bic_orig = bic_orig[0, 0].clamp(0, 1).numpy()
        rows.append({"image": name, "bpp_of_256": 8 * len(data) / 256 ** 2,
                     "fractal_zoom_psnr": psnr(full, z, data_range=1.0),
                     "bicubic_of_decoded_psnr": psnr(full, bic, data_range=1.0),
                     "bicubic_of_original_psnr": psnr(full, bic_orig, data_range=1.0),
                     "fractal_zoom_ssim": ssim(full, z, data_range=1.0),
                     "bicubic_of_decoded_ssim": ssim(full, bic, data_range=1.0)})
    return rows


def plot(all_curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(all_curves)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), squeeze=False)
    for ax, (name, cv) in zip(axes[0], all_curves.items()):
        for key, style in (("fractal", "o-"), ("jpeg", "s--"), ("jpeg2000", "^:")):
            pts = np.array(cv[key])
            if len(pts):
                ax.plot(pts[:, 0], pts[:, 1], style, ms=3, label=key)
        ax.set_xlim(0, 1.6)
        ax.set_title(name)
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="gray images only, no memory run")
    args = ap.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    imgs = images(args.quick)
    load_before = os.getloadavg()
    rd = [rd_point(name, img, rate) for name, img in imgs.items() for rate in RATES]
    all_curves = {name: curves(name, img) for name, img in imgs.items()}
    sp = speed(imgs)
    mem = {} if args.quick else memory()
    zm = zoom()
    import torch

    result = {
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "loadavg_start": load_before,
                    "loadavg_end": os.getloadavg()},
        "rd": rd, "curves": all_curves, "speed": sp, "memory": mem, "zoom": zm,
        "targets": {"rd": "fractal PSNR >= JPEG + 0.5 dB at 0.25/0.5/1.0 bpp on camera, astronaut_gray",
                    "gray512_encode_s": 1.0, "gray512_command_s": 1.0, "gray512_decode_s": 0.1, "rgb512_encode_s": 2.0,
                    "rgb2048_peak_rss_mib": 1024},
    }
    (RESULTS / "fractal.json").write_text(json.dumps(result, indent=1))
    plot(all_curves, RESULTS / "fractal_rd.png")
    (RESULTS / "fractal.md").write_text(markdown(result))
    print(markdown(result))
    return 0


def markdown(r) -> str:
    L = ["# Fractal codec benchmark", "",
         (f"Machine: {r['machine']['cpus']} CPUs, torch {r['machine']['torch']} "
          f"({r['machine']['torch_threads']} threads); load average at start "
          f"{r['machine']['loadavg_start'][0]:.1f}, at end {r['machine']['loadavg_end'][0]:.1f} "
          "(the machine is shared: wall times are inflated by the other jobs; CPU times are less so)."), "",
         "## Rate-distortion (same byte budget for all three codecs)", "",
         ("| image | bpp target | fractal bpp | fractal PSNR | (no deblock) | JPEG bpp | JPEG PSNR | "
          "JPEG 2000 PSNR | fractal - JPEG | fractal SSIM | JPEG SSIM |"),
         "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in r["rd"]:
        L.append(f"| {row['image']} | {row['rate']} | {row['fractal_bpp']:.3f} | {row['fractal_psnr']:.2f} | "
                 f"{row['fractal_psnr_nodeblock']:.2f} | {row['jpeg_bpp']:.3f} | {row['jpeg_psnr']:.2f} | "
                 f"{row.get('j2k_psnr', float('nan')):.2f} | {row['fractal_minus_jpeg_db']:+.2f} | "
                 f"{row['fractal_ssim']:.4f} | {row['jpeg_ssim']:.4f} |")
    L += ["", ("Target: fractal at least 0.5 dB above JPEG at 0.25/0.5/1.0 bpp on camera and astronaut_gray "
               "(reference JPEG figures given in the issue: camera 29.3/31.6/34.8, astronaut 28.5/32.3/36.9)."),
          "RD curves: `fractal_rd.png`.", "", "## Speed and memory", "",
          "| measure | value | target |", "|---|---|---|"]
    sp, mem = r["speed"], r["memory"]
    L.append(f"| encode 512x512 gray at {sp['gray512_bpp']:.3f} bpp (median of 5) | "
             f"{sp['gray512_encode_s']:.3f} s wall, {sp['gray512_encode_cpu_s']:.3f} s CPU | <= 1.0 s |")
    if "gray512_command_s" in sp:
        L.append(f"| whole `aip fractal encode` command, 512x512 gray, default quality (fresh process, median of 5) | "
                 f"{sp['gray512_command_s']:.3f} s wall | <= 1.0 s |")
    L.append(f"| decode 512x512 gray (median of 7) | {sp['gray512_decode_s']:.3f} s wall, "
             f"{sp['gray512_decode_cpu_s']:.3f} s CPU | <= 0.1 s |")
    L.append(f"| encode 512x512 RGB (coffee, quality 50, {sp['rgb512_bpp']:.3f} bpp, median of 3) | "
             f"{sp['rgb512_encode_s']:.3f} s wall, {sp['rgb512_encode_cpu_s']:.3f} s CPU | <= 2 s |")
    L.append(f"| decode 512x512 RGB | {sp['rgb512_decode_s']:.3f} s | |")
    L.append(f"| encode 512x512 gray, one thread, CPU time (median of 5) | "
             f"{sp['gray512_encode_1thread_cpu_s']:.3f} s | (<= 1.0 s wall) |")
    L.append(f"| encode 512x512 RGB, one thread, CPU time (median of 3) | "
             f"{sp['rgb512_encode_1thread_cpu_s']:.3f} s | (<= 2 s wall) |")
    if mem:
        L.append(f"| peak RSS, 2048x2048 RGB encode (subprocess; {mem['rgb2048_encode_s']:.1f} s, "
                 f"{mem['rgb2048_bpp']:.3f} bpp) | {mem['rgb2048_peak_rss_mib']:.0f} MiB "
                 f"(process before encode: {mem['rgb2048_rss_before_encode_mib']:.0f} MiB) | < 1024 MiB |")
    L += ["", "## Fractal zoom (256x256 code decoded at scale 2, against the 512x512 original)", "",
          ("| image | bpp (of 256x256) | fractal zoom PSNR | bicubic of decoded PSNR | bicubic of original 256 PSNR |"
           " zoom SSIM | bicubic SSIM |"), "|---|---|---|---|---|---|---|"]
    for z in r["zoom"]:
        L.append(f"| {z['image']} | {z['bpp_of_256']:.3f} | {z['fractal_zoom_psnr']:.2f} | "
                 f"{z['bicubic_of_decoded_psnr']:.2f} | {z['bicubic_of_original_psnr']:.2f} | "
                 f"{z['fractal_zoom_ssim']:.4f} | {z['bicubic_of_decoded_ssim']:.4f} |")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    sys.exit(main())
