"""The pages of the training wizard (see :mod:`semsr_app.widgets.wizard`).

Each page keeps its work in :mod:`semsr_app.wizard_data` (Qt-free) and runs anything
slow — alignment, previews, the time/memory estimate — in a napari ``thread_worker``
(:class:`BackgroundJob`): progress arrives through a queued Qt signal, a user error
becomes a message on the page, a bug becomes napari's error notification, and the
wizard stays usable either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.qt.threading import create_worker
from qtpy.QtCore import QObject, Qt, QTimer, Signal
from qtpy.QtGui import QImage, QPixmap
from qtpy.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from semsr_app import wizard_data
from semsr_app.widgets.parts import CancellableWorker, EventRelay, run_guarded, side_by_side

if TYPE_CHECKING:
    from semsr_app.widgets.wizard import TrainingWizard

ERROR_STYLE = "color: #e0503c;"
DEFAULT_RECIPE = "finetune"  # until the data is known (wizard_data.default_recipe)


# ------------------------------------------------------------------ background work


@dataclass
class JobOutcome:
    """How a background job ended: its value, cancelled, or a user-facing message."""

    value: Any = None
    cancelled: bool = False
    error: str = ""


def _guarded(work: Any) -> JobOutcome:
    """A page's background work in the worker (:func:`run_guarded`)."""
    return run_guarded(work, JobOutcome(), "use fewer or smaller images, or close other "
                                           "programs")


class _JobReceiver(QObject):
    """Receives one worker's signals on the GUI thread. A child of its job: when the job
    (or the wizard) is deleted, or the job moves on, Qt drops the connections, so a late
    result never reaches a page that is gone."""

    def __init__(self, job: BackgroundJob, on_done: Any) -> None:
        super().__init__(job)
        self.job = job
        self.on_done = on_done

    def returned(self, outcome: JobOutcome) -> None:
        self.on_done(outcome)

    def finished(self) -> None:
        self.job._finished(self)


class BackgroundJob(QObject):
    """One piece of slow work at a time in a napari worker, with a cancel token.

    ``start(work, on_done)``: ``work(on_event, cancel)`` runs in the worker; ``on_done``
    gets the :class:`JobOutcome` on the GUI thread. ``progress`` relays engine events.
    Starting again or :meth:`cancel` stops the earlier work and drops its result.
    """

    progress = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.token: Any = None
        self._receiver: _JobReceiver | None = None
        self._relay = EventRelay(self)
        self._relay.event.connect(self.progress.emit)

    @property
    def running(self) -> bool:
        return self._receiver is not None

    def start(self, work: Any, on_done: Any) -> None:
        from semsr_core.events import CancelToken

        self.cancel()
        token = CancelToken()
        emit = self._relay.event.emit

        def call() -> Any:
            return work(emit, token)

        worker = create_worker(_guarded, call, _start_thread=False,
                               _worker_class=CancellableWorker, cancel_token=token)
        receiver = _JobReceiver(self, on_done)
        worker.returned.connect(receiver.returned)
        worker.finished.connect(receiver.finished)
        self.token, self._receiver = token, receiver
        worker.start()

    def _finished(self, receiver: _JobReceiver) -> None:
        if receiver is self._receiver:
            self.token, self._receiver = None, None
        receiver.deleteLater()

    def cancel(self) -> None:
        """Ask the running work to stop; its result is dropped."""
        if self.token is not None:
            self.token.cancel()
        if self._receiver is not None:
            self._receiver.deleteLater()  # disconnects the old worker's signals
        self.token, self._receiver = None, None


def _pixmap(rgb_or_gray: np.ndarray, max_side: int | None = None) -> QPixmap:
    array = np.ascontiguousarray(rgb_or_gray)
    if array.ndim == 2:
        h, w = array.shape
        image = QImage(array.data, w, h, w, QImage.Format_Grayscale8)
    else:
        h, w = array.shape[:2]
        image = QImage(array.data, w, h, 3 * w, QImage.Format_RGB888)
    pixmap = QPixmap.fromImage(image.copy())
    if max_side and max(h, w) > max_side:
        pixmap = pixmap.scaled(max_side, max_side, Qt.KeepAspectRatio, Qt.SmoothTransformation)
    return pixmap


