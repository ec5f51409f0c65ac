"""Training changes against the DDIM / ancestral gap of the digit DDPM (issue 4's 15% target).

generative.md and ddim_gap.md show that deterministic DDIM-50 stays 1.4-2.2x the FID-LeNet of 1000 ancestral
steps, whatever the sampler settings, and trace it to the noise estimator. This script tests changes on the
training side, each under issue 4's 30-minute budget on one CPU thread: the shipped DDPM's own `aip train`
command (its JSON) with a few flags changed, so nothing else differs. Each run gets DDIM-50 (eta 0) and
ancestral-1000 at guidance 1 with N = 500 (seed 0, labels 0..9 cycling), as generative.md does.

Variants that generative.py already trained (the shipped eps model, v-prediction, the wide v model) are
cited from ``results/generative.json`` rather than trained again; ``--retrain`` trains them here too.

Usage: ``python benchmarks/ddim_training.py --full [--only v16_lognormal,...] [--work DIR]`` writes
``results/ddim_training.md`` and ``.json``; a run directory already in ``--work`` is evaluated, not
retrained, so variants can be trained in parallel processes (``--only``, ``taskset``) and gathered after.
Without ``--full`` (what ``make bench`` runs) a smoke run trains a tiny model for a few steps, N = 50, and
writes ``ddim_training_quick.*`` (git-ignored).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

RESULTS = Path(__file__).resolve().parent / "results"
BUDGET_S = 30 * 60
# name -> (what changes, flags of `aip train` changed from the shipped DDPM's command, generative.json source)
VARIANTS: dict[str, dict[str, Any]] = {
    "eps16": {"what": "the shipped model (eps-prediction, base 16)", "flags": {}, "cited": "ddpm"},
    "v16": {"what": "v-prediction", "flags": {"prediction": "v"}, "cited": "ddpm_v"},
    "v16_lognormal": {"what": "v-prediction, log-normal noise levels (Karras et al. 2022)",
                      "flags": {"prediction": "v", "t_sampling": "lognormal"}},
    "v16_patch1": {"what": "v-prediction, no 2x2 space-to-depth (patch_size 1), 7500 steps",
                   "flags": {"prediction": "v", "patch_size": 1, "steps": 7500}},
    "v16_patch1_8500": {"what": "v-prediction, patch_size 1, 8500 steps",
                        "flags": {"prediction": "v", "patch_size": 1, "steps": 8500}},
    "v32": {"what": "v-prediction, base 32 (4x parameters), 9000 steps",
            "flags": {"prediction": "v", "base_channels": 32, "steps": 9000}, "cited": "ddpm_wide"},
    "v32_lognormal": {"what": "v-prediction, base 32, log-normal noise levels, 9000 steps",
                      "flags": {"prediction": "v", "base_channels": 32, "steps": 9000, "t_sampling": "lognormal"}},
    "v32_12500": {"what": "v-prediction, base 32, 12500 steps",
                  "flags": {"prediction": "v", "base_channels": 32, "steps": 12500}},
}
SMOKE_FLAGS = {"prediction": "v", "base_channels": 8, "steps": 30, "warmup": 5, "log_every": 10}


def train_command(flags: dict[str, Any], out: Path) -> list[str]:
    """The shipped DDPM's `aip train` command with ``flags`` changed (added where it lacks them)."""
    from aip.train import TrainConfig
    from aip.train.shipped import shipped_meta

    words = shlex.split(shipped_meta("ddpm")["command"])
    words = words[words.index("aip"):]
    head, rest = words[:3], words[3:]
    opts = dict(zip(rest[::2], rest[1::2]))
    train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
    for key, value in flags.items():  # the CLI spells train options with dashes, model options as fields
        opts[f"--{key.replace('_', '-')}" if key in train_keys else f"--{key}"] = str(value)
    return head + [w for kv in opts.items() for w in kv] + ["--out", str(out)]


