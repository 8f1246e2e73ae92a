"""A training run's history as curves: what the training monitor draws, free of Qt.

:class:`RunHistory` takes the engine's events one at a time — live
:class:`~semsr_core.events.Event` objects from a running training, or the records of a
run folder's ``events.jsonl`` (:meth:`RunHistory.from_run_dir`) — and keeps

- the loss curves per network (``"generator"`` and each discriminator) and term,
- the learning rate of each network,
- the validation PSNR/SSIM of the model and of bicubic upscaling,
- where the run stands (recipe, phase, epoch, step of total, elapsed, ETA, paused,
  how it ended, the exported model) and the latest validation samples.

:class:`EventsFileTail` reads the lines another process appends to ``events.jsonl``, so
a run still being written can be followed from its folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core import events as ev

# The validation sample panels, in the order the run log writes them into its PNG grid
# (followed by the same three as gradient maps).
SAMPLE_PANELS = ("lr_bicubic", "sr", "hr")
PANEL_TITLES = {"lr_bicubic": "LR (bicubic ↑)", "sr": "SR", "hr": "HR"}


@dataclass
class Curve:
    """Points (step, value) of one quantity, in the order they were reported."""

    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, step: float, value: Any) -> None:
        if value is None:
            return
        self.steps.append(float(step))
        self.values.append(float(value))

    def __len__(self) -> int:
        return len(self.steps)


@dataclass
class Sample:
    """One validation sample: the LR (bicubic), SR and HR crops of a validation pair,
    as arrays (live) or as the PNG grid the run log wrote (``path``)."""

    name: str
    step: int
    images: dict[str, np.ndarray] | None = None
    path: Path | None = None

    def panels(self, gradient: bool = False) -> list[tuple[str, np.ndarray]]:
        """(title, 2-D float image) for LR, SR and HR, or their Sobel gradient maps."""
        from semsr_core.metrics.no_reference import gradient_map

        images = self.images if self.images is not None else _panels_from_png(self.path)
        out = []
        for key in SAMPLE_PANELS:
            if key not in images:
                continue
            title = PANEL_TITLES[key]
            if gradient:
                grad = images.get(f"{key}_gradient")
                image = grad if grad is not None else gradient_map(images[key])
                title = f"{title} gradient"
            else:
                image = images[key]
            out.append((title, np.asarray(image, dtype=np.float32)))
        return out


def _panels_from_png(path: Path | None) -> dict[str, np.ndarray]:
    """Split the run log's sample grid (LR, SR, HR, then their gradient maps, side by
    side) back into named panels."""
    from skimage.io import imread

    from semsr_core.errors import InputError

    if path is None or not Path(path).is_file():
        raise InputError("the sample image of this run is missing", path=path,
                         hint="The run folder may have been moved or cleaned; the curves "
                              "are still shown.")
    grid = np.asarray(imread(path), dtype=np.float32) / 255.0
    if grid.ndim == 3:
        grid = grid[..., :3].mean(axis=-1)
    n = len(SAMPLE_PANELS)
    keys = list(SAMPLE_PANELS)
    if grid.shape[1] % (2 * n) == 0:
        n *= 2
        keys += [f"{k}_gradient" for k in SAMPLE_PANELS]
    width = grid.shape[1] // n
    return {key: grid[:, i * width:(i + 1) * width] for i, key in enumerate(keys)}


def loss_network(key: str) -> tuple[str, str]:
    """``"g/l1"`` → (``"generator"``, ``"l1"``); ``"d/patch/ragan"`` → (``"patch"``,
    ``"ragan"``)."""
    parts = key.split("/")
    if parts[0] == "g":
        return "generator", "/".join(parts[1:]) or key
    if parts[0] == "d" and len(parts) >= 3:
        return parts[1], "/".join(parts[2:])
    if parts[0] == "d" and len(parts) == 2:
        return "discriminator", parts[1]
    return "other", key


class RunHistory:
    """Everything the monitor shows about one run, built from its events."""

    def __init__(self, run_dir: Path | None = None) -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.recipe = ""
        self.phase = ""
        self.epoch: int | None = None
        self.step = 0
        self.total: int | None = None
        self.elapsed_s: float | None = None
        self.eta_s: float | None = None
        self.paused = False
        self.state = ev.TrainingState.IDLE  # the latest STATE event's
        self.status = ""  # "", or the FINISHED status (a RunStatus: finished, stopped, ...)
        self.model: str | None = None
        self.verdict: dict[str, Any] | None = None  # the FINISHED event's (verdict.py)
        self.plan: dict[str, Any] | None = None  # the engine's plan (budget.py)
        self.last_message = ""
        self.losses: dict[str, dict[str, Curve]] = {}  # network → term → curve
        self.learning_rates: dict[str, Curve] = {}
        self.metrics: dict[str, Curve] = {k: Curve() for k in
                                          ("psnr", "psnr_bicubic", "ssim", "ssim_bicubic")}
        self.samples: list[Sample] = []  # the latest validation's samples
        self.count = 0  # events taken in
        self.tail: EventsFileTail | None = None

    # ----------------------------------------------------------------- reading
    @classmethod
    def from_run_dir(cls, run_dir: str | Path) -> RunHistory:
        """The history of the run in ``run_dir`` (its ``config.toml`` and ``events.jsonl``);
        ``history.tail`` then reads what the run appends later."""
        history = cls(run_dir)
        history.read_config()
        history.tail = EventsFileTail(history.run_dir)
        for record in history.tail.read_new():
            history.add(record)
        return history

    def read_config(self) -> None:
        """Take the recipe name from the run folder's ``config.toml``."""
        from semsr_core.train.run_folder import RunFolder

        if self.run_dir is not None:
            self.recipe = RunFolder(self.run_dir).recipe()

    def add(self, event: Any) -> None:
        """Take in one event: an :class:`~semsr_core.events.Event` or an events.jsonl
        record (a dict with ``kind``, read by :meth:`Event.from_record`)."""
        if isinstance(event, dict):
            event = ev.Event.from_record(event)
        self.count += 1
        handler = getattr(self, f"_on_{event.kind.value}", None)
        if handler is not None:
            handler(event.payload)

    def _on_progress(self, p: ev.Progress) -> None:
        self.step = int(p.done)
        if p.total:
            self.total = int(p.total)
        if p.phase:
            self.phase = p.phase

    def _on_run_started(self, p: ev.RunStarted) -> None:
        self.total = int(p.total_steps) or self.total
        self.step = int(p.step)
        if p.recipe and not self.recipe:
            self.recipe = p.recipe

    def _on_plan(self, p: ev.Planned) -> None:
        self.plan = dict(p.plan)
        self.total = int(self.plan.get("total_steps") or self.total or 0) or None

    def _on_state(self, p: ev.StateChanged) -> None:
        self.state = p.state
        self.paused = p.state is ev.TrainingState.PAUSED

    def _on_step(self, p: ev.Step) -> None:
        step = int(p.step)
        self.step = step
        self.phase = p.phase or self.phase
        if p.epoch is not None:
            self.epoch = int(p.epoch)
        self.eta_s = p.eta_s
        if p.elapsed_s is not None:
            self.elapsed_s = p.elapsed_s
        for key, value in (p.losses or {}).items():
            network, term = loss_network(key)
            self.losses.setdefault(network, {}).setdefault(term, Curve()).add(step, value)
        for network, value in (p.lr or {}).items():
            self.learning_rates.setdefault(network, Curve()).add(step, value)
        self.paused = False

    def _on_metrics(self, p: ev.Metrics) -> None:
        for key, curve in self.metrics.items():
            curve.add(p.step, getattr(p, key))

    def _on_sample(self, p: ev.Sample) -> None:
        step = int(p.step)
        if self.samples and self.samples[0].step != step:
            self.samples = []
        path = None
        if p.path is not None:
            path = self.run_dir / p.path if self.run_dir is not None else Path(p.path)
        images = dict(p.images) if p.images else None
        self.samples.append(Sample(p.name, step, images=images, path=path))

    def _on_message(self, p: ev.Message) -> None:
        self.last_message = p.text

    def _on_finished(self, p: ev.Finished) -> None:
        self.status = p.status or ev.RunStatus.FINISHED
        if p.step is not None:
            self.step = int(p.step)
        self.paused = False
        self.eta_s = None
        if p.model and Path(p.model).is_file():
            self.model = str(p.model)
        if p.verdict:
            self.verdict = dict(p.verdict)

    # ----------------------------------------------------------------- queries
    @property
    def ended(self) -> bool:
        """True once the run reported how it ended."""
        return bool(self.status)

    def resumable(self) -> bool:
        """True when the run stopped before its schedule's end and has a checkpoint."""
        if self.run_dir is None or self.status == ev.RunStatus.FINISHED:
            return False
        from semsr_core.train.run_folder import RunFolder

        return RunFolder(self.run_dir).has_checkpoints()

    def header(self) -> str:
        """One line: recipe, phase, epoch, step of total, elapsed, ETA."""
        parts = []
        if self.recipe:
            parts.append(f"Recipe {self.recipe}")
        if self.phase:
            parts.append(f"phase {self.phase}")
        if self.epoch is not None:
            parts.append(f"epoch {self.epoch + 1}")
        if self.total:
            parts.append(f"step {self.step}/{self.total}")
        elif self.step:
            parts.append(f"step {self.step}")
        if self.elapsed_s is not None:
            parts.append(f"elapsed {format_duration(self.elapsed_s)}")
        if self.eta_s is not None and not self.ended:
            parts.append(f"ETA {format_duration(self.eta_s)}")
        return " · ".join(parts) if parts else "No run yet"


