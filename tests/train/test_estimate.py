"""`estimate_run` measures a run before it starts: steps, time per step, memory."""

from __future__ import annotations

import numpy as np
import pytest

from semsr_core.data.simulate import simulate_pair
from semsr_core.errors import ConfigError, ModelError
from semsr_core.events import EventKind
from semsr_core.io import write_stack
from semsr_core.train.config import load_config
from semsr_core.train.estimate import estimate_run


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """Three aligned simulated pairs, 64×64 HR at ×4, as uint16 OME-TIFF in lr/ and hr/."""
    out = tmp_path_factory.mktemp("estimate") / "data"
    (out / "lr").mkdir(parents=True)
    (out / "hr").mkdir()
    for index in range(3):
        pair = simulate_pair(index, size=64, scale=4)
        for kind, image in (("lr", pair.lr), ("hr", pair.hr)):
            write_stack(out / kind / f"p{index}.tif", (image * 65535).astype(np.uint16))
    return out


def test_estimate_counts_the_steps_the_run_will_make_and_times_them(tiny_data, tmp_path):
    from semsr_core.train import train

    config = load_config("zssr", ["data.lr_patch=8", "data.batch=2", "data.val_fraction=0",
                                  "train.amp=false", "phases.train.epochs=2",
                                  "train.min_epoch_samples=16"])
    estimate = estimate_run(config, tiny_data, steps=2)

    steps = []  # one PROGRESS event per step, after the first one at step 0
    train(config, tiny_data, tmp_path / "run", device="cpu",
          on_event=lambda e: steps.append(e) if e.kind is EventKind.PROGRESS
          and e.data["done"] > 0 else None)
    assert estimate.total_steps == len(steps) > 0
    assert estimate.steps_per_epoch == {"train": len(steps) // 2}
    assert estimate.seconds_per_step > 0
    assert estimate.minutes == pytest.approx(estimate.total_steps
                                             * estimate.seconds_per_step / 60)
    params = estimate.params
    assert estimate.peak_memory_bytes >= 4 * params * 4  # fp32 weights, grads, Adam's 2 moments
    assert estimate.device == "cpu"


def test_estimate_counts_the_generator_parameters_and_weights_phases_by_their_steps(
        tiny_data):
    import torch

    from semsr_core import archs

    config = load_config("n1_reduced", [
        "generator.features=8", "generator.growth=4", "discriminators.d.features=4",
        "discriminators.d.input_size=32", "data.lr_patch=8", "data.batch=2",
        "data.val_fraction=0", "train.amp=false", "phases.gan.epochs=3"])
    estimate = estimate_run(config, tiny_data, steps=1)
    torch.manual_seed(0)
    generator = archs.build("rrdbnet", scale=4, blocks=1, features=8, growth=4)
    assert estimate.params == sum(p.numel() for p in generator.parameters())
    assert estimate.discriminator_params > 0
    assert estimate.total_steps == 3 * estimate.steps_per_epoch["gan"]
    assert estimate.phase_seconds_per_step["gan"] == pytest.approx(estimate.seconds_per_step)
    assert "steps" in estimate.describe() and "MiB" in estimate.describe()


def test_missing_vgg_weights_give_the_engines_message_saying_where_to_put_them(tiny_data):
    config = load_config("n1", ["generator.blocks=1", "generator.features=8",
                                "generator.growth=4", "discriminators.d.features=4",
                                "data.lr_patch=8", "data.batch=2", "data.val_fraction=0"])
    with pytest.raises(ModelError, match="VGG19 weights not found: put the torchvision file"):
        estimate_run(config, tiny_data, steps=1)


def test_a_step_count_below_one_is_refused_naming_it(tiny_data):
    config = load_config("zssr", ["data.lr_patch=8", "data.batch=2"])
    with pytest.raises(ConfigError, match="steps must be"):
        estimate_run(config, tiny_data, steps=0)


def test_the_estimate_plans_a_run_within_a_time_limit(tiny_data):
    """What the wizard shows before a time-limited run: the recipe's epochs fitted to the
    limit at the measured rate, its validation share kept free."""
    config = load_config("zssr", ["data.lr_patch=8", "data.batch=2", "data.val_fraction=0",
                                  "train.amp=false", "phases.train.epochs=2",
                                  "train.min_epoch_samples=16"])
    estimate = estimate_run(config, tiny_data, steps=2)
    plan = estimate.within(config, minutes=3.0)
    assert plan.total_steps > estimate.total_steps  # stretched to the limit
    training = 3.0 * (1 - config.train.validation_share)
    assert plan.minutes() == pytest.approx(training, abs=estimate.seconds_per_step / 60)
    assert "fitted to the 3-minute limit" in plan.describe()
