"""The shared checks every family uses: masks, channel layouts, fractions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aip._shared.validate import as_channel_image, as_mask, check_fraction


def test_as_mask_accepts_bool_01_numbers_and_tensors():
    ref = np.array([[True, False], [False, True]])
    for m in (ref, ref.astype(np.uint8), ref.astype(np.float32), torch.from_numpy(ref)):
        out = as_mask(m, (2, 2))
        assert out.dtype == np.bool_
        np.testing.assert_array_equal(out, ref)
    assert as_mask(ref).shape == (2, 2)  # any 2-D shape when none is asked for


@pytest.mark.parametrize("mask, shape, error, match", [
    (np.zeros((3, 3), bool), (2, 2), ValueError, r"mask: expected a boolean array of shape \(2, 2\)"),
    (np.zeros((2, 2, 1), bool), None, ValueError, r"mask: expected a 2-D \(H, W\) array"),
    (np.full((2, 2), 0.5), (2, 2), TypeError, r"mask: expected a boolean array \(True = missing\)"),
    (np.array([["a", "b"], ["c", "d"]]), None, TypeError, "mask: expected a boolean array"),
])
def test_as_mask_rejects(mask, shape, error, match):
    with pytest.raises(error, match=match):
        as_mask(mask, shape)


def test_as_channel_image_layouts():
    gray = np.zeros((4, 5), np.uint8)
    assert as_channel_image(gray, None).dtype == np.float32
    assert as_channel_image(np.zeros((4, 5, 3)), -1).shape == (4, 5, 3)
    with pytest.raises(ValueError, match="pass channel_axis=-1 for colour"):
        as_channel_image(np.zeros((4, 5, 3)), None)
    with pytest.raises(ValueError, match="channel_axis=-1 given but image is 2-D"):
        as_channel_image(gray, -1)
    with pytest.raises(ValueError, match="channel_axis: expected an integer in"):
        as_channel_image(np.zeros((4, 5, 3)), 3)


def test_check_fraction():
    assert check_fraction(0, "p") == 0.0
    assert check_fraction(np.float32(0.5), "p") == 0.5
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"p: expected a number in \[0, 1\)"):
            check_fraction(bad, "p")
    with pytest.raises(TypeError, match="p: expected a number"):
        check_fraction("0.5", "p")
