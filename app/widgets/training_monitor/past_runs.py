"""Opening past runs in the training monitor: "Open run…", drawing a run from its
``events.jsonl``, and following a run that another process is still writing.

:class:`PastRuns` is a part of :class:`~semsr_app.widgets.training_monitor.TrainingMonitor`
(a mixin): it uses the monitor's ``history``, ``request``, ``running``, ``title``,
its redraw and tail timers and its drawing and message methods.
"""

from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import QFileDialog

from semsr_app.run_history import RunHistory

TAIL_MS = 1000  # a run written by another process is re-read every second


class PastRuns:
    """Open a run folder and follow its events while it grows (mixed into the monitor)."""

    def _choose_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Run folder (with events.jsonl)")
        if folder:
            self.open_run(folder)

    def open_run(self, run_dir: str | Path) -> bool:
        """Draw the run in ``run_dir`` from its events; a run not yet ended (another
        process may still be training it) is followed as its events.jsonl grows."""
        from semsr_core.errors import SemsrError

        if self.running:
            self._report_error("A training is running here; stop it before opening "
                               "another run.")
            return False
        try:
            history = RunHistory.from_run_dir(run_dir)
        except SemsrError as exc:
            self._report_error(f"{exc}")
            return False
        self._stop_tailing()
        self.request = None
        self._show_history(history)
        self.title.setText(f"Run: {history.run_dir}")
        if history.ended:
            self._set_status(self._ended_text())
        else:
            self._set_status("This run has not ended: another process may still be training "
                             "it (its events are followed here), or it was killed "
                             "(“Resume run” continues it from its last checkpoint).")
            self._tail_timer.start()
            self._redraw_timer.start()
        self._update_buttons()
        return True

    def _read_tail(self) -> None:
        """The tail timer: add the events written since the last read."""
        tail = self.history.tail
        if tail is None:
            self._stop_tailing()
            return
        records = tail.read_new()
        for record in records:
            self.history.add(record)
        if records:
            self._dirty = True
        if self.history.ended:
            self._stop_tailing()
            self._redraw()
            self._set_status(self._ended_text())
            self._update_buttons()

    def _stop_tailing(self) -> None:
        self._tail_timer.stop()
        if not self.running:
            self._redraw_timer.stop()
