"""Fixtures for training tests: a small simulated dataset and stand-in VGG weights.

The VGG weights are random tensors of the public torchvision shapes, written to a
file and loaded through the real loader (no real weights are needed to test the
engine's plumbing; the loss values are meaningless, their finiteness is not).
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def sim_data(tmp_path_factory):
    from semsr_core.data.simulate import simulate_dataset

    out = tmp_path_factory.mktemp("sim") / "data"
    simulate_dataset(out, pairs=4, scale=4, size=128, seed=11, layout="mixed")
    return out


@pytest.fixture(scope="session")
def vgg_files(tmp_path_factory):
    from semsr_core.losses.vgg import expected_shapes

    folder = tmp_path_factory.mktemp("vgg")
    paths = {}
    gen = torch.Generator().manual_seed(0)
    for name in ("vgg19", "vgg16"):
        state = {k: torch.randn(shape, generator=gen) * 0.05
                 for k, shape in expected_shapes(name).items()}
        paths[name] = folder / f"{name}.pth"
        torch.save(state, paths[name])
    return paths


@pytest.fixture
def fake_vgg(vgg_files, monkeypatch):
    monkeypatch.setenv("SEMSR_VGG19_WEIGHTS", str(vgg_files["vgg19"]))
    monkeypatch.setenv("SEMSR_VGG16_WEIGHTS", str(vgg_files["vgg16"]))
    return vgg_files
