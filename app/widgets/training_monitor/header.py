"""The training monitor's header: where the run shown stands, in words and a progress bar.

:class:`RunHeader` shows the run's title, its header line (recipe, phase, epoch, step of
total, elapsed time, ETA: :meth:`~semsr_app.run_history.RunHistory.header`), a progress
bar (step of total; busy while a run prepares), a status line for what the monitor is
doing, and the verdict of a finished run (better or worse than bicubic, what to try
next).
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from semsr_app.run_history import verdict_html

NO_RUN = ("No training yet: “New training…” opens the training wizard; “Open run…” "
          "shows a past run.")


class RunHeader(QWidget):
    """Title, header line, progress bar, status and verdict of the run shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        self.title = _label(NO_RUN, selectable=True)
        self.title.setStyleSheet("font-weight: bold")
        root.addWidget(self.title)
        self.header = _label("")
        root.addWidget(self.header)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("no run yet")
        root.addWidget(self.progress)
        self.status = _label("", selectable=True)
        root.addWidget(self.status)
        self.verdict_label = _label("", selectable=True)
        self.verdict_label.setTextFormat(Qt.RichText)
        self.verdict_label.setVisible(False)
        root.addWidget(self.verdict_label)

    def show_history(self, history: Any, running: bool) -> None:
        """Show where ``history`` (a :class:`~semsr_app.run_history.RunHistory`) stands;
        ``running``: a run started here is preparing or training."""
        self.header.setText(history.header())
        self.verdict_label.setText(verdict_html(history.verdict))
        self.verdict_label.setVisible(history.verdict is not None)
        if history.total:
            self.progress.setRange(0, history.total)
            self.progress.setValue(min(history.step, history.total))
            self.progress.setFormat("step %v of %m")
        elif not running:
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if history.ended else 0)
            self.progress.setFormat(f"step {history.step}" if history.step or history.ended
                                    else "no run yet")


def _label(text: str, selectable: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    if selectable:
        label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label
