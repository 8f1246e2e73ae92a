"""QS-Attn: anchors of lowest attention entropy, values routed by the source's attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semsr_core.errors import ConfigError
from semsr_core.losses.qsattn import QSAttnNCELoss


def test_a_distinctive_location_is_chosen_first():
    # four locations: three alike, one far from them with a large norm (a peaked row)
    feats = torch.tensor([[0.1, 0.12, 0.11, 3.0], [0.2, 0.21, 0.19, -2.0]]).reshape(1, 2, 1, 4)
    loss = QSAttnNCELoss(num_layers=1, num_patches=2, mlp_dim=0, random_layers=0)
    keys, _ = loss.sample(feats, feats, 0, None)
    attn = torch.softmax(feats.flatten(2)[0].T @ feats.flatten(2)[0], dim=-1)
    assert torch.allclose(keys[0, 0], attn[3] @ feats.flatten(2)[0].T)


def test_global_loss_against_a_hand_computation():
    rng = np.random.default_rng(3)
    src = rng.normal(size=(2, 5))  # C × HW
    out = src + 0.3 * rng.normal(size=(2, 5))
    tau = 0.07
    dots = src.T @ src
    attn = np.exp(dots - dots.max(1, keepdims=True))
    attn /= attn.sum(1, keepdims=True)
    entropy = -(attn * np.log(attn)).sum(1)
    picks = np.argsort(entropy)[:3]
    keys, queries = attn[picks] @ src.T, attn[picks] @ out.T  # S × C
    keys /= np.linalg.norm(keys, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    logits = queries @ keys.T / tau
    expected = np.mean([np.log(np.exp(row).sum()) - row[i] for i, row in enumerate(logits)])
    loss = QSAttnNCELoss(num_layers=1, num_patches=3, mlp_dim=0, random_layers=0)
    value = loss([torch.tensor(src).reshape(1, 2, 1, 5)], [torch.tensor(out).reshape(1, 2, 1, 5)])
    assert value.item() == pytest.approx(expected, rel=1e-9)


def test_local_attention_trains_the_output_and_the_heads():
    gen = torch.Generator().manual_seed(0)
    src = torch.randn(2, 8, 6, 6, generator=gen)
    out = (src + 0.1 * torch.randn(2, 8, 6, 6, generator=gen)).requires_grad_(True)
    loss = QSAttnNCELoss(num_layers=1, num_patches=10, mlp_dim=16, attention="local",
                         random_layers=0)
    loss([src], [out]).backward()
    assert out.grad.abs().sum() > 0
    assert all(p.grad is not None for p in loss.parameters())


def test_unknown_attention_is_a_config_error():
    with pytest.raises(ConfigError, match="attention"):
        QSAttnNCELoss(attention="sparse")
