"""Typed events from long-running engine work, the training state machine, and cancellation.

The engine never prints. Long tasks take ``on_event`` (a callable receiving
:class:`Event` objects) and ``cancel`` (a :class:`CancelToken`). The CLI renders the
events as a progress bar, the app forwards them from a worker thread to the GUI, and
tests collect them in a list.

Each event carries one frozen dataclass payload (:class:`Progress`, :class:`Message`,
:class:`Step`, :class:`Metrics`, :class:`Sample`, :class:`RunStarted`,
:class:`Planned`, :class:`StateChanged`, :class:`Finished`); its kind follows from the
payload's type. Consumers read the payload's fields (``event.payload.total_steps``) and
never parse message text. ``event.data`` is a read-only mapping of the same fields,
kept for readers written before the payloads.

A training run moves through :class:`TrainingState` (idle → training ⇄ paused → done,
stopped or crashed) by :class:`TrainingStateMachine`, which refuses any other move;
every move is a :class:`StateChanged` event. How a run ended is a :class:`RunStatus`.

The events log of a run folder (``events.jsonl``) stores each event as a JSON object
with ``kind`` and the payload's fields; :meth:`Event.from_record` reads it back, also
the logs written before the payloads existed (see :func:`_upgrade_legacy`).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

from semsr_core.errors import Cancelled


class EventKind(str, Enum):
    PROGRESS = "progress"  # Progress: done of total in a stage
    MESSAGE = "message"  # Message: level ("info"|"warning"), text
    STEP = "step"  # Step: a training step's losses, learning rates, phase, epoch
    METRICS = "metrics"  # Metrics: a validation's figures
    SAMPLE = "sample"  # Sample: validation images (arrays, or the PNG logged)
    RUN_STARTED = "run_started"  # RunStarted: a training run's size and phases
    PLAN = "plan"  # Planned: the training plan (budget.RunPlan.as_dict())
    STATE = "state"  # StateChanged: the training state moved
    FINISHED = "finished"  # Finished: how the work ended and what it made


class TrainingState(str, Enum):
    """Where a training run stands."""

    IDLE = "idle"  # made, not started
    TRAINING = "training"
    PAUSED = "paused"  # checkpointed, waiting for Resume or Stop
    DONE = "done"  # ran its schedule (or its time limit) to the end
    STOPPED = "stopped"  # stopped by the user; the model so far was exported
    CRASHED = "crashed"  # an error ended it; the last checkpoint is kept

    def __str__(self) -> str:
        return self.value

    @property
    def ended(self) -> bool:
        return not TRANSITIONS[self]


TRANSITIONS: dict[TrainingState, frozenset[TrainingState]] = {
    TrainingState.IDLE: frozenset({TrainingState.TRAINING, TrainingState.CRASHED}),
    TrainingState.TRAINING: frozenset({TrainingState.PAUSED, TrainingState.DONE,
                                       TrainingState.STOPPED, TrainingState.CRASHED}),
    TrainingState.PAUSED: frozenset({TrainingState.TRAINING, TrainingState.STOPPED,
                                     TrainingState.CRASHED}),
    TrainingState.DONE: frozenset(),
    TrainingState.STOPPED: frozenset(),
    TrainingState.CRASHED: frozenset(),
}
"""The moves a training run may make; the ended states allow none."""


class RunStatus(str, Enum):
    """How a training run ended (``TrainResult.status``, the FINISHED event's status)."""

    FINISHED = "finished"  # the whole schedule
    STOPPED = "stopped"  # stopped by the user
    TIME_LIMIT = "time_limit"  # at its time limit (max_minutes)

    def __str__(self) -> str:
        return self.value

    @property
    def state(self) -> TrainingState:
        return TrainingState.STOPPED if self is RunStatus.STOPPED else TrainingState.DONE


class IllegalTransition(RuntimeError):
    """A training state move that :data:`TRANSITIONS` does not allow (a programming error)."""


class TrainingStateMachine:
    """The training state of one run; :meth:`move` refuses moves not in :data:`TRANSITIONS`."""

    def __init__(self, state: TrainingState = TrainingState.IDLE) -> None:
        self._state = TrainingState(state)
        self._lock = threading.Lock()

    @property
    def state(self) -> TrainingState:
        return self._state

    def can_move(self, to: TrainingState) -> bool:
        return TrainingState(to) in TRANSITIONS[self._state]

    def move(self, to: TrainingState) -> TrainingState:
        """Move to ``to``; raises :class:`IllegalTransition` for a move not allowed."""
        to = TrainingState(to)
        with self._lock:
            if to not in TRANSITIONS[self._state]:
                allowed = ", ".join(sorted(s.value for s in TRANSITIONS[self._state])) or "none"
                raise IllegalTransition(f"training state {self._state.value} → {to.value} is "
                                        f"not allowed (from {self._state.value}: {allowed})")
            self._state = to
        return to


# ------------------------------------------------------------------ payloads


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` units of a stage (``total`` None: unknown); training adds
    the phase and its epoch (``epoch`` of ``epochs``, counted from 1)."""

    done: int = 0
    total: int | None = None
    stage: str = ""
    unit: str = ""
    postfix: str = ""
    phase: str = ""
    epoch: int | None = None
    epochs: int | None = None


@dataclass(frozen=True)
class Message:
    """A line for the user: ``level`` "info" or "warning"."""

    text: str = ""
    level: str = "info"


@dataclass(frozen=True)
class Step:
    """A logged training step: losses by key (``g/l1``, ``d/patch/ragan``), learning
    rates by network, elapsed training seconds and the estimated seconds left."""

    step: int = 0
    epoch: int | None = None
    phase: str = ""
    losses: Mapping[str, float] = field(default_factory=dict)
    lr: Mapping[str, float] = field(default_factory=dict)
    eta_s: float | None = None
    elapsed_s: float | None = None


@dataclass(frozen=True)
class Metrics:
    """A validation: PSNR/SSIM of the model and of bicubic upscaling; ``best`` when it
    beat every earlier validation."""

    step: int = 0
    epoch: int | None = None
    psnr: float | None = None
    ssim: float | None = None
    psnr_bicubic: float | None = None
    ssim_bicubic: float | None = None
    best: bool = False


@dataclass(frozen=True)
class Sample:
    """Validation images of one pair: arrays by panel (live) or, once logged, the PNG
    grid's ``path`` relative to the run folder."""

    step: int = 0
    epoch: int | None = None
    name: str = ""
    images: Mapping[str, Any] | None = None
    path: str | None = None


@dataclass(frozen=True)
class RunStarted:
    """A training run (re)starts: its total steps, phase names, recipe, device, samples
    per epoch, and the step it starts from (above 0 when resumed)."""

    total_steps: int = 0
    phases: tuple[str, ...] = ()
    recipe: str = ""
    device: str = ""
    samples_per_epoch: int = 0
    step: int = 0


@dataclass(frozen=True)
class Planned:
    """The training plan (``RunPlan.as_dict()``: epochs, total steps, time use)."""

    plan: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StateChanged:
    """The training state moved to ``state`` at ``step``."""

    state: TrainingState = TrainingState.IDLE
    step: int = 0


@dataclass(frozen=True)
class Finished:
    """The work ended. Training fills ``status`` (a :class:`RunStatus`), ``step``,
    ``model`` (None: none exported), ``metrics``, ``verdict``, ``plan`` and
    ``time_use``; other tasks put what they made in ``outputs`` (e.g. ``path``,
    ``report``), which ``event.data`` shows as top-level keys."""

    status: RunStatus | None = None
    step: int | None = None
    model: str | None = None
    metrics: Mapping[str, float] | None = None
    verdict: Mapping[str, Any] | None = None
    plan: Mapping[str, Any] | None = None
    time_use: Mapping[str, Any] | None = None
    outputs: Mapping[str, Any] = field(default_factory=dict)


Payload = (Progress | Message | Step | Metrics | Sample | RunStarted | Planned
           | StateChanged | Finished)

PAYLOADS: dict[EventKind, type] = {
    EventKind.PROGRESS: Progress, EventKind.MESSAGE: Message, EventKind.STEP: Step,
    EventKind.METRICS: Metrics, EventKind.SAMPLE: Sample,
    EventKind.RUN_STARTED: RunStarted, EventKind.PLAN: Planned,
    EventKind.STATE: StateChanged, EventKind.FINISHED: Finished,
}
KIND_OF: dict[type, EventKind] = {cls: kind for kind, cls in PAYLOADS.items()}
_ENUMS = {"state": TrainingState, "status": RunStatus}


def make_payload(kind: EventKind, values: Mapping[str, Any], *, strict: bool = True):
    """The payload of ``kind`` from field values. A key that is not a field goes into
    :class:`Finished`'s ``outputs``; for other kinds it raises ``TypeError`` (``strict``)
    or is dropped (reading a log)."""
    kind = EventKind(kind)
    cls = PAYLOADS[kind]
    names = {f.name for f in dataclasses.fields(cls)}
    known = {k: v for k, v in values.items() if k in names}
    extra = {k: v for k, v in values.items() if k not in names}
    if extra and cls is Finished:
        known["outputs"] = {**dict(known.get("outputs") or {}), **extra}
    elif extra and strict:
        raise TypeError(f"{kind.value} event: unknown field(s) {', '.join(sorted(extra))} "
                        f"(fields: {', '.join(sorted(names))})")
    for key, enum in _ENUMS.items():
        if known.get(key) is not None and key in names:
            known[key] = enum(known[key])
    if "phases" in known:
        known["phases"] = tuple(known["phases"])
    return cls(**known)


@dataclass(frozen=True, init=False)
class Event:
    """One event: ``kind`` and its typed ``payload``.

    ``Event(Progress(done=1, total=4))`` is the form to use; ``Event(kind, {...})``
    builds the payload of ``kind`` from a dict (unknown keys refused)."""

    kind: EventKind
    payload: Any

    def __init__(self, kind: Any, data: Mapping[str, Any] | None = None) -> None:
        if isinstance(kind, EventKind | str) and not dataclasses.is_dataclass(kind):
            kind = EventKind(kind)
            payload = make_payload(kind, data or {})
        else:
            if data:
                raise TypeError("Event(payload) takes no data dict")
            payload = kind
            if type(payload) not in KIND_OF:
                raise TypeError(f"not an event payload: {type(payload).__name__}")
            kind = KIND_OF[type(payload)]
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "payload", payload)

    @property
    def data(self) -> Mapping[str, Any]:
        """The payload's fields as a read-only mapping (a :class:`Finished` event's
        ``outputs`` as top-level keys, and its training fields only for a training run)."""
        values = {f.name: getattr(self.payload, f.name)
                  for f in dataclasses.fields(self.payload)}
        if isinstance(self.payload, Finished):
            outputs = values.pop("outputs")
            if self.payload.status is None:  # not a training run: only what was given
                values = {k: v for k, v in values.items() if v is not None}
            values.update(outputs)
        return MappingProxyType(values)

    def to_record(self) -> dict[str, Any]:
        """``kind`` and the fields, for a JSON line (the caller makes values plain)."""
        return {"kind": self.kind.value, **self.data}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Event:
        """An event from a JSON line of an events log (``time`` and unknown keys
        ignored; logs written before the typed payloads are upgraded)."""
        record = _upgrade_legacy(dict(record))
        values = {k: v for k, v in record.items() if k not in ("kind", "time")}
        kind = EventKind(record.get("kind", "message"))
        return cls(make_payload(kind, values, strict=False))


def _upgrade_legacy(record: dict[str, Any]) -> dict[str, Any]:
    """A record of a log written before the typed payloads, as its payload now: a pause
    was a MESSAGE with ``paused`` (now a STATE event), the plan a MESSAGE with ``plan``
    (now a PLAN event). Such logs never had a RUN_STARTED record: their total steps is
    known once the plan is (the engine announced it after the first steps)."""
    if record.get("kind") == "message" and "paused" in record:
        state = TrainingState.PAUSED if record["paused"] else TrainingState.TRAINING
        return {"kind": "state", "state": state.value, "step": record.get("step", 0)}
    if record.get("kind") == "message" and isinstance(record.get("plan"), dict):
        return {"kind": "plan", "plan": record["plan"]}
    return record


EventCallback = Callable[[Event], None]


def emit(on_event: EventCallback | None, kind: Any, **data: Any) -> None:
    """Send one event if a callback was given: ``emit(cb, Progress(...))`` or, the
    older form, ``emit(cb, EventKind.PROGRESS, done=..., ...)``."""
    if on_event is not None:
        on_event(Event(kind, data) if isinstance(kind, EventKind) else Event(kind))


class CancelToken:
    """Thread-safe cancellation flag checked by long tasks between units of work.

    Training also honours a pause: :meth:`pause` makes the trainer checkpoint and wait
    before its next step until :meth:`resume` (or :meth:`cancel`) is called.
    """

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self._flag.set()
        self._running.set()  # a paused task wakes up to stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block while paused (at most ``timeout`` s); True once running or cancelled."""
        return self._running.wait(timeout)

    @property
    def cancelled(self) -> bool:
        return self._flag.is_set()

    def raise_if_cancelled(self) -> None:
        if self._flag.is_set():
            raise Cancelled()


def check_cancel(cancel: CancelToken | None) -> None:
    """Raise :class:`Cancelled` if ``cancel`` was set (no-op for ``None``)."""
    if cancel is not None:
        cancel.raise_if_cancelled()
