"""semsr as a napari plugin inside a running viewer: its manifest's registration, and
finding or showing its docks.

Panels use this module (the training monitor offers a trained model to the
Super-resolve panel it finds or docks here); :mod:`semsr_app.launch`, which builds the
whole window out of the panels, uses it too. It imports no panel at module level and
never :mod:`semsr_app.launch`, so no panel depends on the window that contains it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PLUGIN_NAME = "semsr"
MANIFEST = Path(__file__).with_name("napari.yaml")


def ensure_plugin_registered() -> None:
    """Register the semsr manifest with napari's plugin manager if discovery missed it
    (a source checkout not installed with pip), so menus and readers offer semsr."""
    from npe2 import PluginManager, PluginManifest

    manager = PluginManager.instance()
    if PLUGIN_NAME not in manager:
        manager.register(PluginManifest.from_file(MANIFEST))


def show_dock(viewer: Any, name: str) -> None:
    """Bring the tab of dock ``name`` to the front."""
    widget = viewer.window.dock_widgets[name]
    dock = getattr(widget, "native", widget).parent()
    if dock is not None:
        dock.show()
        dock.raise_()


def super_resolve_panel(viewer: Any) -> Any:
    """The Super-resolve panel docked in ``viewer`` (docked now if there is none)."""
    from semsr_app.widgets.super_resolve import SuperResolvePanel

    for widget in viewer.window.dock_widgets.values():
        if isinstance(widget, SuperResolvePanel):
            return widget
    ensure_plugin_registered()
    _dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Super-resolve",
                                                         tabify=True)
    return widget
