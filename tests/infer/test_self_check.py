"""The self-check: the network is judged on the image's own smaller copy, and on a clean
scan only the share of its change that the image confirms is kept."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from torch import nn

from semsr_core import super_resolve
from semsr_core.data.degrade import area
from semsr_core.data.resample import upscale
from semsr_core.events import EventKind
from semsr_core.infer import self_check
from semsr_core.infer.consistency import ConsistencyLog
from semsr_core.io.intensity import IntensityMapping
from semsr_core.metrics.full_reference import psnr
from semsr_core.models import Model, ModelCard

SCALE = 4


@pytest.fixture
def smooth_lr(rng):
    """A clean, smooth scan (a fluorescence cell's kind of image), 96² LR pixels."""
    field = ndimage.gaussian_filter(rng.random((384, 384)), 12.0)
    truth = ((field - field.mean()) / field.std() * 0.15 + 0.45).astype(np.float32)
    return truth, area(truth, SCALE)


def _checker(pattern: np.ndarray):
    """A 'network': bicubic plus a fixed fine texture the scan does not have."""
    def enlarge(image: np.ndarray) -> np.ndarray:
        out = upscale(image, SCALE, clip=False)
        return out + pattern[: out.shape[0], : out.shape[1]]
    return enlarge


def test_noise_share_is_zero_for_clean_scans_and_one_for_noisy_ones():
    assert self_check.noise_share(0.0) == 0.0
    assert self_check.noise_share(self_check.CLEAN_SIGMA) == 0.0
    assert self_check.noise_share(self_check.NOISY_SIGMA) == 1.0
    assert 0.0 < self_check.noise_share(0.045) < 1.0


def test_invented_texture_on_a_clean_scan_is_weighted_out(smooth_lr, rng):
    _, lr = smooth_lr
    texture = (0.03 * np.sign(rng.standard_normal((384, 384)))).astype(np.float32)
    found = self_check.check(lr, SCALE, "area", _checker(texture))
    assert found.noise_share == 0.0
    assert found.alpha is not None and found.alpha < 0.05 and found.weight < 0.05
    assert found.gain_db < -3  # the son test saw the network lose to bicubic
    assert "smaller copy" in found.reason


def test_a_network_the_image_confirms_is_kept(smooth_lr):
    """A 'network' that returns the truth for the son (the LR itself) gets weight 1."""
    _, lr = smooth_lr

    def oracle(image: np.ndarray) -> np.ndarray:
        if image.shape == (lr.shape[0] // SCALE, lr.shape[1] // SCALE):
            return lr
        return upscale(image, SCALE, clip=False)

    found = self_check.check(lr, SCALE, "area", oracle)
    assert found.alpha == pytest.approx(1.0) and found.weight == pytest.approx(1.0)
    assert found.gain_db > 5


def test_a_noisy_scan_keeps_the_network_without_running_the_check(smooth_lr, rng):
    _, lr = smooth_lr
    noisy = (lr + 0.1 * rng.standard_normal(lr.shape)).astype(np.float32)

    def must_not_run(image: np.ndarray) -> np.ndarray:
        raise AssertionError("the self-check ran on a noisy scan")

    found = self_check.check(noisy, SCALE, "area", must_not_run)
    assert found.weight == 1.0 and found.alpha is None and "noisy" in found.reason


def test_an_image_too_small_to_check_is_kept():
    lr = np.full((28, 28), 0.5, np.float32)
    found = self_check.check(lr, SCALE, "area", lambda x: upscale(x, SCALE, clip=False))
    assert found.weight == 1.0 and found.alpha is None and "too small" in found.reason


@pytest.mark.parametrize("shape", [(1, 64), (3, 40)])
def test_an_image_with_no_smaller_copy_is_kept_without_making_one(shape):
    """A strip thinner than the scale has no ×4 smaller copy at all: the check says so
    instead of failing inside the degradation (it stopped `semsr super-resolve`)."""
    lr = np.linspace(0.2, 0.8, shape[0] * shape[1], dtype=np.float32).reshape(shape)
    found = self_check.check(lr, SCALE, "area", lambda x: upscale(x, SCALE, clip=False), 0.0)
    assert found.weight == 1.0 and "too small" in found.reason and "0×" in found.reason


def test_apply_blends_with_bicubic_by_the_weight(smooth_lr):
    _, lr = smooth_lr
    bicubic = upscale(lr, SCALE, clip=False)
    sr = bicubic + 0.1
    found = self_check.SelfCheck(0.25, 0.25, 0.0, -1.0, "")
    np.testing.assert_allclose(self_check.apply(lr, sr, SCALE, found), bicubic + 0.025,
                               atol=1e-6)
    kept = self_check.SelfCheck(1.0, 1.0, 0.0, 1.0, "")
    assert self_check.apply(lr, sr, SCALE, kept) is sr


class Texturing(nn.Module):
    """A ×4 network that adds a fine checkerboard to nearest enlargement: texture
    painted onto smooth content, as the bundled model did to a clean fluorescence cell."""

    def forward(self, x):
        up = nn.functional.interpolate(x, scale_factor=SCALE, mode="bicubic",
                                       align_corners=False)
        h, w = up.shape[-2:]
        yy, xx = np.indices((h, w))
        checker = 0.04 * (((yy + xx) % 2) * 2 - 1)
        return up + up.new_tensor(checker.astype(np.float32))


def _texturing():
    return Model(Texturing(), ModelCard(arch="texturing", scale=SCALE, name="tex",
                                        training={"measurement": "area"}))


def test_super_resolve_weights_out_invented_texture_and_records_it(smooth_lr):
    truth, lr = smooth_lr
    as_is = IntensityMapping.identity()
    log, events = ConsistencyLog(), []
    guarded = super_resolve(lr, _texturing(), device="cpu", output_dtype="float32",
                            intensity=as_is, consistency=log, on_event=events.append)
    raw = super_resolve(lr, _texturing(), device="cpu", output_dtype="float32",
                        intensity=as_is, consistency="off")
    bicubic = upscale(lr, SCALE, clip=False)
    assert psnr(truth, raw) < psnr(truth, bicubic) - 3  # the network alone is worse
    assert psnr(truth, guarded) > psnr(truth, bicubic) - 0.2  # the guard leaves none
    checked = log.record["slices"][0]["self_check"]
    assert checked["weight"] < 0.1 and checked["noise_share"] == 0.0
    notes = [e.data["text"] for e in events if e.kind is EventKind.MESSAGE
             and e.data["text"].startswith("self-check:")]
    assert len(notes) == 1 and "the rest is bicubic" in notes[0]


def test_with_the_guard_off_there_is_no_self_check(smooth_lr):
    _, lr = smooth_lr
    log = ConsistencyLog("off")
    super_resolve(lr, _texturing(), device="cpu", output_dtype="float32",
                  intensity=IntensityMapping.identity(), consistency=log)
    assert "self_check" not in log.record["slices"][0]


def test_the_bundled_model_no_longer_loses_on_a_clean_smooth_cell():
    """skimage's `cell` (clean, bicubic already at 54 dB): the bundled ×4 model lost
    1.8 dB to bicubic with the guard alone; with the self-check it must not lose."""
    skimage_data = pytest.importorskip("skimage.data")
    from semsr_core.data.degrade import bicubic as bicubic_measure

    cell = skimage_data.cell().astype(np.float32) / 255.0
    top, left = (cell.shape[0] - 256) // 2, (cell.shape[1] - 256) // 2
    truth = cell[top:top + 256, left:left + 256]
    lr = bicubic_measure(truth, SCALE)
    out = super_resolve(lr, "default-x4", device="cpu", output_dtype="float32")
    assert psnr(truth, out) > psnr(truth, upscale(lr, SCALE, clip=False)) - 0.2


def test_a_fine_lattice_keeps_the_network_without_running_the_check():
    """A lattice finer than its ×4 smaller copy can show: the son has none of it."""
    yy, xx = np.indices((96, 96))
    lattice = (0.5 + 0.3 * np.cos(2 * np.pi * yy / 3.0) * np.cos(2 * np.pi * xx / 3.0))

    def must_not_run(image: np.ndarray) -> np.ndarray:
        raise AssertionError("the self-check ran on a fine lattice")

    found = self_check.check(lattice.astype(np.float32), SCALE, "area", must_not_run)
    assert found.weight == 1.0 and found.alpha is None and "finer" in found.reason
