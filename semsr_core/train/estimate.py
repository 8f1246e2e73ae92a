"""How long and how much memory a training run will take, measured before it starts.

:func:`estimate_run` builds the real :class:`~semsr_core.train.engine.Trainer` on the
real data (so a recipe that cannot run — missing VGG19 weights, a batch larger than
the data — fails here with the engine's own message), counts the run's steps, and
times a few real training steps of every phase in a temporary run folder that is
removed afterwards. The training wizard shows the result before a long run starts.

Memory is the peak the timed steps needed: on CUDA ``torch.cuda.max_memory_allocated``,
elsewhere the growth of the process's resident memory (RSS) over the estimate, which
includes the data, the networks, the optimiser state and one step's activations. In a
process that freed memory before (the app), RSS may not grow; the estimate then
reports the bytes the networks and optimiser state hold, and says so.
"""

from __future__ import annotations

import gc
import itertools
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from semsr_core.errors import Cancelled, ConfigError
from semsr_core.events import (
    CancelToken,
    Event,
    EventCallback,
    Message,
    Progress,
    check_cancel,
    emit,
)
from semsr_core.infer.device import precision_label
from semsr_core.train.config import TrainConfig


@dataclass(frozen=True)
class RunEstimate:
    """What a run of a config on a data folder will cost on a device.

    ``seconds_per_step`` is the run's mean (phases weighted by their steps);
    ``phase_seconds_per_step`` has each phase's own measurement. ``peak_memory_bytes``
    is CUDA's peak allocation or, on other devices, the growth of resident memory.
    ``precision`` is the arithmetic the timed steps used, as the run will (``bf16
    autocast`` on CUDA and on CPUs with native bf16, ``fp16 autocast`` on older GPUs,
    else ``fp32``; ``train.amp = false`` is ``fp32``).
    """

    params: int
    discriminator_params: int
    total_steps: int
    steps_per_epoch: dict[str, int]
    seconds_per_step: float
    phase_seconds_per_step: dict[str, float]
    minutes: float
    peak_memory_bytes: int
    memory_kind: str
    device: str
    samples_per_epoch: int
    precision: str = "fp32"

    def within(self, config: TrainConfig, minutes: float):
        """The :class:`~semsr_core.train.budget.RunPlan` of a run limited to ``minutes``:
        the recipe's epochs stretched or compressed to fill them, as the engine fits
        them (less its validation share)."""
        from semsr_core.train.budget import RunPlan, fit_to_time

        names = [p.name for p in config.phases]
        per_epoch = [self.steps_per_epoch[n] for n in names]
        sps = [self.phase_seconds_per_step.get(n, self.seconds_per_step) for n in names]
        share = config.train.validation_share
        epochs, last = fit_to_time([p.epochs for p in config.phases], per_epoch, sps,
                                   60 * minutes * (1 - share))
        return RunPlan(names, epochs, per_epoch, 60 * minutes, share, sps, last)

    def describe(self) -> str:
        """One line for people: sizes, steps, time and memory."""
        return (f"{self.params / 1e6:.2f} M generator parameters"
                + (f" (+{self.discriminator_params / 1e6:.2f} M discriminator)"
                   if self.discriminator_params else "")
                + f", {self.total_steps} steps × {self.seconds_per_step:.3g} s ≈ "
                  f"{_duration(self.minutes)} on {self.device} ({self.precision}), "
                  f"peak memory ≈ {self.peak_memory_bytes / 2**20:.0f} MiB "
                  f"({self.memory_kind})")


def _duration(minutes: float) -> str:
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 120:
        return f"{minutes:.1f} min"
    return f"{minutes / 60:.1f} h"


