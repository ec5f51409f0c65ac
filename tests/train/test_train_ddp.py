"""Two CPU processes joined by Gloo train the same tiny models with DDP; their replicas must agree."""

import pytest
import torch
from tiny_models import TinyAE, TinyConfig, TinyGAN, TinyGANConfig, tiny_dataset

from aip.train import TrainConfig, Trainer, seed_everything
from aip.train.distributed import launch


def _worker(rank, world, out_dir):
    for which in ("ae", "gan"):
        _train(rank, world, f"{out_dir}/{which}", which)
    _train_resumed(rank, f"{out_dir}/ae_resumed")


def _train_resumed(rank, out_dir):
    """2 steps, a fresh Trainer that loads the checkpoint (RNGs disturbed first), 2 more steps."""
    import torch.distributed as dist

    cfg = TrainConfig(steps=4, batch_size=8, lr=1e-2, ema_decay=0.5, seed=0, log_every=0)
    seed_everything(cfg.seed)
    tr = Trainer(TinyAE(TinyConfig(num_classes=4)), tiny_dataset(), cfg, out_dir, progress=False)
    tr.train(until=2)
    dist.barrier()  # rank 0 has written the step-2 checkpoint
    torch.manual_seed(1000 + rank)
    tr = Trainer(TinyAE(TinyConfig(num_classes=4)), tiny_dataset(), cfg, out_dir, progress=False)
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
    model = TinyAE(TinyConfig(num_classes=4)) if which == "ae" else TinyGAN(TinyGANConfig())
    init = {k: v.clone() for k, v in model.state_dict().items()}
    tr = Trainer(model, tiny_dataset(), cfg, out_dir, progress=False)  # rank 0 creates out_dir
    assert tr.world_size == world and tr.stream.sampler.num_replicas == world
    tr.train()
    state = {k: v.clone() for k, v in tr.module.state_dict().items()}
    state.update({f"ema.{k}": v for k, v in tr.ema.state_dict().items()})
    first_batch = tr.stream.sampler.indices if hasattr(tr.stream.sampler, "indices") else None
    torch.save({"state": state, "init": init, "order": list(iter(tr.stream.sampler)), "first": first_batch},
               f"{out_dir}/rank{rank}.pt")
    dist.barrier()


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    launch(_worker, 2, str(root))  # one launch for both models: process start-up dominates
    return root


@pytest.mark.parametrize("which", ["ae", "gan"])
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
    assert len(r0["order"]) + len(r1["order"]) == 96
    # rank 0 alone wrote the checkpoint
    assert (tmp_path / "checkpoints" / "step_00000004" / "model.safetensors").is_file()


def test_ddp_resume_continues_exactly(ddp_runs):
    full = torch.load(ddp_runs / "ae" / "rank0.pt")["state"]
    for rank in (0, 1):
        resumed = torch.load(ddp_runs / "ae_resumed" / f"rank{rank}.pt")["state"]
        assert resumed.keys() == full.keys()
        for k in full:
            assert torch.equal(full[k], resumed[k]), (rank, k)
