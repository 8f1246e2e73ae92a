"""Adversarial losses: how a discriminator's logits become the two players' losses.

Every adversarial loss here is an :class:`AdversarialLoss` with the same small
interface, so one training engine can run any of them:

- ``discriminator_input(image, condition=None)`` — what the discriminator sees for an
  image (the image itself; a filtered image for the frequency-separation losses; the
  input ⊕ output concatenation for the conditional GAN);
- ``d_loss(real_logits, fake_logits)`` — the discriminator's loss;
- ``g_loss(real_logits, fake_logits)`` — the generator's loss (the relativistic losses
  need the real logits too; the others ignore them);
- ``penalty(discriminator, real_input, fake_input)`` — an extra discriminator term
  (the WGAN-GP gradient penalty), or ``None``.

Logits may be vectors (N×1) or maps (N×1×h×w from a PatchGAN); every loss works
element-wise and averages over all elements (batch and spatial positions). The
losses use BCE-with-logits, which is numerically stable for large logits.

For the generator step, the engine passes the discriminator's logits of the real
images without a gradient path to the generator (they have none anyway) and the
fake logits with one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semsr_core.errors import ConfigError
from semsr_core.losses.roles import Loss, LossRole


def _bce(logits: Tensor, target_is_real: bool) -> Tensor:
    """Mean binary cross-entropy of logits against an all-real or all-fake target."""
    target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def _check_same_shape(real_logits: Tensor, fake_logits: Tensor, loss_name: str) -> None:
    if real_logits.shape != fake_logits.shape:
        raise ConfigError(
            f"{loss_name}: the discriminator gave logits of shape {tuple(real_logits.shape)} "
            f"for real and {tuple(fake_logits.shape)} for generated images",
            hint="real and generated batches must have the same size and patch size",
        )


class AdversarialLoss(Loss):
    """Base class: the interface the training engine uses for every GAN flavour."""

    role = LossRole.ADVERSARIAL

    def transform(self, image: Tensor) -> Tensor:
        """The filter applied to an image before the discriminator sees it (identity here)."""
        return image

    def discriminator_input(self, image: Tensor, condition: Tensor | None = None) -> Tensor:
        """The tensor to feed the discriminator for ``image`` (``condition`` is unused here)."""
        return self.transform(image)

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        raise NotImplementedError

    def penalty(self, discriminator: nn.Module, real_input: Tensor,
                fake_input: Tensor) -> Tensor | None:
        """An extra term of the discriminator loss; ``None`` when the loss has none."""
        return None


class NonSaturatingGAN(AdversarialLoss):
    """Standard GAN with the non-saturating generator loss ([S0] eq. 2.1, 2.6).

    D: −log D(x) − log(1 − D(G(z)));  G: −log D(G(z)), with D = σ(logit).
    """

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _bce(real_logits, True) + _bce(fake_logits, False)

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return _bce(fake_logits, True)


class RelativisticAverageGAN(AdversarialLoss):
    """Relativistic average GAN, both players ([S0] eq. 3.4–3.6; ESRGAN).

    With C the discriminator's logits, C̄_r and C̄_f the means of the real and fake
    logits over the whole mini-batch (all samples and, for logit maps, all spatial
    positions — one number each):

    D: −E log σ(C(x_r) − C̄_f) − E log(1 − σ(C(x_f) − C̄_r))
    G: −E log σ(C(x_f) − C̄_r) − E log(1 − σ(C(x_r) − C̄_f))

    The two terms are summed as in eq. 3.5/3.6 (BasicSR's ESRGAN halves the sum;
    scale the loss weight by 2 to compare with its settings).
    """

    def _terms(self, first: Tensor, second: Tensor) -> Tensor:
        _check_same_shape(first, second, "gan_ragan")
        return (_bce(first - second.mean(), True)
                + _bce(second - first.mean(), False))

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return self._terms(real_logits, fake_logits)

    def g_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return self._terms(fake_logits, real_logits)


class RelativisticStandardGAN(AdversarialLoss):
    """Relativistic standard GAN ([S0] eq. 3.1–3.3).

    Real and fake logits are paired element by element (sample i with sample i,
    position p with position p):  D: −E log σ(C(x_r) − C(x_f));  G: −E log σ(C(x_f) − C(x_r)).
    """

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        _check_same_shape(real_logits, fake_logits, "gan_rsgan")
        return _bce(real_logits - fake_logits, True)

    def g_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        _check_same_shape(real_logits, fake_logits, "gan_rsgan")
        return _bce(fake_logits - real_logits, True)


def concat_condition(condition: Tensor, image: Tensor) -> Tensor:
    """The conditional discriminator's input: ``condition`` ⊕ ``image`` along channels.

    For super-resolution the condition is the (upscaled) low-resolution input and the
    image is either the high-resolution target or the generator's output; both must
    have the same height and width.
    """
    if condition.shape[0] != image.shape[0] or condition.shape[2:] != image.shape[2:]:
        raise ConfigError(
            f"cgan: the condition has shape {tuple(condition.shape)} but the image has "
            f"shape {tuple(image.shape)}",
            hint="upscale the input to the output size (e.g. bicubic) before pairing them",
        )
    return torch.cat([condition, image], dim=1)


class ConditionalGAN(AdversarialLoss):
    """pix2pix conditional GAN ([S1] eq. 2.1): the discriminator sees input ⊕ output.

    D: (BCE(D(x, y), real) + BCE(D(x, G(x)), fake)) / 2 — halved as in pix2pix, which
    slows the discriminator relative to the generator;  G: BCE(D(x, G(x)), real).
    """

    def discriminator_input(self, image: Tensor, condition: Tensor | None = None) -> Tensor:
        if condition is None:
            raise ConfigError(
                "cgan: the conditional discriminator needs the generator's input as condition",
                hint="use a non-conditional loss such as gan_ns for unpaired training",
            )
        return concat_condition(condition, image)

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return 0.5 * (_bce(real_logits, True) + _bce(fake_logits, False))

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return _bce(fake_logits, True)
