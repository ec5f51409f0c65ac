"""Image quality and rate metrics: MSE, PSNR, SSIM, bits per pixel, compression ratio."""

from aip.metrics.quality import mse, psnr, ssim
from aip.metrics.rate import bits_per_pixel, compression_ratio

__all__ = ["mse", "psnr", "ssim", "bits_per_pixel", "compression_ratio"]
