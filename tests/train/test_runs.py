"""The run folder read back: ``run_summary``/``find_runs`` (``semsr runs``), one default
runs folder for the CLI and the app, the trainer's state machine, and a monitor that
reads fields, never the wording of messages."""

from __future__ import annotations

import json
import shutil

import pytest

from semsr_core.errors import InputError
from semsr_core.events import EventKind, IllegalTransition, TrainingState
from semsr_core.train import find_runs, run_summary, train
from semsr_core.train.run_folder import default_runs_dir

SHORT = ["generator.blocks=1", "generator.features=8", "generator.growth=4",
         "data.lr_patch=16", "data.batch=2", "phases.gan.epochs=0", "train.log_every=1",
         "data.val_fraction=0.25", "train.export_worse=true", "phases.pretrain.epochs=1",
         "phases.pretrain.steps_per_epoch=3",
         "discriminators.d.input_size=64"]  # unused (no GAN epochs) but checkpointed


@pytest.fixture(scope="module")
def finished_run(sim_data, tmp_path_factory):
    """A finished three-step en1 run and the events it sent."""
    runs = tmp_path_factory.mktemp("runs")
    events = []
    result = train("en1", sim_data, runs / "done", overrides=SHORT, device="cpu",
                   on_event=events.append)
    return runs / "done", result, events


def test_run_summary_reads_back_what_the_run_did(finished_run):
    run, result, _ = finished_run
    s = run_summary(run)
    assert s["run"] == str(run) and s["recipe"] == "en1"
    assert s["status"] == "finished" and s["step"] == 3 == result.step
    assert s["losses"] and all(k.startswith(("g/", "d/")) for k in s["losses"])
    assert s["metrics"] and s["metrics"][-1]["step"] == 3 and "psnr_bicubic" in s["metrics"][-1]
    assert s["model"] == str(run / "model.semsr")
    assert s["verdict"]["status"] == result.verdict.status


def test_find_runs_lists_run_folders_only_and_summaries_say_how_far_each_got(
        finished_run, tmp_path):
    run, _, _ = finished_run
    parent = tmp_path / "runs"
    shutil.copytree(run, parent / "b-finished")
    killed = parent / "a-killed"
    shutil.copytree(run, killed)
    lines = (killed / "events.jsonl").read_text(encoding="utf-8").splitlines(True)
    kept = [line for line in lines if json.loads(line)["kind"] not in ("finished", "state")]
    (killed / "events.jsonl").write_text("".join(kept), encoding="utf-8")
    new = parent / "c-new"
    new.mkdir()
    shutil.copy(run / "config.toml", new / "config.toml")
    (parent / "not-a-run").mkdir()
    (parent / "notes.txt").write_text("x")
    assert find_runs(parent) == [killed, parent / "b-finished", new]
    assert [run_summary(p)["status"] for p in find_runs(parent)] == [
        "running or killed", "finished", "new"]
    assert run_summary(new)["step"] == 0 and run_summary(new)["model"] is None
    assert find_runs(tmp_path / "nowhere") == []
    with pytest.raises(InputError, match="not-a-run: not a run folder"):
        run_summary(parent / "not-a-run")


def test_the_cli_and_the_app_share_one_default_runs_folder(sim_data, tmp_path, capsys):
    """`semsr train` without --run and the app's wizard both put new runs in the user's
    runs folder, and `semsr runs list` lists it; --runs DIR (or FOLDER) picks another."""
    from semsr_app.wizard_data import new_run_folder
    from semsr_core.cli import main

    home = default_runs_dir()
    assert new_run_folder("en1").parent == home
    args = ["train", "en1", "--data", str(sim_data), "--device", "cpu",
            *[a for s in SHORT for a in ("--set", s)]]
    assert main(args) == 0
    made = [p for p in find_runs(home) if p.name.startswith("en1-")]
    assert len(made) == 1
    capsys.readouterr()
    assert main(["runs", "list"]) == 0
    assert str(made[0]) in capsys.readouterr().out
    other = tmp_path / "elsewhere"
    assert main([*args, "--runs", str(other)]) == 0
    (mine,) = find_runs(other)
    capsys.readouterr()
    assert main(["runs", "list", "--runs", str(other)]) == 0
    listed = capsys.readouterr().out
    assert str(mine) in listed and str(made[0]) not in listed
    assert main(["runs", "list", str(other)]) == 0
    assert str(mine) in capsys.readouterr().out


def test_the_trainer_moves_through_its_states_and_refuses_an_illegal_move(sim_data, tmp_path):
    from semsr_core.train.config import load_config
    from semsr_core.train.data import prepare_data
    from semsr_core.train.engine import Trainer

    config = load_config("en1", SHORT)
    prepared = prepare_data(config, sim_data)
    events = []
    trainer = Trainer(config, tmp_path / "run", train_set=prepared.train_set,
                      val_pairs=prepared.val_pairs, device="cpu", on_event=events.append)
    assert trainer.training_state.state is TrainingState.IDLE
    trainer.run()
    states = [e.payload.state for e in events if e.kind is EventKind.STATE]
    assert states == [TrainingState.TRAINING, TrainingState.DONE]
    started = [e.payload for e in events if e.kind is EventKind.RUN_STARTED]
    assert started[0].total_steps == 3 and started[0].phases == ("pretrain", "gan")
    with pytest.raises(IllegalTransition):
        trainer._enter(TrainingState.TRAINING)  # a finished run does not train again

    crashing = Trainer(config, tmp_path / "empty", train_set=prepared.train_set,
                       val_pairs=prepared.val_pairs, device="cpu", on_event=events.append)
    with pytest.raises(InputError, match="no checkpoint to resume from"):
        crashing.run(resume=True)
    assert crashing.training_state.state is TrainingState.CRASHED
    assert events[-1].payload.state is TrainingState.CRASHED


def test_the_monitor_history_does_not_depend_on_the_wording_of_messages(finished_run,
                                                                        tmp_path):
    """Reworded (or translated) messages change nothing the monitor shows: it reads the
    total, the pause and the end from the events' fields."""
    from semsr_app.run_history import RunHistory
    from semsr_core.events import Event, Message, StateChanged

    run, _, events = finished_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    lines = []
    for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["kind"] == "message":
            record["text"] = "Nachricht " + record["text"][::-1]
        lines.append(json.dumps(record) + "\n")
    (copy / "events.jsonl").write_text("".join(lines), encoding="utf-8")
    original, reworded = RunHistory.from_run_dir(run), RunHistory.from_run_dir(copy)
    assert reworded.total == original.total == 3
    assert (reworded.step, reworded.status, reworded.header()) == (
        original.step, original.status, original.header())
    assert reworded.status == "finished" and reworded.verdict == original.verdict

    live = RunHistory()
    for event in events:
        if event.kind is EventKind.MESSAGE:
            event = Event(Message("?"))
        live.add(event)
        if event.kind is EventKind.RUN_STARTED:
            assert live.total == 3
    assert live.total == 3 and live.status == "finished"
    live.add(Event(StateChanged(TrainingState.PAUSED, 3)))
    assert live.paused
