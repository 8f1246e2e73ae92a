"""MoNCE: negatives weighted by a Sinkhorn transport plan ([S1] App. A.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from semsr_core.errors import ConfigError
from semsr_core.losses.monce import MoNCELoss, transport_weights
from semsr_core.losses.patchnce import PatchNCELoss


def unit_rows(count: int, dim: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(1, count, dim, generator=gen, dtype=torch.float64), dim=-1)


def test_the_plan_is_doubly_stochastic_and_leaves_the_positive_out():
    q, k = unit_rows(16, 8, 0), unit_rows(16, 8, 1)
    for cost in ("hard", "easy"):
        plan = transport_weights(q, k, cost, beta=1.0, iterations=200)[0]
        assert plan.sum(dim=1).numpy() == pytest.approx(np.ones(16), abs=1e-6)
        assert plan.sum(dim=0).numpy() == pytest.approx(np.ones(16), abs=1e-6)
        assert float(plan.diagonal().max()) < 1e-3


def test_hard_weighting_favours_similar_negatives_and_easy_the_dissimilar():
    q, k = unit_rows(12, 4, 2), unit_rows(12, 4, 3)
    similarity = (q @ k.transpose(1, 2))[0]
    off = ~torch.eye(12, dtype=torch.bool)
    hard = transport_weights(q, k, "hard")[0][off]
    easy = transport_weights(q, k, "easy")[0][off]
    s = similarity[off]
    assert np.corrcoef(s, hard)[0, 1] > 0.5 and np.corrcoef(s, easy)[0, 1] < -0.5


def test_two_patches_give_the_patchnce_hand_value():
    # Two locations: the only negative has weight (S−1)·T01 = 1 (less the plan's mass
    # on the masked diagonal, ~e^(−10−0.6)), so MoNCE is PatchNCE.
    features = torch.tensor([[1.0, 0.6], [0.0, 0.8]], dtype=torch.float64).reshape(1, 2, 1, 2)
    expected = math.log1p(math.exp(-0.4 / 0.07))
    for cost in ("hard", "easy"):
        loss = MoNCELoss(num_layers=1, num_patches=2, mlp_dim=0, cost_type=cost)
        assert loss([features], [features]).item() == pytest.approx(expected, rel=1e-4)
    assert PatchNCELoss(num_layers=1, num_patches=2, mlp_dim=0)(
        [features], [features]).item() == pytest.approx(expected, rel=1e-9)


def test_three_patches_against_a_hand_sinkhorn_and_weighted_infonce():
    tau, beta = 0.07, 1.0
    feats = F.normalize(torch.tensor([[0.9, 0.1, 0.4], [0.2, 1.0, 0.3], [0.5, 0.2, 1.0]],
                                     dtype=torch.float64), dim=0)  # C × S, unit columns
    x = feats.T.numpy()  # S × C
    sim = x @ x.T
    kernel = np.exp(np.where(np.eye(3, dtype=bool), -10.0, sim) / beta)
    u, v = np.ones(3), np.ones(3)
    for _ in range(50):  # Cuturi's iterations, by hand
        u = 1.0 / (kernel @ v)
        v = 1.0 / (u @ kernel)
    weights = 2 * (u[:, None] * kernel * v[None, :]) + 1e-8
    expected = 0.0
    for i in range(3):
        pos = math.exp(sim[i, i] / tau)
        neg = sum(weights[i, j] * math.exp(sim[i, j] / tau) for j in range(3) if j != i)
        neg += weights[i, i] * math.exp(-10.0 / tau)
        expected += -math.log(pos / (pos + neg)) / 3
    loss = MoNCELoss(num_layers=1, num_patches=3, mlp_dim=0, iterations=50)
    value = loss([feats.reshape(1, 3, 1, 3)], [feats.reshape(1, 3, 1, 3)]).item()
    assert value == pytest.approx(expected, rel=1e-9)


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="cost_type"):
        MoNCELoss(cost_type="medium")
    with pytest.raises(ConfigError, match="beta"):
        MoNCELoss(beta=0)


def test_lsgan_against_hand_values():
    from semsr_core.losses import build

    loss = build("gan_ls")
    real, fake = torch.tensor([[1.5], [0.5]]), torch.tensor([[0.0], [2.0]])
    # D: ½·(mean((r−1)²) + mean(f²)) = ½·(0.25 + 2.0); G: mean((f−1)²) = 1.0
    assert loss.d_loss(real, fake).item() == pytest.approx(1.125)
    assert loss.g_loss(real, fake).item() == pytest.approx(1.0)
