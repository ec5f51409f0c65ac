"""Image quality and rate metrics: MSE, PSNR, SSIM, high-frequency ratio (sharpness), bits per pixel, compression ratio; FID for generative models."""

from aip.metrics.fid import (
                            classifier_score,
                            extract_features,
                            feature_statistics,
                            fid,
                            fid_from_features,
                            frechet_distance,
)
from aip.metrics.quality import high_frequency_ratio, mse, psnr, ssim
from aip.metrics.rate import bits_per_pixel, compression_ratio

__all__ = [
                            "bits_per_pixel",
                            "classifier_score",
                            "compression_ratio",
                            "extract_features",
                            "feature_statistics",
                            "fid",
                            "fid_from_features",
                            "frechet_distance",
                            "high_frequency_ratio",
                            "mse",
                            "psnr",
                            "ssim",
]
