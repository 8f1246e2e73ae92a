"""The Super-resolve panel sends a folder to a Dask cluster: the same files as in this
process, and a wrong address is a message, not a crash."""

from __future__ import annotations

import numpy as np
import pytest

from semsr_core.io import read_stack

from .conftest import needs_display
from .test_super_resolve_panel import _panel, _run_and_wait

pytestmark = [pytest.mark.gui, needs_display]


def _files_run(make_napari_viewer, qtbot, model, folder, out, cluster=""):
    _viewer, panel = _panel(make_napari_viewer, model)
    panel.files_mode.setChecked(True)
    panel.open_results.setChecked(False)
    panel.inputs_edit.setText(str(folder))
    panel.output_edit.setText(str(out))
    panel.cluster_edit.setText(cluster)
    _run_and_wait(qtbot, panel, timeout=180_000)
    return panel


def test_a_folder_sent_to_a_local_cluster_gives_the_files_this_process_gives(
        make_napari_viewer, qtbot, tiny_model_path, sem_tiff, tmp_path):
    path, _values = sem_tiff
    here, there = tmp_path / "here", tmp_path / "cluster"
    _files_run(make_napari_viewer, qtbot, tiny_model_path, path.parent, here)
    panel = _files_run(make_napari_viewer, qtbot, tiny_model_path, path.parent, there,
                       cluster="local")
    assert "Wrote 1 file" in panel.status.text(), panel.status.text()
    with read_stack(here / "scan_sr4x.ome.tif") as a, read_stack(there / "scan_sr4x.ome.tif") as b:
        assert b.shape == a.shape == (2, 640, 640)
        assert b.pixel_size == pytest.approx(a.pixel_size)
        assert np.abs(np.asarray(b[:], np.int64) - np.asarray(a[:], np.int64)).max() <= 1


def test_a_cluster_address_that_is_not_one_is_a_message_and_writes_nothing(
        make_napari_viewer, qtbot, tiny_model_path, sem_tiff, tmp_path, notifications):
    path, _values = sem_tiff
    panel = _files_run(make_napari_viewer, qtbot, tiny_model_path, path.parent,
                       tmp_path / "out", cluster="nowhere")
    errors = [m for severity, m in notifications if severity == "error"]
    assert errors and "nowhere" in errors[0] and "scheduler" in errors[0]
    assert not list((tmp_path / "out").glob("*.tif"))
    assert panel.run_button.isEnabled()
