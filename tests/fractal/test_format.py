"""The .aipf container: header, CRC, and robustness against truncated, corrupted and foreign files."""

import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aip
from aip.fractal import FractalFormatError, decode, encode, read_header
from aip.fractal.bitstream import HEADER_SIZE

_IMG = aip.io.load_sample("astronaut", size=24)
GOOD_RGB = encode(_IMG, quality=60)
GOOD_GRAY = encode(_IMG.mean(axis=2), quality=60)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_header_fields():
    h = read_header(GOOD_RGB)
    assert (h["width"], h["height"], h["channels"]) == (24, 24, 3)
    assert h["bytes"] == len(GOOD_RGB) == HEADER_SIZE + h["payload_bytes"] + 4
    assert GOOD_RGB[:4] == b"AIPF"
    (crc,) = struct.unpack("<I", GOOD_RGB[-4:])
    assert crc == zlib.crc32(GOOD_RGB[:-4])


def _one_line_error(data):
    with pytest.raises(FractalFormatError) as info:
        decode(data)
    msg = str(info.value)
    assert msg and "\n" not in msg
    return msg


def test_foreign_and_empty():
    assert "magic" in _one_line_error(b"")
    assert "magic" in _one_line_error(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert "truncated" in _one_line_error(b"AIPF\x01")


@FUZZ
@given(cut=st.integers(min_value=0, max_value=len(GOOD_RGB) - 1))
def test_truncated(cut):
    _one_line_error(GOOD_RGB[:cut])


@FUZZ
@given(pos=st.integers(min_value=0, max_value=8 * len(GOOD_GRAY) - 1))
def test_single_bit_flips(pos):
    data = bytearray(GOOD_GRAY)
    data[pos // 8] ^= 1 << (pos % 8)
    _one_line_error(bytes(data))


@FUZZ
@given(blob=st.binary(min_size=0, max_size=300))
def test_random_bytes(blob):
    _one_line_error(blob)
    _one_line_error(b"AIPF" + blob)


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


@FUZZ
@given(payload=st.binary(min_size=0, max_size=200).map(lambda b: b[: len(b) // 4 * 4]))
def test_garbage_payload_with_valid_crc_never_crashes(payload):
    # a crafted file passes the checksum: the decoder must still either decode or raise one line
    head = bytearray(GOOD_RGB[:HEADER_SIZE])
    head[24:28] = struct.pack("<I", len(payload))
    data = _with_crc(bytes(head) + payload)
    try:
        out = decode(data)
    except FractalFormatError as exc:
        assert "\n" not in str(exc)
    else:
        assert out.shape == (24, 24, 3) and np.isfinite(out).all()


@pytest.mark.parametrize("offset,value,word", [
    (5, 7, "channels"), (6, 0, "size"), (10, 0xFFFFFFFF, "size"), (14, 3, "blocks"), (15, 128, "blocks"),
    (16, 3, "divisor"), (17, 40, "pool"), (18, 0, "contrast"), (19, 200, "s_max"), (22, 5, "subsampling"),
])
def test_bad_header_fields_with_valid_crc(offset, value, word):
    head = bytearray(GOOD_RGB[:-4])
    size = 4 if offset in (6, 10) else 1
    head[offset:offset + size] = value.to_bytes(size, "little")
    assert word in _one_line_error(_with_crc(bytes(head)))


def test_huge_dimensions_rejected_before_allocation():
    head = bytearray(GOOD_GRAY[:-4])
    head[6:10] = (1 << 15).to_bytes(4, "little")
    head[10:14] = (1 << 15).to_bytes(4, "little")
    assert "size" in _one_line_error(_with_crc(bytes(head)))


def test_version_and_trailing_bytes():
    data = bytearray(GOOD_GRAY)
    data[4] = 9
    assert "version" in _one_line_error(bytes(data))
    assert "trailing" in _one_line_error(GOOD_GRAY + b"\x00")
