"""`semsr gui FILES`: napari opens with the panel docked and the files read by semsr."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QWizard

from semsr_app.launch import open_viewer
from semsr_app.widgets.compare import ComparePanel
from semsr_app.widgets.export import ExportPanel
from semsr_app.widgets.super_resolve import SuperResolvePanel
from semsr_app.widgets.training_monitor import TrainingMonitor
from semsr_core.cli import build_parser
from semsr_core.resources import resource_path

from .conftest import needs_display

pytestmark = pytest.mark.gui


def test_semsr_gui_takes_files():
    args = build_parser().parse_args(["gui", "a.tif", "b.tif"])
    assert args.command == "gui" and args.files == ["a.tif", "b.tif"]


@needs_display
def test_gui_opens_files_docks_panel_and_reports_unreadable_files(
        make_napari_viewer, notifications, tmp_path):
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00 nope")
    lr = resource_path("sample", "sem_stack_lr.tif")
    viewer, panel = open_viewer([lr, broken], viewer=make_napari_viewer())
    assert [layer.name for layer in viewer.layers] == ["sem_stack_lr"]
    assert tuple(viewer.layers[0].scale) == (1.0, 8.0, 8.0)
    assert isinstance(panel, SuperResolvePanel)
    docks = viewer.window.dock_widgets
    assert {"Super-resolve", "Training", "Compare", "Export"} <= set(docks)
    assert isinstance(docks["Training"], TrainingMonitor)
    assert isinstance(docks["Compare"], ComparePanel)
    assert isinstance(docks["Export"], ExportPanel)
    assert panel.layer_combo.currentText() == "sem_stack_lr"
    assert any("broken.tif" in m for severity, m in notifications if severity == "error")


@needs_display
def test_the_first_file_opened_is_the_one_to_super_resolve(make_napari_viewer):
    """`semsr demo` opens LR, SR and HR: Run must enlarge the LR, not the last layer."""
    lr, hr = (resource_path("sample", f"sem_stack_{k}.tif") for k in ("lr", "hr"))
    viewer, panel = open_viewer([lr, hr], viewer=make_napari_viewer())
    assert [layer.name for layer in viewer.layers] == ["sem_stack_lr", "sem_stack_hr"]
    assert panel.layer_combo.currentText() == "sem_stack_lr"


@needs_display
def test_napari_plugins_menu_opens_the_panel(make_napari_viewer):
    from semsr_app.launch import ensure_plugin_registered

    ensure_plugin_registered()
    viewer = make_napari_viewer()
    _dock, widget = viewer.window.add_plugin_dock_widget("semsr", "Super-resolve")
    assert isinstance(widget, SuperResolvePanel)
    viewer.add_image(np.zeros((8, 8), np.uint16), name="scan")
    assert widget.layer_combo.currentText() == "scan"  # it follows this viewer's layers


@needs_display
@pytest.mark.parametrize(("name", "kind"), [("Training", TrainingMonitor),
                                            ("Compare", ComparePanel), ("Export", ExportPanel)])
def test_every_semsr_panel_opens_from_napari_plugins_menu(make_napari_viewer, name, kind):
    from semsr_app.launch import ensure_plugin_registered

    ensure_plugin_registered()
    viewer = make_napari_viewer()
    _dock, widget = viewer.window.add_plugin_dock_widget("semsr", name)
    assert isinstance(widget, kind)
    viewer.add_image(np.zeros((8, 8), np.uint16), name="scan")
    assert [layer.name for layer in widget.viewer.layers] == ["scan"]  # this viewer's


@needs_display
def test_a_training_started_from_the_wizard_runs_in_the_monitor_and_its_model_is_offered(
        make_napari_viewer, qtbot, unaligned, tmp_path):
    """The whole path a user takes: Training ▸ New training… ▸ wizard pages ▸ Start
    training; the monitor plots the run, and the finished model is selected in the
    Super-resolve panel."""
    from .test_wizard import TINY_FINETUNE, _align, _fill_data, _next

    viewer, panel = open_viewer(viewer=make_napari_viewer())
    monitor = viewer.window.dock_widgets["Training"]
    wizard = monitor.open_wizard()
    try:
        _fill_data(wizard, unaligned / "lr", unaligned / "hr")
        _align(qtbot, wizard)
        _next(qtbot, wizard)
        qtbot.waitUntil(lambda: wizard.aug_page.pairs is not None, timeout=30_000)
        _next(qtbot, wizard)
        assert wizard.recipe_page.recipe() == "finetune"  # the default for a few pairs
        for key, value in TINY_FINETUNE.items():
            wizard.recipe_page.set_value(key, value)
        _next(qtbot, wizard)
        wizard.run_page.run_edit.setText(str(tmp_path / "run"))
        combo = wizard.run_page.device_combo
        combo.setCurrentIndex(combo.findData("cpu"))
        qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.LeftButton)
        assert monitor.running
        qtbot.waitUntil(lambda: not monitor.running, timeout=120_000)
    finally:
        wizard.close()
    model = tmp_path / "run" / "model.semsr"
    assert model.is_file()
    assert monitor.history.ended and monitor.history.step == 2
    assert monitor.history.verdict["status"] == "better than bicubic"
    assert not monitor.verdict_label.isHidden()
    assert panel.model_path() == str(model)


@needs_display
def test_in_plain_napari_a_trained_model_is_offered_in_a_super_resolve_panel_docked_for_it(
        make_napari_viewer, tiny_model_path):
    """The monitor opened from the Plugins menu has no panel wired to it: offering the
    model docks semsr's Super-resolve panel and selects the model there."""
    from semsr_app.launch import ensure_plugin_registered

    ensure_plugin_registered()
    viewer = make_napari_viewer()
    _dock, monitor = viewer.window.add_plugin_dock_widget("semsr", "Training")
    assert not any(isinstance(w, SuperResolvePanel) for w in viewer.window.dock_widgets.values())
    assert monitor._offer_model(str(tiny_model_path))
    panels = [w for w in viewer.window.dock_widgets.values() if isinstance(w, SuperResolvePanel)]
    assert len(panels) == 1 and panels[0].model_path() == str(tiny_model_path)
    assert monitor._offer_model(str(tiny_model_path))  # the same panel again, not a second one
    assert sum(isinstance(w, SuperResolvePanel)
               for w in viewer.window.dock_widgets.values()) == 1


