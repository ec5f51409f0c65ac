"""``aip serve``: the browser workbench (restore, compress, generate, runs) on a local web server."""

from __future__ import annotations

import argparse

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def register(sub) -> None:
    p = sub.add_parser("serve", help="the browser workbench: restore, compress, generate, training runs",
                       description="Start the aip workbench, a local web app, and print its URL. It binds to "
                                   "127.0.0.1 (this machine only) unless --host and --allow-remote say otherwise.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0 picks a free one)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a --host other than this machine (the page has no login: anyone who reaches "
                        "the port can use it)")
    p.add_argument("--runs", metavar="FOLDER", default=None,
                   help="folder of training runs (aip train --out FOLDER/NAME) shown in the Runs tab")
    p.add_argument("--work", metavar="FOLDER", default=None,
                   help="work folder for uploads and results (default: a temporary one, removed at exit)")
    p.add_argument("--max-upload-mb", type=float, default=25.0, help="largest upload in MiB (default: 25)")
    p.add_argument("--max-upload-pixels", type=float, default=16e6,
                   help="largest upload in pixels, checked from the header (default: 16e6)")
    p.add_argument("--device", default=None, help="torch device of the generative models (cpu, cuda, auto)")
    p.set_defaults(func=run)


def check_host(host: str, allow_remote: bool) -> None:
    if host not in LOCAL_HOSTS and not allow_remote:
        raise ValueError(f"--host: expected a local address ({', '.join(LOCAL_HOSTS)}) unless --allow-remote is "
                         f"given (the workbench has no login), got {host!r}")


def run(args: argparse.Namespace) -> int:
    import socket
    from pathlib import Path

    check_host(args.host, args.allow_remote)
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port: expected 0..65535, got {args.port}")
    if args.runs is not None and not Path(args.runs).is_dir():
        raise NotADirectoryError(f"--runs: expected a folder of training runs, got {args.runs}")
    if not args.max_upload_mb > 0 or not args.max_upload_pixels >= 1:
        raise ValueError("--max-upload-mb/--max-upload-pixels: expected positive limits")
    from aip._shared.optional import require

    uvicorn = require("uvicorn")
    from aip.web.app import create_app
    from aip.web.uploads import WorkDir

    work = WorkDir(args.work, max_bytes=int(args.max_upload_mb * 1024 * 1024),
                   max_pixels=int(args.max_upload_pixels))
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        raise ValueError(f"--port: cannot listen on {args.host}:{args.port} ({exc.strerror})") from None
    port = sock.getsockname()[1]
    app = create_app(work, runs=args.runs, device=args.device)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"aip workbench: http://{shown}:{port}/  (Ctrl-C to stop)", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        work.cleanup()
    return 0
