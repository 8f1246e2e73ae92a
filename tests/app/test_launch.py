"""`semsr gui FILES`: napari opens with the panel docked and the files read by semsr."""

from __future__ import annotations

import numpy as np
import pytest

from semsr_app.launch import open_viewer
from semsr_app.widgets.super_resolve import SuperResolvePanel
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
    assert "Super-resolve" in viewer.window.dock_widgets
    assert panel.layer_combo.currentText() == "sem_stack_lr"
    assert any("broken.tif" in m for severity, m in notifications if severity == "error")


@needs_display
def test_napari_plugins_menu_opens_the_panel(make_napari_viewer):
    from semsr_app.launch import ensure_plugin_registered

    ensure_plugin_registered()
    viewer = make_napari_viewer()
    _dock, widget = viewer.window.add_plugin_dock_widget("semsr", "Super-resolve")
    assert isinstance(widget, SuperResolvePanel)
    viewer.add_image(np.zeros((8, 8), np.uint16), name="scan")
    assert widget.layer_combo.currentText() == "scan"  # it follows this viewer's layers
