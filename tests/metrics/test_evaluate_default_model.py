"""`semsr evaluate` without --model evaluates the bundled model of the data's scale."""

from __future__ import annotations

import json

import pytest

from semsr_core.cli import main
from semsr_core.data.simulate import simulate_dataset


@pytest.fixture(scope="module")
def x2_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("x2") / "data"
    simulate_dataset(root, pairs=1, scale=2, size=64, seed=5)
    return root


def test_without_model_the_bundled_model_of_the_data_scale_and_bicubic(x2_data, tmp_path,
                                                                       capsys):
    assert main(["evaluate", "--data", str(x2_data), "-o", str(tmp_path / "r"),
                 "--no-figures", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "evaluating the bundled ×2 model 'default-x2' and bicubic" in err
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["methods"] == ["bicubic", "default-x2"]


def test_baseline_only_evaluates_no_model(x2_data, tmp_path, capsys):
    assert main(["evaluate", "--data", str(x2_data), "-o", str(tmp_path / "r"),
                 "--no-figures", "--quiet", "--baseline-only"]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["methods"] == ["bicubic"]
    assert "bundled" not in capsys.readouterr().err
