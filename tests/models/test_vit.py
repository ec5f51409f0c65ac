"""ViT: patch embedding against unfold, attention against torch's MultiheadAttention, permutation
equivariance, a falling loss, the paper's two plots' maths, save/load and the shipped digit classifier."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from aip.models.layers import MultiHeadAttention, TransformerBlock
from aip.models.registry import MODELS, build_model
from aip.models.vit import ViT, ViTConfig, load_vit

TINY = ViTConfig(image_size=8, patch_size=2, dim=16, depth=2, heads=2, num_classes=2)


def test_patch_embedding_is_a_linear_map_of_flattened_patches():
    torch.manual_seed(0)
    net = ViT(TINY)
    x = torch.rand(3, 1, 8, 8)
    patches = F.unfold((x - 0.5) / 0.5, kernel_size=2, stride=2).transpose(1, 2)      # (B, 16, 4), raster
    w = net.patch_embed.weight.flatten(1)
    want = patches @ w.T + net.patch_embed.bias
    got = net.tokens(x)[:, 1:] - net.pos_embed[:, 1:]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    torch.testing.assert_close(net.tokens(x)[:, 0], (net.cls_token + net.pos_embed[:, :1])[0].expand(3, -1))


def test_attention_equals_torch_multihead_attention():
    torch.manual_seed(0)
    ours, ref = MultiHeadAttention(16, heads=4), torch.nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.qkv.weight)
        ref.in_proj_bias.copy_(ours.qkv.bias)
        ref.out_proj.weight.copy_(ours.proj.weight)
        ref.out_proj.bias.copy_(ours.proj.bias)
    x = torch.randn(2, 7, 16)
    want, weights = ref(x, x, x, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(ours(x), want, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours.attention(x), weights, atol=1e-6, rtol=0)
    causal = torch.ones(7, 7, dtype=torch.bool).tril()
    want_c, _ = ref(x, x, x, attn_mask=~causal)          # torch's bool mask: True where NOT allowed
    torch.testing.assert_close(ours(x, causal), want_c, atol=1e-5, rtol=0)


def test_blocks_are_permutation_equivariant_without_positions():
    torch.manual_seed(0)
    block = TransformerBlock(16, heads=2).eval()
    x = torch.randn(2, 9, 16)
    perm = torch.randperm(9)
    torch.testing.assert_close(block(x)[:, perm], block(x[:, perm]), atol=1e-5, rtol=0)


def test_loss_falls_and_it_learns_a_two_class_task():
    torch.manual_seed(0)
    net = ViT(TINY)
    x = torch.zeros(32, 1, 8, 8)
    y = torch.arange(32) % 2
    x[y == 0, :, :, 1] = 1.0       # class 0: a vertical bar, class 1: a horizontal one
    x[y == 1, :, 5, :] = 1.0
    x = (x + 0.1 * torch.rand(x.shape)).clamp(0, 1)
    opt = torch.optim.AdamW(net.parameters(), 3e-3)
    first = None
    for _ in range(60):
        loss = F.cross_entropy(net(x), y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * first
    assert (net.predict(x) == y).all()


def test_embedding_components_and_position_similarity():
    torch.manual_seed(0)
    net = ViT(TINY)
    comps, var = net.embedding_components()
    assert comps.shape == (4, 1, 2, 2) and var.shape == (4,)
    flat = comps.flatten(1).double()
    torch.testing.assert_close(flat @ flat.T, torch.eye(4, dtype=torch.float64), atol=1e-5, rtol=0)
    assert torch.all(var[:-1] >= var[1:]) and abs(float(var.sum()) - 1) < 1e-5
    # the first component is the direction of largest spread of the centred filters
    w = net.patch_embed.weight.detach().flatten(1).double()
    w = w - w.mean(0)
    spread = (w @ flat.T).square().sum(0)
    assert int(spread.argmax()) == 0
    sim = net.position_similarity()
    assert sim.shape == (4, 4, 4, 4)
    torch.testing.assert_close(torch.stack([sim[i, j, i, j] for i in range(4) for j in range(4)]),
                               torch.ones(16), atol=1e-5, rtol=0)
    assert net.attention_maps(torch.rand(2, 1, 8, 8)).shape == (2, 2, 2, 17, 17)


def test_save_load_and_registry(tmp_path):
    torch.manual_seed(0)
    net = ViT(TINY).eval()
    net.save(tmp_path / "vit_tiny", extra={"note": "test"})
    back = ViT.load(tmp_path / "vit_tiny")
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(back(x), net(x))
    assert back.meta["note"] == "test" and back.config == TINY
    assert MODELS["vit"].kind == "classifier" and isinstance(build_model("vit", depth=1), ViT)


def test_bad_configs_and_inputs():
    with pytest.raises(ValueError, match="patch_size: expected a divisor of image_size 28, got 5"):
        ViT(ViTConfig(patch_size=5))
    with pytest.raises(ValueError, match="heads: expected a divisor of dim 64, got 5"):
        ViT(ViTConfig(heads=5))
    with pytest.raises(ValueError, match=r"x: expected \(B, 1, 8, 8\) images, got shape \(2, 1, 9, 9\)"):
        ViT(TINY)(torch.rand(2, 1, 9, 9))
    with pytest.raises(ValueError, match="dataset: expected one with a shipped ViT"):
        load_vit("cats")



def test_shipped_digit_vit_classifies_the_test_digits():
    from aip.data import load_dataset

    net = load_vit("digits")
    te = load_dataset("digits", "test")
    acc = (net.predict(te.images[:1000]) == te.labels[:1000]).float().mean().item()
    assert acc >= 0.98
    assert net.meta["test_accuracy"] >= 0.98 and "train_vit.py" in net.meta["command"]
