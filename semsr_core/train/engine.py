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

Under ``torchrun`` (``WORLD_SIZE`` > 1) networks are wrapped in
DistributedDataParallel (NCCL on GPUs, gloo on CPU), each rank takes its share of
every batch, and only rank 0 writes events, checkpoints and the model.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from semsr_core.errors import ConfigError, InputError, TrainingError
from semsr_core.events import CancelToken, Event, EventCallback, EventKind
from semsr_core.train.checkpoint import CheckpointStore
from semsr_core.train.config import OptimizerConfig, TrainConfig, dump_config
from semsr_core.train.ema import EMA, _unwrap
from semsr_core.train.runlog import RunLog
from semsr_core.train.schedules import Progress, early_stop_factor, learning_rate

CHECKPOINT_VERSION = 1

# Losses compared with the generator's input rather than the target (unpaired recipes).
INPUT_REFERENCED_LOSSES = {"fsesim", "patchnce"}


@dataclass
class ValidationPair:
    """A held-out aligned pair, float32 arrays in [0, 1] (LR is HR/scale in size)."""

    name: str
    lr: np.ndarray
    hr: np.ndarray


@dataclass
class TrainResult:
    status: str  # "finished" | "stopped" | "time_limit"
    run_dir: Path
    model_path: Path | None
    step: int
    epoch: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class _Position:
    """Where the run stands; what a checkpoint needs to continue."""

    phase: int = 0
    epoch_in_phase: int = 0
    step_in_epoch: int = 0
    global_step: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class _Distributed:
    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def setup(self, device: torch.device) -> None:
        if self.enabled and not torch.distributed.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend=backend)

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def any_flags(self, *flags: bool) -> tuple[bool, ...]:
        """Each flag, true on every rank when any rank raised it (stop requests, time
        limit); one all-reduce for all of them."""
        if not self.enabled:
            return flags
        t = torch.tensor([1.0 if f else 0.0 for f in flags])
        torch.distributed.all_reduce(t)
        return tuple(bool(v > 0) for v in t.tolist())

    def teardown(self) -> None:
        if self.enabled and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _make_optimizer(params: Sequence[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    if cfg.type == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.type == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)
    return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


class Trainer:
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
        self.val_pairs = list(val_pairs)
        self.dist = _Distributed()
        self.device = _resolve_device(device, self.dist)
        self.dist.setup(self.device)
        self.cancel = cancel
        self.deadline = None if max_minutes is None else time.monotonic() + 60 * max_minutes
        self.data_summary = data_summary or {}
        self._user_callback = on_event
        self._log: RunLog | None = None
        self.checkpoints = CheckpointStore(self.run_dir, keep_last=config.train.keep_last)

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
        self.opt_g = _make_optimizer(list(self.generator.parameters()), config.optimizer)
        self.opt_d = {name: _make_optimizer(list(d.parameters()), config.discriminators[name]
                                            .optimizer)
                      for name, d in self.discriminators.items()}
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.generator = nn.parallel.DistributedDataParallel(self.generator, device_ids=ids)
            self.discriminators = {
                n: nn.parallel.DistributedDataParallel(d, device_ids=ids)
                for n, d in self.discriminators.items()}
        self.losses = self._build_losses()
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
        self.total_steps = sum(n * p.epochs for n, p in zip(self.steps_per_epoch,
                                                            config.phases, strict=True))

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
        per_step = self.cfg.data.batch * self.dist.world
        available = len(self.train_set) // per_step
        if available < 1:
            raise InputError(
                f"the training set has {len(self.train_set)} samples, fewer than one batch "
                f"({per_step})", hint="Add pairs, lower data.batch or data.lr_patch.")
        if phase.steps_per_epoch is not None:
            return min(available, phase.steps_per_epoch)
        return available

    # ------------------------------------------------------------------ events

    def _emit(self, kind: EventKind, **data: Any) -> None:
        if not self.dist.is_main:
            return
        event = Event(kind, data)
        if self._log is not None and kind is not EventKind.PROGRESS:
            self._log(event)
        if self._user_callback is not None:
            self._user_callback(event)

    # ----------------------------------------------------------------- running

    def run(self, resume: bool = False) -> TrainResult:
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._log = RunLog(self.run_dir)
            self.checkpoints.clean_partials()
            (self.run_dir / "config.toml").write_text(dump_config(self.cfg), encoding="utf-8")
        try:
            if resume:
                self._resume()
            self._emit(EventKind.MESSAGE, level="info",
                       text=f"training '{self.cfg.recipe.name}' on {self.device} "
                            f"({self.total_steps} steps, {len(self.train_set)} samples per epoch)")
            status = self._loop()
            model_path = self._finish(status)
            return TrainResult(status, self.run_dir, model_path, self.pos.global_step,
                               self._run_epoch(), dict(self.exported_metrics))
        finally:
            if self._log is not None:
                self._log.close()
            self.dist.teardown()

    def _run_epoch(self) -> int:
        done = sum(p.epochs for p in self.cfg.phases[: self.pos.phase])
        return done + self.pos.epoch_in_phase

    def _loop(self) -> str:
        started = time.monotonic()
        base_elapsed = self.elapsed
        while self.pos.phase < len(self.cfg.phases):
            phase = self.cfg.phases[self.pos.phase]
            n_steps = self.steps_per_epoch[self.pos.phase]
            while self.pos.epoch_in_phase < phase.epochs:
                epoch = self._run_epoch()
                for batch, real in self._batches(epoch, n_steps):
                    started += self._pause_if_asked()
                    stop = self._should_stop()
                    if stop:
                        self.elapsed = base_elapsed + time.monotonic() - started
                        self._validate(epoch)  # figures for the model about to be exported
                        self._checkpoint()
                        return stop
                    losses = self._step(phase, batch, real, epoch)
                    self.pos.step_in_epoch += 1
                    self.pos.global_step += 1
                    self.elapsed = base_elapsed + time.monotonic() - started
                    self._report_step(phase, epoch, losses)
                    if self.pos.global_step % self.cfg.train.checkpoint_every == 0:
                        self._checkpoint()
                self.pos.epoch_in_phase += 1
                self.pos.step_in_epoch = 0
                if (epoch + 1) % self.cfg.train.validate_every_epochs == 0:
                    self._validate(epoch)
                self._checkpoint()
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
        self._emit(EventKind.MESSAGE, level="info", text=f"paused at step {self.pos.global_step}",
                   paused=True, step=self.pos.global_step)
        self.cancel.wait_while_paused()  # until Resume, or Stop (which also wakes it)
        waited = time.monotonic() - began
        if self.deadline is not None:
            self.deadline += waited
        self._emit(EventKind.MESSAGE, level="info", text=f"resumed at step {self.pos.global_step}",
                   paused=False, step=self.pos.global_step)
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
        """This rank's batches of ``epoch``, from the current position on."""
        batch = self.cfg.data.batch
        g = torch.Generator().manual_seed(self.cfg.train.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.train_set), generator=g).tolist()
        real_order = None
        if self.real_set is not None:
            g_real = torch.Generator().manual_seed(self.cfg.train.seed * 1_000_033 + epoch)
            real_order = torch.randperm(len(self.real_set), generator=g_real).tolist()
        for ds in (self.train_set, self.real_set):
            if ds is not None and hasattr(ds, "set_epoch"):
                ds.set_epoch(epoch)
        stride = batch * self.dist.world
        for step in range(self.pos.step_in_epoch, n_steps):
            start = step * stride + self.dist.rank * batch
            items = [self.train_set[i] for i in order[start:start + batch]]
            real = None
            if real_order is not None:
                picks = [real_order[(start + k) % len(real_order)] for k in range(batch)]
                real = torch.stack([self.real_set[i]["hr"] for i in picks])
            yield _collate(items), real

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
            before = sum(n * p.epochs for n, p in zip(self.steps_per_epoch[: self.pos.phase],
                                                      cfg.phases[: self.pos.phase], strict=True))
            prog = Progress(self.pos.epoch_in_phase, step_in_run - before,
                            self.steps_per_epoch[self.pos.phase] * phase.epochs)
        else:
            prog = Progress(epoch, step_in_run, self.total_steps)
        _set_lr(self.opt_g, learning_rate(cfg.optimizer.lr, cfg.schedule, prog))
        for name, opt in self.opt_d.items():
            d_cfg = cfg.discriminators[name]
            lr = learning_rate(d_cfg.optimizer.lr, d_cfg.schedule, prog)
            _set_lr(opt, lr * early_stop_factor(epoch, d_cfg.early_stop_epochs))

    def _step(self, phase, batch: dict[str, torch.Tensor], real: torch.Tensor | None,
              epoch: int) -> dict[str, float]:
        dev = self.device
        lr = batch["lr"].to(dev, non_blocking=True)
        hr = batch["hr"].to(dev, non_blocking=True)
        real_hr = hr if real is None else real.to(dev, non_blocking=True)
        g_in = self._generator_input(lr, hr)
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
                sr = self._from_net(self.generator(self._to_net(g_in)))
                total = torch.zeros((), device=dev)
                for name, module in modules.items():
                    term = terms[name]
                    if name in adversarial:
                        disc = self.discriminators[term.discriminator]
                        real_logits = disc(module.discriminator_input(real_hr, g_in)).detach()
                        fake_logits = disc(module.discriminator_input(sr, g_in))
                        value = module.g_loss(real_logits, fake_logits)
                    elif name in INPUT_REFERENCED_LOSSES:
                        value = module(g_in, sr)
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
                sr_detached = self._from_net(self.generator(self._to_net(g_in)))

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
        self.scaler.update()
        return logged

    def _clip(self, net: nn.Module, opt: torch.optim.Optimizer, max_norm: float) -> None:
        if max_norm > 0:
            self.scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(net.parameters(), max_norm)

    def _report_step(self, phase, epoch: int, losses: dict[str, float]) -> None:
        done = self.pos.global_step
        rate = done / self.elapsed if self.elapsed > 0 else 0.0
        eta = (self.total_steps - done) / rate if rate > 0 else None
        self._emit(EventKind.PROGRESS, stage=f"{phase.name} epoch {epoch + 1}", done=done,
                   total=self.total_steps, unit="step",
                   postfix=" ".join(f"{k.split('/')[-1]}={v:.3g}" for k, v in losses.items()
                                    if k.startswith("g/")))
        if done % self.cfg.train.log_every == 0 or done == self.total_steps:
            lrs = {"generator": self.opt_g.param_groups[0]["lr"],
                   **{n: o.param_groups[0]["lr"] for n, o in self.opt_d.items()}}
            self._emit(EventKind.STEP, step=done, epoch=epoch, phase=phase.name,
                       losses=losses, lr=lrs, eta_s=eta, elapsed_s=self.elapsed)

    # -------------------------------------------------------------- validation

    def _validate(self, epoch: int) -> None:
        self._validated_step = self.pos.global_step
        if not self.val_pairs or not self.dist.is_main:
            self.dist.barrier()
            return
        from semsr_core.data.resample import upscale
        from semsr_core.metrics.full_reference import psnr, ssim
        from semsr_core.metrics.no_reference import gradient_map

        model = self.export_model()  # the weights validated are the ones exported
        psnrs, ssims, bic_psnrs, bic_ssims = [], [], [], []
        samples = []
        for pair in self.val_pairs:
            sr = self.super_resolve_array(pair.lr, model)
            hr = pair.hr[: sr.shape[0], : sr.shape[1]]
            bic = upscale(pair.lr, shape=hr.shape)
            psnrs.append(psnr(hr, sr))
            ssims.append(ssim(hr, sr))
            bic_psnrs.append(psnr(hr, bic))
            bic_ssims.append(ssim(hr, bic))
            if len(samples) < self.cfg.train.sample_count:
                samples.append((pair.name, bic, sr, hr))
        metrics = {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)),
                   "psnr_bicubic": float(np.mean(bic_psnrs)),
                   "ssim_bicubic": float(np.mean(bic_ssims))}
        self.last_metrics = metrics
        improved = metrics["psnr"] > self.best_psnr
        if improved:
            self.best_psnr = metrics["psnr"]
        self._emit(EventKind.METRICS, step=self.pos.global_step, epoch=epoch, **metrics,
                   best=improved)
        for name, bic, sr, hr in samples:
            crop = _center_crop_slices(hr.shape, 128)
            images = {"lr_bicubic": bic[crop], "sr": sr[crop], "hr": hr[crop]}
            images.update({f"{k}_gradient": gradient_map(v) for k, v in list(images.items())})
            self._emit(EventKind.SAMPLE, step=self.pos.global_step, epoch=epoch, name=name,
                       images=images)
        if improved:
            self.checkpoints.save_best(self._state())
        self.dist.barrier()

    def super_resolve_array(self, lr: np.ndarray, model=None) -> np.ndarray:
        """SR of one float32 [0, 1] image with the EMA generator (the exported weights)."""
        from semsr_core.infer import super_resolve

        return super_resolve(lr.astype(np.float32), model or self.export_model(),
                             device=str(self.device), precision="fp32")

    # ----------------------------------------------------- checkpoints / export

    def _state(self) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "position": self.pos.as_dict(),
            "generator": _unwrap(self.generator).state_dict(),
            "ema": self.ema.state_dict(),
            "discriminators": {n: _unwrap(d).state_dict() for n, d in
                               self.discriminators.items()},
            "optimizers": {"generator": self.opt_g.state_dict(),
                           **{f"d:{n}": o.state_dict() for n, o in self.opt_d.items()}},
            "scaler": self.scaler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "best_psnr": self.best_psnr,
            "elapsed_s": self.elapsed,
            "metrics": dict(self.last_metrics),
        }

    def _checkpoint(self) -> None:
        step = self.pos.global_step
        if self.dist.is_main and step != self._last_checkpoint:
            self.checkpoints.save(self._state(), step)
        self._last_checkpoint = step
        self.dist.barrier()

    def _resume(self) -> None:
        path = self.checkpoints.latest()
        if path is None:
            raise InputError("no checkpoint to resume from", path=self.run_dir / "checkpoints",
                             hint="Start a new run instead of --resume.")
        state = self.checkpoints.load(path)
        if state.get("version") != CHECKPOINT_VERSION:
            raise InputError("checkpoint from an incompatible semsr version", path=path)
        try:
            _unwrap(self.generator).load_state_dict(state["generator"])
            self.ema.load_state_dict(state["ema"])
            for n, d in self.discriminators.items():
                _unwrap(d).load_state_dict(state["discriminators"][n])
            self.opt_g.load_state_dict(state["optimizers"]["generator"])
            for n, o in self.opt_d.items():
                o.load_state_dict(state["optimizers"][f"d:{n}"])
        except (KeyError, RuntimeError) as exc:
            raise InputError(f"checkpoint does not match this run's configuration ({exc})",
                             path=path, hint="Resume with the run's own config.toml.") from None
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"])
        self.pos = _Position(**state["position"])
        self.best_psnr = state["best_psnr"]
        self.elapsed = state["elapsed_s"]
        self.last_metrics = state.get("metrics", {})
        # A checkpoint written at the very end of an epoch (before the epoch counters
        # moved on) would replay nothing: normalise the position.
        phase_steps = self.steps_per_epoch
        while (self.pos.phase < len(self.cfg.phases)
               and self.pos.step_in_epoch >= phase_steps[self.pos.phase]):
            self.pos.step_in_epoch = 0
            self.pos.epoch_in_phase += 1
            if self.pos.epoch_in_phase >= self.cfg.phases[self.pos.phase].epochs:
                self.pos.phase += 1
                self.pos.epoch_in_phase = 0
        self._emit(EventKind.MESSAGE, level="info",
                   text=f"resumed from {path.name} at step {self.pos.global_step}")

    def export_model(self):
        """The EMA generator as a :class:`~semsr_core.models.Model` with its card."""
        from semsr_core import __version__
        from semsr_core.models import Model, ModelCard

        config = dict(self.g_kwargs)  # exactly the constructor's arguments
        card = ModelCard(
            arch=self.cfg.generator.arch, config=config, scale=self.cfg.data.scale,
            in_channels=int(config.get("in_channels", 1)),
            out_channels=int(config.get("out_channels", 1)),
            value_range=tuple(self.g_spec.value_range), name=self.cfg.recipe.name,
            recipe=self.cfg.recipe.name,
            description=f"trained with recipe '{self.cfg.recipe.name}' "
                        f"({self.cfg.recipe.source})",
            training={"steps": self.pos.global_step, "epochs": self._run_epoch(),
                      "zssr_per_image": False,
                      **({"pre_upscale": "zssr", "zssr": dict(self.cfg.data.zssr)}
                         if self.cfg.data.generator_input == "zssr" else {}),
                      "seconds": round(self.elapsed, 1), "config": self.cfg.to_dict(),
                      "data": self.data_summary,
                      **({"initialised_from": self.init_card} if self.init_card else {})},
            metrics=dict(self.last_metrics), semsr_version=__version__,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        return Model(self.ema.shadow, card)

    def _final_model(self):
        """The model to export: the last EMA weights, or with ``train.export = "best"``
        those of the best validation (their metrics on its card)."""
        model = self.export_model()
        best = self.checkpoints.folder / "best.pt"
        if self.cfg.train.export != "best" or not best.is_file():
            return model
        state = self.checkpoints.load(best)
        generator = copy.deepcopy(model.generator)
        generator.load_state_dict(state["ema"])
        model.card.metrics = dict(state.get("metrics", {}))
        model.card.training["exported"] = {"which": "best validation PSNR",
                                           **state["position"]}
        return type(model)(generator, model.card)

    def _finish(self, status: str) -> Path | None:
        path = None
        if self.dist.is_main:
            path = self.run_dir / "model.semsr"
            model = self._final_model()
            model.save(path)
            self.exported_metrics = dict(model.card.metrics)
            self._emit(EventKind.FINISHED, status=status, step=self.pos.global_step,
                       model=str(path), metrics=self.exported_metrics)
        self.dist.barrier()
        return path


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


def _is_adversarial(module: nn.Module) -> bool:
    from semsr_core.losses.adversarial import AdversarialLoss

    return isinstance(module, AdversarialLoss)


def _collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]
            if isinstance(items[0][k], torch.Tensor)}


def _check_finite(loss: torch.Tensor, what: str, step: int) -> None:
    if not torch.isfinite(loss):
        raise TrainingError(
            f"the {what} became {float(loss)} at step {step}; lower the learning rate, "
            "enable gradient clipping (train.grad_clip) or check the data for NaN/Inf")


def _resolve_device(device: str | torch.device, dist: _Distributed) -> torch.device:
    from semsr_core.infer.device import resolve_device

    if dist.enabled and torch.cuda.is_available() and str(device) in ("auto", "cuda"):
        torch.cuda.set_device(dist.local_rank)
        return torch.device("cuda", dist.local_rank)
    return resolve_device(device)


def _amp_dtype(device: torch.device) -> torch.dtype | None:
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _center_crop_slices(shape: tuple[int, ...], size: int) -> tuple[slice, slice]:
    h, w = shape[-2:]
    ch, cw = min(size, h), min(size, w)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return slice(y0, y0 + ch), slice(x0, x0 + cw)
