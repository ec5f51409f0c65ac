"""Safe output files: write to a temporary file in the same folder, then rename.

A crash never leaves half a file, and nothing that exists is overwritten unless ``force``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def check_writable(path: str | os.PathLike, force: bool = False) -> Path:
    """Raise FileExistsError (one line) if ``path`` exists and ``force`` is False."""
    p = Path(path)
    if p.exists() and not force:
        raise FileExistsError(f"{p}: already exists; pass --force (force=True) to overwrite")
    if p.parent and not p.parent.exists():
        raise FileNotFoundError(f"{p.parent}: output folder does not exist")
    return p


def atomic_write(path: str | os.PathLike, writer: Callable[[str], None] | bytes, *,
                 force: bool = False) -> Path:
    """Write ``path`` atomically.

    ``writer`` is either the bytes to write or a callable that writes to the temporary file name it is
    given (for libraries that want a path, such as Pillow). The suffix of ``path`` is kept on the
    temporary name so format sniffing by extension still works.
    """
    p = check_writable(path, force)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=p.suffix or ".tmp",
                               dir=str(p.parent) if str(p.parent) else ".")
    try:
        if isinstance(writer, (bytes, bytearray, memoryview)):
            with os.fdopen(fd, "wb") as fh:
                fh.write(writer)
        else:
            os.close(fd)
            writer(tmp)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):  # the temporary file may not exist any more
            os.unlink(tmp)
        raise
    return p
