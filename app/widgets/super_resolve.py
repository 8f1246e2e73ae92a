"""The Super-resolve panel: enlarge an image layer, or files and folders, with a model.

Choose the source (an image layer — the whole stack or the slice on screen — or
files/folders written to an output folder), the model (installed models, any
``.semsr``/``.safetensors``/``.pth`` file, or "ZSSR (trains on this image)": a small
network trained on each image or slice itself for a time bound, [S1] §3.1), the device
(each one this machine has, with its memory), the tile size and the precision, then
Run. The work runs in a napari ``thread_worker``; the progress bar counts tiles (and
ZSSR's training seconds), Cancel stops before the next tile or training step,
and the result arrives as a layer named ``"<source> [SR ×s]"`` laid exactly over its
source (scale ÷ s, pixel centres aligned) with the model and settings in its
metadata. Errors become notifications and the panel stays usable.

Run it on its own with ``python -m semsr_app.widgets.super_resolve [FILES]``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import Qt
from qtpy.QtGui import QIntValidator
from qtpy.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from semsr_app.jobs import LayerSource, SuperResolveSettings, super_resolve_files
from semsr_app.widgets.parts import CancellableWorker, EventRelay, run_guarded, side_by_side

if TYPE_CHECKING:
    import napari

OPEN_MODEL = "__open_model_file__"
ZSSR_MODEL = "__zssr_per_image__"
ZSSR_LABEL = "ZSSR (trains on this image)"
ZSSR_SECONDS = 60
"""The panel's default ZSSR training time per image or slice."""
MODEL_FILTER = "semsr or ESRGAN models (*.semsr *.safetensors *.pth *.pt);;All files (*)"
IMAGE_FILTER = "Images (*.tif *.tiff *.png *.jpg *.jpeg);;All files (*)"
TILE_CHOICES = ("auto", "96", "128", "256", "512", "1024", "2048")
PRECISIONS = (("auto (bf16 where native: CUDA, AMX CPUs; else fp16/fp32)", "auto"),
              ("fp32", "fp32"),
              ("fp16", "fp16"), ("bf16", "bf16"))
OUTPUT_TYPES = (("same as input (e.g. uint16)", "input"), ("float32", "float32"))
GUARDS = (("on: agree with the measured scan (model's setting)", "model"),
          ("on: block-mean measurement", "area"), ("on: bicubic measurement", "bicubic"),
          ("off: measure and warn only", "off"))


@dataclass
class Outcome:
    """How a job ended: its value, or cancelled, or a user-facing error message."""

    value: Any = None
    cancelled: bool = False
    error: str = ""
    files: list[Path] = field(default_factory=list)


class _RefreshingComboBox(QComboBox):
    """A combo box that updates its items (``refresh()``) just before it opens."""

    def __init__(self, refresh: Any) -> None:
        super().__init__()
        self._refresh = refresh

    def showPopup(self) -> None:
        self._refresh()
        super().showPopup()


def _guarded(work: Any, outcome: Outcome) -> Outcome:
    """The panel's work in the worker (:func:`run_guarded`)."""
    return run_guarded(work, outcome, "choose a smaller tile size, the current slice only, "
                                      "or close other programs")


