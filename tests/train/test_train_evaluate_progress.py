"""aip evaluate's one bar: sampling (the sampler's loop of every batch), features, NLL."""

import numpy as np
import pytest
import torch
from tiny_models import TinyAE, TinyConfig

import aip._shared.progress as P
from aip.io import write_image
from aip.train.evaluate import evaluate_model


def test_evaluate_model_one_bar_over_the_stages(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(30):
            write_image(tmp_path / c / f"{i}.png", rng.random((8, 8)).astype(np.float32))
    made = []

    class Bar:
        def __init__(self, total=None, desc="", **kw):
            self.total, self.desc, self.log = total, desc, []
            made.append(self)

        def update(self, n):
            self.log.append(n)

        def close(self):
            pass

    monkeypatch.setattr(P, "_tqdm", lambda **kw: Bar(**kw))
    torch.manual_seed(0)
    model = TinyAE(TinyConfig(image_size=8))
    plain_sample = model.sample

    def sample(k, **kw):        # a sampler with 4 steps per call, as the diffusion pipelines' loops
        for _ in P.progress(range(4), False, "sampling"):
            pass
        return plain_sample(k, **kw)

    model.sample = sample
    feat = lambda x: torch.nn.functional.avg_pool2d(x, 4).flatten(1)
    quiet = evaluate_model(model, tmp_path, n=40, feature_fn=feat, batch_size=4)
    assert made == []
    shown = evaluate_model(model, tmp_path, n=40, feature_fn=feat, batch_size=4, progress=True)
    flat = {k: v for k, v in quiet.items() if not isinstance(v, dict)}
    assert {k: v for k, v in shown.items() if not isinstance(v, dict)} == pytest.approx(flat)
    assert {k: v for k, v in shown.items() if isinstance(v, dict)} == {k: v for k, v in quiet.items()
                                                                        if isinstance(v, dict)}
    assert len(made) == 1 and made[0].desc == "evaluate"
    # n = 40 asked (the folder's test split cuts it to 6: 2 batches of 4), nll_n = 40: total 2 n + nll_n
    bar = made[0]
    assert bar.total == 120
    assert bar.log[:8] == [5.0] * 8                  # 2 sampler loops x 4 steps share the 40 sampling units
    assert sum(bar.log) == pytest.approx(120)
