"""Model files: a generator plus its model card.

A ``.semsr`` model is one safetensors file: the generator's weights as tensors and
the JSON model card in the safetensors header metadata under the key
``"semsr.card"``. Loading never unpickles. The card says how to rebuild the
generator (``arch`` + ``config`` through :func:`semsr_core.archs.build`, where the
config's keys are the constructor's arguments) and how to feed it
(``normalization``, ``value_range``).

Community ESRGAN / Real-ESRGAN / BasicSR ``.pth`` files are imported with
:func:`import_pth`: they are read with ``torch.load(weights_only=True)`` (a file
that holds code or Python objects is refused), and the architecture, scale and
channels are detected from the state-dict keys.

Models are named by a path or by a name; a name resolves to
``<user models folder>/<name>.semsr`` and then to the bundled
``resources/models/<name>.semsr``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from semsr_core.errors import ConfigError, ModelError, OutputError
from semsr_core.io.write import atomic_destination, check_output_folder

if TYPE_CHECKING:
    import torch
    from torch import nn

MODEL_SUFFIX = ".semsr"
CARD_KEY = "semsr.card"
FORMAT_KEY = "semsr.format"
FORMAT_VERSION = "1"
CHECKSUM_KEY = "semsr.sha256"
"""Header key of the SHA-256 of the card and the weights (:func:`weights_digest`)."""
IMPLAUSIBLE_WEIGHT = 1e6
"""A weight of this magnitude or more is taken for a damaged file (trained networks'
weights are a few units at most; a flipped exponent bit gives 1e30 and more)."""
SAFETENSORS_SUFFIXES = (".semsr", ".safetensors")
PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt")
NORMALIZATION_MODES = ("auto", "dtype", "percentile")


# ------------------------------------------------------------------ model card


@dataclass
class ModelCard:
    """Everything needed to rebuild, feed and judge a generator.

    arch: registered architecture name (:func:`semsr_core.archs.build`).
    config: the architecture constructor's arguments, including ``scale``,
        ``in_channels`` and ``out_channels`` where the architecture takes them.
    normalization: how input intensities map to [0, 1] before ``value_range``:
        ``{"mode": "auto"}`` — the intensity policy of :mod:`semsr_core.io.intensity`
        (integers that use their range by the dtype, floats and narrow integers by
        robust percentiles, per stack); ``{"mode": "percentile", "low": 0.1,
        "high": 99.9}`` — percentiles for every dtype. ``"dtype"`` (older cards)
        reads as ``"auto"``.
    value_range: the generator's input/output range, ``(0.0, 1.0)`` or ``(-1.0, 1.0)``
        (tanh heads).
    recipe, training, metrics: how the model was made and how well it did.
    source: where imported weights came from (``file``, ``format``, ``sha256``).
    extra: card keys this version of semsr does not know (kept so that a round trip
        through an older semsr loses nothing).
    """

    arch: str
    config: dict[str, Any] = field(default_factory=dict)
    scale: int = 4
    in_channels: int = 1
    out_channels: int = 1
    normalization: dict[str, Any] = field(default_factory=lambda: {"mode": "auto"})
    value_range: tuple[float, float] = (0.0, 1.0)
    name: str = ""
    description: str = ""
    recipe: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    semsr_version: str = ""
    created: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["value_range"] = list(self.value_range)
        extra = data.pop("extra")
        return {**extra, **data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any, path: str | os.PathLike | None = None) -> ModelCard:
        """Validate a card read from a file; errors name the file and the key."""
        if not isinstance(data, dict):
            raise ModelError("the model card is not a JSON object", path=path,
                             hint="Re-export the model with `semsr models export`.")
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known}

        def bad(key: str, what: str) -> ModelError:
            return ModelError(f"model card key '{key}' {what}", path=path,
                              hint="The file was damaged or written by another program; "
                                   "re-export or re-import the model.")

        if not isinstance(values.get("arch"), str) or not values["arch"]:
            raise bad("arch", "is missing or not a name")
        for key in ("scale", "in_channels", "out_channels"):
            value = values.get(key, getattr(cls, key, None))
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(key, f"must be a whole number ≥ 1, not {value!r}")
        for key in ("config", "normalization", "training", "metrics", "source"):
            if key in values and not isinstance(values[key], dict):
                raise bad(key, "must be a JSON object")
        for key in ("name", "description", "recipe", "semsr_version", "created"):
            if key in values and not isinstance(values[key], str):
                raise bad(key, "must be a string")
        config = values.get("config", {})
        for key in ("scale", "in_channels", "out_channels"):
            if key in config and key in values and config[key] != values[key]:
                raise bad(f"config.{key}",
                          f"is {config[key]!r} but the card's {key} is {values[key]!r}")
        norm = values.get("normalization", {"mode": "auto"})
        if norm.get("mode") not in NORMALIZATION_MODES:
            raise bad("normalization.mode",
                      f"must be one of {NORMALIZATION_MODES}, not {norm.get('mode')!r}")
        if norm["mode"] == "percentile":
            low, high = norm.get("low"), norm.get("high")
            if (not all(isinstance(v, int | float) and not isinstance(v, bool)
                        for v in (low, high)) or not 0 <= low < high <= 100):
                raise bad("normalization", "with mode 'percentile' needs numbers "
                          f"0 ≤ low < high ≤ 100, not low={low!r}, high={high!r}")
        if "value_range" in values:
            vr = values["value_range"]
            if (not isinstance(vr, list | tuple) or len(vr) != 2
                    or not all(isinstance(v, int | float) for v in vr) or not vr[0] < vr[1]):
                raise bad("value_range", f"must be [low, high] with low < high, not {vr!r}")
            values["value_range"] = (float(vr[0]), float(vr[1]))
        return cls(**values, extra=extra)


# ----------------------------------------------------------------------- model


class Model:
    """A generator network with its model card: what inference and training hand around.

    ``Model.create(arch, scale=...)`` makes a freshly initialised one,
    :func:`load_model` reads one from a file or a name, :meth:`save` writes it.
    """

    def __init__(self, generator: nn.Module, card: ModelCard, path: Path | None = None):
        self.generator = generator
        self.card = card
        self.path = path  # the file it was loaded from or last saved to, if any

    @classmethod
    def create(cls, arch: str, scale: int = 4, in_channels: int = 1, out_channels: int = 1,
               *, name: str = "", **config: Any) -> Model:
        """A freshly initialised model of a registered architecture.

        ``config`` holds the architecture's own arguments (e.g. ``blocks=23`` for
        ``rrdbnet``); a wrong name or key raises :class:`ConfigError`. ``scale`` and
        the channels go to the constructor when it takes them (a network that works
        at the output size takes no ``scale``; the card still records it).
        """
        import inspect

        from semsr_core import __version__, archs

        arch_spec = archs.spec(arch)
        accepted = inspect.signature(arch_spec.cls).parameters
        common = {"in_channels": in_channels, "out_channels": out_channels, "scale": scale}
        full = {**{k: v for k, v in common.items() if k in accepted}, **config}
        generator = archs.build(arch, **full)
        card = ModelCard(arch=arch, config=full, scale=scale, in_channels=in_channels,
                         out_channels=out_channels, value_range=tuple(arch_spec.value_range),
                         name=name, semsr_version=__version__, created=_now())
        return cls(generator, card)

    # properties a user asks about
    @property
    def scale(self) -> int:
        return self.card.scale

    @property
    def in_channels(self) -> int:
        return self.card.in_channels

    @property
    def out_channels(self) -> int:
        return self.card.out_channels

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def arch_spec(self):
        """The architecture's :class:`semsr_core.archs.ArchSpec` (value range, sizes)."""
        from semsr_core import archs

        return archs.spec(self.card.arch)

    @property
    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.generator.parameters())

    def to(self, device: str | torch.device) -> Model:
        self.generator.to(device)
        return self

    def __repr__(self) -> str:
        return (f"Model(name={self.name!r}, arch={self.card.arch!r}, scale={self.scale}, "
                f"channels={self.in_channels}→{self.out_channels})")

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model as one ``.semsr`` file (weights + card), atomically.

        The file appears under its final name only once completely written.
        """
        from safetensors.torch import save_file

        path = Path(path)
        if path.suffix.lower() not in SAFETENSORS_SUFFIXES:
            raise OutputError(f"a model file must end in '{MODEL_SUFFIX}'", path=path,
                              hint=f"Use a name like '{path.stem}{MODEL_SUFFIX}'.")
        check_output_folder(path)  # "out/m.semsr" where out is a file: say so
        if not path.parent.is_dir():
            raise OutputError("the folder does not exist", path=path.parent,
                              hint="Create it first or choose another destination.")
        if not self.card.semsr_version:
            from semsr_core import __version__

            self.card.semsr_version = __version__
        if not self.card.created:
            self.card.created = _now()
        tensors = {k: v.detach().to("cpu").contiguous().clone()
                   for k, v in self.generator.state_dict().items()}
        card_text = self.card.to_json()
        metadata = {CARD_KEY: card_text, FORMAT_KEY: FORMAT_VERSION,
                    CHECKSUM_KEY: weights_digest(card_text, tensors)}
        needed = sum(t.numel() * t.element_size() for t in tensors.values()) + len(card_text)
        with atomic_destination(path, needed=needed) as tmp:  # SafetensorError: OutputError
            save_file(tensors, str(tmp), metadata=metadata)
        self.path = path
        return path


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ------------------------------------------------------------- finding models


@dataclass(frozen=True)
class ModelEntry:
    """One model file found by :func:`list_models`.

    ``problem`` is empty for a usable file and otherwise says why it cannot be read
    (the file is still listed, so the user can see and remove it).
    """

    name: str
    path: Path
    origin: str  # "user" or "bundled"
    arch: str
    scale: int | None
    size_mb: float
    problem: str = ""
    hidden_by: str = ""  # the user model of the same name that wins over this bundled one


def user_models_dir() -> Path:
    """The per-user models folder (imported and trained models)."""
    from semsr_core.resources import user_dir

    return user_dir("models")


def bundled_models_dir() -> Path:
    """The models shipped with semsr (``resources/models``)."""
    from semsr_core.resources import resource_path

    return resource_path("models")


def _model_folders() -> list[tuple[str, Path]]:
    return [("user", user_models_dir()), ("bundled", bundled_models_dir())]


def list_models(hidden: bool = False) -> list[ModelEntry]:
    """Every ``.semsr`` file in the user models folder, then the bundled ones.

    A user model with the same name as a bundled one hides it (names resolve to the
    user's first), so the bundled one is not listed; with ``hidden=True`` it is, with
    ``hidden_by`` naming the file that wins (``semsr models list`` shows both).
    """
    entries: list[ModelEntry] = []
    seen: dict[str, Path] = {}
    for origin, folder in _model_folders():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"*{MODEL_SUFFIX}")):
            winner = seen.get(path.stem)
            if winner is not None and not hidden:
                continue
            seen.setdefault(path.stem, path)
            size_mb = path.stat().st_size / 1e6
            shadow = "" if winner is None else str(winner)
            try:
                card = read_card(path)
            except ModelError as exc:
                entries.append(ModelEntry(path.stem, path, origin, "?", None, size_mb,
                                          problem=str(exc), hidden_by=shadow))
                continue
            entries.append(ModelEntry(path.stem, path, origin, card.arch, card.scale, size_mb,
                                      hidden_by=shadow))
    return entries


DEFAULT_MODEL = "default-x4"
"""The bundled model used when the user has no model of their own."""


def preferred_model(entries: list[ModelEntry] | None = None) -> ModelEntry | None:
    """The model the Super-resolve panel selects until the user chooses one.

    The lab's own first: the first usable user model; else the bundled
    :data:`DEFAULT_MODEL`; else the first usable model (``None`` when there is none).
    ``semsr models list`` marks it.
    """
    usable = [e for e in (list_models() if entries is None else entries) if not e.problem]
    for entry in usable:
        if entry.origin == "user":
            return entry
    return next((e for e in usable if e.name == DEFAULT_MODEL), usable[0] if usable else None)


def resolve_model(path_or_name: str | os.PathLike) -> Path:
    """The file of a model given by path or by name (user models first, then bundled)."""
    text = os.fspath(path_or_name)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    looks_like_path = (os.sep in text or (os.altsep and os.altsep in text)
                       or path.suffix.lower() in SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES)
    if looks_like_path:
        if path.is_dir():
            raise ModelError("is a folder, not a model file", path=path,
                             hint=f"Give a '{MODEL_SUFFIX}' file.")
        raise ModelError("model file not found", path=path,
                         hint="Check the path, or give the name of an installed model "
                              "(`semsr models list`).")
    for _origin, folder in _model_folders():
        candidate = folder / f"{text}{MODEL_SUFFIX}"
        if candidate.is_file():
            return candidate
    names = sorted({e.name for e in list_models()})
    available = ", ".join(names) if names else "none installed"
    raise ModelError(f"no model named '{text}' (available: {available})",
                     hint="Import one with `semsr models import FILE.pth` or give a file path.")


# --------------------------------------------------------------- reading files


def read_card(path: str | os.PathLike) -> ModelCard:
    """The model card of a ``.semsr`` file, without reading its weights."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            metadata = fh.metadata() or {}
    except FileNotFoundError as exc:
        raise ModelError("model file not found", path=path) from exc
    except Exception as exc:  # SafetensorError: not safetensors, truncated, corrupt
        raise ModelError(f"not a readable model file ({_short(exc)})", path=path,
                         hint="The file is corrupt, truncated or of another format; copy it "
                              "again or re-export it.") from exc
    return _card_from_metadata(metadata, path)


def _card_from_metadata(metadata: dict[str, str], path: Path) -> ModelCard:
    text = metadata.get(CARD_KEY)
    if text is None:
        raise ModelError("the file has weights but no semsr model card", path=path,
                         hint="Plain safetensors weights can be loaded by giving a "
                              "'.safetensors' file; a '.semsr' file must be written by semsr.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"the model card is not valid JSON ({exc})", path=path,
                         hint="The file was damaged; re-export the model.") from exc
    return ModelCard.from_dict(data, path=path)


def load_model(path_or_name: str | os.PathLike, device: str | torch.device = "cpu") -> Model:
    """Load a model by file path or name, ready for inference (eval mode) on ``device``.

    ``.semsr`` files (and ``.safetensors`` with a semsr card) are read with
    safetensors and never unpickled. Plain ``.safetensors`` and ``.pth``/``.pt``
    ESRGAN/Real-ESRGAN/BasicSR weights are imported (architecture detected from the
    keys); ``.pth`` files are read with ``torch.load(weights_only=True)``.
    """
    path = resolve_model(path_or_name)
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES and not _is_safetensors(path):  # the content decides
        model = import_pth(path)
    else:
        model = _load_safetensors(path)
    if not model.card.name:
        model.card.name = path.stem
    model.path = path
    model.generator.to(device).eval()
    return model


def _load_safetensors(path: Path, scale: int | None = None) -> Model:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            metadata = fh.metadata() or {}
            state = {k: fh.get_tensor(k) for k in fh.keys()}
    except MemoryError:
        raise
    except Exception as exc:  # SafetensorError: not safetensors, truncated, corrupt
        raise ModelError(f"not a readable model file ({_short(exc)})", path=path,
                         hint="The file is corrupt, truncated or of another format; copy it "
                              "again or re-export it.") from exc
    if CARD_KEY not in metadata and path.suffix.lower() != MODEL_SUFFIX:
        return _import_state_dict(state, path, fmt="safetensors", scale=scale)
    card = _card_from_metadata(metadata, path)
    model = _assemble(card, state, path)
    _check_digest(metadata, state, path)
    return model


def _assemble(card: ModelCard, state: dict[str, torch.Tensor], path: Path) -> Model:
    """Build the card's generator and load ``state`` into it, or explain the mismatch."""
    from semsr_core import archs

    try:
        generator = archs.build(card.arch, **card.config)
    except ConfigError as exc:
        raise ModelError(f"the model card describes a network semsr cannot build ({exc})",
                         path=path, hint="The model may need a newer semsr version.") from exc
    load_weights(generator, state, path)
    check_weights(state, path)
    return Model(generator, card)


def check_weights(state: dict[str, torch.Tensor], path: str | os.PathLike | None = None) -> None:
    """Refuse weights that no trained network has: NaN, infinity, or magnitudes of
    :data:`IMPLAUSIBLE_WEIGHT` and more (what flipped bytes in a file give)."""
    import torch

    for key, value in state.items():
        if not value.is_floating_point() or value.numel() == 0:
            continue
        values = value.detach().float()
        finite = torch.isfinite(values)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise ModelError(f"weight '{key}' holds {bad} NaN or infinite value(s)",
                             path=path, hint=_DAMAGED)
        largest = float(values.abs().max())
        if largest >= IMPLAUSIBLE_WEIGHT:
            raise ModelError(f"weight '{key}' holds a value of {largest:.3g}, far beyond "
                             "what a trained network holds", path=path, hint=_DAMAGED)


_DAMAGED = ("The file is damaged or the training diverged; copy or download it again, or "
            "use another model.")


def weights_digest(card_text: str, state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a model card's JSON text and the weights (names, types, shapes, bytes),
    recorded in a ``.semsr`` file's header under :data:`CHECKSUM_KEY` when it is saved."""
    import torch

    digest = hashlib.sha256(card_text.encode("utf-8"))
    for key in sorted(state):
        tensor = state[key].detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"\0{key}\0{state[key].dtype}\0{tuple(state[key].shape)}\0".encode())
        digest.update(tensor.view(torch.uint8).numpy())
    return digest.hexdigest()


def _check_digest(metadata: dict[str, str], state: dict[str, torch.Tensor],
                  path: Path) -> None:
    """Compare the weights with the checksum saved with them (files written before
    semsr recorded one have none and are checked by :func:`check_weights` only)."""
    recorded = metadata.get(CHECKSUM_KEY)
    if recorded is None:
        return
    if recorded != weights_digest(metadata.get(CARD_KEY, ""), state):
        raise ModelError("the weights or the model card differ from what was saved (the "
                         "checksum in the file does not match): the file is damaged",
                         path=path, hint="Copy or download it again, or re-export it from "
                                         "the original with `semsr models export`.")


def load_weights(generator: nn.Module, state: dict[str, torch.Tensor],
                 path: str | os.PathLike | None = None) -> None:
    """Load ``state`` into ``generator`` exactly, or raise a ModelError that says in words
    which weights are missing, unexpected or of the wrong shape."""
    import torch

    own = generator.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k} (file {tuple(state[k].shape)}, network {tuple(own[k].shape)})"
                  for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or mismatched:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected),
                            ("of the wrong shape", mismatched)):
            if keys:
                parts.append(f"{len(keys)} {label}: {_first(keys)}")
        raise ModelError("the weights do not fit the network described by the model card; "
                         + "; ".join(parts), path=path,
                         hint="The file was damaged or its card edited; re-export the model.")
    converted = {}
    for key, value in state.items():
        target = own[key]
        converted[key] = value.to(target.dtype) if value.is_floating_point() else value
    with torch.no_grad():
        generator.load_state_dict(converted, strict=True)


