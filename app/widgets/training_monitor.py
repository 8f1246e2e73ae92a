"""The training monitor: follow a training run live, pause, stop or resume it, and reopen
past runs from their folders.

The dock shows where the run stands (recipe, phase, epoch, step of total, elapsed time,
ETA), the loss curves of the generator and of each discriminator (one curve per loss
term, optionally on a log scale), the learning rates, the validation PSNR and SSIM with
bicubic upscaling as a dashed baseline, and the latest validation samples (LR upscaled
bicubically, SR, HR — or their Sobel gradient maps).

``start(request)`` runs a :class:`~semsr_app.training.TrainingRequest` in a napari
``thread_worker``; the engine's events reach the GUI thread through a queued Qt signal
and are only collected there: the header and progress bar are redrawn at most five
times a second and the plots at most once a second, so a fast training never floods
the interface. The training keeps running when the wizard that started it closes.
Pause checkpoints and waits; Stop validates, checkpoints and exports the model;
"Resume run" continues a stopped run; "Open run…" draws a past run from its
``events.jsonl`` (and keeps following it when another process is still writing it);
"Use model" hands the run's model to the Super-resolve panel. Errors become
notifications and the monitor stays usable; closing napari stops a run gracefully.

Run it on its own with ``python -m semsr_app.widgets.training_monitor [RUN_FOLDER]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QSize, Qt, QTimer, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from semsr_app.run_history import RunHistory, Sample, verdict_html
from semsr_app.training import TrainingRequest, run_training
from semsr_app.widgets.parts import (
    CancellableWorker,
    EventRelay,
    dock_size_hint,
    run_guarded,
    side_by_side,
)

if TYPE_CHECKING:
    import napari

REDRAW_MS = 200  # the header and progress bar follow the run 5× per second ...
PLOT_MS = 1000  # ... the plots once per second: repainting plots docked in napari's
# window costs ~100 ms of the event loop under software OpenGL (benchmarks/gui_latency.md)
TAIL_MS = 1000  # a run written by another process is re-read every second
COLOURS = ("#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8", "#fff176", "#a1887f",
           "#90a4ae")


@dataclass
class Outcome:
    """How a training ended: its ``TrainResult``, or a user-facing error message."""

    value: Any = None
    cancelled: bool = False
    error: str = ""


def _train_guarded(request: TrainingRequest, on_event: Any, cancel: Any) -> Outcome:
    """Run the training in the worker (:func:`run_guarded`): bad data, missing VGG
    weights or a loss that became NaN become the outcome's message."""
    return run_guarded(lambda: run_training(request, on_event=on_event, cancel=cancel),
                       Outcome(), "lower data.batch or data.lr_patch, choose a smaller "
                                  "generator, or close other programs")


