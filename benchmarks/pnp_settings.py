"""The evidence behind the plug-and-play defaults with a learned denoiser, on images outside the benchmark.

``aip deblur --method pnp --denoiser ffdnet`` uses settings chosen here, never on the restoration benchmark's
camera, astronaut, coffee and chelsea: gray rocket, moon, grass and brick at 256 x 256, blurred by the
benchmark's Gaussian (sigma 1.6, circular) with noise sigma 0.01, seeded. A grid over the iteration count,
the first denoiser level and lambda (half-quadratic splitting, as DPIR) is run with the shipped FFDNet,
beside classical PnP (its DCT default) and TV at their defaults on the same inputs; PSNR and wall time per
image, one thread.

Usage: ``python benchmarks/pnp_settings.py [--size 256] [--denoiser ffdnet]``; writes
``benchmarks/results/pnp_settings.md`` and ``.json``. About 10 minutes.
"""

from __future__ import annotations

from _common import md_table, one_thread, run_meta, seed_of, write_results  # first: pins the thread pools

# isort: split
import argparse
import itertools
import time

import numpy as np

IMAGES = ("rocket", "moon", "grass", "brick")
GRID = {"n_iter": (8, 16, 24), "sigma_start": (0.1, 0.2, 0.3), "lam": (0.1, 0.18, 0.3, 0.5, 0.8, 1.2)}


def _psnr(clean: np.ndarray, out: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((np.clip(out, 0, 1) - clean) ** 2)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--denoiser", default="ffdnet")
    args = ap.parse_args(argv)
    one_thread()
    from aip.degrade import Blur, gaussian
    from aip.io import load_sample
    from aip.restore import deblur

    k = gaussian(1.6)
    cases = []
    for name in IMAGES:
        x = load_sample(name, gray=True, size=args.size).astype(np.float32)
        rng = np.random.default_rng(seed_of("pnp_settings", name, args.size))
        y = Blur(k, mode="circular").A(x) + rng.normal(0, 0.01, x.shape).astype(np.float32)
        cases.append((name, x, y))

    def score(**kw):
        ps, ts = [], []
        for _, x, y in cases:
            t0 = time.perf_counter()
            out = deblur(y, k, kw.get("method_", "pnp"), sigma=0.01, edges="circular",
                         **{a: b for a, b in kw.items() if a != "method_"})
            ts.append(time.perf_counter() - t0)
            ps.append(_psnr(x, out))
        return float(np.mean(ps)), float(np.mean(ts)), ps

    rows = []
    base_p, base_t, base_each = score()                            # classical PnP (DCT), its defaults
    tv_p, tv_t, tv_each = score(method_="tv")
    print(f"classical pnp {base_p:.2f} dB {base_t:.2f} s; tv {tv_p:.2f} dB", flush=True)
    for n_iter, s0, lam in itertools.product(*GRID.values()):
        p, t, each = score(denoiser=args.denoiser, n_iter=n_iter, sigma_start=s0, lam=lam)
        rows.append({"n_iter": n_iter, "sigma_start": s0, "lam": lam, "psnr": p, "seconds": t, "each": each})
        print(f"n_iter {n_iter} sigma_start {s0} lam {lam}: {p:.2f} dB {t:.2f} s", flush=True)
    best = max(rows, key=lambda r: r["psnr"])
    default = next((r for r in rows if (r["n_iter"], r["sigma_start"], r["lam"]) == (16, 0.15, 0.18)), None)
    top = sorted(rows, key=lambda r: -r["psnr"])[:10]
    md = "\n".join([
        "# Plug-and-play settings with a learned denoiser (images outside the benchmark)", "",
        (f"Gray {', '.join(IMAGES)} at {args.size}, Gaussian blur 1.6 (circular), noise sigma 0.01; half-quadratic "
        f"splitting with `--denoiser {args.denoiser}`; mean PSNR over the four images and seconds per image, one "
        f"thread. {run_meta()['date']}, {run_meta()['machine']}."), "",
        f"- classical PnP (DCT denoiser, its defaults): {base_p:.2f} dB, {base_t:.2f} s",
        f"- TV (its defaults): {tv_p:.2f} dB, {tv_t:.2f} s",
        (f"- best with {args.denoiser}: n_iter {best['n_iter']}, sigma_start {best['sigma_start']}, lam {best['lam']}: "
        f"**{best['psnr']:.2f} dB** ({best['psnr'] - base_p:+.2f} vs classical PnP, {best['psnr'] - tv_p:+.2f} vs TV), "
        f"{best['seconds']:.2f} s"), "",
        "The ten best settings:", "",
        *md_table(["n_iter", "sigma_start", "lam", "PSNR", "s / image"],
                  [[r["n_iter"], r["sigma_start"], r["lam"], f"{r['psnr']:.2f}", f"{r['seconds']:.2f}"] for r in top]),
        ""])
    write_results("pnp_settings", {"meta": run_meta(), "args": vars(args), "classical": [base_p, base_t, base_each],
                                   "tv": [tv_p, tv_t, tv_each], "rows": rows, "best": best, "old_default": default},
                  md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