def _first(keys: list[str], n: int = 4) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f", … (+{len(keys) - n} more)" if len(keys) > n else "")


def _short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# ------------------------------------------------------- importing .pth weights


def import_pth(path: str | os.PathLike, name: str = "", scale: int | None = None) -> Model:
    """Import ESRGAN / Real-ESRGAN / BasicSR RRDBNet weights from a ``.pth`` file.

    The file is read with ``torch.load(weights_only=True)``: a file that would create
    Python objects or run code is refused. Wrappers (``params_ema`` preferred over
    ``params``, ``state_dict``), the ``module.`` prefix of DataParallel, and the old
    ESRGAN key names (``RRDB_trunk``/``trunk_conv``/``upconv``/``HRconv`` and the
    oldest ``model.N`` layout) are understood. ``scale`` is detected; give it only
    to settle an ambiguous pixel-unshuffle factor.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelError("weights file not found", path=path, hint="Check the path.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if "Weights only load failed" in str(exc):  # torch's text invites unsafe loading
            raise ModelError(
                "the file contains Python objects or code, not only weights, and is refused "
                "for safety", path=path,
                hint="Ask its authors for a plain state dict or a safetensors file.") from None
        raise ModelError("not a readable PyTorch weights file (corrupt, truncated or another "
                         "format)", path=path,
                         hint="Download or copy the file again.") from None
    state = _unwrap_state_dict(payload, path)
    return _import_state_dict(state, path, fmt="pth", name=name, scale=scale)


def _is_safetensors(path: Path) -> bool:
    """Whether a file is safetensors by its content (an 8-byte header length, then a
    JSON header), whatever its name says: a ``.semsr`` renamed ``.pth`` is still one."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
            size = path.stat().st_size
    except OSError:
        return False
    if len(head) < 9:
        return False
    length = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 0 < length <= size - 8


