"""The Export panel: save the selected image layers as OME-TIFF files in a folder.

Select image layers in napari's layer list, click "Save selected layers as OME-TIFF…"
and choose a folder: each layer becomes ``<layer name>.ome.tif`` with its pixel size
and provenance (model, settings, source) — :func:`semsr_app.writer.write_images`, the
same writer as File ▸ Save Selected Layers. Existing files are replaced only when
"Replace existing files" is ticked; each file is written atomically, so a failure
(an unwritable folder, a full disk) leaves no half-written file. Writing runs in a
background worker; the panel lists what was written, errors become notifications.

"Save model file…" writes a model — an installed one, or one the Super-resolve panel
offers (a trained run's ``model.semsr``, an imported ``.pth``) — as a ``.semsr`` file
to share (:func:`semsr_core.models.export_model`: weights and model card in one file).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari.layers import Image
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from semsr_app.widgets.parts import qt_alive
from semsr_app.writer import file_name

if TYPE_CHECKING:
    import napari


class ExportPanel(QWidget):
    """Dock panel that saves the selected image layers as OME-TIFF files."""

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.worker: Any = None
        self.written: list[str] = []
        root = QVBoxLayout(self)
        self.save_button = QPushButton("Save selected layers as OME-TIFF…")
        self.save_button.setToolTip("One <layer name>.ome.tif per selected image layer, with "
                                    "its pixel size and provenance")
        self.save_button.clicked.connect(self._choose_folder)
        root.addWidget(self.save_button)
        self.replace = QCheckBox("Replace existing files")
        root.addWidget(self.replace)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        root.addWidget(self.status)
        root.addSpacing(12)
        root.addWidget(QLabel("Model file to share:"))
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Installed models and the models the Super-resolve panel "
                                    "offers (trained runs, opened files)")
        root.addWidget(self.model_combo)
        self.model_button = QPushButton("Save model file…")
        self.model_button.setToolTip("Write the model as one .semsr file: safetensors weights "
                                     "with its model card (recipe, training, figures)")
        self.model_button.clicked.connect(self._choose_model_destination)
        root.addWidget(self.model_button)
        root.addStretch(1)
        self.viewer.layers.selection.events.changed.connect(self._update_ready)
        self._update_ready()
        self.refresh_models()

    def showEvent(self, event: Any) -> None:  # the list follows what was trained meanwhile
        self.refresh_models()
        super().showEvent(event)

    def refresh_models(self) -> None:
        """Offer the Super-resolve panel's models, then every installed model."""
        from semsr_app.widgets.super_resolve import OPEN_MODEL, SuperResolvePanel
        from semsr_core.models import list_models

        current = self.model_combo.currentData()
        choices: dict[str, str] = {}
        for widget in self.viewer.window.dock_widgets.values():
            if isinstance(widget, SuperResolvePanel):
                combo = widget.model_combo
                for i in range(combo.count()):
                    if combo.itemData(i) not in (None, OPEN_MODEL):
                        choices.setdefault(str(combo.itemData(i)), combo.itemText(i))
        for entry in list_models():
            if not entry.problem:
                choices.setdefault(str(entry.path), f"{entry.name} — {entry.arch} "
                                                    f"×{entry.scale} ({entry.origin})")
        self.model_combo.clear()
        for path, text in choices.items():
            self.model_combo.addItem(text, path)
        index = self.model_combo.findData(current) if current else -1
        self.model_combo.setCurrentIndex(max(index, 0) if choices else -1)
        self.model_button.setEnabled(bool(choices))

    def _choose_model_destination(self) -> None:
        source = self.model_combo.currentData()
        if not source:
            return
        dest, _ = QFileDialog.getSaveFileName(self, "Save the model as", f"{Path(source).stem}"
                                              ".semsr", "semsr models (*.semsr)")
        if dest:  # the dialog has asked before replacing a file
            self.export_model_to(dest, replace=True)

    def export_model_to(self, dest: str | Path, *, replace: bool = False) -> Path | None:
        """Save the chosen model as a ``.semsr`` file at ``dest`` (a file or a folder)."""
        from semsr_core.errors import SemsrError
        from semsr_core.models import export_model

        source = self.model_combo.currentData()
        if not source:
            self._report_error("No model to save: train or open one first.")
            return None
        try:
            path = export_model(source, dest, overwrite=replace)
        except SemsrError as exc:
            self._report_error(str(exc))
            return None
        self.status.setText(f"Saved the model {Path(source).name} as {path}.")
        show_info(f"Saved the model as {path}")
        return path

    def selected_layers(self) -> list[Image]:
        """The selected image layers, in the layer list's order."""
        selection = self.viewer.layers.selection
        return [layer for layer in self.viewer.layers
                if layer in selection and isinstance(layer, Image)]

    def _update_ready(self, *_: Any) -> None:
        count = len(self.selected_layers())
        self.save_button.setEnabled(count > 0 and self.worker is None)
        if self.worker is None:
            self.status.setText(f"{count} image layer(s) selected." if count else
                                "Select image layers in the layer list to save them.")

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the OME-TIFF files")
        if folder:
            self.export_to(folder)

    def export_to(self, folder: str | Path) -> None:
        """Save the selected image layers into ``folder`` (in a worker)."""
        from semsr_core.errors import OutputError

        layers = self.selected_layers()
        if not layers:
            self._report_error("No image layer is selected: select the layers to save.")
            return
        if self.worker is not None:
            return
        folder = Path(folder)
        existing = [file_name(layer.name) for layer in layers
                    if (folder / file_name(layer.name)).exists()]
        if existing and not self.replace.isChecked():
            self._report_error(str(OutputError(
                f"{', '.join(existing)} already exist(s)", path=folder,
                hint="Tick 'Replace existing files' or choose another folder.")))
            return
        self.written = []
        layer_data = [layer.as_layer_data_tuple() for layer in layers]
        self.worker = create_worker(_write_guarded, str(folder), layer_data,
                                    _start_thread=False)
        self.worker.returned.connect(self._on_written)
        self.worker.errored.connect(self._on_crashed)
        self.worker.finished.connect(self._on_finished)
        self.save_button.setEnabled(False)
        self.status.setText(f"Saving {len(layers)} layer(s) to {folder}…")
        self.worker.start()

    def _on_written(self, result: list[str] | str) -> None:
        if not qt_alive(self.status):  # napari was closed while writing
            return
        if isinstance(result, str):
            self._report_error(result)
            return
        self.written = result
        names = "\n".join(Path(p).name for p in result)
        folder = Path(result[0]).parent if result else ""
        self.status.setText(f"Wrote {len(result)} file(s) to {folder}:\n{names}")
        show_info(f"Wrote {len(result)} OME-TIFF file(s) to {folder}: "
                  f"{', '.join(Path(p).name for p in result)}")

    def _on_crashed(self, exc: BaseException) -> None:
        # napari's worker already shows the error (with its traceback) as a notification.
        if qt_alive(self.status):
            self.status.setText(f"Failed: {type(exc).__name__}: {exc}")

    def _on_finished(self) -> None:
        self.worker = None
        if qt_alive(self.status):
            self.save_button.setEnabled(bool(self.selected_layers()))

    def _report_error(self, text: str) -> None:
        self.status.setText(f"Error: {text}")
        show_error(text)


def _write_guarded(folder: str, layer_data: list[tuple[Any, dict[str, Any], str]]
                   ) -> list[str] | str:
    """Write in the worker; user errors and OS errors come back as a message."""
    from semsr_app.writer import write_images
    from semsr_core.errors import SemsrError

    try:
        return write_images(folder, layer_data)
    except SemsrError as exc:
        return str(exc)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return (f"{folder}: cannot write there ({reason}). Choose a folder you can write "
                "to.")
