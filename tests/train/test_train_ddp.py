"""Two CPU processes joined by Gloo train the same tiny models with DDP; their replicas must agree.

Both kinds: generative (an autoencoder, a two-phase GAN) on images and labels, and restoration (a tiny
denoiser) on Degraded batch dicts.
"""

import pytest
import torch
from tiny_models import (
    TinyAE,
    TinyConfig,
    TinyGAN,
    TinyGANConfig,
    TinyRestorer,
    TinyRestorerConfig,
    smooth_images,
    tiny_dataset,
)

from aip.train import TrainConfig, Trainer, seed_everything
from aip.train.distributed import launch


def _worker(rank, world, out_dir):
    for which in ("ae", "gan", "restorer"):
        _train(rank, world, f"{out_dir}/{which}", which)
    for which in ("ae", "restorer"):
        _train_resumed(rank, f"{out_dir}/{which}_resumed", which)


def _model_and_data(which):
    if which == "restorer":
        from aip.data import Degraded
        from aip.degrade import GaussianNoise, Physics

        data = Degraded(smooth_images(24, 16, 0), Physics(noise=GaussianNoise((0.05, 0.2))), crop=12)
        return TinyRestorer(TinyRestorerConfig()), data
    model = TinyAE(TinyConfig(num_classes=4)) if which == "ae" else TinyGAN(TinyGANConfig())
    return model, tiny_dataset()


def _eval_data(which):
    if which != "restorer":
        return None
    from aip.data import Degraded
    from aip.degrade import GaussianNoise, Physics

    return Degraded(smooth_images(4, 16, 100), Physics(noise=GaussianNoise(0.1)))


def _train_resumed(rank, out_dir, which):
    """2 steps, a fresh Trainer that loads the checkpoint (RNGs disturbed first), 2 more steps."""
    import torch.distributed as dist

    cfg = TrainConfig(steps=4, batch_size=8, lr=1e-2, ema_decay=0.5, seed=0, log_every=0)
    seed_everything(cfg.seed)
    model, data = _model_and_data(which)
    tr = Trainer(model, data, cfg, out_dir, progress=False)
    tr.train(until=2)
    dist.barrier()  # rank 0 has written the step-2 checkpoint
    torch.manual_seed(1000 + rank)  # other initial weights and RNG per rank: the checkpoint restores them
    model, data = _model_and_data(which)
    tr = Trainer(model, data, cfg, out_dir, progress=False)
    tr.load()
    assert tr.step == 2
    tr.train()
    state = {k: v.clone() for k, v in tr.module.state_dict().items()}
    state.update({f"ema.{k}": v for k, v in tr.ema.state_dict().items()})
    torch.save({"state": state}, f"{out_dir}/rank{rank}.pt")
    dist.barrier()


def _train(rank, world, out_dir, which):
    import torch.distributed as dist

    cfg = TrainConfig(steps=4, batch_size=8, lr=1e-2, ema_decay=0.5, seed=0, log_every=0)
    seed_everything(cfg.seed)
    model, data = _model_and_data(which)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    tr = Trainer(model, data, cfg, out_dir, eval_data=_eval_data(which), progress=False)  # rank 0 creates out_dir
    assert tr.world_size == world and tr.stream.sampler.num_replicas == world
    tr.train()
    state = {k: v.clone() for k, v in tr.module.state_dict().items()}
    state.update({f"ema.{k}": v for k, v in tr.ema.state_dict().items()})
    first_batch = tr.stream.sampler.indices if hasattr(tr.stream.sampler, "indices") else None
    first_draw = None
    if which == "restorer":  # the ranks' degradations differ: each draws from its own (seed, rank, ...) stream
        from aip.data import BatchStream

        first_draw = BatchStream(data, 8, seed=0).next()["sigma"]
    torch.save({"state": state, "init": init, "order": list(iter(tr.stream.sampler)), "first": first_batch,
                "evaluations": tr.evaluations, "first_draw": first_draw, "n": len(data)},
               f"{out_dir}/rank{rank}.pt")
    dist.barrier()


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    launch(_worker, 2, str(root))  # one launch for both models: process start-up dominates
    return root


@pytest.mark.parametrize("which", ["ae", "gan", "restorer"])
def test_two_process_ddp_replicas_agree(ddp_runs, which):
    tmp_path = ddp_runs / which
    r0 = torch.load(tmp_path / "rank0.pt")
    r1 = torch.load(tmp_path / "rank1.pt")
    for k in r0["state"]:
        assert torch.equal(r0["state"][k], r1["state"][k]), k
    moved = [k for k in r0["init"] if r0["init"][k].is_floating_point()
             and not torch.equal(r0["init"][k], r0["state"][k])]
    assert moved  # training changed the weights
    # the two ranks saw disjoint halves of each epoch
    assert not set(r0["order"]) & set(r1["order"])
    assert len(r0["order"]) + len(r1["order"]) == r0["n"]
    # rank 0 alone wrote the checkpoint
    assert (tmp_path / "checkpoints" / "step_00000004" / "model.safetensors").is_file()


def test_ddp_restoration_evaluates_on_rank0_with_rank_own_degradations(ddp_runs):
    r0 = torch.load(ddp_runs / "restorer" / "rank0.pt")
    r1 = torch.load(ddp_runs / "restorer" / "rank1.pt")
    assert [e["step"] for e in r0["evaluations"]] == [4] and r1["evaluations"] == []
    assert r0["evaluations"][0]["psnr"] > 15
    assert not torch.equal(r0["first_draw"], r1["first_draw"])


@pytest.mark.parametrize("which", ["ae", "restorer"])
def test_ddp_resume_continues_exactly(ddp_runs, which):
    full = torch.load(ddp_runs / which / "rank0.pt")["state"]
    for rank in (0, 1):
        resumed = torch.load(ddp_runs / f"{which}_resumed" / f"rank{rank}.pt")["state"]
        assert resumed.keys() == full.keys()
        for k in full:
            assert torch.equal(full[k], resumed[k]), (rank, k)
