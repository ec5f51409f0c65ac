"""Range coding of the codec's fields with ``constriction``.

Each field is coded with a semi-static model: the encoder counts the symbols, sends a log-quantised
histogram (5 bits per symbol between the smallest and largest symbol used), and codes the symbols
with the categorical model built from that histogram. Encoder and decoder build the model from the
same integers, so they agree bit for bit. Everything goes through one range coder queue.

References
----------
R. Bamler, "Understanding entropy coding with asymmetric numeral systems (ANS): a statistician's
perspective", 2022 (the ``constriction`` library).
"""

from __future__ import annotations

import numpy as np

from aip.fractal.bitstream import FractalFormatError

_CODE_BITS = 32  # histogram codes 0..31: 0 = absent, c -> round(2 ** ((c - 1) / 2))
_CODE_VALUES = np.array([0] + [round(2 ** ((c - 1) / 2)) for c in range(1, _CODE_BITS)], dtype=np.float64)


def _quantise_counts(counts: np.ndarray) -> np.ndarray:
    """Log-quantised codes of ``counts`` (nonzero counts never map to code 0)."""
    codes = np.zeros(len(counts), dtype=np.int64)
    nz = counts > 0
    c = np.rint(2.0 * np.log2(np.maximum(counts[nz], 1)) + 1).astype(np.int64)
    codes[nz] = np.clip(c, 1, _CODE_BITS - 1)
    return codes


def _model(codes: np.ndarray):
    import constriction

    p = _CODE_VALUES[codes]
    return constriction.stream.model.Categorical(p / p.sum(), perfect=False)


class Writer:
    """Collects fields into one range-coded stream."""

    def __init__(self) -> None:
        import constriction

        self._enc = constriction.stream.queue.RangeEncoder()
        self._cs = constriction

    def uniform(self, symbols: np.ndarray, n: int) -> None:
        """Code integers in [0, n) with a uniform model."""
        symbols = np.asarray(symbols, dtype=np.int32).ravel()
        if symbols.size and n > 1:
            self._enc.encode(symbols, self._cs.stream.model.Uniform(int(n)))

    def field(self, symbols: np.ndarray, alphabet: int) -> None:
        """Code symbols in [0, alphabet) with a transmitted histogram (nothing if empty)."""
        symbols = np.asarray(symbols, dtype=np.int64).ravel()
        if symbols.size == 0:
            return
        counts = np.bincount(symbols, minlength=alphabet)
        lo = int(np.nonzero(counts)[0][0])
        hi = int(np.nonzero(counts)[0][-1])
        self.uniform(np.array([lo]), alphabet)
        self.uniform(np.array([hi - lo]), alphabet - lo)
        if hi == lo:
            return
        codes = _quantise_counts(counts[lo:hi + 1])
        # the two ends are present (code >= 1): send code - 1 for them
        self.uniform(np.array([codes[0] - 1, codes[-1] - 1]), _CODE_BITS - 1)
        self.uniform(codes[1:-1], _CODE_BITS)
        self._enc.encode((symbols - lo).astype(np.int32), _model(codes))

    def finish(self) -> bytes:
        words = self._enc.get_compressed()
        return np.asarray(words, dtype="<u4").tobytes()


class Reader:
    """Reads fields back in the order the :class:`Writer` wrote them."""

    def __init__(self, payload: bytes) -> None:
        import constriction

        if len(payload) % 4:
            raise FractalFormatError("corrupt file: payload length is not a multiple of 4")
        words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
        self._cs = constriction
        try:
            self._dec = constriction.stream.queue.RangeDecoder(words)
        except Exception as exc:  # noqa: BLE001 - constriction raises various types on odd streams
            raise FractalFormatError(f"corrupt file: bad payload ({exc})") from None

    def _decode(self, model, count: int) -> np.ndarray:
        try:
            return np.asarray(self._dec.decode(model, int(count)), dtype=np.int64)
        except Exception as exc:  # noqa: BLE001 - any decoder failure is a format error
            raise FractalFormatError(f"corrupt file: range decoder failed ({exc})") from None

    def uniform(self, count: int, n: int) -> np.ndarray:
        if count == 0:
            return np.zeros(0, np.int64)
        if n <= 1:
            return np.zeros(count, np.int64)
        return self._decode(self._cs.stream.model.Uniform(int(n)), count)

    def field(self, count: int, alphabet: int) -> np.ndarray:
        if count == 0:
            return np.zeros(0, np.int64)
        lo = int(self.uniform(1, alphabet)[0])
        hi = lo + int(self.uniform(1, alphabet - lo)[0])
        if hi == lo:
            return np.full(count, lo, np.int64)
        ends = self.uniform(2, _CODE_BITS - 1) + 1
        inner = self.uniform(hi - lo - 1, _CODE_BITS)
        codes = np.concatenate([ends[:1], inner, ends[1:]]).astype(np.int64)
        return self._decode(_model(codes), count) + lo
