"""The ``.aipf`` container: header, range-coded payload, CRC-32.

Layout (little-endian)::

    offset size  field
    0      4     magic b"AIPF"
    4      1     version (1)
    5      1     channels (1 gray, 3 colour coded as YCbCr)
    6      4     height
    10     4     width
    14     1     min_block (power of two, 2..64)
    15     1     max_block (power of two, min_block..64)
    16     1     domain step divisor (1, 2, 4 or 8): domain grid step = block / divisor
    17     1     log2 of the domain pool cap
    18     1     contrast levels K (s is coded as k * s_max / K, k in -K..K)
    19     1     s_max * 128
    20     1     luma mean quantiser step * 4 (8-bit units)
    21     1     chroma mean quantiser step * 4 (8-bit units)
    22     1     chroma subsampling factor (1 or 2)
    23     1     quality (informative)
    24     4     payload length
    28     n     payload (range coder words)
    28+n   4     CRC-32 of bytes [0, 28+n)

Every field is checked against sane bounds before anything is allocated, so a truncated, corrupted or
foreign file raises :class:`FractalFormatError` with one line.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import asdict, dataclass

MAGIC = b"AIPF"
VERSION = 1
_HEADER = struct.Struct("<4sBBIIBBBBBBBBBBI")
HEADER_SIZE = _HEADER.size
MAX_SIDE = 1 << 15
MAX_PIXELS = 1 << 26


class FractalFormatError(ValueError):
    """A file that is not a valid ``.aipf`` stream (truncated, corrupted or foreign)."""


@dataclass(frozen=True)
class Params:
    """Everything the decoder needs besides the payload."""

    height: int
    width: int
    channels: int
    min_block: int = 2
    max_block: int = 32
    step_div: int = 4
    pool_log2: int = 12
    s_levels: int = 8
    s_max_128: int = 120
    mean_step_y4: int = 8
    mean_step_c4: int = 12
    chroma_sub: int = 2
    quality: int = 50

    @property
    def s_max(self) -> float:
        return self.s_max_128 / 128.0

    @property
    def max_domains(self) -> int:
        return 1 << self.pool_log2

    def mean_step(self, chroma: bool) -> float:
        """Quantiser step of range means on the [0, 1] scale."""
        return (self.mean_step_c4 if chroma else self.mean_step_y4) / 4.0 / 255.0


def _pow2(v: int) -> bool:
    return v > 0 and (v & (v - 1)) == 0


def validate_params(p: Params) -> None:
    """Raise FractalFormatError if header fields are out of the sane bounds."""
    problems = []
    if p.channels not in (1, 3):
        problems.append(f"channels {p.channels} (expected 1 or 3)")
    if not (1 <= p.height <= MAX_SIDE and 1 <= p.width <= MAX_SIDE) or p.height * p.width > MAX_PIXELS:
        problems.append(f"size {p.height}x{p.width} (expected sides in 1..{MAX_SIDE}, "
                        f"at most {MAX_PIXELS} pixels)")
    if not (_pow2(p.min_block) and _pow2(p.max_block) and 2 <= p.min_block <= p.max_block <= 64):
        problems.append(f"blocks {p.min_block}..{p.max_block} (expected powers of two, 2 <= min <= max <= 64)")
    if p.step_div not in (1, 2, 4, 8):
        problems.append(f"domain step divisor {p.step_div}")
    if not 4 <= p.pool_log2 <= 20:
        problems.append(f"domain pool 2**{p.pool_log2}")
    if not 1 <= p.s_levels <= 64:
        problems.append(f"contrast levels {p.s_levels}")
    if not 1 <= p.s_max_128 <= 127:
        problems.append(f"s_max {p.s_max_128}/128")
    if not (1 <= p.mean_step_y4 <= 255 and 1 <= p.mean_step_c4 <= 255):
        problems.append("mean quantiser steps")
    if p.chroma_sub not in (1, 2):
        problems.append(f"chroma subsampling {p.chroma_sub}")
    if problems:
        raise FractalFormatError("not a valid .aipf file: bad header field " + problems[0])


def pack(p: Params, payload: bytes) -> bytes:
    """Header + payload + CRC-32."""
    validate_params(p)
    head = _HEADER.pack(MAGIC, VERSION, p.channels, p.height, p.width, p.min_block, p.max_block,
                        p.step_div, p.pool_log2, p.s_levels, p.s_max_128, p.mean_step_y4,
                        p.mean_step_c4, p.chroma_sub, p.quality, len(payload))
    body = head + payload
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def _parse_header(data: bytes) -> tuple[Params, int]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data: expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 4 or data[:4] != MAGIC:
        raise FractalFormatError("not an .aipf file: bad magic bytes (expected b'AIPF')")
    if len(data) < HEADER_SIZE + 4:
        raise FractalFormatError(f"truncated .aipf file: {len(data)} bytes, the header alone needs "
                                 f"{HEADER_SIZE + 4}")
    f = _HEADER.unpack_from(data)
    if f[1] != VERSION:
        raise FractalFormatError(f"unsupported .aipf version {f[1]} (this reader knows {VERSION})")
    params = Params(height=f[3], width=f[4], channels=f[2], min_block=f[5], max_block=f[6],
                    step_div=f[7], pool_log2=f[8], s_levels=f[9], s_max_128=f[10],
                    mean_step_y4=f[11], mean_step_c4=f[12], chroma_sub=f[13], quality=f[14])
    return params, f[15]


def unpack(data: bytes) -> tuple[Params, bytes]:
    """Check length, CRC and header bounds; return the parameters and the payload."""
    params, n = _parse_header(data)
    data = bytes(data)
    expected = HEADER_SIZE + n + 4
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "trailing bytes in"
        raise FractalFormatError(f"{what} .aipf file: {len(data)} bytes, the header says {expected}")
    (crc,) = struct.unpack_from("<I", data, HEADER_SIZE + n)
    if zlib.crc32(data[:HEADER_SIZE + n]) & 0xFFFFFFFF != crc:
        raise FractalFormatError("corrupt .aipf file: CRC-32 mismatch")
    validate_params(params)
    return params, data[HEADER_SIZE:HEADER_SIZE + n]


def read_header(data: bytes) -> dict:
    """Header of an ``.aipf`` stream as a dict: width, height, channels and the coding parameters.

    Checks the whole file (length and CRC-32) too.

    Example
    -------
    >>> import numpy as np, aip.fractal as fr
    >>> fr.read_header(fr.encode(np.zeros((8, 8))))["width"]
    8
    """
    params, payload = unpack(data)
    out = asdict(params)
    out["payload_bytes"] = len(payload)
    out["bytes"] = len(data)
    out["s_max"] = params.s_max
    return out
