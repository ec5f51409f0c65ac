import pytest
import torch
from torch import nn

from aip.train import EMA


def test_ema_closed_form_towards_constant_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = EMA(model, decay=0.9)
    start = [p.detach().clone() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # target = start + 1
        model[1].running_mean.fill_(3.0)
    k = 7
    for _ in range(k):
        ema.update(model)
    for s, pe, p in zip(start, ema.module.parameters(), model.parameters()):
        # theta_k = target + d^k (theta_0 - target)
        expected = p + 0.9 ** k * (s - p)
        torch.testing.assert_close(pe, expected, rtol=0, atol=1e-6)
    assert torch.equal(ema.module[1].running_mean, torch.full((2,), 3.0))
    assert ema.num_updates == k


def test_ema_single_step_matches_formula_and_does_not_track_grad():
    model = nn.Linear(4, 4)
    ema = EMA(model, decay=0.75)
    old = ema.module.weight.detach().clone()
    with torch.no_grad():
        model.weight.mul_(-2.0)
    ema.update(model)
    torch.testing.assert_close(ema.module.weight, 0.75 * old + 0.25 * model.weight.detach())
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_ema_rejects_bad_decay():
    with pytest.raises(ValueError, match="decay"):
        EMA(nn.Linear(1, 1), decay=1.0)


def test_ema_warmup_schedule():
    model = nn.Linear(2, 1, bias=False)
    ema = EMA(model, decay=0.99, warmup=True)
    w = ema.module.weight.detach().clone()
    target = torch.full_like(w, 5.0)
    with torch.no_grad():
        model.weight.copy_(target)
    for k in range(30):
        d = min(0.99, (1 + k) / (10 + k))
        w = d * w + (1 - d) * target
        ema.update(model)
    torch.testing.assert_close(ema.module.weight, w, rtol=0, atol=1e-6)
