"""WGAN-GP: critic and generator losses, and the gradient penalty on critics whose
gradient is known analytically."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from semsr_core.errors import ConfigError
from semsr_core.losses.wgan_gp import WassersteinGP, gradient_penalty


class LinearCritic(nn.Module):
    """C(x) = Σ w·x per sample, so ∇C = w everywhere and ‖∇C‖ = ‖w‖."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight.clone())

    def forward(self, x):
        return (x * self.weight).flatten(1).sum(dim=1)


class HalfSquareCritic(nn.Module):
    """C(x) = ½‖x‖² per sample, so ∇C(x̂) = x̂."""

    def forward(self, x):
        return 0.5 * (x * x).flatten(1).sum(dim=1)


def test_critic_and_generator_losses_are_the_wasserstein_estimates():
    loss = WassersteinGP()
    real, fake = torch.tensor([3.0, 1.0]), torch.tensor([-1.0, 0.5, 2.0, 0.5])
    assert loss.d_loss(real, fake).item() == pytest.approx(0.5 - 2.0)  # mean C(fake) − mean C(real)
    assert loss.g_loss(real, fake).item() == pytest.approx(-0.5)


def test_penalty_of_a_linear_critic_is_lambda_times_norm_minus_one_squared():
    # w spans channels, rows and columns: the norm must be over all of them together.
    weight = torch.zeros(2, 3, 3)
    weight[0, 0, 0], weight[1, 2, 1], weight[0, 1, 2] = 1.0, 2.0, 2.0  # ‖w‖ = 3
    critic = LinearCritic(weight)
    real, fake = torch.rand(4, 2, 3, 3), torch.rand(4, 2, 3, 3)
    penalty = gradient_penalty(critic, real, fake, lambda_gp=10.0)
    assert penalty.item() == pytest.approx(10.0 * (3.0 - 1.0) ** 2, rel=1e-6)


def test_penalty_trains_the_critic_with_the_analytic_gradient():
    weight = torch.tensor([[[3.0, 4.0]]])  # ‖w‖ = 5
    critic = LinearCritic(weight)
    real, fake = torch.rand(3, 1, 1, 2), torch.rand(3, 1, 1, 2)
    WassersteinGP(lambda_gp=2.0).penalty(critic, real, fake).backward()
    # d/dw λ(‖w‖ − 1)² = 2λ(‖w‖ − 1) · w/‖w‖
    expected = 2 * 2.0 * (5.0 - 1.0) * weight / 5.0
    assert torch.allclose(critic.weight.grad, expected, rtol=1e-6)


def test_a_critic_giving_a_score_map_is_scored_by_its_mean():
    # Map critic: scores w·x per pixel; its per-sample score is Σ w·x / 4, so ‖∇‖ = ‖w‖/4.
    class MapCritic(nn.Module):
        def forward(self, x):
            return x * torch.tensor([[3.0, 4.0], [0.0, 0.0]])

    real, fake = torch.rand(3, 1, 2, 2), torch.rand(3, 1, 2, 2)
    penalty = gradient_penalty(MapCritic(), real, fake, lambda_gp=10.0)
    assert penalty.item() == pytest.approx(10.0 * (5.0 / 4 - 1.0) ** 2, rel=1e-6)


def test_gradient_norm_is_taken_per_sample():
    # With real == fake every interpolate is the sample itself and ∇C(x̂) = x̂, so the
    # penalty is λ · mean_i (‖x_i‖ − 1)²; one norm over the whole batch would differ.
    samples = torch.zeros(2, 1, 2, 2)
    samples[0, 0, 0, 0] = 3.0  # ‖x_0‖ = 3
    samples[1, 0, 0, 0], samples[1, 0, 1, 1] = 0.6, 0.8  # ‖x_1‖ = 1
    penalty = gradient_penalty(HalfSquareCritic(), samples, samples, lambda_gp=10.0)
    assert penalty.item() == pytest.approx(10.0 * ((3.0 - 1.0) ** 2 + 0.0) / 2)


def test_interpolates_use_one_epsilon_per_sample_between_real_and_fake():
    # ∇C(x̂) = x̂ = ε x + (1 − ε) x̃; with x = 2·1 and x̃ = 0 the norm is 2ε·√(C·H·W).
    real, fake = torch.full((1, 1, 2, 2), 2.0), torch.zeros(1, 1, 2, 2)
    gen = torch.Generator().manual_seed(7)
    eps = torch.rand((1, 1, 1, 1), generator=torch.Generator().manual_seed(7)).item()
    penalty = gradient_penalty(HalfSquareCritic(), real, fake, lambda_gp=1.0, generator=gen)
    assert penalty.item() == pytest.approx((2.0 * eps * math.sqrt(4) - 1.0) ** 2, rel=1e-5)


def test_penalty_refuses_real_and_fake_of_different_shapes():
    with pytest.raises(ConfigError, match="wgan_gp"):
        gradient_penalty(HalfSquareCritic(), torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 8, 8))


def test_negative_lambda_is_a_config_error():
    with pytest.raises(ConfigError, match="lambda_gp"):
        WassersteinGP(lambda_gp=-1.0)
