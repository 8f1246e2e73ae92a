"""The training monitor's window and controls: follow a training run live, pause, stop or
resume it, and hand its model to the Super-resolve panel.

:class:`TrainingMonitor` lays out the run's header (recipe, phase, epoch, step of total,
elapsed time, ETA), progress bar, status, verdict, the buttons, the plots
(:mod:`.plots`) and the validation samples (:mod:`.samples`); opening past runs is
:mod:`.past_runs`. ``start(request)`` runs a :class:`~semsr_app.training.TrainingRequest`
in a napari worker; the engine's events reach the GUI thread through a queued Qt signal
and are only collected there: the header and progress bar are redrawn at most five
times a second and the plots at most once a second, so a fast training never floods
the interface. Pause checkpoints and waits; Stop validates, checkpoints and exports
the model; "Resume run" continues a stopped run. Errors become notifications and the
monitor stays usable; closing napari stops a run gracefully.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QSize, Qt, QTimer, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from semsr_app.run_history import RunHistory
from semsr_app.training import TrainingRequest, run_training
from semsr_app.widgets.parts import (
    CancellableWorker,
    EventRelay,
    Outcome,
    dock_size_hint,
    run_guarded,
    side_by_side,
)
from semsr_app.widgets.training_monitor.header import RunHeader
from semsr_app.widgets.training_monitor.past_runs import TAIL_MS, PastRuns
from semsr_app.widgets.training_monitor.plots import TrainingPlots
from semsr_app.widgets.training_monitor.samples import SamplesView

if TYPE_CHECKING:
    import napari

REDRAW_MS = 200  # the header and progress bar follow the run 5× per second ...
PLOT_MS = 1000  # ... the plots once per second: repainting plots docked in napari's
# window costs ~100 ms of the event loop under software OpenGL (benchmarks/gui_latency.md)


def _train_guarded(request: TrainingRequest, on_event: Any, cancel: Any) -> Outcome:
    """Run the training in the worker (:func:`run_guarded`): bad data, missing VGG
    weights or a loss that became NaN become the outcome's message."""
    return run_guarded(lambda: run_training(request, on_event=on_event, cancel=cancel),
                       Outcome(), "lower data.batch or data.lr_patch, choose a smaller "
                                  "generator, or close other programs")


