"""Screenshots of the Compare panel for the docs: the bundled sample stack, its SR by the
bundled default-x4 model, HR laid over them; side by side with gradient maps and a line
profile (LR bicubic ↑), zoomed in with LR nearest, then the panel in "reference HR"
mode. Run under a display, e.g.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshot_compare.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import napari
import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication

from semsr_app.jobs import LayerSource, SuperResolveSettings, super_resolve_layer
from semsr_app.sample_data import sem_stack
from semsr_app.widgets.compare import ComparePanel

DOCS = Path(__file__).parent


def settle(panel: ComparePanel | None = None, seconds: float = 60.0) -> None:
    """Let Qt draw, and the panel's worker finish."""
    end = time.time() + seconds
    while panel is not None and panel.busy and time.time() < end:
        QApplication.processEvents()
        time.sleep(0.01)
    for _ in range(30):
        QApplication.processEvents()
        time.sleep(0.01)


def main() -> int:
    viewer = napari.Viewer(title="semsr — compare")
    viewer.window._qt_window.resize(1600, 1000)
    for data, kwargs, _kind in sem_stack():
        viewer.add_image(data, **kwargs)
    lr = viewer.layers["SEM stack LR"]
    source = LayerSource(name=lr.name, data=lr.data, scale=tuple(lr.scale),
                         translate=tuple(lr.translate), units=tuple(lr.units),
                         metadata=dict(lr.metadata))
    data, kwargs, _ = super_resolve_layer(source, "default-x4", SuperResolveSettings())
    viewer.add_image(data, **kwargs)
    viewer.dims.set_point(0, 1)
    panel = ComparePanel(viewer)
    dock = viewer.window.add_dock_widget(panel, name="Compare", area="right")
    viewer.window._qt_window.resizeDocks([dock], [440], Qt.Horizontal)
    settle(panel)
    panel.bicubic.setChecked(True)
    panel.gradients.setChecked(True)
    settle(panel)
    panel.side_button.click()
    profile = panel.start_profile()
    profile.add_lines(np.array([[300.0, 120.0], [300.0, 420.0]]))
    profile.mode = "pan_zoom"
    viewer.layers.selection.active = viewer.layers["SEM stack LR [SR ×4]"]
    settle(panel)
    viewer.reset_view()
    settle()
    viewer.screenshot(str(DOCS / "screenshot_compare.png"), canvas_only=False)
    panel.nearest.setChecked(True)  # LR as its own pixels
    settle(panel)
    camera = viewer.scene.camera
    camera.zoom *= 2.5
    camera.center = (camera.center[0], 300.0, 270.0)
    settle()
    viewer.screenshot(str(DOCS / "screenshot_compare_zoom.png"), canvas_only=False)
    panel.reference_hr.setChecked(True)
    settle(panel)
    panel.grab().save(str(DOCS / "screenshot_compare_reference_hr.png"))
    print("wrote", *sorted(p.name for p in DOCS.glob("screenshot_compare*.png")))
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
