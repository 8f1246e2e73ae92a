"""LSeSim trains its structure network alongside the generator, and resumes it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semsr_core.events import CancelToken, EventKind
from semsr_core.train import resume, train

SMALL = ["generator.features=8", "generator.blocks=1", "discriminators.d.features=8",
         "data.lr_patch=16", "data.batch=2", "train.checkpoint_every=1",
         "train.export_worse=true", "train.log_every=1", "phases.gan.epochs=1",
         "phases.gan.steps_per_epoch=2", "phases.gan.losses.lsesim.num_points=32"]


def _structure_net(run, step):
    state = torch.load(run / "checkpoints" / f"step_{step:08d}.pt", weights_only=False)
    return state["contrastive"]["modules"]["gan/lsesim"]


def test_semsr_train_lsesim_two_steps_trains_the_structure_network(sim_data, fake_vgg,
                                                                    tmp_path):
    from semsr_core.cli import main

    run = tmp_path / "lsesim"
    args = ["train", "lsesim_unpaired", "--data", str(sim_data), "--run", str(run),
            "--device", "cpu"]
    for s in SMALL:
        args += ["--set", s]
    assert main(args) == 0
    first, second = _structure_net(run, 1), _structure_net(run, 2)
    assert first and all(k.startswith("0.") for k in first)  # the VGG heads only
    assert any(not torch.equal(first[k], second[k]) for k in first)
    state = torch.load(run / "checkpoints" / "step_00000002.pt", weights_only=False)
    assert state["contrastive"]["optimizers"]["gan/lsesim"]["state"]  # Adam moments kept
    lines = (run / "events.jsonl").read_text().splitlines()
    assert any('"s/lsesim"' in line for line in lines) and any('"g/lsesim"' in line
                                                               for line in lines)
    assert (run / "model.semsr").is_file()


@pytest.mark.slow
def test_a_resumed_lsesim_run_restores_the_structure_network(sim_data, tmp_path):
    from semsr_core.infer.device import bf16_conv_speedup

    # Measured once per process, it draws from torch's global RNG after the trainer
    # seeds it, so the first run of a process differs from later ones: measure it first.
    bf16_conv_speedup()
    sets = [*SMALL, "phases.gan.steps_per_epoch=4", "phases.gan.losses.lsesim.backbone=\"own\""]
    whole = train("lsesim_unpaired", sim_data, tmp_path / "whole", overrides=sets, device="cpu")
    cancel = CancelToken()

    def stop_after_two(event):
        if event.kind is EventKind.STEP and event.data["step"] == 2:
            cancel.cancel()

    part = train("lsesim_unpaired", sim_data, tmp_path / "part", overrides=sets, device="cpu",
                 on_event=stop_after_two, cancel=cancel)
    assert part.status == "stopped" and part.step == 2
    events = []
    resumed = resume(tmp_path / "part", device="cpu", on_event=events.append)
    assert resumed.step == whole.step == 4
    losses = [e.data["losses"] for e in events if e.kind is EventKind.STEP]
    assert losses and all(np.isfinite(v) for s in losses for v in s.values())
    a, b = _structure_net(tmp_path / "whole", 4), _structure_net(tmp_path / "part", 4)
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert any(not torch.equal(a[k], _structure_net(tmp_path / "part", 2)[k]) for k in a)
