"""The geometric self-ensemble: the mean of the 8 rotations/mirrors, for any trained model."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_nets import tiny_model

from semsr_core.cli import main
from semsr_core.data.augment import dihedral, undo_dihedral
from semsr_core.events import EventKind
from semsr_core.infer import super_resolve
from semsr_core.io import read_stack, write_stack


@pytest.fixture
def scan() -> np.ndarray:
    """A non-square scan: the turned variants are 90×80, the others 80×90."""
    from skimage import data

    return data.camera()[150:230, 200:290].astype(np.float32) / 255.0


def _enlarge(image, model, **options):
    return super_resolve(image, model, tile=48, overlap=16, precision="fp32",
                         output_dtype="float32", consistency="off", **options)


def test_it_is_the_mean_of_the_eight_outputs_turned_back(scan):
    model = tiny_model(2)
    turned = [undo_dihedral(_enlarge(dihedral(scan, k), model), k) for k in range(8)]
    ensemble = _enlarge(scan, model, self_ensemble=True)
    assert ensemble.shape == (160, 180)
    np.testing.assert_allclose(ensemble, np.mean(turned, axis=0), atol=1e-5)
    # the tiny network is not symmetric: the mean is not the plain output
    assert np.abs(ensemble - _enlarge(scan, model)).max() > 1e-3


def test_the_progress_counts_eight_passes_and_the_guard_applies_to_the_mean(scan):
    from semsr_core.infer.consistency import ConsistencyLog

    model = tiny_model(2)
    events = []
    log = ConsistencyLog("area")
    out = super_resolve(scan, model, tile=48, overlap=16, precision="fp32",
                        output_dtype="float32", consistency=log, self_ensemble=True,
                        on_event=events.append)
    single = []
    super_resolve(scan, model, tile=48, overlap=16, precision="fp32", output_dtype="float32",
                  consistency="area", on_event=single.append)
    last = [e.data for e in events if e.kind is EventKind.PROGRESS][-1]
    one = [e.data for e in single if e.kind is EventKind.PROGRESS][-1]
    assert last["total"] == 8 * one["total"] and last["done"] == last["total"]
    # projected onto the measurement: the block means give back the scan
    blocks = out.reshape(80, 2, 90, 2).mean(axis=(1, 3))
    assert np.abs(blocks - scan).mean() < np.abs(
        _enlarge(scan, model, self_ensemble=True).reshape(80, 2, 90, 2).mean(axis=(1, 3))
        - scan).mean()
    assert log.record["slices"]


def test_the_cli_option_is_recorded_in_the_file(tmp_path, scan):
    from semsr_core.models import Model

    model = Model.create("rrdbnet", scale=2, blocks=1, features=8, growth=4,
                         name="small", skip="bicubic").save(tmp_path / "small.semsr")
    source = write_stack(tmp_path / "scan.tif", (scan * 65535).astype(np.uint16),
                         pixel_size=10.0)
    for name, option in (("plain.ome.tif", []), ("ensemble.ome.tif", ["--self-ensemble"])):
        assert main(["super-resolve", str(source), "-o", str(tmp_path / name), "--model",
                     str(model), "--device", "cpu", "--quiet", *option]) == 0
    with read_stack(tmp_path / "ensemble.ome.tif") as ensemble, \
            read_stack(tmp_path / "plain.ome.tif") as plain:
        settings = ensemble.metadata["provenance"]["settings"]
        assert settings["self_ensemble"] is True
        assert "self_ensemble" not in plain.metadata["provenance"]["settings"]
        assert np.abs(np.asarray(ensemble[0], float) - np.asarray(plain[0], float)).max() > 0
