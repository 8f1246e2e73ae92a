"""The Super-resolve panel: run, progress, cancel and errors, in a headless napari."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from semsr_app.reader import read_sem
from semsr_app.widgets.super_resolve import SuperResolvePanel
from semsr_core.events import EventKind
from semsr_core.io import read_stack
from semsr_core.resources import resource_path

from .conftest import needs_display

pytestmark = [pytest.mark.gui, needs_display]

SAMPLE_LR = resource_path("sample", "sem_stack_lr.tif")


def _panel(make_napari_viewer, model_path, files=()):
    viewer = make_napari_viewer()
    for path in files:
        for data, kwargs, _kind in read_sem(str(path)):
            viewer.add_image(data, **kwargs)
    panel = SuperResolvePanel(viewer)
    viewer.window.add_dock_widget(panel, name="Super-resolve")
    if model_path is not None:
        panel.add_model_file(model_path)
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    return viewer, panel


def _run_and_wait(qtbot, panel, timeout=60_000):
    assert panel.run_button.isEnabled(), panel.status.text()
    qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    assert panel.worker is not None
    qtbot.waitUntil(lambda: panel.worker is None, timeout=timeout)


def test_run_adds_sr_layer_over_the_source_with_provenance(
        make_napari_viewer, qtbot, tiny_model_path):
    viewer, panel = _panel(make_napari_viewer, tiny_model_path, [SAMPLE_LR])
    progress = []
    panel._relay.event.connect(progress.append)
    _run_and_wait(qtbot, panel)
    lr = viewer.layers["sem_stack_lr"]
    sr = viewer.layers["sem_stack_lr [SR ×4]"]
    assert sr.data.shape == (4, 512, 512) and sr.data.dtype == np.uint16
    assert tuple(sr.scale) == (1.0, 2.0, 2.0)  # 8 nm ÷ 4
    assert tuple(sr.translate) == (0.0, -3.0, -3.0)
    assert str(sr.units[-1]) == "nanometer"
    low, high = sr.contrast_limits  # from the result's percentiles, not 0..65535
    assert sr.data.min() <= low < high <= sr.data.max()
    assert tuple(sr.contrast_limits_range) == (sr.data.min(), sr.data.max())
    # the 4×4 SR pixels of LR pixel (z, 10, 20) are centred on it in world coordinates
    lr_centre = np.array(lr.data_to_world((2, 10, 20)))
    sr_centres = np.array([sr.data_to_world((2, 40 + i, 80 + j))
                           for i in range(4) for j in range(4)])
    np.testing.assert_allclose(sr_centres.mean(axis=0), lr_centre)
    provenance = sr.metadata["provenance"]
    assert provenance["model"]["name"] == "tiny" and provenance["settings"]["device"] == "cpu"
    assert provenance["source"] == str(SAMPLE_LR)
    assert sr.metadata["pixel_size_nm"] == 2.0
    tiles = [e for e in progress if e.kind is EventKind.PROGRESS]
    assert tiles and tiles[-1].data["done"] == tiles[-1].data["total"]
    assert panel.progress.value() == panel.progress.maximum()
    assert panel.run_button.isEnabled()


def test_the_progress_bar_counts_tiles_from_the_start_of_the_run(
        make_napari_viewer, qtbot, tiny_model_path):
    _viewer, panel = _panel(make_napari_viewer, tiny_model_path, [SAMPLE_LR])
    shown = []  # the bar as the user sees it after each progress event

    def look(event):
        if event.kind is EventKind.PROGRESS:
            shown.append((panel.progress.maximum(), panel.progress.text()))

    panel._relay.event.connect(look)  # after the panel's own handler
    _run_and_wait(qtbot, panel)
    total = shown[-1][0]
    assert total == 4  # one 128-pixel slice is one tile, 4 slices
    assert shown[0] == (4, "0 of 4 tiles")  # not busy (indeterminate) until a tile is done
    assert shown[-1] == (4, "4 of 4 tiles")


def test_the_self_ensemble_box_counts_eight_passes_and_is_recorded(
        make_napari_viewer, qtbot, tiny_model_path):
    viewer, panel = _panel(make_napari_viewer, tiny_model_path, [SAMPLE_LR])
    assert panel.self_ensemble.isVisibleTo(panel) and not panel.self_ensemble.isChecked()
    panel.self_ensemble.setChecked(True)
    panel.current_slice.setChecked(True)
    shown = []
    panel._relay.event.connect(lambda e: e.kind is EventKind.PROGRESS and shown.append(
        panel.progress.text()))
    _run_and_wait(qtbot, panel)
    assert shown[-1] == "8 of 8 tiles"  # one slice, one tile, 8 rotations/mirrors
    sr = viewer.layers["sem_stack_lr [SR ×4]"]
    assert sr.metadata["provenance"]["settings"]["self_ensemble"] is True


def test_current_slice_only_adds_one_slice_at_its_depth(
        make_napari_viewer, qtbot, tiny_model_path):
    viewer, panel = _panel(make_napari_viewer, tiny_model_path, [SAMPLE_LR])
    viewer.dims.set_point(0, 2)
    panel.current_slice.setChecked(True)
    _run_and_wait(qtbot, panel)
    sr = viewer.layers["sem_stack_lr [SR ×4]"]
    assert sr.data.shape == (1, 512, 512)
    assert sr.data_to_world((0, 0, 0))[0] == 2.0
    assert sr.metadata["provenance"]["slice"] == 2


def test_cancel_stops_within_one_tile_and_adds_nothing(
        make_napari_viewer, qtbot, tiny_model_path, notifications, rng):
    viewer, panel = _panel(make_napari_viewer, tiny_model_path)
    viewer.add_image(rng.integers(0, 60000, size=(2, 384, 384), dtype=np.uint16), name="big")
    panel.tile_combo.setCurrentText("96")  # small tiles: many of them
    after_cancel = []  # tiles finished after Cancel, counted in the worker thread

    def count_in_worker(event):
        if event.kind is EventKind.PROGRESS and panel._cancel_token.cancelled:
            after_cancel.append(event.data["done"])

    panel._relay.event.connect(count_in_worker, Qt.DirectConnection)
    seen = []

    def cancel_on_first_tile(event):
        seen.append(event)
        if event.kind is EventKind.PROGRESS and panel.cancel_button.isEnabled():
            qtbot.mouseClick(panel.cancel_button, Qt.LeftButton)

    panel._relay.event.connect(cancel_on_first_tile)
    _run_and_wait(qtbot, panel)
    total = next(e.data["total"] for e in seen if e.kind is EventKind.PROGRESS)
    assert total >= 20
    assert len(after_cancel) <= 1  # the tile in flight (CPU batch 1), then it stops
    assert [layer.name for layer in viewer.layers] == ["big"]
    assert any("cancelled" in message for _severity, message in notifications)
    assert "cancelled" in panel.status.text()
    assert panel.run_button.isEnabled()


def test_bad_input_file_gives_a_notification_and_the_panel_stays_usable(
        make_napari_viewer, qtbot, tiny_model_path, notifications, tmp_path):
    viewer, panel = _panel(make_napari_viewer, tiny_model_path)
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00 this is not a TIFF")
    panel.files_mode.setChecked(True)
    panel.inputs_edit.setText(str(broken))
    panel.output_edit.setText(str(tmp_path / "out"))
    _run_and_wait(qtbot, panel)
    errors = [m for severity, m in notifications if severity == "error"]
    assert errors and "broken.tif" in errors[0]
    assert "broken.tif" in panel.status.text()
    assert panel.run_button.isEnabled() and len(viewer.layers) == 0


def test_batch_over_a_folder_writes_ome_tiffs_with_divided_pixel_size(
        make_napari_viewer, qtbot, tiny_model_path, sem_tiff, tmp_path):
    path, _values = sem_tiff
    viewer, panel = _panel(make_napari_viewer, tiny_model_path)
    panel.files_mode.setChecked(True)
    panel.inputs_edit.setText(str(path.parent))
    out = tmp_path / "results"
    panel.output_edit.setText(str(out))
    _run_and_wait(qtbot, panel)
    written = out / "scan_sr4x.ome.tif"
    with read_stack(written) as stack:
        assert stack.shape == (2, 640, 640)
        assert stack.pixel_size == pytest.approx(1.25)  # 5 nm ÷ 4
        assert stack.metadata["provenance"]["model"]["name"] == "tiny"
    assert [layer.name for layer in viewer.layers] == ["scan_sr4x"]


def test_models_in_the_user_folder_are_offered_and_a_bad_model_file_is_refused(
        make_napari_viewer, tiny_model_path, notifications, tmp_path):
    from semsr_core.models import load_model, user_models_dir

    load_model(tiny_model_path).save(user_models_dir() / "lab-model.semsr")
    _viewer, panel = _panel(make_napari_viewer, None)
    assert "lab-model" in panel.model_combo.currentText()
    bad = tmp_path / "bad.semsr"
    bad.write_bytes(b"not a model")
    panel.add_model_file(bad)
    assert "lab-model" in panel.model_combo.currentText()  # choice unchanged
    assert any("bad.semsr" in m for severity, m in notifications if severity == "error")


def test_run_waits_for_a_model_and_a_source(make_napari_viewer, monkeypatch, tmp_path):
    from semsr_core.models import store

    monkeypatch.setattr(store, "bundled_models_dir", lambda: tmp_path)  # none installed
    _viewer, panel = _panel(make_napari_viewer, None)
    assert not panel.run_button.isEnabled()
    assert "model" in panel.status.text().lower()


def test_the_bundled_default_model_is_offered_first(make_napari_viewer):
    _viewer, panel = _panel(make_napari_viewer, None)
    # default-x4 itself, not another bundled model whose name starts the same
    assert panel.model_combo.currentText().startswith("default-x4 — ")
    assert panel.model_combo.currentData().endswith("default-x4.semsr")
    assert not panel.run_button.isEnabled()  # still no image to super-resolve
    assert "image" in panel.status.text().lower()


def test_each_installed_model_tells_what_it_is_for_on_hover(make_napari_viewer):
    from semsr_core.models import list_models

    _viewer, panel = _panel(make_napari_viewer, None)
    combo = panel.model_combo
    variant = next(e for e in list_models() if e.name == "default-x4-clean")
    index = combo.findData(str(variant.path))
    assert index >= 0
    assert "clean variant" in combo.itemData(index, Qt.ToolTipRole)


def test_closing_napari_during_a_run_cancels_it(make_napari_viewer, qtbot, tiny_model_path,
                                                rng):
    viewer, panel = _panel(make_napari_viewer, tiny_model_path)
    viewer.add_image(rng.integers(0, 60000, size=(2, 384, 384), dtype=np.uint16), name="big")
    panel.tile_combo.setCurrentText("96")
    qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    panel.worker.quit()  # what napari calls for running workers when the app quits
    qtbot.waitUntil(lambda: panel.worker is None, timeout=60_000)
    assert [layer.name for layer in viewer.layers] == ["big"]
    assert "cancelled" in panel.status.text()


def test_models_installed_while_the_panel_is_open_appear_when_the_list_opens(
        make_napari_viewer, tiny_model_path):
    from semsr_core.models import load_model, user_models_dir

    _viewer, panel = _panel(make_napari_viewer, None)
    load_model(tiny_model_path).save(user_models_dir() / "new-model.semsr")
    panel.model_combo.showPopup()
    panel.model_combo.hidePopup()
    texts = [panel.model_combo.itemText(i) for i in range(panel.model_combo.count())]
    assert any("new-model" in t for t in texts)
    assert texts[-1] == "Open model file…"


def test_run_adds_the_disagreement_map_over_the_source_and_records_the_guard(
        make_napari_viewer, qtbot, tiny_model_path):
    viewer, panel = _panel(make_napari_viewer, tiny_model_path, [SAMPLE_LR])
    panel.adapt_spin.setValue(0)
    _run_and_wait(qtbot, panel)
    lr = viewer.layers["sem_stack_lr"]
    sr = viewer.layers["sem_stack_lr [SR ×4]"]
    disagreement = viewer.layers["sem_stack_lr [disagreement ×4]"]
    assert disagreement.data.shape == lr.data.shape  # on the measured grid
    assert tuple(disagreement.scale) == tuple(lr.scale)
    assert tuple(disagreement.translate) == tuple(lr.translate)
    record = disagreement.metadata["consistency"]
    # the tiny model's card names no measurement: mapped, not projected (a lab model's
    # contrast change may be wanted)
    assert record["setting"] == "off" and len(record["slices"]) == 4
    assert sr.metadata["provenance"]["settings"]["consistency"] == "model"
    assert viewer.layers.index(disagreement) < viewer.layers.index(sr)  # below the result


def test_without_the_map_and_with_the_guard_off_only_the_result_is_added(
        make_napari_viewer, qtbot, tiny_model_path):
    viewer, panel = _panel(make_napari_viewer, tiny_model_path, [SAMPLE_LR])
    panel.show_map.setChecked(False)
    panel.guard_combo.setCurrentIndex(panel.guard_combo.findData("off"))
    _run_and_wait(qtbot, panel)
    assert [layer.name for layer in viewer.layers] == ["sem_stack_lr",
                                                        "sem_stack_lr [SR ×4]"]
    assert viewer.layers[1].metadata["provenance"]["settings"]["consistency"] == "off"


def test_a_clean_smooth_image_says_what_the_self_check_kept(make_napari_viewer, qtbot):
    """The bundled model on a clean, smooth fluorescence crop: the panel's last line
    says that only part of the model's change was kept, and why. (Its clean variant,
    which would take this crop and keeps 96 % there, is switched off: the painting
    model is the one the self-check is for.)"""
    skimage_data = pytest.importorskip("skimage.data")
    from semsr_core.data.degrade import bicubic

    cell = skimage_data.cell()[150:406, 150:406].astype(np.float32) / 255.0
    viewer, panel = _panel(make_napari_viewer, None)
    viewer.add_image(bicubic(cell, 4), name="cell")
    panel.adapt_spin.setValue(0)
    panel.clean_variant.setChecked(False)
    _run_and_wait(qtbot, panel)
    sr = viewer.layers["cell [SR ×4]"]
    assert sr.metadata["provenance"]["model"]["name"] == "default-x4"
    record = sr.metadata["provenance"]["consistency"]  # as the output files have it
    weights = [s["self_check"]["weight"] for s in record["slices"]]
    assert weights and weights[0] < 0.95
    assert "Self-check: on this image's ×4 smaller copy" in panel.status.text()
    assert "the rest is bicubic" in panel.status.text()


def test_a_clean_scan_is_enlarged_by_the_clean_variant_and_the_layer_says_so(
        make_napari_viewer, qtbot):
    """The panel's default: the bundled default-x4 hands a clean crop to its clean
    variant; the result layer names default-x4-clean and the noise it read."""
    skimage_data = pytest.importorskip("skimage.data")
    from semsr_core.data.degrade import bicubic

    cell = skimage_data.cell()[150:406, 150:406].astype(np.float32) / 255.0
    viewer, panel = _panel(make_napari_viewer, None)
    viewer.add_image(bicubic(cell, 4), name="cell")
    assert panel.clean_variant.isChecked()
    _run_and_wait(qtbot, panel)
    record = viewer.layers["cell [SR ×4]"].metadata["provenance"]
    assert record["model"]["name"] == "default-x4-clean"
    chosen = record["settings"]["clean_variant"]
    assert chosen["used"] is True and chosen["noise_sigma"] <= chosen["max_noise_sigma"]
