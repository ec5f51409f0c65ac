"""Entry point of the ``aip`` command.

Each module named in ``_COMMAND_MODULES`` defines ``register(subparsers)``, which adds one or more
subcommands whose parsers set ``func`` (called with the parsed args, returning an exit code or None).
Modules import heavy libraries inside their ``func`` only, so ``aip --help`` stays fast.
User errors (ValueError, TypeError, missing or existing files) print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

_COMMAND_MODULES = (
    "info", "demo", "fractal", "degrade", "restore", "generate",
)

USER_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError, IsADirectoryError,
               NotADirectoryError, PermissionError, ImportError)


def build_parser() -> argparse.ArgumentParser:
    from aip import __version__

    parser = argparse.ArgumentParser(
        prog="aip",
        description="aip: fractal image compression, image restoration and deep generative models.",
    )
    parser.add_argument("--version", action="version", version=f"aip {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"aip.cli.{name}")
        except ModuleNotFoundError as exc:  # a command family not built yet
            if exc.name == f"aip.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        print("aip: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"aip: error: {msg}", file=sys.stderr)
        return 2
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