class TrainingMonitor(QWidget):
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
        self._drawn_samples: tuple = ()
        self._loss_plots: dict[str, pg.PlotWidget] = {}
        self._curves: dict[tuple[str, str], pg.PlotDataItem] = {}
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
        self.title = QLabel("No training yet: “New training…” opens the training wizard; "
                            "“Open run…” shows a past run.")
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-weight: bold")
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        root.addWidget(self.title)
        self.header = QLabel("")
        self.header.setWordWrap(True)
        root.addWidget(self.header)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("no run yet")
        root.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        root.addWidget(self.status)
        self.verdict_label = QLabel("")  # better or worse than bicubic, what to try next
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setTextFormat(Qt.RichText)
        self.verdict_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.verdict_label.setVisible(False)
        root.addWidget(self.verdict_label)

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
        self.gradient_toggle.toggled.connect(self._draw_samples)
        root.addWidget(side_by_side(self.log_losses, self.gradient_toggle, stretch=True))

        splitter = QSplitter(Qt.Vertical)
        plots = QWidget()
        grid = QGridLayout(plots)
        grid.setContentsMargins(0, 0, 0, 0)
        self._loss_row = QHBoxLayout()
        grid.addLayout(self._loss_row, 0, 0, 1, 2)
        self.psnr_plot = _plot("PSNR", "dB")
        self.ssim_plot = _plot("SSIM", "")
        self.lr_plot = _plot("Learning rate", "")
        self.lr_plot.getAxis("left").enableAutoSIPrefix(False)  # "0.0002", not "x1e-06" cut off
        grid.addWidget(self.psnr_plot, 1, 0)
        grid.addWidget(self.ssim_plot, 1, 1)
        grid.addWidget(self.lr_plot, 2, 0, 1, 2)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        grid.setRowStretch(2, 1)
        self._metric_curves = {
            "psnr": self.psnr_plot.plot(name="SR", pen=pg.mkPen(COLOURS[0], width=2),
                                        symbol="o", symbolSize=6, symbolBrush=COLOURS[0]),
            "psnr_bicubic": self.psnr_plot.plot(
                name="bicubic", pen=pg.mkPen(COLOURS[1], width=2, style=Qt.PenStyle.DashLine)),
            "ssim": self.ssim_plot.plot(name="SR", pen=pg.mkPen(COLOURS[0], width=2),
                                        symbol="o", symbolSize=6, symbolBrush=COLOURS[0]),
            "ssim_bicubic": self.ssim_plot.plot(
                name="bicubic", pen=pg.mkPen(COLOURS[1], width=2, style=Qt.PenStyle.DashLine)),
        }
        self._lr_curves: dict[str, pg.PlotDataItem] = {}
        _title_legend(self.psnr_plot)
        _title_legend(self.ssim_plot)
        self._loss_plot("generator")
        splitter.addWidget(plots)

        self.samples_view = pg.GraphicsLayoutWidget()
        self.samples_view.setMinimumHeight(160)
        self.samples_box = self.samples_view.addViewBox(lockAspect=True, invertY=True,
                                                        enableMenu=False)
        self.samples_caption = QLabel("Validation samples appear after the first validation.")
        samples = QWidget()
        samples_layout = QVBoxLayout(samples)
        samples_layout.setContentsMargins(0, 0, 0, 0)
        samples_layout.addWidget(self.samples_caption)
        samples_layout.addWidget(self.samples_view)
        splitter.addWidget(samples)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        root.addWidget(splitter, 1)

    def _loss_plot(self, network: str) -> pg.PlotWidget:
        plot = self._loss_plots.get(network)
        if plot is None:
            title = "Generator" if network == "generator" else f"Discriminator {network}"
            plot = _plot(title, "loss", log_axis=True)
            _set_log_y(plot, self.log_losses.isChecked())
            self._loss_plots[network] = plot
            self._loss_row.addWidget(plot)
        return plot

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
        from semsr_app.launch import super_resolve_panel

        panel = super_resolve_panel(self.viewer) if self.viewer is not None else None
        if panel is None:
            self._report_info(f"The model is {path}; open it in the Super-resolve panel "
                              "with “Open model file…”.")
            return False
        panel.add_model_file(path)
        return True

    # ------------------------------------------------------------------ past runs
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
        for network, plot in list(self._loss_plots.items()):
            if network != "generator":
                self._loss_row.removeWidget(plot)
                plot.setParent(None)
                plot.deleteLater()
                del self._loss_plots[network]
        self._loss_plots["generator"].clear()
        self._curves.clear()
        for curve in self._lr_curves.values():
            self.lr_plot.removeItem(curve)
        self._lr_curves.clear()
        _title_legend(self._loss_plots["generator"])
        _title_legend(self.lr_plot)
        self._drawn_samples = ()
        for item in self._metric_curves.values():
            _update_curve(item, None)
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
        history = self.history
        self.header.setText(history.header())
        self.verdict_label.setText(verdict_html(history.verdict))
        self.verdict_label.setVisible(history.verdict is not None)
        if history.total:
            self.progress.setRange(0, history.total)
            self.progress.setValue(min(history.step, history.total))
            self.progress.setFormat("step %v of %m")
        elif not self.running:
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if history.ended else 0)
            self.progress.setFormat(f"step {history.step}" if history.step or history.ended
                                    else "no run yet")

    def _redraw(self) -> None:
        """Draw the history: header, progress, curves and samples."""
        self._dirty = False
        self._plots_drawn_at = time.monotonic()
        history = self.history
        self._draw_header()
        for network, terms in history.losses.items():
            plot = self._loss_plot(network)
            for term, curve in terms.items():
                item = self._curves.get((network, term))
                if item is None:
                    colour = COLOURS[len([k for k in self._curves if k[0] == network])
                                     % len(COLOURS)]
                    item = plot.plot(name=term, pen=pg.mkPen(colour, width=2))
                    self._curves[(network, term)] = item
                    _title_legend(plot)
                _update_curve(item, curve)
        for network, curve in history.learning_rates.items():
            item = self._lr_curves.get(network)
            if item is None:
                colour = COLOURS[len(self._lr_curves) % len(COLOURS)]
                item = self.lr_plot.plot(name=network, pen=pg.mkPen(colour, width=2))
                self._lr_curves[network] = item
                _title_legend(self.lr_plot)
            _update_curve(item, curve)
        for key, item in self._metric_curves.items():
            _update_curve(item, history.metrics[key])
        drawn = tuple((s.name, s.step) for s in history.samples)
        if drawn != self._drawn_samples:
            self._drawn_samples = drawn
            self._draw_samples()
        self._update_buttons()

    def _draw_samples(self, *_: Any) -> None:
        from semsr_core.errors import SemsrError

        self.samples_box.clear()
        samples: list[Sample] = self.history.samples
        if not samples:
            self.samples_caption.setText("Validation samples appear after the first "
                                         "validation.")
            return
        gradient = self.gradient_toggle.isChecked()
        try:
            rows = [sample.panels(gradient) for sample in samples]
        except SemsrError as exc:
            self.samples_caption.setText(f"Samples: {exc}")
            return
        gap = 4
        y = 0
        for panels in rows:
            x = 0
            height = max(image.shape[0] for _, image in panels)
            for title, image in panels:
                item = pg.ImageItem(_normalised(image), axisOrder="row-major",
                                    levels=(0.0, 1.0))
                item.setRect(x, y, image.shape[1], image.shape[0])
                self.samples_box.addItem(item)
                label = pg.TextItem(title, color="#ffff00", anchor=(0, 0),
                                    fill=pg.mkBrush(0, 0, 0, 170))
                label.setPos(x + 2, y + 2)
                self.samples_box.addItem(label)
                x += image.shape[1] + gap
            y += height + gap
        self.samples_box.autoRange(padding=0.01)
        names = ", ".join(s.name for s in samples)
        kind = "gradient maps of " if gradient else ""
        self.samples_caption.setText(f"Validation samples at step {samples[0].step} "
                                     f"({kind}{names}): LR upscaled bicubically, SR, HR")

    def _on_log_toggled(self, checked: bool) -> None:
        for plot in self._loss_plots.values():
            _set_log_y(plot, checked)

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


