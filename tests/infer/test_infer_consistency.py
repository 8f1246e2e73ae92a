"""The measurement-consistency guard: a super-resolved image agrees with what was
measured, noise is not painted back in, and invented structure is mapped and warned of."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from scipy import ndimage
from torch import nn

from semsr_core import super_resolve
from semsr_core.data.degrade import area, bicubic
from semsr_core.data.resample import upscale
from semsr_core.events import EventKind
from semsr_core.infer import super_resolve_file
from semsr_core.infer.consistency import ConsistencyLog, check_and_project, noise_sigma
from semsr_core.io import read_stack
from semsr_core.io.intensity import IntensityMapping
from semsr_core.metrics.full_reference import psnr
from semsr_core.models import Model, ModelCard

SCALE = 4


@pytest.fixture
def truth(rng):
    smooth = ndimage.gaussian_filter(rng.random((128, 128)), 8.0)
    return ((smooth - smooth.mean()) / smooth.std() * 0.2 + 0.5).astype(np.float32)


def test_a_clean_scan_comes_back_exactly_and_the_result_gets_closer_to_the_truth(rng):
    truth = np.full((128, 128), 0.3, np.float32)
    truth[20:70, 30:110] = 0.8  # flat regions with edges: a clean scan has no noise
    lr = area(truth, SCALE)
    guess = (truth + 0.2 * rng.standard_normal(truth.shape) + 0.1).astype(np.float32)
    out, found = check_and_project(lr, guess, SCALE, operator="area")
    assert found.sigma < 1e-3
    np.testing.assert_allclose(area(out, SCALE), lr, atol=1e-4)
    assert np.linalg.norm(out - truth) < np.linalg.norm(guess - truth)  # a projection
    assert found.fraction > 0.5 and found.residual_after < 1e-4


def test_textured_scans_keep_their_brightness_and_coarse_structure(truth, rng):
    lr = area(truth, SCALE)
    guess = (truth + 0.2 * rng.standard_normal(truth.shape) + 0.1).astype(np.float32)
    out, _ = check_and_project(lr, guess, SCALE, operator="area")
    residual = area(out, SCALE) - lr
    assert abs(residual.mean()) < 1e-3
    assert np.abs(ndimage.gaussian_filter(residual, 2.0)).max() < 0.01
    assert psnr(truth, out) > psnr(truth, guess)  # its errors at the LR's scale are gone


def test_noise_is_not_painted_back_in(truth, rng):
    noisy = area(truth, SCALE) + rng.normal(0, 0.05, (32, 32)).astype(np.float32)
    assert noise_sigma(noisy) == pytest.approx(0.05, rel=0.35)
    out, found = check_and_project(noisy, truth, SCALE, operator="area")
    bicubic_of_noisy = upscale(noisy, SCALE, clip=False)
    # the denoised answer is kept, far better than what carries the noise
    assert psnr(truth, out) > psnr(truth, bicubic_of_noisy) + 5
    assert found.fraction < 0.02  # and the noise is not "disagreement"


def test_invented_structure_is_mapped_warned_of_and_removed(truth):
    lr = bicubic(truth, SCALE, clip=False)
    invented = truth.copy()
    invented[40:60, 80:100] += 1.0  # a bright "defect" the scan never saw
    out, found = check_and_project(lr, invented, SCALE, operator="auto")
    assert found.operator == "bicubic"
    top, left, bottom, right = found.regions[0]
    assert top * SCALE <= 44 and bottom * SCALE >= 56 and left * SCALE <= 84
    assert right * SCALE >= 96
    text = found.warning(SCALE)
    assert text and "rows" in text and "changed what the scan measured" in text
    assert np.abs(out[44:56, 84:96] - truth[44:56, 84:96]).mean() < 0.3 * np.abs(
        invented[44:56, 84:96] - truth[44:56, 84:96]).mean()


class Darkening(nn.Module):
    """A ×4 network that returns 60 % of the nearest enlargement: what the old bundled
    model did to natural images (darker output)."""

    def forward(self, x):
        return 0.6 * nn.functional.interpolate(x, scale_factor=SCALE, mode="nearest")


def _darkening(measurement: str | None = "auto"):
    """With ``measurement`` in its card, as the bundled models have."""
    training = {} if measurement is None else {"measurement": measurement}
    return Model(Darkening(), ModelCard(arch="darkening", scale=SCALE, name="dark",
                                        training=training))


def test_the_guard_restores_what_was_measured_and_off_only_warns(truth):
    lr = area(np.clip(truth, 0, 1), SCALE)
    events = []
    as_is = IntensityMapping.identity()
    guarded = super_resolve(lr, _darkening(), device="cpu", output_dtype="float32",
                            intensity=as_is, on_event=events.append)
    assert guarded.mean() == pytest.approx(lr.mean(), abs=1e-3)
    log = ConsistencyLog("off", keep_maps=True)
    raw = super_resolve(lr, _darkening(), device="cpu", output_dtype="float32",
                        intensity=as_is, consistency=log, on_event=events.append)
    assert raw.mean() == pytest.approx(0.6 * lr.mean(), rel=0.02)
    assert log.maps[0].shape == lr.shape and log.record["disagreeing_fraction_max"] > 0.5
    warnings = [e.data["text"] for e in events if e.kind is EventKind.MESSAGE]
    assert sum("changed what the scan measured" in w for w in warnings) == 2


def test_a_model_whose_card_names_no_measurement_is_only_mapped(truth):
    """Lab models may change contrast on purpose (a style gap): no projection, no
    warning by default, but the map is still made; asked for, the guard applies."""
    lr = area(np.clip(truth, 0, 1), SCALE)
    as_is = IntensityMapping.identity()
    events, log = [], ConsistencyLog(keep_maps=True)
    raw = super_resolve(lr, _darkening(None), device="cpu", output_dtype="float32",
                        intensity=as_is, consistency=log, on_event=events.append)
    assert raw.mean() == pytest.approx(0.6 * lr.mean(), rel=0.02)
    assert log.record["setting"] == "off" and log.record["disagreeing_fraction_max"] > 0.5
    assert not [e for e in events if e.kind is EventKind.MESSAGE]
    guarded = super_resolve(lr, _darkening(None), device="cpu", output_dtype="float32",
                            intensity=as_is, consistency="auto")
    assert guarded.mean() == pytest.approx(lr.mean(), abs=1e-3)


def test_the_output_file_records_the_guard(tmp_path, truth):
    image = np.round(np.clip(area(truth, SCALE), 0, 1) * 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "scan.tif", image)
    out = super_resolve_file(tmp_path / "scan.tif", tmp_path / "sr.ome.tif", _darkening(),
                             device="cpu")
    with read_stack(out) as stack:
        record = stack.metadata["provenance"]["consistency"]
    assert record["setting"] == "auto" and record["slices"][0]["projected"]
    assert record["disagreeing_fraction_max"] > 0.5


def test_an_unknown_setting_names_the_option(truth):
    from semsr_core.errors import ConfigError

    with pytest.raises(ConfigError, match="--consistency"):
        super_resolve(area(truth, SCALE), _darkening(), device="cpu", consistency="median")



def test_the_cli_writes_the_disagreement_map_beside_the_result(tmp_path, truth):
    from semsr_core.cli import main

    image = np.round(np.clip(area(truth, SCALE), 0, 1) * 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "scan.tif", image)
    dark = Model.create("rrdbnet", scale=SCALE, blocks=1, features=8, growth=4,
                        skip="bicubic", name="dark")
    with torch.no_grad():
        dark.generator.conv_last.bias.fill_(-0.3)  # bicubic, 0.3 darker: invented darkness
    dark.save(tmp_path / "dark.semsr")
    (tmp_path / "out").mkdir()
    code = main(["super-resolve", str(tmp_path / "scan.tif"), "-o", str(tmp_path / "out"),
                 "--model", str(tmp_path / "dark.semsr"), "--disagreement-map", "--quiet",
                 "--consistency", "off"])
    assert code == 0
    with read_stack(tmp_path / "out" / "scan_sr4x.disagreement.ome.tif") as stack:
        assert stack.shape == (1, 32, 32) and np.asarray(stack[0]).max() > 0.05
    # a later run over the folder does not take the map (or the result) as an input
    from semsr_core.infer.files import is_earlier_output

    assert is_earlier_output(tmp_path / "out" / "scan_sr4x.disagreement.ome.tif")


def test_adapting_to_the_image_is_bounded_in_time_and_changes_the_result(truth):
    model = Model.create("rrdbnet", scale=SCALE, blocks=1, features=8, growth=4,
                         skip="bicubic", name="tiny")
    model.card.training["measurement"] = "area"  # trained to keep the scan's contrast
    lr = area(truth, SCALE)
    events = []
    adapted = super_resolve(lr, model, device="cpu", output_dtype="float32",
                            consistency="off", adapt_seconds=2.0, on_event=events.append)
    plain = super_resolve(lr, model, device="cpu", output_dtype="float32", consistency="off")
    assert np.abs(adapted - plain).max() > 1e-4  # it trained on the image
    training = [e.data for e in events if e.kind is EventKind.PROGRESS
                and e.data.get("stage") == "zssr training"]
    assert training and {d["unit"] for d in training} == {"s"}  # a bar in seconds
    assert {d["total"] for d in training} == {2} and max(d["done"] for d in training) <= 2


def test_a_model_that_names_no_measurement_is_not_adapted_and_says_so(truth):
    """A lab's model maps its LR's contrast to its HR's (here a tone curve, as the
    finetune recipe adds); the image's own smaller copies share the scan's contrast and
    would unteach that (measured: +2.57 → +0.16 dB), so it is used as it was."""
    model = Model.create("rrdbnet", scale=SCALE, blocks=1, features=8, growth=4,
                         skip="bicubic", tone=True, name="lab-model")
    lr = area(truth, SCALE)
    events = []
    asked = super_resolve(lr, model, device="cpu", output_dtype="float32",
                          consistency="off", adapt_seconds=2.0, on_event=events.append)
    plain = super_resolve(lr, model, device="cpu", output_dtype="float32", consistency="off")
    np.testing.assert_array_equal(asked, plain)
    said = [e.data["text"] for e in events if e.kind is EventKind.MESSAGE]
    assert any(t.startswith("not adapted to this image: lab-model names no measurement")
               for t in said)
    assert not any(e.data.get("stage") == "zssr training" for e in events
                   if e.kind is EventKind.PROGRESS)


def test_a_lattice_the_network_erased_from_a_noisy_scan_is_put_back(rng):
    """Atom columns 3 LR pixels apart, in a scan whose noise per pixel is about their
    contrast: a denoising network may take them for noise. The lattice is measured far
    above the noise in the Fourier domain, so the guard gives it back and maps it."""
    n = 192
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    atoms = np.zeros((n, n))
    for turn in (0.5, 0.5 + np.pi / 3, 0.5 + 2 * np.pi / 3):
        atoms += np.cos(2 * np.pi * (xx * np.cos(turn) + yy * np.sin(turn)) / 12.0)
    truth = (0.2 + 0.4 * (atoms + 1.5) / 4.5).astype(np.float32)
    lr = area(truth, SCALE) + rng.normal(0, 0.1, (n // SCALE, n // SCALE)).astype(np.float32)
    erased = np.full_like(truth, float(lr.mean()))  # smooth, the lattice gone
    out, found = check_and_project(lr, erased, SCALE, operator="area")
    bicubic_psnr = psnr(truth, upscale(lr, SCALE, clip=False))
    assert psnr(truth, out) > bicubic_psnr > psnr(truth, erased) + 1
    assert found.fraction > 0.3  # the erased lattice is disagreement, mapped


def test_a_vacancy_in_the_lattice_is_not_painted_in(rng):
    """The lattice the guard puts back is found in the Fourier domain, where it is
    perfect; where the scan shows a missing atom, it is not put back."""
    n, spacing = 256, 12.0
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    atoms, sites, vacancies = np.zeros((n, n)), [], []
    for i in range(-30, 30):
        for j in range(-30, 30):
            x, y = i * spacing + j * spacing / 2 + 0.3, j * spacing * np.sqrt(3) / 2 + 0.3
            if not (8 < x < n - 8 and 8 < y < n - 8):
                continue
            if rng.random() < 0.04:
                vacancies.append((round(y), round(x)))
                continue
            atoms += np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 8.0)
            sites.append((round(y), round(x)))
    assert len(vacancies) >= 5
    truth = (0.15 + 0.6 * atoms).astype(np.float32)
    lr = (rng.poisson(area(truth, SCALE) * 50) / 50).astype(np.float32)
    erased = np.full_like(truth, float(lr.mean()))  # a network that erased it all
    out, _ = check_and_project(lr, erased, SCALE, operator="area")

    def mean_at(image, points):
        return float(np.mean([image[p] for p in points]))

    assert mean_at(out, sites) > mean_at(erased, sites) + 0.2  # the lattice is back
    assert mean_at(out, vacancies) < mean_at(erased, vacancies) + 0.02  # no atom painted
