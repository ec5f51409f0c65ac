"""``aip info``: version, device, threads, the available methods and models, and the shipped assets.

Models are listed by family from the one table :data:`aip.models.registry.SPECS` (``models.<family>``),
the shipped weights from :func:`aip.io.assets.list_assets`.
"""

from __future__ import annotations

import argparse

from aip.cli.common import add_json_flag, report


def register(sub) -> None:
    p = sub.add_parser("info", help="version, device, threads and available methods",
                       description="Print aip's version, the compute device, thread counts and methods.")
    add_json_flag(p)
    p.set_defaults(func=run)


def available_methods() -> dict[str, list[str]]:
    """Method names per task, read from the registries of the packages that are present."""
    import importlib

    out: dict[str, list[str]] = {}
    probes = {
        "fractal": ("aip.fractal", "METHODS"),
        "degrade": ("aip.degrade", "METHODS"),
        "restore": ("aip.restore", "METHODS"),
        "models": ("aip.models", "METHODS"),
        "samplers": ("aip.sampling", "METHODS"),
    }
    for family, (mod, attr) in probes.items():
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        val = getattr(m, attr, None)
        if isinstance(val, dict):
            for k, v in val.items():
                out[f"{family}.{k}" if family != k else k] = sorted(v)
        elif val is not None:
            out[family] = sorted(val)
    return out


def shipped_assets() -> list[str]:
    """Names of the assets shipped in the package (weights and dictionaries, :mod:`aip.io.assets`)."""
    from aip.io.assets import list_assets

    return list_assets()


def run(args: argparse.Namespace) -> int:
    import os
    import platform

    import numpy as np
    import torch

    from aip import __version__

    result = {
        "aip": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "cuda_devices": torch.cuda.device_count(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "methods": available_methods(),
        "assets": shipped_assets(),
    }
    if args.json:
        report(args, result)
        return 0
    for k, v in result.items():
        if k == "methods":
            print("methods:")
            for fam, names in v.items():
                print(f"  {fam}: {', '.join(names)}")
        elif k == "assets":
            print(f"assets: {', '.join(v) or 'none'}")
        else:
            print(f"{k}: {v}")
    return 0
