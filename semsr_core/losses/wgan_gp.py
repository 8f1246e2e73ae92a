"""Wasserstein GAN with gradient penalty ([S3] eq. 4.2–4.3; the N2 model of [S0]).

The critic C gives unbounded scores (no sigmoid). Critic loss:
mean C(x̃) − mean C(x) + λ_gp · mean_i (‖∇C(x̂_i)‖₂ − 1)², with x̂_i = ε_i x_i + (1 − ε_i) x̃_i
and ε_i ~ U[0, 1] drawn once per sample. Generator loss: −mean C(x̃).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from semsr_core.errors import ConfigError
from semsr_core.losses.adversarial import AdversarialLoss


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, lambda_gp: float = 10.0,
                     generator: torch.Generator | None = None) -> Tensor:
    """λ_gp · mean over samples of (‖∇_x̂ C(x̂)‖₂ − 1)² on random interpolates x̂.

    ``real`` and ``fake`` are batches of the critic's inputs (same shape); ``fake`` is
    detached, so the penalty only trains the critic. The gradient norm of each sample
    is taken over all its non-batch dimensions (channels and pixels together). A
    critic that returns a map of scores is taken to score each sample by the map's
    mean, as :meth:`WassersteinGP.d_loss` does. The graph is kept, so the returned
    value can be back-propagated into the critic. ``generator`` makes ε reproducible.
    """
    if real.shape != fake.shape:
        raise ConfigError(
            f"wgan_gp: real images have shape {tuple(real.shape)} but generated images "
            f"{tuple(fake.shape)}",
            hint="the gradient penalty interpolates between pairs of the same shape",
        )
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(shape, generator=generator, device="cpu", dtype=torch.float32)
    eps = eps.to(device=real.device, dtype=real.dtype)
    mixed = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    # A critic giving a score map is scored per sample by its mean, as in d_loss.
    scores = critic(mixed).reshape(real.shape[0], -1).mean(dim=1)
    (grad,) = torch.autograd.grad(
        outputs=scores, inputs=mixed, grad_outputs=torch.ones_like(scores),
        create_graph=True,
    )
    norms = grad.flatten(start_dim=1).norm(p=2, dim=1)
    return lambda_gp * ((norms - 1.0) ** 2).mean()


class WassersteinGP(AdversarialLoss):
    """WGAN-GP critic and generator losses; the penalty is :meth:`penalty`.

    Args:
        lambda_gp: weight of the gradient penalty (10 in [S3] and in WGAN-GP).
    """

    def __init__(self, lambda_gp: float = 10.0):
        super().__init__()
        if lambda_gp < 0:
            raise ConfigError(f"wgan_gp: lambda_gp must be ≥ 0, got {lambda_gp}")
        self.lambda_gp = float(lambda_gp)

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """mean C(fake) − mean C(real), without the penalty."""
        return fake_logits.mean() - real_logits.mean()

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()

    def penalty(self, discriminator: nn.Module, real_input: Tensor, fake_input: Tensor,
                generator: torch.Generator | None = None) -> Tensor:
        return gradient_penalty(discriminator, real_input, fake_input, self.lambda_gp,
                                generator=generator)
