"""Speed of the DDPM U-Net against diffusers' UNet2DModel + DDPMScheduler at the same parameter count.

Measures, side by side in one process (peers interleaved round by round, so load from other processes hits
both alike; ratios are quoted per round and summarised by their median):

1. training throughput (img/s) on 28x28 images, batch 64: one step = noise a batch, predict the noise,
   MSE, backward, Adam step. Ours is ``DDPM(DDPMConfig(num_classes=10))`` (its default U-Net); diffusers'
   ``UNet2DModel`` (class-conditional, attention at the lowest resolution, 3 resolutions) is sized to the
   nearest parameter count from a small grid of natural configurations.
2. sampling: 64 digits with 50 DDIM steps (conditional, guidance 1; and classifier-free guidance w = 3, which
   doubles the batch), against diffusers' DDIMScheduler with its U-Net.

Targets (issue 4): training throughput >= 1.5x diffusers; 64 samples x 50 DDIM steps in < 10 s.

Usage: ``python benchmarks/diffusion_speed.py [--rounds 5] [--quick]``; writes
``benchmarks/results/diffusion_speed.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from aip.models import DDPM, DDPMConfig, count_parameters

RESULTS = Path(__file__).resolve().parent / "results"
BATCH, SIZE, CLASSES = 64, 28, 10


def diffusers_unet(c: int, layers: int, attn_dim: int = 8, c2: int | None = None):
    from diffusers import UNet2DModel

    c2 = 2 * c if c2 is None else c2
    return UNet2DModel(sample_size=SIZE, in_channels=1, out_channels=1, block_out_channels=(c, c2, c2),
                       layers_per_block=layers, down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), norm_num_groups=4,
                       attention_head_dim=attn_dim, num_class_embeds=CLASSES + 1)


def matched_diffusers(target: int):
    """The config (c, c2, c2), c2 about 2c (multiples of 4), layers_per_block in {1, 2}, with the parameter
    count nearest ``target`` (GroupNorm with 4 groups so that every multiple of 4 is allowed)."""
    best = None
    for layers in (1, 2):
        for c in range(8, 129, 4):
            for c2 in (2 * c - 8, 2 * c - 4, 2 * c, 2 * c + 4, 2 * c + 8):
                n = count_parameters(diffusers_unet(c, layers, c2=c2))
                if best is None or abs(n - target) < abs(best[0] - target):
                    best = (n, c, c2, layers)
            if n > 1.3 * target:
                break
    n, c, c2, layers = best
    return diffusers_unet(c, layers, c2=c2), {"block_out_channels": [c, c2, c2], "layers_per_block": layers,
                                              "params": n}


def ours_step(model: DDPM, opt, x, y):
    def step():
        loss = model(x, y)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def diffusers_step(unet, sched, opt, x, y):
    def step():
        x0 = x * 2 - 1
        noise = torch.randn_like(x0)
        t = torch.randint(0, sched.config.num_train_timesteps, (x0.shape[0],))
        drop = torch.rand(x0.shape[0]) < 0.1
        yy = torch.where(drop, torch.full_like(y, CLASSES), y)
        loss = F.mse_loss(unet(sched.add_noise(x0, noise, t), t, class_labels=yy).sample, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def timed(fn, reps: int = 1) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) per call."""
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps, (time.process_time() - c0) / reps


