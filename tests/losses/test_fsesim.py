"""FSeSim: self-similarity maps keep structure and ignore contrast."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data, transform

from semsr_core.errors import ConfigError
from semsr_core.losses.fsesim import SpatialCorrelativeLoss, correlation_maps


def small_image(image: np.ndarray) -> torch.Tensor:
    small = transform.resize(image, (64, 64), anti_aliasing=True)
    small = (small - small.min()) / (small.max() - small.min())
    return torch.tensor(small, dtype=torch.float32)[None, None]


@pytest.fixture(scope="module")
def camera():
    return small_image(data.camera())


@pytest.fixture(scope="module")
def coins():
    return small_image(data.coins())


@pytest.fixture
def fsesim(vgg16_file):
    return SpatialCorrelativeLoss(layers=("22", "33", "43"), weights=vgg16_file)


def seeded():
    return torch.Generator().manual_seed(0)


def test_correlation_map_holds_cosine_similarities_of_centred_features():
    features = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]]).reshape(1, 2, 1, 3)
    maps = correlation_maps(features, torch.tensor([0]), torch.tensor([1]), patch_size=3)
    centred = features[0, :, 0, :].numpy() - features[0, :, 0, :].numpy().mean(axis=1,
                                                                               keepdims=True)
    unit = centred / np.linalg.norm(centred, axis=0, keepdims=True)
    # 3×3 patch around (row 0, col 1): only the middle row lies inside the image.
    expected = np.zeros((3, 3))
    expected[1] = unit[:, 1] @ unit
    assert maps.shape == (1, 1, 9)
    assert np.allclose(maps[0, 0].numpy(), expected.ravel(), atol=1e-6)


def test_identical_images_give_zero(fsesim, camera):
    assert fsesim(camera, camera, generator=seeded()).item() == pytest.approx(0.0, abs=1e-5)


def test_contrast_change_costs_little_and_other_structure_costs_much(fsesim, camera, coins):
    contrast = fsesim(camera, 0.5 * camera + 0.2, generator=seeded()).item()
    other = fsesim(camera, coins, generator=seeded()).item()
    assert contrast < 0.02
    assert other > 10 * contrast


def test_l1_distance_also_separates_contrast_from_structure(vgg16_file, camera, coins):
    loss = SpatialCorrelativeLoss(layers=("33",), distance="l1", weights=vgg16_file)
    contrast = loss(camera, 0.5 * camera + 0.2, generator=seeded()).item()
    other = loss(camera, coins, generator=seeded()).item()
    assert other > 4 * contrast


def test_same_generator_seed_gives_the_same_value(fsesim, camera, coins):
    first = fsesim(camera, coins, generator=seeded()).item()
    assert fsesim(camera, coins, generator=seeded()).item() == first


def test_loss_trains_the_output_in_either_argument_order(fsesim, camera, coins):
    for first_is_output in (False, True):
        output = coins.clone().requires_grad_(True)
        pair = (output, camera) if first_is_output else (camera, output)
        fsesim(*pair, generator=seeded()).backward()
        assert output.grad.abs().sum() > 0
    assert fsesim(camera, coins, generator=seeded()).item() == pytest.approx(
        fsesim(coins, camera, generator=seeded()).item(), rel=1e-6)


def test_bad_settings_and_shapes_are_config_errors(vgg16_file, camera):
    with pytest.raises(ConfigError, match="distance"):
        SpatialCorrelativeLoss(distance="l2", weights=vgg16_file)
    with pytest.raises(ConfigError, match="patch_size"):
        SpatialCorrelativeLoss(patch_size=4, weights=vgg16_file)
    loss = SpatialCorrelativeLoss(layers=("22",), weights=vgg16_file)
    with pytest.raises(ConfigError, match="bicubic"):
        loss(camera, camera[..., :32, :32])