class TrainingMonitor(PastRuns, QWidget):
    """Dock widget that runs and shows a training, or shows a past run from its folder.

    ``on_model(path)`` is called by "Use model" (the app passes the Super-resolve
    panel's ``add_model_file``); ``model_ready(path)`` is emitted when a run started
    here ends with an exported model.
    """

    model_ready = Signal(str)

    def __init__(self, napari_viewer: napari.viewer.Viewer | None = None,
                 parent: QWidget | None = None,
                 on_model: Callable[[str], Any] | None = None) -> None:
        super().__init__(parent)
        self.viewer = napari_viewer  # the name napari's plugin manager fills in
        self.on_model = on_model
        self.wizard: Any = None
        self.history = RunHistory()
        self.request: TrainingRequest | None = None
        self.worker: CancellableWorker | None = None
        self._token: Any = None
        self._relay: EventRelay | None = None
        self._delivered = False
        self._starting = False
        self._dirty = False
        self._plots_drawn_at = 0.0
        self._build()
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw_if_changed)
        self._tail_timer = QTimer(self)
        self._tail_timer.setInterval(TAIL_MS)
        self._tail_timer.timeout.connect(self._read_tail)
        self._update_buttons()

    # ------------------------------------------------------------------ layout
    def sizeHint(self) -> QSize:
        return dock_size_hint(self, super().sizeHint())

    def _build(self) -> None:
        root = QVBoxLayout(self)
        self.run_header = RunHeader()
        root.addWidget(self.run_header)
        self.title, self.header = self.run_header.title, self.run_header.header
        self.progress, self.status = self.run_header.progress, self.run_header.status
        self.verdict_label = self.run_header.verdict_label

        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Save a checkpoint and wait; Resume continues from it")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step: validate, save a checkpoint "
                                    "and export the model so far")
        self.stop_button.clicked.connect(self.stop)
        self.resume_button = QPushButton("Resume run")
        self.resume_button.setToolTip("Continue this stopped run from its last checkpoint")
        self.resume_button.clicked.connect(self.resume_run)
        self.open_button = QPushButton("Open run…")
        self.open_button.setToolTip("Show a run from its folder (the one with events.jsonl)")
        self.open_button.clicked.connect(self._choose_run)
        self.use_model_button = QPushButton("Use model")
        self.use_model_button.setToolTip("Select the run's model in the Super-resolve panel")
        self.use_model_button.clicked.connect(self.use_model)
        self.new_button = QPushButton("New training…")
        self.new_button.setToolTip("Open the training wizard: data, alignment, augmentation, "
                                   "recipe, device and run folder")
        self.new_button.clicked.connect(self.open_wizard)
        root.addWidget(side_by_side(self.new_button, self.open_button, self.use_model_button))
        root.addWidget(side_by_side(self.pause_button, self.stop_button, self.resume_button))

        self.log_losses = QCheckBox("Log scale for losses")
        self.log_losses.toggled.connect(self._on_log_toggled)
        self.gradient_toggle = QCheckBox("Samples as gradient maps")
        self.gradient_toggle.setToolTip("Sobel gradient magnitude: shows how sharp the edges "
                                        "of SR are next to HR")
        self.gradient_toggle.toggled.connect(self._on_gradient_toggled)
        root.addWidget(side_by_side(self.log_losses, self.gradient_toggle, stretch=True))

        splitter = QSplitter(Qt.Vertical)
        self.plots = TrainingPlots()
        self._loss_plots = self.plots.loss_plots  # the plots by network (the same dict)
        self.psnr_plot, self.ssim_plot = self.plots.psnr_plot, self.plots.ssim_plot
        self.lr_plot = self.plots.lr_plot
        splitter.addWidget(self.plots)
        self.samples = SamplesView()
        self.samples_box, self.samples_caption = self.samples.box, self.samples.caption
        splitter.addWidget(self.samples)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        root.addWidget(splitter, 1)

    # ------------------------------------------------------------------ running
    @property
    def running(self) -> bool:
        """True while a training started here runs (also while it is paused)."""
        return self.worker is not None

    def start(self, request: TrainingRequest) -> bool:
        """Run ``request`` in a background worker and follow it; returns False (with a
        message) when a training is already running here."""
        from semsr_core.errors import SemsrError
        from semsr_core.events import CancelToken

        if self.running:
            self._report_error(
                f"A training is already running ({self.request.describe()}); stop it "
                "before starting another.")
            return False
        self._stop_tailing()
        if request.resume:
            try:
                history = RunHistory.from_run_dir(request.run_dir)
            except SemsrError as exc:
                self._report_error(str(exc))
                return False
            history.status = ""
            history.model = None
            history.tail = None
        else:
            history = RunHistory(request.run_dir)
            history.recipe = (Path(request.recipe).stem if request.recipe.endswith(".toml")
                              else request.recipe)
        self.request = request
        self._show_history(history)
        token = CancelToken()
        relay = EventRelay()  # no parent: a run whose monitor was closed still has a receiver
        relay.event.connect(self._on_event)
        self._token, self._relay, self._delivered = token, relay, False
        self.worker = create_worker(_train_guarded, request, relay.event.emit, token,
                                    _start_thread=False, _worker_class=CancellableWorker,
                                    cancel_token=token)
        self.worker.returned.connect(self._on_returned)
        self.worker.errored.connect(self._on_crashed)
        self.worker.finished.connect(self._on_finished)
        self.title.setText(f"Training: {request.describe()}")
        self._starting = True
        self._set_status("Resuming from the last checkpoint…" if request.resume
                         else "Preparing the data and the networks…")
        self.progress.setRange(0, 0)
        self._redraw_timer.start()
        self.worker.start()
        self._update_buttons()
        return True

    def toggle_pause(self) -> None:
        """Pause the running training (it saves a checkpoint and waits) or resume it."""
        if self._token is None or self._token.cancelled:
            return
        if self._token.paused:
            self._token.resume()
            self._set_status("Resuming…")
        else:
            self._token.pause()
            self._set_status("Pausing after the current step (saving a checkpoint)…")
        self._update_buttons()

    def stop(self) -> None:
        """Stop the running training gracefully: it validates, saves a checkpoint and
        exports the model so far (``model.semsr`` in the run folder)."""
        if self._token is None or self._token.cancelled:
            return
        self._token.cancel()
        self._set_status("Stopping… (saving the model)")
        self._update_buttons()

    def resume_run(self) -> bool:
        """Continue the run shown (stopped, or ended by its time limit) from its last
        checkpoint."""
        run_dir = self.history.run_dir
        if run_dir is None or not self.history.resumable():
            self._report_error("There is no stopped run to resume: open its folder first.")
            return False
        device = self.request.device if self.request is not None else "auto"
        return self.start(TrainingRequest(recipe=self.history.recipe or "resume",
                                          data=run_dir, run_dir=run_dir, device=device,
                                          resume=True))

    def open_wizard(self) -> Any:
        """Show the training wizard; its "Start training" runs here."""
        from semsr_app.widgets.wizard import TrainingWizard

        if self.wizard is None or not self.wizard.isVisible():
            self.wizard = TrainingWizard(self.viewer, on_start=self.start)
        self.wizard.show()
        self.wizard.raise_()
        self.wizard.activateWindow()
        return self.wizard

    def use_model(self) -> None:
        """Offer the run's exported model in the Super-resolve panel."""
        if self.history.model is None:
            self._report_error("This run has no exported model yet.")
            return
        if self._offer_model(self.history.model):
            self._report_info(f"Model {Path(self.history.model).name} offered in the "
                              "Super-resolve panel.")

    def _offer_model(self, path: str) -> bool:
        """Hand ``path`` to ``on_model``, or else to the viewer's Super-resolve panel
        (docked by this call when the viewer has none)."""
        if self.on_model is not None:
            self.on_model(path)
            return True
        from semsr_app.plugin import super_resolve_panel

        panel = super_resolve_panel(self.viewer) if self.viewer is not None else None
        if panel is None:
            self._report_info(f"The model is {path}; open it in the Super-resolve panel "
                              "with “Open model file…”.")
            return False
        panel.add_model_file(path)
        return True

    # ------------------------------------------------------------------ events
    def _on_event(self, event: Any) -> None:
        from semsr_core.events import EventKind, TrainingState

        before = self.history.state
        self.history.add(event)
        self._dirty = True
        payload = event.payload
        if event.kind is EventKind.STATE:
            state = payload.state
            pause_move = (state is TrainingState.PAUSED or (state is TrainingState.TRAINING
                                                             and before is TrainingState.PAUSED))
            if pause_move and self._token is not None and not self._token.cancelled:
                self._set_status(
                    f"Paused at step {self.history.step}; checkpoint saved. Resume continues, "
                    "Stop exports the model." if state is TrainingState.PAUSED
                    else f"Training (resumed at step {self.history.step}).")
            self._update_buttons()
        elif event.kind is EventKind.MESSAGE:
            if payload.level == "warning":
                self._set_status(payload.text)
            self._update_buttons()
        elif event.kind is EventKind.STEP and self._starting:
            self._starting = False
            if self._token is not None and not (self._token.cancelled or self._token.paused):
                self._set_status("Training…")
        elif event.kind is EventKind.FINISHED:
            self._update_buttons()
            self._draw_header()  # the verdict, at once
            if self.history.model is not None:
                self.model_ready.emit(self.history.model)
                self._offer_model(self.history.model)

    def _on_returned(self, outcome: Outcome) -> None:
        self._delivered = True
        self._redraw()
        if outcome.error:
            self._report_error(f"Training failed: {outcome.error}")
        elif outcome.value is not None:
            self._report_info(self._ended_text())

    def _on_crashed(self, exc: BaseException) -> None:
        self._delivered = True
        # napari's worker already shows the error (with its traceback) as a notification.
        self._set_status(f"Training failed: {type(exc).__name__}: {exc}")

    def _on_finished(self) -> None:
        if not self._delivered:
            # quit() (napari closing) suppresses the returned signal; the engine stopped
            # gracefully and exported the model.
            self._set_status("Training stopped because napari is closing; the checkpoint and "
                             f"model are in {self.history.run_dir}.")
        self.worker = None
        self._token = None
        self._relay = None
        self._redraw_timer.stop()
        self._redraw()
        self._update_buttons()

    def _ended_text(self) -> str:
        history = self.history
        where = f"; the model is {history.model}" if history.model else ""
        if history.status == "finished":
            return f"Training finished at step {history.step}{where}."
        if history.status == "stopped":
            return (f"Stopped at step {history.step}{where}. “Resume run” continues it.")
        if history.status == "time_limit":
            return (f"Time limit reached at step {history.step}{where}. “Resume run” "
                    "continues it.")
        return f"Run ended ({history.status}) at step {history.step}{where}."

    # ------------------------------------------------------------------ drawing
    def _show_history(self, history: RunHistory) -> None:
        """Replace what is drawn by ``history``."""
        self.history = history
        self.plots.clear()
        self.samples.clear()
        self._redraw()

    def _redraw_if_changed(self) -> None:
        """The redraw timer: the header and progress at each tick, the plots at most
        once per ``PLOT_MS`` and only while the monitor is on screen."""
        if not self._dirty:
            return
        if self.isVisible() and time.monotonic() - self._plots_drawn_at >= PLOT_MS / 1000:
            self._redraw()
        else:
            self._draw_header()

    def showEvent(self, event: Any) -> None:
        """Catch up with what happened while the monitor was hidden."""
        super().showEvent(event)
        if self._dirty:
            self._redraw()

    def _draw_header(self) -> None:
        self.run_header.show_history(self.history, self.running)

    def _redraw(self) -> None:
        """Draw the history: header, progress, curves and samples."""
        self._dirty = False
        self._plots_drawn_at = time.monotonic()
        history = self.history
        self._draw_header()
        self.plots.draw(history)
        self.samples.show_samples(history.samples)
        self._update_buttons()

    def _on_log_toggled(self, checked: bool) -> None:
        self.plots.set_log_losses(checked)

    def _on_gradient_toggled(self, checked: bool) -> None:
        self.samples.set_gradient(checked, self.history.samples)

    def _update_buttons(self) -> None:
        running = self.running
        token = self._token
        stopping = token is not None and token.cancelled
        self.pause_button.setEnabled(running and not stopping)
        self.pause_button.setText("Resume" if token is not None and token.paused
                                  and not stopping else "Pause")
        self.stop_button.setEnabled(running and not stopping)
        self.resume_button.setEnabled(not running and self.history.resumable())
        self.open_button.setEnabled(not running)
        has_model = self.history.model is not None
        self.use_model_button.setEnabled(has_model)
        self.use_model_button.setToolTip(
            f"Offer {self.history.model} in the Super-resolve panel" if has_model
            else "A model is exported when the run finishes or is stopped")

    # ------------------------------------------------------------------ messages
    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    def _report_error(self, text: str) -> None:
        self._set_status(f"Error: {text}")
        show_error(text)

    def _report_info(self, text: str) -> None:
        self._set_status(text)
        show_info(text)


def main(argv: list[str] | None = None) -> int:
    """Open napari with the training monitor docked, showing the run folder given."""
    import napari

    args = sys.argv[1:] if argv is None else argv
    viewer = napari.Viewer(title="semsr — training monitor")
    monitor = TrainingMonitor(viewer)
    viewer.window.add_dock_widget(monitor, name="Training monitor", area="right")
    if args:
        monitor.open_run(args[0])
    napari.run()
    return 0
