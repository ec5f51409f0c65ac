"""Helpers shared by the subcommand modules: output of results as a table or JSON."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from typing import Any


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print results as JSON (for scripts)")


def add_force_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return _clean(value.item())
    return value


def print_json(data: Any) -> None:
    print(json.dumps(_clean(data), indent=2))


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