class SuperResolvePanel(QWidget):
    """Dock panel that super-resolves a layer or files with a chosen model."""

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.worker: CancellableWorker | None = None
        self._cancel_token: Any = None
        self._relay = EventRelay(self)
        self._relay.event.connect(self._on_event)
        self._file_prefix = ""
        self._delivered = False
        self._build()
        self.refresh_layers()
        self.refresh_models()
        events = self.viewer.layers.events
        for name in ("inserted", "removed", "moved", "reordered"):
            getattr(events, name).connect(self._on_layers_changed)
        self._update_ready()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        root = QVBoxLayout(self)

        source_box = QGroupBox("Source")
        source_layout = QVBoxLayout(source_box)
        self.layer_mode = QRadioButton("Image layer")
        self.files_mode = QRadioButton("Files or folder → OME-TIFF files")
        self.layer_mode.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.layer_mode)
        group.addButton(self.files_mode)
        self.layer_mode.toggled.connect(self._on_mode_changed)
        source_layout.addWidget(self.layer_mode)

        self.layer_box = QWidget()
        layer_form = QFormLayout(self.layer_box)
        layer_form.setContentsMargins(16, 0, 0, 0)
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("The image layer to enlarge (grayscale 2-D image or stack)")
        self.layer_combo.currentIndexChanged.connect(self._update_ready)
        self.current_slice = QCheckBox("Only the slice on screen")
        self.current_slice.setToolTip("For a stack: enlarge only the slice shown (quick preview)")
        layer_form.addRow("Layer", self.layer_combo)
        layer_form.addRow("", self.current_slice)
        source_layout.addWidget(self.layer_box)

        source_layout.addWidget(self.files_mode)
        self.files_box = QWidget()
        files_form = QFormLayout(self.files_box)
        files_form.setContentsMargins(16, 0, 0, 0)
        self.inputs_edit = QLineEdit()
        self.inputs_edit.setPlaceholderText("files or folders, separated by ;")
        self.inputs_edit.textChanged.connect(self._update_ready)
        pick_files = QPushButton("Files…")
        pick_files.clicked.connect(self._choose_input_files)
        pick_folder = QPushButton("Folder…")
        pick_folder.clicked.connect(self._choose_input_folder)
        files_form.addRow("Input", side_by_side(self.inputs_edit, pick_files, pick_folder))
        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("folder for <name>_sr4x.ome.tif files")
        self.output_edit.textChanged.connect(self._update_ready)
        pick_output = QPushButton("Folder…")
        pick_output.clicked.connect(self._choose_output_folder)
        files_form.addRow("Output", side_by_side(self.output_edit, pick_output))
        self.open_results = QCheckBox("Open the results as layers")
        self.open_results.setChecked(True)
        self.overwrite = QCheckBox("Replace existing output files")
        files_form.addRow("", self.open_results)
        files_form.addRow("", self.overwrite)
        source_layout.addWidget(self.files_box)
        root.addWidget(source_box)

        settings_box = QGroupBox("Model and settings")
        form = QFormLayout(settings_box)
        self.model_combo = _RefreshingComboBox(self.refresh_models)
        self.model_combo.setToolTip("Installed models are listed again each time this list "
                                    "opens; “Open model file…” adds any .semsr or .pth file")
        self.model_combo.setPlaceholderText("no model installed: open a model file")
        self.model_combo.activated.connect(self._on_model_activated)
        self.model_combo.currentIndexChanged.connect(self._update_ready)
        self._model_index = -1
        form.addRow("Model", self.model_combo)
        self.device_combo = QComboBox()
        form.addRow("Device", self.device_combo)
        self.tile_combo = QComboBox()
        self.tile_combo.setEditable(True)
        self.tile_combo.addItems(TILE_CHOICES)
        self.tile_combo.lineEdit().setValidator(QIntValidator(1, 65536, self))
        self.tile_combo.setToolTip("Tile side in input pixels; auto chooses from free memory. "
                                   "Smaller tiles use less memory; the result is the same.")
        form.addRow("Tile size", self.tile_combo)
        self.precision_combo = QComboBox()
        for label, value in PRECISIONS:
            self.precision_combo.addItem(label, value)
        form.addRow("Precision", self.precision_combo)
        self.output_type_combo = QComboBox()
        for label, value in OUTPUT_TYPES:
            self.output_type_combo.addItem(label, value)
        form.addRow("Output type", self.output_type_combo)
        self.guard_combo = QComboBox()
        for label, value in GUARDS:
            self.guard_combo.addItem(label, value)
        self.guard_combo.setToolTip(
            "Measurement-consistency guard: the result is projected back so that, degraded "
            "as the scan was made, it gives back the measured image within its noise. The "
            "disagreement map shows where the network changed what was measured.")
        form.addRow("Consistency", self.guard_combo)
        self.show_map = QCheckBox("Add the disagreement map as a layer")
        self.show_map.setChecked(True)
        form.addRow("", self.show_map)
        self.adapt_spin = QSpinBox()
        self.adapt_spin.setRange(0, 3600)
        self.adapt_spin.setSuffix(" s")
        self.adapt_spin.setSpecialValueText("off")
        self.adapt_spin.setToolTip("Adapt to this image: fine-tune the model for this long on "
                                   "the image's own downscaled copies (per slice), then "
                                   "enlarge it. Helps on content the model has not seen.")
        form.addRow("Adapt to image", self.adapt_spin)
        self.zssr_box = QWidget()
        zssr_form = QFormLayout(self.zssr_box)
        zssr_form.setContentsMargins(0, 0, 0, 0)
        self.zssr_seconds = QSpinBox()
        self.zssr_seconds.setRange(1, 3600)
        self.zssr_seconds.setValue(ZSSR_SECONDS)
        self.zssr_seconds.setSuffix(" s")
        self.zssr_seconds.setToolTip("ZSSR's training time for each image (each slice of a "
                                     "stack); it stops earlier when it has converged")
        zssr_form.addRow("ZSSR training", self.zssr_seconds)
        self.zssr_scale = QSpinBox()
        self.zssr_scale.setRange(2, 8)
        self.zssr_scale.setValue(4)
        self.zssr_scale.setPrefix("×")
        zssr_form.addRow("ZSSR enlargement", self.zssr_scale)
        self.zssr_ensemble = QCheckBox("Median of the 8 rotations/mirrors (8× slower)")
        self.zssr_ensemble.setChecked(True)
        zssr_form.addRow("", self.zssr_ensemble)
        form.addRow(self.zssr_box)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        root.addWidget(settings_box)

        self.run_button = QPushButton("Run")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        root.addWidget(side_by_side(self.run_button, self.cancel_button))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        root.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        root.addWidget(self.status)
        root.addStretch(1)
        self._fill_devices()
        self._on_mode_changed()
        self._on_model_changed()

    def _fill_devices(self) -> None:
        from semsr_core.infer.device import available_devices

        self.device_combo.addItem("auto (CUDA → MPS → CPU)", "auto")
        for device in available_devices():
            label = device.name
            if device.total_memory:
                gib = device.total_memory / 2**30
                kind = "RAM" if device.id == "cpu" else "memory"
                label = f"{label}, {gib:.0f} GiB {kind}"
            if device.id.startswith("cuda"):
                label = f"{device.id}: {label}"
            self.device_combo.addItem(label, device.id)

    # ------------------------------------------------------------------ sources
    def refresh_layers(self) -> None:
        """List the viewer's grayscale image layers, keeping the current choice."""
        current = self.layer_combo.currentText()
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        names = [layer.name for layer in self.viewer.layers
                 if isinstance(layer, Image) and not layer.rgb]
        self.layer_combo.addItems(names)
        if current in names:
            self.layer_combo.setCurrentText(current)
        else:
            active = self.viewer.layers.selection.active
            if active is not None and active.name in names:
                self.layer_combo.setCurrentText(active.name)
        self.layer_combo.blockSignals(False)
        self._update_ready()

    def _on_layers_changed(self, event: Any = None) -> None:
        for layer in self.viewer.layers:
            if not getattr(layer, "_semsr_watched", False):
                layer.events.name.connect(self._on_layers_changed)
                layer._semsr_watched = True
        self.refresh_layers()

    def _on_mode_changed(self, *_: Any) -> None:
        layer_mode = self.layer_mode.isChecked()
        self.layer_box.setEnabled(layer_mode)
        self.files_box.setEnabled(not layer_mode)
        self._update_ready()

    def _choose_input_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Images to super-resolve", "",
                                                IMAGE_FILTER)
        if files:
            self.inputs_edit.setText(";".join(files))

    def _choose_input_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of images to super-resolve")
        if folder:
            self.inputs_edit.setText(folder)

    def _choose_output_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the results")
        if folder:
            self.output_edit.setText(folder)

    def input_paths(self) -> list[str]:
        return [p.strip() for p in self.inputs_edit.text().split(";") if p.strip()]

    # ------------------------------------------------------------------ models
    def refresh_models(self) -> None:
        """List installed models (user, then bundled), files opened before, and
        "Open model file…"."""
        from semsr_core.models import list_models, preferred_model

        current = self.model_combo.currentData()
        opened = [(self.model_combo.itemText(i), self.model_combo.itemData(i))
                  for i in range(self.model_combo.count())
                  if self.model_combo.itemData(i, Qt.UserRole + 1) == "file"]
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        entries = list_models()
        for entry in entries:
            if entry.problem:
                continue
            self.model_combo.addItem(f"{entry.name} — {entry.arch} ×{entry.scale} "
                                     f"({entry.origin})", str(entry.path))
        self.model_combo.addItem(ZSSR_LABEL, ZSSR_MODEL)
        self.model_combo.setItemData(self.model_combo.count() - 1,
                                     "trains a small network on each image or slice itself "
                                     "before enlarging it; no model file needed",
                                     Qt.ToolTipRole)
        for text, path in opened:
            self.model_combo.addItem(text, path)
            self.model_combo.setItemData(self.model_combo.count() - 1, "file", Qt.UserRole + 1)
        self.model_combo.addItem("Open model file…", OPEN_MODEL)
        index = self.model_combo.findData(current) if current else -1
        if index < 0 or current == OPEN_MODEL:
            # the lab's own models first, else the default model (as `semsr models list`)
            preferred = preferred_model(entries)
            # (ZSSR is never chosen for the user: it trains for a while on each image)
            first = 0 if self.model_combo.itemData(0) != ZSSR_MODEL else 1
            index = (self.model_combo.findData(str(preferred.path)) if preferred is not None
                     else first if self.model_combo.count() > first + 1 else -1)
        self.model_combo.setCurrentIndex(index)
        self._model_index = index
        self.model_combo.blockSignals(False)
        self._on_model_changed()
        self._update_ready()

    def add_model_file(self, path: str | Path) -> None:
        """Offer a model file (``.semsr``, ``.safetensors``, ``.pth``) and select it."""
        path = str(Path(path))
        index = self.model_combo.findData(path)
        if index < 0:
            text = Path(path).name
            if path.lower().endswith((".semsr", ".safetensors")):
                from semsr_core.errors import ModelError
                from semsr_core.models import read_card

                try:
                    card = read_card(path)
                    text = f"{Path(path).name} — {card.arch} ×{card.scale} (file)"
                except ModelError as exc:
                    self._report_error(str(exc))
                    self._restore_model_choice()
                    return
            index = self.model_combo.count() - 1  # before "Open model file…"
            self.model_combo.insertItem(index, text, path)
            self.model_combo.setItemData(index, "file", Qt.UserRole + 1)
        self.model_combo.setCurrentIndex(index)
        self._model_index = index
        self._update_ready()

    def _on_model_activated(self, index: int) -> None:
        if self.model_combo.itemData(index) != OPEN_MODEL:
            self._model_index = index
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open a model file", "", MODEL_FILTER)
        if path:
            self.add_model_file(path)
        else:
            self._restore_model_choice()

    def _restore_model_choice(self) -> None:
        self.model_combo.setCurrentIndex(self._model_index)

    def model_path(self) -> str | None:
        """The chosen model's file, or :data:`ZSSR_MODEL` for ZSSR (None: no choice)."""
        data = self.model_combo.currentData()
        return None if data in (None, OPEN_MODEL) else str(data)

    def zssr_chosen(self) -> bool:
        return self.model_combo.currentData() == ZSSR_MODEL

    def _on_model_changed(self, *_: Any) -> None:
        """ZSSR's own settings while it is chosen; "adapt" is for trained models only."""
        zssr = self.zssr_chosen()
        self.zssr_box.setVisible(zssr)
        self.adapt_spin.setEnabled(not zssr and self.worker is None)

    def zssr_model(self) -> Any:
        """A fresh ZSSR network with the panel's time bound, enlargement and ensemble."""
        from semsr_core.infer.zssr import per_image_model

        return per_image_model(self.zssr_scale.value(),
                               {"max_seconds": float(self.zssr_seconds.value()),
                                "self_ensemble": self.zssr_ensemble.isChecked()})

    # ------------------------------------------------------------------ settings
    def settings(self) -> SuperResolveSettings:
        """The settings chosen in the panel."""
        tile_text = self.tile_combo.currentText().strip()
        tile = None if tile_text in ("", "auto") else int(tile_text)
        return SuperResolveSettings(device=self.device_combo.currentData() or "auto",
                                    tile=tile,
                                    precision=self.precision_combo.currentData() or "auto",
                                    output_dtype=self.output_type_combo.currentData(),
                                    consistency=self.guard_combo.currentData() or "model",
                                    adapt_seconds=0.0 if self.zssr_chosen()
                                    else float(self.adapt_spin.value()))

    def _missing(self) -> str:
        """What the user still has to choose before Run (empty when ready)."""
        if self.model_path() is None:
            return "Choose a model (or “Open model file…”)."
        if self.layer_mode.isChecked():
            if self.layer_combo.currentText() not in self.viewer.layers:
                return "Open an image (File ▸ Open) or choose an image layer."
        else:
            if not self.input_paths():
                return "Choose input files or a folder."
            if not self.output_edit.text().strip():
                return "Choose an output folder."
        return ""

    def _update_ready(self, *_: Any) -> None:
        if self.worker is not None:
            return
        missing = self._missing()
        self.run_button.setEnabled(not missing)
        self.run_button.setToolTip(missing or "Super-resolve with these settings")
        if missing or self.status.property("semsr_hint"):
            self.status.setText(missing)
            self.status.setProperty("semsr_hint", bool(missing))

    # ------------------------------------------------------------------ running
    def run(self) -> None:
        """Start the job chosen in the panel in a background worker."""
        from semsr_core.events import CancelToken

        missing = self._missing()
        if missing:
            self._report_error(missing)
            return
        if self.worker is not None:
            return
        settings = self.settings()
        model = self.zssr_model() if self.zssr_chosen() else self.model_path()
        token = CancelToken()
        outcome = Outcome()
        if self.layer_mode.isChecked():
            source = self._layer_source()
            work = _layer_work(source, model, settings, self._relay.event.emit, token,
                               self.show_map.isChecked())
            self._on_done = self._add_result_layer
            what = f"Super-resolving '{source.name}'"
        else:
            inputs, output = self.input_paths(), self.output_edit.text().strip()
            overwrite = self.overwrite.isChecked()

            def work() -> list[Path]:
                for path in super_resolve_files(inputs, output, model, settings,
                                                overwrite=overwrite,
                                                on_event=self._relay.event.emit,
                                                cancel=token):
                    outcome.files.append(path)
                return outcome.files

            self._on_done = self._files_written
            what = f"Super-resolving {len(inputs)} input(s) into {output}"
        self._cancel_token = token
        self._delivered = False
        self._file_prefix = ""
        self.worker = create_worker(_guarded, work, outcome, _start_thread=False,
                                    _worker_class=CancellableWorker, cancel_token=token)
        self.worker.returned.connect(self._on_returned)
        self.worker.errored.connect(self._on_crashed)
        self.worker.finished.connect(self._on_finished)
        self._set_running(True)
        self._set_status(f"{what}…")
        self.worker.start()

    def cancel(self) -> None:
        """Stop the running job before its next tile; nothing partial is added or written."""
        if self._cancel_token is not None:
            self._cancel_token.cancel()
            self.cancel_button.setEnabled(False)
            self._set_status("Cancelling after the current tile…")

    def _layer_source(self) -> LayerSource:
        layer = self.viewer.layers[self.layer_combo.currentText()]
        data = layer.data[0] if layer.multiscale else layer.data
        slice_index = None
        if self.current_slice.isChecked() and layer.ndim == 3:
            point = self.viewer.dims.point[-layer.ndim:]
            position = layer.world_to_data(point)
            slice_index = int(np.clip(round(float(position[0])), 0, layer.data.shape[0] - 1))
        return LayerSource(
            name=layer.name, data=data, scale=tuple(layer.scale),
            translate=tuple(layer.translate), units=tuple(layer.units),
            axis_labels=tuple(layer.axis_labels),
            metadata=dict(layer.metadata), slice_index=slice_index)

    def _set_running(self, running: bool) -> None:
        for box in (self.layer_box, self.files_box, self.model_combo, self.device_combo,
                    self.tile_combo, self.precision_combo, self.output_type_combo,
                    self.guard_combo, self.show_map, self.adapt_spin, self.zssr_box,
                    self.layer_mode, self.files_mode):
            box.setEnabled(not running)
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.progress.setRange(0, 0)  # busy until the engine says how many tiles
            self.progress.setFormat("%p%")
        else:
            self._on_mode_changed()
            self._on_model_changed()

    def _on_event(self, event: Any) -> None:
        from semsr_core.events import EventKind

        if event.kind is EventKind.PROGRESS:
            done, total = int(event.data.get("done", 0)), int(event.data.get("total") or 0)
            stage = event.data.get("stage", "")
            unit = event.data.get("unit", "")
            if total > 0:  # from the stage's first event (done 0): "0 of 4 tiles"
                self.progress.setRange(0, total)
                self.progress.setValue(min(done, total))
                units = unit if unit in ("s", "") else f"{unit}s"  # "s" is seconds
                self.progress.setFormat(f"%v of %m {units}" if unit else "%v of %m")
            postfix = event.data.get("postfix", "")
            units = unit if unit in ("s", "") else f"{unit}s"
            text = f"{stage}: {done}/{total} {units}" + (f", {postfix}" if postfix else "")
            if self._cancel_token is not None and self._cancel_token.cancelled:
                text = "Cancelling after the current tile or training step…"
            self._set_status(f"{self._file_prefix}{text}")
        elif event.kind is EventKind.MESSAGE:
            text = str(event.data.get("text", ""))
            if event.data.get("level") == "warning":
                show_warning(text)
            elif text.startswith("file "):
                self._file_prefix = f"{text} — "
            self._set_status(text)

    def _on_returned(self, outcome: Outcome) -> None:
        self._delivered = True
        if outcome.cancelled:
            kept = (f"; the {len(outcome.files)} file(s) finished before are kept"
                    if outcome.files else "; nothing was added")
            self._report_info(f"Super-resolve cancelled{kept}.")
        elif outcome.error:
            self._report_error(outcome.error)
        else:
            self._on_done(outcome)

    def _add_result_layer(self, outcome: Outcome) -> None:
        (data, kwargs, _kind), maps = outcome.value
        for map_data, map_kwargs, _ in maps:  # below the result, over the source
            self.viewer.add_image(map_data, **map_kwargs)
        layer = self.viewer.add_image(data, **kwargs)
        if data.size:  # the slider spans the data, the limits start at its percentiles
            low, high = float(data.min()), float(data.max())
            if high > low:
                layer.contrast_limits_range = (low, high)
                layer.contrast_limits = kwargs["contrast_limits"]
        self._report_info(f"Added '{layer.name}' ({' × '.join(map(str, data.shape))} pixels).")

    def _files_written(self, outcome: Outcome) -> None:
        from semsr_app.reader import stack_layer_data
        from semsr_core.errors import SemsrError

        if self.open_results.isChecked():
            for path in outcome.files:
                try:
                    data, kwargs, _ = stack_layer_data(path)
                except SemsrError as exc:
                    self._report_error(str(exc))
                    continue
                self.viewer.add_image(data, **kwargs)
        folder = outcome.files[0].parent if outcome.files else self.output_edit.text()
        self._report_info(f"Wrote {len(outcome.files)} file(s) to {folder}.")

    def _on_crashed(self, exc: BaseException) -> None:
        self._delivered = True
        # napari's worker already shows the error (with its traceback) as a notification.
        self._set_status(f"Failed: {type(exc).__name__}: {exc}")

    def _on_finished(self) -> None:
        if not self._delivered and self._cancel_token is not None:
            # quit() (napari closing) suppresses the returned signal: the job was cancelled
            self._report_info("Super-resolve cancelled; nothing was added.")
        self.worker = None
        self._cancel_token = None
        self._set_running(False)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        self._update_ready()

    # ------------------------------------------------------------------ messages
    def _set_status(self, text: str) -> None:
        self.status.setProperty("semsr_hint", False)
        self.status.setText(text)

    def _report_error(self, text: str) -> None:
        self._set_status(f"Error: {text}")
        show_error(text)

    def _report_info(self, text: str) -> None:
        self._set_status(text)
        show_info(text)


def _layer_work(source: LayerSource, model: Any, settings: SuperResolveSettings,
                on_event: Any, cancel: Any, with_map: bool = True) -> Any:
    """The layer job: the result's layer data and the disagreement map's (a list)."""
    from semsr_app.jobs import super_resolve_layer

    def work() -> Any:
        maps: list = []
        result = super_resolve_layer(source, model, settings, on_event=on_event,
                                     cancel=cancel, disagreement=maps if with_map else None)
        zssr = getattr(model, "card", None) and model.card.training.get("zssr")
        if zssr:  # a ZSSR run: what it trained with, as the files' metadata has it
            result[1]["metadata"]["provenance"]["settings"]["zssr"] = dict(zssr)
        return result, maps

    return work


def main(argv: list[str] | None = None) -> int:
    """Open napari with the Super-resolve panel docked and the given files opened."""
    from semsr_app.launch import launch

    return launch(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
