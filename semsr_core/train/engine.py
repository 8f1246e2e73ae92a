"""The one training engine: every recipe is a :class:`TrainConfig` run by :class:`Trainer`.

A run is a sequence of phases (e.g. L1 pre-training, then adversarial training). This
module builds a trainer: networks, EMA, optimisers, loss terms, mixed precision and,
under ``torchrun`` (``WORLD_SIZE`` > 1), DistributedDataParallel (NCCL on GPUs, gloo on
CPU; only rank 0 writes events, checkpoints and the model). The trainer's work is in
its parts, one job each:

- :mod:`~semsr_core.train.loop` — the run, epoch by epoch and batch by batch, Pause,
  Stop and the time limit (:class:`TrainResult`);
- :mod:`~semsr_core.train.steps` — one step: the generator update, then each
  discriminator's with its penalty;
- :mod:`~semsr_core.train.pacing` — seconds per step, ETA, the plan fitted to a time
  limit (:mod:`~semsr_core.train.budget`), progress events;
- :mod:`~semsr_core.train.validation` — validation figures and samples
  (:class:`ValidationPair`);
- :mod:`~semsr_core.train.results` — checkpoints, resume, the exported model and its
  verdict against bicubic, the training state.

Learning rates come from pure schedule functions of (epoch, step); data order
and augmentation are functions of (seed, epoch, index); the torch RNG state is in
every checkpoint. So a run stopped or killed at any step resumes from its last
checkpoint and continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import json
import math
from collections import deque
from pathlib import Path
from typing import Any

import torch
from torch import nn

from semsr_core.errors import ConfigError, InputError
from semsr_core.events import CancelToken, EventCallback
from semsr_core.losses.roles import LossRole
from semsr_core.train.budget import RunPlan, TimeBook, steps_in_epoch, validation_subset
from semsr_core.train.config import TrainConfig
from semsr_core.train.contrastive import ContrastiveTerms
from semsr_core.train.distributed import Distributed, resolve_training_device
from semsr_core.train.ema import EMA
from semsr_core.train.loop import TrainingLoop, TrainResult
from semsr_core.train.optimizers import make_optimizer
from semsr_core.train.pacing import RunPacing
from semsr_core.train.results import CHECKPOINT_VERSION, RunOutputs, _Position
from semsr_core.train.run_folder import RunFolder
from semsr_core.train.runlog import RunLog
from semsr_core.train.steps import TrainingSteps
from semsr_core.train.validation import Validation, ValidationPair

__all__ = ["CHECKPOINT_VERSION", "TrainResult", "Trainer", "ValidationPair"]


class Trainer(TrainingLoop, RunPacing, TrainingSteps, Validation, RunOutputs):
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
        # phase → adversarial term → the discriminator it trains against (the recipe's
        # choice, or the only one); the config itself is never written to
        self.loss_discriminators: dict[str, dict[str, str]] = {}
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
            self.loss_discriminators[phase.name] = against = {}
            if phase.epochs == 0:  # skipped phase: do not ask for e.g. VGG weights
                continue
            for name, term in phase.losses.items():
                try:
                    module = losses.build(name, **term.params())
                except ConfigError as exc:
                    raise ConfigError(f"phases.{phase.name}.losses.{name}: {exc}") from None
                if module.role is LossRole.ADVERSARIAL:
                    against[name] = self._discriminator_of(phase.name, name, term)
                built[phase.name][name] = module.to(self.device)
        return built

    def _discriminator_of(self, phase: str, loss: str, term) -> str:
        """The discriminator an adversarial term trains against: the one the recipe
        names, or the only one there is."""
        if term.discriminator is not None:
            return term.discriminator
        if len(self.discriminators) != 1:
            raise ConfigError(f"phases.{phase}.losses.{loss}: name its "
                              "discriminator (discriminator = \"...\")")
        return next(iter(self.discriminators))

    def _steps_in_epoch(self, phase) -> int:
        if len(self.train_set) < 1:
            raise InputError("the training set has no samples",
                             hint="Add pairs, or lower data.lr_patch below the images' size.")
        return steps_in_epoch(len(self.train_set), self.cfg.data.batch * self.dist.world,
                              self.cfg.train.min_epoch_samples, phase.steps_per_epoch)

    def _state(self) -> dict[str, Any]:
        state = super()._state()
        if self.contrastive:
            state["contrastive"] = self.contrastive.state_dict()
        return state

    def _resume(self) -> None:
        super()._resume()
        self.contrastive.resume(self.checkpoints)


# ------------------------------------------------------------------ helpers


def _load_initial_weights(generator: nn.Module, init: str) -> dict[str, Any]:
    """Copy the weights of model ``init`` (a name or file) into ``generator``; returns
    that model's card (recorded in the exported model's training summary)."""
    from semsr_core.models import load_model

    parent = load_model(init)
    try:
        missing, unexpected = generator.load_state_dict(parent.generator.state_dict(),
                                                        strict=False)
        left = [k for k in missing if not k.startswith("tone.")]  # a new curve: identity
        if left or unexpected:
            raise RuntimeError(f"missing {left[:3]}, unexpected {unexpected[:3]}")
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ConfigError(
            f"generator.init: the model {init} does not fit this generator "
            f"({first[0] if first else exc})",
            hint="Start from a model with the same architecture and sizes as the "
                 "recipe's generator (see `semsr models info`), or set the generator's "
                 "sizes to the model's.") from None
    for option in ("skip", "highpass"):  # no weights of their own, but another function
        mine, theirs = getattr(generator, option, None), getattr(parent.generator, option, None)
        if mine != theirs:
            raise ConfigError(
                f"generator.init: the model {init} has {option} = {theirs!r}, this "
                f"generator {option} = {mine!r}: its weights would compute something else",
                hint=f"Add --set generator.{option}={json.dumps(theirs)} (see `semsr models "
                     f"info {init}`), or use the finetune recipe, which reads the model's card.")
    card = parent.card
    training = {k: v for k, v in card.training.items() if k not in ("config", "data")}
    return {"model": str(init), "name": card.name, "recipe": card.recipe,
            "created": card.created, "training": training, "metrics": card.metrics}


def _needs_tile_labels(built: dict[str, dict[str, nn.Module]]) -> bool:
    return any(m.role is LossRole.TILE_LABELS for p in built.values() for m in p.values())


def _amp_dtype(device: torch.device) -> torch.dtype | None:
    from semsr_core.infer.device import training_autocast_dtype

    return training_autocast_dtype(device)  # CUDA bf16/fp16; CPU bf16 where native
