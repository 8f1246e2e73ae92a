"""The Super-resolve panel: enlarge an image layer, or files and folders, with a model.

Choose the source (an image layer — the whole stack or the slice on screen — or
files/folders written to an output folder), the model (installed models, any
``.semsr``/``.safetensors``/``.pth`` file, or "ZSSR (trains on this image)": a small
network trained on each image or slice itself for a time bound, [S1] §3.1), the device
(each one this machine has, with its memory), the tile size and the precision, then
Run. A reference-based model (MASA-SR) also needs a Reference layer, an HR image of
similar content whose texture it transfers; the row is shown only for such models and
Run waits until one is chosen. The work runs in a napari ``thread_worker``; the
progress bar counts tiles (and ZSSR's training seconds), Cancel stops before the next
tile or training step, and the result arrives as a layer named ``"<source> [SR ×s]"``
laid exactly over its source (scale ÷ s, pixel centres aligned) with the model and
settings in its metadata. Errors become notifications and the panel stays usable.

Run it on its own with ``python -m semsr_app.widgets.super_resolve [FILES]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from semsr_app.widgets.parts import CancellableWorker, EventRelay, side_by_side
from semsr_app.widgets.super_resolve.job import RunningJob
from semsr_app.widgets.super_resolve.models import ModelChooser
from semsr_app.widgets.super_resolve.sources import SourceChooser

if TYPE_CHECKING:
    import napari


class SuperResolvePanel(QWidget, SourceChooser, ModelChooser, RunningJob):
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
        root.addWidget(self._build_source_box())
        root.addWidget(self._build_settings_box())
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

    def _missing(self) -> str:
        """What the user still has to choose before Run (empty when ready)."""
        if self.model_path() is None:
            return "Choose a model (or “Open model file…”)."
        if self.reference_based() and self.reference_layer() is None:
            return ("Choose a Reference layer: this model is reference-based (MASA-SR) and "
                    "enlarges with the texture of an HR image of similar content.")
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
