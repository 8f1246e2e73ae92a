"""`semsr augment-preview RECIPE` shows the recipe's own training samples."""

from __future__ import annotations

import numpy as np
from skimage.io import imread

from semsr_core.cli import main
from semsr_core.data.preview import preview_samples
from semsr_core.train.config import load_config
from semsr_core.train.data import prepare_data

SETS = ["data.lr_patch=16", "data.defects.alpha=16", "data.defects.beta=8"]


def test_recipe_preview_writes_the_training_samples_of_the_recipe(sim_data, tmp_path):
    out = tmp_path / "grid.png"
    args = ["augment-preview", "en1_defects", "--data", str(sim_data), "-o", str(out), "-n", "3"]
    for item in SETS:
        args += ["--set", item]
    assert main(args) == 0
    grid = imread(out)
    assert grid.ndim == 3 and grid.shape[0] > 3 * 16  # three rows of samples

    prepared = prepare_data(load_config("en1_defects", SETS), sim_data)
    samples = preview_samples(prepared.train_set, n=3, seed=0)
    again = preview_samples(prepared.train_set, n=3, seed=0)
    assert len(samples) == 3
    for (lr, hr, _mask), (lr2, hr2, _) in zip(samples, again, strict=True):
        assert hr.shape == (lr.shape[0] * 4, lr.shape[1] * 4)
        assert np.array_equal(lr, lr2) and np.array_equal(hr, hr2)
    assert any(mask.any() for _, _, mask in samples), "no synthetic defect was pasted"
