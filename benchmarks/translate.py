"""Image-to-image translation (issue 13): pix2pix colorization and its PatchGAN table, CycleGAN on the font pair.

1. Colorization: pix2pix runs trained on the allowed training photos (``benchmarks/training_photos.py``'s
   ``photos_rgb``, 64x64 crops), scored on its held-out test photos (whole 256x256 images, gray in, colour out):
   PSNR, colourfulness (Hasler & Suesstrunk 2003; the photos' own is given), and a Frechet distance between colour
   features of 16x16 patches of the results and of the true photos (per patch: mean and standard deviation of R,
   G, B and of the two opponent channels rg, yb; "colour FID"). Every run given is one row: the L1-only U-Net
   (``--gan-weight 0``) and pix2pix with each PatchGAN receptive field (1, 16, 70, full), as in the paper's table.
2. CycleGAN on the built-in font pair (DejaVu Sans -> Serif digits): on the aligned test pairs, PSNR against the
   true translation, content kept (the shipped LeNet's class of G(a) equals the digit) and the target-style rate
   (a sans/serif logistic-regression classifier on pixels, fitted here on training digits of both families, calls
   G(a) serif); the same two rates for the untranslated inputs and the true translations give the scale.
3. The sketch pair (built-in ``sketch``: 32x32 photo crops <-> their XDoG sketches): a CycleGAN trained unpaired
   and pix2pix trained on pairs (``--data patches --task sketch --reverse true``), both photo -> sketch (the
   deterministic direction), scored by PSNR against the true sketches of the 500 aligned test pairs; the
   CycleGAN's other direction (sketch -> photo, ill-posed: tones are lost) against the true photos.
   Target (issue 13): the CycleGAN within 2 dB of pix2pix.

Usage::

    python benchmarks/translate.py --colorize l1=RUN --colorize p70=RUN ... --cyclegan RUN
    python benchmarks/translate.py --sketch-cyclegan RUN --sketch-pix2pix RUN --out-prefix translate_sketch

Writes ``results/<prefix>.md``, ``.json`` (prefix ``translate``) and ``<prefix>_colorize_strip.png`` /
``<prefix>_cyclegan_strip.png`` / ``<prefix>_sketch_strip.png``.
"""

from __future__ import annotations

from _common import (  # first: pins the thread pools
    RESULTS,
    batch_psnr,
    md_table,
    one_thread,
    run_meta,
    write_results,
)

# isort: split
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from aip.data.tasks import luma
from aip.io import read_image
from aip.metrics import fid_from_features
from aip.train.run import load_run

PHOTOS = Path.home() / ".cache" / "aip-wallpapers" / "photos_rgb"


def colourfulness(img: np.ndarray) -> float:
    """Hasler & Suesstrunk's colourfulness of an (H, W, 3) image in [0, 1], on the 0-255 scale."""
    r, g, b = (img[..., k] * 255.0 for k in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def colour_features(img: np.ndarray, patch: int = 16) -> np.ndarray:
    """Per non-overlapping patch: mean and std of R, G, B, rg and yb (10 numbers)."""
    h, w = (s - s % patch for s in img.shape[:2])
    x = img[:h, :w].reshape(h // patch, patch, w // patch, patch, 3).transpose(0, 2, 1, 3, 4).reshape(-1, patch * patch, 3)
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    chans = np.concatenate([x, rg[..., None], yb[..., None]], axis=-1)
    return np.concatenate([chans.mean(1), chans.std(1)], axis=1)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-12)))