def _timing_config(config: TrainConfig, steps: int, available: list[int]) -> TrainConfig:
    """The config cut down to ``steps + 1`` steps of each phase that runs (one warm-up),
    without validation, samples or intermediate checkpoints."""
    timed = config.model_copy(deep=True)
    for phase, per_epoch in zip(timed.phases, available, strict=True):
        if phase.epochs == 0:
            continue
        wanted = steps + 1
        phase.steps_per_epoch = min(wanted, per_epoch)
        phase.epochs = -(-wanted // phase.steps_per_epoch)  # enough epochs for the steps
    timed.train.checkpoint_every = 10**9
    timed.train.validate_every_epochs = 10**9
    timed.train.sample_count = 0
    return timed


def _state_bytes(trainer) -> int:
    """Bytes held by the networks (weights, gradients, EMA copy) and optimiser state."""
    import torch

    tensors = {}
    modules = [trainer.generator, trainer.ema.shadow, *trainer.discriminators.values()]
    for module in modules:
        for p in module.parameters():
            tensors[id(p)] = p
            if p.grad is not None:
                tensors[id(p.grad)] = p.grad
    for opt in [trainer.opt_g, *trainer.opt_d.values()]:
        for state in opt.state.values():
            for value in state.values():
                if isinstance(value, torch.Tensor):
                    tensors[id(value)] = value
    return sum(t.numel() * t.element_size() for t in tensors.values())


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def estimate_run(config: TrainConfig, data_dir: str | Path, *, device: str = "cpu",
                 steps: int = 2, val_dir: str | Path | None = None,
                 on_event: EventCallback | None = None,
                 cancel: CancelToken | None = None) -> RunEstimate:
    """Measure ``steps`` real training steps of each phase of ``config`` on ``data_dir``.

    Each phase runs one warm-up step and then ``steps`` timed ones, in a temporary run
    folder. The total time is each phase's steps (as the full run would do them, see
    ``semsr train``) times that phase's measured seconds per step; validation,
    checkpoints and samples are not counted.

    Raises:
        ConfigError: ``steps`` is below 1, or the config cannot be built.
        ModelError: the VGG19 weights of a VGG loss are missing (the message says where
            to put the file).
        InputError: the data folder cannot be used or holds less than one batch.
        Cancelled: ``cancel`` was set.
    """
    import torch

    from semsr_core.train.data import prepare_data
    from semsr_core.train.engine import Trainer

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be a whole number of at least 1, not {steps!r}",
                          hint="Time e.g. 2 steps.")
    gc.collect()
    rss_before = _rss()
    emit(on_event, Message("reading the training data"))
    prepared = prepare_data(config, data_dir, val_dir=val_dir)
    check_cancel(cancel)
    with tempfile.TemporaryDirectory(prefix="semsr-estimate-") as tmp:
        trainer = Trainer(config, Path(tmp) / "full", train_set=prepared.train_set,
                          real_set=prepared.real_set, device=device)
        params = sum(p.numel() for p in trainer.generator.parameters())
        d_params = sum(p.numel() for d in trainer.discriminators.values()
                       for p in d.parameters())
        total_steps = trainer.total_steps
        per_epoch = dict(zip([p.name for p in config.phases], trainer.steps_per_epoch,
                             strict=True))
        resolved = trainer.device
        del trainer
        gc.collect()

        cuda = resolved.type == "cuda"
        if cuda:
            torch.cuda.synchronize(resolved)
            torch.cuda.reset_peak_memory_stats(resolved)
        times: dict[str, list[float]] = {}
        peak_rss = [_rss()]

        def record(event: Event) -> None:
            if not isinstance(event.payload, Progress):
                return
            if cuda:
                torch.cuda.synchronize(resolved)
            times.setdefault(event.payload.phase, []).append(time.perf_counter())
            peak_rss.append(_rss())
            emit(on_event, Progress(done=sum(len(t) for t in times.values()),
                                    total=timed_total, stage="measuring", unit="step"))

        timed = _timing_config(config, steps, list(per_epoch.values()))
        timer = Trainer(timed, Path(tmp) / "timing", train_set=prepared.train_set,
                        real_set=prepared.real_set, device=device, on_event=record,
                        cancel=cancel)
        timed_total = timer.total_steps
        precision = precision_label(timer.amp_dtype)
        result = timer.run()
        if result.status == "stopped":
            raise Cancelled("the estimate was cancelled")
        held = _state_bytes(timer)
        if cuda:
            peak, kind = int(torch.cuda.max_memory_allocated(resolved)), "CUDA max allocated"
        elif max(peak_rss) - rss_before >= held:
            peak, kind = max(peak_rss) - rss_before, "resident memory increase"
        else:  # memory freed earlier in this process was reused: count what is held
            peak, kind = held, "networks and optimiser state; activations not counted"
        del timer
    phase_seconds: dict[str, float] = {}
    for phase in config.phases:
        if phase.epochs == 0:
            continue
        # the first step is the warm-up; a gap across an epoch end (checkpoint) is an
        # outlier the median ignores
        stamps = times.get(phase.name, [])
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        phase_seconds[phase.name] = float(statistics.median(gaps)) if gaps else 0.0
    run_seconds = sum(per_epoch[p.name] * p.epochs * phase_seconds.get(p.name, 0.0)
                      for p in config.phases)
    return RunEstimate(
        params=int(params), discriminator_params=int(d_params), total_steps=int(total_steps),
        steps_per_epoch=per_epoch,
        seconds_per_step=run_seconds / total_steps if total_steps else 0.0,
        phase_seconds_per_step=phase_seconds, minutes=run_seconds / 60,
        peak_memory_bytes=peak,
        memory_kind=kind,
        device=str(resolved), samples_per_epoch=len(prepared.train_set),
        precision=precision)
