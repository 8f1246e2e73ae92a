"""Screenshots of what a newcomer meets first (issue 19), for the docs:

- ``screenshot_first_window.png``: ``semsr gui`` on the sample stack as it opens: the
  window sized to the screen, the image zoomed to fit (the whole screen is grabbed);
- ``screenshot_super_resolve_progress.png``: the Super-resolve panel during a run,
  its bar counting tiles ("1 of 4 tiles");
- ``screenshot_training_idle.png``: the Training tab before any run;
- ``screenshot_compare_extent_mismatch.png``: Compare with an HR opened without its
  pixel size (as napari's builtin reader does): not "aligned", and why;
- ``screenshot_reader_dialog.png``: plain napari's reader choice for an SEM TIFF,
  semsr's reader preselected.

Run under a display without a window manager, as a first-time user on a bare X
server sees it:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshot_first_hour.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).parent


def settle(seconds: float = 0.5, until=None, timeout: float = 120.0) -> None:
    """Let Qt draw (and wait for ``until()`` to become true)."""
    from qtpy.QtWidgets import QApplication

    end = time.time() + timeout
    while until is not None and not until() and time.time() < end:
        QApplication.processEvents()
        time.sleep(0.01)
    end = time.time() + seconds
    while time.time() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def grab_screen(path: Path) -> None:
    from qtpy.QtWidgets import QApplication

    screen = QApplication.primaryScreen()
    screen.grabWindow(0).save(str(path))


def main() -> int:
    import os

    # a fresh napari profile: no saved window size, as on a first start
    os.environ.setdefault("NAPARI_CONFIG", str(Path(tempfile.mkdtemp()) / "settings.yaml"))
    from qtpy.QtWidgets import QApplication

    from semsr_app.launch import fit_window, open_viewer, prefer_semsr_reader, show_dock
    from semsr_core.events import EventKind
    from semsr_core.resources import resource_path

    lr, hr = (resource_path("sample", f"sem_stack_{k}.tif") for k in ("lr", "hr"))

    # plain napari's reader dialog for an SEM TIFF (before semsr gui's preference)
    from napari._qt.dialogs.qt_reader_dialog import QtReaderDialog, prepare_remaining_readers
    from napari._qt.qt_event_loop import get_qapp
    from napari.plugins import _initialize_plugins

    from semsr_app.launch import ensure_plugin_registered

    get_qapp()
    _initialize_plugins()  # napari builtins, as a viewer would register them
    ensure_plugin_registered()
    dialog = QtReaderDialog(pth=str(lr), readers=prepare_remaining_readers([str(lr)]))
    dialog.show()
    settle(0.5)
    dialog.grab().save(str(DOCS / "screenshot_reader_dialog.png"))
    dialog.close()

    prefer_semsr_reader()  # as semsr gui does
    viewer, panel = open_viewer([lr])
    fit_window(viewer)
    settle(1.0)
    grab_screen(DOCS / "screenshot_first_window.png")

    # Super-resolve: the bar during the run
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    shot = DOCS / "screenshot_super_resolve_progress.png"

    def on_event(event):
        if event.kind is EventKind.PROGRESS and event.data.get("done") == 1 \
                and not shot.exists():
            settle(0.2)
            viewer.window._qt_window.grab().save(str(shot))

    shot.unlink(missing_ok=True)
    panel._relay.event.connect(on_event)
    panel.run_button.click()
    settle(0.5, until=lambda: panel.worker is None, timeout=600)

    # Training tab before any run
    show_dock(viewer, "Training")
    settle(1.0)
    viewer.window._qt_window.grab().save(str(DOCS / "screenshot_training_idle.png"))

    # Compare with an HR that lost its pixel size (napari's builtin reader)
    import tifffile

    viewer.add_image(tifffile.imread(hr), name="sem_stack_hr (napari builtins)")
    compare = viewer.window.dock_widgets["Compare"]
    show_dock(viewer, "Compare")
    compare.choose("sem_stack_lr", "sem_stack_lr [SR ×4]", "sem_stack_hr (napari builtins)")
    settle(1.0, until=lambda: not compare.busy)
    viewer.window._qt_window.grab().save(str(DOCS / "screenshot_compare_extent_mismatch.png"))
    print(compare.metrics_label.text()[:300])

    print("wrote", *sorted(p.name for p in DOCS.glob("screenshot_*.png")
                           if p.stat().st_mtime > time.time() - 900))
    viewer.close()
    QApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