def _folder_row(edit: QLineEdit, title: str, parent: QWidget) -> QWidget:
    button = QPushButton("Browse…")

    def choose() -> None:
        folder = QFileDialog.getExistingDirectory(parent, title, edit.text())
        if folder:
            edit.setText(folder)

    button.clicked.connect(choose)
    return side_by_side(edit, button)


def _message_label() -> QLabel:
    label = QLabel("")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label


def _set_message(label: QLabel, text: str, *, error: bool = False) -> None:
    label.setStyleSheet(ERROR_STYLE if error else "")
    label.setText(text)


# ------------------------------------------------------------------------ 1. data


class DataPage(QWizardPage):
    """Where the images are: LR and HR folders (optional naming rule), or HR only with
    the degradation that makes LR. Pairs are found as the folders are typed."""

    def __init__(self, wizard: TrainingWizard) -> None:
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
        form.addRow("LR folder", _folder_row(self.lr_edit, "LR folder", self))
        form.addRow("HR folder", _folder_row(self.hr_edit, "HR folder", self))
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
        self.result_label = _message_label()
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
            _set_message(self.result_label, f"Choose {need}.")
        else:
            try:
                self.scan = wizard_data.scan_data(choice)
            except SemsrError as exc:
                _set_message(self.result_label, str(exc), error=True)
            except OSError as exc:  # e.g. a folder without read permission
                where = getattr(exc, "filename", None) or choice.hr_dir
                _set_message(self.result_label, f"{where}: cannot be read "
                             f"({exc.strerror or exc}). Check the folder's permissions.",
                             error=True)
            else:
                _set_message(self.result_label, self.scan.describe())
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


# ------------------------------------------------------------------- 2. alignment

COLUMNS = ("Use", "Pair", "Scale", "NCC before", "NCC after", "Shift (y, x) px", "Verdict",
           "Why")


