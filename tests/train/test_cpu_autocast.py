"""Training on the CPU uses bf16 autocast where the processor computes bf16 natively
(detected; faked on and off here), and its loss follows fp32's over the same steps.
The speed-up is measured by benchmarks/speed.py, not here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semsr_core.events import EventKind
from semsr_core.infer import device as devices
from semsr_core.infer.device import CpuBf16Support, training_autocast_dtype
from semsr_core.train import train

SMALL = ["generator.blocks=1", "generator.features=16", "generator.growth=8",
         "data.lr_patch=16", "data.batch=4", "data.val_fraction=0", "phases.gan.epochs=0",
         "phases.pretrain.epochs=1", "phases.pretrain.steps_per_epoch=8",
         "train.checkpoint_every=1000", "train.sample_count=0", "train.log_every=1",
         "discriminators.d.input_size=64"]  # unused (no GAN epochs) but checkpointed


def _fake_cpu(monkeypatch, native: bool) -> None:
    monkeypatch.setattr(devices, "cpu_bf16_support", lambda: CpuBf16Support(native, native))


@pytest.mark.parametrize(("device", "bf16", "expected"), [
    ("cpu", True, torch.bfloat16),
    ("cpu", False, None),
    ("cuda", True, torch.bfloat16),
    ("cuda", False, torch.float16),
    ("mps", True, None),
])
def test_the_autocast_dtype_follows_the_device(device, bf16, expected):
    assert training_autocast_dtype(torch.device(device), bf16_supported=bf16) == expected


def test_the_cpu_autocast_dtype_is_detected(monkeypatch):
    _fake_cpu(monkeypatch, True)
    assert training_autocast_dtype(torch.device("cpu")) == torch.bfloat16
    _fake_cpu(monkeypatch, False)
    assert training_autocast_dtype(torch.device("cpu")) is None


def _losses(sim_data, run_dir, amp: bool, said: list[str] | None = None
            ) -> tuple[list[float], list]:
    steps, dtypes = [], []
    said = [] if said is None else said

    def note(event) -> None:
        if event.kind is EventKind.STEP:
            steps.append(event.data["losses"]["g/total"])
        elif event.kind is EventKind.MESSAGE:
            said.append(event.data["text"])

    original = torch.autocast.__init__

    def noting(self, device_type, *args, **kwargs):  # which autocast the engine opens
        original(self, device_type, *args, **kwargs)
        if device_type == "cpu" and self._enabled:
            dtypes.append(self.fast_dtype)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.autocast, "__init__", noting)
        train("en1", sim_data, run_dir, overrides=[*SMALL, f"train.amp={str(amp).lower()}"],
              device="cpu", on_event=note)
    return steps, dtypes


def test_bf16_autocast_training_runs_and_its_loss_follows_fp32(monkeypatch, sim_data, tmp_path):
    _fake_cpu(monkeypatch, True)
    fp32_said, bf16_said = [], []
    fp32, fp32_casts = _losses(sim_data, tmp_path / "fp32", amp=False, said=fp32_said)
    bf16, bf16_casts = _losses(sim_data, tmp_path / "bf16", amp=True, said=bf16_said)
    assert fp32_casts == [] and bf16_casts and set(bf16_casts) == {torch.bfloat16}
    # the run says how it computes, as the wizard's estimate does
    assert any(t.startswith("training 'en1' on cpu in bf16 autocast (") for t in bf16_said)
    assert any(t.startswith("training 'en1' on cpu in fp32 (") for t in fp32_said)
    assert len(fp32) == len(bf16) == 8
    a, b = np.array(fp32), np.array(bf16)
    assert np.isfinite(b).all()
    assert not np.array_equal(a, b)  # bf16 did the arithmetic
    np.testing.assert_allclose(b, a, rtol=0.03)  # same seeds, same batches: same curve


def test_a_cpu_without_bf16_trains_in_fp32(monkeypatch, sim_data, tmp_path):
    _fake_cpu(monkeypatch, False)
    losses, casts = _losses(sim_data, tmp_path / "run", amp=True)
    assert casts == [] and len(losses) == 8


@pytest.mark.parametrize(("native", "amp", "expected"), [
    (True, True, "bf16 autocast"),
    (False, True, "fp32"),
    (True, False, "fp32"),
])
def test_the_wizards_estimate_times_the_precision_the_run_will_use(
        monkeypatch, sim_data, native, amp, expected):
    from semsr_core.train.config import load_config
    from semsr_core.train.estimate import estimate_run

    _fake_cpu(monkeypatch, native)
    config = load_config("zssr", ["data.lr_patch=8", "data.batch=2", "data.val_fraction=0",
                                  f"train.amp={str(amp).lower()}", "phases.train.epochs=1"])
    estimate = estimate_run(config, sim_data, steps=1)
    assert estimate.precision == expected
    assert f"on cpu ({expected})" in estimate.describe()
