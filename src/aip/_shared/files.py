"""Safe output files: write to a temporary file in the same folder, then rename.

A crash never leaves half a file, and nothing that exists is overwritten unless ``force``:

- the temporary file is named ``.NAME.aiptmp-XXXXXXXX.SUFFIX`` beside the target (the suffix is kept for
  libraries that pick the format from it); it is removed on any error, Ctrl-C or SIGTERM (the CLI turns
  SIGTERM into KeyboardInterrupt), and ones left by a hard kill (SIGKILL, power loss) are removed by the
  next write to that folder once they are older than :data:`STALE_SECONDS`;
- the data is fsynced before the rename, and the folder after it;
- without ``force`` the rename is a hard link to the target name, which fails if the name exists, so there
  is no window between the existence check and the write (where hard links are not supported, the name
  is reserved with ``O_CREAT | O_EXCL`` and then replaced);
- the file gets the mode a plain ``open(path, "w")`` would give: ``0o666 & ~umask`` for a new file, the old
  file's mode when one is replaced with ``force``.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TMP_TAG = ".aiptmp-"
# A temporary file of ours (mkstemp adds 8 characters from [a-z0-9_]) left by a kill is removed by the
# next write to its folder once its last modification is older than this (a write in progress of
# another process keeps touching its file).
STALE_SECONDS = 15 * 60
_TMP_RE = re.compile(r"^\..+" + re.escape(TMP_TAG) + r"[a-z0-9_]{8}(\.[^.]*)?$")
_cleaned: set[str] = set()  # folders already swept by this process


def check_writable(path: str | os.PathLike, force: bool = False) -> Path:
    """Raise FileExistsError (one line) if ``path`` exists and ``force`` is False.

    Also refuses a folder as the target and a missing (or non-folder) parent, each in one line.
    """
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"{p}: is a folder; expected the path of an output file")
    if p.exists() and not force:
        raise FileExistsError(f"{p}: already exists; pass --force (force=True) to overwrite")
    parent = p.parent
    if str(parent) and not parent.exists():
        raise FileNotFoundError(f"{parent}: output folder does not exist")
    if str(parent) and not parent.is_dir():
        raise NotADirectoryError(f"{parent}: expected an output folder, got a file")
    return p


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask is a set-and-get)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def is_own_temp(name: str) -> bool:
    """True for names of the temporary files :func:`atomic_write` makes."""
    return bool(_TMP_RE.match(name))


def clean_stale_temps(folder: str | os.PathLike, *, older_than: float = STALE_SECONDS) -> list[Path]:
    """Remove temporary files of ours in ``folder`` not modified for ``older_than`` seconds; return them.

    Only names matching :func:`is_own_temp` and regular files owned by this user are touched.
    """
    removed = []
    now = time.time()
    uid = os.getuid() if hasattr(os, "getuid") else None
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not is_own_temp(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or (uid is not None and st.st_uid != uid):
                continue
            if now - st.st_mtime < older_than:
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:  # gone already, or not ours to remove
            continue
    return removed


def _fsync_path(path: str, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # folders cannot be fsynced everywhere (Windows, some network file systems)
        pass
    finally:
        os.close(fd)


def _link_unsupported(exc: OSError) -> bool:
    return exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK,
                         errno.ENOSYS, errno.EACCES)


def _place_exclusive(tmp: str, p: Path) -> None:
    """Move ``tmp`` to ``p`` only if ``p`` does not exist, atomically."""
    exists = FileExistsError(errno.EEXIST, f"{p}: already exists; pass --force (force=True) to overwrite")
    try:
        os.link(tmp, p)
    except FileExistsError:
        raise exists from None
    except (OSError, NotImplementedError, AttributeError) as exc:
        if isinstance(exc, OSError) and not _link_unsupported(exc):
            raise
        # no hard links here (FAT, some network shares): reserve the name, then replace it
        try:
            fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            raise exists from None
        os.close(fd)
        try:
            os.replace(tmp, p)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(p)
            raise
        return
    os.unlink(tmp)


def atomic_write(path: str | os.PathLike, writer: Callable[[str], None] | bytes, *,
                 force: bool = False) -> Path:
    """Write ``path`` atomically.

    ``writer`` is either the bytes to write or a callable that writes to the temporary file name it is
    given (for libraries that want a path, such as Pillow). The suffix of ``path`` is kept on the
    temporary name so format sniffing by extension still works. Without ``force``, FileExistsError is
    raised if ``path`` exists, also when it appears while the data is being written.
    """
    p = check_writable(path, force)
    folder = str(p.parent) if str(p.parent) else "."
    key = os.path.abspath(folder)
    if key not in _cleaned:
        _cleaned.add(key)
        clean_stale_temps(folder)
    try:
        mode = os.stat(p).st_mode & 0o7777 if force else None
    except OSError:
        mode = None
    if mode is None:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}{TMP_TAG}", suffix=p.suffix or ".tmp", dir=folder)
    try:
        if isinstance(writer, (bytes, bytearray, memoryview)):
            with os.fdopen(fd, "wb") as fh:
                fh.write(writer)
                fh.flush()
                os.fsync(fh.fileno())
        else:
            os.close(fd)
            writer(tmp)
            _fsync_path(tmp)
        os.chmod(tmp, mode)
        if force:
            os.replace(tmp, p)
        else:
            _place_exclusive(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):  # the temporary file may not exist any more
            os.unlink(tmp)
        raise
    _fsync_path(folder, directory=True)
    return p


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars made Python and non-finite floats made JSON-safe (NaN -> None,
    infinities -> "inf" / "-inf"), through dicts, lists and tuples."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return json_safe(value.item())
    return value
