"""Helpers shared by the subcommand modules: common flags, output of results as a table or JSON."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from typing import Any


class Parser(argparse.ArgumentParser):
    """The parser of ``aip`` and its subcommands: a usage error is one line, ``aip: error: ...``, exit 2
    (argparse prints the whole usage block first)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"aip: error: {message} (see: {self.prog} --help)\n")


def kebab_flags(argv: list[str]) -> list[str]:
    """``--batch_size 8`` -> ``--batch-size 8``: every long flag is spelled with hyphens, and the underscore
    spelling is accepted as an alias (up to an ``=``; values, ``--set k=v`` knobs and positionals unchanged)."""
    out = []
    for a in argv:
        if a.startswith("--") and len(a) > 2:
            name, eq, value = a.partition("=")
            a = name.replace("_", "-") + eq + value
        out.append(a)
    return out


def add_output_flag(parser: argparse.ArgumentParser, what: str, *, required: bool = True) -> None:
    """``-o/--out`` (``--output`` accepted too), stored as ``args.output``."""
    parser.add_argument("-o", "--out", "--output", dest="output", metavar="OUT", required=required, help=what)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print results as JSON (for scripts)")


def add_force_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def pixel_count(text: str) -> int:
    """argparse type of ``--max-pixels``: ``100000000``, ``1e8``, ``100M`` or ``0`` (no limit)."""
    t = str(text).strip()
    scale = 1
    if t[-1:] in ("k", "K", "m", "M", "g", "G"):
        scale = {"k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9}[t[-1].lower()]
        t = t[:-1]
    try:
        value = float(t) * scale
    except ValueError:
        value = float("nan")
    if not (value >= 0 and value < 1e15 and float(value).is_integer()):
        raise argparse.ArgumentTypeError(
            f"expected a whole number of pixels >= 0 such as 100000000, 1e8 or 100M (0: no limit), got {text!r}")
    return int(value)


def add_max_pixels_flag(parser: argparse.ArgumentParser) -> None:
    """``--max-pixels N``: the largest input image read (default 100 megapixels; 0: no limit).

    Defaults to SUPPRESS so that the same option given before the command (``aip --max-pixels N ...``)
    is not overwritten; :func:`aip.cli.main.main` applies it with :func:`aip.io.images.set_max_pixels`.
    """
    parser.add_argument("--max-pixels", type=pixel_count, metavar="N", default=argparse.SUPPRESS,
                        help="refuse input images over N pixels before decoding them, e.g. 2e8 or 200M "
                             "(default: 100M; 0: no limit)")


def add_bit_depth_flag(parser: argparse.ArgumentParser) -> None:
    """``--bit-depth auto|8|16`` of an image output; auto keeps a 16-bit input 16-bit in PNG/TIFF."""
    parser.add_argument("--bit-depth", choices=["auto", "8", "16"], default="auto",
                        help="bits per sample of the output image: 8, 16 (PNG/TIFF only) or auto (default: "
                             "16 when the input file has 16 bits and the output is PNG or TIFF, else 8)")


def print_json(data: Any) -> None:
    from aip._shared.files import json_safe

    print(json.dumps(json_safe(data), indent=2))


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Print rows of dicts as an aligned plain-text table."""
    if not rows:
        return
    cols = list(columns or rows[0].keys())
    cells = [[fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths)))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths)))


def report(args: argparse.Namespace, result: dict[str, Any] | list[dict[str, Any]]) -> None:
    """Print ``result`` as JSON with ``--json``, else as key: value lines or a table."""
    if getattr(args, "json", False):
        print_json(result)
    elif isinstance(result, list):
        print_table(result)
    else:
        width = max((len(k) for k in result), default=0)
        for k, v in result.items():
            print(f"{k.ljust(width)}  {fmt(v)}")


def add_batch_flags(parser: argparse.ArgumentParser, *, suffix: bool = True) -> None:
    """``--jobs``, ``--scheduler`` and ``--suffix``: for an IN that is a folder or a glob (a batch)."""
    g = parser.add_argument_group("batch (IN a folder or a quoted glob such as 'photos/**/*.jpg'; OUT a folder)")
    g.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="images processed at once by N local processes (default: 1)")
    g.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run the batch on a Dask distributed cluster: its scheduler address (tcp://host:8786), "
                        "or local:N for a local cluster of N workers")
    if suffix:
        g.add_argument("--suffix", metavar="EXT", default=None,
                       help="output file type of every image, e.g. .png (default: the input's)")


def run_batch_command(args: argparse.Namespace, fn: Any, matched: dict[str, Any] | None = None,
                      describe: dict[str, Any] | None = None, seed_key: bool = False,
                      inputs: tuple[str, ...] | None = None, outputs: tuple[str, ...] | None = None,
                      suffix: str | None = None) -> int:
    """Run ``fn(input, output, force=, ...)`` over the folder or glob ``args.input`` into folder
    ``args.output``; prints a table (or the JSON summary) and returns 1 if any image failed, else 0.
    ``matched`` names folders paired with the inputs by relative path; with ``seed_key`` each call also gets
    ``seed_key=`` the image's relative path (distinct, reproducible random draws per image)."""
    import sys

    from aip.tasks.batch import plan, run_batch

    matched = {k: v for k, v in (matched or {}).items() if v is not None}
    items = plan(args.input, args.output, suffix=getattr(args, "suffix", None) or suffix, matched=matched,
                 inputs=inputs, outputs=outputs)
    if seed_key:
        for it in items:
            it.matched["seed_key"] = it.rel
    summary = run_batch(fn, items, args.output, force=args.force, jobs=args.jobs, scheduler=args.scheduler,
                        progress=not args.json, describe=describe)
    if args.json:
        print_json(summary)
    else:
        keep = ("rel", "status", "psnr", "ssim", "total_s", "error")
        print_table([{k: r.get(k, "") for k in keep if any(k in x for x in summary["images"])}
                     for r in summary["images"]])
        print(f"{summary['done']} done, {summary['skipped']} skipped (outputs exist; --force redoes them), "
              f"{summary['failed']} failed; summary: {summary['summary_csv']}")
    if summary["failed"]:
        print(f"aip: {summary['failed']} of {summary['images_total']} images failed (their rows in "
              f"{summary['summary_csv']} say why); the others are done", file=sys.stderr)
        return 1
    return 0
