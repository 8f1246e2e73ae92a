"""The one training engine: every recipe is a :class:`TrainConfig` run by :class:`Trainer`.

A run is a sequence of phases (e.g. L1 pre-training, then adversarial training).
Each step:

1. the generator makes SR from the batch (inputs mapped to its value range);
2. when the phase has adversarial terms, the generator is updated every
   ``n_critic``-th step against the current discriminators (frozen), and the
   EMA copy of its weights follows;
3. every discriminator named by an adversarial term is updated on the real stream
   (clean HR when the recipe pastes synthetic defects) and the detached SR, plus its
   penalty (WGAN-GP).

Learning rates come from pure schedule functions of (epoch, step); data order
and augmentation are functions of (seed, epoch, index); the torch RNG state is in
every checkpoint. So a run stopped or killed at any step resumes from its last
checkpoint and continues exactly as an uninterrupted run would.

How long a run is comes from :mod:`~semsr_core.train.budget`: useful epochs on small
sets, a plan fitted to a time limit (``max_minutes``) as the run goes, validation within
a bounded share of the time. What a run leaves behind (validation, checkpoints, the
exported model and its verdict against bicubic) is :mod:`~semsr_core.train.results`.

Under ``torchrun`` (``WORLD_SIZE`` > 1) networks are wrapped in
DistributedDataParallel (NCCL on GPUs, gloo on CPU), each rank takes its share of
every batch, and only rank 0 writes events, checkpoints and the model.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import default_collate

from semsr_core.errors import ConfigError, InputError, TrainingError
from semsr_core.events import (
    CancelToken,
    Event,
    EventCallback,
    EventKind,
    Message,
    Planned,
    RunStatus,
    Step,
    TrainingState,
)
from semsr_core.events import Progress as ProgressEvent
from semsr_core.train.budget import (
    RunPlan,
    TimeBook,
    fit_to_time,
    steps_in_epoch,
    validation_subset,
)
from semsr_core.train.config import TrainConfig
from semsr_core.train.contrastive import ContrastiveTerms
from semsr_core.train.distributed import Distributed, resolve_training_device
from semsr_core.train.ema import EMA
from semsr_core.train.optimizers import make_optimizer, set_lr
from semsr_core.train.results import CHECKPOINT_VERSION, RunOutputs, _Position
from semsr_core.train.run_folder import RunFolder
from semsr_core.train.runlog import RunLog
from semsr_core.train.schedules import Progress, early_stop_factor, learning_rate

__all__ = ["CHECKPOINT_VERSION", "TrainResult", "Trainer", "ValidationPair"]

# Losses compared with the generator's input rather than the target (unpaired recipes).
INPUT_REFERENCED_LOSSES = {"fsesim", "patchnce"}


@dataclass
class ValidationPair:
    """A held-out aligned pair, float32 arrays in [0, 1] (LR is HR/scale in size);
    ``reference``: the HR reference image of reference-based recipes (MASA-SR)."""

    name: str
    lr: np.ndarray
    hr: np.ndarray
    reference: np.ndarray | None = None


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


class Trainer(RunOutputs):
    """Runs one :class:`TrainConfig` on prepared datasets into a run folder.

    ``train_set`` items are dicts with float32 tensors ``"lr"`` (1×h×w) and ``"hr"``
    (1×sh×sw) in [0, 1]; a dataset with ``set_epoch(epoch)`` is told the epoch before
    each one. ``real_set`` (optional) is the discriminators' real stream (clean HR
    tiles, items with ``"hr"``).
    """

    def __init__(self, config: TrainConfig, run_dir: Path, *, train_set, val_pairs=(),
                 real_set=None, device: str | torch.device = "auto",
                 on_event: EventCallback | None = None, cancel: CancelToken | None = None,
                 max_minutes: float | None = None, data_summary: dict | None = None):
        from semsr_core import archs

        self.cfg = config
        self.run_dir = Path(run_dir)
        self.train_set = train_set
        self.real_set = real_set
        self.held_out = len(val_pairs)
        self.val_pairs = validation_subset(val_pairs, config.train.validation_pixels)
        self.dist = Distributed()
        self.device = resolve_training_device(device, self.dist)
        self.dist.setup(self.device)
        self.cancel = cancel
        self.budget_s = None if max_minutes is None else 60.0 * max_minutes
        self.deadline: float | None = None  # the budget's clock starts with the first step
        self._refit_at = self._validate_at = 0.0  # elapsed seconds of the next ones
        self.book = TimeBook()
        self.data_summary = data_summary or {}
        self._user_callback = on_event
        self._log: RunLog | None = None
        self.checkpoints = RunFolder(self.run_dir).checkpoints(config.train.keep_last)

        torch.manual_seed(config.train.seed)
        scale = config.data.scale
        g_spec = archs.spec(config.generator.arch)
        self.g_spec = g_spec
        g_kwargs = dict(config.generator.arch_kwargs())
        if not g_spec.input_at_output_size:  # pix2pix nets work at the output size
            g_kwargs.setdefault("scale", scale)
        self.g_kwargs = g_kwargs
        self.generator = archs.build(config.generator.arch, **g_kwargs)
        self.init_card: dict[str, Any] | None = None
        if config.generator.init:
            self.init_card = _load_initial_weights(self.generator, config.generator.init)
        self.generator = self.generator.to(self.device)
        self.ema = EMA(self.generator, config.train.ema)
        self.discriminators: dict[str, nn.Module] = {
            name: archs.build(d.arch, **d.arch_kwargs()).to(self.device)
            for name, d in config.discriminators.items()
        }
        self.generator = self.generator.to(memory_format=torch.channels_last)
        self.opt_g = make_optimizer(list(self.generator.parameters()), config.optimizer)
        self.opt_d = {name: make_optimizer(list(d.parameters()), config.discriminators[name]
                                            .optimizer)
                      for name, d in self.discriminators.items()}
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.generator = nn.parallel.DistributedDataParallel(self.generator, device_ids=ids)
            self.discriminators = {
                n: nn.parallel.DistributedDataParallel(d, device_ids=ids)
                for n, d in self.discriminators.items()}
        self.losses = self._build_losses()
        if _needs_tile_labels(self.losses):  # defect_class: each sample's tile class
            from semsr_core.data.tile_labels import with_tile_labels

            self.train_set = with_tile_labels(train_set, self.data_summary.get("folder"))
        self.contrastive = ContrastiveTerms(self)  # encoder features, heads, structure nets
        self.amp_dtype = _amp_dtype(self.device) if config.train.amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.pos = _Position()
        self._last_checkpoint = -1
        self.best_psnr = -math.inf
        self.elapsed = 0.0
        self.last_metrics: dict[str, float] = {}
        self.exported_metrics: dict[str, float] = {}  # the figures of model.semsr
        self._validated_step = -1
        self.steps_per_epoch = [self._steps_in_epoch(p) for p in config.phases]
        self.plan = RunPlan([p.name for p in config.phases], [p.epochs for p in config.phases],
                            list(self.steps_per_epoch), self.budget_s,
                            config.train.validation_share)
        self._rate = [[0.0, -1] for _ in config.phases]  # seconds, steps (first: warm-up)
        self._recent: deque[float] = deque(maxlen=32)  # the current phase's latest steps
        self._planned = False
        self.verdict = None
        self.start_metrics: dict[str, float] = {}  # the initial model's (generator.init)

    @property
    def total_steps(self) -> int:
        """Steps of the whole run as planned now (a time limit fits the plan to it)."""
        return self.plan.total_steps

    # ------------------------------------------------------------ construction

    def _build_losses(self) -> dict[str, dict[str, nn.Module]]:
        from semsr_core import losses

        built: dict[str, dict[str, nn.Module]] = {}
        for phase in self.cfg.phases:
            built[phase.name] = {}
            if phase.epochs == 0:  # skipped phase: do not ask for e.g. VGG weights
                continue
            for name, term in phase.losses.items():
                try:
                    module = losses.build(name, **term.params())
                except ConfigError as exc:
                    raise ConfigError(f"phases.{phase.name}.losses.{name}: {exc}") from None
                if _is_adversarial(module) and term.discriminator is None:
                    if len(self.discriminators) != 1:
                        raise ConfigError(f"phases.{phase.name}.losses.{name}: name its "
                                          "discriminator (discriminator = \"...\")")
                    term.discriminator = next(iter(self.discriminators))
                built[phase.name][name] = module.to(self.device)
        return built

    def _steps_in_epoch(self, phase) -> int:
        if len(self.train_set) < 1:
            raise InputError("the training set has no samples",
                             hint="Add pairs, or lower data.lr_patch below the images' size.")
        return steps_in_epoch(len(self.train_set), self.cfg.data.batch * self.dist.world,
                              self.cfg.train.min_epoch_samples, phase.steps_per_epoch)

    # ------------------------------------------------------------------ events

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
                n_steps = self.plan.epoch_length(self.pos.phase, self.pos.epoch_in_phase)
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

    # ---------------------------------------------------------------- the plan

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

    # -------------------------------------------------------------------- step

    def _to_net(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = self.g_spec.value_range
        return x if (lo, hi) == (0.0, 1.0) else x * (hi - lo) + lo

    def _from_net(self, y: torch.Tensor) -> torch.Tensor:
        lo, hi = self.g_spec.value_range
        return y if (lo, hi) == (0.0, 1.0) else (y - lo) / (hi - lo)

    def _generator_input(self, lr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        if self.g_spec.input_at_output_size or self.cfg.data.generator_input == "bicubic":
            if lr.shape[-2:] != hr.shape[-2:]:
                return F.interpolate(lr, size=hr.shape[-2:], mode="bicubic",
                                     align_corners=False).clamp(0, 1)
        return lr

    def _autocast(self):
        if self.amp_dtype is None:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _set_learning_rates(self, phase, epoch: int) -> None:
        cfg = self.cfg
        step_in_run = self.pos.global_step
        if cfg.schedule.per_phase:
            before = sum(self.plan.phase_steps()[: self.pos.phase])
            prog = Progress(self.pos.epoch_in_phase, step_in_run - before,
                            self.plan.phase_steps()[self.pos.phase])
        else:
            prog = Progress(epoch, step_in_run, self.total_steps)
        set_lr(self.opt_g, learning_rate(cfg.optimizer.lr, cfg.schedule, prog))
        for name, opt in self.opt_d.items():
            d_cfg = cfg.discriminators[name]
            lr = learning_rate(d_cfg.optimizer.lr, d_cfg.schedule, prog)
            set_lr(opt, lr * early_stop_factor(epoch, d_cfg.early_stop_epochs))

    def _step(self, phase, batch: dict[str, torch.Tensor], real: torch.Tensor | None,
              epoch: int) -> dict[str, float]:
        dev = self.device
        lr = batch["lr"].to(dev, non_blocking=True)
        hr = batch["hr"].to(dev, non_blocking=True)
        real_hr = hr if real is None else real.to(dev, non_blocking=True)
        g_in = self._generator_input(lr, hr)
        ref = batch["ref"].to(dev, non_blocking=True) if self.g_spec.reference_input else None
        # Unpaired data: content terms keep the input's structure; "hr" is only the
        # other domain's look, for the discriminators.
        reference = g_in if self.cfg.data.pairing == "unpaired" else hr
        mask = batch.get("mask") if reference is hr else None  # moved only where used
        terms = self.cfg.phases[self.pos.phase].losses
        modules = self.losses[phase.name]
        adversarial = {n: m for n, m in modules.items() if _is_adversarial(m)}
        self._set_learning_rates(phase, epoch)
        generator_turn = not adversarial or (self.pos.global_step % phase.n_critic == 0)
        logged: dict[str, float] = {}

        self.generator.train()
        # ---- generator update (discriminators frozen)
        if generator_turn:
            for d in self.discriminators.values():
                d.requires_grad_(False)
            with self._autocast():
                sr = self._translate(g_in, ref)
                total = torch.zeros((), device=dev)
                for name, module in modules.items():
                    term = terms[name]
                    if name in adversarial:
                        disc = self.discriminators[term.discriminator]
                        real_logits = disc(module.discriminator_input(real_hr, g_in)).detach()
                        fake_logits = disc(module.discriminator_input(sr, g_in))
                        value = module.g_loss(real_logits, fake_logits)
                    elif self.contrastive.handles(module):
                        value = self.contrastive.generator_value(module, g_in, sr, hr,
                                                                 self._translate)
                    elif name in INPUT_REFERENCED_LOSSES:
                        value = module(g_in, sr)
                    elif getattr(module, "needs_tile_labels", False):
                        value = module(sr, batch["label"])
                    elif mask is not None and getattr(module, "weights_mask", False):
                        value = module(sr, reference, mask.to(dev, non_blocking=True))
                    else:
                        value = module(sr, reference)
                    total = total + term.weight * value.float()
                    logged[f"g/{name}"] = float(value.detach())
            _check_finite(total, "generator loss", self.pos.global_step)
            self.opt_g.zero_grad(set_to_none=True)
            self.scaler.scale(total).backward()
            self._clip(self.generator, self.opt_g, self.cfg.train.grad_clip)
            self.scaler.step(self.opt_g)
            self.ema.update(self.generator, self.pos.global_step)
            logged["g/total"] = float(total.detach())
            sr_detached = sr.detach()
            for d in self.discriminators.values():
                d.requires_grad_(True)
        else:
            with torch.no_grad(), self._autocast():
                sr_detached = self._translate(g_in, ref)

        # ---- discriminator updates
        for name, module in adversarial.items():
            d_name = terms[name].discriminator
            disc = self.discriminators[d_name]
            opt = self.opt_d[d_name]
            with self._autocast():
                real_in = module.discriminator_input(real_hr, g_in)
                fake_in = module.discriminator_input(sr_detached, g_in)
                d_loss = module.d_loss(disc(real_in), disc(fake_in)).float()
            penalty = module.penalty(disc, real_in.float(), fake_in.float())
            if penalty is not None:
                d_loss = d_loss + penalty
                logged[f"d/{d_name}/penalty"] = float(penalty.detach())
            _check_finite(d_loss, f"discriminator '{d_name}' loss", self.pos.global_step)
            opt.zero_grad(set_to_none=True)
            self.scaler.scale(d_loss).backward()
            self._clip(disc, opt, self.cfg.discriminators[d_name].grad_clip)
            self.scaler.step(opt)
            logged[f"d/{d_name}/{name}"] = float(d_loss.detach())
        if self.contrastive:
            logged.update(self.contrastive.auxiliary_step(phase.name, g_in, sr_detached, hr))
        self.scaler.update()
        return logged

    def _translate(self, images: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        if ref is not None:  # a reference-based generator (MASA-SR): (image, reference)
            return self._from_net(self.generator(self._to_net(images), self._to_net(ref)))
        return self._from_net(self.generator(self._to_net(images)))

    def _state(self) -> dict[str, Any]:
        state = super()._state()
        if self.contrastive:
            state["contrastive"] = self.contrastive.state_dict()
        return state

    def _resume(self) -> None:
        super()._resume()
        self.contrastive.resume(self.checkpoints)

    def _clip(self, net: nn.Module, opt: torch.optim.Optimizer, max_norm: float) -> None:
        if max_norm > 0:
            self.scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(net.parameters(), max_norm)

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

# ------------------------------------------------------------------ helpers


def _load_initial_weights(generator: nn.Module, init: str) -> dict[str, Any]:
    """Copy the weights of model ``init`` (a name or file) into ``generator``; returns
    that model's card (recorded in the exported model's training summary)."""
    from semsr_core.models import load_model

    parent = load_model(init)
    try:
        generator.load_state_dict(parent.generator.state_dict())
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ConfigError(
            f"generator.init: the model {init} does not fit this generator "
            f"({first[0] if first else exc})",
            hint="Start from a model with the same architecture and sizes as the "
                 "recipe's generator (see `semsr models info`), or set the generator's "
                 "sizes to the model's.") from None
    card = parent.card
    training = {k: v for k, v in card.training.items() if k not in ("config", "data")}
    return {"model": str(init), "name": card.name, "recipe": card.recipe,
            "created": card.created, "training": training, "metrics": card.metrics}


def _needs_tile_labels(built: dict[str, dict[str, nn.Module]]) -> bool:
    return any(getattr(m, "needs_tile_labels", False) for p in built.values()
               for m in p.values())


def _is_adversarial(module: nn.Module) -> bool:
    from semsr_core.losses.adversarial import AdversarialLoss

    return isinstance(module, AdversarialLoss)


def _check_finite(loss: torch.Tensor, what: str, step: int) -> None:
    if not torch.isfinite(loss):
        raise TrainingError(
            f"the {what} became {float(loss)} at step {step}; lower the learning rate, "
            "enable gradient clipping (train.grad_clip) or check the data for NaN/Inf")


def _amp_dtype(device: torch.device) -> torch.dtype | None:
    from semsr_core.infer.device import training_autocast_dtype

    return training_autocast_dtype(device)  # CUDA bf16/fp16; CPU bf16 where native