def colorize_section(runs: dict[str, str]) -> tuple[list[dict], dict[str, np.ndarray]]:
    files = sorted((PHOTOS / "test").glob("*.png"))
    if not files:
        raise SystemExit(f"{PHOTOS / 'test'}: no test photos (run benchmarks/training_photos.py)")
    truth = [read_image(f)[..., :3].astype(np.float32) for f in files]
    ref_feats = np.concatenate([colour_features(t) for t in truth])
    rows = [{"run": "ground truth", "psnr": float("inf"), "colourfulness": float(np.mean([colourfulness(t) for t in truth])),
             "colour_fid": fid_from_features(ref_feats, ref_feats), "seconds_per_image": 0.0}]
    gray = [np.repeat(luma(torch.from_numpy(t).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy(), 3, axis=2)
            for t in truth]
    rows.append({"run": "gray input", "psnr": float(np.mean([psnr(g, t) for g, t in zip(gray, truth)])),
                 "colourfulness": float(np.mean([colourfulness(g) for g in gray])),
                 "colour_fid": fid_from_features(np.concatenate([colour_features(g) for g in gray]), ref_feats),
                 "seconds_per_image": 0.0})
    strips = {"truth": np.stack(truth), "gray": np.stack(gray)}
    for name, run in runs.items():
        model, meta = load_run(run)
        outs, t0 = [], time.perf_counter()
        with torch.no_grad():
            for t in truth:
                y = luma(torch.from_numpy(t).permute(2, 0, 1)[None])
                outs.append(model.restore(y)[0].permute(1, 2, 0).clamp(0, 1).numpy())
        secs = (time.perf_counter() - t0) / len(truth)
        cfg = meta["model"]
        rows.append({"run": name, "path": run, "step": meta["step"], "patch": cfg.get("patch"),
                     "gan_weight": cfg.get("gan_weight"),
                     "psnr": float(np.mean([psnr(o, t) for o, t in zip(outs, truth)])),
                     "colourfulness": float(np.mean([colourfulness(o) for o in outs])),
                     "colour_fid": fid_from_features(np.concatenate([colour_features(o) for o in outs]), ref_feats),
                     "seconds_per_image": secs})
        strips[name] = np.stack(outs)
        print(rows[-1], flush=True)
    return rows, strips


def style_classifier(n: int = 6000, steps: int = 600) -> torch.nn.Module:
    """A LeNet telling DejaVu Sans (0) from Serif (1) digits, trained here on digits drawn with other seeds than
    the translation's data; its accuracy on fresh digits is printed."""
    from aip.data.digits import synthetic_digits
    from aip.models.lenet import LeNet, LeNetConfig

    sa, _ = synthetic_digits(n, seed=31, fonts="sans")
    sb, _ = synthetic_digits(n, seed=32, fonts="serif")
    x = torch.from_numpy(np.concatenate([sa, sb]).astype(np.float32) / 255)[:, None]
    y = torch.cat([torch.zeros(n), torch.ones(n)]).long()
    torch.manual_seed(0)
    net = LeNet(LeNetConfig(num_classes=2))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        idx = torch.randint(len(x), (128,))
        loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    ta, _ = synthetic_digits(1000, seed=33, fonts="sans")
    tb, _ = synthetic_digits(1000, seed=34, fonts="serif")
    with torch.no_grad():
        xt = torch.from_numpy(np.concatenate([ta, tb]).astype(np.float32) / 255)[:, None]
        acc = float((net(xt).argmax(1) == torch.cat([torch.zeros(1000), torch.ones(1000)]).long()).float().mean())
    print(f"style classifier accuracy on fresh digits: {acc:.3f}", flush=True)
    net.accuracy = acc
    return net


def cyclegan_section(run: str, n: int = 1000) -> tuple[dict, dict[str, torch.Tensor]]:
    from aip.data.builtin import PAIRS
    from aip.models.lenet import load_lenet

    model, meta = load_run(run)
    a, b, labels, _ = PAIRS["fonts"]("test")
    a, b = (torch.from_numpy(v[:n].astype(np.float32) / 255)[:, None] for v in (a, b))
    labels = torch.as_tensor(labels[:n]).long()
    t0 = time.perf_counter()
    with torch.no_grad():
        fake = torch.cat([model.translate(a[i:i + 200], "a2b") for i in range(0, n, 200)])
        back = torch.cat([model.translate(fake[i:i + 200], "b2a") for i in range(0, n, 200)])
    secs = (time.perf_counter() - t0) / n
    style = style_classifier()
    lenet = load_lenet("digits")

    def rates(x: torch.Tensor) -> tuple[float, float]:
        with torch.no_grad():
            content = float((lenet(x).argmax(1) == labels).float().mean())
            return content, float((style(x).argmax(1) == 1).float().mean())

    out = {"run": run, "step": meta["step"], "n": n, "seconds_per_image": secs, "style_accuracy": style.accuracy}
    for name, x in (("input (sans)", a), ("true translation (serif)", b), ("G(a)", fake)):
        c, s = rates(x)
        out[name] = {"content_kept": c, "target_style_rate": s,
                     "psnr_vs_truth": batch_psnr(x, b)}
    out["cycle_psnr"] = batch_psnr(back, a)
    print(out, flush=True)
    return out, {"a": a[:10], "G(a)": fake[:10], "F(G(a))": back[:10], "b (truth)": b[:10]}


def sketch_section(cyc_run: str, p2p_run: str, n: int = 500) -> tuple[dict, dict[str, torch.Tensor]]:
    from aip.data.builtin import PAIRS

    cyc, cmeta = load_run(cyc_run)
    p2p, pmeta = load_run(p2p_run)
    if not getattr(p2p.config, "reverse", False) or p2p.config.task != "sketch":
        raise SystemExit(f"--sketch-pix2pix: expected a pix2pix run with --task sketch --reverse true, got task "
                         f"{p2p.config.task!r}, reverse {getattr(p2p.config, 'reverse', False)}")
    a, b, _, _ = PAIRS["sketch"]("test")          # a: photos, b: their true sketches
    a, b = (torch.from_numpy(v[:n].astype(np.float32) / 255)[:, None] for v in (a, b))
    with torch.no_grad():
        t0 = time.perf_counter()
        fake_b = cyc.translate(a, "a2b")
        t_cyc = (time.perf_counter() - t0) / n
        fake_a = cyc.translate(b, "b2a")
        back = cyc.translate(fake_b, "b2a")
        t0 = time.perf_counter()
        p2p_b = p2p.restore(a)
        t_p2p = (time.perf_counter() - t0) / n
    rows = {"the photo itself": {"psnr": batch_psnr(a, b)},
            "pix2pix, trained on pairs": {"psnr": batch_psnr(p2p_b.clamp(0, 1), b), "step": pmeta["step"],
                                          "seconds_per_image": t_p2p},
            "CycleGAN G, unpaired": {"psnr": batch_psnr(fake_b.clamp(0, 1), b), "step": cmeta["step"], "seconds_per_image": t_cyc}}
    out = {"n": n, "runs": {"cyclegan": cyc_run, "pix2pix": p2p_run}, "photo_to_sketch": rows,
           "sketch_to_photo_psnr": batch_psnr(fake_a.clamp(0, 1), a), "cycle_psnr": batch_psnr(back.clamp(0, 1), a)}
    gap = rows["pix2pix, trained on pairs"]["psnr"] - rows["CycleGAN G, unpaired"]["psnr"]
    out["target"] = {"target": "sketch pair: CycleGAN within 2 dB of pix2pix trained on pairs (photo -> sketch, "
                               "PSNR vs the true sketches)", "status": "met" if gap <= 2.0 else "not met",
                     "measured": (f"CycleGAN {rows['CycleGAN G, unpaired']['psnr']:.2f} dB vs pix2pix "
                                  f"{rows['pix2pix, trained on pairs']['psnr']:.2f} dB (gap {gap:.2f} dB)")}
    print(out, flush=True)
    return out, {"a (photo)": a[:12], "pix2pix(a)": p2p_b[:12], "G(a)": fake_b[:12], "b (true sketch)": b[:12],
                 "F(b)": fake_a[:12]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--colorize", action="append", default=[], metavar="NAME=RUN", help="a pix2pix colorization run")
    ap.add_argument("--cyclegan", default=None, metavar="RUN", help="a CycleGAN run on the font pair")
    ap.add_argument("--sketch-cyclegan", default=None, metavar="RUN", help="a CycleGAN run on the sketch pair")
    ap.add_argument("--sketch-pix2pix", default=None, metavar="RUN",
                    help="a pix2pix run on patches with --task sketch --reverse true (needed with --sketch-cyclegan)")
    ap.add_argument("--out-prefix", default="translate", help="results file prefix (default translate)")
    args = ap.parse_args(argv)
    if bool(args.sketch_cyclegan) != bool(args.sketch_pix2pix):
        ap.error("--sketch-cyclegan and --sketch-pix2pix go together")
    if not (args.colorize or args.cyclegan or args.sketch_cyclegan):
        print("nothing to benchmark (give --colorize, --cyclegan or --sketch-cyclegan runs); results left as they are")
        return 0
    one_thread()
    pre = args.out_prefix
    res: dict = {"meta": run_meta()}
    if args.colorize:
        runs = dict(item.split("=", 1) for item in args.colorize)
        res["colorize"], strips = colorize_section(runs)
        from aip.train.trainer import save_image_grid

        rows = [torch.from_numpy(v[:, :128, :128]).permute(0, 3, 1, 2) for v in strips.values()]
        save_image_grid(torch.cat(rows), RESULTS / f"{pre}_colorize_strip.png", nrow=len(rows[0]))
        res["colorize_strip_rows"] = list(strips)
    if args.cyclegan:
        res["cyclegan"], strip = cyclegan_section(args.cyclegan)
        from aip.train.trainer import save_image_grid

        save_image_grid(torch.cat(list(strip.values())), RESULTS / f"{pre}_cyclegan_strip.png", nrow=10)
    if args.sketch_cyclegan:
        res["sketch"], strip = sketch_section(args.sketch_cyclegan, args.sketch_pix2pix)
        from aip.train.trainer import save_image_grid

        save_image_grid(torch.cat(list(strip.values())), RESULTS / f"{pre}_sketch_strip.png", nrow=12)
        res["sketch_strip_rows"] = list(strip)
    write_results(pre, res, markdown(res, pre))
    print(markdown(res, pre))
    return 0


def markdown(r: dict, pre: str = "translate") -> str:
    m = r["meta"]
    pre = Path(pre).name
    L = ["# Image-to-image translation: pix2pix and CycleGAN", "", f"{m['date']}, {m['machine']}, {m['threads']}.", ""]
    if "colorize" in r:
        L += ["## pix2pix colorization (held-out test photos, 256x256, gray in)", ""]
        rows = [[x["run"], x.get("patch", ""), x.get("gan_weight", ""), x.get("step", ""),
                 "-" if x["psnr"] == float("inf") else f"{x['psnr']:.2f}", f"{x['colourfulness']:.1f}",
                 f"{x['colour_fid']:.4f}", f"{x['seconds_per_image']:.3f}"] for x in r["colorize"]]
        L += md_table(["run", "patch", "gan weight", "steps", "PSNR", "colourfulness", "colour FID", "s / image"], rows)
        L += ["", (f"Strip (rows: {', '.join(r['colorize_strip_rows'])}; top-left 128x128 of each test photo): "
                   f"`{pre}_colorize_strip.png`."), ""]
    if "cyclegan" in r:
        c = r["cyclegan"]
        L += [f"## CycleGAN, DejaVu Sans -> Serif digits ({c['n']} aligned test pairs, step {c['step']})", ""]
        rows = [[k, f"{v['content_kept']:.3f}", f"{v['target_style_rate']:.3f}", f"{v['psnr_vs_truth']:.2f}"]
                for k, v in c.items() if isinstance(v, dict)]
        L += md_table(["images", "content kept (LeNet)", "target-style rate", "PSNR vs true translation"], rows)
        L += ["", (f"Cycle reconstruction F(G(a)) PSNR {c['cycle_psnr']:.2f} dB; {c['seconds_per_image'] * 1000:.2f} "
                   f"ms per image each way. The style classifier (a LeNet, sans vs serif) is right on "
                   f"{c['style_accuracy']:.3f} of fresh digits. Strip (rows: a, G(a), F(G(a)), true b): "
                   f"`{pre}_cyclegan_strip.png`."), ""]
    if "sketch" in r:
        sk = r["sketch"]
        L += [f"## Sketch pair: photo -> XDoG sketch ({sk['n']} aligned test pairs of 32x32 crops)", "",
              f"Target: **{sk['target']['status']}**: {sk['target']['measured']}.", ""]
        L += md_table(["photo -> sketch", "PSNR vs true sketch", "step", "ms / image"],
                      [[k, f"{v['psnr']:.2f}", v.get("step", "-"),
                        f"{v['seconds_per_image'] * 1000:.2f}" if "seconds_per_image" in v else "-"]
                       for k, v in sk["photo_to_sketch"].items()])
        L += ["", (f"CycleGAN sketch -> photo (F) against the true photos: {sk['sketch_to_photo_psnr']:.2f} dB; "
                   f"cycle F(G(a)) against a: {sk['cycle_psnr']:.2f} dB. Runs: {sk['runs']}."), "",
              f"![sketch]({pre}_sketch_strip.png)", "",
              f"Strip rows: {', '.join(r['sketch_strip_rows'])}.", ""]
    return "\n".join(L)


if __name__ == "__main__":
    raise SystemExit(main())