def _unwrap_state_dict(payload: Any, path: Path) -> dict[str, torch.Tensor]:
    import torch

    if isinstance(payload, dict):
        for key in ("params_ema", "params", "state_dict", "model_state_dict"):
            if isinstance(payload.get(key), dict):
                payload = payload[key]
                break
    if not isinstance(payload, dict) or not payload:
        raise ModelError(f"the file holds a {type(payload).__name__}, not a state dict of "
                         "weights", path=path, hint="Give an ESRGAN/Real-ESRGAN/BasicSR .pth.")
    tensors = {k: v for k, v in payload.items() if isinstance(k, str) and torch.is_tensor(v)}
    if not tensors:
        raise ModelError("the file holds no weight tensors (keys: "
                         f"{_first([str(k) for k in payload])})", path=path,
                         hint="Give an ESRGAN/Real-ESRGAN/BasicSR generator .pth.")
    return tensors


_OLD_RRDB = re.compile(r"^RRDB_trunk\.(\d+)\.RDB([123])\.(conv[1-5])\.(weight|bias)$")
_OLDEST_RRDB = re.compile(r"^model\.1\.sub\.(\d+)\.RDB([123])\.(conv[1-5])\.0\.(weight|bias)$")
_OLDEST_LR = re.compile(r"^model\.1\.sub\.(\d+)\.(weight|bias)$")
_OLDEST_TOP = re.compile(r"^model\.(\d+)\.(weight|bias)$")
_UPCONV = re.compile(r"^upconv(\d+)\.(weight|bias)$")
_RENAMES = {"trunk_conv": "conv_body", "HRconv": "conv_hr"}


