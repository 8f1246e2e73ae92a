"""The pace of a training run: seconds per step (measured per phase), the time left,
the plan fitted to a time limit as the run goes (:mod:`~semsr_core.train.budget`), and
the PROGRESS, STEP and PLAN events that report them.

:class:`RunPacing` is a part (a mixin) of :class:`~semsr_core.train.engine.Trainer`.
"""

from __future__ import annotations

import time
from typing import Any

from semsr_core.events import Message, Planned, Step
from semsr_core.events import Progress as ProgressEvent
from semsr_core.train.budget import fit_to_time


class RunPacing:
    """Step timing, ETA, the time-limited plan and progress reports of a trainer."""

    def _count_step(self, seconds: float) -> None:
        self.book.steps_s += seconds
        rate = self._rate[self.pos.phase]
        if rate[1] >= 0:  # the phase's first step (warm-up) is not a rate
            rate[0] += seconds
            self._recent.append(seconds)
        else:
            self._recent.clear()  # a new phase
        rate[1] += 1

    def _seconds_per_step(self) -> list[float] | None:
        """Measured seconds per step of each phase; a phase not yet run is assumed as
        fast as the latest measured one (the plan is fitted again once it runs)."""
        measured = [t / c if c > 0 else None for t, c in self._rate]
        if len(self._recent) >= 8 and self.pos.phase < len(measured):
            # the current phase at its latest pace (a machine that gets busier or freer)
            measured[self.pos.phase] = sum(self._recent) / len(self._recent)
        known = [m for m in measured if m is not None]
        if not known:
            return None
        latest = known[-1]
        return [latest if m is None else m for m in measured]

    def _eta(self) -> float | None:
        sps = self._seconds_per_step()
        if sps is None:
            return None
        left = 0.0
        for i, steps in enumerate(self.plan.phase_steps()):
            if i > self.pos.phase:
                left += steps * sps[i]
            elif i == self.pos.phase:
                done = self.pos.epoch_in_phase * self.steps_per_epoch[i] + self.pos.step_in_epoch
                left += max(steps - done, 0) * sps[i]
        return left

    def _time_triggers(self) -> tuple[bool, bool]:
        """With a time limit: whether to fit the plan again and whether to validate now
        (by the clock; the same answer on every rank of a torchrun job)."""
        if self.deadline is None:
            return False, False
        refit = self.elapsed >= self._refit_at
        validate = (self.elapsed >= self._validate_at
                    and self.book.may_validate(self.elapsed, self.plan.validation_share))
        return self.dist.any_flags(refit, validate)

    def _fit_plan(self) -> None:
        """With a time limit, fit the epochs left to the time left (less the final
        validation and export, and the validation share); announce the plan once."""
        sps = self._seconds_per_step()
        if sps is None:
            return
        self.plan.seconds_per_step = sps
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            # the final validation and the export (before any validation: a guess)
            reserve = self.book.last_validation_s + 0.3 if self.book.validations else 1.5
            share = self.plan.validation_share  # what validation will take of the rest
            if self.book.validations and self.elapsed > 0:
                share = min(share, self.book.validation_s / self.elapsed)
            seconds = max(left - reserve, 0.0) * (1.0 - share)
            self._refit_at = self.elapsed + self.budget_s / 20
            done = [steps if i < self.pos.phase else 0 for i, steps in
                    enumerate(self.plan.phase_steps())]
            if self.pos.phase < len(done):
                done[self.pos.phase] = (self.pos.epoch_in_phase * self.steps_per_epoch[
                    self.pos.phase] + self.pos.step_in_epoch)
            epochs, last = fit_to_time(self.plan.epochs, self.steps_per_epoch, sps, seconds,
                                       done, self.plan.last_steps)
            shared = self.dist.broadcast_ints(epochs + last)  # rank 0's plan for all ranks
            self.plan.epochs, self.plan.last_steps = shared[:len(epochs)], shared[len(epochs):]
        if not self._planned:
            self._planned = True
            self._emit(Planned(self.plan.as_dict()))
            self._emit(Message(f"plan: {self.plan.describe()}"))

    def _time_summary(self) -> dict[str, Any]:
        return self.book.as_dict(self.elapsed, self.budget_s)

    def _report_progress(self, losses: dict[str, float] | None = None) -> None:
        """One PROGRESS event for the whole run: steps done of all planned, the phase
        and its epoch as text (``pretrain · epoch 3/12``)."""
        last = len(self.cfg.phases) - 1
        index = next((i for i in range(self.pos.phase, last + 1) if self.plan.epochs[i] > 0),
                     min(self.pos.phase, last))
        name = self.cfg.phases[index].name
        epochs = self.plan.epochs[index]
        shown = min(self.pos.epoch_in_phase + 1, max(epochs, 1))
        postfix = f"{name} · epoch {shown}/{epochs}"
        if losses:
            postfix += " · " + " ".join(f"{k.split('/')[-1]}={v:.3g}" for k, v in
                                        losses.items() if k.startswith("g/"))
        self._emit(ProgressEvent(stage="train", done=self.pos.global_step,
                                 total=self.total_steps, unit="step", postfix=postfix,
                                 phase=name, epoch=shown, epochs=epochs))

    def _report_step(self, phase, epoch: int, losses: dict[str, float]) -> None:
        done = self.pos.global_step
        eta = self._eta()
        self._report_progress(losses)
        if done % self.cfg.train.log_every == 0 or done == self.total_steps:
            lrs = {"generator": self.opt_g.param_groups[0]["lr"],
                   **{n: o.param_groups[0]["lr"] for n, o in self.opt_d.items()}}
            self._emit(Step(step=done, epoch=epoch, phase=phase.name, losses=losses, lr=lrs,
                            eta_s=eta, elapsed_s=self.elapsed))
