"""The Compare panel: LR, SR and HR side by side, gradient maps, a line profile, metrics.

Choose the LR, SR and (optional) HR image layers — the panel guesses them from the
names (``"<x> [SR ×4]"`` is the SR of ``"<x>"``). Then:

- **Side by side** shows the three in a 1×3 grid (napari's grid mode: one camera, so
  zoom and pan are linked) and hides the other layers; **Overlay** puts everything
  back as it was. LR is shown *nearest* (the LR layer itself, big pixels) or
  *bicubic ↑* (an added layer on the SR's pixel grid).
- **Gradient maps** adds the gradient magnitude of LR↑, SR and HR (Sobel, on
  intensities in [0, 1], one colour scale for the three) under them — [S1] compares
  results this way: HR has thin strong edges, a blurry result weak wide ones.
- **Draw profile line**: draw one line (in any cell); the intensity of LR, SR and HR
  along it, in nanometres, is plotted in one graph and follows the line and the slice.
- **Metrics** of the slice on screen: PSNR/SSIM of SR and of bicubic ↑ against HR when
  HR is aligned (same size as SR); when HR is only a similar image ([S1]) — another
  size, or "reference HR" ticked — no pixel metrics, only gradient statistics and
  the spectrum score.

For stacks everything is computed for the slice on screen, again when the slice
changes, in a background worker; errors become notifications and the panel stays
usable. The computations are in :mod:`semsr_app.comparison`.

``python -m semsr_app.widgets.compare [FILES]`` opens semsr's window
(this panel is one of its tabs) with the files.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image, Shapes
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error
from qtpy.QtCore import QSize, Qt
from qtpy.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from semsr_app.comparison import (
    BICUBIC,
    NEAREST,
    PlaneExtent,
    PlaneGeometry,
    SliceInputs,
    SliceViews,
    compare_slices,
    extent_mismatch,
    guess_roles,
    metrics_html,
    profile_points,
    sample_profile,
    upscale_factor,
)
from semsr_app.layers import sr_scale_translate
from semsr_app.widgets.parts import dock_size_hint, side_by_side

if TYPE_CHECKING:
    import napari

ROLES = ("LR", "SR", "HR")
NO_LAYER = "(none)"
#: Marks the layers this panel adds (their ``metadata`` key), so they are not offered
#: as LR/SR/HR and are recognised again.
DERIVED_KEY = "semsr_compare"
PROFILE_NAME = "profile"
GRADIENT_COLORMAP = "magma"
CURVE_COLOURS = {"LR": (90, 160, 255), "SR": (255, 150, 40), "HR": (80, 210, 120)}
LINE_COLOUR = "yellow"
#: Gradient maps share contrast limits 0 … this percentile of the strongest map.
GRADIENT_PERCENTILE = 99.5


class ComparePanel(QWidget):
    """Dock panel comparing LR, SR and HR layers: grid view, gradient maps, profile, metrics."""

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(parent)
        self._automatic: dict[str, str] = {}  # roles filled by the guess, not by the user
        self.viewer = napari_viewer
        self.worker: Any = None
        self._pending = False
        self._view_key: tuple | None = None
        self.views: SliceViews | None = None
        self._geometry: dict[str, PlaneGeometry] = {}
        self._derived: dict[str, Any] = {}
        self._syncing = False
        self._line_width = 1.0
        self.side_by_side = False
        self._saved_visibility: dict[int, tuple[Any, bool]] = {}
        self._saved_order: list[Any] = []
        self._arrangement: tuple[int, ...] = ()
        self.profiles: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._build()
        self.refresh_layers()
        events = self.viewer.layers.events
        for name in ("inserted", "removed"):
            getattr(events, name).connect(self._on_layers_changed)
        self.viewer.dims.events.current_step.connect(self._on_slice_changed)
        self.request_update()

    # ------------------------------------------------------------------ layout
    def sizeHint(self) -> QSize:
        return dock_size_hint(self, super().sizeHint())

    def _build(self) -> None:
        root = QVBoxLayout(self)

        layers_box = QGroupBox("Layers")
        form = QFormLayout(layers_box)
        self.combos: dict[str, QComboBox] = {}
        tips = {"LR": "The low-resolution input", "SR": "The super-resolved result",
                "HR": "The high-resolution image: aligned ground truth, or a similar "
                      "image of the same sample (tick 'reference HR')"}
        for role in ROLES:
            combo = QComboBox()
            combo.setToolTip(tips[role])
            combo.currentIndexChanged.connect(self._on_choice_changed)
            self.combos[role] = combo
            form.addRow(role, combo)
        self.reference_hr = QCheckBox("Reference HR (similar image, not aligned)")
        self.reference_hr.setToolTip("[S1]: the HR is only a similar image of the sample, "
                                     "so pixel-by-pixel metrics (PSNR, SSIM) do not apply")
        self.reference_hr.toggled.connect(self._on_choice_changed)
        form.addRow("", self.reference_hr)
        root.addWidget(layers_box)

        view_box = QGroupBox("View")
        view = QVBoxLayout(view_box)
        self.side_button = QPushButton("Side by side")
        self.side_button.setToolTip("LR, SR and HR in a grid with linked zoom and pan; "
                                    "other layers are hidden")
        self.side_button.clicked.connect(self.show_side_by_side)
        self.overlay_button = QPushButton("Overlay")
        self.overlay_button.setToolTip("Back to one view with the layers as they were")
        self.overlay_button.clicked.connect(self.show_overlay)
        view.addWidget(side_by_side(self.side_button, self.overlay_button))
        self.nearest = QRadioButton("LR nearest")
        self.nearest.setToolTip("LR as its own big pixels")
        self.bicubic = QRadioButton("LR bicubic ↑")
        self.bicubic.setToolTip("LR enlarged bicubically onto the SR's pixel grid "
                                "(the baseline SR is measured against)")
        self.nearest.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.nearest)
        group.addButton(self.bicubic)
        self.bicubic.toggled.connect(self._on_choice_changed)
        view.addWidget(side_by_side(self.nearest, self.bicubic))
        self.gradients = QCheckBox("Gradient maps")
        self.gradients.setToolTip("Gradient magnitude of LR↑, SR and HR (one colour scale): "
                                  "HR has thin strong edges, a blurry result weak wide ones")
        self.gradients.toggled.connect(self._on_choice_changed)
        view.addWidget(self.gradients)
        root.addWidget(view_box)

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
        root.addWidget(profile_box)

        metrics_box = QGroupBox("Metrics (slice on screen)")
        metrics = QVBoxLayout(metrics_box)
        self.metrics_label = QLabel("")
        self.metrics_label.setWordWrap(True)
        self.metrics_label.setTextFormat(Qt.RichText)
        self.metrics_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.metrics_label.setToolTip(
            "PSNR, SSIM: against HR, only when HR is aligned with SR.\n"
            "edge p95: the gradient magnitude only the strongest 5% of pixels exceed "
            "(edge strength, intensity per pixel).\n"
            "sharpness ÷ HR: edge p95 ÷ HR's; 1 = edges as strong as HR's, below 1 blurrier, "
            "above 1 over-sharpened or noisy.\n"
            "Spectrum score: share of bicubic's power-spectrum error (vs HR) that SR removes.")
        metrics.addWidget(self.metrics_label)
        root.addWidget(metrics_box)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        root.addWidget(self.status)
        root.addStretch(1)

    # ------------------------------------------------------------------ choosing layers
    def _candidates(self) -> list[str]:
        return [layer.name for layer in self.viewer.layers
                if isinstance(layer, Image) and not layer.rgb
                and DERIVED_KEY not in layer.metadata]

    def refresh_layers(self) -> None:
        """List the image layers in the LR/SR/HR boxes; keep the user's valid choices and
        guess the rest again (an SR layer added after the panel opened is picked up)."""
        names = self._candidates()
        guess = guess_roles(names)
        for role, combo in self.combos.items():
            current = combo.currentText()
            by_user = current in names and current != self._automatic.get(role)
            combo.blockSignals(True)
            combo.clear()
            if role == "HR":
                combo.addItem(NO_LAYER)
            combo.addItems(names)
            choice = current if by_user else (guess[role] or (current if current in names
                                                                else None))
            if choice is not None:
                combo.setCurrentText(choice)
            elif role == "HR":
                combo.setCurrentText(NO_LAYER)
            combo.blockSignals(False)
            self._automatic[role] = "" if by_user else combo.currentText()

    def layer(self, role: str) -> Image | None:
        """The layer chosen as ``role`` ("LR", "SR" or "HR"), or None."""
        name = self.combos[role].currentText()
        if name and name != NO_LAYER and name in self.viewer.layers:
            return self.viewer.layers[name]
        return None

    def choose(self, lr: str, sr: str, hr: str | None = None) -> None:
        """Choose the layers by name (HR None: no HR)."""
        for role, name in (("LR", lr), ("SR", sr), ("HR", hr or NO_LAYER)):
            self.combos[role].setCurrentText(name)

    def _missing(self) -> str:
        lr, sr = self.layer("LR"), self.layer("SR")
        if lr is None or sr is None:
            return "Choose an LR and an SR image layer (super-resolve the LR first)."
        if lr is sr:
            return "LR and SR are the same layer: choose the SR result."
        return ""

    def _alive(self) -> bool:
        """False once Qt has deleted the panel (napari closed) while work was running."""
        return _qt_alive(self.status)

    def _on_layers_changed(self, event: Any = None) -> None:
        if not self._alive():
            return
        for layer in self.viewer.layers:
            if not getattr(layer, "_semsr_compare_watched", False):
                layer.events.name.connect(self._on_layers_changed)
                layer._semsr_compare_watched = True
        self._derived = {k: v for k, v in self._derived.items() if v in self.viewer.layers}
        self.refresh_layers()
        if self._inputs_key() != self._view_key or self._missing():
            self.request_update()

    def _on_choice_changed(self, *_: Any) -> None:
        self.request_update()
        if self.side_by_side:
            self._arrange()

    def _on_slice_changed(self, event: Any = None) -> None:
        if self._alive() and self._inputs_key() != self._view_key:
            self.request_update()

    # ------------------------------------------------------------------ slices
    def _slice(self, layer: Any) -> tuple[Any, int | None] | None:
        """The layer's 2-D data on screen (lazy) and its slice index; None if it has none."""
        data = layer.data[0] if layer.multiscale else layer.data
        if data.ndim == 2:
            return data, None
        if data.ndim != 3:
            return None
        point = self.viewer.dims.point[-layer.ndim:]
        index = round(float(layer.world_to_data(point)[0]))
        if not 0 <= index < data.shape[0]:
            return None
        return data[index], index

    def _inputs_key(self) -> tuple | None:
        layers = [self.layer(role) for role in ROLES]
        if self._missing():
            return None
        indices = tuple(None if layer is None else (self._slice(layer) or (None, -1))[1]
                        for layer in layers)
        return (tuple(id(layer) for layer in layers), indices, self.bicubic.isChecked(),
                self.gradients.isChecked(), self.reference_hr.isChecked())

    def factor(self) -> int:
        """LR → SR enlargement, from the layers' pixel sizes (or widths)."""
        lr, sr = self.layer("LR"), self.layer("SR")
        return upscale_factor(float(lr.scale[-1]), float(sr.scale[-1]),
                              int(lr.data.shape[-1]), int(sr.data.shape[-1]))

    # ------------------------------------------------------------------ computing
    @property
    def busy(self) -> bool:
        """True while the slice on screen is being compared (or will be again)."""
        return self.worker is not None or self._pending

    def request_update(self) -> None:
        """Compare the slice on screen again (in a worker; queued if one is running)."""
        missing = self._missing()
        for button in (self.side_button, self.profile_button):
            button.setEnabled(not missing)
        if missing:
            self.status.setText(missing)
            self.metrics_label.setText("")
            return
        if self.worker is not None:
            self._pending = True
            return
        self._pending = False
        roles = {role: self.layer(role) for role in ROLES}
        slices = {role: None if layer is None else self._slice(layer)
                  for role, layer in roles.items()}
        absent = [role for role in ("LR", "SR") if slices[role] is None]
        if absent:
            self.status.setText(f"{' and '.join(absent)} has no slice here: move the slider "
                                "to a slice they share.")
            self._view_key = self._inputs_key()
            return
        if roles["HR"] is not None and slices["HR"] is None:
            self.status.setText("HR has no slice here; compared without HR.")
        factor = self.factor()
        lr, sr, hr = roles["LR"], roles["SR"], roles["HR"]
        mismatch = "" if hr is None else extent_mismatch(
            PlaneExtent.of(sr.data.shape, sr.scale, sr.units),
            PlaneExtent.of(hr.data.shape, hr.scale, hr.units))
        inputs = SliceInputs(lr=slices["LR"][0], sr=slices["SR"][0],
                             hr=None if slices["HR"] is None else slices["HR"][0],
                             factor=factor, lr_mode=BICUBIC if self.bicubic.isChecked()
                             else NEAREST, gradients=self.gradients.isChecked(),
                             reference_hr=self.reference_hr.isChecked(), mismatch=mismatch)
        up_scale, up_translate = sr_scale_translate(tuple(lr.scale[-2:]),
                                                    tuple(lr.translate[-2:]), factor)
        geometry = {"lr": PlaneGeometry.of(lr.scale, lr.translate),
                    "lr_up": PlaneGeometry.of(up_scale, up_translate),
                    "sr": PlaneGeometry.of(sr.scale, sr.translate)}
        if hr is not None:
            geometry["hr"] = PlaneGeometry.of(hr.scale, hr.translate)
        key = self._inputs_key()
        self.worker = create_worker(_compare_guarded, inputs, _start_thread=False)
        self.worker.returned.connect(lambda result: self._on_views(result, key, geometry))
        self.worker.errored.connect(self._on_crashed)
        self.worker.finished.connect(self._on_finished)
        self.status.setText("Comparing the slice on screen…")
        self.worker.start()

    def _on_views(self, result: SliceViews | str, key: tuple | None,
                  geometry: dict[str, PlaneGeometry]) -> None:
        if not self._alive():
            return
        if isinstance(result, str):
            self.views = None
            self.status.setText(f"Error: {result}")
            show_error(result)
            return
        self.views, self._view_key, self._geometry = result, key, geometry
        self._show_lr_up(result)
        self._show_gradients(result)
        self.metrics_label.setText(metrics_html(result.metrics))
        self.update_profile()
        if self.side_by_side:
            self._arrange()
        self.status.setText("")

    def _on_crashed(self, exc: BaseException) -> None:
        # napari's worker already shows the error (with its traceback) as a notification.
        if self._alive():
            self.status.setText(f"Failed: {type(exc).__name__}: {exc}")

    def _on_finished(self) -> None:
        self.worker = None
        if self._pending and self._alive():
            self.request_update()

    # ------------------------------------------------------------------ added layers
    def _derived_layer(self, key: str, data: np.ndarray, geometry: PlaneGeometry,
                       source: Any, name: str, **kwargs: Any) -> Image:
        """Add or update one of the panel's own 2-D image layers."""
        layer = self._derived.get(key)
        placement = {"scale": geometry.scale, "translate": geometry.translate}
        if layer is None or layer not in self.viewer.layers:
            layer = self.viewer.add_image(
                data, name=name, units=tuple(source.units[-2:]), **placement,
                metadata={DERIVED_KEY: key, "source_layer": source.name}, **kwargs)
            self._derived[key] = layer
        else:
            layer.data = data
            layer.scale, layer.translate = placement["scale"], placement["translate"]
            layer.name = name
            for attribute, value in kwargs.items():
                setattr(layer, attribute, value)
        return layer

    def _show_lr_up(self, views: SliceViews) -> None:
        lr = self.layer("LR")
        bicubic = self.bicubic.isChecked()
        if bicubic:
            self._derived_layer("lr_up", views.lr_up_display, self._geometry["lr_up"], lr,
                                f"{lr.name} [bicubic ↑{self.factor()}]",
                                contrast_limits=tuple(lr.contrast_limits))
        if "lr_up" in self._derived:
            self._derived["lr_up"].visible = bicubic

    def _show_gradients(self, views: SliceViews) -> None:
        wanted = self.gradients.isChecked() and bool(views.gradients)
        if wanted:
            maps = views.gradients
            high = max(float(np.percentile(m, GRADIENT_PERCENTILE)) for m in maps.values())
            limits = (0.0, high if high > 0 else 1.0)
            mode = "bicubic" if self.bicubic.isChecked() else "nearest"
            sources = {"lr_up": (self.layer("LR"), f" [{mode} ↑{self.factor()}, gradient]"),
                       "sr": (self.layer("SR"), " [gradient]"),
                       "hr": (self.layer("HR"), " [gradient]")}
            for key, image in maps.items():
                source, suffix = sources[key]
                self._derived_layer(f"gradient:{key}", image, self._geometry[key], source,
                                    f"{source.name}{suffix}", colormap=GRADIENT_COLORMAP,
                                    contrast_limits=limits)
        for key in ("lr_up", "sr", "hr"):
            layer = self._derived.get(f"gradient:{key}")
            if layer is not None:
                layer.visible = wanted and key in views.gradients

    def gradient_layer(self, role: str) -> Image | None:
        """The gradient-map layer of "LR" (LR↑), "SR" or "HR", if shown."""
        key = {"LR": "lr_up", "SR": "sr", "HR": "hr"}[role]
        layer = self._derived.get(f"gradient:{key}")
        return layer if layer is not None and layer in self.viewer.layers else None

    # ------------------------------------------------------------------ grid
    def _cells(self) -> list[tuple[Any, str]]:
        """The grid's cells in order: (image layer, cell name), one row of images and,
        with gradient maps, a row of their gradient maps."""
        lr = self._derived.get("lr_up") if self.bicubic.isChecked() else self.layer("LR")
        images = [(lr, "LR"), (self.layer("SR"), "SR"), (self.layer("HR"), "HR")]
        cells = [(layer, name) for layer, name in images
                 if layer is not None and layer in self.viewer.layers]
        if self.gradients.isChecked():
            for role in ROLES:
                layer = self.gradient_layer(role)
                if layer is not None and layer.visible:
                    cells.append((layer, f"{role} gradient"))
        return cells

    def show_side_by_side(self) -> None:
        """LR, SR and HR (and their gradient maps) in a grid with one camera."""
        missing = self._missing()
        if missing:
            show_error(missing)
            return
        if not self.side_by_side:
            self._saved_order = list(self.viewer.layers)
            self._saved_visibility = {id(layer): (layer, layer.visible)
                                      for layer in self.viewer.layers}
        self.side_by_side = True
        self._arrangement = ()
        self._arrange()
        self.viewer.reset_view()

    def _arrange(self) -> None:
        cells = self._cells()
        images = sum(1 for _layer, name in cells if "gradient" not in name)
        profile = self._profile_layer()
        order: list[Any] = []
        for layer, name in cells:
            order.append(layer)
            if profile is not None:
                order.append(profile if name == "SR" else self._marker(name, profile))
        grid = self.viewer.canvas.grid
        arrangement = tuple(id(layer) for layer in order)
        if grid.enabled and arrangement == self._arrangement:
            return  # the same cells: leave the user's own visibility changes alone
        self._arrangement = arrangement
        shown = set(arrangement)
        for layer in self.viewer.layers:
            layer.visible = id(layer) in shown
        _move_to_front(self.viewer.layers, order)
        grid.stride = 2 if profile is not None else 1
        grid.shape = (2 if len(cells) > images else 1, max(images, 1))
        grid.enabled = True

    def show_overlay(self) -> None:
        """Back to one view: the grid off, the layers' order and visibility as before."""
        self.viewer.canvas.grid.enabled = False
        if self.side_by_side:
            for layer, visible in self._saved_visibility.values():
                if layer in self.viewer.layers:
                    layer.visible = visible
            _move_to_front(self.viewer.layers,
                           [layer for layer in self._saved_order if layer in self.viewer.layers])
        for key, layer in self._derived.items():
            if key.startswith("marker:"):
                layer.visible = False
        profile = self._profile_layer()
        if profile is not None:
            profile.visible = True
        if self.views is not None:
            self._show_lr_up(self.views)
            self._show_gradients(self.views)
        self.side_by_side = False

    # ------------------------------------------------------------------ profile
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


def _qt_alive(widget: QWidget) -> bool:
    """Whether the C++ side of ``widget`` still exists."""
    try:
        widget.objectName()
    except RuntimeError:
        return False
    return True


def _move_to_front(layers: Any, order: list[Any]) -> None:
    """Put ``order``'s layers first in the layer list, in that order (one move at a time:
    napari 0.9's ``move_multiple`` fails on some interleaved index lists)."""
    for target, layer in enumerate(order):
        source = layers.index(layer)
        if source != target:
            layers.move(source, target)


def _compare_guarded(inputs: SliceInputs) -> SliceViews | str:
    """Compare in the worker; user errors come back as their message."""
    from semsr_core.errors import SemsrError

    try:
        return compare_slices(inputs)
    except (SemsrError, ValueError) as exc:
        return str(exc)
    except MemoryError:
        return "out of memory comparing this slice; crop the layers or close other programs"


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


def main(argv: list[str] | None = None) -> int:
    """Open semsr's window (the Compare panel is one of its tabs) with the given files."""
    from semsr_app.launch import launch

    return launch(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
