"""Noise schedules of diffusion models: betas, alpha_bar, the forward process and its posterior.

Notation (Ho et al. 2020): ``alpha_t = 1 - beta_t``, ``alpha_bar_t = prod_{s<=t} alpha_s`` and

    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)
    q(x_{t-1} | x_t, x_0) = N(mu_t(x_t, x_0), beta_tilde_t I),
    mu_t = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0 + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t,
    beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t.

Timesteps are 0-based (``t = 0 .. T-1``) as in diffusers; ``alpha_bar_{-1} = 1``. The schedule tensors are
float64 and are cast to the data's dtype when used.

References
----------
Ho, Jain, Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020.
Nichol, Dhariwal, "Improved Denoising Diffusion Probabilistic Models", ICML 2021 (cosine schedule).
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from aip._shared.validate import check_choice, check_int, check_positive

SCHEDULES = ("linear", "cosine")


def linear_betas(num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Linear betas of Ho et al. (2020), rescaled so that ``T * beta`` stays the same for other ``T``.

    Example
    -------
    >>> linear_betas(1000)[[0, -1]].tolist()
    [0.0001, 0.02]
    """
    T = check_int(num_timesteps, "num_timesteps", low=1)
    beta_start = check_positive(beta_start, "beta_start")
    beta_end = check_positive(beta_end, "beta_end")
    if not beta_start <= beta_end < 1:
        raise ValueError(f"betas: expected 0 < beta_start <= beta_end < 1, got {beta_start} and {beta_end}")
    scale = 1000.0 / T
    return torch.linspace(beta_start * scale, min(beta_end * scale, 0.999), T, dtype=torch.float64)


def cosine_alpha_bar(num_timesteps: int = 1000, s: float = 0.008) -> torch.Tensor:
    """``alpha_bar_t = f(t+1)/f(0)`` with ``f(t) = cos((t/T + s)/(1 + s) * pi/2)^2`` (Nichol & Dhariwal 2021)."""
    T = check_int(num_timesteps, "num_timesteps", low=1)
    s = check_positive(s, "s")
    steps = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((steps / T + s) / (1 + s) * math.pi / 2) ** 2
    return f[1:] / f[0]


