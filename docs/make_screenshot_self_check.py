"""Screenshot of the Super-resolve panel after the self-check left out part of the
network's change, for the README tour.

scikit-image's clean, smooth fluorescence `cell` (centre 256², bicubic-reduced ×4,
saved as a uint16 TIFF) is super-resolved with the bundled default-x4 and the guard
as it is by default; the panel's last line says how much of the model's change was
kept. Source, result and disagreement map are shown in napari's grid.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshot_self_check.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

DOCS = Path(__file__).parent


def main() -> int:
    import skimage.data
    from qtpy.QtWidgets import QApplication

    from semsr_app.launch import fit_window, open_viewer, prefer_semsr_reader
    from semsr_core.data.degrade import bicubic
    from semsr_core.io import write_stack

    sys.path.insert(0, str(DOCS))
    from make_screenshot_first_hour import settle

    cell = skimage.data.cell().astype(np.float32) / 255.0
    top, left = (cell.shape[0] - 256) // 2, (cell.shape[1] - 256) // 2
    lr = bicubic(cell[top:top + 256, left:left + 256], 4)
    scan = Path(tempfile.mkdtemp()) / "cell_lr.tif"
    write_stack(scan, np.round(np.clip(lr, 0, 1) * 65535).astype(np.uint16))
    prefer_semsr_reader()
    viewer, panel = open_viewer([scan])
    fit_window(viewer)
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    panel.adapt_spin.setValue(0)
    viewer.layers.selection.active = viewer.layers["cell_lr"]
    panel.run_button.click()
    settle(0.5, until=lambda: panel.worker is None, timeout=600)
    viewer.grid.enabled = True
    viewer.grid.stride = 1
    viewer.reset_view()
    settle(1.5)
    viewer.window._qt_window.grab().save(str(DOCS / "screenshot_self_check.png"))
    print(panel.status.text())
    viewer.close()
    QApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
