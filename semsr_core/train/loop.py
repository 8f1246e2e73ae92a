"""The training loop of :class:`~semsr_core.train.engine.Trainer`: a run from start (or
its last checkpoint) to its end, epoch by epoch and batch by batch, with Pause, Stop and
the time limit checked before every step, and the events it sends.

Data order and augmentation are functions of (seed, epoch, index), so a run stopped
or killed at any step resumes from its last checkpoint and continues exactly as an
uninterrupted run would. Under ``torchrun`` each rank takes its share of every batch and
only rank 0 sends events.

:class:`TrainingLoop` is a part (a mixin) of the trainer, over its networks, position,
plan (:mod:`~semsr_core.train.pacing`), steps (:mod:`~semsr_core.train.steps`),
validation and outputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import default_collate

from semsr_core.events import Event, EventKind, Message, RunStatus, TrainingState
from semsr_core.train.run_folder import RunFolder


@dataclass
class TrainResult:
    """How a run ended. ``model_path`` is ``None`` when no model was exported (its
    ``verdict`` says why: worse than bicubic), and on the ranks other than 0 of a
    torchrun job (``verdict`` is ``None`` there). ``time`` says where the seconds went."""

    status: RunStatus  # finished, stopped or time_limit
    run_dir: Path
    model_path: Path | None
    step: int
    epoch: int
    metrics: dict[str, float] = field(default_factory=dict)
    verdict: Any = None  # semsr_core.train.verdict.Verdict on rank 0
    plan: dict[str, Any] = field(default_factory=dict)
    time: dict[str, Any] = field(default_factory=dict)



class TrainingLoop:
    """The loop of a :class:`~semsr_core.train.engine.Trainer` and its event sending."""

    def _emit(self, payload: Any) -> None:
        """Send one typed event (a payload of semsr_core.events) to the log and caller."""
        if not self.dist.is_main:
            return
        event = Event(payload)
        if self._log is not None and event.kind is not EventKind.PROGRESS:
            self._log(event)
        if self._user_callback is not None:
            self._user_callback(event)

    # ----------------------------------------------------------------- running

    def run(self, resume: bool = False) -> TrainResult:
        if self.dist.is_main:
            folder = RunFolder(self.run_dir)
            folder.path.mkdir(parents=True, exist_ok=True)
            self._log = folder.events_log()
            self.checkpoints.clean_partials()
            folder.write_config(self.cfg)
        try:
            if resume:
                self._resume()
            self._announce_start()  # RUN_STARTED, its line, state TRAINING
            if len(self.val_pairs) < self.held_out:
                self._emit(Message(f"validating on {len(self.val_pairs)} of the {self.held_out} "
                                   "held-out pairs (train.validation_pixels bounds its cost)"))
            status = RunStatus(self._loop())
            model_path = self._finish(status)
            return TrainResult(status, self.run_dir, model_path, self.pos.global_step,
                               self._run_epoch(), dict(self.exported_metrics),
                               self.verdict, self.plan.as_dict(), self._time_summary())
        except BaseException:
            self._crashed()  # state CRASHED (the last checkpoint is kept)
            raise
        finally:
            if self._log is not None:
                self._log.close()
            self.dist.teardown()

    def _run_epoch(self) -> int:
        done = sum(self.plan.epochs[: self.pos.phase])
        return done + self.pos.epoch_in_phase

    def _loop(self) -> str:
        started = time.monotonic()
        base_elapsed = self.elapsed
        if self.budget_s is not None:
            self.deadline = started + self.budget_s
        self._report_progress()  # the bar starts at the run's first step
        if self.init_card is not None and self.pos.global_step == 0:
            self._validate(0)  # the model it starts from: the first "best"
        while self.pos.phase < len(self.cfg.phases):
            phase = self.cfg.phases[self.pos.phase]
            while self.pos.epoch_in_phase < self.plan.epochs[self.pos.phase]:
                epoch = self._run_epoch()
                # batches for a full epoch: a refit may lengthen the last one, or shorten it
                # (the break below); the same order whatever the plan, so a resumed run
                # draws the same batches
                n_steps = self.steps_per_epoch[self.pos.phase]
                tick = time.monotonic()  # a step's time includes reading its batch
                for batch, real in self._batches(epoch, n_steps):
                    paused = self._pause_if_asked()
                    started += paused
                    tick += paused
                    stop = self._should_stop()
                    if stop:
                        self.elapsed = base_elapsed + time.monotonic() - started
                        self._validate(epoch)  # figures for the model about to be exported
                        self._checkpoint()
                        return stop
                    losses = self._step(phase, batch, real, epoch)
                    self.pos.step_in_epoch += 1
                    self.pos.global_step += 1
                    now = time.monotonic()
                    self._count_step(now - tick)
                    self.elapsed = base_elapsed + now - started
                    self._report_step(phase, epoch, losses)
                    refit, validate = self._time_triggers()
                    if refit or self._rate[self.pos.phase][1] == 4:
                        self._fit_plan()  # the phase's first measured rate; then often
                    if validate:
                        self._validate(epoch)  # long epochs: validate within them too
                        self._validate_at = self.elapsed + self.budget_s / 10
                    if self.pos.global_step % self.cfg.train.checkpoint_every == 0:
                        self._checkpoint()
                    tick = time.monotonic()
                    if self.pos.step_in_epoch >= self.plan.epoch_length(
                            self.pos.phase, self.pos.epoch_in_phase):
                        break  # the plan was fitted again: this epoch is shorter now
                self.pos.epoch_in_phase += 1
                self.pos.step_in_epoch = 0
                self.elapsed = base_elapsed + time.monotonic() - started
                due = self.book.may_validate(self.elapsed, self.plan.validation_share)
                (due,) = self.dist.any_flags(due)  # every rank validates, or none
                if (epoch + 1) % self.cfg.train.validate_every_epochs == 0 and due:
                    self._validate(epoch)
                self._checkpoint()
                self.elapsed = base_elapsed + time.monotonic() - started
                self._fit_plan()
            self.pos.phase += 1
            self.pos.epoch_in_phase = 0
        if self._validated_step != self.pos.global_step:  # the exported model's own figures
            self._validate(max(self._run_epoch() - 1, 0))
        return "finished"

    def _pause_if_asked(self) -> float:
        """While the cancel token is paused (the app's Pause), checkpoint and wait; returns
        the seconds spent paused, which count neither as training time nor against the
        time limit."""
        if self.cancel is None or not self.cancel.paused or self.dist.enabled:
            return 0.0
        began = time.monotonic()
        self._checkpoint()
        self._enter(TrainingState.PAUSED)
        self.cancel.wait_while_paused()  # until Resume, or Stop (which also wakes it)
        waited = time.monotonic() - began
        if self.deadline is not None:
            self.deadline += waited
        self._enter(TrainingState.TRAINING)
        return waited

    def _should_stop(self) -> str | None:
        cancelled = self.cancel is not None and self.cancel.cancelled
        late = self.deadline is not None and time.monotonic() > self.deadline
        cancelled, late = self.dist.any_flags(cancelled, late)
        if cancelled:
            return "stopped"
        if late:
            return "time_limit"
        return None

    def _batches(self, epoch: int, n_steps: int):
        """This rank's batches of ``epoch``, from the current position on.

        An epoch longer than one pass over the set (a small set, see
        :mod:`~semsr_core.train.budget`) takes several shuffled passes; the dataset is
        told a new epoch number for each, so every pass draws fresh crops and
        orientations."""
        batch = self.cfg.data.batch
        stride = batch * self.dist.world
        n = len(self.train_set)
        passes = max(1, -(-n_steps * stride // n))
        g = torch.Generator().manual_seed(self.cfg.train.seed * 1_000_003 + epoch)
        order = [i for _ in range(passes) for i in torch.randperm(n, generator=g).tolist()]
        real_order = None
        if self.real_set is not None:
            g_real = torch.Generator().manual_seed(self.cfg.train.seed * 1_000_033 + epoch)
            real_order = torch.randperm(len(self.real_set), generator=g_real).tolist()
        for ds in (self.train_set, self.real_set):
            if ds is not None and hasattr(ds, "set_epoch"):
                ds.set_epoch(epoch if passes == 1 else epoch * passes)
        tell = hasattr(self.train_set, "set_epoch") and passes > 1
        current = 0

        def item(position: int):
            nonlocal current
            if tell and position // n != current:
                current = position // n
                self.train_set.set_epoch(epoch * passes + current)
            return self.train_set[order[position]]

        for step in range(self.pos.step_in_epoch, n_steps):
            start = step * stride + self.dist.rank * batch
            items = [item(k) for k in range(start, start + batch)]
            real = None
            if real_order is not None:
                picks = [real_order[(start + k) % len(real_order)] for k in range(batch)]
                real = torch.stack([self.real_set[i]["hr"] for i in picks])
            yield default_collate(items), real
