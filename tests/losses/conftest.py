"""Random VGG state dicts of the right shapes, written once per test session.

Never the real ImageNet weights: the tests only need the loader to find, check and
load a file with torchvision's layout, and a network that computes features.
"""

from __future__ import annotations

import pytest
import torch

from semsr_core.losses.vgg import expected_shapes


def random_vgg_state_dict(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """He-initialised convolutions, zero biases, plus a classifier key the loader ignores."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in expected_shapes(name).items():
        if key.endswith(".weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            state[key] = torch.randn(shape, generator=gen) * (2.0 / fan_in) ** 0.5
        else:
            state[key] = torch.zeros(shape)
    state["classifier.0.weight"] = torch.zeros(4, 4)  # torchvision files carry these too
    return state


@pytest.fixture
def make_vgg_state_dict():
    """The factory above, for tests that write their own (e.g. broken) files."""
    return random_vgg_state_dict


@pytest.fixture(scope="session")
def vgg19_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vgg") / "vgg19-dcbb9e9d.pth"
    torch.save(random_vgg_state_dict("vgg19"), path)
    return path


@pytest.fixture(scope="session")
def vgg16_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vgg") / "vgg16-397923af.pth"
    torch.save(random_vgg_state_dict("vgg16", seed=1), path)
    return path