def verdict_html(verdict: dict[str, Any] | None) -> str:
    """The verdict of a finished run as rich text: better or worse than bicubic (in
    colour), what was exported, and what to try next."""
    if not verdict:
        return ""
    from html import escape

    status = str(verdict.get("status", ""))
    worse = status.startswith("worse")
    colour = "#e0503c" if worse else ("#3caa50" if status.startswith("better") else "#c8a03c")
    text = f'<b style="color: {colour}">{escape(str(verdict.get("text", status)))}</b>'
    advice = verdict.get("advice") or []
    if advice:
        text += "<br>What to try next:<ul>" + "".join(f"<li>{escape(str(tip))}</li>"
                                                    for tip in advice) + "</ul>"
    return text


def format_duration(seconds: float | None) -> str:
    """``3725`` → ``"1:02:05"``; ``None`` → ``"?"``."""
    if seconds is None or not np.isfinite(seconds):
        return "?"
    seconds = max(0, round(float(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class EventsFileTail:
    """Reads the complete lines added to a run's ``events.jsonl`` since the last read."""

    def __init__(self, run_dir: str | Path, offset: int = 0) -> None:
        from semsr_core.train.run_folder import RunFolder

        self.path = RunFolder(run_dir).events_path
        self.offset = offset

    @classmethod
    def at_end(cls, run_dir: str | Path) -> EventsFileTail:
        """A tail that starts after what the file holds now."""
        tail = cls(run_dir)
        tail.offset = tail.path.stat().st_size if tail.path.is_file() else 0
        return tail

    def read_new(self) -> list[dict[str, Any]]:
        """Records appended since the last call; a line still being written waits."""
        if not self.path.is_file():
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        records = []
        for line in chunk[: end + 1].splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut off by a kill
        return records