def cosine_betas(num_timesteps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Betas of the cosine schedule, ``beta_t = 1 - alpha_bar_t / alpha_bar_{t-1}`` clipped at ``max_beta``."""
    abar = cosine_alpha_bar(num_timesteps, s)
    prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
    return (1 - abar / prev).clamp(max=max_beta)


def make_betas(kind: Literal["linear", "cosine"] = "linear", num_timesteps: int = 1000, *,
               beta_start: float = 1e-4, beta_end: float = 0.02, cosine_s: float = 0.008) -> torch.Tensor:
    """Betas of a named schedule (``"linear"`` or ``"cosine"``), float64 of shape (T,)."""
    check_choice(kind, "schedule", SCHEDULES)
    if kind == "linear":
        return linear_betas(num_timesteps, beta_start, beta_end)
    return cosine_betas(num_timesteps, cosine_s)


def _gather(values: torch.Tensor, t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
    """values[t] broadcast to the shape of ``like`` (batch first), in its dtype and device."""
    if not torch.is_tensor(t):
        t = torch.tensor([int(t)])
    out = values.to(like.device)[t.to(like.device).long()].to(like.dtype)
    return out.reshape(-1, *([1] * (like.ndim - 1)))


class NoiseSchedule:
    """A discrete noise schedule with the closed forms of the forward process.

    Parameters
    ----------
    kind : {"linear", "cosine"}
        Beta schedule (Ho 2020 linear; Nichol & Dhariwal 2021 cosine).
    num_timesteps : int
        ``T`` (1000 in Ho 2020).
    betas : tensor, optional
        Explicit betas (overrides ``kind``).

    Example
    -------
    >>> sched = NoiseSchedule("cosine", 1000)
    >>> float(sched.alpha_bar[-1]) < 1e-6
    True
    """

    def __init__(self, kind: Literal["linear", "cosine"] = "linear", num_timesteps: int = 1000, *,
                 beta_start: float = 1e-4, beta_end: float = 0.02, cosine_s: float = 0.008,
                 betas: torch.Tensor | None = None) -> None:
        if betas is None:
            betas = make_betas(kind, num_timesteps, beta_start=beta_start, beta_end=beta_end, cosine_s=cosine_s)
        else:
            betas = torch.as_tensor(betas, dtype=torch.float64).flatten()
            if betas.numel() == 0 or not bool(((betas > 0) & (betas < 1)).all()):
                raise ValueError("betas: expected a non-empty sequence of values in (0, 1)")
        self.kind = kind
        self.betas = betas
        self.num_timesteps = int(betas.numel())
        self.alphas = 1.0 - betas
        self.alpha_bar = torch.cumprod(self.alphas, 0)
        self.alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bar[:-1]])
        self.posterior_variance = betas * (1 - self.alpha_bar_prev) / (1 - self.alpha_bar)
        # log of beta_tilde with the t=0 value (zero) replaced by t=1's, as in Ho 2020's code
        self.posterior_log_variance_clipped = torch.log(
            torch.cat([self.posterior_variance[1:2], self.posterior_variance[1:]]))
        self.posterior_mean_coef1 = betas * self.alpha_bar_prev.sqrt() / (1 - self.alpha_bar)
        self.posterior_mean_coef2 = (1 - self.alpha_bar_prev) * self.alphas.sqrt() / (1 - self.alpha_bar)

    def __repr__(self) -> str:
        return f"NoiseSchedule(kind={self.kind!r}, num_timesteps={self.num_timesteps})"

    def check_timesteps(self, t: torch.Tensor) -> None:
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.num_timesteps):
            raise ValueError(f"t: expected timesteps in [0, {self.num_timesteps - 1}], "
                             f"got values in [{int(t.min())}, {int(t.max())}]")

    def q_mean_variance(self, x0: torch.Tensor, t: torch.Tensor | int) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of q(x_t | x_0)."""
        ab = _gather(self.alpha_bar, t, x0)
        return ab.sqrt() * x0, (1 - ab).expand_as(x0)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor | int, noise: torch.Tensor | None = None, *,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw x_t ~ q(x_t | x_0) = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise."""
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        ab = _gather(self.alpha_bar, t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def posterior_mean_variance(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor | int
                                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean, variance and clipped log-variance of q(x_{t-1} | x_t, x_0)."""
        mean = _gather(self.posterior_mean_coef1, t, xt) * x0 + _gather(self.posterior_mean_coef2, t, xt) * xt
        return mean, _gather(self.posterior_variance, t, xt), _gather(self.posterior_log_variance_clipped, t, xt)

    def predict_x0(self, xt: torch.Tensor, t: torch.Tensor | int, eps: torch.Tensor) -> torch.Tensor:
        """x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)."""
        ab = _gather(self.alpha_bar, t, xt)
        return (xt - (1 - ab).sqrt() * eps) / ab.sqrt()

    def predict_eps(self, xt: torch.Tensor, t: torch.Tensor | int, x0: torch.Tensor) -> torch.Tensor:
        """eps = (x_t - sqrt(alpha_bar_t) x_0) / sqrt(1 - alpha_bar_t)."""
        ab = _gather(self.alpha_bar, t, xt)
        return (xt - ab.sqrt() * x0) / (1 - ab).sqrt()

    def predict_v(self, x0: torch.Tensor, t: torch.Tensor | int, eps: torch.Tensor) -> torch.Tensor:
        """v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x_0 (Salimans & Ho 2022)."""
        sa, sb = _gather(self.alpha_bar.sqrt(), t, x0), _gather((1 - self.alpha_bar).sqrt(), t, x0)
        return sa * eps - sb * x0

    def eps_from_v(self, xt: torch.Tensor, t: torch.Tensor | int, v: torch.Tensor) -> torch.Tensor:
        """eps = sqrt(1 - alpha_bar_t) x_t + sqrt(alpha_bar_t) v (Salimans & Ho 2022, Appendix D)."""
        sa, sb = _gather(self.alpha_bar.sqrt(), t, xt), _gather((1 - self.alpha_bar).sqrt(), t, xt)
        return sb * xt + sa * v

    def snr(self) -> torch.Tensor:
        """Signal-to-noise ratio alpha_bar / (1 - alpha_bar)."""
        return self.alpha_bar / (1 - self.alpha_bar)


def geometric_sigmas(sigma_max: float = 1.0, sigma_min: float = 0.01, num: int = 10) -> torch.Tensor:
    """Geometric noise levels ``sigma_1 > ... > sigma_L`` of Song & Ermon (2019), float64.

    Example
    -------
    >>> [round(v, 12) for v in geometric_sigmas(1.0, 0.01, 3).tolist()]
    [1.0, 0.1, 0.01]
    """
    sigma_max = check_positive(sigma_max, "sigma_max")
    sigma_min = check_positive(sigma_min, "sigma_min")
    num = check_int(num, "num", low=1)
    if sigma_min > sigma_max:
        raise ValueError(f"sigmas: expected sigma_min <= sigma_max, got {sigma_min} and {sigma_max}")
    return torch.exp(torch.linspace(math.log(sigma_max), math.log(sigma_min), num, dtype=torch.float64))


class SchedulerOutput:
    """Result of a scheduler ``step``: the next sample and the model's estimate of x_0."""

    __slots__ = ("pred_original_sample", "prev_sample")

    def __init__(self, prev_sample: torch.Tensor, pred_original_sample: torch.Tensor | None = None) -> None:
        self.prev_sample = prev_sample
        self.pred_original_sample = pred_original_sample

    def __iter__(self):
        return iter((self.prev_sample, self.pred_original_sample))


SPACINGS = ("linspace", "leading", "trailing", "quadratic", "karras")


def spaced_timesteps(num_train_timesteps: int, num_inference_steps: int,
                     spacing: Literal["linspace", "leading", "trailing", "quadratic", "karras"] = "linspace", *,
                     schedule: NoiseSchedule | None = None, rho: float = 7.0) -> torch.Tensor:
    """``num_inference_steps`` distinct timesteps of the reverse process in [0, T-1], descending.

    ``spacing`` (names as diffusers' ``timestep_spacing``, plus the DDIM paper's quadratic one):

    * ``"linspace"``: ``round(linspace(0, T-1, n))``, holds both 0 and T-1;
    * ``"leading"``: ``k * (T // n)`` for ``k = 0 .. n-1`` (holds 0, not T-1);
    * ``"trailing"``: ``round(T - k T / n) - 1`` for ``k = 0 .. n-1`` (holds T-1, last step from ``T/n - 1``);
    * ``"quadratic"``: ``floor(c k^2)`` with ``c = (T-1)/(n-1)^2`` (Song et al. 2021, appendix D.2), made
      strictly increasing, so small timesteps are denser;
    * ``"karras"``: the timesteps whose ``s = sqrt((1 - a_t) / a_t)`` are nearest (in log) to Karras et al.'s
      ``(s_max^(1/rho) + k/(n-1) (s_min^(1/rho) - s_max^(1/rho)))^rho`` (``rho = 7``), made distinct; needs the
      ``schedule``.

    Example
    -------
    >>> spaced_timesteps(1000, 4, "trailing").tolist()
    [999, 749, 499, 249]
    """
    T = check_int(num_train_timesteps, "num_train_timesteps", low=1)
    n = check_int(num_inference_steps, "num_inference_steps", low=1, high=T)
    check_choice(spacing, "spacing", SPACINGS)
    k = torch.arange(n, dtype=torch.float64)
    if spacing == "karras":
        return _karras_timesteps(schedule, T, n, check_positive(rho, "rho"))
    if spacing == "linspace":
        ts = torch.linspace(0, T - 1, n, dtype=torch.float64).round().long()
    elif spacing == "leading":
        ts = (k * (T // n)).long()
    elif spacing == "trailing":
        ts = (T - k * T / n).round().long().flip(0) - 1
    else:
        ts = (k**2 * ((T - 1) / max(n - 1, 1) ** 2)).floor().long()
        # floor(c k^2) repeats small values when n^2 > T: push each up to one above its predecessor
        for i in range(1, n):
            ts[i] = max(int(ts[i]), int(ts[i - 1]) + 1)
    return ts.flip(0)


def _karras_timesteps(schedule: NoiseSchedule | None, T: int, n: int, rho: float) -> torch.Tensor:
    if not isinstance(schedule, NoiseSchedule) or schedule.num_timesteps != T:
        raise ValueError(f"spacing 'karras': expected the NoiseSchedule of {T} timesteps, got "
                         f"{type(schedule).__name__}")
    log_s = 0.5 * torch.log((1 - schedule.alpha_bar) / schedule.alpha_bar)  # increasing in t
    lo, hi = float(log_s[0].exp()) ** (1 / rho), float(log_s[-1].exp()) ** (1 / rho)
    frac = torch.linspace(0, 1, n, dtype=torch.float64) if n > 1 else torch.zeros(1, dtype=torch.float64)
    target = torch.log((hi + frac * (lo - hi)) ** rho).flip(0)  # ascending
    ts = torch.searchsorted(log_s.contiguous(), target.contiguous()).clamp(max=T - 1)
    below = (ts - 1).clamp(min=0)
    ts = torch.where((target - log_s[below]).abs() < (log_s[ts] - target).abs(), below, ts)
    a = ts.tolist()
    for i in range(1, n):  # distinct, ascending, within [0, T-1]
        a[i] = max(a[i], a[i - 1] + 1)
    for i in range(n - 1, -1, -1):
        a[i] = min(a[i], T - n + i)
    return torch.tensor(a, dtype=torch.long).flip(0)


class TimestepScheduler:
    """Shared part of the discrete-time samplers: the schedule, ``set_timesteps`` and ``prev_timestep``."""

    def __init__(self, schedule: NoiseSchedule | None = None, *, clip_sample: bool = False,
                 clip_range: float = 1.0, spacing: str = "linspace") -> None:
        if schedule is None:
            schedule = NoiseSchedule()
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedule: expected a NoiseSchedule, got {type(schedule).__name__}")
        self.schedule = schedule
        self.clip_sample = bool(clip_sample)
        self.clip_range = check_positive(clip_range, "clip_range")
        self.spacing = check_choice(spacing, "spacing", SPACINGS)
        self.set_timesteps(schedule.num_timesteps)

    @property
    def num_train_timesteps(self) -> int:
        return self.schedule.num_timesteps

    def set_timesteps(self, num_inference_steps: int) -> torch.Tensor:
        """Choose the timesteps of the reverse process (descending); returns them."""
        self.timesteps = spaced_timesteps(self.num_train_timesteps, num_inference_steps, self.spacing,
                                          schedule=self.schedule)
        self.num_inference_steps = int(self.timesteps.numel())
        self._prev = {int(a): int(b) for a, b in zip(self.timesteps[:-1], self.timesteps[1:])}
        self._prev[int(self.timesteps[-1])] = -1
        return self.timesteps

    def prev_timestep(self, t: int) -> int:
        t = int(t)
        if t not in self._prev:
            raise ValueError(f"t: expected one of the scheduler's timesteps (set_timesteps), got {t}")
        return self._prev[t]

    def alpha_bars(self, t: int) -> tuple[float, float]:
        """(alpha_bar_t, alpha_bar_prev) for the current spacing; alpha_bar_{-1} = 1."""
        t = int(t)
        prev = self.prev_timestep(t)
        ab = float(self.schedule.alpha_bar[t])
        ab_prev = float(self.schedule.alpha_bar[prev]) if prev >= 0 else 1.0
        return ab, ab_prev

    def _x0_and_eps(self, eps: torch.Tensor, x: torch.Tensor, ab: float) -> tuple[torch.Tensor, torch.Tensor]:
        x0 = (x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)
        if self.clip_sample:
            x0 = x0.clamp(-self.clip_range, self.clip_range)
            eps = (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab)
        return x0, eps


def check_step_inputs(model_output: torch.Tensor, x: torch.Tensor) -> None:
    if not (torch.is_tensor(model_output) and torch.is_tensor(x)):
        raise TypeError("step: expected tensors for model_output and sample, got "
                        f"{type(model_output).__name__} and {type(x).__name__}")
    if model_output.shape != x.shape:
        raise ValueError(f"step: expected model_output of the sample's shape {tuple(x.shape)}, "
                         f"got {tuple(model_output.shape)}")