class AlignmentPage(QWizardPage):
    """Align every pair (in a worker), show the verdicts, let the user include or
    exclude pairs, and judge a pair by its overlay or by flickering LR↑ and HR."""

    def __init__(self, wizard: TrainingWizard) -> None:
        super().__init__()
        self.owner = wizard
        self.setTitle("2 · Alignment")
        self.checks: list[wizard_data.PairCheck] = []
        self._scanned: Any = None
        self._done = False
        self._views: wizard_data.OverlayViews | None = None
        self._views_stem = ""
        self._flicker_on_lr = True
        self.job = BackgroundJob(self)
        self.job.progress.connect(self._on_progress)

        layout = QVBoxLayout(self)
        self.info = _message_label()
        layout.addWidget(self.info)
        bar = QHBoxLayout()
        self.progress = QProgressBar()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel_button)
        layout.addLayout(bar)
        splitter = QSplitter(Qt.Horizontal)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.Interactive)
        header.setStretchLastSection(True)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._show_selected)
        splitter.addWidget(self.table)
        view = QWidget()
        view_layout = QVBoxLayout(view)
        view_layout.setContentsMargins(0, 0, 0, 0)
        self.view_title = QLabel("Select a pair to see it.")
        self.view_title.setWordWrap(True)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignCenter)
        self.image.setMinimumSize(320, 200)
        self.flicker_button = QPushButton("Flicker LR↑ / HR")
        self.flicker_button.setCheckable(True)
        self.flicker_button.setToolTip("Alternate the upscaled LR and the HR (aligned crops) "
                                       "twice a second: anything that jumps is misaligned")
        self.flicker_button.toggled.connect(self._on_flicker)
        self.flicker_button.setEnabled(False)
        self.open_button = QPushButton("Open in napari")
        self.open_button.setToolTip("Add the pair's LR↑ and HR (aligned crops) as layers, "
                                    "to compare them with napari's zoom and layer toggles")
        self.open_button.clicked.connect(self.open_in_viewer)
        self.open_button.setEnabled(False)
        self.open_button.setVisible(wizard.viewer is not None)
        view_layout.addWidget(self.view_title)
        view_layout.addWidget(self.image, 1)
        view_layout.addWidget(side_by_side(self.flicker_button, self.open_button))
        splitter.addWidget(view)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([640, 420])
        layout.addWidget(splitter, 1)
        self.summary = _message_label()
        layout.addWidget(self.summary)
        self.flicker_timer = QTimer(self)
        self.flicker_timer.setInterval(500)
        self.flicker_timer.timeout.connect(self._flicker_step)

    # ---------------------------------------------------------------- running
    def initializePage(self) -> None:
        scan = self.owner.data_page.scan
        if scan is self._scanned and (self._done or self.job.running):
            return  # the same data as before: keep the results and the user's choices
        self._scanned = scan
        self.start(scan)

    def start(self, scan: wizard_data.DataScan) -> None:
        """Align (or, for HR-only data, read) every pair in a worker."""
        self.checks = []
        self._done = False
        self.table.setRowCount(0)
        self._clear_view()
        hr_only = scan.choice.hr_only
        self.setSubTitle("No alignment is needed: LR is made from each HR image by the "
                         f"'{scan.choice.degradation}' degradation. Each image is read "
                         "once to check it." if hr_only else
                         "Each LR scan is registered to its HR scan and both are cropped "
                         "to the common field of view. Pairs judged 'aligned' are used; "
                         "tick or untick to change that.")
        self.table.setColumnHidden(3, hr_only)
        self.table.setColumnHidden(4, hr_only)
        self.table.setColumnHidden(5, hr_only)
        self.progress.setRange(0, len(scan.pairs))
        self.progress.setValue(0)
        self.cancel_button.setEnabled(True)
        _set_message(self.info, "Aligning…" if not hr_only else "Reading the HR images…")
        pairs = list(scan.pairs)
        self.job.start(lambda on_event, cancel: list(wizard_data.check_pairs(
            pairs, on_event=on_event, cancel=cancel)), self._on_done)
        self.completeChanged.emit()

    def cancel(self) -> None:
        """Stop aligning; Back and Next again start over."""
        self.job.cancel()
        self._scanned = None
        self.cancel_button.setEnabled(False)
        _set_message(self.info, "Alignment cancelled. Go back and on again to restart it.",
                     error=True)
        self.completeChanged.emit()

    def _on_progress(self, event: Any) -> None:
        from semsr_core.events import EventKind

        if event.kind is EventKind.PROGRESS:
            self.progress.setMaximum(int(event.data.get("total") or 0))
            self.progress.setValue(int(event.data.get("done", 0)))

    def _on_done(self, outcome: JobOutcome) -> None:
        self.cancel_button.setEnabled(False)
        if outcome.error:
            _set_message(self.info, outcome.error, error=True)
        elif not outcome.cancelled:
            self.checks = outcome.value
            self._done = True
            self._fill_table()
            failed = sum(c.verdict == "failed" for c in self.checks)
            _set_message(self.info, f"{len(self.checks)} pair(s) checked"
                         + (f"; {failed} failed (see the reason in each row's tooltip)"
                            if failed else "") + ".")
            if self.checks:
                self.table.selectRow(0)
        self._update_summary()
        self.completeChanged.emit()

    def _fill_table(self) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.checks))
        for row, check in enumerate(self.checks):
            use = QTableWidgetItem()
            use.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled | Qt.ItemIsSelectable)
            use.setCheckState(Qt.Checked if check.included else Qt.Unchecked)
            if check.verdict == "failed":
                use.setFlags(Qt.ItemIsSelectable | Qt.ItemIsEnabled)  # cannot be used
            shift = ("" if check.shift is None
                     else f"{check.shift[0]:+.2f}, {check.shift[1]:+.2f}")
            cells = [use, QTableWidgetItem(check.stem),
                     QTableWidgetItem("" if check.scale is None else f"×{check.scale}"),
                     QTableWidgetItem(_number(check.ncc_before)),
                     QTableWidgetItem(_number(check.ncc_after)),
                     QTableWidgetItem(shift), QTableWidgetItem(check.verdict),
                     QTableWidgetItem(check.reason)]
            for column, item in enumerate(cells):
                item.setToolTip(check.reason or check.verdict)
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)

    def set_included(self, row: int, included: bool) -> None:
        """Include or exclude the pair in ``row`` (as ticking its box does)."""
        self.table.item(row, 0).setCheckState(Qt.Checked if included else Qt.Unchecked)

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != 0 or item.row() >= len(self.checks):
            return
        self.checks[item.row()].included = item.checkState() == Qt.Checked
        self._update_summary()
        self.completeChanged.emit()

    def _update_summary(self) -> None:
        used = sum(c.included for c in self.checks)
        text = f"{used} of {len(self.checks)} pair(s) will be used for training."
        _set_message(self.summary, text if self._done else "", error=self._done and not used)

    # ---------------------------------------------------------------- viewing
    def _clear_view(self) -> None:
        self.flicker_button.setChecked(False)
        self.flicker_button.setEnabled(False)
        self.open_button.setEnabled(False)
        self.image.clear()
        self._views = None
        self.view_title.setText("Select a pair to see it.")

    def _show_selected(self) -> None:
        from semsr_core.errors import SemsrError

        rows = {index.row() for index in self.table.selectedIndexes()}
        if not rows or min(rows) >= len(self.checks):
            return
        check = self.checks[min(rows)]
        try:
            self._views = wizard_data.overlay_views(check)
        except (SemsrError, OSError) as exc:
            self._clear_view()
            self.view_title.setText(f"{check.stem}: {exc}")
            return
        self._views_stem = check.stem
        self.flicker_button.setEnabled(True)
        self.open_button.setEnabled(True)
        if self.flicker_button.isChecked():
            self._flicker_step()
        else:
            self._show_overlay(check)

    def _show_overlay(self, check: wizard_data.PairCheck | None = None) -> None:
        if self._views is None:
            return
        name = f"{check.stem}: " if check is not None else ""
        self.view_title.setText(f"{name}LR↑ (magenta) over HR (green) — before | after "
                                "alignment; grey where they agree")
        self.image.setPixmap(_pixmap(self._views.overlay, 560))

    def open_in_viewer(self) -> None:
        """Add the selected pair's LR↑ and HR (aligned, contrast-stretched) as layers."""
        viewer = self.owner.viewer
        if viewer is None or self._views is None:
            return
        stem = self._views_stem
        viewer.add_image(self._views.flicker_hr, name=f"{stem} HR (aligned)")
        viewer.add_image(self._views.flicker_lr, name=f"{stem} LR↑ (aligned)")

    def _on_flicker(self, on: bool) -> None:
        self.flicker_button.setText("Stop flickering" if on else "Flicker LR↑ / HR")
        if on:
            self._flicker_on_lr = True
            self._flicker_step()
            self.flicker_timer.start()
        else:
            self.flicker_timer.stop()
            self._show_overlay()

    def _flicker_step(self) -> None:
        if self._views is None:
            return
        frame = self._views.flicker_lr if self._flicker_on_lr else self._views.flicker_hr
        self.view_title.setText("Flicker: " + ("LR↑ (upscaled LR)" if self._flicker_on_lr
                                               else "HR"))
        self.image.setPixmap(_pixmap(frame, 420))
        self._flicker_on_lr = not self._flicker_on_lr

    # ---------------------------------------------------------------- leaving
    def isComplete(self) -> bool:
        return self._done and any(c.included for c in self.checks)

    def validatePage(self) -> bool:
        """Write the included pairs into the staged data folder the run will use."""
        from semsr_core.errors import SemsrError

        try:
            self.owner.stage_data(self.checks)
        except (SemsrError, OSError) as exc:
            _set_message(self.info, f"Could not write the training data: {exc}", error=True)
            self.owner.report_error(str(exc))
            return False
        return True

    def cleanupPage(self) -> None:
        self.flicker_timer.stop()
        self.flicker_button.setChecked(False)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


