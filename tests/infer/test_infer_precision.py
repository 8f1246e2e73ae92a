"""``auto`` precision: bf16 on CPUs that compute it natively (detected, here faked on and
off), checked against fp32 on the first tile, fp32 where the check fails or the CPU has
no bf16. Speed is measured by benchmarks/speed.py, not here."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_nets import tiny_model
from torch import nn

from semsr_core.errors import ModelError
from semsr_core.infer import api, network, super_resolve
from semsr_core.infer import device as devices
from semsr_core.infer.device import CpuBf16Support
from semsr_core.models import Model, ModelCard


@pytest.fixture
def image() -> np.ndarray:
    from skimage import data

    return data.camera()[100:196, 120:220].astype(np.uint16) * 257


def _fake_cpu(monkeypatch, amx: bool, avx512_bf16: bool) -> None:
    monkeypatch.setattr(devices, "cpu_bf16_support", lambda: CpuBf16Support(amx, avx512_bf16))


def _run(model, image, precision="auto", tile=64):
    """``super_resolve`` on one image: (output, what the run records as its precision)."""
    prepared = []
    original = network.prepare_network

    def recording(*args, **kwargs):
        prepared.append(original(*args, **kwargs))
        return prepared[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(network, "prepare_network", recording)
        out = super_resolve(image, model, device="cpu", tile=tile, overlap=16, batch=1,
                            precision=precision, output_dtype="float32")
    return out, prepared[0].precision_settings()


@pytest.mark.parametrize(("flags", "amx", "avx512_bf16"), [
    ({"fpu", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}, True, True),  # Sapphire Rapids
    ({"fpu", "avx512f", "avx512_bf16"}, False, True),                         # Zen 4, Cooper Lake
    ({"fpu", "avx512f", "avx2"}, False, False),                               # Skylake-SP
    ({"fpu", "avx2"}, False, False),
])
def test_bf16_support_is_read_from_the_kernels_cpu_flags(monkeypatch, flags, amx, avx512_bf16):
    monkeypatch.setattr(devices, "_cpuinfo_flags", lambda: set(flags))
    monkeypatch.setattr(devices, "bf16_conv_speedup", lambda: 3.0)  # as measured with AMX
    found = devices.cpu_bf16_support()
    assert (found.amx, found.avx512_bf16) == (amx, avx512_bf16)
    assert found.native == (amx or avx512_bf16)
    expected = torch.bfloat16 if found.native else torch.float32
    assert devices.choose_precision("auto", torch.device("cpu")) == expected


def test_a_cpu_whose_bf16_is_measured_slower_than_fp32_runs_auto_in_fp32(monkeypatch):
    """Flags alone do not choose bf16: a virtual CPU that reports AVX-512-BF16 but runs
    it slower than fp32 (0.3–0.6× measured on one) keeps fp32, for inference and training."""
    monkeypatch.setattr(devices, "_cpuinfo_flags", lambda: {"fpu", "avx512f", "avx512_bf16"})
    monkeypatch.setattr(devices, "bf16_conv_speedup", lambda: 0.5)
    found = devices.cpu_bf16_support()
    assert found.native and not found.faster
    assert "0.50×" in found.describe()
    assert devices.choose_precision("auto", torch.device("cpu")) == torch.float32
    assert devices.training_autocast_dtype(torch.device("cpu")) is None


def test_the_bf16_speed_is_measured_on_this_cpu():
    speedup = devices.bf16_conv_speedup()
    assert 0.0 < speedup < 100.0
    assert devices.bf16_conv_speedup() == speedup  # measured once per process


def test_without_cpu_flags_torchs_own_probe_decides(monkeypatch):
    monkeypatch.setattr(devices, "_cpuinfo_flags", lambda: set())
    monkeypatch.setattr(devices, "bf16_conv_speedup", lambda: 3.0)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert devices.cpu_bf16_support() == CpuBf16Support(False, True, 3.0)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert not devices.cpu_bf16_support().native


def test_a_cpu_without_bf16_runs_auto_exactly_as_fp32_and_checks_nothing(
        monkeypatch, image, model):
    """Never slower than fp32: the same arithmetic and no first-tile comparison."""
    _fake_cpu(monkeypatch, amx=False, avx512_bf16=False)

    def no_check(*_args, **_kwargs):
        raise AssertionError("the precision check ran on a CPU without bf16")

    monkeypatch.setattr(network, "check_precision", no_check)
    auto, settings = _run(model, image, "auto")
    fp32, _ = _run(model, image, "fp32")
    np.testing.assert_array_equal(auto, fp32)
    assert settings["precision"] == "fp32" and "precision_check" not in settings


def test_a_cpu_with_bf16_runs_auto_in_bf16_and_records_the_check(monkeypatch, image):
    _fake_cpu(monkeypatch, amx=True, avx512_bf16=True)
    torch.manual_seed(0)
    model = Model.create("rrdbnet", scale=2, blocks=1, features=16, growth=8)
    auto, settings = _run(model, image, "auto")
    bf16, _ = _run(model, image, "bf16")
    fp32, _ = _run(model, image, "fp32")
    np.testing.assert_array_equal(auto, bf16)  # bf16 was kept for every tile
    assert np.abs(auto - fp32).max() > 0
    check = settings["precision_check"]
    assert settings["precision"] == "bf16"
    assert check["tried"] == "bf16" and check["kept"] is True
    assert check["psnr_db"] >= network.CHECK_MIN_PSNR_DB == check["threshold_db"]
    # the figure is the PSNR of the first tile's crop, which the whole image roughly shares
    assert abs(network.psnr_db(auto / 65535, fp32 / 65535) - check["psnr_db"]) < 10


class LosesInBf16(nn.Module):
    """A ×2 network whose result survives fp32 but not bf16: it adds and removes a
    large offset in convolutions (bf16 keeps 8 bits of mantissa: steps of 4 at 1000)."""

    def __init__(self):
        super().__init__()
        self.up = nn.Conv2d(1, 1, 1)
        self.down = nn.Conv2d(1, 1, 1)
        with torch.no_grad():
            self.up.weight.fill_(1.0)
            self.up.bias.fill_(1000.0)
            self.down.weight.fill_(1.0)
            self.down.bias.fill_(-1000.0)

    def forward(self, x):
        return nn.functional.interpolate(self.down(self.up(x)), scale_factor=2, mode="nearest")


def test_a_network_that_loses_too_much_in_bf16_falls_back_to_fp32(monkeypatch, image):
    _fake_cpu(monkeypatch, amx=True, avx512_bf16=True)
    model = Model(LosesInBf16(), ModelCard(arch="loses_in_bf16", scale=2, name="loses"))
    auto, settings = _run(model, image, "auto", tile=48)
    fp32, _ = _run(model, image, "fp32", tile=48)
    # a named precision is not second-guessed; what it gives here (one flat value) is
    # refused by the output check, with the advice to use fp32
    with pytest.raises(ModelError, match="constant.*--precision fp32"):
        _run(model, image, "bf16", tile=48)
    np.testing.assert_array_equal(auto, fp32)  # every tile, the first included
    assert settings["precision"] == "fp32"
    check = settings["precision_check"]
    assert check["tried"] == "bf16" and check["kept"] is False
    assert check["psnr_db"] < check["threshold_db"]


def test_a_named_precision_is_not_checked(monkeypatch, image, model):
    _fake_cpu(monkeypatch, amx=True, avx512_bf16=True)
    calls = []
    monkeypatch.setattr(network, "check_precision", lambda *a, **k: calls.append(a))
    _out, settings = _run(model, image, "bf16")
    assert calls == [] and settings == {"precision": "bf16"}


def test_the_check_runs_once_on_a_crop_of_the_first_tile(monkeypatch, image, model):
    _fake_cpu(monkeypatch, amx=True, avx512_bf16=True)
    seen = []
    original = network.check_precision

    def recording(net, batch, **kwargs):
        seen.append(batch.shape)
        return original(net, batch, **kwargs)

    monkeypatch.setattr(network, "check_precision", recording)
    _out, settings = _run(model, image, "auto", tile=64)
    assert seen == [(1, 1, 64, 64)]  # one call, with the first batch of one 64-pixel tile
    side = min(network.CHECK_SIDE, 64)
    assert settings["precision_check"]["crop"].startswith(f"{side}×{side} ")


def test_the_check_compares_on_the_models_value_range():
    """PSNR's peak is the model's output range: a [-1, 1] model's errors count half."""
    reference = np.zeros((1, 1, 8, 8), np.float32)
    off = reference + 0.01
    assert network.psnr_db(off, reference, peak=2.0) == pytest.approx(
        network.psnr_db(off, reference, peak=1.0) + 20 * np.log10(2))
    assert np.isnan(network.psnr_db(off * np.nan, reference))
    assert network.psnr_db(reference, reference) == np.inf


