"""``aip train``, ``aip sample`` and ``aip evaluate``: generative models from the command line.

    aip train MODEL --data NAME|PATH --out RUN_DIR [--steps N | --epochs N] [--key value ...]
    aip sample RUN_DIR -n 64 -o grid.png [--sampler ddim --steps 50 --guidance 3 --label 7]
    aip evaluate RUN_DIR [-n 1000] [--json]

Extra ``--set KEY=VALUE`` knobs of ``aip train`` (the knob syntax of every subcommand; ``--key value`` is
accepted as shorthand) set fields of the model's config dataclass (``--set hidden_dim=64``);
unknown keys are an error listing the known ones. ``aip train`` runs unchanged under
``torchrun --nproc_per_node K`` (DistributedDataParallel; ``--batch-size`` is per process).
"""

from __future__ import annotations

import argparse
from typing import Any

from aip.cli.common import Parser, add_force_flag, add_json_flag, add_output_flag, report


class _KeyValueParser(Parser):
    """A sub-parser that keeps unknown ``--key value`` pairs in ``args.extra`` instead of failing."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        ns, rest = super().parse_known_args(args, namespace)
        ns.extra = list(getattr(ns, "extra", None) or []) + list(rest)
        return ns, []


class _TrainHelp(argparse.Action):
    """``aip train [MODEL] --help``: the trainer's flags, then MODEL's config keys with their defaults."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.print_help()
        model = getattr(namespace, "model", None)
        if model:
            print(f"\n{model_keys_help(model)}")
        parser.exit()


def model_keys_help(model: str) -> str:
    """The ``--key value`` options of ``model``'s config, one per line with its default (its TrainConfig
    keys too: ``--crop``, ``--noise``, ... for restorers)."""
    import dataclasses

    from aip.train.models import get_model_class

    cls = get_model_class(model)
    lines = [f"{model} options (--set KEY=VALUE, or --key value; defaults in brackets):"]
    for f in dataclasses.fields(cls.config_class):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "required")
        lines.append(f"  --{f.name.replace('_', '-'):<24} [{default}]")
    from aip.train.config import TrainConfig

    flags = set(_TRAIN_FLAGS) | {"model", "data", "bf16"}
    more = [f"--{f.name.replace('_', '-')}" for f in dataclasses.fields(TrainConfig) if f.name not in flags]
    lines.append(f"trainer options besides the flags above: {', '.join(more)} (see aip.train.TrainConfig)")
    return "\n".join(lines)


