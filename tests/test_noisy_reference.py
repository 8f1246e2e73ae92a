"""benchmarks/noisy_reference.py: against a noisy reference whose LR is its own block
mean, the truth with the LR's noise put back scores above the truth itself."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def noisy_reference(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    return importlib.import_module("noisy_reference")


def test_keeping_the_lrs_noise_beats_the_clean_truth_on_a_noisy_reference(
        noisy_reference, monkeypatch):
    monkeypatch.setattr(noisy_reference, "BUNDLED", {2: ()})  # the bounds alone: fast
    monkeypatch.setattr(noisy_reference.ood_data, "CLASSES",
                        {"natural": ("camera", "moon"), "document": ("text",)})
    rows = noisy_reference.run([2], [0.1])
    assert len(rows) == 3
    for row in rows:  # the best estimate knowing the truth, and the truth alone
        assert row["truth + LR noise"] > row["truth"] + 0.5, row
    assert min(r["truth"] for r in rows) < 0  # a perfect denoising SR below bicubic
    table = noisy_reference.report(rows, {"command": "c", "date": "d", "seconds": 1.0})
    assert "| ×2 | 0.10 | natural | " in table and "truth + LR noise" in table

