"""Entry point of the ``aip`` command.

Each module named in ``_COMMAND_MODULES`` defines ``register(subparsers)``, which adds one or more
subcommands whose parsers set ``func`` (called with the parsed args, returning an exit code or None).
Modules import heavy libraries inside their ``func`` only, so ``aip --help`` stays fast.
User errors (ValueError, TypeError, missing or existing files) and usage errors print one line and exit
with code 2. Long flags are spelled with hyphens; the underscore spelling is an alias (``--batch_size``).
Ctrl-C exits with code 130 and SIGTERM (sent by ``timeout``, docker, batch schedulers) with 143, both
after removing any temporary output file (SIGTERM is raised as :class:`Terminated`, a KeyboardInterrupt).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

_COMMAND_MODULES = (
    "info", "demo", "fractal", "degrade", "restore", "generate", "translate", "serve",
)

USER_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError, IsADirectoryError,
               NotADirectoryError, PermissionError, ImportError)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that ``finally`` blocks and temporary-file cleanup run."""


def _on_sigterm(signum, frame):
    raise Terminated


def _install_sigterm():
    """Make SIGTERM raise :class:`Terminated`; returns the previous handler (None if not installed)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def build_parser() -> argparse.ArgumentParser:
    from aip import __version__
    from aip.cli.common import Parser, add_max_pixels_flag

    parser = Parser(
        prog="aip",
        description="aip: fractal image compression, image restoration and deep generative models.",
    )
    parser.add_argument("--version", action="version", version=f"aip {__version__}")
    add_max_pixels_flag(parser)
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
    from aip.cli.common import kebab_flags

    parser = build_parser()
    try:
        args = parser.parse_args(kebab_flags(sys.argv[1:] if argv is None else list(argv)))
    except SystemExit as exc:  # --help, --version (0) and usage errors (2, one line printed): a code, as below
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous = _install_sigterm()
    old_limit = None
    try:
        if getattr(args, "max_pixels", None) is not None:
            from aip.io.images import set_max_pixels

            old_limit = set_max_pixels(args.max_pixels)
        code = args.func(args)
    except Terminated:
        print("aip: terminated (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("aip: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"aip: error: {msg}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if old_limit is not None:
            from aip.io.images import set_max_pixels

            set_max_pixels(old_limit)
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
