"""PatchNCE (CUT): matching features at the same location are preferred."""

from __future__ import annotations

import math

import pytest
import torch

from semsr_core.errors import ConfigError
from semsr_core.losses.patchnce import PatchNCELoss


def feature_layers(seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 16, 8, 8, generator=gen), torch.randn(2, 32, 4, 4, generator=gen)]


def shuffled(features: list[torch.Tensor]) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(99)
    out = []
    for f in features:
        order = torch.randperm(f.shape[-2] * f.shape[-1], generator=gen)
        out.append(f.flatten(2)[:, :, order].reshape(f.shape))
    return out


def test_infonce_against_a_hand_value_without_projection_heads():
    # Two locations with unit features at cosine 0.6: logits [[1, .6], [.6, 1]] / τ.
    features = torch.tensor([[1.0, 0.6], [0.0, 0.8]], dtype=torch.float64).reshape(1, 2, 1, 2)
    loss = PatchNCELoss(num_layers=1, num_patches=2, mlp_dim=0)  # default τ = 0.07
    expected = math.log1p(math.exp(-0.4 / 0.07))  # −log(e^{1/τ} / (e^{1/τ} + e^{0.6/τ}))
    assert loss([features], [features]).item() == pytest.approx(expected, rel=1e-9)


def test_identical_features_cost_less_than_spatially_shuffled_ones():
    loss = PatchNCELoss(num_layers=2, num_patches=16)
    source = feature_layers()
    same = loss(source, source, generator=torch.Generator().manual_seed(1)).item()
    mixed = loss(source, shuffled(source), generator=torch.Generator().manual_seed(1)).item()
    assert same < mixed
    assert mixed > math.log(16) / 2  # shuffled queries do not find their positive


def test_projection_heads_and_output_features_receive_gradients():
    loss = PatchNCELoss(num_layers=2, num_patches=8)
    output = [f.requires_grad_(True) for f in feature_layers(1)]
    source = [f.requires_grad_(True) for f in feature_layers(2)]
    loss(source, output).backward()
    assert all(f.grad.abs().sum() > 0 for f in output)
    assert all(f.grad is None for f in source)
    assert all(p.grad is not None for p in loss.parameters())


def test_wrong_number_of_layers_is_a_config_error():
    with pytest.raises(ConfigError, match="num_layers"):
        PatchNCELoss(num_layers=3)(feature_layers(), feature_layers())


def test_images_are_encoded_by_the_encoder_it_is_given():
    encoder = torch.nn.Conv2d(1, 8, 3, padding=1)
    loss = PatchNCELoss(num_layers=1, num_patches=16)
    images = torch.rand(2, 1, 8, 8)
    with pytest.raises(ConfigError, match="use_encoder"):
        loss(images, images)
    loss.use_encoder(lambda x: [encoder(x)])
    output = images.clone().requires_grad_(True)
    value = loss(images, output)
    value.backward()
    assert output.grad.abs().sum() > 0
    assert not any(p is encoder.weight for p in loss.parameters())
