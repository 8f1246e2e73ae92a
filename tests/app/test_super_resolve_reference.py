"""The Super-resolve panel with a reference-based model (MASA-SR): a Reference layer
row shown only for such models, its image passed to the engine, and Run refused with
what to do while no reference is chosen."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from semsr_app.widgets.super_resolve import SuperResolvePanel

from .conftest import needs_display

pytestmark = [pytest.mark.gui, needs_display]


@pytest.fixture
def tiny_masa_path(tmp_path):
    """A tiny untrained MASA-SR ×4 model saved as a .semsr file; its modulation (SAM)
    starts away from zero so that its output depends on the reference."""
    import torch

    from semsr_core.models import Model

    torch.manual_seed(0)
    model = Model.create("masa", scale=4, features=8, encoder_blocks=1, decoder_blocks=1,
                         fusion_blocks=[1, 1, 1], name="tiny-masa")
    for sam in model.generator.sam:
        torch.nn.init.normal_(sam.gamma.weight, std=0.1)
    return model.save(tmp_path / "tiny-masa.semsr")


def _viewer_with_images(make_napari_viewer, rng):
    viewer = make_napari_viewer()
    viewer.add_image(rng.integers(0, 60000, size=(32, 40), dtype=np.uint16), name="scan")
    for name in ("texture a", "texture b"):
        viewer.add_image(rng.integers(0, 60000, size=(96, 96), dtype=np.uint16), name=name)
    panel = SuperResolvePanel(viewer)
    viewer.window.add_dock_widget(panel, name="Super-resolve")
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    panel.layer_combo.setCurrentText("scan")
    return viewer, panel


def _run_and_wait(qtbot, panel):
    assert panel.run_button.isEnabled(), panel.status.text()
    qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    assert panel.worker is not None
    qtbot.waitUntil(lambda: panel.worker is None, timeout=60_000)


def test_the_reference_row_is_shown_only_for_reference_based_models(
        make_napari_viewer, rng, tiny_model_path, tiny_masa_path):
    _viewer, panel = _viewer_with_images(make_napari_viewer, rng)
    panel.add_model_file(tiny_model_path)
    assert panel.reference_box.isHidden()
    panel.model_combo.setCurrentIndex(panel.model_combo.findText("default-x4 —",
                                                                 Qt.MatchStartsWith))
    assert panel.reference_box.isHidden() and panel.adapt_spin.isEnabled()
    panel.add_model_file(tiny_masa_path)
    assert not panel.reference_box.isHidden()
    assert not panel.adapt_spin.isEnabled()  # a reference-based model is not adapted
    names = [panel.reference_combo.itemText(i) for i in range(panel.reference_combo.count())]
    assert names == ["scan", "texture a", "texture b"]
    assert panel.reference_combo.currentIndex() == -1  # never guessed for the user


def test_masa_runs_with_the_chosen_reference_and_is_refused_without_one(
        make_napari_viewer, qtbot, rng, tiny_masa_path, notifications):
    viewer, panel = _viewer_with_images(make_napari_viewer, rng)
    panel.add_model_file(tiny_masa_path)
    assert not panel.run_button.isEnabled()
    assert "Reference layer" in panel.status.text()
    panel.run()  # (e.g. from a shortcut) refused with what to do, no job started
    assert panel.worker is None
    assert any(severity == "error" and "Reference layer" in message
               for severity, message in notifications)
    assert "scan [SR ×4]" not in viewer.layers

    results = {}
    for reference in ("texture a", "texture b"):
        panel.reference_combo.setCurrentText(reference)
        _run_and_wait(qtbot, panel)
        sr = viewer.layers["scan [SR ×4]"]
        assert sr.data.shape == (128, 160) and sr.data.dtype == np.uint16
        assert sr.metadata["provenance"]["settings"]["reference"] == f"layer {reference}"
        results[reference] = sr.data.astype(np.int64)
        viewer.layers.remove(sr)
    # the reference reached the network: another texture, another result
    assert np.abs(results["texture a"] - results["texture b"]).max() > 0
