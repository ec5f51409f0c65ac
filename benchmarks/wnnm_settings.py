"""The evidence behind WNNM's defaults, on images outside the restoration benchmark.

``aip.restore.denoise_wnnm``'s defaults were chosen here, never on the benchmark's camera, astronaut, coffee and
chelsea. Each part runs two settings side by side on the same seeded noisy image (one thread), with PSNR and
wall time:

- ``eig``: ``eig="warm"`` (warm-started eigenpairs, the default) against ``eig="exact"`` (a full eigh per
  group and round), gray rocket, moon, grass at sigma 15/25/50;
- ``patch``: the paper's patch size (6/7/8) against one pixel more (the gray default), same step, same cases;
- ``step``: reference spacing 5 against 4 (the gray default) at sigma 50, patch 9, same images;
- ``colour``: RGB rocket, retina, immunohistochemistry at sigma 25 through ``aip.restore.denoise`` (opponent
  space, channels matched together): the paper's patch 7 (the colour default) against patch 8.

Usage: ``python benchmarks/wnnm_settings.py [--size 256] [--parts eig patch step colour]``; parts run in
separate processes merge into ``benchmarks/results/wnnm_settings_<size>.md`` and ``.json``.
"""

from __future__ import annotations

from _common import RESULTS, run_meta, timed  # first: importing it pins the thread pools before numpy loads

# isort: split
import argparse
import json
import os
from pathlib import Path

import numpy as np

GRAY = ("rocket", "moon", "grass")
COLOUR = ("rocket", "retina", "immunohistochemistry")
SIGMAS = (15, 25, 50)


def _psnr(clean: np.ndarray, out: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((np.clip(out, 0, 1) - clean) ** 2)))


def _noisy(name: str, size: int, sigma: float, colour: bool) -> tuple[np.ndarray, np.ndarray]:
    from aip.degrade import add_gaussian_noise
    from aip.io import load_sample

    clean = load_sample(name, gray=not colour, size=size).astype(np.float32)
    return clean, add_gaussian_noise(clean, sigma / 255, rng=0).astype(np.float32)


def _pair(part: str, name: str, size: int, sigma: float, a: dict, b: dict, labels: tuple[str, str],
          colour: bool = False) -> dict:
    """Settings ``a`` and ``b`` on one noisy image: PSNR and seconds of each, b minus a."""
    import torch

    from aip.restore import denoise

    torch.set_num_threads(1)
    clean, noisy = _noisy(name, size, sigma, colour)
    row = {"part": part, "image": name, "size": size, "sigma": sigma, "a": labels[0], "b": labels[1]}
    for key, kw in (("a", a), ("b", b)):
        out, secs = timed(lambda kw=kw: denoise(noisy, "wnnm", sigma=sigma / 255, **kw))
        row[f"psnr_{key}"], row[f"s_{key}"] = _psnr(clean, out), secs
    row["gain_db"] = row["psnr_b"] - row["psnr_a"]
    row["time_ratio"] = row["s_b"] / row["s_a"]
    print(f"{part:7s} {name:22s} sigma {sigma:g}: {labels[0]} {row['psnr_a']:.3f} dB {row['s_a']:.1f} s | "
          f"{labels[1]} {row['psnr_b']:.3f} dB {row['s_b']:.1f} s", flush=True)
    return row


def run_part(part: str, size: int) -> list[dict]:
    from aip.restore.lowrank import _wnnm_params

    rows = []
    if part == "eig":
        for name in GRAY:
            for s in SIGMAS:
                rows.append(_pair(part, name, size, s, {"eig": "exact"}, {}, ("exact", "warm")))
    elif part == "patch":
        for name in GRAY:
            for s in SIGMAS:
                prm = _wnnm_params(s)
                paper = {"patch_size": prm["patch_size"] - 1, "step": prm["step"]}
                rows.append(_pair(part, name, size, s, paper, {}, ("paper patch", "patch + 1")))
    elif part == "step":
        for name in GRAY:
            rows.append(_pair(part, name, size, 50, {"step": 5}, {}, ("step 5", "step 4")))
    elif part == "colour":
        for name in COLOUR:
            rows.append(_pair(part, name, size, 25, {}, {"patch_size": 8, "step": 3}, ("patch 7", "patch 8"),
                              colour=True))
    else:
        raise ValueError(f"part: expected eig, patch, step or colour, got {part!r}")
    return rows


def write(path: Path, res: dict) -> None:
    lines = ["# WNNM settings on images outside the benchmark", "",
             (f"`python benchmarks/wnnm_settings.py --size {res['size']}` (parts run as separate processes; last: "
              f"{res['meta']['date']}, {res['meta']['machine']}, one thread). PSNR in dB of the same seeded noisy "
              "image under settings a and b; gain = b - a; time ratio = b / a."), ""]
    for part, rows in res["parts"].items():
        lines += [f"## {part}", "", "| image | sigma | a | b | PSNR a | PSNR b | gain dB | s a | s b | time b/a |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['image']} | {r['sigma']:g} | {r['a']} | {r['b']} | {r['psnr_a']:.3f} | "
                         f"{r['psnr_b']:.3f} | {r['gain_db']:+.3f} | {r['s_a']:.1f} | {r['s_b']:.1f} | "
                         f"{r['time_ratio']:.2f} |")
        gains = [r["gain_db"] for r in rows]
        ratios = [r["time_ratio"] for r in rows]
        lines += ["", (f"Mean gain {np.mean(gains):+.3f} dB (min {min(gains):+.3f}, max {max(gains):+.3f}); "
                       f"time ratio {min(ratios):.2f}-{max(ratios):.2f}."), ""]
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--parts", nargs="+", default=["eig", "patch", "step", "colour"])
    args = ap.parse_args()
    stem = RESULTS / f"wnnm_settings_{args.size}"
    js = stem.with_suffix(".json")
    for part in args.parts:
        rows = run_part(part, args.size)
        res = json.loads(js.read_text()) if js.exists() else {"size": args.size, "parts": {}}
        res["parts"][part] = rows
        res["meta"] = run_meta()
        tmp = js.with_suffix(f".json.{os.getpid()}")
        tmp.write_text(json.dumps(res, indent=1) + "\n")
        tmp.replace(js)
        write(stem.with_suffix(".md"), res)
    print(f"wrote {stem}.md")


if __name__ == "__main__":
    main()
