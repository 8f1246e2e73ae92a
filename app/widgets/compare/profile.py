"""The Compare panel's line profile: LR, SR and HR intensity along a line drawn on the image.

:class:`ProfileTool` (a part of :class:`~semsr_app.widgets.compare.ComparePanel`, a
mixin using the panel's ``viewer``, ``layer(role)``, ``views`` and the geometry of the
last comparison) adds the "profile" shapes layer, keeps a copy of the line in every
grid cell (edits go both ways), and plots the three intensities along the last line
drawn, sampled every SR/HR pixel, in world units.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Shapes
from qtpy.QtWidgets import QGroupBox, QPushButton, QVBoxLayout

from semsr_app.comparison import PlaneGeometry, profile_points, sample_profile
from semsr_app.widgets.compare.grid import DERIVED_KEY, ROLES

PROFILE_NAME = "profile"
CURVE_COLOURS = {"LR": (90, 160, 255), "SR": (255, 150, 40), "HR": (80, 210, 120)}
LINE_COLOUR = "yellow"


class ProfileTool:
    """Draw a profile line and plot LR, SR and HR along it (mixed into the Compare panel)."""

    def _build_profile(self) -> QGroupBox:
        """The "Line profile" box: its button and the plot (``self.plot``, ``self.curves``)."""
        profile_box = QGroupBox("Line profile")
        profile = QVBoxLayout(profile_box)
        self.profile_button = QPushButton("Draw profile line")
        self.profile_button.setToolTip("Adds a 'profile' shapes layer: drag a line across "
                                       "an edge; the last line drawn is plotted")
        self.profile_button.clicked.connect(self.start_profile)
        profile.addWidget(self.profile_button)
        self.plot = _profile_plot()
        self.curves = {role: self.plot.plot([], [], name=role,
                                            pen=_pen(CURVE_COLOURS[role]), connect="finite")
                       for role in ROLES}
        profile.addWidget(self.plot)
        return profile_box

    def _profile_layer(self) -> Shapes | None:
        layer = self._derived.get("profile")
        return layer if layer is not None and layer in self.viewer.layers else None

    def start_profile(self) -> Shapes:
        """Add (or select) the 'profile' shapes layer in line-drawing mode."""
        layer = self._profile_layer()
        if layer is None:
            sr = self.layer("SR")
            extent = float(np.ptp(np.asarray(sr.extent.world)[:, -1])) if sr else 100.0
            self._line_width = max(extent / 150, 1e-6)
            layer = self.viewer.add_shapes(
                ndim=2, name=PROFILE_NAME, shape_type="line", edge_color=LINE_COLOUR,
                edge_width=self._line_width, face_color="transparent",
                units=tuple(sr.units[-2:]) if sr else None,
                metadata={DERIVED_KEY: "profile"})
            layer.current_edge_color = LINE_COLOUR
            layer.current_edge_width = self._line_width
            self._derived["profile"] = layer
            layer.events.data.connect(self._on_line_changed)
            if self.side_by_side:
                self._arrange()
        self.viewer.layers.selection.active = layer
        layer.mode = "add_line"
        self.status.setText("Drag a line across an edge; the last line drawn is plotted.")
        return layer

    def _marker(self, cell: str, profile: Shapes) -> Shapes:
        """A copy of the profile line for another grid cell (edits go both ways)."""
        key = f"marker:{cell}"
        layer = self._derived.get(key)
        if layer is None or layer not in self.viewer.layers:
            layer = self.viewer.add_shapes(
                list(profile.data), ndim=2, name=f"{PROFILE_NAME} ({cell})",
                shape_type=list(profile.shape_type) or "line", edge_color=LINE_COLOUR,
                edge_width=self._line_width,
                face_color="transparent", units=tuple(profile.units),
                metadata={DERIVED_KEY: key})
            layer.events.data.connect(self._on_line_changed)
            self._derived[key] = layer
        return layer

    def _on_line_changed(self, event: Any = None) -> None:
        if self._syncing or not self._alive():
            return
        source = getattr(event, "source", None) or self._profile_layer()
        self._syncing = True
        try:
            shapes = list(zip(source.data, source.shape_type, strict=True))
            for key, layer in list(self._derived.items()):
                if (key == "profile" or key.startswith("marker:")) and layer is not source:
                    layer.data = shapes
                    if shapes:
                        layer.edge_color = LINE_COLOUR
                        layer.edge_width = self._line_width
        finally:
            self._syncing = False
        self.update_profile()

    def line(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The last line drawn on the profile layer: (start, end) in world (y, x)."""
        layer = self._profile_layer()
        if layer is None:
            return None
        lines = [np.asarray(d) for d, kind in zip(layer.data, layer.shape_type, strict=True)
                 if kind in ("line", "path") and len(d) >= 2]
        if not lines:
            return None
        geometry = PlaneGeometry.of(layer.scale, layer.translate)
        ends = lines[-1][[0, -1], -2:] * np.asarray(geometry.scale) + geometry.translate
        return ends[0], ends[1]

    def update_profile(self) -> None:
        """Plot LR, SR and HR along the line (sampled every SR/HR pixel, in world units)."""
        line, views = self.line(), self.views
        self.profiles = {}
        if line is None or views is None:
            for curve in self.curves.values():
                curve.setData([], [])
            return
        step = min(g.scale[-1] for key, g in self._geometry.items() if key in ("sr", "hr"))
        distance, points = profile_points(line[0], line[1], step)
        if self.bicubic.isChecked():
            sources = {"LR": ("lr_up", 1)}
        else:
            sources = {"LR": ("lr", 0)}
        sources.update({"SR": ("sr", 1), "HR": ("hr", 1)})
        for role, (key, order) in sources.items():
            if key in views.unit:
                values = sample_profile(views.unit[key], self._geometry[key], points, order)
                self.profiles[role] = (distance, values)
                self.curves[role].setData(distance, values)
            else:
                self.curves[role].setData([], [])
        unit = _unit_text(self.layer("SR"))
        self.plot.setLabel("bottom", f"distance along the line ({unit})")



def _profile_plot() -> Any:
    import pyqtgraph as pg

    plot = pg.PlotWidget()
    plot.setBackground(None)
    plot.addLegend(offset=(-10, 10), labelTextSize="8pt", brush=(40, 40, 40, 160))
    plot.setLabel("bottom", "distance along the line (nm)")
    plot.setLabel("left", "intensity (0–1)")
    plot.getAxis("left").enableAutoSIPrefix(False)
    plot.getAxis("bottom").enableAutoSIPrefix(False)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setMinimumHeight(240)
    return plot


def _pen(colour: tuple[int, int, int]) -> Any:
    import pyqtgraph as pg

    return pg.mkPen(colour, width=2)


def _unit_text(layer: Any) -> str:
    """The symbol of a layer's X unit ("nm", "pixel"): the profile's distance unit."""
    if layer is None or not len(layer.units):
        return "pixel"
    unit = layer.units[-1]
    return f"{unit:~}" if hasattr(unit, "dimensionality") else str(unit)

