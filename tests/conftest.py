"""Test-wide settings: one thread per test worker.

The suite runs as ``pytest -n 2``; with thread pools sized to the machine, each worker's torch/OpenBLAS
threads spin against the other worker on tiny arrays and everything slows down 5-20x. Capping every pool
to one thread per worker keeps the suite fast and its timings stable.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def pytest_configure(config):
    import torch

    torch.set_num_threads(1)
