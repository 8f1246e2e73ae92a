"""Growing a bundled-size RRDBNet by one block keeps its output and adds capacity."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from grow_rrdbnet import grow

from semsr_core.models import load_model


def test_the_grown_model_computes_what_the_model_did_and_trains_its_new_block(tmp_path):
    model = load_model("default-x4")
    grown = grow(model)
    assert grown.card.config["blocks"] == model.card.config["blocks"] + 1
    x = torch.rand(1, 1, 20, 20)
    model.generator.eval()
    grown.generator.eval()
    with torch.no_grad():
        assert torch.allclose(grown.generator(x), model.generator(x), atol=1e-5)
    # the new block learns: its last convolutions get a gradient at once
    grown.generator.train()
    grown.generator(x).square().mean().backward()
    new = grown.generator.body[-1]
    assert float(new.rdb1.conv5.weight.grad.abs().sum()) > 0
    # and it survives the model file
    grown.save(tmp_path / "grown.semsr")
    again = load_model(tmp_path / "grown.semsr")
    with torch.no_grad():
        assert torch.allclose(again.generator.eval()(x), model.generator(x), atol=1e-5)


def test_a_noise_level_input_grown_in_keeps_the_output_and_learns_from_the_level(tmp_path):
    model = load_model("default-x4")
    grown = grow(model, blocks=0, noise_input=True)
    assert grown.card.config["noise_input"] is True
    assert grown.card.config["blocks"] == model.card.config["blocks"]
    first = grown.generator.conv_first.weight
    assert first.shape[1] == model.generator.conv_first.weight.shape[1] + 1
    clean = torch.rand(1, 1, 24, 24) * 0.5 + 0.25
    noisy = clean + 0.1 * torch.randn(clean.shape)
    model.generator.eval()
    grown.generator.eval()
    with torch.no_grad():
        for x in (clean, noisy):
            assert torch.allclose(grown.generator(x), model.generator(x), atol=1e-5)
    grown.generator.train()
    grown.generator(noisy).square().mean().backward()
    assert float(first.grad[:, -1].abs().sum()) > 0  # the level's weights train
    grown.save(tmp_path / "noise.semsr")
    again = load_model(tmp_path / "noise.semsr").generator.eval()
    with torch.no_grad():
        assert torch.allclose(again(noisy), model.generator(noisy), atol=1e-5)
