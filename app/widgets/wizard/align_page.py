"""Page 2 of the training wizard: every pair aligned, judged and included or
not (:class:`AlignmentPage`).
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from semsr_app import wizard_data
from semsr_app.widgets.parts import Outcome, side_by_side
from semsr_app.widgets.wizard.common import message_label, pixmap, set_message
from semsr_app.widgets.wizard.job import BackgroundJob

COLUMNS = ("Use", "Pair", "Scale", "NCC before", "NCC after", "Shift (y, x) px", "Verdict",
           "Why")


class AlignmentPage(QWizardPage):
    """Align every pair (in a worker), show the verdicts, let the user include or
    exclude pairs, and judge a pair by its overlay or by flickering LR↑ and HR."""

    def __init__(self, wizard: Any) -> None:
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
        self.info = message_label()
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
        self.summary = message_label()
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
        set_message(self.info, "Aligning…" if not hr_only else "Reading the HR images…")
        pairs = list(scan.pairs)
        self.job.start(lambda on_event, cancel: list(wizard_data.check_pairs(
            pairs, on_event=on_event, cancel=cancel)), self._on_done)
        self.completeChanged.emit()

    def cancel(self) -> None:
        """Stop aligning; Back and Next again start over."""
        self.job.cancel()
        self._scanned = None
        self.cancel_button.setEnabled(False)
        set_message(self.info, "Alignment cancelled. Go back and on again to restart it.",
                     error=True)
        self.completeChanged.emit()

    def _on_progress(self, event: Any) -> None:
        from semsr_core.events import Progress

        if isinstance(event.payload, Progress):
            self.progress.setMaximum(int(event.payload.total or 0))
            self.progress.setValue(int(event.payload.done))

    def _on_done(self, outcome: Outcome) -> None:
        self.cancel_button.setEnabled(False)
        if outcome.error:
            set_message(self.info, outcome.error, error=True)
        elif not outcome.cancelled:
            self.checks = outcome.value
            self._done = True
            self._fill_table()
            failed = sum(c.verdict == "failed" for c in self.checks)
            set_message(self.info, f"{len(self.checks)} pair(s) checked"
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
        text = " ".join(filter(None, (
            f"{used} of {len(self.checks)} pair(s) will be used for training.",
            wizard_data.suspicious_note(self.checks))))
        set_message(self.summary, text if self._done else "", error=self._done and not used)

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
        self.image.setPixmap(pixmap(self._views.overlay, 560))

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
        self.image.setPixmap(pixmap(frame, 420))
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
            set_message(self.info, f"Could not write the training data: {exc}", error=True)
            self.owner.report_error(str(exc))
            return False
        return True

    def cleanupPage(self) -> None:
        self.flicker_timer.stop()
        self.flicker_button.setChecked(False)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