def parse_key_values(tokens: list[str]) -> dict[str, str]:
    """``["--set", "hidden_dim=64", "--beta=2", "--depth", "3"]`` -> ``{"hidden_dim": "64", "beta": "2",
    "depth": "3"}`` (clear errors). ``--set KEY=VALUE`` is the knob syntax of every subcommand; ``--key
    value`` is its shorthand here."""
    out: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "--set":   # the knob convention of every subcommand: --set KEY=VALUE
            item = tokens[i + 1] if i + 1 < len(tokens) else ""
            key, eq, value = item.partition("=")
            if not eq or not key.replace("-", "_").isidentifier():
                raise ValueError(f"--set: expected KEY=VALUE with a Python name as KEY, got {item!r}")
            out[key.replace("-", "_")] = value
            i += 2
            continue
        if not tok.startswith("--") or len(tok) < 3:
            raise ValueError(f"model options: expected --key value pairs, got {tok!r}")
        if "=" in tok:
            key, value = tok[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(tokens) or (tokens[i + 1].startswith("--") and len(tokens[i + 1]) > 2):
                raise ValueError(f"{tok}: expected a value after it (--key value)")
            key, value = tok[2:], tokens[i + 1]
            i += 2
        out[key.replace("-", "_")] = value
    return out


def register(sub) -> None:
    from aip.models.registry import model_names  # the one model table; imports no torch

    p = sub.add_parser("train", help="train a model (VAE, GAN, diffusion, denoiser, super-resolution, ...)",
                       description="Train a model of the registry on a built-in dataset or a folder. Knobs "
                                   "--set KEY=VALUE (or --key value) set the model's config (aip train MODEL --help lists "
                                   "them). Runs under torchrun for DDP.", add_help=False)
    p.add_argument("-h", "--help", action=_TrainHelp, help="show this help (and MODEL's options) and exit")
    p.__class__ = _KeyValueParser  # keep unknown --key value pairs for the model config
    p.allow_abbrev = False  # a model key must never be taken for a prefix of a trainer flag
    p.add_argument("model", nargs="?", default=None,
                   help=f"model name: {', '.join(model_names(('generative', 'restoration')))}; "
                        "optional with --resume")
    p.add_argument("--data", default=None, help="built-in dataset (digits, digits8, faces, patches) or a folder (default: the model's own, e.g. digits)")
    p.add_argument("-o", "--out", required=True, help="run directory (config, log, samples, checkpoints)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=None, help="optimiser steps")
    length.add_argument("--epochs", type=int, default=None, help="passes over the data")
    p.add_argument("--batch-size", type=int, default=None, help="batch per process (default 64)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the model's, else 2e-4)")
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--warmup", type=int, default=None, help="linear learning-rate warm-up steps")
    p.add_argument("--lr-schedule", choices=("constant", "cosine"), default=None)
    p.add_argument("--ema-decay", type=float, default=None, help="EMA of weights for sampling (0: off)")
    p.add_argument("--grad-clip", type=float, default=None, help="gradient-norm clip (0: off; default 1)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None, help="cpu (default), cuda, cuda:N or auto")
    p.add_argument("--log-every", type=int, default=None)
    p.add_argument("--sample-every", type=int, default=None, help="write a sample grid every N steps")
    p.add_argument("--checkpoint-every", type=int, default=None)
    p.add_argument("--num-samples", type=int, default=None, help="images in each sample grid")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    p.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                   help="stop after step STEP, keeping the schedule of --steps (one chunk of a long run; "
                        "continue it later with --resume)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_flag(p)
    p.set_defaults(func=run_train, extra=[])

    s = sub.add_parser("sample", help="draw samples from a trained run into a PNG grid",
                       description="Sample from a run's EMA model and write one image grid.")
    s.add_argument("run", help="run directory written by aip train, or shipped:NAME (e.g. shipped:ddpm)")
    s.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    add_output_flag(s, "output image (PNG grid)")
    s.add_argument("--sampler", default=None, help="sampler of the model: ddpm, ddim, dpm++, heun (diffusion; --steps = network evaluations) or langevin")
    s.add_argument("--steps", type=int, default=None, help="sampling steps (diffusion, Langevin)")
    s.add_argument("--eta", type=float, default=None, help="DDIM eta")
    s.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    s.add_argument("--temperature", type=float, default=None,
                   help="sampling temperature (flows: of the latent; VAEs: of the prior; MaskGIT: of the tokens)")
    s.add_argument("--label", type=int, default=None, help="class of every sample (conditional models)")
    s.add_argument("--nrow", type=int, default=None, help="images per grid row")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default=None)
    s.add_argument("--no-ema", action="store_true", help="use the raw weights instead of their EMA")
    add_force_flag(s)
    add_json_flag(s)
    s.set_defaults(func=run_sample)

    e = sub.add_parser("evaluate", help="FID-LeNet, class accuracy and NLL of a generative run; PSNR/SSIM of a restorer",
                       description="Evaluate a run: FID-LeNet against the test split with the real-data "
                                   "floor, classifier score, class accuracy of conditional samples, NLL.")
    e.add_argument("run", help="run directory written by aip train, or shipped:NAME (shipped:ddpm, "
                               "shipped:restore_ffdnet_gray)")
    e.add_argument("-n", type=int, default=1000, help="samples and real images per FID (default 1000)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--sampler", default=None)
    e.add_argument("--steps", type=int, default=None)
    e.add_argument("--eta", type=float, default=None)
    e.add_argument("--guidance", type=float, default=None)
    e.add_argument("--device", default=None)
    add_json_flag(e)
    e.set_defaults(func=run_evaluate)


_TRAIN_FLAGS = ("steps", "epochs", "batch_size", "lr", "weight_decay", "warmup", "lr_schedule", "ema_decay",
                "grad_clip", "seed", "device", "log_every", "sample_every", "checkpoint_every", "num_samples")


def run_train(args: argparse.Namespace) -> int:
    from aip.train import distributed as D
    from aip.train.run import train_run

    options = parse_key_values(args.extra)
    given = {k: getattr(args, k) for k in _TRAIN_FLAGS if getattr(args, k) is not None}
    for k in ("steps", "epochs"):
        if k in given and given[k] < 1:
            raise ValueError(f"--{k}: expected a positive integer, got {given[k]}")
    if args.stop_at is not None and args.stop_at < 1:
        raise ValueError(f"--stop-at: expected a positive step, got {args.stop_at}")
    if args.resume:
        given = resume_settings(args, options, given)
        trainer = train_run(args.model, args.out, resume=True, overrides=given, progress=not args.quiet,
                            stop_at=args.stop_at)
    else:
        if args.model is None:
            raise ValueError("model: expected a model name (aip train MODEL --data ... --out ...)")
        if args.data is None:  # the model's built-in default task (its registry entry's dataset)
            from aip.models.registry import get_spec

            args.data = get_spec(args.model).default_data
        if "steps" not in given and "epochs" not in given:
            raise ValueError("--steps/--epochs: expected one of them")
        cfg, options = train_config_from_args(args)
        trainer = train_run(args.model, args.out, config=cfg, model_options=options, progress=not args.quiet,
                            stop_at=args.stop_at)
    if D.is_main():
        last = trainer.history[-1] if trainer.history else {}
        result: dict[str, Any] = {"model": trainer.module.name, "run": str(args.out), "step": trainer.step,
                                  "world_size": trainer.world_size}
        result.update({k: v for k, v in last.items() if k.endswith("loss")})
        report(args, result)
    return 0


def resume_settings(args: argparse.Namespace, options: dict[str, str], given: dict[str, Any]) -> dict[str, Any]:
    """The overrides of a resumed run: the first command can be repeated with ``--resume`` appended, so every
    repeated setting (``--data``, trainer flags, model ``--set`` knobs) must equal the saved one, else one
    line names it; the length, intervals and device may change. Returns the trainer flags to override."""
    import dataclasses
    import json
    import typing
    from pathlib import Path

    from aip.train.config import TrainConfig
    from aip.train.models import coerce_value, get_model_class
    from aip.train.run import RESUME_OVERRIDES

    cfg = Path(args.out) / "config.json"
    if not cfg.is_file():
        raise FileNotFoundError(f"{args.out}: no config.json to resume from")
    saved = json.loads(cfg.read_text())
    tc, mc = saved["train"], saved["model"]

    def same(a: Any, b: Any) -> bool:
        return json.loads(json.dumps(a, default=str)) == json.loads(json.dumps(b, default=str))

    def refuse(flag: str, old: Any, new: Any) -> None:
        raise ValueError(f"--resume: {flag} was {old!r} in this run, got {new!r}; a resumed run keeps its settings "
                         f"(only {', '.join('--' + k.replace('_', '-') for k in RESUME_OVERRIDES)} may change)")

    if args.data is not None and str(args.data) != str(tc["data"]) and \
            Path(str(args.data)).resolve() != Path(str(tc["data"])).resolve():
        refuse("--data", tc["data"], args.data)
    model_cls = get_model_class(mc["model"]).config_class
    model_hints = typing.get_type_hints(model_cls)
    train_hints = typing.get_type_hints(TrainConfig)
    fields = {f.name for f in dataclasses.fields(model_cls)}
    for key, text in options.items():
        if key in fields and key in mc:
            old, value = mc[key], coerce_value(text, model_hints[key], key)
        elif key in tc:
            old, value = tc[key], coerce_value(text, train_hints[key], key)
        else:
            raise ValueError(f"--resume: --{key.replace('_', '-')} is not a setting of this {mc['model']} run")
        if not same(old, value):
            refuse(f"--{key.replace('_', '-')}", old, value)
    out = {}
    for key, value in given.items():
        if key in RESUME_OVERRIDES:
            out[key] = value
        elif key in tc and not same(tc[key], None if key == "grad_clip" and value == 0 else value):
            refuse(f"--{key.replace('_', '-')}", tc[key], value)
    return out


def train_config_from_args(args: argparse.Namespace) -> tuple[Any, dict[str, str]]:
    """The TrainConfig of a new ``aip train`` run from its parsed arguments, and the model's ``--key value``
    options left once the TrainConfig keys among them are taken (what ``train_run`` gets)."""
    from aip.train.config import TrainConfig

    options = parse_key_values(args.extra)
    given = {k: getattr(args, k) for k in _TRAIN_FLAGS if getattr(args, k) is not None}
    if given.get("grad_clip") == 0:
        given["grad_clip"] = None
    given.update(_train_keys_from(args.model, options))
    return TrainConfig(model=args.model, data=args.data, bf16=args.bf16, **given), options


def _train_keys_from(model: str, options: dict[str, str]) -> dict[str, Any]:
    """Move ``--key value`` pairs that name a TrainConfig field (and no field of the model's config) out of
    ``options``, converted to the field's type (e.g. ``--ema-warmup false --sample-kwargs '{"steps": 20}'``)."""
    import dataclasses
    import typing

    from aip.train.config import TrainConfig
    from aip.train.models import coerce_value, get_model_class

    model_fields = {f.name for f in dataclasses.fields(get_model_class(model).config_class)}
    hints = typing.get_type_hints(TrainConfig)
    moved = {}
    for key in list(options):
        if key not in model_fields and key in hints and key not in ("model", "data"):
            moved[key] = coerce_value(options.pop(key), hints[key], key)
    return moved


def _sample_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("sampler", "steps", "eta", "guidance", "temperature")
            if getattr(args, k, None) is not None}


def run_sample(args: argparse.Namespace) -> int:
    from aip._shared.files import check_writable
    from aip.io import write_image
    from aip.tasks.generate import sample_grid

    check_writable(args.output, args.force)
    _, grid, result = sample_grid(args.run, args.n, label=args.label, seed=args.seed, nrow=args.nrow,
                                  ema=not args.no_ema, device=args.device, **_sample_kwargs(args))
    arr = grid[0].numpy() if grid.shape[0] == 1 else grid.permute(1, 2, 0).numpy()
    write_image(args.output, arr, force=args.force)
    report(args, {**{k: result[k] for k in ("run", "model", "step", "n")}, "output": str(args.output),
                  **{k: v for k, v in result.items() if k not in ("run", "model", "step", "n")}})
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from aip._shared.validate import check_int
    from aip.train.evaluate import evaluate_run

    check_int(args.n, "-n", low=2)
    res = evaluate_run(args.run, n=args.n, seed=args.seed, sample_kwargs=_sample_kwargs(args), device=args.device,
                       progress=not args.json)
    report(args, res)
    return 0