@torch.no_grad()
def diffusers_ddim_sample(unet, n: int, steps: int, y: torch.Tensor, generator: torch.Generator):
    from diffusers import DDIMScheduler

    sched = DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=True)
    sched.set_timesteps(steps)
    x = torch.randn(n, 1, SIZE, SIZE, generator=generator)
    for t in sched.timesteps:
        x = sched.step(unet(x, t, class_labels=y).sample, t, x, eta=0.0).prev_sample
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4, help="interleaved timing rounds")
    ap.add_argument("--reps", type=int, default=2, help="training steps per round and peer")
    ap.add_argument("--sample-rounds", type=int, default=1, help="sampling repetitions per peer")
    ap.add_argument("--quick", action="store_true", help="2 rounds, 1 step, 10 sampling steps (smoke test)")
    args = ap.parse_args()
    rounds, reps, sample_steps = (2, 1, 10) if args.quick else (args.rounds, args.reps, 50)
    from diffusers import DDPMScheduler

    torch.manual_seed(0)
    ours = DDPM(DDPMConfig(num_classes=CLASSES))
    n_ours = count_parameters(ours)
    theirs, their_cfg = matched_diffusers(n_ours)
    sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    x = torch.rand(BATCH, 1, SIZE, SIZE)
    y = torch.randint(0, CLASSES, (BATCH,))
    peers = {
        "aip": ours_step(ours, torch.optim.Adam(ours.parameters(), 2e-4), x, y),
        "diffusers": diffusers_step(theirs, sched, torch.optim.Adam(theirs.parameters(), 2e-4), x, y),
    }
    for fn in peers.values():          # warm-up (oneDNN primitive caches)
        fn()
    train = {k: [] for k in peers}
    train_cpu = {k: [] for k in peers}
    for _ in range(rounds):
        for k, fn in peers.items():
            wall, cpu = timed(fn, reps)
            train[k].append(BATCH / wall)
            train_cpu[k].append(BATCH / cpu)
    ratios = [a / b for a, b in zip(train["aip"], train["diffusers"])]
    cpu_ratios = [a / b for a, b in zip(train_cpu["aip"], train_cpu["diffusers"])]

    ours.eval()
    theirs.eval()
    labels = torch.arange(BATCH) % CLASSES
    runs = {
        "aip_w1": lambda g: ours.sample(BATCH, y=labels, steps=sample_steps, guidance=1.0, generator=g),
        "aip_w3": lambda g: ours.sample(BATCH, y=labels, steps=sample_steps, guidance=3.0, generator=g),
        "diffusers_w1": lambda g: diffusers_ddim_sample(theirs, BATCH, sample_steps, labels, g),
    }
    # wall-clock with all threads (aip only: the diffusers run takes minutes on a loaded machine), then CPU
    # seconds on one thread for every run: on one thread CPU time is the wall time of an idle core and does
    # not count other processes' load or OpenMP spin-waiting
    sampling = {"aip_w1": []}
    sampling_cpu1 = {k: [] for k in runs}
    threads = torch.get_num_threads()
    for r in range(max(1, args.sample_rounds)):
        sampling["aip_w1"].append(timed(lambda r=r: runs["aip_w1"](torch.Generator().manual_seed(r)))[0])
        torch.set_num_threads(1)
        try:
            for k, fn in runs.items():
                sampling_cpu1[k].append(timed(lambda fn=fn, r=r: fn(torch.Generator().manual_seed(r)))[1])
        finally:
            torch.set_num_threads(threads)

    med = {k: statistics.median(v) for k, v in train.items()}
    smed = {k: statistics.median(v) for k, v in sampling.items()}
    cmed = {k: statistics.median(v) for k, v in train_cpu.items()}
    scmed = {k: statistics.median(v) for k, v in sampling_cpu1.items()}
    result = {
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "python": platform.python_version(),
                    "load_avg_1min": os.getloadavg()[0]},
        "params": {"aip": n_ours, "diffusers": their_cfg["params"]},
        "diffusers_config": their_cfg,
        "aip_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in ours.config_dict().items()},
        "train_img_per_s": {"per_round": train, "median": med},
        "train_speedup_per_round": ratios,
        "train_speedup_median": statistics.median(ratios),
        "train_img_per_cpu_s": {"per_round": train_cpu, "median": cmed},
        "train_speedup_cpu_time_median": statistics.median(cpu_ratios),
        "sampling_steps": sample_steps,
        "sampling_seconds_64": {"per_round": sampling, "median": smed},
        "sampling_cpu_seconds_64_one_thread": {"per_round": sampling_cpu1, "median": scmed},
        "targets": {"train_speedup": 1.5, "sampling_seconds": 10.0},
        "quick": bool(args.quick),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "diffusion_speed.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# Diffusion speed: aip U-Net vs diffusers UNet2DModel (CPU)",
        "",
        (f"CPU: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, torch {torch.__version__}; "
        f"1-min load average at the end {os.getloadavg()[0]:.1f} (the machine is shared: absolute times are "
        "noisy, the per-round ratios much less so)."),
        "",
        (f"Parameters: aip {n_ours:,}; diffusers {their_cfg['params']:,} "
        f"(block_out_channels {their_cfg['block_out_channels']}, layers_per_block {their_cfg['layers_per_block']}, "
        "attention at the lowest resolution, class embedding)."),
        "",
        "## Training throughput, 28x28, batch 64 (noise + forward + MSE + backward + Adam)",
        "",
        "| peer | img/s wall (median) | per round | img per CPU-second (median) |",
        "|---|---|---|---|",
        *(f"| {k} | {med[k]:.1f} | {', '.join(f'{v:.1f}' for v in train[k])} | {cmed[k]:.1f} |" for k in train),
        "",
        (f"Speed-up aip / diffusers: median {statistics.median(ratios):.2f}x wall-clock "
        f"(per round {', '.join(f'{r:.2f}' for r in ratios)}), {statistics.median(cpu_ratios):.2f}x in CPU time; "
        "target >= 1.5x."),
        "",
        f"## Sampling 64 images, {sample_steps} DDIM steps (median)",
        "",
        "| run | wall seconds, all threads | CPU seconds on 1 thread |",
        "|---|---|---|",
        f"| aip, conditional (w = 1) | {smed['aip_w1']:.2f} | {scmed['aip_w1']:.2f} |",
        f"| aip, classifier-free guidance w = 3 (batch doubled) | - | {scmed['aip_w3']:.2f} |",
        f"| diffusers UNet2DModel + DDIMScheduler, conditional | - | {scmed['diffusers_w1']:.2f} |",
        "",
        ("Target: < 10 s for 64 digits with 50 DDIM steps. CPU seconds on one thread are the wall time the run "
        "takes on one idle core (they do not count time lost to other processes); the wall-clock column is "
        "inflated by the load of the shared machine (see the load average above)."),
    ]
    (RESULTS / "diffusion_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
