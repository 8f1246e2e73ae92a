"""Least-squares GAN (Mao et al. 2017), the ``gan_mode = lsgan`` of CUT, QS-Attn and F-LSeSim.

D: ½·[(D(y) − 1)² + D(G(x))²];  G: (D(G(x)) − 1)², each averaged over all logits
(PatchGAN maps included), as in the pix2pix/CUT ``GANLoss``.
"""

from __future__ import annotations

from torch import Tensor

from semsr_core.losses.adversarial import AdversarialLoss


class LeastSquaresGAN(AdversarialLoss):
    """The LSGAN objective with targets 1 (real) and 0 (fake)."""

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return 0.5 * ((real_logits - 1.0).pow(2).mean() + fake_logits.pow(2).mean())

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return (fake_logits - 1.0).pow(2).mean()