# ---------------------------------------------------------------- 3. augmentation


class AugmentationPage(QWizardPage):
    """Augmentations with live previews of training samples made from the user's pairs
    (:func:`semsr_core.data.preview.preview`)."""

    def __init__(self, wizard: TrainingWizard) -> None:
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
        self.status = _message_label()
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
        _set_message(self.status, "Making previews…")

        def work(on_event: Any, cancel: Any) -> Any:
            loaded = pairs if pairs is not None else wizard_data.load_training_pairs(
                data_dir, data_choice)
            cancel.raise_if_cancelled()
            grids = wizard_data.augmentation_previews(
                loaded, choice, degradation=data_choice.degradation)
            return loaded, grids

        self.job.start(work, lambda outcome: self._on_done(outcome, version))

    def _on_done(self, outcome: JobOutcome, version: int) -> None:
        if outcome.error:
            _set_message(self.status, outcome.error, error=True)
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
            image.setPixmap(_pixmap(grid, 520))
            self.preview_layout.addWidget(image)
        self.preview_layout.addStretch(1)
        overrides = self.choice().overrides()
        _set_message(self.status, "Overrides: " + (", ".join(overrides) if overrides
                                                   else "none (the recipe decides)"))

    def cleanupPage(self) -> None:
        self.job.cancel()


