"""How long a run is: useful epochs, a schedule fitted to a time budget, and the
bounded share of the time that validation may take.

- **Epochs on small sets.** An epoch is one pass over the training samples, but never
  fewer than ``train.min_epoch_samples`` samples: a set of three pairs is passed over
  several times per epoch, each pass with fresh random crops and orientations (the
  dataset is told a new epoch number per pass). Four pairs never make one-step epochs.
- **A time budget is used in full.** With ``max_minutes`` the engine times the first
  steps, then stretches or compresses every phase by the same factor so that the run's
  steps fill the budget (less the share kept for validation and the final export);
  it fits the plan again at every epoch end with the rate measured so far, so a
  slower phase (adversarial) or a busier machine shortens what is left instead of
  being cut off. Phases keep their proportions in time, as the recipe gives them in
  epochs; a phase with 0 epochs stays off.
- **Validation costs a bounded share.** A validation (and its sample images) runs at
  an epoch end only while the time spent validating stays within
  ``train.validation_share`` of the run's time so far (default 5%); the exported
  model is always validated at the end.

:class:`RunPlan` is what a run will do; :func:`fit_to_time` is the one function that
turns a budget into epochs, used by the engine and by the wizard's estimate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def steps_in_epoch(samples: int, per_step: int, min_samples: int,
                   fixed: int | None = None) -> int:
    """Steps of one epoch: ``fixed`` (a phase's ``steps_per_epoch``) or one pass over
    ``samples``, at least ``min_samples`` samples (several passes over a small set)."""
    if fixed is not None:
        return int(fixed)
    one_pass = samples // per_step
    return max(one_pass, math.ceil(min_samples / per_step))


def fit_to_time(epochs: Sequence[int], steps_per_epoch: Sequence[int],
                seconds_per_step: Sequence[float], seconds: float,
                done_steps: Sequence[int] | None = None,
                last_steps: Sequence[int] | None = None) -> tuple[list[int], list[int]]:
    """Epochs per phase, and the steps of each phase's last epoch, so that the steps not
    yet done take ``seconds``.

    ``epochs`` and ``last_steps`` are the current plan (the recipe's at the start: full
    last epochs), ``done_steps`` the steps each phase has done (the current phase may be
    part-way through an epoch). Every phase with steps left is stretched or compressed
    by the same factor, down to one more step; its last epoch may be shorter than the
    others, so the plan ends at the budget rather than at an epoch boundary before it.
    Phases at 0 epochs stay at 0 and finished phases keep theirs.
    """
    n_phases = len(epochs)
    done = list(done_steps) if done_steps is not None else [0] * n_phases
    last = list(last_steps) if last_steps is not None else list(steps_per_epoch)
    planned_steps = [0 if e == 0 else (e - 1) * spe + tail
                     for e, spe, tail in zip(epochs, steps_per_epoch, last, strict=True)]
    left = [max(p - d, 0) for p, d in zip(planned_steps, done, strict=True)]
    planned = sum(n * sps for n, sps in zip(left, seconds_per_step, strict=True))
    if planned <= 0:  # nothing left to fit
        return list(epochs), last
    factor = max(seconds, 0.0) / planned
    new_epochs, new_last = list(epochs), list(last)
    for i, (d, spe, n) in enumerate(zip(done, steps_per_epoch, left, strict=True)):
        if n == 0:
            continue
        steps = d + max(1, math.floor(n * factor + 0.5))
        count = -(-steps // spe)
        new_epochs[i], new_last[i] = count, steps - (count - 1) * spe
    return new_epochs, new_last


def validation_subset(pairs: Sequence, max_pixels: int) -> list:
    """The validation pairs a run uses: all of them, or the first ones whose HR images
    add up to ``max_pixels`` (at least one), so one validation's cost stays bounded
    whatever the size of the held-out set."""
    kept, pixels = [], 0
    for pair in pairs:
        size = int(pair.hr.size)
        if kept and pixels + size > max_pixels:
            break
        kept.append(pair)
        pixels += size
    return kept


@dataclass
class RunPlan:
    """What a run does: epochs and steps per epoch of each phase, and, for a
    time-limited run, the budget and the measured seconds per step it was fitted with."""

    phases: list[str]
    epochs: list[int]
    steps_per_epoch: list[int]
    budget_s: float | None = None
    validation_share: float = 0.05
    seconds_per_step: list[float] = field(default_factory=list)
    last_steps: list[int] = field(default_factory=list)  # of each phase's last epoch

    def __post_init__(self) -> None:
        if not self.last_steps:
            self.last_steps = list(self.steps_per_epoch)

    def epoch_length(self, phase: int, epoch_in_phase: int) -> int:
        """Steps of epoch ``epoch_in_phase`` of ``phase`` (the last one may be shorter)."""
        if epoch_in_phase >= self.epochs[phase] - 1:
            return self.last_steps[phase]
        return self.steps_per_epoch[phase]

    @property
    def total_steps(self) -> int:
        return sum(self.phase_steps())

    def phase_steps(self) -> list[int]:
        return [0 if e == 0 else (e - 1) * s + t for e, s, t in
                zip(self.epochs, self.steps_per_epoch, self.last_steps, strict=True)]

    def minutes(self) -> float | None:
        """The planned training time, from the measured seconds per step."""
        if not self.seconds_per_step:
            return None
        return sum(n * s for n, s in zip(self.phase_steps(), self.seconds_per_step,
                                         strict=True)) / 60

    def describe(self) -> str:
        """One line for people: steps per phase, minutes, the validation share."""
        parts = [f"{name} {e} epoch(s) of {s} steps" + (f", the last of {t}" if t != s else "")
                 for name, e, s, t in zip(self.phases, self.epochs, self.steps_per_epoch,
                                          self.last_steps, strict=True) if e]
        minutes = self.minutes()
        text = f"{self.total_steps:,} steps ({'; '.join(parts)})"
        if minutes is not None:
            text += f" ≈ {minutes:.1f} min of training"
        if self.budget_s is not None:
            text += (f", fitted to the {self.budget_s / 60:g}-minute limit; validation ≤ "
                     f"{self.validation_share:.0%} of the time")
        return text

    def as_dict(self) -> dict:
        return {"phases": list(self.phases), "epochs": list(self.epochs),
                "steps_per_epoch": list(self.steps_per_epoch),
                "last_steps": list(self.last_steps), "total_steps": self.total_steps,
                "budget_s": self.budget_s,
                "validation_share": self.validation_share,
                "seconds_per_step": [round(s, 5) for s in self.seconds_per_step],
                "minutes": None if self.minutes() is None else round(self.minutes(), 2)}


@dataclass
class TimeBook:
    """Where a run's seconds went: training steps, validation (with samples and the
    best checkpoint), the rest (checkpoints, set-up, export)."""

    steps_s: float = 0.0
    validation_s: float = 0.0
    last_validation_s: float = 0.0
    validations: int = 0

    def may_validate(self, elapsed_s: float, share: float) -> bool:
        """Whether one more validation keeps validation within ``share`` of the time
        (the first one always runs: its cost is not known before; a share of 1 sets no
        bound)."""
        if self.validations == 0 or share >= 1:
            return True
        return self.validation_s + self.last_validation_s <= share * elapsed_s

    def add_validation(self, seconds: float) -> None:
        self.validation_s += seconds
        self.last_validation_s = seconds
        self.validations += 1

    def as_dict(self, total_s: float, budget_s: float | None) -> dict:
        out = {"training_steps_s": round(self.steps_s, 2),
               "validation_s": round(self.validation_s, 2), "validations": self.validations,
               "total_s": round(total_s, 2)}
        if budget_s:
            out["budget_s"] = round(budget_s, 2)
            out["training_share_of_budget"] = round(self.steps_s / budget_s, 4)
        return out
