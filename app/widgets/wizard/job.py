"""One piece of slow work at a time for a wizard page: :class:`BackgroundJob`.

The work runs in a napari worker with a cancel token; progress arrives through a
queued Qt signal; a user error becomes the :class:`~semsr_app.widgets.parts.Outcome`'s
message, a bug napari's error notification.
"""

from __future__ import annotations

from typing import Any

from napari.qt.threading import create_worker
from qtpy.QtCore import QObject, Signal

from semsr_app.widgets.parts import CancellableWorker, EventRelay, Outcome, run_guarded


def _guarded(work: Any) -> Outcome:
    """A page's background work in the worker (:func:`run_guarded`)."""
    return run_guarded(work, Outcome(), "use fewer or smaller images, or close other programs")


class _JobReceiver(QObject):
    """Receives one worker's signals on the GUI thread. A child of its job: when the job
    (or the wizard) is deleted, or the job moves on, Qt drops the connections, so a late
    result never reaches a page that is gone."""

    def __init__(self, job: BackgroundJob, on_done: Any) -> None:
        super().__init__(job)
        self.job = job
        self.on_done = on_done

    def returned(self, outcome: Outcome) -> None:
        self.on_done(outcome)

    def finished(self) -> None:
        self.job._finished(self)


class BackgroundJob(QObject):
    """One piece of slow work at a time in a napari worker, with a cancel token.

    ``start(work, on_done)``: ``work(on_event, cancel)`` runs in the worker; ``on_done``
    gets the :class:`Outcome` on the GUI thread. ``progress`` relays engine events.
    Starting again or :meth:`cancel` stops the earlier work and drops its result.
    """

    progress = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.token: Any = None
        self._receiver: _JobReceiver | None = None
        self._relay = EventRelay(self)
        self._relay.event.connect(self.progress.emit)

    @property
    def running(self) -> bool:
        return self._receiver is not None

    def start(self, work: Any, on_done: Any) -> None:
        from semsr_core.events import CancelToken

        self.cancel()
        token = CancelToken()
        emit = self._relay.event.emit

        def call() -> Any:
            return work(emit, token)

        worker = create_worker(_guarded, call, _start_thread=False,
                               _worker_class=CancellableWorker, cancel_token=token)
        receiver = _JobReceiver(self, on_done)
        worker.returned.connect(receiver.returned)
        worker.finished.connect(receiver.finished)
        self.token, self._receiver = token, receiver
        worker.start()

    def _finished(self, receiver: _JobReceiver) -> None:
        if receiver is self._receiver:
            self.token, self._receiver = None, None
        receiver.deleteLater()

    def cancel(self) -> None:
        """Ask the running work to stop; its result is dropped."""
        if self.token is not None:
            self.token.cancel()
        if self._receiver is not None:
            self._receiver.deleteLater()  # disconnects the old worker's signals
        self.token, self._receiver = None, None

