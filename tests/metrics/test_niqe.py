"""NIQE: lower for a clean natural image than for it blurred or noised; its pristine model."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage import data

from semsr_core.errors import InputError
from semsr_core.metrics.niqe import _aggd, bundled_model, fit_pristine, niqe

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def camera() -> np.ndarray:
    """The cameraman, held out of the images the bundled pristine model was fitted on."""
    return data.camera() / 255.0


def test_aggd_fit_recovers_a_gaussian_and_a_laplacian():
    rng = np.random.default_rng(0)
    alpha, left, right = _aggd(rng.normal(0, 0.5, 200_000))
    assert alpha == pytest.approx(2.0, abs=0.05)  # a Gaussian is a GGD of shape 2...
    assert left == pytest.approx(0.5 * math.sqrt(2), rel=0.02)  # ...and scale σ·√2
    assert right == pytest.approx(0.5 * math.sqrt(2), rel=0.02)
    alpha, _, _ = _aggd(rng.laplace(0, 1.0, 200_000))
    assert alpha == pytest.approx(1.0, abs=0.05)


def test_niqe_rises_with_blur(camera):
    values = [niqe(camera)] + [niqe(gaussian_filter(camera, s)) for s in (1.0, 2.0, 3.0)]
    assert values == sorted(values) and values[0] < values[-1] / 2, values


def test_niqe_rises_with_noise(camera):
    rng = np.random.default_rng(1)
    values = [niqe(camera)] + [
        niqe(np.clip(camera + rng.normal(0, s, camera.shape), 0, 1)) for s in (0.02, 0.05, 0.1)]
    assert values == sorted(values) and values[0] < values[-1] / 2, values


def test_a_constant_intensity_scaling_does_not_change_niqe(camera):
    clean = niqe(camera)
    assert niqe(camera * 0.3) == pytest.approx(clean, rel=1e-3)
    assert niqe(camera * 0.8 + 0.1) == pytest.approx(clean, rel=1e-3)


@pytest.mark.parametrize("shape", [(95, 400), (96, 191), (150, 150)])
def test_an_image_smaller_than_two_patches_is_refused_with_the_size_needed(shape):
    with pytest.raises(InputError, match=r"at least two 96×96 patches") as info:
        niqe(np.random.default_rng(0).random(shape))
    assert f"{shape[0]}×{shape[1]}" in str(info.value)


def test_a_flat_image_is_refused():
    with pytest.raises(InputError, match="flat"):
        niqe(np.full((200, 200), 0.5))


def test_the_bundled_model_is_what_the_fit_script_makes():
    spec = importlib.util.spec_from_file_location("fit_niqe", ROOT / "benchmarks" / "fit_niqe.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    refit = fit_pristine(script.natural_images())
    shipped = bundled_model()
    np.testing.assert_allclose(refit.mean, shipped.mean, rtol=1e-6)
    np.testing.assert_allclose(refit.cov, shipped.cov, rtol=1e-6, atol=1e-9)
    names = [entry["image"] for entry in shipped.provenance["images"]]
    assert len(names) == len(script.IMAGES) and not any("camera" in n for n in names)
    assert shipped.provenance["patches"] == sum(e["kept"] for e in shipped.provenance["images"])


def test_semsr_evaluate_reports_niqe_per_image_and_per_method(tmp_path, capsys):
    import csv
    import json

    from semsr_core.cli import main
    from semsr_core.data.simulate import simulate_dataset
    from semsr_core.models import Model

    data = tmp_path / "data"
    simulate_dataset(data, pairs=2, scale=4, size=384, seed=3)  # 16 patches: NIQE is stable
    model = Model.create("rrdbnet", scale=4, blocks=1, features=8, growth=4, name="tiny")
    model.save(tmp_path / "tiny.semsr")
    out = tmp_path / "report"
    assert main(["evaluate", "--data", str(data), "--model", str(tmp_path / "tiny.semsr"),
                 "-o", str(out), "--no-figures", "--device", "cpu", "--quiet"]) == 0
    assert "HR itself: NIQE" in capsys.readouterr().out
    doc = json.loads((out / "report.json").read_text())
    for pair in doc["pairs"]:
        assert pair["hr"]["niqe"] > 0
        assert pair["metrics"]["bicubic"]["niqe"] > 0 and pair["metrics"]["tiny"]["niqe"] > 0
    for method in ("bicubic", "tiny"):
        assert doc["aggregate"][method]["niqe"] == pytest.approx(
            np.mean([p["metrics"][method]["niqe"] for p in doc["pairs"]]))
    assert doc["hr"]["niqe"] == pytest.approx(np.mean([p["hr"]["niqe"] for p in doc["pairs"]]))
    assert doc["aggregate"]["bicubic"]["niqe"] > doc["hr"]["niqe"]  # bicubic is blurred
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert float(rows[0]["niqe"]) == pytest.approx(doc["aggregate"]["bicubic"]["niqe"], abs=0.01)
    assert "NIQE" in (out / "report.md").read_text()
    assert "niqe" in next(csv.reader((out / "pairs.csv").open()))
