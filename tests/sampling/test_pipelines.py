"""The diffusion pipeline: same samples as the loops it replaced, the sampler table, general conditioning,
and gradients through the loop when asked."""

from __future__ import annotations

import pytest
import torch

from aip.models import DDPM, DDPMConfig, UNet, UNetConfig
from aip.sampling import (
    SAMPLERS,
    Conditioning,
    DDIMScheduler,
    DDPMScheduler,
    DiffusionPipeline,
    NoiseSchedule,
    make_scheduler,
)

TINY = {"image_size": 8, "base_channels": 8, "channel_mult": (1, 2), "patch_size": 1, "num_heads": 2,
        "num_timesteps": 100, "sample_steps": 10}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return perturbed(DDPM(DDPMConfig(num_classes=4, **TINY)))


def perturbed(net):
    """``net`` with every parameter moved off its initialisation (zero-initialised layers would hide inputs)."""
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net.eval()


def old_loop(model, sched, xT, y, guidance, generator):
    """The sampling loop as DDPM.sample ran it before the pipeline: eps from the U-Net, guided, then step."""
    x, n, null = xT, xT.shape[0], torch.full_like(y, model.unet.null_label)
    with torch.no_grad():
        for t in sched.timesteps.tolist():
            tt = torch.as_tensor(t).expand(n)
            if guidance == 1.0:
                e = model.unet(x, tt, y)
            else:
                both = model.unet(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([null, y]))
                e = both[:n] + guidance * (both[n:] - both[:n])
            x = sched.step(e, t, x, generator=generator).prev_sample
    return ((x + 1) / 2).clamp(0, 1)


@pytest.mark.parametrize("sampler,steps,guidance,eta", [("ddim", 10, 1.0, 0.0), ("ddim", 10, 3.0, 0.0),
                                                        ("ddim", 7, 2.0, 0.5), ("ddpm", 100, 1.0, None),
                                                        ("ddpm", 12, 3.0, None)])
def test_pipeline_gives_the_old_loops_samples_bit_for_bit(model, sampler, steps, guidance, eta):
    y = torch.tensor([0, 1, 2, 3, 1])
    xT = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    if sampler == "ddim":
        sched = DDIMScheduler(model.schedule, eta=eta, clip_sample=True)
    else:
        sched = DDPMScheduler(model.schedule, clip_sample=True)
    sched.set_timesteps(steps)
    ref = old_loop(model, sched, xT.clone(), y, guidance, torch.Generator().manual_seed(2))
    got = model.sample(5, y=y, sampler=sampler, steps=steps, guidance=guidance, eta=eta, x_T=xT.clone(),
                       generator=torch.Generator().manual_seed(2))
    assert torch.equal(got, ref)


def test_sampler_table_builds_every_sampler_and_refuses_unknown_options():
    sched = NoiseSchedule("linear", 100)
    for name, spec in SAMPLERS.items():
        s = make_scheduler(name, sched, default_steps=10)
        assert isinstance(s, spec.cls)
        assert s.num_inference_steps == (100 if spec.all_steps_by_default else 10)
    assert make_scheduler("ddim", sched, 5, eta=0.3).eta == 0.3
    with pytest.raises(ValueError, match=r"sampler ddpm: expected options among \['variance'\], got \['eta'\]"):
        make_scheduler("ddpm", sched, 5, eta=0.3)
    with pytest.raises(ValueError, match="sampler: expected one of ddpm, ddim"):
        make_scheduler("euler", sched, 5)
    with pytest.raises(ValueError, match="steps: expected"):
        make_scheduler("ddim", sched, 101)


