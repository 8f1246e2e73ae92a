"""Page 5 of the training wizard: device, run folder and time limit
(:class:`RunPage`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWizardPage,
)

from semsr_app import wizard_data
from semsr_app.widgets.parts import side_by_side
from semsr_app.widgets.wizard.common import folder_row, message_label


class RunPage(QWizardPage):
    """Device, run folder and an optional time limit; Finish starts the training."""

    def __init__(self, wizard: Any) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("5 · Device and run folder")
        self.setSubTitle("Start training hands the run to the training monitor; this "
                         "wizard can then be closed and training goes on.")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.device_combo = QComboBox()
        self._fill_devices()
        form.addRow("Device", self.device_combo)
        self.run_edit = QLineEdit()
        self.run_edit.setToolTip("A new folder: the aligned data (data/), config.toml, "
                                 "checkpoints, logs and the trained model.semsr go here")
        self.run_edit.textChanged.connect(self.completeChanged)
        form.addRow("Run folder", folder_row(self.run_edit, "Run folder", self))
        self.limit_check = QCheckBox("Stop after")
        self.limit_spin = QDoubleSpinBox()
        self.limit_spin.setRange(0.5, 10_000)
        self.limit_spin.setValue(60)
        self.limit_spin.setSuffix(" min")
        self.limit_spin.setEnabled(False)
        self.limit_check.toggled.connect(self.limit_spin.setEnabled)
        self.limit_check.toggled.connect(self._show_summary)
        self.limit_spin.valueChanged.connect(self._show_summary)
        limit_row = side_by_side(self.limit_check, self.limit_spin)
        limit_row.layout().addStretch(1)
        form.addRow("Time limit", limit_row)
        layout.addLayout(form)
        self.summary = message_label()
        layout.addWidget(self.summary)
        layout.addStretch(1)
        self._default_run = ""

    def _fill_devices(self) -> None:
        from semsr_core.infer.device import available_devices

        self.device_combo.addItem("auto (CUDA → MPS → CPU)", "auto")
        for device in available_devices():
            label = device.name
            if device.total_memory:
                kind = "RAM" if device.id == "cpu" else "memory"
                label = f"{label}, {device.total_memory / 2**30:.0f} GiB {kind}"
            if device.id.startswith("cuda"):
                label = f"{device.id}: {label}"
            self.device_combo.addItem(label, device.id)

    def device(self) -> str:
        return self.device_combo.currentData() or "auto"

    def max_minutes(self) -> float | None:
        return self.limit_spin.value() if self.limit_check.isChecked() else None

    def run_dir(self) -> Path | None:
        text = self.run_edit.text().strip()
        return Path(text).expanduser() if text else None

    def initializePage(self) -> None:
        recipe = self.owner.recipe_page.recipe()
        current = self.run_edit.text().strip()
        if not current or current == self._default_run:  # follow the recipe until edited
            self._default_run = str(wizard_data.new_run_folder(recipe))
            self.run_edit.setText(self._default_run)
        self._show_summary()

    def _show_summary(self, *_: Any) -> None:
        """The run in words: recipe, pairs, overrides and the planned steps and minutes
        (with a time limit: the plan the engine fits to it)."""
        recipe_page = self.owner.recipe_page
        recipe = recipe_page.recipe()
        overrides = recipe_page.overrides()
        used = sum(c.included for c in self.owner.align_page.checks)
        estimate = recipe_page.estimate
        minutes = self.max_minutes()
        if estimate is None:
            planned = ("<br><br>No time estimate yet (“Measure time and memory” on the "
                       "previous page)."
                       + (f" The schedule is fitted to the {minutes:g}-minute limit once "
                          "training starts." if minutes else ""))
        else:
            planned = f"<br><br>Measured: {estimate.describe()}"
            if minutes and recipe_page.config is not None:
                plan = estimate.within(recipe_page.config, minutes)
                planned += f"<br>Planned within the time limit: {plan.describe()}"
        self.summary.setText(
            f"Recipe <b>{recipe}</b> on {used} pair(s); overrides: "
            f"{', '.join(overrides) or 'none'}. The pairs are moved into "
            "&lt;run folder&gt;/data so the run can be repeated exactly." + planned)

    def isComplete(self) -> bool:
        return self.run_dir() is not None

    def validatePage(self) -> bool:
        return self.owner.start_training()

