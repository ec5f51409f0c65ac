"""Throughput of batch processing (issue 15): images per second of ``aip denoise FOLDER -o OUT`` with
``--jobs 1``, ``--jobs 2`` and a local Dask cluster of 2 one-thread workers (``--scheduler local:2``).

The collection: N gray 1024 x 1024 images (built-in samples at that size, flipped and rotated, with seeded
Gaussian noise of sigma 20), written as PNG to a temporary folder. Each configuration runs the real command
in a fresh process, as a user types it (so process and cluster start-up count), with a filter-class method
(default ``nlm``, aip's default denoiser); every round runs the three configurations back to back, and the
best of the rounds is kept for each, since this machine is shared. The outputs of all of them are checked to
be the same images.

Targets: ``--jobs 2`` at least 1.7x the images per second of ``--jobs 1`` on this 2-core machine; the Dask
path within 15% of ``--jobs 2``, measured against a local cluster of 2 one-thread workers that is already
running (``--scheduler tcp://...``, as a real cluster would be); ``--scheduler local:2``, where the command
starts its own cluster, is reported too.

Usage: ``python benchmarks/batch.py [--n 48] [--size 1024] [--method nlm] [--rounds 2]``; writes
``benchmarks/results/batch.md`` and ``.json``. About 6 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import md_table, run_meta, write_results

NAMES = ("brick", "cat", "coins", "grass", "gravel", "horse", "moon", "page", "rocket", "text", "retina", "cell")
CONFIGS = {"--jobs 1": ["--jobs", "1"], "--jobs 2": ["--jobs", "2"], "Dask local:2": ["--scheduler", "local:2"],
           "Dask cluster": ["--scheduler", "ADDRESS"]}


def make_collection(folder: Path, n: int, size: int) -> None:
    from aip.io import load_sample, write_image

    rng = np.random.default_rng(0)
    for i in range(n):
        x = load_sample(NAMES[i % len(NAMES)], gray=True, size=size)
        x = np.rot90(x, i // len(NAMES) % 4)
        if i // (4 * len(NAMES)) % 2:
            x = x[:, ::-1]
        y = np.clip(x + rng.normal(0.0, 20 / 255, x.shape), 0.0, 1.0)
        write_image(folder / f"img_{i:03d}.png", y)


def run_config(src: Path, out: Path, flags: list[str], method: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    aip = str(Path(sys.executable).with_name("aip"))
    cmd = [aip, "denoise", str(src), "-o", str(out), "--method", method, "--sigma", "20", "--force", "--json",
           *flags]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    summary = json.loads(proc.stdout)
    return {"command_s": wall, "images": summary["done"], "batch_s": summary["wall_s"],
            "images_per_s": summary["done"] / wall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--method", default="nlm")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    from distributed import LocalCluster

    from aip.io import read_image

    runs: dict[str, list[dict]] = {k: [] for k in CONFIGS}
    # a cluster that is already running, as a real one would be: 2 one-thread worker processes
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    CONFIGS["Dask cluster"] = ["--scheduler", cluster.scheduler_address]
    with cluster, tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "noisy"
        src.mkdir()
        make_collection(src, args.n, args.size)
        for r in range(args.rounds):
            for name, flags in CONFIGS.items():
                res = run_config(src, Path(tmp) / f"out{list(CONFIGS).index(name)}", flags, args.method)
                runs[name].append(res)
                print(f"round {r + 1}: {name}: {res['images_per_s']:.3f} images/s ({res['command_s']:.1f} s)",
                      flush=True)
        same = all(np.array_equal(read_image(Path(tmp) / "out0" / f.name), read_image(Path(tmp) / f"out{k}" / f.name))
                   for f in sorted(src.iterdir()) for k in range(1, len(CONFIGS)))
    best = {k: max(v, key=lambda d: d["images_per_s"]) for k, v in runs.items()}
    base = best["--jobs 1"]["images_per_s"]
    speed2 = best["--jobs 2"]["images_per_s"] / base
    dask_vs = best["Dask cluster"]["images_per_s"] / best["--jobs 2"]["images_per_s"]
    local_vs = best["Dask local:2"]["images_per_s"] / best["--jobs 2"]["images_per_s"]
    targets = {"jobs2_over_jobs1": speed2, "jobs2_target_met": speed2 >= 1.7,
               "dask_over_jobs2": dask_vs, "dask_target_met": dask_vs >= 0.85,
               "dask_local_started_over_jobs2": local_vs, "outputs_identical": same}
    rows = [[k, f"{b['images_per_s']:.3f}", f"{b['command_s']:.1f}", f"{b['images_per_s'] / base:.2f}x",
             ", ".join(f"{d['images_per_s']:.3f}" for d in runs[k])] for k, b in best.items()]
    md = "\n".join([
        "# Batch throughput (issue 15)", "",
        (f"`aip denoise FOLDER -o OUT --method {args.method} --sigma 20` over {args.n} gray {args.size} x "
        f"{args.size} PNG images; each command in a fresh process (start-up included), best of "
        f"{args.rounds} interleaved rounds. {run_meta()['date']}, {run_meta()['machine']}, each worker on one "
        "thread."), "",
        *md_table(["configuration", "images/s (best)", "command s", "vs --jobs 1", "every round"], rows), "",
        (f"- `--jobs 2` / `--jobs 1`: **{speed2:.2f}x** (target >= 1.7x: "
        f"{'met' if targets['jobs2_target_met'] else 'not met'})"),
        (f"- Dask cluster (running, 2 one-thread workers) / `--jobs 2`: **{dask_vs:.2f}** (target within 15%, "
         f">= 0.85: {'met' if targets['dask_target_met'] else 'not met'})"),
        (f"- `--scheduler local:2` (the command starts and stops its own 2-worker cluster, about 3 s, and its "
         f"workers import aip) / `--jobs 2`: {local_vs:.2f}"),
        f"- outputs of all configurations identical: {same}", ""])
    write_results("batch", {"meta": run_meta(), "args": vars(args), "runs": runs, "best": best,
                            "targets": targets}, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
