"""ZSSR in the Super-resolve panel: trains on the layer itself, with progress and cancel;
"adapt to image" offered only where it fits."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from semsr_app.reader import read_sem
from semsr_app.widgets.super_resolve import ZSSR_MODEL, SuperResolvePanel
from semsr_app.widgets.super_resolve.models import NOT_ADAPTABLE_TIP
from semsr_core.events import EventKind
from semsr_core.io import read_stack, write_stack
from semsr_core.resources import resource_path

from .conftest import needs_display

pytestmark = [pytest.mark.gui, needs_display]


@pytest.fixture
def crop(tmp_path):
    """A 48×48 crop of the sample LR scan (uint16, 8 nm pixels) as a file."""
    with read_stack(resource_path("sample", "sem_stack_lr.tif")) as stack:
        image = np.asarray(stack[0])[:48, :48]
    return write_stack(tmp_path / "crop.tif", image, pixel_size=8.0)


def _panel_with_zssr(make_napari_viewer, files=(), seconds=1):
    viewer = make_napari_viewer()
    for path in files:
        for data, kwargs, _kind in read_sem(str(path)):
            viewer.add_image(data, **kwargs)
    panel = SuperResolvePanel(viewer)
    viewer.window.add_dock_widget(panel, name="Super-resolve")
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    index = panel.model_combo.findData(ZSSR_MODEL)
    assert index >= 0 and panel.model_combo.itemText(index) == "ZSSR (trains on this image)"
    panel.model_combo.setCurrentIndex(index)
    panel.zssr_seconds.setValue(seconds)
    panel.zssr_scale.setValue(2)
    panel.zssr_ensemble.setChecked(False)
    return viewer, panel


def test_zssr_adds_a_layer_over_the_source_trained_on_it(make_napari_viewer, qtbot, crop):
    viewer, panel = _panel_with_zssr(make_napari_viewer, [crop])
    assert panel.zssr_box.isVisibleTo(panel) and not panel.adapt_spin.isEnabled()
    # ZSSR's own ensemble box (the median) replaces the trained models' one
    assert not panel.self_ensemble.isVisibleTo(panel)
    events = []
    panel._relay.event.connect(events.append)
    assert panel.run_button.isEnabled(), panel.status.text()
    qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.worker is None, timeout=120_000)
    sr = viewer.layers["crop [SR ×2]"]
    assert sr.data.shape == (96, 96) and sr.data.dtype == np.uint16
    assert tuple(sr.scale) == (4.0, 4.0)  # 8 nm ÷ 2
    assert sr.metadata["pixel_size_nm"] == 4.0
    record = sr.metadata["provenance"]
    assert record["model"]["name"] == "zssr" and record["model"]["scale"] == 2
    assert record["settings"]["zssr"]["max_seconds"] == 1.0
    stages = {e.data["stage"] for e in events if e.kind is EventKind.PROGRESS}
    assert stages == {"zssr training", "super-resolve"}
    # chosen back: a trained model's "adapt to image" is offered again, ZSSR's box hidden
    panel.model_combo.setCurrentIndex(0)
    assert panel.adapt_spin.isEnabled() and not panel.zssr_box.isVisibleTo(panel)
    assert panel.self_ensemble.isVisibleTo(panel)


def test_cancel_during_zssr_training_writes_no_file(make_napari_viewer, qtbot, crop,
                                                     tmp_path, notifications):
    _viewer, panel = _panel_with_zssr(make_napari_viewer, seconds=600)
    panel.files_mode.setChecked(True)
    out = tmp_path / "results"
    panel.inputs_edit.setText(str(crop))
    panel.output_edit.setText(str(out))

    def cancel_once_training(event):
        if (event.kind is EventKind.PROGRESS and event.data["stage"] == "zssr training"
                and panel.cancel_button.isEnabled()):
            qtbot.mouseClick(panel.cancel_button, Qt.LeftButton)

    panel._relay.event.connect(cancel_once_training)
    qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.worker is None, timeout=60_000)  # long before 600 s
    assert "cancelled" in panel.status.text()
    assert any("cancelled" in message for _severity, message in notifications)
    assert list(out.iterdir()) == []  # no result, no temporary file


def test_adapt_to_image_is_offered_only_for_models_that_name_their_measurement(
        make_napari_viewer, tiny_model_path):
    """A lab's own model (its card names no measurement) would be unteached by adapting
    (``zssr.NOT_ADAPTABLE``): the box is greyed out, says why, and a time left in it is
    not sent; the bundled model keeps the option."""
    viewer = make_napari_viewer()
    panel = SuperResolvePanel(viewer)
    viewer.window.add_dock_widget(panel, name="Super-resolve")
    panel.model_combo.setCurrentIndex(panel.model_combo.findText("default-x4 —",
                                                                 Qt.MatchStartsWith))
    assert panel.adapt_spin.isEnabled() and panel.adapt_spin.toolTip() != NOT_ADAPTABLE_TIP
    panel.adapt_spin.setValue(20)
    assert panel.settings().adapt_seconds == 20.0
    panel.add_model_file(tiny_model_path)
    assert not panel.adapt_spin.isEnabled()
    assert panel.adapt_spin.toolTip() == NOT_ADAPTABLE_TIP
    assert panel.settings().adapt_seconds == 0.0
    panel.refresh_models()  # the list read again keeps what the opened file allows
    assert panel.model_path() == str(tiny_model_path) and not panel.adapt_spin.isEnabled()
    panel.model_combo.setCurrentIndex(panel.model_combo.findText("default-x4 —",
                                                                 Qt.MatchStartsWith))
    assert panel.adapt_spin.isEnabled() and panel.settings().adapt_seconds == 20.0
