"""The Super-resolve panel's model and settings: the model list (installed models,
model files opened, "ZSSR (trains on this image)"), the Reference layer row shown for
reference-based models, the device, tile size, precision, output type, consistency
guard, adapt-to-image time and ZSSR's own settings.

:class:`ModelChooser` is a part (a mixin) of
:class:`~semsr_app.widgets.super_resolve.panel.SuperResolvePanel`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtpy.QtCore import Qt
from qtpy.QtGui import QIntValidator
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QSpinBox,
    QWidget,
)

from semsr_app.jobs import SuperResolveSettings
from semsr_app.widgets.super_resolve.choices import (
    GUARDS,
    MODEL_FILTER,
    OPEN_MODEL,
    OUTPUT_TYPES,
    PRECISIONS,
    TILE_CHOICES,
    ZSSR_LABEL,
    ZSSR_MODEL,
    ZSSR_SECONDS,
    RefreshingComboBox,
)

ARCH_ROLE = Qt.UserRole + 2
"""The model list's item role holding the model's network (arch), where known."""

ADAPTABLE_ROLE = Qt.UserRole + 3
"""The model list's item role: whether "adapt to this image" fits the model
(:func:`semsr_core.infer.zssr.adaptable`; False where not known, e.g. a .pth file)."""

ADAPT_TIP = ("Adapt to this image: fine-tune the model for this long on the image's own "
             "downscaled copies (per slice), then enlarge it. Helps on content the model "
             "has not seen.")

NOT_ADAPTABLE_TIP = (
    "Not for this model: adapting learns from the image's own smaller copies, in the "
    "scan's contrast, and would unteach what a model trained on a lab's pairs learned "
    "(e.g. the contrast between its LR and HR scans). Offered for models whose card names "
    "the measurement they invert, such as the bundled ones.")


class ModelChooser:
    """The "Model and settings" box and what it says about the chosen model."""

    def _build_settings_box(self) -> QGroupBox:
        settings_box = QGroupBox("Model and settings")
        form = QFormLayout(settings_box)
        self.model_combo = RefreshingComboBox(self.refresh_models)
        self.model_combo.setToolTip("Installed models are listed again each time this list "
                                    "opens; “Open model file…” adds any .semsr or .pth file")
        self.model_combo.setPlaceholderText("no model installed: open a model file")
        self.model_combo.activated.connect(self._on_model_activated)
        self.model_combo.currentIndexChanged.connect(self._update_ready)
        self._model_index = -1
        form.addRow("Model", self.model_combo)
        self.reference_box = QWidget()  # shown for reference-based models only
        reference_form = QFormLayout(self.reference_box)
        reference_form.setContentsMargins(0, 0, 0, 0)
        self.reference_combo = QComboBox()
        self.reference_combo.setPlaceholderText("choose an HR image of similar content")
        self.reference_combo.setToolTip(
            "This model is reference-based (MASA-SR): it enlarges the image with the "
            "texture of a reference, an HR image of similar content (e.g. another scan of "
            "the same specimen at the output's pixel size). For a stack, the slice on "
            "screen is used.")
        self.reference_combo.currentIndexChanged.connect(self._update_ready)
        reference_form.addRow("Reference", self.reference_combo)
        form.addRow(self.reference_box)
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
        self.clean_variant = QCheckBox("Clean scans: the model's clean variant")
        self.clean_variant.setChecked(True)
        self.clean_variant.setToolTip(
            "A scan that reads clean (little noise) is enlarged by the model's variant "
            "trained on noise-free inputs, where the model has one (default-x4): it keeps "
            "fine structure that a model also made for noisy scans smooths. The choice "
            "and the noise it was made on are in the result's metadata.")
        form.addRow("", self.clean_variant)
        self.show_map = QCheckBox("Add the disagreement map as a layer")
        self.show_map.setChecked(True)
        form.addRow("", self.show_map)
        self.adapt_spin = QSpinBox()
        self.adapt_spin.setRange(0, 3600)
        self.adapt_spin.setSuffix(" s")
        self.adapt_spin.setSpecialValueText("off")
        self.adapt_spin.setToolTip(ADAPT_TIP)
        form.addRow("Adapt to image", self.adapt_spin)
        self.self_ensemble = QCheckBox("Average the 8 rotations/mirrors (8× slower)")
        self.self_ensemble.setToolTip(
            "Enlarge the image turned and mirrored 8 ways and average the 8 results turned "
            "back: a little closer to the truth (0.0–0.2 dB on semsr's benchmarks), "
            "eight times the time. The guard then applies to the average.")
        form.addRow("", self.self_ensemble)
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
        return settings_box

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

    # ------------------------------------------------------------------ models
    def refresh_models(self) -> None:
        """List installed models (user, then bundled), files opened before, and
        "Open model file…"."""
        from semsr_core.infer.zssr import adaptable
        from semsr_core.models import list_models, preferred_model

        current = self.model_combo.currentData()
        opened = [(self.model_combo.itemText(i), self.model_combo.itemData(i),
                   self.model_combo.itemData(i, ARCH_ROLE),
                   self.model_combo.itemData(i, ADAPTABLE_ROLE))
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
            self.model_combo.setItemData(self.model_combo.count() - 1, entry.arch, ARCH_ROLE)
            self.model_combo.setItemData(self.model_combo.count() - 1,
                                         adaptable(entry.arch, entry.measurement),
                                         ADAPTABLE_ROLE)
            if entry.description:  # e.g. that default-x4-clean is default-x4's clean variant
                self.model_combo.setItemData(self.model_combo.count() - 1, entry.description,
                                             Qt.ToolTipRole)
        self.model_combo.addItem(ZSSR_LABEL, ZSSR_MODEL)
        self.model_combo.setItemData(self.model_combo.count() - 1,
                                     "trains a small network on each image or slice itself "
                                     "before enlarging it; no model file needed",
                                     Qt.ToolTipRole)
        for text, path, arch, can_adapt in opened:
            self.model_combo.addItem(text, path)
            self.model_combo.setItemData(self.model_combo.count() - 1, "file", Qt.UserRole + 1)
            self.model_combo.setItemData(self.model_combo.count() - 1, arch, ARCH_ROLE)
            self.model_combo.setItemData(self.model_combo.count() - 1, can_adapt,
                                         ADAPTABLE_ROLE)
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
            text, arch, can_adapt = Path(path).name, None, False
            if path.lower().endswith((".semsr", ".safetensors")):
                from semsr_core.errors import ModelError
                from semsr_core.infer.zssr import adaptable
                from semsr_core.models import read_card

                try:
                    card = read_card(path)
                    text = f"{Path(path).name} — {card.arch} ×{card.scale} (file)"
                    arch = card.arch
                    can_adapt = adaptable(card.arch, card.training.get("measurement"))
                except ModelError as exc:
                    self._report_error(str(exc))
                    self._restore_model_choice()
                    return
            index = self.model_combo.count() - 1  # before "Open model file…"
            self.model_combo.insertItem(index, text, path)
            self.model_combo.setItemData(index, "file", Qt.UserRole + 1)
            self.model_combo.setItemData(index, arch, ARCH_ROLE)
            self.model_combo.setItemData(index, can_adapt, ADAPTABLE_ROLE)
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

    def reference_based(self) -> bool:
        """Whether the chosen model takes a reference image (MASA-SR)."""
        from semsr_core.infer.reference import takes_reference

        arch = self.model_combo.currentData(ARCH_ROLE)
        return bool(arch) and takes_reference(str(arch))

    def adaptable(self) -> bool:
        """Whether "adapt to this image" fits the chosen model (not ZSSR, not a
        reference-based model, and :func:`semsr_core.infer.zssr.adaptable`)."""
        return (not self.zssr_chosen() and not self.reference_based()
                and bool(self.model_combo.currentData(ADAPTABLE_ROLE)))

    def _on_model_changed(self, *_: Any) -> None:
        """ZSSR's own settings while it is chosen, the Reference layer while a
        reference-based model is; "adapt" is for trained single-input models only."""
        zssr = self.zssr_chosen()
        reference = self.reference_based()
        self.zssr_box.setVisible(zssr)
        self.reference_box.setVisible(reference)
        adaptable = self.adaptable()
        self.adapt_spin.setEnabled(adaptable and self.worker is None)
        self.adapt_spin.setToolTip(ADAPT_TIP if adaptable or zssr or reference
                                   else NOT_ADAPTABLE_TIP)
        self.self_ensemble.setVisible(not zssr)  # ZSSR has its own (median) ensemble box

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
                                    clean_variant="auto" if self.clean_variant.isChecked()
                                    else "off",
                                    adapt_seconds=float(self.adapt_spin.value())
                                    if self.adaptable() else 0.0,
                                    self_ensemble=self.self_ensemble.isChecked()
                                    and not self.zssr_chosen())
