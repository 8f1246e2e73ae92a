"""MoNCE: PatchNCE with negatives re-weighted by optimal transport ([S1] App. A.2).

After Zhan et al. 2022, "Modulated contrast for versatile image synthesis", and
their CUT_MoNCE code, whose defaults [S1] used. The weight of negative pair (i, j) is
the Sinkhorn transport plan between the query set and the key set (eq. A.9–A.11),
scaled so that each query's negatives weigh N − 1 in all (eq. A.7 with Q = 1). The
Gibbs kernel of the plan is exp(q_i·k_j / β) for unpaired translation (``"hard"``:
more weight to the negatives most similar to the anchor) and exp((1 − q_i·k_j) / β)
for paired translation (``"easy"``); the diagonal (the positive) is masked out. The
plan is computed on detached features: it weights the loss, it is not trained.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from semsr_core.errors import ConfigError
from semsr_core.losses.patchnce import PatchNCELoss

_MASKED = -10.0  # the diagonal's kernel exponent and logit in the authors' code


def sinkhorn(kernel: Tensor, iterations: int = 50) -> Tensor:
    """Scale the positive B×N×N ``kernel`` to a plan whose rows and columns sum to 1
    (Cuturi 2013): alternately normalise rows (u) and columns (v)."""
    b, n, m = kernel.shape
    u = kernel.new_ones(b, n)
    v = kernel.new_ones(b, m)
    ratio = m / n
    for _ in range(iterations):
        u = ratio / torch.bmm(kernel, v.unsqueeze(-1)).squeeze(-1)
        v = 1.0 / torch.bmm(u.unsqueeze(1), kernel).squeeze(1)
    return u.unsqueeze(-1) * kernel * v.unsqueeze(1)


def transport_weights(queries: Tensor, keys: Tensor, cost_type: str = "hard",
                      beta: float = 1.0, iterations: int = 50) -> Tensor:
    """The plan between B×N×D ``queries`` and ``keys`` (L2-normalised): B×N×N, rows and
    columns summing to 1, ≈ 0 on the diagonal."""
    similarity = torch.bmm(queries, keys.transpose(1, 2))
    exponent = similarity if cost_type == "hard" else 1.0 - similarity
    eye = torch.eye(similarity.shape[-1], dtype=torch.bool, device=similarity.device)
    exponent = exponent.masked_fill(eye, _MASKED)
    return sinkhorn(torch.exp(exponent / beta), iterations)


class MoNCELoss(PatchNCELoss):
    """Modulated PatchNCE. The arguments of :class:`PatchNCELoss`, and:

    Args:
        cost_type: ``"hard"`` (unpaired; the authors' CUT default) or ``"easy"`` (paired).
        beta: β, the temperature of the transport kernel (``eps`` = 1.0 in the code).
        neg_weight: Q of eq. A.7, the total weight of the negatives (1.0).
        iterations: Sinkhorn iterations (50).
    """

    def __init__(self, num_layers: int = 5, num_patches: int = 256, temperature: float = 0.07,
                 mlp_dim: int = 256, layers: Sequence[int] | None = None,
                 identity: bool = False, keys: str = "input", cost_type: str = "hard",
                 beta: float = 1.0, neg_weight: float = 1.0, iterations: int = 50):
        super().__init__(num_layers, num_patches, temperature, mlp_dim, layers, identity, keys)
        if cost_type not in ("hard", "easy"):
            raise ConfigError(f"monce: unknown cost_type {cost_type!r}",
                              hint="'hard' for unpaired translation, 'easy' for paired")
        if not beta > 0 or not neg_weight > 0:
            raise ConfigError(f"monce: beta and neg_weight must be > 0, got {beta!r}, "
                              f"{neg_weight!r}")
        if not isinstance(iterations, int) or iterations < 1:
            raise ConfigError(f"monce: iterations must be ≥ 1, got {iterations!r}")
        self.cost_type, self.beta = cost_type, float(beta)
        self.neg_weight, self.iterations = float(neg_weight), iterations

    def layer_loss(self, queries: Tensor, keys: Tensor) -> Tensor:
        n, count = queries.shape[:2]
        exact = torch.promote_types(queries.dtype, torch.float32)  # not in bf16/fp16
        with torch.no_grad():
            plan = transport_weights(queries.detach().to(exact), keys.detach().to(exact),
                                     self.cost_type, self.beta, self.iterations)
            weights = plan * (count - 1) * self.neg_weight + 1e-8
        similarity = torch.bmm(queries, keys.transpose(1, 2))  # N × S × S
        eye = torch.eye(count, dtype=torch.bool, device=queries.device)
        positives = similarity.diagonal(dim1=1, dim2=2).unsqueeze(-1)  # N × S × 1
        # log w is added to the negatives' logits: exp(sim/τ + log w) = w·exp(sim/τ)
        negatives = (similarity.masked_fill(eye, _MASKED) / self.temperature
                     + torch.log(weights).to(similarity.dtype))
        logits = torch.cat([positives / self.temperature, negatives], dim=-1)
        targets = torch.zeros(n * count, dtype=torch.long, device=queries.device)
        return F.cross_entropy(logits.flatten(0, 1), targets)
