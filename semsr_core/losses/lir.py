"""LIR's training objective (``lir``; [S1] §2.2 eq. 2.6–2.17; Du et al. 2020).

The generator is :class:`~semsr_core.archs.lir.LIRNet` (E_X, E_Y, E_X^N, G_X, G_Y); the
engine's own adversarial term (``gan_ls`` with the recipe's discriminator) is the
clean-domain one, L_adv^Y of eq. 2.16, on the restoration G_Y(E_X(x)) against real
HR. This loss adds everything else, with x the degraded-domain input (bicubic LR) and
y an unrelated clean-domain (HR) crop of the same batch, in the network's [−1, 1]:

- forward cross translation (eq. 2.6–2.7): x̃ = G_Y(E_X(x)) (the engine's output),
  ỹ = G_X(E_Y(y) ⊕ z^N), z^N = E_X^N(x) + ε, ε ~ N(0, I);
- cross-cycle consistency L^CC (eq. 2.10–2.11): x̂ = G_X(E_Y(x̃) ⊕ E_X^N(ỹ) + ε) ≈ x
  and ŷ = G_Y(E_X(ỹ)) ≈ y, L1, weight ``cycle`` (10). The first half is the
  self-supervised constraint that the restoration, degraded again, gives the input;
- self-reconstruction L^Rec: G_X(E_X(x) ⊕ z^N) ≈ x and G_Y(E_Y(y)) ≈ y, L1,
  weight ``reconstruction`` (10);
- KL L^KL: z^N is modelled as N(μ, I) (UNIT's and the authors' code's form), so the
  divergence from N(0, I) is ½‖μ‖²; the authors' code, followed here, averages μ²
  over elements: :func:`kl_term` = mean(μ²), for the input's and for ỹ's code,
  weight ``kl`` (0.01);
- degraded-domain adversarial L_adv^X (eq. 2.15): LSGAN, G_X's ỹ against real x
  judged by this loss's own discriminator D_X (PatchGAN-70), weight ``adversarial`` (1);
- representation adversarial L_adv^R (eq. 2.12): a representation discriminator D_R
  (four stride-2 convs and a global average pool, as [S1] describes) tells E_X's
  codes (label 1) from E_Y's (label 0); the encoders are pushed to where it cannot
  (both at ½, the optimum of eq. 2.12), LSGAN, weight ``representation`` (1);
- background consistency L_BC (eq. 2.13): Σ λ_σ ‖B_σ(χ) − B_σ(χ̃)‖₁ over Gaussian
  blurs of side 5, 9, 15 (σ = 25, weights ¼, ½, 1: the authors' code) for (x, x̃)
  and (y, ỹ), weight ``background`` (5). [S1] dropped it for its reversed domains
  (HR as X); with X = bicubic LR it asks the restoration to keep the input's low
  frequencies, which is what SR should do.

The semantic-consistency term L_SC (eq. 2.14, VGG-19 deep features of input and
restoration) is the engine's ``vgg`` term on unpaired data (compared with the input);
the ``lir`` recipe leaves it out, as [S1] did ("found to be rather harmful").

D_X and D_R are trained by :meth:`LIRLoss.structure_step` once per step after the
generator's update, with their own optimiser (:mod:`semsr_core.train.contrastive`):
LSGAN ½[(D(real) − 1)² + D(fake)²] for each, D_R's at half weight as in the authors'
code. ``state_dict`` holds D_X and D_R, saved in every checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semsr_core.errors import ConfigError
from semsr_core.losses.roles import Loss, LossRole

Images = Callable[[Tensor], Tensor]


def kl_term(mu: Tensor) -> Tensor:
    """mean(μ²): twice the per-element KL(N(μ, 1) ‖ N(0, 1)) = ½μ², averaged (the
    authors' ``__compute_kl``)."""
    return mu.float().pow(2).mean()


def gaussian_kernel(side: int, sigma: float) -> Tensor:
    """A normalised ``side``×``side`` Gaussian (OpenCV's getGaussianKernel, outer)."""
    x = torch.arange(side, dtype=torch.float64) - (side - 1) / 2
    g = torch.exp(-x.pow(2) / (2 * sigma * sigma))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).float()


