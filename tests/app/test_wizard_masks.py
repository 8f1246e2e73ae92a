"""The wizard stages a pair's annotated defect masks with it, on the aligned HR grid."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from semsr_app import wizard_data
from semsr_core.io import read_stack, write_stack

#: HR crops of the `unaligned` fixture: scan i is the simulated HR at (dy, dx).
SHIFTS = [(10, 6), (4, 14), (12, 12)]


@pytest.fixture
def annotated(unaligned, tmp_path):
    """The fixture's scans with masks/: a disc on scan0 (drawn on its shifted HR), a
    mask of the wrong size for scan1, none for scan2."""
    root = tmp_path / "scans"
    for folder in ("lr", "hr"):
        shutil.copytree(unaligned / folder, root / folder)
    (root / "masks").mkdir()
    yy, xx = np.mgrid[:192, :192]
    disc = (yy - 80) ** 2 + (xx - 90) ** 2 < 25 ** 2  # in the simulator's HR frame
    dy, dx = SHIFTS[0]
    write_stack(root / "masks" / "scan0.tif", disc[dy:dy + 160, dx:dx + 160].astype(np.uint8))
    write_stack(root / "masks" / "scan1.tif", np.ones((40, 40), np.uint8))
    return root, disc


def test_masks_are_staged_on_the_aligned_hr_grid_and_a_bad_mask_fails_its_pair(
        annotated, tmp_path):
    root, disc = annotated
    scan = wizard_data.scan_data(wizard_data.DataChoice(hr_dir=root / "hr",
                                                        lr_dir=root / "lr"))
    checks = {c.stem: c for c in wizard_data.check_pairs(scan.pairs)}
    assert checks["scan0"].verdict == "aligned" and checks["scan0"].mask_path is not None
    assert checks["scan1"].verdict == "failed" and "scan1.tif" in checks["scan1"].reason
    assert checks["scan2"].verdict == "aligned" and checks["scan2"].mask_path is None

    out = wizard_data.write_training_data(list(checks.values()), tmp_path / "staged")

    assert sorted(p.name for p in (out / "masks").iterdir()) == ["scan0.tif"]
    carried = np.asarray(read_stack(out / "masks" / "scan0.tif")[0]) > 0
    with read_stack(out / "hr" / "scan0.tif") as hr:
        assert carried.shape == hr.shape[-2:]
    r0, _, c0, _ = checks["scan0"].result.lr_box  # the LR crop; LR is the frame's top left
    expected = disc[4 * r0:4 * r0 + carried.shape[0], 4 * c0:4 * c0 + carried.shape[1]]
    assert expected.sum() > 1000
    assert (carried & expected).sum() / (carried | expected).sum() > 0.9
