"""CUT-family recipes train through the engine: encoder features, optimised heads, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semsr_core.errors import ConfigError
from semsr_core.events import CancelToken, EventKind
from semsr_core.train import resume, train

# resnet_gen small enough for seconds per step, with the 7 blocks CUT's layer 16 needs
SMALL = ["generator.features=8", "generator.blocks=7", "discriminators.d.features=8",
         "data.lr_patch=16", "data.batch=2", "train.checkpoint_every=1",
         "data.val_fraction=0.25", "train.export_worse=true", "train.validation_share=1",
         "train.log_every=1", "phases.gan.epochs=1", "phases.gan.steps_per_epoch=2"]


def _heads(run, step):
    state = torch.load(run / "checkpoints" / f"step_{step:08d}.pt", weights_only=False)
    return state["contrastive"]["modules"]


def test_resnet_gen_encoder_gives_cut_layers_and_keeps_its_keys():
    from semsr_core.archs.resnet_gen import ResNetGenerator

    net = ResNetGenerator(features=8, blocks=9)
    x = torch.rand(1, 1, 32, 32)
    feats = net.encode(x, [0, 4, 8, 12, 16])
    assert [tuple(f.shape) for f in feats] == [(1, 1, 38, 38), (1, 16, 16, 16), (1, 32, 8, 8),
                                               (1, 32, 8, 8), (1, 32, 8, 8)]
    assert all(k.startswith("model.") for k in net.state_dict())
    with pytest.raises(ConfigError, match="upsampling"):
        net.encode(x, [19])


def test_semsr_train_cut_two_steps_optimises_the_heads_and_exports(sim_data, tmp_path, capsys):
    from semsr_core import super_resolve
    from semsr_core.cli import main
    from semsr_core.models import load_model

    run = tmp_path / "cut"
    args = ["train", "cut", "--data", str(sim_data), "--run", str(run), "--device", "cpu"]
    for s in SMALL:
        args += ["--set", s]
    assert main(args) == 0
    first, second = _heads(run, 1), _heads(run, 2)
    head_keys = [k for k in first["gan/patchnce"] if k.startswith("heads.")]
    assert len(head_keys) == 5 * 4  # five layers, two linear layers of weight and bias
    assert any(not torch.equal(first["gan/patchnce"][k], second["gan/patchnce"][k])
               for k in head_keys)
    state = torch.load(run / "checkpoints" / "step_00000002.pt", weights_only=False)
    assert len(state["optimizers"]["generator"]["param_groups"]) == 2  # generator, heads
    model = load_model(run / "model.semsr")
    assert model.card.recipe == "cut"
    sr = super_resolve(np.random.default_rng(0).random((40, 40), dtype=np.float32), model,
                       device="cpu")
    assert sr.shape == (160, 160) and np.isfinite(sr).all()


@pytest.mark.parametrize("recipe", ["cut_monce", "monce_fsesim", "qsattn"])
def test_monce_and_qsattn_recipes_train_two_steps(recipe, sim_data, fake_vgg, tmp_path):
    events = []
    result = train(recipe, sim_data, tmp_path / recipe, overrides=SMALL, device="cpu",
                   on_event=events.append)
    assert result.status == "finished" and result.model_path is not None
    steps = [e.data["losses"] for e in events if e.kind is EventKind.STEP]
    assert len(steps) == 2 and all(np.isfinite(v) for s in steps for v in s.values())
    loss = "qsattn" if recipe == "qsattn" else "monce"
    assert all(f"g/{loss}" in s for s in steps)
    assert ("g/fsesim" in steps[0]) == (recipe == "monce_fsesim")
    first, second = _heads(tmp_path / recipe, 1), _heads(tmp_path / recipe, 2)
    assert any(not torch.equal(first[f"gan/{loss}"][k], second[f"gan/{loss}"][k])
               for k in first[f"gan/{loss}"])


@pytest.mark.slow
def test_a_cut_run_resumed_ends_as_an_uninterrupted_one(sim_data, tmp_path):
    sets = [*SMALL, "phases.gan.steps_per_epoch=4"]
    whole = train("cut", sim_data, tmp_path / "whole", overrides=sets, device="cpu")
    cancel = CancelToken()

    def stop_after_two(event):
        if event.kind is EventKind.STEP and event.data["step"] == 2:
            cancel.cancel()

    part = train("cut", sim_data, tmp_path / "part", overrides=sets, device="cpu",
                 on_event=stop_after_two, cancel=cancel)
    assert part.status == "stopped" and part.step == 2
    resumed = resume(tmp_path / "part", device="cpu")
    assert resumed.step == whole.step == 4
    a, b = _heads(tmp_path / "whole", 4), _heads(tmp_path / "part", 4)
    assert all(torch.allclose(a["gan/patchnce"][k], b["gan/patchnce"][k], atol=1e-6)
               for k in a["gan/patchnce"])


def test_an_encoder_loss_on_a_generator_without_encoder_is_a_config_error(sim_data, tmp_path):
    sets = ["generator.features=8", "generator.blocks=1"]
    with pytest.raises(ConfigError, match="encoder"):
        train("n1_reduced", sim_data, tmp_path / "r", device="cpu", overrides=[
            *sets, "phases.gan.losses.patchnce={layers = [0]}"])
