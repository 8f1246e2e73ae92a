"""Page 3 of the training wizard: augmentations with live previews
(:class:`AugmentationPage`).
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from semsr_app import wizard_data
from semsr_app.widgets.parts import Outcome
from semsr_app.widgets.wizard.common import message_label, pixmap, set_message
from semsr_app.widgets.wizard.job import BackgroundJob


class AugmentationPage(QWizardPage):
    """Augmentations with live previews of training samples made from the user's pairs
    (:func:`semsr_core.data.preview.preview`)."""

    def __init__(self, wizard: Any) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("3 · Augmentation")
        self.setSubTitle("What the training samples look like. Left at “recipe's choice”, "
                         "the recipe chosen on the next page decides; a choice here "
                         "overrides it.")
        self.pairs: Any = None
        self._pairs_for: Any = None
        self.job = BackgroundJob(self)
        layout = QHBoxLayout(self)
        options = QVBoxLayout()
        form = QFormLayout()
        self.geometric_combo = QComboBox()
        self.geometric_combo.addItem("recipe's choice", None)
        for name in wizard_data.GEOMETRIC:
            self.geometric_combo.addItem(name, name)
        self.geometric_combo.setToolTip("rot90flip: the 8 right-angle turns and flips; rot16: "
                                        "16 rotations of each tile; stretch_shear: small "
                                        "affine changes; none")
        form.addRow("Geometric", self.geometric_combo)
        options.addLayout(form)
        self.defects_box = QGroupBox("Synthetic defects ([S0] Alg. 1)")
        self.defects_box.setCheckable(True)
        self.defects_box.setChecked(False)
        self.defects_box.setToolTip("Paste random shapes of other images into the tiles, "
                                    "so rare defects are not erased")
        defects_form = QFormLayout(self.defects_box)
        self.alpha_spin = QSpinBox()
        self.alpha_spin.setRange(8, 512)
        self.alpha_spin.setValue(32)
        self.alpha_spin.setToolTip("α: LR tile side (also the training patch)")
        self.beta_spin = QSpinBox()
        self.beta_spin.setRange(1, 1024)
        self.beta_spin.setValue(128)
        self.beta_spin.setToolTip("β: copies of each tile, each with its own pasted defect")
        defects_form.addRow("α (tile, px)", self.alpha_spin)
        defects_form.addRow("β (copies)", self.beta_spin)
        options.addWidget(self.defects_box)
        self.paste_box = QGroupBox("ZSSR patch pasting ([S1] §3.2.1)")
        self.paste_box.setCheckable(True)
        self.paste_box.setChecked(False)
        paste_form = QFormLayout(self.paste_box)
        self.n1_spin = QSpinBox()
        self.n1_spin.setRange(1, 100)
        self.n1_spin.setValue(10)
        self.n1_spin.setToolTip("n1: crops pasted into each copy")
        self.n2_spin = QSpinBox()
        self.n2_spin.setRange(1, 20)
        self.n2_spin.setValue(1)
        self.n2_spin.setToolTip("n2: pasted copies of each image")
        paste_form.addRow("n1 (crops)", self.n1_spin)
        paste_form.addRow("n2 (copies)", self.n2_spin)
        options.addWidget(self.paste_box)
        self.status = message_label()
        options.addWidget(self.status)
        options.addStretch(1)
        holder = QWidget()
        holder.setLayout(options)
        holder.setMaximumWidth(300)
        layout.addWidget(holder)
        self.preview_area = QScrollArea()
        self.preview_area.setWidgetResizable(True)
        self.preview_widget = QWidget()
        self.preview_layout = QVBoxLayout(self.preview_widget)
        self.preview_area.setWidget(self.preview_widget)
        layout.addWidget(self.preview_area, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)
        self._timer.timeout.connect(self.refresh)
        self.geometric_combo.currentIndexChanged.connect(self._timer.start)
        for box in (self.defects_box, self.paste_box):
            box.toggled.connect(self._timer.start)
        for spin in (self.alpha_spin, self.beta_spin, self.n1_spin, self.n2_spin):
            spin.valueChanged.connect(self._timer.start)

    def choice(self) -> wizard_data.AugmentationChoice:
        return wizard_data.AugmentationChoice(
            geometric=self.geometric_combo.currentData(),
            defects=((self.alpha_spin.value(), self.beta_spin.value())
                     if self.defects_box.isChecked() else None),
            paste=((self.n1_spin.value(), self.n2_spin.value())
                   if self.paste_box.isChecked() else None))

    def initializePage(self) -> None:
        if self._pairs_for != self.owner.staged_version:  # other pairs were staged
            self.pairs = None
        self.refresh()

    def refresh(self) -> None:
        """Make new previews in a worker (the pairs are read once)."""
        self._timer.stop()
        data_dir, choice = self.owner.staged_data_dir, self.choice()
        data_choice = self.owner.data_page.scan.choice
        version = self.owner.staged_version
        pairs = self.pairs
        set_message(self.status, "Making previews…")

        def work(on_event: Any, cancel: Any) -> Any:
            loaded = pairs if pairs is not None else wizard_data.load_training_pairs(
                data_dir, data_choice)
            cancel.raise_if_cancelled()
            grids = wizard_data.augmentation_previews(
                loaded, choice, degradation=data_choice.degradation)
            return loaded, grids

        self.job.start(work, lambda outcome: self._on_done(outcome, version))

    def _on_done(self, outcome: Outcome, version: int) -> None:
        if outcome.error:
            set_message(self.status, outcome.error, error=True)
            return
        if outcome.cancelled:
            return
        self.pairs, grids = outcome.value
        self._pairs_for = version
        while self.preview_layout.count():
            item = self.preview_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for title, grid in grids:
            label = QLabel(f"<b>{title}</b> — LR (enlarged) | HR | pasted content outlined")
            label.setWordWrap(True)
            self.preview_layout.addWidget(label)
            image = QLabel()
            image.setPixmap(pixmap(grid, 520))
            self.preview_layout.addWidget(image)
        self.preview_layout.addStretch(1)
        overrides = self.choice().overrides()
        set_message(self.status, "Overrides: " + (", ".join(overrides) if overrides
                                                   else "none (the recipe decides)"))

    def cleanupPage(self) -> None:
        self.job.cancel()


