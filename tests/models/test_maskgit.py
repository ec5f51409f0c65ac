"""MaskGIT and its autoregressive twin: the cosine schedule, causality, a frozen tokenizer, falling losses,
guidance and sampling bookkeeping."""

from __future__ import annotations

import math

import pytest
import torch

from aip.models.maskgit import MaskGIT, MaskGITConfig, cosine_mask_schedule, masked_after_rounds
from aip.models.registry import MODELS


def tiny(decoding="maskgit", **kw):
    torch.manual_seed(0)
    return MaskGIT(MaskGITConfig(dim=16, depth=2, heads=2, mlp_ratio=2.0, dropout=0.0, decoding=decoding, **kw))


def test_cosine_schedule_and_rounds():
    assert cosine_mask_schedule(0.0) == 1.0 and abs(cosine_mask_schedule(1.0)) < 1e-12
    r = torch.linspace(0, 1, 11)
    assert torch.all(cosine_mask_schedule(r)[1:] < cosine_mask_schedule(r)[:-1])
    plan = masked_after_rounds(8, 49)
    assert plan == [math.floor(math.cos(math.pi / 2 * (t + 1) / 8) * 49) for t in range(7)] + [0]
    assert masked_after_rounds(49, 49) == list(range(48, -1, -1))       # one token a round: token by token
    assert all(a > b for a, b in zip([49, *plan], plan, strict=False))
    with pytest.raises(ValueError, match="steps: expected at most the 4 tokens"):
        masked_after_rounds(5, 4)


def test_autoregressive_logits_are_causal_and_maskgit_ones_are_not():
    for decoding, causal in (("autoregressive", True), ("maskgit", False)):
        m = tiny(decoding).eval()
        tokens = torch.randint(0, 64, (2, m.num_tokens))
        j = 20
        other = tokens.clone()
        other[:, j] = (tokens[:, j] + 1) % 64
        with torch.no_grad():
            a, b = m.logits(tokens, None), m.logits(other, None)
        changed = (a - b).abs().amax(dim=(0, 2)) > 1e-6
        if causal:   # output i predicts token i from tokens < i: positions <= j cannot see token j
            assert not changed[: j + 1].any() and changed[j + 1:].all()
        else:
            assert changed.all()


def test_tokenizer_stays_frozen_and_losses_fall():
    x = torch.zeros(16, 1, 28, 28)
    for i in range(16):
        x[i, 0, :, 2 + i % 4 * 6: 5 + i % 4 * 6] = 1.0
    for decoding in ("maskgit", "autoregressive"):
        m = tiny(decoding, num_classes=0)
        # a tokenizer with a spread codebook, so the codes of the bars differ
        with torch.no_grad():
            m.tokenizer.quantizer.embedding.normal_()
        before = {k: v.clone() for k, v in m.tokenizer.state_dict().items()}
        opt = torch.optim.AdamW(m.phase_parameters("main"), 3e-3)
        m.train()
        first = None
        for _ in range(40):
            loss = m(x)["loss"]
            first = first if first is not None else loss.item()
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert loss.item() < 0.5 * first
        assert not m.tokenizer.training
        for k, v in m.tokenizer.state_dict().items():
            torch.testing.assert_close(v, before[k], rtol=0, atol=0)
        assert not any(n.startswith("tokenizer.") for n, p in m.named_parameters()
                       if any(p is q for q in m.phase_parameters("main")))


def test_code_nll_is_the_summed_cross_entropy():
    m = tiny("autoregressive", num_classes=0).eval()
    x = torch.rand(3, 1, 28, 28)
    out = m(x)
    torch.testing.assert_close(m.code_nll(x).mean(), out["code_nll_nats"], rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(out["loss"] * m.num_tokens, out["code_nll_nats"], rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="code_nll: expected decoding='autoregressive'"):
        tiny().code_nll(x)


def test_sampling_passes_guidance_and_seeds():
    m = tiny(num_classes=10)
    codes, passes = m.sample_codes(3, y=torch.tensor([1, 2, 3]), steps=6)
    assert passes == 6 and codes.shape == (3, m.num_tokens) and int(codes.max()) < m.vocab
    _, passes = m.sample_codes(3, y=torch.tensor([1, 2, 3]), steps=6, guidance=2.0)
    assert passes == 12
    ar = tiny("autoregressive", num_classes=10)
    _, passes = ar.sample_codes(2, y=torch.tensor([0, 1]))
    assert passes == ar.num_tokens
    a = m.sample(4, generator=torch.Generator().manual_seed(5))
    b = m.sample(4, generator=torch.Generator().manual_seed(5))
    assert a.shape == (4, 1, 28, 28) and torch.equal(a, b)
    # guidance 1 is the conditional model itself
    t = torch.randint(0, 64, (2, m.num_tokens))
    m.eval()
    torch.testing.assert_close(m._guided(t, torch.tensor([3, 4]), 1.0), m.logits(t, torch.tensor([3, 4])))


def test_bad_configs_and_registry(tmp_path):
    with pytest.raises(ValueError, match="decoding: expected one of maskgit, autoregressive"):
        MaskGIT(MaskGITConfig(decoding="diffusion"))
    with pytest.raises(ValueError, match="y: this model is unconditional"):
        tiny(num_classes=0).sample(2, y=torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        tiny().sample(2, sampler="ddim")
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        MaskGIT(MaskGITConfig(tokenizer=str(tmp_path)))
    assert MODELS["maskgit"].kind == "generative" and MODELS["maskgit"].family == "transformers"
