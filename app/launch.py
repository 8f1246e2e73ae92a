"""``semsr gui``: napari with semsr's panels docked and SEM files opened.

:func:`open_viewer` builds the window (also used by tests and the screenshot
script); :func:`launch` shows it and runs the Qt event loop; :func:`main` is the
entry of ``python -m semsr_app.widgets.X`` for the panels that open in the whole
window (Super-resolve, Compare, Export). The panels, tabbed on the right:
Super-resolve, Training (the monitor, whose "New training…" opens the training
wizard), Compare and Export. This module imports the panels; no panel imports it
(what they need of the running plugin is in :mod:`semsr_app.plugin`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from semsr_app.plugin import (  # noqa: F401 - importable from here as before
    MANIFEST,
    PLUGIN_NAME,
    ensure_plugin_registered,
    show_dock,
    super_resolve_panel,
)


def open_viewer(files: Sequence[str | os.PathLike] = (), *, show: bool = True,
                viewer: Any = None) -> tuple[Any, Any]:
    """A napari viewer titled semsr (or ``viewer``) with semsr's panels docked and
    ``files`` opened with semsr's reader. A file that cannot be read becomes an error
    notification; the others still open. Returns (viewer, Super-resolve panel); the
    other panels are ``viewer.window.dock_widgets["Training" | "Compare" | "Export"]``.
    """
    import napari
    from napari.utils.notifications import show_error

    from semsr_app.reader import read_sem
    from semsr_app.widgets.compare import ComparePanel
    from semsr_app.widgets.export import ExportPanel
    from semsr_app.widgets.super_resolve import SuperResolvePanel
    from semsr_app.widgets.training_monitor import TrainingMonitor
    from semsr_core.errors import SemsrError

    ensure_plugin_registered()
    if viewer is None:
        viewer = napari.Viewer(title="semsr", show=show)
    opened = []
    for path in files:
        try:
            layers = read_sem(str(path))
        except SemsrError as exc:
            show_error(str(exc))
            continue
        opened += [viewer.add_image(data, **kwargs) for data, kwargs, _kind in layers]
    if opened:  # the first file given is the one to work on (semsr demo: LR, SR, HR)
        viewer.layers.selection.active = opened[0]
    panel = SuperResolvePanel(viewer)
    monitor = TrainingMonitor(viewer, on_model=panel.add_model_file)
    window = viewer.window
    window.add_dock_widget(panel, name="Super-resolve", area="right")
    window.add_dock_widget(monitor, name="Training", area="right", tabify=True)
    window.add_dock_widget(ComparePanel(viewer), name="Compare", area="right", tabify=True)
    window.add_dock_widget(ExportPanel(viewer), name="Export", area="right", tabify=True)
    show_dock(viewer, "Super-resolve")
    return viewer, panel


TIFF_PATTERNS = ("*.tif", "*.tiff", "*.TIF", "*.TIFF")
WINDOW_FRACTION = 0.92  # of the screen's free area, for a window without a saved size


def prefer_semsr_reader() -> None:
    """Make semsr's reader the one napari uses for TIFF files, for this session.

    Where two plugins can read a file, napari asks which to use and preselects the
    first by name; "napari builtins" drops the pixel size, so HR and SR layers appear
    at the wrong physical size. ``semsr gui`` sets napari's reader preference
    (``plugins.extension2reader``, Preferences ▸ Plugins) for TIFF to semsr, keeping
    the user's preferences for other extensions. The value is entered as napari's
    environment settings are, which napari never writes to its settings file: plain
    napari keeps the user's own choice.
    """
    from napari.settings import get_settings

    settings = get_settings()
    merged = {**settings.plugins.extension2reader, **dict.fromkeys(TIFF_PATTERNS, PLUGIN_NAME)}
    settings.env_settings.setdefault("plugins", {})["extension2reader"] = merged
    settings.plugins.extension2reader = merged


def has_saved_window_size() -> bool:
    """Whether napari will restore a window size the user left (checked before showing)."""
    from napari.settings import get_settings

    app = get_settings().application
    return bool(app.save_window_geometry and not app.first_time and app.window_size)


def fit_window(viewer: Any, *, resize: bool = True) -> None:
    """Size the window to fit the screen and zoom the canvas to show all the data.

    Without a saved size (``resize``) the window takes :data:`WINDOW_FRACTION` of the
    screen's free area, centred; napari's own first size (its layout's size hint,
    about 1089×822) leaves the canvas a narrow strip beside the panels and crops the
    image. A saved size is kept, only shrunk to the screen. Then the view is reset
    (now, and once more when the event loop has laid the window out).
    """
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    window = viewer.window._qt_window
    screen = window.screen() or QApplication.primaryScreen()
    if screen is not None:
        area = screen.availableGeometry()
        if resize:
            width = int(area.width() * WINDOW_FRACTION)
            height = int(area.height() * WINDOW_FRACTION)
        else:
            width, height = min(window.width(), area.width()), min(window.height(), area.height())
        window.resize(width, height)
        window.move(area.x() + (area.width() - width) // 2,
                    area.y() + (area.height() - height) // 2)
    QApplication.processEvents()
    viewer.reset_view()
    QTimer.singleShot(0, viewer.reset_view)


def launch(files: Sequence[str | os.PathLike] = (), *, grid: bool = False) -> int:
    """Open the semsr window with ``files`` and run until it is closed; ``grid`` shows
    the layers side by side (e.g. LR, SR and HR) instead of on top of each other.

    semsr's reader is napari's choice for TIFF in this session
    (:func:`prefer_semsr_reader`), and the window fits the screen with the data zoomed
    to fit (:func:`fit_window`)."""
    import napari

    prefer_semsr_reader()
    saved_size = has_saved_window_size()
    viewer, _panel = open_viewer(files)
    viewer.grid.enabled = grid
    fit_window(viewer, resize=not saved_size)
    napari.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Open semsr's window with the files named on the command line (or ``argv``)."""
    return launch(sys.argv[1:] if argv is None else argv)
