"""What a run leaves behind: checkpoints (and resuming from them), the exported model
with its card, and the verdict against bicubic; and the run's training state
(:class:`~semsr_core.events.TrainingStateMachine`), announced as STATE events.

:class:`RunOutputs` is a part of :class:`~semsr_core.train.engine.Trainer` (a mixin
over the trainer's networks, position and plan); the training loop lives in
:mod:`~semsr_core.train.loop`, validation in :mod:`~semsr_core.train.validation`.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semsr_core.errors import InputError
from semsr_core.events import (
    Finished,
    Message,
    RunStarted,
    RunStatus,
    StateChanged,
    TrainingState,
    TrainingStateMachine,
)
from semsr_core.infer.device import precision_label
from semsr_core.train.ema import _unwrap

CHECKPOINT_VERSION = 1


@dataclass
class _Position:
    """Where the run stands; what a checkpoint needs to continue."""

    phase: int = 0
    epoch_in_phase: int = 0
    step_in_epoch: int = 0
    global_step: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class RunOutputs:
    """Validation, checkpoints, resume and export of a :class:`Trainer`, and its state."""

    # ------------------------------------------------------------------ state

    @property
    def training_state(self) -> TrainingStateMachine:
        """The run's state holder (idle until it starts); it refuses illegal moves."""
        machine = self.__dict__.get("_training_state")
        if machine is None:
            machine = self.__dict__["_training_state"] = TrainingStateMachine()
        return machine

    def _enter(self, state: TrainingState) -> None:
        """Move the training state (IllegalTransition if not allowed) and announce it."""
        self.training_state.move(state)
        self._emit(StateChanged(state, self.pos.global_step))

    def _announce_start(self) -> None:
        """RUN_STARTED with the run's size and phases, the line for the user, and the
        state TRAINING."""
        self._emit(RunStarted(total_steps=self.total_steps,
                              phases=tuple(p.name for p in self.cfg.phases),
                              recipe=self.cfg.recipe.name, device=str(self.device),
                              samples_per_epoch=len(self.train_set),
                              step=self.pos.global_step))
        self._emit(Message(f"training '{self.cfg.recipe.name}' on {self.device} in "
                           f"{precision_label(self.amp_dtype)} ({self.total_steps} steps, "
                           f"{len(self.train_set)} samples per epoch)"))
        for text in self.data_summary.get("warnings", []):  # what reading the data found
            self._emit(Message(text, level="warning"))
        self._enter(TrainingState.TRAINING)

    def _crashed(self) -> None:
        """An error ends the run: CRASHED, unless it had already ended."""
        if self.training_state.can_move(TrainingState.CRASHED):
            self._enter(TrainingState.CRASHED)

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
            "plan_epochs": list(self.plan.epochs),
            "plan_last_steps": list(self.plan.last_steps),
            "start_metrics": dict(self.start_metrics),
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
        self.plan.epochs = list(state.get("plan_epochs", self.plan.epochs))
        self.plan.last_steps = list(state.get("plan_last_steps", self.plan.last_steps))
        self.start_metrics = dict(state.get("start_metrics", {}))
        # A checkpoint written at the very end of an epoch (before the epoch counters
        # moved on) would replay nothing: normalise the position.
        while (self.pos.phase < len(self.cfg.phases)
               and self.pos.step_in_epoch >= self.plan.epoch_length(self.pos.phase,
                                                                    self.pos.epoch_in_phase)):
            self.pos.step_in_epoch = 0
            self.pos.epoch_in_phase += 1
            if self.pos.epoch_in_phase >= self.plan.epochs[self.pos.phase]:
                self.pos.phase += 1
                self.pos.epoch_in_phase = 0
        self._emit(Message(f"resumed from {path.name} at step {self.pos.global_step}"))

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
                      "plan": self.plan.as_dict(),
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

    def _reference_noise(self) -> float | None:
        """The largest noise estimate of the validation HR images (None without any)."""
        from semsr_core.archs.noise_level import noise_sigma

        return max((float(noise_sigma(torch.from_numpy(np.asarray(pair.hr, np.float64))).max())
                    for pair in self.val_pairs), default=None)

    def _finish(self, status: str) -> Path | None:
        """Export the model unless it is worse than bicubic; the verdict says which.
        The state moves to DONE (or STOPPED) before the FINISHED event."""
        from semsr_core.train.run_folder import RunFolder
        from semsr_core.train.verdict import judge

        status = RunStatus(status)
        folder = RunFolder(self.run_dir)
        path = None
        if self.dist.is_main:
            model = self._final_model()
            exported = model.card.training.get("exported")
            which = (f"the best validation (step {exported['global_step']})" if exported
                     else f"the last weights (step {self.pos.global_step})")
            if exported and exported["global_step"] == 0 and self.init_card is not None:
                which = (f"the weights it started from ({self.cfg.generator.init}): training "
                         "did not improve on them on the validation pairs")
            verdict = judge(model.card.metrics, which, recipe=self.cfg.recipe.name,
                            fine_tuned=self.init_card is not None,
                            start=(self.cfg.generator.init, self.start_metrics.get("psnr")),
                            reference_noise=self._reference_noise(),
                            scale=self.cfg.data.scale)
            target = folder.model_path
            if verdict.worse and self.cfg.train.export_worse:
                verdict.exported = f"{which}, although worse (train.export_worse is set)"
            if verdict.worse and not self.cfg.train.export_worse:
                target.unlink(missing_ok=True)  # an earlier export of this run is no answer
            else:
                path, verdict.model = target, str(target)
                model.card.training["verdict"] = verdict.as_dict()
                model.card.training["time"] = self._time_summary()
                model.save(path)
            self.verdict = verdict
            folder.write_verdict(verdict)
            self.exported_metrics = dict(model.card.metrics)
            self._emit(Message(verdict.text()
                               + "".join(f"\n  try: {tip}" for tip in verdict.advice),
                               level="warning" if verdict.worse else "info"))
        self._enter(status.state)
        if self.dist.is_main:
            self._emit(Finished(status=status, step=self.pos.global_step,
                                model=None if path is None else str(path),
                                metrics=self.exported_metrics, verdict=verdict.as_dict(),
                                plan=self.plan.as_dict(), time_use=self._time_summary()))
        self.dist.barrier()
        return path
