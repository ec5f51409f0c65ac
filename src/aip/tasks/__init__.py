"""Task functions: what one front-door command does (load, validate, run, measure, write), as plain
functions returning results and metrics. The CLI, the batch runner and the web workbench all call these,
so the three give the same numbers.

- :mod:`aip.tasks.restore`: ``denoise | deblur | upscale | inpaint`` on an array or an image file;
- :mod:`aip.tasks.batch`: one task over folders and globs of images, in parallel or on a Dask cluster.
"""

from aip.tasks.restore import RESTORE_TASKS, restore_file, restore_image

__all__ = ["RESTORE_TASKS", "restore_file", "restore_image"]