def _plot(title: str, unit: str, log_axis: bool = False) -> pg.PlotWidget:
    plot = pg.PlotWidget(axisItems={"left": _FittingAxis("left")})
    plot._semsr_title = title
    _title_legend(plot)
    plot.setLabel("bottom", "step")
    if unit:
        plot.setLabel("left", unit)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setMinimumSize(160, 110)
    plot.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
    return plot


def _set_log_y(plot: pg.PlotWidget, log: bool) -> None:
    plot.setLogMode(y=log)


class _FittingAxis(pg.AxisItem):
    """A y axis with no more labels than its height fits (about one per
    :data:`LABEL_PIXELS`; pyqtgraph's own ticks overlap on a short plot such as the
    learning rate's). On a log scale it labels a few round values (1, 2, 5 × 10ⁿ, or
    three values inside one decade) instead of every minor tick."""

    LABEL_PIXELS = 22  # a 9-pt label and a gap

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        if size <= 0:  # not laid out yet
            return []
        most = max(1, int(size // self.LABEL_PIXELS))
        if not self.logMode:
            levels, kept = super().tickValues(minVal, maxVal, size), []
            for spacing, values in levels:  # coarsest level first
                if sum(len(v) for _, v in kept) + len(values) > most:
                    if not kept:  # even the coarsest is too dense: every n-th of it
                        kept.append((spacing, values[:: int(np.ceil(len(values) / most))]))
                    break
                kept.append((spacing, values))
            return kept
        if not (np.isfinite(minVal) and np.isfinite(maxVal)) or maxVal <= minVal:
            return []
        decades = range(int(np.floor(minVal)) - 1, int(np.ceil(maxVal)) + 1)
        for mantissas in ((1, 2, 5), (1,)):
            ticks = [np.log10(m) + e for e in decades for m in mantissas]
            ticks = [t for t in ticks if minVal <= t <= maxVal]
            if 2 <= len(ticks) <= most:
                return [(1.0, ticks)]
        if len(ticks) > most:
            return [(1.0, ticks[:: int(np.ceil(len(ticks) / most))])]
        values = [float(f"{v:.3g}") for v in 10 ** np.linspace(minVal, maxVal, 4)[1:3]]
        return [(1.0, [float(np.log10(v)) for v in values if v > 0])]

    def tickStrings(self, values: list, scale: float, spacing: float) -> list[str]:
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        return [f"{10 ** v:.3g}" for v in values]


def _title_legend(plot: pg.PlotWidget) -> None:
    """The plot's title followed by its curves' names in their colours (a legend that
    never covers the curves of a small plot)."""
    entries = []
    for item in plot.getPlotItem().listDataItems():
        if not item.name():
            continue
        pen = pg.mkPen(item.opts["pen"])
        mark = "╍╍" if pen.style() == Qt.PenStyle.DashLine else "━━"
        entries.append(f"<span style='color:{pen.color().name()}'>{mark} {item.name()}</span>")
    plot.setTitle(f"{plot._semsr_title}&nbsp;&nbsp;{'&nbsp;&nbsp;'.join(entries)}", size="9pt")


def _update_curve(item: pg.PlotDataItem, curve: Any) -> None:
    """Give ``item`` the points of ``curve`` (None: no points) when they changed: curves
    only grow, and an unchanged plot is not repainted (repainting a plot docked in
    napari's window is what costs the event loop most)."""
    count = len(curve) if curve is not None else 0
    if getattr(item, "_semsr_points", None) == count:
        return
    item._semsr_points = count
    if curve is None:
        item.setData([], [])
    else:
        item.setData(np.asarray(curve.steps), np.asarray(curve.values))


def _normalised(image: np.ndarray) -> np.ndarray:
    """The image stretched to [0, 1] between its minimum and maximum (as the run log's
    sample PNGs are), so live and reopened samples look the same."""
    image = np.asarray(image, dtype=np.float32)
    low, high = float(np.nanmin(image)), float(np.nanmax(image))
    if high <= low:
        return np.zeros_like(image)
    return (image - low) / (high - low)


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


if __name__ == "__main__":
    sys.exit(main())
