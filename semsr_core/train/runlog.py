"""The run folder's event log: ``events.jsonl``, one JSON object per line.

Each line is an event's ``kind`` and its payload's fields (:meth:`Event.to_record`,
read back by :meth:`Event.from_record`), with the time. Scalars and text are logged as
they are; images in SAMPLE events are written as a
PNG grid under ``samples/`` and logged by path. A monitor (CLI ``semsr runs show``,
the app) rebuilds curves from this file, also for runs that ended long ago.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.events import Event, Sample
from semsr_core.io.display import to_uint8
from semsr_core.io.write import make_folder, write_bytes_atomic, write_failure


class RunLog:
    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "events.jsonl"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")

    def __call__(self, event: Event) -> None:
        record: dict[str, Any] = {"time": round(time.time(), 3), "kind": event.kind.value}
        for key, value in event.data.items():
            if isinstance(value, np.ndarray):
                continue
            if key == "images":  # arrays: written as a PNG, logged by path
                continue
            record[key] = _plain(value)
        if (isinstance(event.payload, Sample) and event.payload.path is None
                and event.payload.images):
            record["path"] = str(self._write_sample(event))
        try:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        except OSError as exc:  # a full disk: one error naming events.jsonl
            raise write_failure(exc, self.path) from exc

    def _write_sample(self, event: Event) -> Path:
        from semsr_core.io.picture import png_bytes

        images: dict[str, np.ndarray] = dict(event.payload.images)
        # each panel stretched between its own minimum and maximum
        grid = np.concatenate([to_uint8(images[k], (0, 100)) for k in images], axis=1)
        step = event.payload.step
        path = self.run_dir / "samples" / f"step_{step:08d}.png"
        make_folder(path.parent)
        write_bytes_atomic(path, png_bytes(grid))  # OutputError on a full disk
        return path.relative_to(self.run_dir)

    def close(self) -> None:
        self._file.close()


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    """All events of a run; a line cut off by a kill is skipped."""
    path = Path(run_dir) / "events.jsonl"
    events = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


