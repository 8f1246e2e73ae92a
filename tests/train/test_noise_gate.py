"""``max_input_noise`` on an adversarial term: noisy inputs train without the
discriminator (both players), clean ones with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_engine import tiny

from semsr_core.errors import ConfigError
from semsr_core.events import EventKind
from semsr_core.train import load_config, train
from semsr_core.train.config import LossTerm
from semsr_core.train.steps import _noise_gates

LIMIT = 0.085
"""Between the simulated pairs' noise readings (16² LR crops: about 0.055 to 0.12)."""


def _batch(noise: list[float]) -> torch.Tensor:
    """Smooth ramps (32² LR) with Gaussian noise of the given σ per sample."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.2, 0.8, 32, dtype=np.float32)[None, :].repeat(32, 0)
    return torch.from_numpy(np.stack([
        (ramp + s * rng.standard_normal(ramp.shape)).astype(np.float32)[None]
        for s in noise]))


def test_the_gate_keeps_the_samples_at_most_as_noisy_as_its_limit():
    lr = _batch([0.0, 0.1, 0.01, 0.05])
    terms = {"gan_ragan": LossTerm(weight=0.1, max_input_noise=0.03), "l1": LossTerm()}
    gates = _noise_gates({"gan_ragan": torch.nn.Identity()}, terms, lr)
    assert gates["gan_ragan"].tolist() == [0, 2]
    assert _noise_gates({"gan_ragan": torch.nn.Identity()},
                        {"gan_ragan": LossTerm(weight=0.1)}, lr) == {}  # no limit: no gate


def test_only_adversarial_terms_take_a_noise_limit():
    load_config("en1", ["phases.gan.losses.gan_ragan.max_input_noise=0.03"])
    with pytest.raises(ConfigError, match="max_input_noise"):
        load_config("en1", ["phases.pretrain.losses.l1.max_input_noise=0.03"])
    with pytest.raises(Exception, match="max_input_noise"):
        load_config("en1", ["phases.gan.losses.gan_ragan.max_input_noise=-1"])


def _gan_losses(sim_data, run, limit: float) -> list[dict]:
    sets = [*tiny("en1"), "phases.pretrain.epochs=0", "train.log_every=1", "data.batch=4",
            f"phases.gan.losses.gan_ragan.max_input_noise={limit}"]
    steps = []
    result = train("en1", sim_data, run, overrides=sets, device="cpu",
                   on_event=lambda e: steps.append(e.data["losses"])
                   if e.kind is EventKind.STEP else None)
    assert result.status in ("finished", "worse_than_bicubic")
    return steps


def test_a_gan_step_on_inputs_noisier_than_the_limit_has_no_adversarial_update(
        sim_data, fake_vgg, tmp_path):
    gated = _gan_losses(sim_data, tmp_path / "gated", 1e-9)
    open_ = _gan_losses(sim_data, tmp_path / "open", 1.0)
    assert gated and open_
    for losses in gated:
        assert "g/l1" in losses
        assert not any("gan_ragan" in key for key in losses)
    for losses in open_:
        assert "g/gan_ragan" in losses and "d/d/gan_ragan" in losses


def _adversarial_shares(steps: list[dict]) -> list[float]:
    """From each logged step: (total − 0.7·L1 − 0.3·VGG) / (0.06·RaGAN), en1's weights."""
    return [(s["g/total"] - 0.7 * s["g/l1"] - 0.3 * s["g/vgg"]) / (0.06 * s["g/gan_ragan"])
            for s in steps if "g/gan_ragan" in s]


def test_a_gated_term_weighs_by_the_kept_samples_share_of_the_batch(sim_data, fake_vgg,
                                                                    tmp_path):
    assert _adversarial_shares(_gan_losses(sim_data, tmp_path / "all", 1.0)) == \
        pytest.approx([1.0, 1.0], abs=1e-4)
    shares = _adversarial_shares(_gan_losses(sim_data, tmp_path / "some", LIMIT))
    assert shares, "no step kept a sample"
    for share in shares:  # a share of the 4 samples: the noisier ones do not count
        assert 4 * share == pytest.approx(round(4 * share), abs=1e-3)
    assert min(shares) < 1.0
