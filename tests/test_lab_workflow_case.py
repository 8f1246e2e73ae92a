"""The lab case of benchmarks/lab_workflow.py: with ``--lab-pairs 8`` the lab gets four
more scans of the same specimen while the held-out scans stay exactly the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from semsr_core.io import read_stack

ROOT = Path(__file__).resolve().parents[1]


def _case(lab_workflow, tmp: Path, count: int) -> tuple[Path, Path]:
    lab_workflow.LAB_PAIRS["count"] = count
    sim, lab, held = tmp / "sim", tmp / "lab", tmp / "held"
    lab_workflow.simulate(sim)
    lab_workflow.make_lab_case(sim, lab, held, "uint16")
    return lab, held


def _pixels(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for path in sorted(folder.glob("*.tif")):
        with read_stack(path) as stack:
            out[path.stem] = np.asarray(stack[0])
    return out


def test_eight_lab_pairs_add_scans_and_keep_the_held_out_scans(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    lab_workflow = pytest.importorskip("lab_workflow")
    monkeypatch.setitem(lab_workflow.LAB_PAIRS, "count", 4)
    lab4, held4 = _case(lab_workflow, tmp_path / "four", 4)
    lab8, held8 = _case(lab_workflow, tmp_path / "eight", 8)
    four, eight = _pixels(lab4 / "lr"), _pixels(lab8 / "lr")
    assert sorted(four) == [f"pair_{i:03d}" for i in range(4)]
    assert sorted(eight) == [f"pair_{i:03d}" for i in (0, 1, 2, 3, 12, 13, 14, 15)]
    for stem, image in four.items():  # the first four scans are cut as before
        np.testing.assert_array_equal(eight[stem], image)
    assert all(image.shape == (88, 88) for image in eight.values())
    for kind in ("lr", "hr"):
        before, after = _pixels(held4 / kind), _pixels(held8 / kind)
        assert sorted(before) == [f"pair_{i:03d}" for i in range(4, 12)] == sorted(after)
        for stem in before:
            np.testing.assert_array_equal(after[stem], before[stem])
