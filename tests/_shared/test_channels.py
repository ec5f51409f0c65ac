"""Channel handling: a 2-D kernel applied channel by channel equals the loop written out."""

from __future__ import annotations

import numpy as np
import pytest

from aip._shared.channels import per_channel, per_channel_pair


@pytest.mark.parametrize("axis", [0, -1])
def test_per_channel_and_pair_equal_the_loop(axis):
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 5, 4)), rng.random((3, 5, 4))
    a, b = np.moveaxis(a, 0, axis), np.moveaxis(b, 0, axis)
    loop = np.stack([np.take(a, c, axis) * 2 + np.take(b, c, axis) for c in range(3)], axis)
    np.testing.assert_array_equal(per_channel_pair(lambda x, y: 2 * x + y, a, b, axis), loop)
    np.testing.assert_array_equal(per_channel(lambda x: x.T.T * 2, a, axis), 2 * a)
    g = a.take(0, axis)
    np.testing.assert_array_equal(per_channel_pair(np.subtract, g, g), np.zeros_like(g))
