"""Typed events from long-running engine work, and cancellation.

The engine never prints. Long tasks take ``on_event`` (a callable receiving
:class:`Event` objects) and ``cancel`` (a :class:`CancelToken`). The CLI renders the
events as a progress bar, the app forwards them from a worker thread to the GUI, and
tests collect them in a list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from semsr_core.errors import Cancelled


class EventKind(str, Enum):
    PROGRESS = "progress"  # data: done, total, stage (and optional unit)
    MESSAGE = "message"  # data: level ("info"|"warning"), text
    STEP = "step"  # training step: losses, learning rates, phase, epoch, step
    METRICS = "metrics"  # validation metrics
    SAMPLE = "sample"  # images (arrays) for previews / monitors
    FINISHED = "finished"  # data: result summary (e.g. output path)


@dataclass(frozen=True)
class Event:
    kind: EventKind
    data: dict[str, Any] = field(default_factory=dict)


EventCallback = Callable[[Event], None]


def emit(on_event: EventCallback | None, kind: EventKind, **data: Any) -> None:
    """Send one event if a callback was given."""
    if on_event is not None:
        on_event(Event(kind, data))


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