def test_the_memory_probe_does_not_spend_the_check_on_zeros(monkeypatch):
    """The tile-size probe runs before the first tile; the check must wait for real data."""
    _fake_cpu(monkeypatch, amx=True, avx512_bf16=True)
    model = tiny_model(2)
    net = network.prepare_network(model.generator, device=torch.device("cpu"),
                                  dtype=torch.bfloat16, scale=2, in_channels=1,
                                  out_channels=1, check_first_tile=True)
    network.bytes_per_pixel(net)
    assert net.check is None
    assert net.precision_settings() == {"precision": "bf16",
                                        "precision_check": "on the first tile"}


def test_the_runs_settings_carry_the_precision_used_and_the_check(monkeypatch, image, model):
    """What provenance records (``_Run.settings``) after the first tile."""
    import inspect

    _fake_cpu(monkeypatch, amx=True, avx512_bf16=True)
    extra = {"values": image} if "values" in inspect.signature(api._Run.start).parameters else {}
    run = api._Run.start(model, height=image.shape[0], width=image.shape[1], slices=1,
                         device="cpu", tile=64, overlap=16, batch=1, precision="auto",
                         output_dtype="float32", scale=None, zssr_settings=None,
                         on_event=None, cancel=None, **extra)
    assert run.settings()["precision_check"] == "on the first tile"
    run.resolve_slice(image, 0)
    settings = run.settings()
    assert settings["precision"] == "bf16" and settings["precision_check"]["kept"] is True
