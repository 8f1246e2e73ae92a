"""Annotated defect masks (``DIR/masks/``) reach the pixel loss: ``mask_weight``."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from test_engine import tiny

from semsr_core.errors import InputError
from semsr_core.events import EventKind
from semsr_core.io import read_stack, write_stack
from semsr_core.models import load_model
from semsr_core.train import train


def _with_masks(sim_data, folder, make_mask):
    """A copy of the simulated pairs whose masks/ holds ``make_mask(hr_shape)``."""
    shutil.copytree(sim_data / "lr", folder / "lr")
    shutil.copytree(sim_data / "hr", folder / "hr")
    (folder / "masks").mkdir()
    for hr_path in sorted((folder / "hr").glob("*.tif")):
        shape = np.asarray(read_stack(hr_path)[0]).shape
        write_stack(folder / "masks" / hr_path.name, make_mask(shape))
    return folder


def _first_l1(data, run, weight: float) -> tuple[float, dict]:
    sets = [*tiny("en1"), "phases.gan.epochs=0", "phases.pretrain.steps_per_epoch=1",
            "data.batch=4", "train.log_every=1",
            f"phases.pretrain.losses.l1.mask_weight={weight}"]
    steps = []
    result = train("en1", data, run, overrides=sets, device="cpu",
                   on_event=lambda e: steps.append(e.data) if e.kind is EventKind.STEP else None)
    assert result.status == "finished"
    return steps[0]["losses"]["g/l1"], result


def test_mask_weight_changes_the_loss_of_the_same_first_step(sim_data, tmp_path):
    def left_half(shape):
        mask = np.zeros(shape, np.uint8)
        mask[:, : shape[1] // 2] = 1
        return mask

    data = _with_masks(sim_data, tmp_path / "d", left_half)
    plain, _ = _first_l1(data, tmp_path / "r1", 1.0)
    again, _ = _first_l1(data, tmp_path / "r2", 1.0)
    weighted, result = _first_l1(data, tmp_path / "r3", 30.0)
    assert again == pytest.approx(plain, rel=1e-6)  # same seed: the same batch and weights
    # the same errors averaged with other weights: a different value
    assert abs(weighted - plain) > 1e-4 * plain
    assert np.isfinite(weighted)
    summary = load_model(result.model_path).card.training["data"]
    assert summary["defect_masks"] == len(summary["train_pairs"]) > 0


def test_a_mask_of_the_wrong_size_is_refused_naming_the_file(sim_data, tmp_path):
    data = _with_masks(sim_data, tmp_path / "d", lambda shape: np.ones((10, 10), np.uint8))
    with pytest.raises(InputError, match="mask") as info:
        _first_l1(data, tmp_path / "r", 4.0)
    assert "masks" in str(info.value) and ".tif" in str(info.value)
