"""The workbench's work folder and the checks on what the page sends.

Everything the app reads or writes lies in one folder (``uploads/`` and ``results/`` under it), named by
random ids the app makes; a name from the page is only ever looked up in that table of ids, so no other
path on the server can be read or written from the page. An upload is refused, in one line, when it is
over the byte limit, not a PNG/JPEG/TIFF/BMP image by its content (whatever its name says), or over
the pixel limit by its header, before any pixel is decoded (decompression bombs).
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ALLOWED_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "BMP": ".bmp"}
DEFAULT_MAX_BYTES = 25 * 1024 * 1024        # 25 MiB: a 12-megapixel JPEG or PNG photo fits
DEFAULT_MAX_PIXELS = 16_000_000             # 16 megapixels: a 12-megapixel photo fits
_ID = re.compile(r"^[0-9a-f]{32}$")
_NAME = re.compile(r"^[a-z0-9_]{1,40}\.(png|aipf)$")   # result images and the codec's file


class UploadError(ValueError):
    """An upload refused: too large, not an image, or too many pixels (one line)."""


class WorkDir:
    """The one folder the app uses: ``uploads/ID.png`` (decoded uploads) and ``results/ID/NAME.png``."""

    def __init__(self, root: str | Path | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_pixels: int = DEFAULT_MAX_PIXELS):
        self._own = root is None
        self.root = Path(tempfile.mkdtemp(prefix="aip-serve-")) if root is None else Path(root)
        (self.root / "uploads").mkdir(parents=True, exist_ok=True)
        (self.root / "results").mkdir(parents=True, exist_ok=True)
        self.max_bytes, self.max_pixels = int(max_bytes), int(max_pixels)

    def cleanup(self) -> None:
        if self._own:
            shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ uploads
    def check_upload(self, data: bytes, filename: str = "upload") -> tuple[str, int, int]:
        """``(format, width, height)`` of an acceptable upload, else :class:`UploadError`."""
        from PIL import Image, UnidentifiedImageError

        if len(data) > self.max_bytes:
            raise UploadError(f"{filename}: expected at most {self.max_bytes // (1024 * 1024)} MiB, got "
                              f"{len(data) / (1024 * 1024):.1f} MiB")
        if not data:
            raise UploadError(f"{filename}: expected an image file, got an empty upload")
        try:
            with Image.open(io.BytesIO(data)) as im:   # reads the header only
                fmt, (w, h) = im.format, im.size
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            raise UploadError(f"{filename}: expected a PNG, JPEG, TIFF or BMP image, got data that is "
                              "none of them") from None
        if fmt not in ALLOWED_FORMATS:
            raise UploadError(f"{filename}: expected a PNG, JPEG, TIFF or BMP image, got {fmt}")
        if w * h > self.max_pixels:
            raise UploadError(f"{filename}: expected at most {self.max_pixels / 1e6:g} megapixels, got {w}x{h} "
                              f"({w * h / 1e6:.1f} megapixels; a decompression bomb is refused before decoding)")
        return fmt, w, h

    def save_upload(self, data: bytes, filename: str = "upload") -> dict[str, Any]:
        """Check, decode and store an upload as ``uploads/ID.png``; returns its id and size."""
        from aip.io import read_image

        fmt, w, h = self.check_upload(data, filename)
        upload_id = uuid.uuid4().hex
        raw = self.root / "uploads" / f"{upload_id}.raw{ALLOWED_FORMATS[fmt]}"
        raw.write_bytes(data)
        try:
            img = read_image(raw, max_pixels=self.max_pixels)
        except ValueError as exc:
            raise UploadError(f"{filename}: {str(exc).split(': ', 1)[-1]}") from None
        finally:
            raw.unlink(missing_ok=True)
        if img.ndim == 3 and img.shape[2] == 4:
            img = img[..., :3]
        elif img.ndim == 3 and img.shape[2] == 2:
            img = img[..., 0]
        self.write(self.root / "uploads" / f"{upload_id}.png", img)
        return {"id": upload_id, "width": w, "height": h, "format": fmt,
                "channels": 1 if img.ndim == 2 else int(img.shape[2])}

    def upload_path(self, upload_id: str) -> Path:
        if not isinstance(upload_id, str) or not _ID.match(upload_id):
            raise FileNotFoundError(f"image: expected an upload id (32 hex digits), got {upload_id!r}")
        p = self.root / "uploads" / f"{upload_id}.png"
        if not p.is_file():
            raise FileNotFoundError(f"image: no upload {upload_id} (uploads last as long as the server)")
        return p

    def load(self, upload_id: str) -> np.ndarray:
        from aip.io import read_image

        return read_image(self.upload_path(upload_id))

    # ------------------------------------------------------------------ results
    def result_dir(self, job_id: str) -> Path:
        d = self.root / "results" / job_id
        d.mkdir(parents=True, exist_ok=True)
        return d

    def write(self, path: Path, img: np.ndarray) -> Path:
        from aip.io import write_image

        write_image(path, np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0), force=True)
        return path

    def save_result(self, job_id: str, name: str, img: np.ndarray) -> str:
        """Write ``results/JOB/NAME.png``; returns its URL path."""
        self.write(self.result_dir(job_id) / f"{name}.png", img)
        return f"/api/files/{job_id}/{name}.png"

    def result_path(self, job_id: str, name: str) -> Path:
        if not _ID.match(job_id) or not _NAME.match(name):
            raise FileNotFoundError("file: no such result")
        p = self.root / "results" / job_id / name
        if not p.is_file():
            raise FileNotFoundError("file: no such result")
        return p
