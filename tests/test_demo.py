"""``semsr demo`` (semsr_core.demo): the bundled sample enlarged ×4 by the bundled default
model, written as OME-TIFF with its pixel size, and measured against the known HR."""

from __future__ import annotations

import pytest

from semsr_core.demo import DEFAULT_MODEL, run_demo, sample_stacks
from semsr_core.errors import ModelError
from semsr_core.io import read_stack


def test_the_demo_enlarges_the_sample_and_beats_bicubic(tmp_path):
    lr_path, hr_path = sample_stacks()
    result = run_demo(tmp_path / "out", device="cpu")
    assert result.model == DEFAULT_MODEL
    assert result.output.parent == tmp_path / "out"
    with read_stack(lr_path) as lr, read_stack(hr_path) as hr, read_stack(result.output) as sr:
        assert sr.shape == hr.shape == (len(lr), lr.shape[1] * 4, lr.shape[2] * 4)
        assert sr.pixel_size == pytest.approx(lr.pixel_size / 4)  # 8 nm -> 2 nm
        assert sr.metadata["provenance"]["model"]  # what made it, in the file
    assert [row["slice"] for row in result.rows] == list(range(len(result.rows)))
    # the bundled model does better than bicubic on the sample it is shown with
    assert result.mean("psnr") > result.mean("psnr_bicubic")
    assert result.mean("ssim") > result.mean("ssim_bicubic")


def test_a_missing_demo_model_says_where_the_default_models_come_from(tmp_path):
    with pytest.raises(ModelError) as caught:
        run_demo(tmp_path, model="no-such-model-x4", device="cpu")
    assert "benchmarks/train_defaults.py" in str(caught.value)
    assert not list(tmp_path.iterdir())  # nothing written
