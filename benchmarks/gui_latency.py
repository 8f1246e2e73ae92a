"""Event-loop delay of the semsr app while it is idle, super-resolving and training.

Opens napari (it needs a display; use Xvfb on a headless machine) with the
Super-resolve panel and the training monitor docked and the bundled sample stack
opened, then measures how late the Qt event loop runs a 10 ms timer — the delay a
click, a key or a redraw waits — in three phases:

1. idle: nothing runs;
2. inference: the Super-resolve panel runs the bundled ``default-x4`` model on the
   whole bundled sample stack (its Run button, in its worker thread);
3. training: the training monitor runs a short training (recipe en1's L1 pre-training
   with a default-x4-sized generator on simulated pairs, every step logged, validated
   each epoch) and draws it live.

The delay of one tick is (measured interval − 10 ms); the table gives its median, 95th
percentile and maximum per phase. Results go to ``benchmarks/gui_latency.md``::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/gui_latency.py
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TICK_MS = 10
LATE_MS = 100  # ticks later than this are listed with what the app was doing
OUT = Path(__file__).with_name("gui_latency.md")


class EventLoopProbe:
    """A 10 ms Qt timer that records, per phase, how late each tick arrives (ms)."""

    def __init__(self) -> None:
        from qtpy.QtCore import Qt, QTimer

        self.delays: dict[str, list[float]] = {}
        self.late: list[tuple[str, float, float, str]] = []  # phase, at s, delay ms, what
        self.context = lambda: ""
        self.phase: str | None = None
        self._began = 0.0
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def begin(self, phase: str) -> None:
        self.phase = phase
        self.delays[phase] = []
        self._last = self._began = time.perf_counter()
        self._timer.start()

    def end(self) -> None:
        self._timer.stop()
        self.phase = None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.phase is not None:
            delay = (now - self._last) * 1000 - TICK_MS
            self.delays[self.phase].append(delay)
            if delay > LATE_MS:
                self.late.append((self.phase, now - self._began, delay, self.context()))
        self._last = now

    def summary(self, phase: str) -> dict[str, float]:
        values = np.maximum(np.asarray(self.delays[phase]), 0.0)
        return {"ticks": len(values), "late": int((values > LATE_MS).sum()),
                "median": float(np.median(values)),
                "p95": float(np.percentile(values, 95)), "max": float(values.max())}


def wait_while(condition, app, timeout_s: float) -> float:
    """Run the event loop until ``condition()`` is false; returns the seconds waited."""
    began = time.perf_counter()
    while condition():
        app.processEvents()
        time.sleep(0.001)
        if time.perf_counter() - began > timeout_s:
            raise TimeoutError(f"still running after {timeout_s:.0f} s")
    return time.perf_counter() - began


def _spin(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def repaint_costs(monitor, app, repeats: int = 8) -> dict[str, float]:
    """Median ms the event loop spends painting after (a) one label of the monitor
    changes, (b) its plots get one more point (the run just trained is extended by
    copies of its last step), both with nothing else running."""
    from semsr_core.events import Event, EventKind

    def paint() -> float:
        began = time.perf_counter()
        app.processEvents()
        return (time.perf_counter() - began) * 1000

    _spin(app, 1.0)
    label, plots = [], []
    history = monitor.history
    last = {"losses": {f"g/{k}": c.values[-1] for k, c in history.losses["generator"].items()},
            "lr": {k: c.values[-1] for k, c in history.learning_rates.items()},
            "phase": history.phase, "epoch": history.epoch}
    for i in range(repeats):
        monitor.header.setText(f"{history.header()} ({i})")
        label.append(paint())
        time.sleep(0.05)
        history.add(Event(EventKind.STEP, {"step": history.step + 1, **last}))
        monitor._redraw()
        plots.append(paint())
        time.sleep(0.05)
    return {"label": float(np.median(label)), "plots": float(np.median(plots))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--epochs", type=int, default=3, help="training epochs")
    parser.add_argument("--steps-per-epoch", type=int, default=20)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    from qtpy.QtWidgets import QApplication

    from semsr_app.launch import open_viewer
    from semsr_app.training import TrainingRequest
    from semsr_app.widgets.training_monitor import TrainingMonitor
    from semsr_core.data.simulate import simulate_dataset
    from semsr_core.resources import resource_path

    viewer, panel = open_viewer([resource_path("sample", "sem_stack_lr.tif")])
    viewer.window._qt_window.resize(1600, 1000)
    monitor = TrainingMonitor(viewer, on_model=panel.add_model_file)
    dock = viewer.window.add_dock_widget(monitor, name="Training monitor", area="right")
    app = QApplication.instance()
    _spin(app, 2.0)  # let the window settle
    probe = EventLoopProbe()
    seconds: dict[str, float] = {}

    probe.begin("idle")
    _spin(app, args.idle_seconds)
    probe.end()
    seconds["idle"] = args.idle_seconds

    model = resource_path("models", "default-x4.semsr")
    panel.add_model_file(model)
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    probe.context = lambda: f"inference: {panel.status.text()[:60]}"
    probe.begin("inference")
    panel.run_button.click()
    seconds["inference"] = wait_while(lambda: panel.worker is not None, app, 900)
    probe.end()
    sr_layers = [layer.name for layer in viewer.layers if "SR" in layer.name]
    if not sr_layers:
        raise RuntimeError(f"super-resolve added no layer: {panel.status.text()}")

    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        simulate_dataset(data, pairs=8, scale=4, size=256, seed=3)
        overrides = ["generator.blocks=2", "generator.features=32", "generator.growth=16",
                     "data.lr_patch=32", "data.batch=4", "data.val_fraction=0.25",
                     f"phases.pretrain.epochs={args.epochs}",
                     f"phases.pretrain.steps_per_epoch={args.steps_per_epoch}",
                     "phases.gan.epochs=0", "train.log_every=1"]
        for phase, shown in (("training", True), ("training, monitor hidden", False)):
            dock.setVisible(shown)
            request = TrainingRequest("en1", data, Path(folder) / phase.replace(" ", "_"),
                                      overrides=overrides, device="cpu")
            probe.context = lambda: (f"training step {monitor.history.step}: "
                                     f"{monitor.status.text()[:60]}")
            probe.begin(phase)
            monitor.start(request)
            seconds[phase] = wait_while(lambda: monitor.running, app, 1800)
            probe.end()
            if monitor.history.status != "finished":
                raise RuntimeError(f"training ended with {monitor.history.status!r}: "
                                   f"{monitor.status.text()}")
        dock.setVisible(True)
        steps = monitor.history.step
        repaint = repaint_costs(monitor, app)

    rows = []
    for phase in ("idle", "inference", "training", "training, monitor hidden"):
        s = probe.summary(phase)
        rows.append(f"| {phase} | {seconds[phase]:.1f} | {s['ticks']} | {s['median']:.1f} | "
                    f"{s['p95']:.1f} | {s['max']:.1f} | {s['late']} |")
    late = [f"- {phase} at {at:.1f} s: {delay:.0f} ms ({what})"
            for phase, at, delay, what in sorted(probe.late, key=lambda x: -x[2])[:10]]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = "\n".join([
        "# Event-loop delay of the app while it super-resolves and trains",
        "",
        "Command (one command, re-runnable; it needs a display, Xvfb here):",
        "",
        '    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/gui_latency.py',
        "",
        "A 10 ms Qt timer (precise) runs on the GUI thread of a napari window with the "
        "Super-resolve panel and the training monitor docked and the bundled sample stack "
        "open; each tick's delay is its measured interval − 10 ms: how long a click, a "
        "key or a redraw would have waited. Phases: *idle*; *inference*: the panel's Run "
        "with the bundled default-x4 model on the whole bundled sample stack (4 × 128 × 128 "
        "→ 4 × 512 × 512) on the CPU, until the layer is added; *training*: the monitor "
        f"runs recipe en1's L1 pre-training ({args.epochs} epochs × {args.steps_per_epoch} "
        "steps, RRDBNet 2 blocks × 32 features, 32-px LR tiles, batch 4, 8 simulated "
        "256-px pairs, every step logged, validated each epoch) on the CPU; *training, "
        "monitor hidden*: the same with the monitor's dock hidden, so that nothing is "
        "drawn (the cost of training in a thread of the app's process alone).",
        "",
        f"Result ({time.strftime('%Y-%m-%d')}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs shared with other jobs, load average {load:.1f} at the end; "
        f"torch threads: {_torch_threads()}; each training ran {steps} steps):",
        "",
        "| phase | seconds | ticks | median delay ms | p95 delay ms | max delay ms | "
        f"ticks > {LATE_MS} ms |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Painting, measured after the runs with nothing else running (median of 8): "
        f"one label of the monitor changed {repaint['label']:.0f} ms, its plots extended "
        f"by one point {repaint['plots']:.0f} ms. The monitor redraws its header at most "
        "5×/s and its plots at most once a second, only while it is on screen.",
        "",
        "Reading the figures: the training itself, in its worker thread, leaves the "
        "event loop responsive (*training, monitor hidden*: max "
        f"{probe.summary('training, monitor hidden')['max']:.0f} ms); the longer delays "
        "with the monitor on screen are its plot repaints, about once a second. Under Xvfb "
        "napari's window is composed with software OpenGL, so every repaint inside it "
        "costs tens of milliseconds (the label above) and the plots about 100 ms, more "
        "while the training and other processes share the CPUs. A display with a GPU "
        "composes far faster; that was not measured here.",
        "",
        f"The longest delays over {LATE_MS} ms (phase, seconds into it, delay, what the "
        "monitor showed when the late tick ran):",
        "",
        *(late or ["- none"]),
        "",
    ])
    args.out.write_text(text, encoding="utf-8")
    print(text)
    viewer.close()
    return 0


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    sys.exit(main())