# --------------------------------------------------------------------- 4. recipe


class RecipePage(QWizardPage):
    """The recipe and its main hyper-parameters; every edit is a ``--set`` override,
    validated live by the engine; a measured time and memory estimate."""

    def __init__(self, wizard: TrainingWizard) -> None:
        from semsr_core.train.config import recipe_names

        super().__init__()
        self.owner = wizard
        self.setTitle("4 · Recipe and hyper-parameters")
        self.setSubTitle("Defaults are the recipe's (from its source). A changed value "
                         "overrides it; invalid values are explained below.")
        self.fields: list[wizard_data.HyperParameter] = []
        self.edits: dict[str, QLineEdit] = {}
        self.config: Any = None
        self.estimate: Any = None
        self._measured: tuple[str, list[str], int] | None = None
        self.job = BackgroundJob(self)
        self.job.progress.connect(self._on_progress)
        layout = QVBoxLayout(self)
        top = QFormLayout()
        self.recipe_combo = QComboBox()
        self.recipe_combo.addItems(recipe_names())
        top.addRow("Recipe", self.recipe_combo)
        layout.addLayout(top)
        self.choice_label = _message_label()  # why the wizard recommends its default
        layout.addWidget(self.choice_label)
        self.description = _message_label()
        layout.addWidget(self.description)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        layout.addWidget(self.scroll, 1)
        self.fixed_label = _message_label()
        layout.addWidget(self.fixed_label)
        self.error_label = _message_label()
        layout.addWidget(self.error_label)
        estimate_row = QHBoxLayout()
        self.estimate_button = QPushButton("Measure time and memory")
        self.estimate_button.setToolTip("Build the networks on your data and time 2 real "
                                        "training steps of each phase on the chosen device")
        self.estimate_button.clicked.connect(self.measure)
        self.estimate_label = _message_label()
        estimate_row.addWidget(self.estimate_button)
        estimate_row.addWidget(self.estimate_label, 1)
        layout.addLayout(estimate_row)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.revalidate)
        self.recipe_combo.currentIndexChanged.connect(self._on_recipe)
        index = self.recipe_combo.findText(DEFAULT_RECIPE)
        self.recipe_combo.setCurrentIndex(max(index, 0))
        self._default: str | None = None  # the recommendation last applied
        self._on_recipe()

    def recipe(self) -> str:
        return self.recipe_combo.currentText()

    def _on_recipe(self, *_: Any) -> None:
        recipe = self.recipe()
        info = wizard_data.recipe_info(recipe)
        self.description.setText(f"<b>{info['description']}</b><br>Source: {info['source']}")
        self.fields = wizard_data.hyperparameters(recipe)
        self.edits = {}
        form_widget = QWidget()
        columns = QHBoxLayout(form_widget)
        left, right = QVBoxLayout(), QVBoxLayout()
        groups: dict[str, QFormLayout] = {}
        for item in self.fields:
            if item.group not in groups:
                box = QGroupBox(item.group)
                groups[item.group] = QFormLayout(box)
                target = left if item.group in ("Generator", "Data", "Optimiser") else right
                target.addWidget(box)
            edit = QLineEdit(item.default)
            edit.setPlaceholderText("recipe default" if not item.default else item.default)
            edit.setToolTip(f"--set {item.key}=…  (recipe default: {item.default or 'none'})")
            edit.textChanged.connect(self._timer.start)
            groups[item.group].addRow(item.label, edit)
            self.edits[item.key] = edit
        left.addStretch(1)
        right.addStretch(1)
        columns.addLayout(left)
        columns.addLayout(right)
        self.scroll.setWidget(form_widget)
        self.estimate = None
        self.estimate_label.setText("")
        self.revalidate()

    def set_value(self, key: str, text: str) -> None:
        """Type ``text`` into the field of ``key`` and validate at once."""
        self.edits[key].setText(text)
        self.revalidate()

    def user_overrides(self) -> list[str]:
        values = {key: edit.text() for key, edit in self.edits.items()}
        return wizard_data.overrides_for(self.fields, values)

    def overrides(self) -> list[str]:
        """All overrides the run gets: from the data, the augmentation page, and the
        edited fields (later ones win)."""
        return [*self.owner.data_overrides(), *self.owner.aug_page.choice().overrides(),
                *self.user_overrides()]

    def initializePage(self) -> None:
        self.recommend()
        self.revalidate()

    def recommend(self) -> None:
        """Choose the recipe the data calls for (``finetune`` for small datasets and on a
        CPU), unless the user chose another one, and say why in one sentence."""
        used = sum(c.included for c in self.owner.align_page.checks)
        recipe, why = wizard_data.default_recipe(used, self.owner.run_page.device())
        if self._default is None or self.recipe() == self._default:
            index = self.recipe_combo.findText(recipe)
            if index >= 0:
                self.recipe_combo.setCurrentIndex(index)
                self._default = recipe
        self.choice_label.setText(why)

    def revalidate(self) -> None:
        """Check the recipe with all overrides; a problem is shown and Next stays off."""
        from semsr_core.errors import SemsrError

        self._timer.stop()
        self.config = None
        for edit in self.edits.values():
            edit.setStyleSheet("")
        try:
            overrides = self.overrides()
            self.config = wizard_data.validate(self.recipe(), overrides)
        except SemsrError as exc:
            _set_message(self.error_label, str(exc), error=True)
            self.fixed_label.setText("")
            for key, edit in self.edits.items():  # mark the field the message names
                if f"{key}:" in str(exc) or f"{key} " in str(exc):
                    edit.setStyleSheet("border: 2px solid #e0503c;")
        else:
            _set_message(self.error_label, "Valid. Overrides: " + (", ".join(overrides)
                                                                   or "none"))
            key = (self.recipe(), overrides, self.owner.staged_version)
            if self.estimate is not None and self._measured != key:
                self.estimate = None  # measured for other settings
                self.estimate_label.setText("")
            epochs = self.config.total_epochs
            self.fixed_label.setText(
                f"Scale ×{self.config.data.scale} (from the data), {epochs} epoch(s) in "
                f"{len(self.config.phases)} phase(s), augmentation "
                f"{self.config.data.augment or ['none']}"
                + (", synthetic defects" if self.config.data.defects else "")
                + (", patch pasting" if self.config.data.paste else "")
                + (f"; starts from {self.config.generator.init} ({self.config.generator.arch}"
                   f" {self.config.generator.arch_kwargs()}, from its model card)"
                   if self.config.generator.init else ""))
        self.estimate_button.setEnabled(self.config is not None and not self.job.running)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.config is not None and not self._timer.isActive()

    def validatePage(self) -> bool:
        self.revalidate()
        return self.config is not None

    # ----------------------------------------------------------------- estimate
    def measure(self) -> None:
        """Time a few real steps on the staged data, in a worker."""
        from semsr_core.train.estimate import estimate_run

        if self.config is None:
            return
        config, data_dir = self.config, self.owner.staged_data_dir
        device = self.owner.run_page.device()
        self._measured = (self.recipe(), self.overrides(), self.owner.staged_version)
        self.estimate_button.setEnabled(False)
        _set_message(self.estimate_label, f"Measuring on {device}…")

        def work(on_event: Any, cancel: Any) -> Any:
            return estimate_run(config, data_dir, device=_estimate_device(device), steps=2,
                                on_event=on_event, cancel=cancel)

        self.job.start(work, self._on_estimate)

    def _on_progress(self, event: Any) -> None:
        from semsr_core.events import EventKind

        if event.kind is EventKind.PROGRESS:
            _set_message(self.estimate_label, f"Measuring: step {event.data.get('done')} "
                         f"of {event.data.get('total')}…")

    def _on_estimate(self, outcome: JobOutcome) -> None:
        self.estimate_button.setEnabled(self.config is not None)
        if outcome.error:
            _set_message(self.estimate_label, outcome.error, error=True)
        elif not outcome.cancelled:
            self.estimate = outcome.value
            _set_message(self.estimate_label, "Estimate: " + self.estimate.describe())

    def cleanupPage(self) -> None:
        self.job.cancel()
        self.estimate_button.setEnabled(self.config is not None)


def _estimate_device(device: str) -> str:
    from semsr_core.infer.device import resolve_device

    return str(resolve_device(device))


# ------------------------------------------------------------------------ 5. run


class RunPage(QWizardPage):
    """Device, run folder and an optional time limit; Finish starts the training."""

    def __init__(self, wizard: TrainingWizard) -> None:
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
        form.addRow("Run folder", _folder_row(self.run_edit, "Run folder", self))
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
        self.summary = _message_label()
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
