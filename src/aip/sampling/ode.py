"""Higher-order solvers of the probability-flow ODE: DPM-Solver++(2M) and Heun's second-order method.

Both are deterministic samplers for any noise-prediction network on a
:class:`~aip.sampling.schedules.NoiseSchedule`, with the scheduler shape of the others
(``set_timesteps(n)``, then ``step(model_output, t, sample)`` over ``timesteps``), so guidance, the pipelines
and the sampler table (:data:`aip.sampling.SAMPLERS`) serve them unchanged. For every sampler of the table
``n`` is the number of network evaluations (NFE).

Notation: ``a_t = alpha_bar_t``, ``alpha_t = sqrt(a_t)``, ``sigma_t = sqrt(1 - a_t)``,
``lambda_t = log(alpha_t / sigma_t)`` (half the log-SNR), and ``x0_t`` the network's data estimate.

* :class:`DPMSolverPPScheduler` (Lu et al. 2022, "DPM-Solver++", Algorithm 2, multistep second order in
  the data prediction): with ``h = lambda_s - lambda_t`` from timestep ``t`` to the next one ``s``,

      x_s = (sigma_s / sigma_t) x_t + alpha_s (1 - e^{-h}) D,
      D = (1 + 1/(2r)) x0_t - 1/(2r) x0_prev,   r = h_prev / h,

  ``D = x0_t`` at the first step (first order, which is DDIM) and the last step returns ``x0_t``
  (sigma_s = 0).
* :class:`HeunScheduler` (Karras et al. 2022, Algorithm 1, deterministic): in the variance-exploding
  variables ``y = x / alpha``, ``s = sigma / alpha``, the ODE is ``dy/ds = eps(x, t)``; an Euler step to the
  next timestep is corrected by the mean of the two slopes (the trapezoid rule), and the last step to
  ``s = 0`` is Euler, as is a step from above the paper's ``sigma_max = 80``. A corrected interval costs two
  evaluations; ``set_timesteps(n)`` takes as many distinct timesteps as ``n`` evaluations allow.

The ``"karras"`` spacing of :class:`~aip.sampling.schedules.TimestepScheduler` (``rho = 7`` in sigma, the
paper's choice) suits both.

References
----------
C. Lu, Y. Zhou, F. Bao, J. Chen, C. Li and J. Zhu, "DPM-Solver++: fast solver for guided sampling of
diffusion probabilistic models", arXiv:2211.01095, 2022.
T. Karras, M. Aittala, T. Aila and S. Laine, "Elucidating the design space of diffusion-based generative
models", NeurIPS 2022.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from aip.sampling.schedules import NoiseSchedule, SchedulerOutput, TimestepScheduler, check_step_inputs

__all__ = ["DPMSolverPPScheduler", "HeunScheduler"]


class DPMSolverPPScheduler(TimestepScheduler):
    """DPM-Solver++(2M): multistep, second order, one network evaluation per step.

    Parameters
    ----------
    schedule : NoiseSchedule
    order : {1, 2}
        2: DPM-Solver++(2M); 1: its first-order form (the same updates as deterministic DDIM).
    clip_sample, clip_range, spacing
        As :class:`~aip.sampling.ddim.DDIMScheduler`.

    Example
    -------
    >>> s = DPMSolverPPScheduler(NoiseSchedule("linear", 1000))
    >>> s.set_timesteps(4).tolist()
    [999, 666, 333, 0]
    """

    def __init__(self, schedule: NoiseSchedule | None = None, *, order: int = 2, clip_sample: bool = False,
                 clip_range: float = 1.0, spacing: str = "linspace") -> None:
        if order not in (1, 2):
            raise ValueError(f"order: expected 1 or 2, got {order!r}")
        self.order = int(order)
        self._x0_prev: torch.Tensor | None = None
        self._h_prev: float | None = None
        super().__init__(schedule, clip_sample=clip_sample, clip_range=clip_range, spacing=spacing)

    def set_timesteps(self, num_inference_steps: int) -> torch.Tensor:
        self._x0_prev, self._h_prev = None, None
        return super().set_timesteps(num_inference_steps)

    def step(self, model_output: torch.Tensor, t: int | torch.Tensor, sample: torch.Tensor,
             **_: Any) -> SchedulerOutput:
        """One step from timestep ``t`` to the next chosen one (the first timestep starts a new chain)."""
        check_step_inputs(model_output, sample)
        t = int(t)
        if t == int(self.timesteps[0]):
            self._x0_prev, self._h_prev = None, None
        ab, ab_s = self.alpha_bars(t)
        x0, _ = self._x0_and_eps(model_output, sample, ab)
        if self.prev_timestep(t) < 0:
            return SchedulerOutput(x0, x0)
        h = _half_log_snr(ab_s) - _half_log_snr(ab)
        if self.order == 1 or self._x0_prev is None:
            d = x0
        else:
            r = self._h_prev / h
            d = (1 + 0.5 / r) * x0 - (0.5 / r) * self._x0_prev
        out = math.sqrt((1 - ab_s) / (1 - ab)) * sample + math.sqrt(ab_s) * (-math.expm1(-h)) * d
        self._x0_prev, self._h_prev = x0, h
        return SchedulerOutput(out, x0)


class HeunScheduler(TimestepScheduler):
    """Heun's second-order deterministic sampler (Karras et al. 2022, Algorithm 1).

    ``set_timesteps(n)``: at most ``n`` network evaluations. Each interval between distinct timesteps
    (``distinct_timesteps``) is an Euler step followed by a correction, which evaluates the network again at
    the interval's end, so ``timesteps`` lists those ends twice (diffusers' layout: the second visit is the
    corrector). Two kinds of interval are Euler only: the last (to ``s = 0``, as in the paper) and those
    starting above ``s_max_correct`` (80, the paper's sigma_max): there the trapezoid's error grows with the
    interval's length (DDPM schedules start at s of 150 to 20000), while Euler is exact in the pure-noise
    regime.

    Example
    -------
    >>> s = HeunScheduler(NoiseSchedule("linear", 1000))
    >>> s.set_timesteps(6).tolist()
    [999, 499, 0, 0]
    """

    def __init__(self, schedule: NoiseSchedule | None = None, *, clip_sample: bool = False,
                 clip_range: float = 1.0, spacing: str = "linspace", s_max_correct: float = 80.0) -> None:
        self._state: tuple[torch.Tensor, torch.Tensor, float, float] | None = None
        self.s_max_correct = float(s_max_correct)
        super().__init__(schedule, clip_sample=clip_sample, clip_range=clip_range, spacing=spacing)

    def _layout(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        distinct = super().set_timesteps(k)
        ts = [int(distinct[0])]
        for a, b in zip(distinct[:-1].tolist(), distinct[1:].tolist()):
            ts += [b, b] if self._s(a) <= self.s_max_correct else [b]
        return distinct, torch.tensor(ts, dtype=torch.long)

    def set_timesteps(self, num_inference_steps: int) -> torch.Tensor:
        n = max(1, int(num_inference_steps))
        lo, hi = 1, min(n, self.num_train_timesteps)  # the most distinct timesteps within n evaluations
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._layout(mid)[1].numel() <= n:
                lo = mid
            else:
                hi = mid - 1
        distinct, ts = self._layout(lo)
        self.distinct_timesteps, self.timesteps = distinct, ts
        self.num_inference_steps = int(ts.numel())
        self._state = None
        return self.timesteps

    def _s(self, t: int) -> float:
        """sigma / alpha at timestep ``t`` (0 below the first)."""
        if t < 0:
            return 0.0
        ab = float(self.schedule.alpha_bar[t])
        return math.sqrt((1 - ab) / ab)

    def step(self, model_output: torch.Tensor, t: int | torch.Tensor, sample: torch.Tensor,
             **_: Any) -> SchedulerOutput:
        """The Euler step (first visit of ``t``) or the correction (second visit)."""
        check_step_inputs(model_output, sample)
        t = int(t)
        if t == int(self.timesteps[0]):
            self._state = None
        ab = float(self.schedule.alpha_bar[t])
        x0, eps = self._x0_and_eps(model_output, sample, ab)
        if self._state is None:  # Euler from t to the next distinct timestep
            nxt = self.prev_timestep(t)
            if nxt < 0:
                return SchedulerOutput(x0, x0)
            y, s, s_next = sample / math.sqrt(ab), self._s(t), self._s(nxt)
            if s <= self.s_max_correct:
                self._state = (y, eps, s, s_next)
            ab_next = float(self.schedule.alpha_bar[nxt])
            return SchedulerOutput((y + (s_next - s) * eps) * math.sqrt(ab_next), x0)
        y, d0, s, s_next = self._state  # correction at t, the Euler step's target
        self._state = None
        return SchedulerOutput((y + (s_next - s) * 0.5 * (d0 + eps)) * math.sqrt(ab), x0)


def _half_log_snr(ab: float) -> float:
    """lambda = log(alpha / sigma) = 0.5 log(a / (1 - a))."""
    return 0.5 * math.log(ab / (1 - ab))
