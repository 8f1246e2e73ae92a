"""The Super-resolve panel's source: an image layer (the whole stack or the slice on
screen) or files and folders written to an output folder; and the Reference layer of
reference-based models (MASA-SR), an HR image of similar content whose texture they
transfer.

:class:`SourceChooser` is a part (a mixin) of
:class:`~semsr_app.widgets.super_resolve.panel.SuperResolvePanel`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Image
from qtpy.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from semsr_app.jobs import LayerSource
from semsr_app.widgets.parts import side_by_side
from semsr_app.widgets.super_resolve.choices import IMAGE_FILTER


class SourceChooser:
    """The source box, the layer lists (source and reference) and the file choosers."""

    def _build_source_box(self) -> QGroupBox:
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
        self.cluster_edit = QLineEdit()
        self.cluster_edit.setPlaceholderText("empty: here; local; or tcp://scheduler:8786")
        self.cluster_edit.setToolTip(
            "Send the files to a Dask cluster, one task per slice: 'local' for a cluster of "
            "this computer's cores, or the address of a running scheduler (its workers must "
            "read the same files and model). Empty: run here, in this process.")
        files_form.addRow("Cluster", self.cluster_edit)
        self.open_results = QCheckBox("Open the results as layers")
        self.open_results.setChecked(True)
        self.overwrite = QCheckBox("Replace existing output files")
        files_form.addRow("", self.open_results)
        files_form.addRow("", self.overwrite)
        source_layout.addWidget(self.files_box)
        return source_box

    # ------------------------------------------------------------------ sources
    def refresh_layers(self) -> None:
        """List the viewer's grayscale image layers (as sources and as references),
        keeping the current choices."""
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
        reference = self.reference_combo.currentText()
        self.reference_combo.blockSignals(True)
        self.reference_combo.clear()
        self.reference_combo.addItems(names)
        # never guessed: the user names the reference (no choice until then)
        self.reference_combo.setCurrentIndex(names.index(reference) if reference in names
                                             else -1)
        self.reference_combo.blockSignals(False)
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

    def reference_layer(self) -> Image | None:
        """The chosen Reference layer, if it is still in the viewer."""
        name = self.reference_combo.currentText()
        return self.viewer.layers[name] if name and name in self.viewer.layers else None

    def reference_image(self) -> tuple[np.ndarray | None, str | None]:
        """For a reference-based model: the Reference layer's image (2-D; of a stack, the
        slice on screen) and its name for provenance; ``(None, None)`` otherwise."""
        layer = self.reference_layer() if self.reference_based() else None
        if layer is None:
            return None, None
        data = layer.data[0] if layer.multiscale else layer.data
        if layer.ndim == 3:
            point = self.viewer.dims.point[-layer.ndim:]
            index = int(np.clip(round(float(layer.world_to_data(point)[0])), 0,
                                data.shape[0] - 1))
            return np.asarray(data[index]), f"layer {layer.name}, slice {index}"
        return np.asarray(data), f"layer {layer.name}"
