"""Prepare the training photos of the learned restorers: the seven photos of Debian's
``plasma-workspace-wallpapers`` that are allowed for training (never the package's other photos, never the
benchmark images), at half their 2560x1600 size, split into ``train`` (the left 80% of each photo, cut into
non-overlapping 256x256 tiles, so a batch can hold many random crops of different places) and ``test``
(a 256x256 crop of the right 20%, the held-out set the runs are scored on).

    python benchmarks/training_photos.py [--cache ~/.cache/aip-wallpapers]

It runs ``apt-get download plasma-workspace-wallpapers`` (no installation: the package is unpacked with
``dpkg -x`` into the cache folder) and writes ``<cache>/photos_gray/{train,test}`` and
``<cache>/photos_rgb/{train,test}`` as PNG. Nothing of it is committed.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
from pathlib import Path

PHOTOS = ("BytheWater", "ColorfulCups", "Grey", "OneStandsOut", "DarkestHour", "summer_1am", "Kite")
PACKAGE = "plasma-workspace-wallpapers"
TILE = 256


def fetch(cache: Path) -> Path:
    """The unpacked package folder (downloaded and unpacked once)."""
    root = cache / "x"
    if (root / "usr/share/wallpapers").is_dir():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    debs = glob.glob(str(cache / f"{PACKAGE}_*.deb"))
    if not debs:
        subprocess.run(["apt-get", "download", PACKAGE], cwd=cache, check=True)
        debs = glob.glob(str(cache / f"{PACKAGE}_*.deb"))
    subprocess.run(["dpkg", "-x", debs[0], str(root)], check=True)
    return root


def prepare(cache: Path) -> dict[str, Path]:
    from PIL import Image

    root = fetch(cache)
    out = {kind: cache / f"photos_{kind}" for kind in ("gray", "rgb")}
    for folder in out.values():
        for split in ("train", "test"):
            (folder / split).mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        files = sorted(glob.glob(str(root / f"usr/share/wallpapers/{name}/contents/images/*.jpg")),
                       key=os.path.getsize)
        im = Image.open(files[-1]).convert("RGB")  # the largest: 2560x1600
        im = im.resize((im.width // 2, im.height // 2), Image.BICUBIC)
        w, h = im.size
        cut = int(w * 0.8)
        for kind, mode in (("gray", "L"), ("rgb", "RGB")):
            a = im.convert(mode)
            for top in range(0, h - TILE + 1, TILE):
                for left in range(0, cut - TILE + 1, TILE):
                    a.crop((left, top, left + TILE, top + TILE)).save(
                        out[kind] / "train" / f"{name}_{top // TILE}_{left // TILE}.png")
            a.crop((cut, 200, cut + 256, 456)).save(out[kind] / "test" / f"{name}.png")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "aip-wallpapers")
    args = p.parse_args(argv)
    for kind, folder in prepare(args.cache).items():
        print(f"{kind}: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
