import json
import math
import random

import numpy as np
import pytest
import torch

from aip.train.checkpoint import (
    flatten_state,
    latest_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    unflatten_state,
)


def _opt_state():
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.5, 0.9))
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    return opt.state_dict()


def _equal(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def test_flatten_round_trip_keeps_types_keys_and_tensors():
    state = {"opt": _opt_state(), 3: (1.5, None, True), "nan": float("nan"), "inf": float("-inf"),
             "nested": [{"t": torch.arange(3, dtype=torch.int16)}]}
    tensors = {}
    meta = flatten_state(state, tensors, "s")
    json.dumps(meta)  # everything non-tensor is JSON
    assert all(isinstance(v, torch.Tensor) for v in tensors.values())
    back = unflatten_state(json.loads(json.dumps(meta)), tensors)
    assert _equal(state, back)
    assert 0 in back["opt"]["state"]  # integer parameter ids stay integers for load_state_dict


def test_save_load_round_trip_and_latest_pointer(tmp_path):
    torch.manual_seed(1)
    ms = {"w": torch.randn(4, 4), "ema.w": torch.randn(4, 4), "n": torch.tensor(5)}
    for step in (1, 2, 3):
        path = save_checkpoint(tmp_path, model_state=ms, state={"step": step, "opt": _opt_state()}, keep=2)
    assert path.name == "step_00000003"
    assert sorted(p.name for p in tmp_path.glob("step_*")) == ["step_00000002", "step_00000003"]
    assert not list(tmp_path.glob(".step_*"))  # no temporary folders left behind
    assert latest_checkpoint(tmp_path) == path
    m2, s2 = load_checkpoint(path)
    assert _equal(ms, m2)
    assert s2["step"] == 3 and _equal(s2["opt"], _opt_state())
    from safetensors import safe_open
    with safe_open(str(path / "model.safetensors"), "pt") as f:  # plain safetensors, readable elsewhere
        assert set(f.keys()) == {"w", "ema.w", "n"}


def test_rng_state_round_trip():
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    saved = rng_state()
    tensors = {}
    meta = json.loads(json.dumps(flatten_state(saved, tensors, "r")))
    a = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    set_rng_state(unflatten_state(meta, tensors))
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    with pytest.raises(FileNotFoundError, match="not a checkpoint"):
        load_checkpoint(tmp_path)
