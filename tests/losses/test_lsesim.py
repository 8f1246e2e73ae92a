"""LSeSim: the structure network's InfoNCE and the generator's map distance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semsr_core.errors import ConfigError
from semsr_core.losses.lsesim import LSeSimLoss, map_distance, map_info_nce, photometric_augment


def _hand_info_nce(q, k, o, tau):
    """Eq. 2.20 written out for one image: −log softmax of the positive."""
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    total = 0.0
    for i in range(len(q)):
        logits = [unit(q[i]) @ unit(k[j]) / tau for j in range(len(k))]
        logits += [unit(q[i]) @ unit(o[j]) / tau for j in range(len(o))]
        total += -logits[i] + np.log(np.sum(np.exp(logits)))
    return total / len(q)


def test_info_nce_of_tiny_maps_equals_the_hand_value():
    q = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    k = np.array([[0.8, 0.1, 0.0], [0.2, 1.0, 0.5]])
    o = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    tensor = lambda a: torch.tensor(a, dtype=torch.float64)[None]  # noqa: E731
    value = map_info_nce(tensor(q), tensor(k), tensor(o), temperature=0.5).item()
    assert value == pytest.approx(_hand_info_nce(q, k, o, 0.5), rel=1e-12)
    # row 0 by hand: cos(q0, k0) = 0.8/√0.65, cos(q0, k1) = 0.2/√1.29, cos(q0, o0) = 0,
    # cos(q0, o1) = 1/√2
    row0 = np.array([0.8 / 0.65 ** 0.5, 0.2 / 1.29 ** 0.5, 0.0, 0.5 ** 0.5]) / 0.5
    assert -row0[0] + np.log(np.exp(row0).sum()) == pytest.approx(
        _hand_info_nce(q[:1], k, o, 0.5), rel=1e-12)
    # without the other image, only the other point of x_aug is a negative
    no_other = map_info_nce(tensor(q), tensor(k), None, temperature=0.5).item()
    assert no_other == pytest.approx(_hand_info_nce(q, k, np.zeros((0, 3)), 0.5), rel=1e-12)


def test_map_distance_is_one_minus_cosine_or_l1():
    a = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])
    b = torch.tensor([[[0.0, 1.0], [2.0, 2.0]]])
    assert map_distance(a, b, "cosine").item() == pytest.approx(0.5)  # (1 − 0 + 1 − 1) / 2
    assert map_distance(a, b, "l1").item() == pytest.approx(1.0)  # (1 + 1 + 1 + 1) / 4


def test_identical_images_cost_nothing_and_the_net_is_held_for_the_generator():
    torch.manual_seed(0)
    loss = LSeSimLoss(backbone="own", num_points=32)
    x = torch.rand(1, 1, 32, 32)
    assert loss(x, x).item() == pytest.approx(0.0, abs=1e-5)
    y = torch.rand(1, 1, 32, 32, requires_grad=True)
    loss(x, y).backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.own.parameters())
    assert all(p.requires_grad for p in loss.own.parameters())


def test_augmentation_keeps_the_grid_and_changes_the_look():
    x = torch.rand(2, 1, 16, 16)
    aug = photometric_augment(x, torch.Generator().manual_seed(1))
    assert aug.shape == x.shape and not torch.allclose(aug, x)


def test_structure_step_trains_the_structure_network_only():
    torch.manual_seed(0)
    loss = LSeSimLoss(backbone="own", num_points=16)
    before = {k: v.clone() for k, v in loss.state_dict().items()}
    opt = torch.optim.Adam([p for p in loss.parameters() if p.requires_grad], lr=1e-2)
    x, y = torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32)
    value = loss.structure_step(x, x, y)
    assert np.isfinite(value.item()) and value.item() > 0
    value.backward()
    opt.step()
    after = loss.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_vgg_backbone_keeps_vgg_fixed_and_out_of_the_checkpoint(vgg16_file):
    loss = LSeSimLoss(backbone="vgg16", layers=["22", "33"], num_points=16, weights=vgg16_file)
    trainable = [n for n, p in loss.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith("heads.") for n in trainable)
    assert not any("features" in k for k in loss.state_dict())
    assert loss.heads["22"][0].in_channels == 128 and loss.heads["33"][0].in_channels == 256
    value = loss.structure_step(torch.rand(1, 1, 48, 48), None, torch.rand(1, 1, 48, 48))
    assert np.isfinite(value.item())


@pytest.mark.parametrize("kwargs, match", [({"backbone": "resnet"}, "backbone"),
                                            ({"patch_size": 4}, "patch_size"),
                                            ({"num_points": 1}, "num_points")])
def test_bad_settings_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        LSeSimLoss(**{"backbone": "own", **kwargs})
