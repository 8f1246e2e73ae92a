"""The label-guided term of [S2]'s SRGAN: a frozen classifier's cross-entropy on SR.

[S2] adds the cross-entropy of a pretrained classifier on the generated images
against the images' labels to the SRGAN losses, with its weight a hyper-parameter. In
semsr the classifier is the bundled defect classifier (trained on the simulator's
labelled defects, ``benchmarks/train_defect_classifier.py``) and the label of a
training sample is its HR tile's defect class, from the pair's labelled mask
(:mod:`semsr_core.data.tile_labels`: dominant defect by area, or "none"). The engine
passes the batch's labels (``"label"``) to losses of role ``TILE_LABELS``; tiles of
pairs without a mask carry :data:`~semsr_core.data.tile_labels.UNLABELLED` and are
left out. The classifier's weights never change: they are frozen and in no optimiser.

[S2] also adds the term to the discriminator's loss; the classifier's output on SR
does not depend on the discriminator's weights, so there it would be a constant that
changes no gradient, and semsr adds it to the generator's loss only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from semsr_core.data.tile_labels import UNLABELLED
from semsr_core.errors import ConfigError
from semsr_core.losses.roles import Loss, LossRole


class DefectClassLoss(Loss):
    """Cross-entropy of the frozen defect classifier ``model`` on SR against the tiles'
    classes: ``mean_i −log softmax(f(sr_i))[y_i]`` over the labelled tiles (0 when none
    of the batch is labelled).

    Args:
        model: the classifier's name or file (``defect-classifier``: the bundled one).
    """

    role = LossRole.TILE_LABELS

    def __init__(self, model: str = "defect-classifier"):
        super().__init__()
        from semsr_core.models.classifier import load_classifier

        loaded = load_classifier(model)
        self.classes = loaded.classes
        self.classifier = loaded.network  # eval mode, requires_grad False

    def train(self, mode: bool = True) -> DefectClassLoss:
        super().train(mode)
        self.classifier.eval()  # frozen: never in training mode
        return self

    def forward(self, sr: Tensor, labels: Tensor) -> Tensor:
        if labels.ndim != 1 or labels.shape[0] != sr.shape[0]:
            raise ConfigError(f"defect_class: {tuple(labels.shape)} labels for a batch of "
                              f"{sr.shape[0]} images", hint="Give one class per image.")
        labels = labels.to(device=sr.device, dtype=torch.int64)
        if not bool((labels != UNLABELLED).any()):
            return sr.sum() * 0.0
        logits = self.classifier(sr.float())
        return F.cross_entropy(logits, labels, ignore_index=UNLABELLED)
