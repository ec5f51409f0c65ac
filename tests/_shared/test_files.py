"""atomic_write: mode from the umask, no overwrite race, temp files removed, stale temps swept."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aip._shared import files
from aip._shared.files import atomic_write, check_writable, clean_stale_temps, is_own_temp


def _leftovers(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if files.TMP_TAG in n)


@pytest.fixture(autouse=True)
def _fresh_sweep():
    files._cleaned.clear()
    yield
    files._cleaned.clear()


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
@pytest.mark.parametrize("use_bytes", [True, False])
def test_mode_follows_umask(tmp_path, umask, use_bytes):
    old = os.umask(umask)
    try:
        target = tmp_path / "a.bin"
        writer = b"xyz" if use_bytes else (lambda tmp: Path(tmp).write_bytes(b"xyz"))
        atomic_write(target, writer)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666 & ~umask
    assert target.read_bytes() == b"xyz"
    assert _leftovers(tmp_path) == []


def test_umask_read_matches_os(tmp_path):
    old = os.umask(0o027)
    try:
        assert files._umask() == 0o027
    finally:
        os.umask(old)


def test_force_keeps_existing_mode(tmp_path):
    target = tmp_path / "a.txt"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    atomic_write(target, b"new", force=True)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640


def test_existing_refused_without_force(tmp_path):
    target = tmp_path / "a.txt"
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="already exists"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"


def test_target_created_during_write_is_not_overwritten(tmp_path):
    target = tmp_path / "race.txt"

    def writer(tmp: str) -> None:
        Path(tmp).write_bytes(b"ours")
        target.write_bytes(b"theirs")  # another process wins the name between check and rename

    with pytest.raises(FileExistsError, match="already exists"):
        atomic_write(target, writer)
    assert target.read_bytes() == b"theirs"
    assert _leftovers(tmp_path) == []


def test_fallback_without_hard_links(tmp_path, monkeypatch):
    def no_link(src, dst):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    target = tmp_path / "x.bin"
    atomic_write(target, b"abc")
    assert target.read_bytes() == b"abc"
    with pytest.raises(FileExistsError):
        atomic_write(target, b"def")
    assert target.read_bytes() == b"abc"
    assert _leftovers(tmp_path) == []


def test_writer_error_removes_temp(tmp_path):
    def writer(tmp: str) -> None:
        Path(tmp).write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "k.png", writer)
    assert os.listdir(tmp_path) == []


def test_fsync_called_before_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_link = os.fsync, os.link
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "link", lambda a, b: (events.append("link"), real_link(a, b))[1])
    atomic_write(tmp_path / "f.bin", b"data")
    assert events[:2] == ["fsync", "link"]


def test_temp_name_pattern(tmp_path):
    seen = []

    def writer(tmp: str) -> None:
        seen.append(Path(tmp).name)
        Path(tmp).write_bytes(b"1")

    atomic_write(tmp_path / "out.png", writer)
    name = seen[0]
    assert name.startswith(".out.png.aiptmp-") and name.endswith(".png") and len(name) == len(".out.png") + 8 + 12
    assert is_own_temp(name)
    assert not is_own_temp(".out.png.abcdefgh.png")  # mkstemp names of other tools
    assert not is_own_temp("out.png")


def test_stale_temps_cleaned_on_next_write(tmp_path):
    stale = tmp_path / ".img.png.aiptmp-abcd1234.png"
    fresh = tmp_path / ".img.png.aiptmp-zzzz9999.png"
    foreign = tmp_path / ".img.png.abcd1234.png"
    for f in (stale, fresh, foreign):
        f.write_bytes(b"x")
    old = time.time() - files.STALE_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(foreign, (old, old))
    atomic_write(tmp_path / "new.bin", b"1")
    assert not stale.exists()
    assert fresh.exists() and foreign.exists()
    # the sweep itself, on demand
    os.utime(fresh, (old, old))
    assert clean_stale_temps(tmp_path) == [fresh]


def test_check_writable_one_line_errors(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        check_writable(tmp_path, force=True)
    with pytest.raises(FileNotFoundError, match="output folder does not exist"):
        check_writable(tmp_path / "nope" / "a.png")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises((NotADirectoryError, FileNotFoundError)):
        check_writable(tmp_path / "file" / "a.png")


_SLOW_WRITER = """
import sys, time
from pathlib import Path
from aip._shared.files import atomic_write
from aip.cli.main import _install_sigterm
_install_sigterm()
def w(tmp):
    Path(tmp).write_bytes(b"partial")
    print("writing", flush=True)
    time.sleep(30)
try:
    atomic_write(sys.argv[1], w)
except KeyboardInterrupt:
    sys.exit(143)
"""


def test_sigterm_during_write_leaves_no_temp(tmp_path):
    target = tmp_path / "slow.bin"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(target)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        assert len(_leftovers(tmp_path)) == 1
        proc.terminate()
        assert proc.wait(timeout=20) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
    assert os.listdir(tmp_path) == []
