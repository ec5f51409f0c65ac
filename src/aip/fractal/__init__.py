"""Fractal image compression (PIFS): a quadtree codec with range-coded maps and the ``.aipf`` format.

``encode(image, quality=..., max_bytes=...) -> bytes`` and ``decode(data, scale=...) -> image``.
Ranges are quadtree blocks, domains twice their size decimated by 2x2 means, with 8 isometries; the
best domain per range is an arg-max of a matrix product (Saupe), computed with numpy's BLAS on the CPU
(torch is not imported) and in torch on a GPU. Contrast and range mean are quantised and every field is
range-coded (``constriction``). Colour images are coded as YCbCr with subsampled, coarser chroma.

Example
-------
>>> import aip
>>> img = aip.io.load_sample("camera", size=64)
>>> data = aip.fractal.encode(img, quality=50)
>>> out = aip.fractal.decode(data)
"""

from aip.fractal.bitstream import FractalFormatError, read_header
from aip.fractal.codec import encode
from aip.fractal.decode import decode

METHODS = {
    "codec": ["quadtree-pifs"],
    "search": ["saupe-matmul"],
    "decode": ["iterate", "zoom", "deblock"],
}

__all__ = ["METHODS", "FractalFormatError", "decode", "encode", "read_header"]
