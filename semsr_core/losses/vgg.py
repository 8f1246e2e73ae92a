"""VGG feature networks and the perceptual (VGG) loss ([S0] eq. 3.8; SRGAN [S2]).

The convolutional part of VGG19/VGG16 is rebuilt here with torchvision's
state-dict layout (``features.0.weight``, ``features.0.bias``, ...), so the public
ImageNet weights load without torchvision. semsr never downloads them: the user puts
the torchvision file into the weights folder (or names it), and a missing or wrong
file gets a message saying exactly what to put where.

Layers are named as in SRGAN: φ_{i,j} = the j-th convolution before the i-th
max-pool, e.g. ``"22"`` (128 channels), ``"54"`` (512 channels), taken after the
ReLU (default) or before it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semsr_core.errors import ConfigError, ModelError
from semsr_core.losses.roles import Loss, LossRole
from semsr_core.resources import user_dir

# Channels of each convolution; "M" is a 2×2 max-pool (torchvision's configs "E" and "D").
VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
              512, 512, 512, "M", 512, 512, 512, "M"],
}
# The public torchvision files (https://download.pytorch.org/models/<file>).
TORCHVISION_FILES = {"vgg19": "vgg19-dcbb9e9d.pth", "vgg16": "vgg16-397923af.pth"}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _check_arch(name: str) -> None:
    if name not in VGG_CONFIGS:
        raise ConfigError(f"unknown VGG network {name!r}", hint="use 'vgg19' or 'vgg16'")


def layer_indices(name: str = "vgg19") -> dict[str, tuple[int, int]]:
    """SRGAN layer name ``"ij"`` → (index of its conv, index of its ReLU) in ``features``."""
    _check_arch(name)
    indices: dict[str, tuple[int, int]] = {}
    block, conv, index = 1, 0, 0
    for item in VGG_CONFIGS[name]:
        if item == "M":
            block, conv = block + 1, 0
            index += 1
        else:
            conv += 1
            indices[f"{block}{conv}"] = (index, index + 1)
            index += 2
    return indices


def expected_shapes(name: str = "vgg19") -> dict[str, tuple[int, ...]]:
    """State-dict key → tensor shape of the convolutional part, torchvision layout."""
    _check_arch(name)
    shapes: dict[str, tuple[int, ...]] = {}
    in_channels, index = 3, 0
    for item in VGG_CONFIGS[name]:
        if item == "M":
            index += 1
            continue
        shapes[f"features.{index}.weight"] = (int(item), in_channels, 3, 3)
        shapes[f"features.{index}.bias"] = (int(item),)
        in_channels, index = int(item), index + 2
    return shapes


def build_vgg_features(name: str = "vgg19", up_to: int | None = None) -> nn.Sequential:
    """VGG ``features`` with torchvision's module indices, truncated after index ``up_to``.

    ReLUs are not in-place, so features taken before an activation stay intact.
    """
    _check_arch(name)
    modules: list[nn.Module] = []
    in_channels = 3
    for item in VGG_CONFIGS[name]:
        if item == "M":
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            modules += [nn.Conv2d(in_channels, int(item), kernel_size=3, padding=1), nn.ReLU()]
            in_channels = int(item)
    if up_to is not None:
        modules = modules[: up_to + 1]
    return nn.Sequential(*modules)


def _missing_weights_error(name: str) -> ModelError:
    file_name = TORCHVISION_FILES[name]
    folder = user_dir("weights")
    env = f"SEMSR_{name.upper()}_WEIGHTS"
    return ModelError(
        f"{name.upper()} weights not found: put the torchvision file {file_name} into "
        f"{folder} (or set {env} to its path)",
        hint=f"It is the public ImageNet {name} file, "
             f"https://download.pytorch.org/models/{file_name}; semsr never downloads it "
             "by itself.",
    )


def find_vgg_weights(name: str = "vgg19", path: str | os.PathLike | None = None) -> Path:
    """Where the weights are: ``path``, else ``$SEMSR_VGG19_WEIGHTS`` (``..._VGG16_...``),
    else the torchvision file (or ``<name>.safetensors``) in the user weights folder."""
    _check_arch(name)
    env = f"SEMSR_{name.upper()}_WEIGHTS"
    if path is not None:
        source, candidate = "the given path", Path(path)
    elif os.environ.get(env):
        source, candidate = env, Path(os.environ[env])
    else:
        folder = user_dir("weights")
        stem = Path(TORCHVISION_FILES[name]).stem
        for file_name in (f"{stem}.pth", f"{stem}.safetensors", f"{name}.safetensors"):
            if (folder / file_name).is_file():
                return folder / file_name
        raise _missing_weights_error(name)
    if not candidate.is_file():
        raise ModelError(
            f"{name.upper()} weights file {candidate} (from {source}) does not exist",
            hint=f"Give the path of the torchvision file {TORCHVISION_FILES[name]}; "
                 "semsr never downloads it by itself",
        )
    return candidate


def _read_state_dict(path: Path) -> Mapping:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any reader failure means: not a usable weights file
        if "Weights only load failed" in str(err):  # torch's text invites unsafe loading
            raise ModelError(f"{path} contains Python objects or code, not only weights, "
                             "and is refused for safety",
                             hint="use the torchvision file unchanged") from None
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ModelError(
            f"{path} cannot be read as a state dict of tensors ({type(err).__name__}: {first})",
            hint="use the torchvision file unchanged; files holding code are refused",
        ) from None


def load_vgg_weights(name: str = "vgg19",
                     path: str | os.PathLike | None = None) -> dict[str, Tensor]:
    """The convolutional weights of torchvision's ``vgg19``/``vgg16``, checked.

    Looks where :func:`find_vgg_weights` says, reads the file without unpickling code
    (``torch.load(..., weights_only=True)`` or safetensors) and checks every key and
    shape of the convolutional part; classifier keys are ignored. Raises
    :class:`~semsr_core.errors.ModelError` naming the file and what is missing or wrong.
    """
    file = find_vgg_weights(name, path)
    state = _read_state_dict(file)
    if not isinstance(state, Mapping):
        raise ModelError(f"{file} holds a {type(state).__name__}, not a state dict",
                         hint=f"use the torchvision file {TORCHVISION_FILES[name]}")
    expected = expected_shapes(name)
    missing = [key for key in expected if key not in state]
    wrong = [
        f"{key} is {tuple(state[key].shape) if isinstance(state[key], Tensor) else '?'}, "
        f"expected {shape}"
        for key, shape in expected.items()
        if key in state and (not isinstance(state[key], Tensor)
                             or tuple(state[key].shape) != shape)
    ]
    if missing or wrong:
        problems = []
        if missing:
            problems.append(f"missing keys: {', '.join(missing[:8])}"
                            + (f" and {len(missing) - 8} more" if len(missing) > 8 else ""))
        if wrong:
            problems.append(f"wrong shapes: {'; '.join(wrong[:8])}"
                            + (f" and {len(wrong) - 8} more" if len(wrong) > 8 else ""))
        raise ModelError(
            f"{file} is not a {name} state dict ({'; '.join(problems)})",
            hint=f"use the torchvision file {TORCHVISION_FILES[name]}",
        )
    return {key: state[key].to(torch.float32) for key in expected}


def _parse_layers(layers: str | list[str] | tuple[str, ...] | Mapping[str, float],
                  name: str, loss_name: str) -> dict[str, float]:
    if isinstance(layers, str):
        weights = {layers: 1.0}
    elif isinstance(layers, Mapping):
        weights = {str(k): float(v) for k, v in layers.items()}
    else:
        weights = {str(k): 1.0 for k in layers}
    known = layer_indices(name)
    unknown = [layer for layer in weights if layer not in known]
    if not weights or unknown:
        raise ConfigError(
            f"{loss_name}: layers {unknown or '(none)'} are not {name} layers",
            hint=f"choose from {', '.join(known)} (φ_ij: j-th conv before the i-th pool)",
        )
    return weights


class VGGFeatures(nn.Module):
    """Frozen ImageNet VGG features of images, by SRGAN layer name.

    Args:
        arch: ``"vgg19"`` or ``"vgg16"``.
        layers: SRGAN layer names to return, e.g. ``("22", "54")``.
        after_activation: take each layer after its ReLU (``True``) or before.
        value_range: the range of the images given, ``(0, 1)`` or ``(-1, 1)``; it is
            mapped to [0, 1] and then normalised with the ImageNet mean and std.
        weights: path of the weights file (see :func:`find_vgg_weights`).
        state_dict: already loaded weights (from :func:`load_vgg_weights`), instead.

    Grayscale images (C = 1) are replicated to 3 channels. The network is truncated
    after the deepest requested layer, kept in eval mode and never trained.
    """

    def __init__(self, arch: str = "vgg19", layers: str | tuple[str, ...] | list[str] = ("54",),
                 after_activation: bool = True,
                 value_range: tuple[float, float] | list[float] = (0.0, 1.0),
                 weights: str | os.PathLike | None = None,
                 state_dict: Mapping[str, Tensor] | None = None):
        super().__init__()
        names = [layers] if isinstance(layers, str) else list(layers)
        self.layers = tuple(_parse_layers(names, arch, "VGG features"))
        low, high = (float(v) for v in value_range)
        if not high > low:
            raise ConfigError(f"value_range must be (low, high) with high > low, got "
                              f"{tuple(value_range)}", hint="use (0, 1) or (-1, 1)")
        self.arch, self.after_activation, self.value_range = arch, after_activation, (low, high)
        indices = layer_indices(arch)
        self._taps = {layer: indices[layer][1 if after_activation else 0]
                      for layer in self.layers}
        self.features = build_vgg_features(arch, up_to=max(self._taps.values()))
        if state_dict is None:
            state_dict = load_vgg_weights(arch, weights)
        own = {f"features.{k}": v for k, v in self.features.state_dict().items()}
        self.load_state_dict({k: state_dict[k] for k in own}, strict=True)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGFeatures:
        """Stays in eval mode: the feature network is never trained."""
        return super().train(False)

    def preprocess(self, x: Tensor) -> Tensor:
        """Map to [0, 1], replicate grayscale to RGB, normalise with ImageNet statistics."""
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ConfigError(
                f"VGG features need N×1×H×W or N×3×H×W images, got shape {tuple(x.shape)}",
                hint="use 1 (grayscale) or 3 output channels with VGG-based losses",
            )
        low, high = self.value_range
        x = (x - low) / (high - low)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        wanted = {index: layer for layer, index in self._taps.items()}
        out: dict[str, Tensor] = {}
        h = self.preprocess(x)
        for index, module in enumerate(self.features):
            h = module(h)
            if index in wanted:
                out[wanted[index]] = h
        return out


class VGGLoss(Loss):
    """Perceptual loss: Σ_l w_l · d(φ_l(sr), φ_l(hr)) over the chosen VGG layers.

    Args:
        layers: one layer name (``"54"``), a list (equal weights 1) or a mapping
            ``{"22": 0.5, "54": 1.0}`` of layer name → weight.
        after_activation: features after (``True``, SRGAN) or before the ReLU (ESRGAN).
        criterion: ``"mse"`` (eq. 3.8 of [S0]) or ``"l1"``.
        value_range, weights, arch: as for :class:`VGGFeatures`.
    """

    role = LossRole.PIXEL

    def __init__(self, layers: str | list[str] | Mapping[str, float] = "54",
                 after_activation: bool = True, criterion: str = "mse",
                 value_range: tuple[float, float] | list[float] = (0.0, 1.0),
                 weights: str | os.PathLike | None = None, arch: str = "vgg19"):
        super().__init__()
        _check_arch(arch)
        self.layer_weights = _parse_layers(layers, arch, "vgg")
        criteria = {"mse": F.mse_loss, "l1": F.l1_loss}
        if criterion not in criteria:
            raise ConfigError(f"vgg: unknown criterion {criterion!r}", hint="use 'mse' or 'l1'")
        self.criterion = criterion
        self._distance = criteria[criterion]
        self.net = VGGFeatures(arch, tuple(self.layer_weights), after_activation,
                               value_range, weights)

    def forward(self, sr: Tensor, hr: Tensor) -> Tensor:
        sr_features = self.net(sr)
        with torch.no_grad():
            hr_features = self.net(hr)
        total = sr.new_zeros(())
        for layer, weight in self.layer_weights.items():
            total = total + weight * self._distance(sr_features[layer], hr_features[layer])
        return total
