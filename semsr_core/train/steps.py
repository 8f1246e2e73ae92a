"""One training step: the generator update against the frozen discriminators (with
every loss term of the phase), then each discriminator's (critic's) update on the real
stream and the detached SR, with its penalty (WGAN-GP); mixed precision, gradient
clipping and the learning rates of the step.

The generator is updated every ``n_critic``-th step when the phase has adversarial
terms, and the EMA copy of its weights follows. An adversarial term with
``max_input_noise`` sees (in both players' updates) only the samples whose LR reads at
most that noisy, weighted by their share of the batch: on a noisy input the texture is
not measured, and a discriminator would teach the generator to invent it. Each loss
term is called as its class declares (:class:`~semsr_core.losses.roles.LossRole`,
``uses_mask``), and an adversarial term trains against the discriminator the trainer
bound it to (``Trainer.loss_discriminators``). :class:`TrainingSteps` is a part (a mixin) of
:class:`~semsr_core.train.engine.Trainer`.
"""

from __future__ import annotations

import torch
from torch import nn

from semsr_core.archs.noise_level import noise_sigma
from semsr_core.data.resample import upscale_tensor
from semsr_core.errors import TrainingError
from semsr_core.losses.roles import LossRole
from semsr_core.train.optimizers import set_lr
from semsr_core.train.schedules import Progress, early_stop_factor, learning_rate


class TrainingSteps:
    """The generator and discriminator updates of one step of a trainer."""

    def _to_net(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = self.g_spec.value_range
        return x if (lo, hi) == (0.0, 1.0) else x * (hi - lo) + lo

    def _from_net(self, y: torch.Tensor) -> torch.Tensor:
        lo, hi = self.g_spec.value_range
        return y if (lo, hi) == (0.0, 1.0) else (y - lo) / (hi - lo)

    def _generator_input(self, lr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        if self.g_spec.input_at_output_size or self.cfg.data.generator_input == "bicubic":
            if lr.shape[-2:] != hr.shape[-2:]:
                return upscale_tensor(lr, shape=hr.shape[-2:])
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
        terms = self.cfg.phases[self.pos.phase].losses
        modules = self.losses[phase.name]
        against = self.loss_discriminators[phase.name]  # adversarial term → discriminator
        adversarial = {n: m for n, m in modules.items() if m.role is LossRole.ADVERSARIAL}
        mask = batch.get("mask") if reference is hr else None
        if mask is not None and any(m.uses_mask for m in modules.values()):
            mask = mask.to(dev, non_blocking=True)  # moved only where used
        self._set_learning_rates(phase, epoch)
        generator_turn = not adversarial or (self.pos.global_step % phase.n_critic == 0)
        logged: dict[str, float] = {}
        gated = _noise_gates(adversarial, terms, lr)

        self.generator.train()
        # ---- generator update (discriminators frozen)
        if generator_turn:
            for d in self.discriminators.values():
                d.requires_grad_(False)
            with self._autocast():
                sr = self._translate(g_in, ref)
                total = torch.zeros((), device=dev)
                for name, module in modules.items():
                    role = module.role
                    share = 1.0  # of the batch a term is computed on
                    if role is LossRole.ADVERSARIAL:
                        keep = gated.get(name)
                        if keep is not None and keep.numel() == 0:
                            continue  # every input too noisy: no adversarial term this step
                        disc = self.discriminators[against[name]]
                        real_b, fake_b, cond = _select(keep, real_hr, sr, g_in)
                        share = _share(keep, sr)
                        real_logits = disc(module.discriminator_input(real_b, cond)).detach()
                        fake_logits = disc(module.discriminator_input(fake_b, cond))
                        value = module.g_loss(real_logits, fake_logits)
                    elif role is LossRole.CONTRASTIVE:
                        value = self.contrastive.generator_value(module, g_in, sr, hr,
                                                                 self._translate)
                    elif role is LossRole.INPUT_REFERENCED:
                        value = module(g_in, sr)
                    elif role is LossRole.TILE_LABELS:
                        value = module(sr, batch["label"])
                    elif mask is not None and module.uses_mask:
                        value = module(sr, reference, mask)
                    else:  # LossRole.PIXEL
                        value = module(sr, reference)
                    total = total + terms[name].weight * share * value.float()
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
            keep = gated.get(name)
            if keep is not None and keep.numel() == 0:
                continue
            d_name = against[name]
            disc = self.discriminators[d_name]
            opt = self.opt_d[d_name]
            real_b, fake_b, cond = _select(keep, real_hr, sr_detached, g_in)
            with self._autocast():
                real_in = module.discriminator_input(real_b, cond)
                fake_in = module.discriminator_input(fake_b, cond)
                d_loss = module.d_loss(disc(real_in), disc(fake_in)).float()
                d_loss = _share(keep, sr_detached) * d_loss
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

    def _clip(self, net: nn.Module, opt: torch.optim.Optimizer, max_norm: float) -> None:
        if max_norm > 0:
            self.scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(net.parameters(), max_norm)


def _noise_gates(adversarial: dict[str, nn.Module], terms: dict, lr: torch.Tensor
                 ) -> dict[str, torch.Tensor]:
    """For each adversarial term with ``max_input_noise``: the indices of the batch's
    samples whose LR noise (the guard's estimate, worst channel) is at most that."""
    limits = {name: terms[name].max_input_noise for name in adversarial
              if terms[name].max_input_noise is not None}
    if not limits:
        return {}
    sigmas = noise_sigma(lr.detach().float()).amax(dim=1)
    return {name: torch.nonzero(sigmas <= limit).flatten()
            for name, limit in limits.items()}


def _share(keep: torch.Tensor | None, batch: torch.Tensor) -> float:
    """The gated samples' share of the batch: a term on them weighs what they did in the
    whole batch's mean (the clean samples are not pushed harder for the noisy ones)."""
    return 1.0 if keep is None else keep.numel() / batch.shape[0]


def _select(keep: torch.Tensor | None, real: torch.Tensor, fake: torch.Tensor,
            condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The gated samples of the real stream, the SR and the generator input (all for
    ``None``). An unpaired real stream of another length gives its first ones."""
    if keep is None:
        return real, fake, condition
    real = real[keep] if real.shape[0] == fake.shape[0] else real[: keep.numel()]
    return real, fake[keep], condition[keep]


def _check_finite(loss: torch.Tensor, what: str, step: int) -> None:
    if not torch.isfinite(loss):
        raise TrainingError(
            f"the {what} became {float(loss)} at step {step}; lower the learning rate, "
            "enable gradient clipping (train.grad_clip) or check the data for NaN/Inf")
