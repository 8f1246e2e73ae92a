"""Page 1 of the training wizard: where the images are (:class:`DataPage`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QLineEdit,
    QListWidget,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from semsr_app import wizard_data
from semsr_app.widgets.wizard.common import folder_row, message_label, set_message


class DataPage(QWizardPage):
    """Where the images are: LR and HR folders (optional naming rule), or HR only with
    the degradation that makes LR. Pairs are found as the folders are typed."""

    def __init__(self, wizard: Any) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("1 · Data")
        self.setSubTitle("Pairs of LR and HR scans of the same places, or HR scans only "
                         "(LR is then made from them by a degradation).")
        self.scan: wizard_data.DataScan | None = None
        layout = QVBoxLayout(self)
        self.paired_mode = QRadioButton("LR and HR folders (files matched by name)")
        self.hr_only_mode = QRadioButton("HR only: make LR by a degradation")
        self.paired_mode.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.paired_mode)
        group.addButton(self.hr_only_mode)
        layout.addWidget(self.paired_mode)
        form = QFormLayout()
        self.lr_edit = QLineEdit()
        self.lr_edit.setPlaceholderText("folder of low-resolution scans")
        self.hr_edit = QLineEdit()
        self.hr_edit.setPlaceholderText("folder of high-resolution scans")
        self.rule_edit = QLineEdit()
        self.rule_edit.setPlaceholderText(r"optional, e.g. (?P<stem>.+)_\d+kx\.tif")
        self.rule_edit.setToolTip("A regular expression with a group (?P<stem>…) giving the "
                                  "common name of an LR file and its HR file")
        form.addRow("LR folder", folder_row(self.lr_edit, "LR folder", self))
        form.addRow("HR folder", folder_row(self.hr_edit, "HR folder", self))
        form.addRow("Naming rule", self.rule_edit)
        layout.addLayout(form)
        layout.addWidget(self.hr_only_mode)
        hr_form = QFormLayout()
        self.degradation_combo = QComboBox()
        self.degradation_combo.addItems(wizard_data.DEGRADATIONS)
        self.degradation_combo.setToolTip("How LR images are made from the HR ones: "
                                          "bicubic, crappify (blur, noise, JPEG), area "
                                          "average, sem-noise (SEM scan noise)")
        self.scale_combo = QComboBox()
        for scale in (2, 4, 8):
            self.scale_combo.addItem(f"×{scale}", scale)
        self.scale_combo.setCurrentIndex(1)
        hr_form.addRow("Degradation", self.degradation_combo)
        hr_form.addRow("Scale", self.scale_combo)
        self.hr_only_box = QWidget()
        self.hr_only_box.setLayout(hr_form)
        layout.addWidget(self.hr_only_box)
        self.result_label = message_label()
        layout.addWidget(self.result_label)
        self.left_out = QListWidget()
        self.left_out.setToolTip("Files that are not used, and why")
        layout.addWidget(self.left_out, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)
        self._timer.timeout.connect(self.rescan)
        for edit in (self.lr_edit, self.hr_edit, self.rule_edit):
            edit.textChanged.connect(self._timer.start)
        self.paired_mode.toggled.connect(self._on_mode)
        self.degradation_combo.currentIndexChanged.connect(self._timer.start)
        self.scale_combo.currentIndexChanged.connect(self._timer.start)
        self._on_mode()

    def _on_mode(self, *_: Any) -> None:
        paired = self.paired_mode.isChecked()
        self.lr_edit.setEnabled(paired)
        self.rule_edit.setEnabled(paired)
        self.hr_only_box.setEnabled(not paired)
        self._timer.start()

    def choice(self) -> wizard_data.DataChoice | None:
        hr = self.hr_edit.text().strip()
        lr = self.lr_edit.text().strip()
        if not hr or (self.paired_mode.isChecked() and not lr):
            return None
        if self.hr_only_mode.isChecked():
            return wizard_data.DataChoice(hr_dir=Path(hr),
                                          degradation=self.degradation_combo.currentText(),
                                          scale=int(self.scale_combo.currentData()))
        return wizard_data.DataChoice(hr_dir=Path(hr), lr_dir=Path(lr),
                                      rule=self.rule_edit.text().strip() or None)

    def rescan(self) -> None:
        """Pair the folders now; a problem is shown on the page and Next stays off."""
        from semsr_core.errors import SemsrError

        self._timer.stop()
        self.scan = None
        self.left_out.clear()
        choice = self.choice()
        if choice is None:
            need = "the LR and HR folders" if self.paired_mode.isChecked() else "the HR folder"
            set_message(self.result_label, f"Choose {need}.")
        else:
            try:
                self.scan = wizard_data.scan_data(choice)
            except SemsrError as exc:
                set_message(self.result_label, str(exc), error=True)
            except OSError as exc:  # e.g. a folder without read permission
                where = getattr(exc, "filename", None) or choice.hr_dir
                set_message(self.result_label, f"{where}: cannot be read "
                             f"({exc.strerror or exc}). Check the folder's permissions.",
                             error=True)
            else:
                set_message(self.result_label, self.scan.describe())
                for path, reason in self.scan.left_out:
                    self.left_out.addItem(f"{path.name}: {reason}")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.scan is not None and not self._timer.isActive()

    def validatePage(self) -> bool:
        """Go on with the pairs found; files that cannot be read are also notified."""
        from napari.utils.notifications import show_warning

        if self._timer.isActive():
            self.rescan()
        if self.scan is None:
            return False
        broken = [path.name for path, reason in self.scan.left_out
                  if reason.startswith("cannot be read")]
        if broken:
            show_warning(f"{len(broken)} file(s) cannot be read and are left out: "
                         f"{', '.join(broken[:5])}{' …' if len(broken) > 5 else ''} "
                         "(the reasons are listed on the Data page)")
        return True