def rrdb_public_keys(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    """Rename an RRDBNet state dict to the public BasicSR/Real-ESRGAN key names.

    Returns the renamed dict and the layout found: ``"basicsr"`` (already public),
    ``"esrgan"`` (``RRDB_trunk``/``trunk_conv``/``upconv``/``HRconv``) or
    ``"esrgan-oldest"`` (``model.0``, ``model.1.sub.N.RDB1.conv1.0``, ...).
    """
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if any(k.startswith("model.1.sub.") for k in state):
        return _rename_oldest(state), "esrgan-oldest"
    if any(k.startswith(("RRDB_trunk.", "trunk_conv.")) for k in state):
        renamed = {}
        for key, value in state.items():
            if m := _OLD_RRDB.match(key):
                key = f"body.{m[1]}.rdb{m[2]}.{m[3]}.{m[4]}"
            elif m := _UPCONV.match(key):
                key = f"conv_up{m[1]}.{m[2]}"
            else:
                head, _, tail = key.partition(".")
                key = f"{_RENAMES.get(head, head)}.{tail}"
            renamed[key] = value
        return renamed, "esrgan"
    return state, "basicsr"


def _rename_oldest(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The original ESRGAN ``architecture.py`` layout: one flat ``model`` Sequential."""
    renamed: dict[str, torch.Tensor] = {}
    tops: dict[int, list[tuple[str, torch.Tensor]]] = {}
    for key, value in state.items():
        if m := _OLDEST_RRDB.match(key):
            renamed[f"body.{m[1]}.rdb{m[2]}.{m[3]}.{m[4]}"] = value
        elif m := _OLDEST_LR.match(key):
            renamed[f"conv_body.{m[2]}"] = value
        elif m := _OLDEST_TOP.match(key):
            tops.setdefault(int(m[1]), []).append((m[2], value))
        else:
            renamed[key] = value  # reported as unrecognised by the detector
    # model.0 is conv_first; after model.1 come the up-convolutions, then conv_hr and
    # conv_last (the activations and nn.Upsample in between hold no weights).
    order = sorted(i for i in tops if i != 0)
    names = {0: "conv_first"}
    if len(order) >= 2:
        names[order[-1]] = "conv_last"
        names[order[-2]] = "conv_hr"
        for n, index in enumerate(order[:-2], start=1):
            names[index] = f"conv_up{n}"
    for index, items in tops.items():
        for kind, value in items:
            renamed[f"{names.get(index, f'model.{index}')}.{kind}"] = value
    return renamed


def detect_rrdbnet(state: dict[str, torch.Tensor], path: str | os.PathLike | None = None,
                   scale: int | None = None) -> dict[str, Any]:
    """The ``rrdbnet`` constructor arguments that fit a state dict with public key names.

    ``blocks`` is the number of ``body.N`` blocks, ``features`` the output channels
    of ``conv_first``, ``growth`` those of ``body.0.rdb1.conv1`` (32, unused, when
    there are no blocks), ``out_channels``
    those of ``conv_last``. The input is pixel-unshuffled by ``unshuffle`` when
    ``conv_first`` takes ``out_channels × unshuffle²`` channels (Real-ESRGAN ×2 and
    ×1), and ``scale = 2 ** (number of conv_up layers) / unshuffle``.
    """
    required = ("conv_first.weight", "conv_body.weight", "conv_hr.weight", "conv_last.weight")
    missing = [k for k in required if k not in state]
    up_layers = [k for k in state if re.match(r"^conv_up\d+\.weight$", k)]
    body = [int(m[1]) for k in state if (m := re.match(r"^body\.(\d+)\.", k))]
    if body and "body.0.rdb1.conv1.weight" not in state:
        missing.append("body.0.rdb1.conv1.weight")
    if missing:
        prefixes: dict[str, int] = {}
        for key in state:
            head = key.split(".")[0]
            prefixes[head] = prefixes.get(head, 0) + 1
        found = ", ".join(f"{head} ({count})" for head, count in list(prefixes.items())[:12])
        raise ModelError(
            "not recognised as ESRGAN/Real-ESRGAN/BasicSR RRDBNet weights: "
            f"{len(state)} tensors under {found}; missing {_first(missing)}",
            path=path, hint="semsr imports RRDBNet generators; other architectures are "
                            "not supported for import.")
    blocks = 1 + max(body) if body else 0
    growth = int(state["body.0.rdb1.conv1.weight"].shape[0]) if body else 32
    first_in = int(state["conv_first.weight"].shape[1])
    out_channels = int(state["conv_last.weight"].shape[0])
    upsampling = 2 ** len(up_layers)
    if scale is not None:
        if scale < 1 or upsampling % scale:
            raise ModelError(f"the weights upsample ×{upsampling} and cannot be a ×{scale} "
                             "model", path=path, hint="Leave out the scale to detect it.")
        unshuffle = upsampling // scale
    else:
        unshuffle = 1
        for factor in (4, 2):
            if first_in == out_channels * factor * factor:
                unshuffle = factor
                break
    if first_in % (unshuffle * unshuffle):
        raise ModelError(f"conv_first takes {first_in} channels, which does not fit a "
                         f"pixel-unshuffle by {unshuffle}", path=path)
    return {
        "in_channels": first_in // (unshuffle * unshuffle),
        "out_channels": out_channels,
        "scale": upsampling // unshuffle,
        "features": int(state["conv_first.weight"].shape[0]),
        "blocks": blocks,
        "growth": growth,
        "unshuffle": unshuffle,
    }


def _import_state_dict(state: dict[str, torch.Tensor], path: Path, fmt: str, name: str = "",
                       scale: int | None = None) -> Model:
    from semsr_core import __version__

    public, layout = rrdb_public_keys(state)
    config = detect_rrdbnet(public, path, scale=scale)
    card = ModelCard(
        arch="rrdbnet", config=config, scale=config["scale"],
        in_channels=config["in_channels"], out_channels=config["out_channels"],
        normalization={"mode": "auto"}, value_range=(0.0, 1.0),
        name=name or path.stem,
        description=f"imported from {path.name}",
        semsr_version=__version__, created=_now(),
        source={"file": path.name, "format": f"{fmt}/{layout}", "sha256": _sha256(path)},
    )
    return _assemble(card, public, path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------- user-facing actions


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def check_model_name(name: str) -> str:
    """A model name usable as a file name on every platform, or a ConfigError."""
    if not _NAME.fullmatch(name) or name.endswith(MODEL_SUFFIX):
        raise ConfigError(f"model name '{name}' is not allowed",
                          hint="Use letters, digits, '.', '_', '+' or '-' (no spaces or "
                               "slashes), without the file extension.")
    return name


def install_model(model: Model, name: str, overwrite: bool = False) -> Path:
    """Save ``model`` into the user models folder as ``<name>.semsr``.

    A name already taken, by a user model or by a bundled one (which the user model
    would hide: every Super-resolve by that name would use it), is refused unless
    ``overwrite`` (``--replace``)."""
    check_model_name(name)
    _check_name_free(name, overwrite)
    dest = user_models_dir() / f"{name}{MODEL_SUFFIX}"
    model.card.name = name
    return model.save(dest)


def _check_name_free(name: str, overwrite: bool) -> None:
    if overwrite:
        return
    dest = user_models_dir() / f"{name}{MODEL_SUFFIX}"
    if dest.exists():
        raise OutputError(f"a model named '{name}' already exists", path=dest,
                          hint="Choose another name (--name), or replace it (--replace).")
    bundled = bundled_models_dir() / f"{name}{MODEL_SUFFIX}"
    if bundled.is_file():
        raise OutputError(
            f"'{name}' is the name of a bundled model; a user model of that name would hide "
            "it, and everything that asks for it by name would silently use yours",
            hint="Choose another name (--name), or pass --replace to hide the bundled "
                 "model on purpose.")


def import_model(path: str | os.PathLike, name: str = "", scale: int | None = None,
                 overwrite: bool = False) -> tuple[Model, Path]:
    """Import a ``.pth`` (or plain ``.safetensors``) file into the user models folder."""
    path = Path(path)
    name = name or re.sub(r"[^A-Za-z0-9._+-]", "_", path.stem).lstrip("._+-") or "imported"
    check_model_name(name)
    _check_name_free(name, overwrite)
    if path.suffix.lower() in PICKLE_SUFFIXES and _is_safetensors(path):
        model = _load_safetensors(path, scale=scale)  # a .semsr/.safetensors renamed
    elif path.suffix.lower() in PICKLE_SUFFIXES:
        model = import_pth(path, name=name, scale=scale)
    elif path.suffix.lower() == ".safetensors":
        if not path.is_file():
            raise ModelError("weights file not found", path=path, hint="Check the path.")
        model = _load_safetensors(path, scale=scale)
    else:
        raise ModelError("cannot import this kind of file", path=path,
                         hint="Give an ESRGAN/Real-ESRGAN/BasicSR '.pth' or '.safetensors'.")
    return model, install_model(model, name, overwrite=overwrite)


def export_model(path_or_name: str | os.PathLike, dest: str | os.PathLike,
                 overwrite: bool = False) -> Path:
    """Write a model (by name or path, any readable format) to ``dest`` as a ``.semsr`` file.

    ``dest`` may be a folder, in which case the file is ``<folder>/<name>.semsr``.
    """
    source = resolve_model(path_or_name)
    model = load_model(source)
    dest = Path(dest).expanduser()
    if dest.is_dir():
        dest = dest / f"{model.name or source.stem}{MODEL_SUFFIX}"
    if dest.exists():
        if dest.resolve() == source.resolve():
            raise OutputError("the destination is the model file itself", path=dest,
                              hint="Choose another destination.")
        if not overwrite:
            raise OutputError("the destination already exists", path=dest,
                              hint="Choose another name, or replace it (--force).")
    return model.save(dest)
