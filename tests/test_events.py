"""Typed events: one payload type per kind, the read-only ``data`` view, the events-log
records (also those written before the payloads), and the training state machine."""

from __future__ import annotations

import json

import numpy as np
import pytest

from semsr_core.events import (
    TRANSITIONS,
    Event,
    EventKind,
    Finished,
    IllegalTransition,
    Message,
    Planned,
    Progress,
    RunStarted,
    RunStatus,
    Sample,
    StateChanged,
    Step,
    TrainingState,
    TrainingStateMachine,
    emit,
)


def test_the_kind_follows_from_the_payload_and_data_is_a_read_only_view():
    event = Event(RunStarted(total_steps=12, phases=("pretrain", "gan"), recipe="en1"))
    assert event.kind is EventKind.RUN_STARTED
    assert event.payload.total_steps == 12
    assert event.data["total_steps"] == 12 and event.data["phases"] == ("pretrain", "gan")
    with pytest.raises(TypeError):
        event.data["total_steps"] = 3  # type: ignore[index]


def test_the_dict_form_builds_the_typed_payload_and_refuses_unknown_fields():
    seen: list[Event] = []
    emit(seen.append, EventKind.PROGRESS, done=2, total=5, stage="writing", unit="slice")
    assert seen[0].payload == Progress(done=2, total=5, stage="writing", unit="slice")
    with pytest.raises(TypeError, match="paused"):
        Event(EventKind.MESSAGE, {"text": "paused", "paused": True})
    emit(None, Message("nobody listens"))  # no callback: nothing happens


def test_a_task_s_finished_outputs_read_as_top_level_keys():
    """Evaluation, alignment and inference report what they wrote; only that is shown."""
    event = Event(EventKind.FINISHED, {"report": "out/report.json", "files": 3})
    assert event.payload.outputs == {"report": "out/report.json", "files": 3}
    assert dict(event.data) == {"report": "out/report.json", "files": 3}
    training = Event(Finished(status=RunStatus.STOPPED, step=7))
    assert training.data["status"] == "stopped" and training.data["model"] is None


def test_log_records_round_trip_to_the_same_payloads(tmp_path):
    from semsr_core.train.run_folder import RunFolder

    payloads = [
        RunStarted(total_steps=40, phases=("pretrain",), recipe="en1", device="cpu",
                   samples_per_epoch=8),
        StateChanged(TrainingState.TRAINING, 0),
        Step(step=1, epoch=0, phase="pretrain", losses={"g/l1": 0.5}, lr={"generator": 1e-4},
             eta_s=3.0, elapsed_s=0.1),
        Planned({"total_steps": 40, "epochs": [5]}),
        Message("reworded freely", level="warning"),
        StateChanged(TrainingState.DONE, 40),
        Finished(status=RunStatus.TIME_LIMIT, step=40, model=None, metrics={"psnr": 30.0},
                 verdict={"status": "better than bicubic"}, plan={}, time_use={}),
    ]
    folder = RunFolder(tmp_path / "run")
    log = folder.events_log()
    for payload in payloads:
        log(Event(payload))
    log(Event(Sample(step=1, name="a", images={"sr": np.ones((4, 4)), "hr": np.zeros((4, 4))})))
    log.close()
    back = [e.payload for e in folder.read_events()]
    assert back[:-1] == payloads
    assert back[-1].path == "samples/step_00000001.png" and back[-1].images is None
    assert (folder.path / back[-1].path).is_file()
    assert isinstance(back[-1 - 1].status, RunStatus)  # the enum, not a bare string


def test_a_log_written_before_the_typed_events_is_read_as_typed_events():
    """Before, a pause was a MESSAGE with ``paused`` and the plan a MESSAGE with ``plan``;
    such records are read as STATE and PLAN events (the conversion is on reading)."""
    old = ['{"time": 1.0, "kind": "message", "level": "info", "text": "paused at step 2", '
           '"paused": true, "step": 2}',
           '{"time": 2.0, "kind": "message", "level": "info", "text": "plan: 1 epoch", '
           '"plan": {"total_steps": 9}}',
           '{"time": 3.0, "kind": "finished", "status": "finished", "step": 9, "model": null}']
    events = [Event.from_record(json.loads(line)) for line in old]
    assert events[0].payload == StateChanged(TrainingState.PAUSED, 2)
    assert events[1].payload == Planned({"total_steps": 9})
    assert events[2].payload.status is RunStatus.FINISHED


def test_the_state_machine_allows_only_its_transitions():
    machine = TrainingStateMachine()
    assert machine.state is TrainingState.IDLE
    for state in (TrainingState.TRAINING, TrainingState.PAUSED, TrainingState.TRAINING,
                  TrainingState.DONE):
        machine.move(state)
    assert machine.state is TrainingState.DONE and machine.state.ended
    with pytest.raises(IllegalTransition, match="done → training"):
        machine.move(TrainingState.TRAINING)
    with pytest.raises(IllegalTransition, match="idle → paused"):
        TrainingStateMachine().move(TrainingState.PAUSED)
    ended = {s for s, allowed in TRANSITIONS.items() if not allowed}
    assert ended == {TrainingState.DONE, TrainingState.STOPPED, TrainingState.CRASHED}
    assert RunStatus.TIME_LIMIT.state is TrainingState.DONE
    assert RunStatus.STOPPED.state is TrainingState.STOPPED
