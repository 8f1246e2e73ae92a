"""Screenshot of the Super-resolve panel for the docs: `semsr gui` on the sample stack
with the bundled default-x4 model, Run clicked, LR and SR side by side. Run under a
display, e.g.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshot.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from qtpy.QtWidgets import QApplication

from semsr_app.launch import open_viewer
from semsr_core.resources import resource_path

OUT = Path(__file__).with_name("screenshot_super_resolve.png")


def main() -> int:
    lr = resource_path("sample", "sem_stack_lr.tif")
    viewer, panel = open_viewer([lr])
    viewer.window._qt_window.resize(1500, 950)
    panel.add_model_file(resource_path("models", "default-x4.semsr"))
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    panel.run_button.click()
    while panel.worker is not None:
        QApplication.processEvents()
    grid_screenshot(viewer, OUT)
    return 0


def grid_screenshot(viewer, out: Path) -> None:
    """The layers side by side (same physical size) at the stack's second slice, the
    whole window saved to ``out``, the viewer closed."""
    viewer.grid.enabled = True
    viewer.dims.set_point(0, 1)
    viewer.reset_view()
    for _ in range(20):
        QApplication.processEvents()
    viewer.screenshot(str(out), canvas_only=False)
    print(f"wrote {out}")
    viewer.close()


if __name__ == "__main__":
    sys.exit(main())