def train(flags: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Run the command (one thread) unless ``run_dir`` holds a finished run; its steps and wall seconds."""
    from generative import _run_facts

    if not (run_dir / "checkpoints").is_dir():
        cmd = train_command(flags, run_dir)
        exe = Path(sys.executable).with_name("aip")
        print("  " + " ".join(cmd), flush=True)
        subprocess.run([str(exe)] + cmd[1:], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                       stdout=subprocess.DEVNULL)
    facts = _run_facts(run_dir)
    return {"steps": facts["steps"], "train_seconds": facts["seconds"]}


def evaluate(run_dir: Path, n: int) -> dict[str, Any]:
    """DDIM-50 and ancestral-1000 at guidance 1; kept in ``run_dir/ddim_training_eval.json`` and reused."""
    import generative as G

    from aip.train.run import load_run

    cache = run_dir / "ddim_training_eval.json"
    if cache.is_file() and json.loads(cache.read_text()).get("n") == n:
        return json.loads(cache.read_text())["result"]
    model, _ = load_run(run_dir)
    model.eval()
    ddim = G._eval_row(model, n, 1.0, 50)
    anc = G._eval_row(model, n, 1.0, 1000, sampler="ddpm")
    out = {"fid_ddim50": ddim["fid"], "acc_ddim50": ddim["class_accuracy"], "fid_ancestral": anc["fid"],
           "acc_ancestral": anc["class_accuracy"], "params": sum(p.numel() for p in model.parameters()),
           "sampling_seconds": {"ddim50": ddim["seconds"], "ancestral1000": anc["seconds"]}}
    cache.write_text(json.dumps({"n": n, "result": out}, indent=1))
    return out


def cited(key: str) -> dict[str, Any] | None:
    """A variant's figures from results/generative.json (the run that generative.py made)."""
    path = RESULTS / "generative.json"
    if not path.is_file():
        return None
    run = json.loads(path.read_text())["runs"].get(key)
    if not run:
        return None
    ddim = next(r for r in run["guidance_table"] if r["guidance"] == 1.0)
    if key == "ddpm":
        anc = run["ddim50_vs_ancestral"]
        anc = {"fid": anc["fid_ancestral"], "class_accuracy": anc["acc_ancestral"]}
    elif "ancestral" in run:
        anc = run["ancestral"]
    else:
        anc = next(r for r in run["sampler_rows"] if r["label"] == "ancestral-1000")
    return {"fid_ddim50": ddim["fid"], "acc_ddim50": ddim["class_accuracy"], "fid_ancestral": anc["fid"],
            "acc_ancestral": anc["class_accuracy"], "params": run.get("params"), "steps": run["steps"],
            "train_seconds": run["seconds"], "source": f"generative.json ({key}: {run['source']})"}


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(1)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows: dict[str, Any] = {}
    if not args.full:
        rows["smoke"] = {"what": "tiny smoke model", "flags": SMOKE_FLAGS, **train(SMOKE_FLAGS, work / "smoke"),
                         "source": "trained here", **evaluate(work / "smoke", 50)}
        return {"n": 50, "rows": rows}
    names = args.only.split(",") if args.only else list(VARIANTS)
    for name in names:
        spec = VARIANTS[name]
        print(f"[{name}] {spec['what']}", flush=True)
        got = cited(spec["cited"]) if spec.get("cited") and not args.retrain else None
        if got is None:
            run_dir = work / name
            got = {**train(spec["flags"], run_dir), "source": f"trained here: {run_dir}",
                   "command": " ".join(train_command(spec["flags"], run_dir)), **evaluate(run_dir, args.n)}
        rows[name] = {"what": spec["what"], "flags": spec["flags"], **got}
        r = rows[name]
        print(f"  DDIM-50 {r['fid_ddim50']:.2f}, ancestral-1000 {r['fid_ancestral']:.2f}, "
              f"ratio {r['fid_ddim50'] / r['fid_ancestral']:.3f}", flush=True)
    return {"n": args.n, "rows": rows}


def write_markdown(res: dict[str, Any], path: Path, command: str) -> None:
    rows = res["rows"]
    lines = ["# Training changes against the DDIM / ancestral gap (digit DDPM, guidance 1)", "",
             (f"Generated by `{command}` on {res['meta']['date']} ({res['meta']['machine']}, "
              f"{res['meta']['cpus']} CPUs). Each model is the shipped DDPM's `aip train` command with the flags "
              f"shown changed, trained on one thread (OMP_NUM_THREADS=1, two runs side by side on the 2-core "
              f"machine, which is shared, so speeds vary between runs), each sized to fit the issue's 30-minute "
              f"budget (train s says whether it did); N = {res['n']} samples per sampler (seed 0, labels "
              f"0..9 cycling, guidance 1) against N real test digits (floor, real train vs real test: "
              f"{res.get('fid_floor', float('nan')):.2f})."), "",
             ("| variant | change | params | steps | train s | FID DDIM-50 | FID ancestral-1000 | ratio | "
              "acc DDIM-50 | acc ancestral |"), "|" + "---|" * 10]
    for name, r in rows.items():
        ratio = r["fid_ddim50"] / r["fid_ancestral"]
        lines.append(f"| {name} | {r['what']} | {r.get('params') or '-'} | {r.get('steps', '-')} | "
                     f"{r['train_seconds']:.0f} | {r['fid_ddim50']:.2f} | {r['fid_ancestral']:.2f} | {ratio:.3f} | "
                     f"{r['acc_ddim50']:.3f} | {r['acc_ancestral']:.3f} |")
    over = [k for k, r in rows.items() if r["train_seconds"] > BUDGET_S]
    best = min((k for k in rows if k not in over), key=lambda k: rows[k]["fid_ddim50"] / rows[k]["fid_ancestral"])
    b = rows[best]
    verdict = "smoke run, no verdict" if "smoke" in rows else \
        "met" if b["fid_ddim50"] <= 1.15 * b["fid_ancestral"] else "NOT met"
    lines += ["", (f"Target: ratio <= 1.15. Lowest ratio within the budget: {best}, "
                   f"{b['fid_ddim50'] / b['fid_ancestral']:.3f} -> **{verdict}**."
                   + (f" Over the 30-minute budget: {', '.join(over)}." if over else "")), "",
              "Sources: " + "; ".join(f"{k}: {r['source']}" for k, r in rows.items()) + ".", ""]
    lines += reading(rows)
    path.write_text("\n".join(lines) + "\n")


def _pair(rows: dict[str, Any], a: str, b: str, what: str) -> str:
    x, y = rows[a], rows[b]
    return (f"{what} ({a} -> {b}): DDIM-50 {x['fid_ddim50']:.2f} -> {y['fid_ddim50']:.2f}, ancestral "
            f"{x['fid_ancestral']:.2f} -> {y['fid_ancestral']:.2f}, ratio {x['fid_ddim50'] / x['fid_ancestral']:.2f} "
            f"-> {y['fid_ddim50'] / y['fid_ancestral']:.2f}")


def reading(rows: dict[str, Any]) -> list[str]:
    """One line per controlled comparison present in ``rows`` (one change between the two runs)."""
    pairs = [("eps16", "v16", "v-prediction"), ("v16", "v32", "4x the parameters"),
             ("v32", "v32_12500", "39% more steps"), ("v16", "v16_lognormal", "log-normal noise levels"),
             ("v32", "v32_lognormal", "log-normal noise levels, wide"),
             ("v16", "v16_patch1", "no space-to-depth (and 7500 steps, not 11000, to fit the budget)"),
             ("v16_patch1", "v16_patch1_8500", "13% more steps")]
    got = [f"- {_pair(rows, a, b, what)}" for a, b, what in pairs if a in rows and b in rows]
    if not got:
        return []
    return ["Each change on its own:", "", *got, "",
            ("Reading: v-prediction and dropping the 2x2 space-to-depth stem (whose structured output errors the "
             "deterministic sampler keeps: the background haze of ddim_gap.md) are the changes that move "
             "the ratio; width and steps lower both FIDs together, and log-normal noise levels make both worse. "
             "No variant reaches 1.15; the DDIM paper's own CIFAR-10 figures quoted in issue 4 give "
             "4.67 / 3.17 = 1.47 at GPU scale."), ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the real runs (default: a smoke run)")
    ap.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(VARIANTS)}")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--work", default="/tmp/aip_ddim_training", help="folder of the run directories")
    ap.add_argument("--retrain", action="store_true", help="train the variants generative.json already holds")
    args = ap.parse_args()
    res = run(args)
    from generative import floor

    res["fid_floor"] = floor(res["n"])
    res["meta"] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.machine(),
                   "cpus": os.cpu_count()}
    stem = "ddim_training" if args.full else "ddim_training_quick"
    RESULTS.mkdir(exist_ok=True)
    cmd = "python benchmarks/ddim_training.py" + (" --full" if args.full else "")
    (RESULTS / f"{stem}.json").write_text(json.dumps(res, indent=1) + "\n")
    write_markdown(res, RESULTS / f"{stem}.md", cmd)
    print(f"wrote {RESULTS / stem}.md")


if __name__ == "__main__":
    main()
