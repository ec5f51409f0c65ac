

def test_plain_png_samples_equal_skimage_data():
    """The samples read straight from skimage's data folder (no skimage import) equal skimage.data's arrays."""
    import numpy as np
    import skimage.data

    from aip.io.samples import _PLAIN_PNG, _bundled_png

    for name in _PLAIN_PNG:
        a = _bundled_png(name)
        assert a is not None and np.array_equal(a, getattr(skimage.data, name)()), name