def test_unet_takes_an_image_and_a_vector_condition():
    torch.manual_seed(0)
    net = UNet(UNetConfig(image_size=8, base_channels=8, channel_mult=(1, 2), num_heads=2, cond_channels=2,
                          cond_dim=3))
    perturbed(net)
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([3, 50])
    img, vec = torch.randn(2, 2, 8, 8), torch.randn(2, 3)
    with torch.no_grad():
        a = net(x, t, image=img, vector=vec)
        assert a.shape == x.shape
        assert not torch.allclose(a, net(x, t, image=img.flip(-1), vector=vec))     # the image reaches it
        assert not torch.allclose(a, net(x, t, image=img, vector=2 * vec))           # and so does the vector
        torch.testing.assert_close(net(x, t, image=img), net(x, t, image=img, vector=torch.zeros(2, 3)))
    with pytest.raises(ValueError, match=r"image: expected a condition image of shape \(2, 2, 8, 8\), got None"):
        net(x, t)
    with pytest.raises(ValueError, match=r"vector: expected shape \(2, 3\), got \(2, 4\)"):
        net(x, t, image=img, vector=torch.zeros(2, 4))
    plain = UNet(UNetConfig(image_size=8, base_channels=8, channel_mult=(1, 2), num_heads=2))
    with pytest.raises(ValueError, match="cond_channels 0"):
        plain(x, t, image=img)


def test_vector_guidance_contrasts_with_the_zero_vector():
    torch.manual_seed(0)
    net = perturbed(UNet(UNetConfig(image_size=8, base_channels=8, channel_mult=(1, 2), num_heads=2, cond_dim=3)))
    pipe = DiffusionPipeline(net, NoiseSchedule("linear", 100))
    x, vec = torch.randn(2, 1, 8, 8), torch.randn(2, 3)
    cond = Conditioning(vector=vec)
    with torch.no_grad():
        ec, eu = net(x, torch.tensor(20).expand(2), vector=vec), net(x, torch.tensor(20).expand(2))
        torch.testing.assert_close(pipe.eps(x, 20, cond, guidance=2.5), eu + 2.5 * (ec - eu), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(pipe.eps(x, 20, cond, guidance=0.0), eu)
    with pytest.raises(ValueError, match="conditioning vector: expected a batch of 3, got 2"):
        pipe.sample((3, 1, 8, 8), cond=cond, steps=2)
    with pytest.raises(ValueError, match=r"conditioning vector: expected shape \(B, D\)"):
        Conditioning(vector=torch.zeros(3))


def test_correction_hook_and_gradients_through_the_loop(model):
    pipe = model.pipeline()
    y = torch.tensor([0, 1])
    known = torch.zeros(2, 1, 8, 8)
    seen = []

    def clamp_left(x_prev, x0, x_t, t):  # a RePaint-like merge: the left half is known
        seen.append((t, x_t.requires_grad))
        out = x_prev.clone()
        out[..., :4] = known[..., :4]
        return out

    out = pipe.sample((2, 1, 8, 8), cond=y, steps=5, correct=clamp_left, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[..., :4], known[..., :4]) and not out.requires_grad
    assert [t for t, _ in seen] == pipe.scheduler("ddim", 5).timesteps.tolist() and not any(g for _, g in seen)

    # grad="step": the hook differentiates the x_0 estimate in x_t (what DPS needs); the result is detached
    grads = []

    def dps_like(x_prev, x0, x_t, t):
        (g,) = torch.autograd.grad(x0.square().sum(), x_t)
        grads.append(float(g.abs().sum()))
        return x_prev - 0.01 * g

    out = pipe.sample((2, 1, 8, 8), cond=y, steps=5, correct=dps_like, grad="step", clip_sample=False,
                      generator=torch.Generator().manual_seed(0))
    assert len(grads) == 5 and min(grads) > 0 and not out.requires_grad
    # grad="chain": x_0 is differentiable in x_T through every step
    xT = torch.randn(2, 1, 8, 8, requires_grad=True)
    x0 = pipe.sample(xT, cond=y, steps=3, grad="chain", clip_sample=False)
    (g,) = torch.autograd.grad(x0.sum(), xT)
    assert float(g.abs().sum()) > 0
    with pytest.raises(ValueError, match="grad: expected one of none, step, chain"):
        pipe.sample((2, 1, 8, 8), cond=y, steps=2, grad="yes")


def test_model_inversion_is_the_pipelines(model):
    # (the round trip itself is checked on an exact model in test_samplers.py)
    imgs = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    xT = model.invert(imgs, y=torch.tensor([1, 3]), steps=10)
    assert torch.equal(xT, model.pipeline().invert(2 * imgs - 1, cond=torch.tensor([1, 3]), steps=10))
