"""A validation set with a flat crop: bicubic gives it back exactly (PSNR inf), which
once made the validation mean inf, every run "worse than bicubic" and the best
checkpoint the one that kept the flat crop best."""

from __future__ import annotations

import math
import shutil

import numpy as np

from semsr_core.io import write_stack
from semsr_core.metrics.full_reference import PSNR_CEILING_DB, mean_psnr
from semsr_core.train import train

TINY = ["generator.features=8", "generator.growth=4", "generator.blocks=1",
        "discriminators.d.features=8", "discriminators.d.dense_features=16",
        "discriminators.d.input_size=64", "data.lr_patch=16", "data.batch=4",
        "phases.gan.epochs=2", "phases.gan.steps_per_epoch=2", "train.export_worse=true"]


def test_the_mean_caps_each_image_at_the_ceiling():
    assert mean_psnr([30.0, math.inf]) == (30.0 + PSNR_CEILING_DB) / 2
    assert mean_psnr([30.0, 32.0]) == 31.0


def test_a_flat_validation_pair_leaves_the_means_and_the_verdict_finite(sim_data, tmp_path):
    val = tmp_path / "val"
    for folder in ("lr", "hr"):
        (val / folder).mkdir(parents=True)
        first = sorted((sim_data / folder).glob("*.tif"))[0]
        shutil.copy(first, val / folder / first.name)
    write_stack(val / "lr" / "flat.tif", np.full((32, 32), 20000, np.uint16))
    write_stack(val / "hr" / "flat.tif", np.full((128, 128), 20000, np.uint16))
    result = train("n1_reduced", sim_data, tmp_path / "run", val=val, device="cpu",
                   overrides=TINY)
    metrics = result.metrics
    assert math.isfinite(metrics["psnr_bicubic"]) and math.isfinite(metrics["psnr"])
    assert metrics["psnr_bicubic"] < PSNR_CEILING_DB  # the real pair counts
    assert math.isfinite(result.verdict.gain_db)
