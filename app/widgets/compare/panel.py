"""The Compare panel's dock widget: choosing the LR, SR and HR layers and comparing the
slice on screen in a background worker.

:class:`ComparePanel` lays out the layer choices, the view options, the line profile
(:mod:`.profile`) and the metrics; it guesses the roles from the layer names, follows
layer and slice changes, and runs :func:`~semsr_app.comparison.compare_slices` in a
worker (one at a time, the latest request queued). What it adds to the viewer and the
grid view are :mod:`.grid`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image
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
    upscale_factor,
)
from semsr_app.layers import sr_scale_translate
from semsr_app.widgets.compare.grid import DERIVED_KEY, ROLES, ComparedLayers
from semsr_app.widgets.compare.profile import ProfileTool
from semsr_app.widgets.parts import dock_size_hint, qt_alive, side_by_side

if TYPE_CHECKING:
    import napari

NO_LAYER = "(none)"


class ComparePanel(ComparedLayers, ProfileTool, QWidget):

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

        root.addWidget(self._build_profile())

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
        return qt_alive(self.status)

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


def _compare_guarded(inputs: SliceInputs) -> SliceViews | str:
    """Compare in the worker; user errors come back as their message."""
    from semsr_core.errors import SemsrError

    try:
        return compare_slices(inputs)
    except (SemsrError, ValueError) as exc:
        return str(exc)
    except MemoryError:
        return "out of memory comparing this slice; crop the layers or close other programs"
