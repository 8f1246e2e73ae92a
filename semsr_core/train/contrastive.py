"""The training engine's contrastive terms: CUT's PatchNCE family and learned structure nets.

Two kinds of loss need more from the engine than ``loss(sr, reference)``; each says so
in its class (:mod:`semsr_core.losses.roles`):

- encoder losses (role ``CONTRASTIVE``: PatchNCE, MoNCE, QS-Attn; [S1] App. A)
  compare features of the generator's own encoder. They get an encoder
  (``generator.encode`` on images mapped to the generator's value range); their
  projection heads are made for its channel counts before the first step and join the
  generator's optimiser as a parameter group (CUT optimises them with the generator's
  settings). With ``identity`` on, the loss between a target-domain image and its
  translation is averaged in (eq. A.3).
- losses with a trained part of their own (``trains_structure_net``: LSeSim's
  structure network, [S1] §2.2) expose ``structure_step(source, output, other)``; it
  is called once per step after the generator's update, with its own optimiser at the
  generator's learning rate. Their generator term is input-referenced.
- losses built on the generator's own parts (role ``CONTRASTIVE`` with
  ``attach_generator``: LIR, :mod:`semsr_core.losses.lir`) get the generator and its
  value-range maps before the first step, are called ``loss(source, output, hr)``
  (``hr``: the clean domain on unpaired data) and train their discriminators through
  ``structure_step`` as above.

Their trainable state (heads, structure networks and their optimiser) is saved in
every checkpoint and restored on resume.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from semsr_core.errors import ConfigError
from semsr_core.losses.roles import Loss, LossRole

Translate = Callable[[Tensor], Tensor]


def is_encoder_loss(module: Loss) -> bool:
    """Whether the loss compares the generator's encoder features (role CONTRASTIVE)."""
    return module.role is LossRole.CONTRASTIVE and not uses_generator_parts(module)


def uses_generator_parts(module: Loss) -> bool:
    """Whether the loss runs the generator's own parts (LIR): ``attach_generator``."""
    return callable(getattr(module, "attach_generator", None))


def has_structure_net(module: Loss) -> bool:
    """Whether the loss has a structure network the engine trains (LSeSim)."""
    return module.trains_structure_net


class ContrastiveTerms:
    """Sets up a trainer's contrastive losses and runs their parts of a step."""

    def __init__(self, trainer) -> None:
        self.trainer = trainer
        self.modules: dict[str, nn.Module] = {}  # "phase/loss" → module
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        for phase, built in trainer.losses.items():
            for name, module in built.items():
                if is_encoder_loss(module) or has_structure_net(module):
                    self.modules[f"{phase}/{name}"] = module
        heads: list[nn.Parameter] = []
        for key, module in self.modules.items():
            if uses_generator_parts(module):  # before its optimiser: it makes parts
                generator = getattr(trainer.generator, "module", trainer.generator)
                module.attach_generator(generator, trainer._to_net, trainer._from_net)
            if is_encoder_loss(module):
                self._attach_encoder(key, module)
                heads += list(module.parameters())
            if has_structure_net(module):
                params = [p for p in module.parameters() if p.requires_grad]
                if params:
                    from semsr_core.train.optimizers import make_optimizer

                    self.optimizers[key] = make_optimizer(params, trainer.cfg.optimizer)
        if heads:
            trainer.opt_g.add_param_group({"params": heads})

    def __bool__(self) -> bool:
        return bool(self.modules)

    # ------------------------------------------------------------ set-up

    def _attach_encoder(self, key: str, module: nn.Module) -> None:
        trainer = self.trainer
        generator = getattr(trainer.generator, "module", trainer.generator)
        where = f"phases.{key.replace('/', '.losses.')}"
        if not callable(getattr(generator, "encode", None)):
            raise ConfigError(
                f"{where}: the {trainer.cfg.generator.arch} generator has no encoder to "
                "take features from", hint="use it with generator arch 'resnet_gen'")
        if module.layers is None:
            raise ConfigError(f"{where}: name the encoder layers compared (layers = [...])",
                              hint="CUT compares layers = [0, 4, 8, 12, 16] of resnet_gen")
        if module.keys == "target" and trainer.cfg.data.pairing == "unpaired":
            raise ConfigError(f"{where}: keys = 'target' needs paired data",
                              hint="use keys = 'input' on unpaired data")
        layers = list(module.layers)
        to_net = trainer._to_net
        module.use_encoder(lambda images: generator.encode(to_net(images), layers))
        spec = trainer.g_spec
        side = max(spec.min_size, 4 * spec.size_multiple)
        channels = int(trainer.g_kwargs.get("in_channels", 1))
        probe = torch.zeros(1, channels, side, side, device=trainer.device)
        with torch.no_grad():
            module.init_heads(generator.encode(to_net(probe), layers))

    # ------------------------------------------------------------ a step

    def generator_value(self, module: Loss, g_in: Tensor, sr: Tensor, hr: Tensor,
                        translate: Translate) -> Tensor:
        """An encoder loss's value for the generator's loss (back-propagates into it)."""
        if uses_generator_parts(module):
            return module(g_in, sr, hr)
        value = module(g_in if module.keys == "input" else hr, sr)
        if module.identity:  # CUT: G should leave a target-domain image as it is
            value = 0.5 * (value + module(hr, translate(hr)))
        return value

    def auxiliary_step(self, phase: str, g_in: Tensor, sr: Tensor, hr: Tensor) -> dict[str, float]:
        """Train the structure networks of this phase's losses one step on the detached
        output ``sr``; returns their losses for the log."""
        logged = {}
        lr = self.trainer.opt_g.param_groups[0]["lr"]
        for key, opt in self.optimizers.items():
            if not key.startswith(f"{phase}/"):
                continue
            for group in opt.param_groups:
                group["lr"] = lr
            module = self.modules[key]
            with self.trainer._autocast():
                loss = module.structure_step(g_in, sr.detach(), hr).float()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            logged[f"s/{key.split('/', 1)[1]}"] = float(loss.detach())
        return logged

    # ------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        return {"modules": {k: m.state_dict() for k, m in self.modules.items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, module in self.modules.items():
            module.load_state_dict(state["modules"][key])
        for key, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][key])

    def resume(self, checkpoints) -> None:
        """Restore from the latest checkpoint (the one the trainer resumed from)."""
        if not self.modules:
            return
        from semsr_core.errors import InputError

        path = checkpoints.latest()
        state = checkpoints.load(path)
        try:
            self.load_state_dict(state["contrastive"])
        except (KeyError, RuntimeError) as exc:
            raise InputError(f"checkpoint has no matching contrastive heads ({exc})",
                             path=path, hint="Resume with the run's own config.toml.") from None
