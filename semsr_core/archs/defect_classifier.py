"""A small defect classifier: which defect (or none) an SEM tile shows.

Not a super-resolution network: it takes one grayscale tile in [0, 1] of any size and
returns one logit per class (class 0 = "no defect", then the simulator's defect kinds,
:data:`semsr_core.data.tile_labels.DEFECT_CLASSES`). The tile is standardised first
(its own mean and standard deviation), so the classifier judges shapes, not a
microscope's contrast. Then ``depth`` stages of two 3×3 convolutions with LeakyReLU,
each stage after the first halving the resolution; global average and global max
pooling of the last features (a defect is small: the maximum keeps it from being
averaged away by the background) feed one linear layer.

The label-guided SRGAN loss (``defect_class``) and ``semsr evaluate``'s recognisability
figures use the bundled one (``resources/models/defect-classifier.semsr``).
"""

from __future__ import annotations

import torch
from torch import nn

from semsr_core.archs.arguments import require_at_least
from semsr_core.archs.initialisation import scaled_kaiming_init


class DefectClassifier(nn.Module):
    """Tile → class logits: standardise, ``depth`` conv stages, avg+max pooling, linear.

    Args:
        in_channels: channels of the tile (1 for grayscale).
        classes: number of classes (the first is "no defect").
        features: channels of the first stage; each later stage doubles them, up to
            ``4 × features``.
        depth: number of conv stages (each after the first halves the size).
    """

    def __init__(self, in_channels: int = 1, classes: int = 6, features: int = 16,
                 depth: int = 4):
        super().__init__()
        for key, value, minimum in (("in_channels", in_channels, 1), ("classes", classes, 2),
                                    ("features", features, 1), ("depth", depth, 1)):
            require_at_least("defect_classifier", key, value, minimum)
        layers: list[nn.Module] = []
        channels = in_channels
        for stage in range(depth):
            width = features * min(2 ** stage, 4)
            layers += [nn.Conv2d(channels, width, 3, stride=1 if stage == 0 else 2, padding=1),
                       nn.LeakyReLU(0.2, inplace=True),
                       nn.Conv2d(width, width, 3, padding=1),
                       nn.LeakyReLU(0.2, inplace=True)]
            channels = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * channels, classes)
        scaled_kaiming_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        mean = flat.mean(dim=1).view(-1, 1, 1, 1)
        std = flat.std(dim=1).view(-1, 1, 1, 1)
        features = self.body((x - mean) / (std + 1e-3))
        pooled = torch.cat([features.mean(dim=(2, 3)), features.amax(dim=(2, 3))], dim=1)
        return self.head(pooled)
