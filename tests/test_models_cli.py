"""`semsr models list` and `semsr models info` as a user reads them."""

from __future__ import annotations

import json
import re

from semsr_core import cli, models
from semsr_core.models import Model


def _install(name: str, training: dict | None = None, metrics: dict | None = None) -> None:
    model = Model.create("rrdbnet", scale=4, name=name, blocks=1, features=8, growth=4)
    model.card.recipe = "en1"
    model.card.training = training or {}
    model.card.metrics = metrics or {}
    model.save(models.user_models_dir() / f"{name}.semsr")


def test_models_list_has_a_header_and_marks_the_default_model(capsys):
    assert cli.main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "FROM", "MODEL", "SIZE", "FILE"]
    marked = [line for line in lines[1:] if line.startswith("*  ")]
    assert len(marked) == 1 and marked[0].split()[1] == "default-x4"
    assert "Super-resolve panel" in lines[-1]


def test_models_list_marks_the_labs_own_model_as_the_panel_does(capsys):
    _install("lab-model")
    assert models.preferred_model().name == "lab-model"
    assert cli.main(["models", "list"]) == 0
    marked = [line.split()[1] for line in capsys.readouterr().out.splitlines()
              if line.startswith("*  ")]
    assert marked == ["lab-model"]


def test_models_info_is_a_readable_card_with_the_lineage_summarised(capsys):
    stage = {"model": "/tmp/xyz/stage-1.semsr", "name": "lab", "recipe": "en1",
             "training": {"steps": 300, "seconds": 1800.0,
                          "initialised_from": {"model": "/tmp/xyz/stage-0.semsr",
                                               "recipe": "l1", "training": {"steps": 700}}}}
    _install("lab-model", training={"epochs": 4, "steps": 120, "seconds": 600.0,
                                    "data": {"train_pairs": ["a", "b", "c"], "val_pairs": ["d"]},
                                    "initialised_from": stage, "config": {"big": list(range(99))}},
             metrics={"psnr": 25.123, "psnr_bicubic": 23.0, "ssim": 0.81})
    assert cli.main(["models", "info", "lab-model"]) == 0
    out = capsys.readouterr().out
    fields = dict(re.match(r"(\w+): +(.*)", line).groups() for line in out.splitlines()
                  if re.match(r"\w+: ", line))
    assert fields["name"] == "lab-model"
    assert fields["architecture"] == "rrdbnet (blocks 1, features 8, growth 4)"
    assert fields["scale"].startswith("×4")
    assert "intensity policy" in fields["normalisation"]
    assert fields["training"] == "4 epochs, 120 steps, 10 min"
    assert fields["data"] == "3 training + 1 validation pairs"
    assert fields["lineage"] == ("fine-tuned from 2 earlier stage(s) (l1 → en1), 1,000 steps "
                                 "and 0.5 h before this one")
    assert fields["metrics"] == "psnr 25.12 dB (bicubic 23), ssim 0.81"
    assert "/tmp/xyz" not in out and "big" not in out  # no temporary paths, no raw config
    assert len(out) < 1500


def test_models_info_json_prints_the_whole_card(capsys):
    assert cli.main(["models", "info", "default-x4", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card == models.read_card(models.resolve_model("default-x4")).to_dict()
    assert "config" in card["training"]  # the whole card, nothing summarised away
