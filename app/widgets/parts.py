"""Small Qt pieces every semsr panel uses.

- :class:`CancellableWorker` — a napari function worker whose ``quit()`` (napari calls
  it when the window closes) sets the job's :class:`~semsr_core.events.CancelToken`,
  so the engine stops at its next check (a tile, a training step) instead of being cut
  off: inference leaves no partial file, training validates, checkpoints and exports.
- :class:`EventRelay` — carries engine events from a worker thread to the GUI thread
  (a queued Qt signal).
- :class:`Outcome` — how a panel's background job ended (the one type for every panel).
- :func:`run_guarded` — a worker's work with user errors turned into its outcome.
- :func:`side_by_side` — widgets in a row without margins.
- :func:`dock_size_hint` — a panel's size hint at a dock's width.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from napari.qt.threading import FunctionWorker
from qtpy.QtCore import QObject, QSize, Signal
from qtpy.QtWidgets import QHBoxLayout, QWidget


class CancellableWorker(FunctionWorker):
    """A napari function worker that cancels its ``cancel_token`` when told to quit."""

    def __init__(self, *args: Any, cancel_token: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cancel_token = cancel_token

    def quit(self) -> None:
        if self.cancel_token is not None:
            self.cancel_token.cancel()
        super().quit()


class EventRelay(QObject):
    """Emits ``event`` on the GUI thread for events sent from a worker thread."""

    event = Signal(object)


@dataclass
class Outcome:
    """How a background job ended: its ``value``, ``cancelled``, or a user-facing
    ``error`` message; ``files`` lists what it wrote (for the panels that write)."""

    value: Any = None
    cancelled: bool = False
    error: str = ""
    files: list[Path] = field(default_factory=list)


def run_guarded(work: Callable[[], Any], outcome: Any, memory_hint: str) -> Any:
    """Run ``work()`` in a worker thread and record how it ended on ``outcome`` (an
    object with ``value``, ``cancelled`` and ``error``): cancelling and user-facing
    errors (:class:`~semsr_core.errors.SemsrError`) become the outcome, running out of
    memory becomes "out of memory; ``memory_hint``"; anything else (a bug) propagates to
    napari's error notification."""
    from semsr_core.errors import Cancelled, SemsrError

    try:
        outcome.value = work()
    except Cancelled:
        outcome.cancelled = True
    except SemsrError as exc:
        outcome.error = str(exc)
    except MemoryError:
        outcome.error = f"out of memory; {memory_hint}"
    return outcome


def side_by_side(*widgets: QWidget, stretch: bool = False) -> QWidget:
    """``widgets`` in one row; ``stretch`` keeps them at their size on the left."""
    container = QWidget()
    layout = QHBoxLayout(container)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    if stretch:
        layout.addStretch(1)
    return container


DOCK_WIDTH = 480
"""Width (px) a semsr panel asks for when docked: napari's tabbed right dock takes the
widest panel's wish, and plots or grids would otherwise claim half of the window."""


def dock_size_hint(widget: QWidget, hint: QSize) -> QSize:
    """``hint`` narrowed to :data:`DOCK_WIDTH` (never below the widget's minimum)."""
    return QSize(max(widget.minimumSizeHint().width(), min(hint.width(), DOCK_WIDTH)),
                 hint.height())


def qt_alive(widget: QWidget) -> bool:
    """Whether the C++ side of ``widget`` still exists (napari may have closed it while a
    worker ran)."""
    try:
        widget.objectName()
    except RuntimeError:
        return False
    return True
