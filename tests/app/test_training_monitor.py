"""The training monitor: real tiny trainings drawn live, Pause/Resume/Stop, Resume run,
reopening and following run folders, errors, in a headless napari."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from qtpy.QtCore import Qt

from semsr_app.run_history import EventsFileTail, RunHistory
from semsr_app.training import TrainingRequest, run_training
from semsr_app.widgets.training_monitor import TrainingMonitor
from semsr_core.train.runlog import read_events

from .conftest import needs_display

pytestmark = [pytest.mark.gui, needs_display]

# A few steps from scratch are worse than bicubic: exported anyway (train.export_worse),
# as these tests need a model; the verdict still says it is worse.
TINY = ["generator.blocks=1", "generator.features=8", "generator.growth=4",
        "data.lr_patch=16", "data.batch=2", "phases.gan.epochs=0", "train.log_every=1",
        "data.val_fraction=0.25", "train.export_worse=true",
        "discriminators.d.input_size=64"]  # unused (no GAN epochs) but checkpointed
SHORT = [*TINY, "phases.pretrain.epochs=1", "phases.pretrain.steps_per_epoch=3"]
# Long enough (≈ 300 steps) that the test acts while it runs; every test stops it early.
LONG = [*TINY, "phases.pretrain.epochs=3", "phases.pretrain.steps_per_epoch=100",
        "train.checkpoint_every=1000"]


@pytest.fixture(scope="module")
def sim_pairs(tmp_path_factory):
    """A folder with lr/ and hr/: four simulated SEM pairs (×4, 128 px HR)."""
    from semsr_core.data.simulate import simulate_dataset

    out = tmp_path_factory.mktemp("monitor") / "data"
    simulate_dataset(out, pairs=4, scale=4, size=128, seed=11, layout="mixed")
    return out


@pytest.fixture(scope="module")
def finished_run(sim_pairs, tmp_path_factory):
    """A finished three-step en1 run folder (trained without the monitor)."""
    run = tmp_path_factory.mktemp("monitor") / "run"
    run_training(TrainingRequest("en1", sim_pairs, run, overrides=SHORT, device="cpu"))
    return run


def _monitor(make_napari_viewer, on_model=None):
    viewer = make_napari_viewer()
    monitor = TrainingMonitor(viewer, on_model=on_model)
    viewer.window.add_dock_widget(monitor, name="Training monitor")
    return viewer, monitor


def _request(data, run, overrides, **kwargs):
    return TrainingRequest("en1", data, run, overrides=list(overrides), device="cpu", **kwargs)


def _curves(plot):
    """{curve name: (x, y)} of a pyqtgraph plot."""
    out = {}
    for item in plot.getPlotItem().listDataItems():
        x, y = item.getData()
        out[item.name()] = ([] if x is None else list(x), [] if y is None else list(y))
    return out


def _images(monitor):
    import pyqtgraph as pg

    return [item.image for item in monitor.samples_box.addedItems
            if isinstance(item, pg.ImageItem)]


def _wait_done(qtbot, monitor, timeout=60_000):
    qtbot.waitUntil(lambda: not monitor.running, timeout=timeout)


def test_events_of_a_real_training_become_curve_points(
        make_napari_viewer, qtbot, sim_pairs, tmp_path):
    _viewer, monitor = _monitor(make_napari_viewer)
    run = tmp_path / "run"
    assert monitor.start(_request(sim_pairs, run, SHORT))
    _wait_done(qtbot, monitor)

    logged = read_events(run)
    steps = [e for e in logged if e["kind"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3]
    generator = _curves(monitor._loss_plots["generator"])
    assert generator["l1"][0] == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(generator["l1"][1], [e["losses"]["g/l1"] for e in steps])
    lrs = _curves(monitor.lr_plot)
    np.testing.assert_allclose(lrs["generator"][1], [e["lr"]["generator"] for e in steps])
    metrics = [e for e in logged if e["kind"] == "metrics"]
    psnr = _curves(monitor.psnr_plot)
    np.testing.assert_allclose(psnr["SR"][1], [m["psnr"] for m in metrics])
    np.testing.assert_allclose(psnr["bicubic"][1], [m["psnr_bicubic"] for m in metrics])
    assert len(_images(monitor)) == 3  # LR (bicubic), SR, HR of the validation pair
    assert "step 3/3" in monitor.header.text()
    assert "finished" in monitor.status.text()

    monitor.log_losses.setChecked(True)  # the log-scale box changes the loss plots
    assert monitor._loss_plots["generator"].getPlotItem().ctrl.logYCheck.isChecked()


def test_model_ready_fires_and_use_model_offers_the_model(
        make_napari_viewer, qtbot, sim_pairs, tmp_path):
    offered = []
    _viewer, monitor = _monitor(make_napari_viewer, on_model=offered.append)
    run = tmp_path / "run"
    assert not monitor.use_model_button.isEnabled()
    with qtbot.waitSignal(monitor.model_ready, timeout=60_000) as ready:
        monitor.start(_request(sim_pairs, run, SHORT))
    assert ready.args == [str(run / "model.semsr")]
    assert (run / "model.semsr").is_file()
    _wait_done(qtbot, monitor)
    assert offered == [str(run / "model.semsr")]  # offered as soon as the run ended
    assert monitor.use_model_button.isEnabled()
    qtbot.mouseClick(monitor.use_model_button, Qt.LeftButton)  # and again on request
    assert offered == [str(run / "model.semsr")] * 2


def test_pause_stops_the_steps_resume_continues_and_stop_exports_a_model(
        make_napari_viewer, qtbot, sim_pairs, tmp_path):
    _viewer, monitor = _monitor(make_napari_viewer)
    run = tmp_path / "run"
    monitor.start(_request(sim_pairs, run, LONG))
    qtbot.waitUntil(lambda: monitor.history.step >= 1, timeout=60_000)

    qtbot.mouseClick(monitor.pause_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: monitor.history.paused, timeout=30_000)
    assert monitor.status.text().startswith("Paused")
    assert monitor.pause_button.text() == "Resume"
    paused_at = monitor.history.step
    qtbot.wait(800)
    assert monitor.history.step == paused_at  # no steps while paused

    qtbot.mouseClick(monitor.pause_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: monitor.history.step > paused_at, timeout=30_000)
    assert monitor.pause_button.text() == "Pause"

    qtbot.mouseClick(monitor.stop_button, Qt.LeftButton)
    assert "Stopping" in monitor.status.text()
    assert not monitor.stop_button.isEnabled()
    _wait_done(qtbot, monitor)
    assert monitor.history.status == "stopped"
    assert monitor.history.step < 300
    assert (run / "model.semsr").is_file()
    assert "Stopped" in monitor.status.text()


def test_resume_run_continues_a_stopped_run_where_it_stopped(
        make_napari_viewer, qtbot, sim_pairs, tmp_path):
    _viewer, monitor = _monitor(make_napari_viewer)
    run = tmp_path / "run"
    overrides = [*TINY, "phases.pretrain.epochs=2", "phases.pretrain.steps_per_epoch=15"]
    monitor.start(_request(sim_pairs, run, overrides))
    qtbot.waitUntil(lambda: monitor.history.step >= 1, timeout=60_000)
    monitor.stop()
    _wait_done(qtbot, monitor)
    stopped_at = monitor.history.step
    assert monitor.history.status == "stopped" and stopped_at < 30
    assert monitor.resume_button.isEnabled()

    qtbot.mouseClick(monitor.resume_button, Qt.LeftButton)
    assert monitor.running
    _wait_done(qtbot, monitor)
    assert monitor.history.status == "finished"
    x, _y = _curves(monitor._loss_plots["generator"])["l1"]
    assert x == [float(s) for s in range(1, 31)]  # one point per step, none twice
    assert not monitor.resume_button.isEnabled()


def test_reopening_a_finished_run_redraws_the_same_curves_and_samples(
        make_napari_viewer, qtbot, sim_pairs, tmp_path):
    _viewer, live = _monitor(make_napari_viewer)
    run = tmp_path / "run"
    live.start(_request(sim_pairs, run, SHORT))
    _wait_done(qtbot, live)

    reopened = TrainingMonitor()
    qtbot.addWidget(reopened)
    assert reopened.open_run(run)
    for name in ("generator",):
        assert _curves(reopened._loss_plots[name]) == _curves(live._loss_plots[name])
    for plot in ("lr_plot", "psnr_plot", "ssim_plot"):
        assert _curves(getattr(reopened, plot)) == _curves(getattr(live, plot))
    assert reopened.history.status == "finished"
    assert reopened.use_model_button.isEnabled()
    # samples come back from the run log's PNG grid: same panels, 8-bit rounded
    for shown, drawn in zip(_images(reopened), _images(live), strict=True):
        assert shown.shape == drawn.shape
        assert np.abs(shown - drawn).max() < 0.01

    reopened.gradient_toggle.setChecked(True)
    assert "gradient maps" in reopened.samples_caption.text()
    gradients = _images(reopened)
    assert len(gradients) == 3
    assert not np.allclose(gradients[2], _images(live)[2])


def test_open_run_follows_a_run_another_process_is_still_writing(
        make_napari_viewer, qtbot, finished_run, tmp_path):
    run = tmp_path / "growing"
    run.mkdir()
    shutil.copy(finished_run / "config.toml", run / "config.toml")
    shutil.copytree(finished_run / "samples", run / "samples")
    lines = (finished_run / "events.jsonl").read_text(encoding="utf-8").splitlines(True)
    first_steps = [i for i, line in enumerate(lines) if json.loads(line)["kind"] == "step"]
    cut = first_steps[1] + 1  # up to the second step
    (run / "events.jsonl").write_text("".join(lines[:cut]), encoding="utf-8")

    _viewer, monitor = _monitor(make_napari_viewer)
    assert monitor.open_run(run)
    assert not monitor.history.ended
    assert "not ended" in monitor.status.text()
    assert _curves(monitor._loss_plots["generator"])["l1"][0] == [1.0, 2.0]

    with open(run / "events.jsonl", "a", encoding="utf-8") as handle:
        handle.write("".join(lines[cut:]))
    qtbot.waitUntil(lambda: monitor.history.ended, timeout=10_000)
    qtbot.waitUntil(lambda: _curves(monitor._loss_plots["generator"])["l1"][0]
                    == [1.0, 2.0, 3.0], timeout=5_000)
    assert "finished" in monitor.status.text()


def test_a_training_error_is_shown_and_the_monitor_stays_usable(
        make_napari_viewer, qtbot, sim_pairs, notifications, tmp_path):
    _viewer, monitor = _monitor(make_napari_viewer)
    empty = tmp_path / "empty"
    (empty / "lr").mkdir(parents=True)
    (empty / "hr").mkdir()
    monitor.start(_request(empty, tmp_path / "bad_run", SHORT))
    _wait_done(qtbot, monitor)
    errors = [text for severity, text in notifications if severity == "error"]
    assert errors and "Training failed" in errors[-1]
    assert monitor.status.text().startswith("Error: Training failed")
    assert monitor.open_button.isEnabled() and not monitor.stop_button.isEnabled()

    assert monitor.start(_request(sim_pairs, tmp_path / "good_run", SHORT))
    _wait_done(qtbot, monitor)
    assert monitor.history.status == "finished"


def test_a_second_start_is_refused_while_a_training_runs(
        make_napari_viewer, qtbot, sim_pairs, notifications, tmp_path):
    _viewer, monitor = _monitor(make_napari_viewer)
    monitor.start(_request(sim_pairs, tmp_path / "first", LONG))
    assert not monitor.start(_request(sim_pairs, tmp_path / "second", SHORT))
    assert any("already running" in text for _, text in notifications)
    assert not monitor.open_run(tmp_path / "first")  # nor is another run opened over it
    monitor.stop()
    _wait_done(qtbot, monitor)
    assert not (tmp_path / "second").exists()


def test_closing_napari_stops_the_training_gracefully_with_a_model(
        make_napari_viewer, qtbot, sim_pairs, tmp_path):
    _viewer, monitor = _monitor(make_napari_viewer)
    run = tmp_path / "run"
    monitor.start(_request(sim_pairs, run, LONG))
    qtbot.waitUntil(lambda: monitor.history.step >= 1, timeout=60_000)
    monitor.worker.quit()  # what napari calls for running workers when the app quits
    _wait_done(qtbot, monitor)
    finished = [e for e in read_events(run) if e["kind"] == "finished"]
    assert finished and finished[-1]["status"] == "stopped"
    assert (run / "model.semsr").is_file()


def test_a_finished_run_shows_its_verdict_and_what_to_try_next(make_napari_viewer,
                                                               finished_run):
    """Three steps of en1 from scratch are worse than bicubic: the monitor says so in
    words, with what to try next (the run exported it only because the test asks)."""
    _, monitor = _monitor(make_napari_viewer)
    assert monitor.open_run(finished_run)
    assert not monitor.verdict_label.isHidden()
    text = monitor.verdict_label.text()
    assert "worse than bicubic on its validation pairs" in text
    assert "What to try next" in text and "finetune" in text
    assert monitor.history.verdict["gain_db"] < 0


def test_opening_a_folder_that_is_not_a_run_says_so(make_napari_viewer, notifications,
                                                    tmp_path):
    _viewer, monitor = _monitor(make_napari_viewer)
    assert not monitor.open_run(tmp_path)
    assert any("config.toml" in text for _, text in notifications)
    assert monitor.open_button.isEnabled()


def test_the_events_file_tail_waits_for_a_line_still_being_written(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"kind": "step", "step": 1}\n{"kind": "st', encoding="utf-8")
    tail = EventsFileTail(tmp_path)
    assert [r["step"] for r in tail.read_new()] == [1]
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('ep", "step": 2}\n')
    assert [r["step"] for r in tail.read_new()] == [2]
    assert tail.read_new() == []


def test_discriminator_losses_get_their_own_curves_per_network():
    history = RunHistory()
    history.add({"kind": "step", "step": 5, "phase": "gan", "epoch": 0,
                 "losses": {"g/l1": 0.1, "g/gan_ragan": 0.7, "d/patch/ragan": 1.3},
                 "lr": {"generator": 1e-4, "patch": 2e-4}, "eta_s": 65, "elapsed_s": 10})
    assert set(history.losses) == {"generator", "patch"}
    assert history.losses["patch"]["ragan"].values == [1.3]
    assert "ETA 0:01:05" in history.header()