@needs_display
def test_export_panel_saves_a_trained_model_for_sharing_and_never_overwrites_silently(
        make_napari_viewer, tiny_model_path, tmp_path, notifications):
    import torch

    from semsr_core.models import load_model

    viewer, panel = open_viewer(viewer=make_napari_viewer())
    panel.add_model_file(tiny_model_path)  # what the monitor does when a run ends
    export = viewer.window.dock_widgets["Export"]
    export.refresh_models()
    offered = [export.model_combo.itemData(i) for i in range(export.model_combo.count())]
    assert str(tiny_model_path) in offered
    assert any(path.endswith("default-x4.semsr") for path in offered)
    export.model_combo.setCurrentIndex(offered.index(str(tiny_model_path)))
    dest = tmp_path / "shared" / "wafer.semsr"
    dest.parent.mkdir()
    assert export.export_model_to(dest) == dest
    saved, original = load_model(dest), load_model(tiny_model_path)
    assert saved.card.name == original.card.name == "tiny"
    a, b = saved.generator.state_dict(), original.generator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in b)

    before = dest.read_bytes()
    assert export.export_model_to(dest) is None  # exists, and replacing was not asked for
    assert dest.read_bytes() == before
    assert any("already exists" in m for severity, m in notifications if severity == "error")


_READER_PREFERENCE = r"""
import json, sys
import napari
from napari.settings import get_settings
from semsr_app.launch import ensure_plugin_registered, prefer_semsr_reader
ensure_plugin_registered()
prefer_semsr_reader()
viewer = napari.Viewer(show=False)
[layer] = viewer.open(sys.argv[1], plugin=None)  # as File > Open: the preference decides
get_settings().appearance.theme = "light"  # any change makes napari save its settings
print(json.dumps({"scale": list(layer.scale),
                  "readers": get_settings().plugins.extension2reader}))
viewer.close()
"""


@needs_display
def test_semsr_gui_makes_semsr_the_tiff_reader_for_its_session_only(tmp_path):
    """With two readers for TIFF napari asks, preselecting "napari builtins" (no pixel
    size); in `semsr gui` semsr's reader is napari's preference for TIFF, and plain
    napari's saved preferences are left as the user made them."""
    import json
    import os
    import subprocess
    import sys

    config = tmp_path / "napari" / "settings.yaml"
    config.parent.mkdir()
    config.write_text("schema_version: 0.9.0\nplugins:\n  extension2reader:\n"
                      "    '*.czi': another-plugin\n")
    env = {**os.environ, "NAPARI_CONFIG": str(config), "QT_QPA_PLATFORM": "offscreen"}
    lr = resource_path("sample", "sem_stack_lr.tif")
    run = subprocess.run([sys.executable, "-c", _READER_PREFERENCE, str(lr)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["scale"] == [1.0, 8.0, 8.0]  # semsr's reader: the 8 nm pixel size
    assert result["readers"]["*.tif"] == "semsr" and result["readers"]["*.czi"] == \
        "another-plugin"
    saved = config.read_text()
    assert "theme: light" in saved and "another-plugin" in saved and "semsr" not in saved


@needs_display
def test_plain_napari_preselects_semsrs_reader_for_an_sem_tiff(make_napari_viewer):
    from napari._qt.dialogs.qt_reader_dialog import QtReaderDialog, prepare_remaining_readers

    from semsr_app.launch import ensure_plugin_registered

    ensure_plugin_registered()
    make_napari_viewer()
    lr = str(resource_path("sample", "sem_stack_lr.tif"))
    readers = prepare_remaining_readers([lr])
    assert "semsr" in readers and len(readers) > 1  # napari would ask
    dialog = QtReaderDialog(pth=lr, readers=readers)
    assert dialog._get_plugin_choice() == readers["semsr"] == "SEM super-resolution: semsr"
    dialog.deleteLater()


@needs_display
def test_the_first_window_fits_the_screen_and_shows_all_the_data(make_napari_viewer, qtbot):
    from qtpy.QtWidgets import QApplication

    from semsr_app.launch import WINDOW_FRACTION, fit_window

    lr = resource_path("sample", "sem_stack_lr.tif")
    viewer, _panel = open_viewer([lr], viewer=make_napari_viewer(show=True))
    fit_window(viewer)
    qtbot.wait(50)
    QApplication.processEvents()
    window = viewer.window._qt_window
    area = window.screen().availableGeometry()
    for size, free, least in ((window.width(), area.width(), window.minimumWidth()),
                              (window.height(), area.height(), window.minimumHeight())):
        assert abs(size - max(int(free * WINDOW_FRACTION), least)) <= 4  # Qt's rounding
    height, width = viewer.window._qt_viewer.canvas.size  # the canvas, in screen pixels
    (_, top, left), (_, bottom, right) = viewer.layers[0].extent.world
    zoom = viewer.camera.zoom  # screen pixels per nm
    assert (right - left) * zoom <= width + 1 and (bottom - top) * zoom <= height + 1
    assert (right - left) * zoom >= 0.8 * width or (bottom - top) * zoom >= 0.8 * height
