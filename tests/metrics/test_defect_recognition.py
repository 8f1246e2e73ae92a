"""Do defects stay recognisable? `semsr evaluate` reports the bundled defect classifier's
accuracy on SR, bicubic and HR tiles; the shipped classifier is a separate kind of model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from semsr_core.data.simulate import simulate_dataset
from semsr_core.data.tile_labels import DEFECT_CLASSES
from semsr_core.metrics import evaluate
from semsr_core.metrics.defect_recognition import tiles_of
from semsr_core.models import Model


def test_tiles_are_cut_row_by_row_and_the_rest_left_out():
    image = np.arange(130 * 200, dtype=np.float32).reshape(130, 200)
    tiles = tiles_of(image, 64)
    assert tiles.shape == (2 * 3, 64, 64)
    assert np.array_equal(tiles[4], image[64:128, 64:128])


def test_the_classifier_is_no_super_resolution_model():
    from semsr_core.errors import ModelError
    from semsr_core.models import list_models, load_model
    from semsr_core.models.classifier import DEFECT_CLASSIFIER, load_classifier

    assert DEFECT_CLASSIFIER not in {e.name for e in list_models()}
    assert DEFECT_CLASSIFIER in {e.name for e in list_models(task=None)}
    with pytest.raises(ModelError, match="defect-classification model, not a super-res"):
        load_model(DEFECT_CLASSIFIER)
    bundled = load_classifier()
    assert bundled.classes == list(DEFECT_CLASSES) and bundled.tile == 64
    held_out = bundled.card.metrics["held_out"]["per_class"]
    assert set(held_out) == set(DEFECT_CLASSES)  # its card holds the accuracy per class


def test_evaluate_reports_the_recognition_of_sr_bicubic_and_hr(tmp_path):
    data = tmp_path / "data"
    # seeds far from the classifier's (training 20000.., held out 90000..)
    simulate_dataset(data, pairs=4, scale=4, size=256, seed=4242, defect_rate=5)
    model = Model.create("rrdbnet", scale=4, blocks=1, features=8, growth=4, name="tiny")
    result = evaluate(data, tmp_path / "report", [model], figures=False, device="cpu")
    for method in ("bicubic", "tiny"):
        row = result.aggregate[method]
        assert 0.0 <= row["recognition_accuracy"] <= 1.0
        assert 0.0 <= row["recognition_recall"] <= 1.0
    # HR's tiles holding a defect are recognised well above chance (1 in 6 classes)
    assert result.hr["recognition_recall"] > 2.0 / len(DEFECT_CLASSES)
    assert result.hr["recognition_accuracy"] > 2.0 / len(DEFECT_CLASSES)
    document = json.loads((tmp_path / "report" / "report.json").read_text())
    assert document["hr"]["recognition_recall"] == result.hr["recognition_recall"]
    assert "recognition_accuracy" in document["aggregate"]["tiny"]
    pair = document["pairs"][0]
    assert pair["recognition_tiles"]["hr"]["tiles"] == 16  # 256² → 4 × 4 tiles of 64²
    table = (tmp_path / "report" / "report.md").read_text()
    assert "defects recognised" in table and "defect-tile recall" in table