class RepresentationDiscriminator(nn.Module):
    """D_R: four 4×4 stride-2 convs (LeakyReLU 0.2 between), then global average
    pooling to one logit per code."""

    def __init__(self, in_channels: int, features: int = 64):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for i in range(4):
            last = i == 3
            target = 1 if last else features
            layers.append(nn.Conv2d(channels, target, 4, 2, 1))
            if not last:
                layers.append(nn.LeakyReLU(0.2, True))
            channels = target
        self.model = nn.Sequential(*layers)

    def forward(self, codes: Tensor) -> Tensor:
        side = 16  # four stride-2 convs: pad smaller codes up to a 1×1 output
        if min(codes.shape[-2:]) < side:
            h, w = codes.shape[-2:]
            codes = F.pad(codes, (0, max(0, side - w), 0, max(0, side - h)), mode="replicate")
        return self.model(codes).mean(dim=(-2, -1))


def _lsgan_d(real: Tensor, fake: Tensor) -> Tensor:
    return 0.5 * ((real - 1.0).pow(2).mean() + fake.pow(2).mean())


class LIRLoss(Loss):
    """LIR's generator-side terms and its discriminators D_X and D_R.

    Args:
        cycle, reconstruction, kl, adversarial, representation, background: the
            weights λ_CC, λ_rec, λ_KL, λ_adv (X domain), λ_R, λ_bc of eq. 2.17
            (defaults: the authors' config: 10, 10, 0.01, 1, 1, 5).
        blur_sides, blur_weights, blur_sigma: the background module's Gaussian blurs.
        features: channels of D_X (PatchGAN-70's first conv) and D_R.

    Call ``loss(source, restored, clean)`` with the bicubic input x, the engine's
    restoration x̃ and a clean-domain batch y, all in [0, 1] (the engine does, through
    :mod:`semsr_core.train.contrastive`, after :meth:`attach_generator`). The value is
    the weighted sum; ``last_terms`` keeps each term's value for inspection.
    """

    role = LossRole.CONTRASTIVE  # run by train/contrastive.py, with the generator's parts
    trains_structure_net = True

    def __init__(self, cycle: float = 10.0, reconstruction: float = 10.0, kl: float = 0.01,
                 adversarial: float = 1.0, representation: float = 1.0,
                 background: float = 5.0, blur_sides: Sequence[int] = (5, 9, 15),
                 blur_weights: Sequence[float] = (0.25, 0.5, 1.0), blur_sigma: float = 25.0,
                 features: int = 64):
        super().__init__()
        weights = {"cycle": cycle, "reconstruction": reconstruction, "kl": kl,
                   "adversarial": adversarial, "representation": representation,
                   "background": background}
        for key, value in weights.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"lir: {key} must be a weight ≥ 0, got {value!r}")
        if len(blur_sides) != len(blur_weights) or any(
                int(s) != s or s < 1 or s % 2 == 0 for s in blur_sides):
            raise ConfigError("lir: blur_sides must be odd sizes, one per blur_weights entry",
                              hint="the authors' values: [5, 9, 15] and [0.25, 0.5, 1.0]")
        if not (isinstance(features, int) and features >= 1):
            raise ConfigError(f"lir: features must be an integer ≥ 1, got {features!r}")
        self.weights = {k: float(v) for k, v in weights.items()}
        self.blur_weights = [float(w) for w in blur_weights]
        for i, side in enumerate(blur_sides):
            self.register_buffer(f"blur{i}", gaussian_kernel(int(side), float(blur_sigma)),
                                 persistent=False)
        from semsr_core.archs.patchgan import PatchGAN70

        self.features = features
        self.d_x = PatchGAN70(in_channels=1, features=features)
        self.d_r: nn.Module | None = None  # made for the generator's code channels
        self.last_terms: dict[str, float] = {}
        self._fakes: tuple[Tensor, Tensor, Tensor] | None = None

    # ------------------------------------------------------------ set-up

    def attach_generator(self, generator: nn.Module, to_net: Images, from_net: Images) -> None:
        """Use ``generator``'s parts (a :class:`~semsr_core.archs.lir.LIRNet`); images
        go in through ``to_net`` ([0, 1] → its range) and come out through ``from_net``."""
        if not callable(getattr(generator, "degrade", None)):
            raise ConfigError("lir: the generator is not a LIR network",
                              hint="use the lir loss with generator arch 'lir'")
        # kept outside the module tree: the generator's weights are not this loss's
        self.__dict__["_net"] = generator
        self.__dict__["_to_net"], self.__dict__["_from_net"] = to_net, from_net
        device = next(self.d_x.parameters()).device
        self.d_r = RepresentationDiscriminator(generator.content_channels,
                                               self.features).to(device)

    def _noise_code(self, images: Tensor) -> tuple[Tensor, Tensor]:
        mu = self._net.enc_n(images)
        return mu, mu + torch.randn_like(mu)

    def _blurred(self, images: Tensor, index: int) -> Tensor:
        kernel = getattr(self, f"blur{index}").to(images.dtype)
        pad = kernel.shape[-1] // 2
        channels = images.shape[1]
        padded = F.pad(images, (pad,) * 4, mode="reflect")
        return F.conv2d(padded, kernel.expand(channels, 1, *kernel.shape), groups=channels)

    def background_term(self, a: Tensor, b: Tensor) -> Tensor:
        """Σ λ_σ ‖B_σ(a) − B_σ(b)‖₁ (eq. 2.13), each a mean absolute difference."""
        return sum(w * F.l1_loss(self._blurred(a, i), self._blurred(b, i))
                   for i, w in enumerate(self.blur_weights))

    # ------------------------------------------------------------ the generator's terms

    def forward(self, source: Tensor, restored: Tensor, clean: Tensor) -> Tensor:
        if "_net" not in self.__dict__:
            raise ConfigError("lir: no generator attached",
                              hint="the training engine attaches the LIR generator")
        net, to_net = self._net, self._to_net
        if clean.shape[-2:] != source.shape[-2:]:
            raise ConfigError(
                f"lir: the clean-domain crop {tuple(clean.shape[-2:])} and the input "
                f"{tuple(source.shape[-2:])} differ in size",
                hint="use unpaired data with generator_input = 'bicubic'")
        x, y, x_to_y = to_net(source), to_net(clean), to_net(restored)
        for part in (self.d_x, self.d_r):
            part.requires_grad_(False)  # the generator's terms do not train D_X, D_R
        try:
            z_x, z_y = net.enc_x(x), net.enc_y(y)
            mu_x, n_x = self._noise_code(x)
            y_to_x = net.degrade(z_y, n_x)  # ỹ: y with x's degradation
            mu_cyc, n_cyc = self._noise_code(y_to_x)
            x_hat = net.degrade(net.enc_y(x_to_y), n_cyc)
            y_hat = net.gen_y(net.enc_x(y_to_x))
            terms = {
                "cycle": F.l1_loss(x_hat, x) + F.l1_loss(y_hat, y),
                "reconstruction": (F.l1_loss(net.degrade(z_x, n_x), x)
                                   + F.l1_loss(net.gen_y(z_y), y)),
                "kl": kl_term(mu_x) + kl_term(mu_cyc),
                "adversarial": (self.d_x(y_to_x) - 1.0).pow(2).mean(),
                "representation": ((self.d_r(z_x) - 0.5).pow(2).mean()
                                   + (self.d_r(z_y) - 0.5).pow(2).mean()),
                "background": (self.background_term(x, x_to_y)
                               + self.background_term(y, y_to_x)),
            }
        finally:
            for part in (self.d_x, self.d_r):
                part.requires_grad_(True)
        self._fakes = (y_to_x.detach(), z_x.detach(), z_y.detach())
        self.last_terms = {k: float(v.detach()) for k, v in terms.items()}
        return sum(self.weights[k] * v.float() for k, v in terms.items())

    # ------------------------------------------------------------ D_X and D_R

    def structure_step(self, source: Tensor, output: Tensor, other: Tensor) -> Tensor:
        """D_X's LSGAN loss (real x against ỹ) plus half D_R's (E_X's codes against
        E_Y's), on the tensors of this step's generator pass (made again without
        gradients if there was none)."""
        del output
        x = self._to_net(source.detach())
        if self._fakes is None:
            with torch.no_grad():
                z_x, z_y = self._net.enc_x(x), self._net.enc_y(self._to_net(other))
                y_to_x = self._net.degrade(z_y, self._noise_code(x)[1])
        else:
            y_to_x, z_x, z_y = self._fakes
        self._fakes = None
        d_x = _lsgan_d(self.d_x(x), self.d_x(y_to_x))
        d_r = _lsgan_d(self.d_r(z_x), self.d_r(z_y))
        return d_x + 0.5 * d_r

    # ------------------------------------------------------------ checkpoints

    def state_dict(self, *args, **kwargs):  # D_X and D_R (no blur kernels)
        return nn.ModuleDict({"d_x": self.d_x, "d_r": self.d_r}).state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        parts = nn.ModuleDict({"d_x": self.d_x, "d_r": self.d_r})
        return parts.load_state_dict(state_dict, strict, assign)
