"""The user's models folder and the bundled models: finding, naming, importing, exporting."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from semsr_core.errors import ConfigError, ModelError, OutputError
from semsr_core.models.card import MODEL_SUFFIX, PICKLE_SUFFIXES, SAFETENSORS_SUFFIXES
from semsr_core.models.load import _is_safetensors, _load_safetensors, read_card
from semsr_core.models.model import Model
from semsr_core.models.pth import import_pth

if TYPE_CHECKING:
    import torch


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
    description: str = ""  # the card's one-line description (what the model is for)
    measurement: str | None = None  # the card's training.measurement (None: not named)


def user_models_dir() -> Path:
    """The per-user models folder (imported and trained models)."""
    from semsr_core.resources import user_dir

    return user_dir("models")


def bundled_models_dir() -> Path:
    """The models shipped with semsr (``resources/models``)."""
    from semsr_core.resources import resource_path

    return resource_path("models")


def _model_folders() -> list[tuple[str, Path]]:
    """The two folders, looked up in this module at each call, so that replacing
    ``semsr_core.models.store.bundled_models_dir`` (tests do) takes effect everywhere."""
    return [("user", user_models_dir()), ("bundled", bundled_models_dir())]


SR_TASK = "super-resolution"
"""The task of a model whose card names none: every model that enlarges images."""


def model_task(card) -> str:
    """What a model is for: its card's ``task`` (e.g. ``"defect-classification"`` for the
    bundled defect classifier), :data:`SR_TASK` where the card names none."""
    task = card.extra.get("task", SR_TASK)
    return task if isinstance(task, str) else SR_TASK


def list_models(hidden: bool = False, task: str | None = SR_TASK) -> list[ModelEntry]:
    """Every ``.semsr`` file in the user models folder, then the bundled ones.

    A user model with the same name as a bundled one hides it (names resolve to the
    user's first), so the bundled one is not listed; with ``hidden=True`` it is, with
    ``hidden_by`` naming the file that wins (``semsr models list`` shows both). Only
    models of ``task`` are listed (``None``: all): by default the super-resolution
    models, not e.g. the defect classifier that ``semsr evaluate`` uses.
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
                entries.append(
                    ModelEntry(
                        path.stem,
                        path,
                        origin,
                        "?",
                        None,
                        size_mb,
                        problem=str(exc),
                        hidden_by=shadow,
                    )
                )
                continue
            if task is not None and model_task(card) != task:
                continue
            entries.append(
                ModelEntry(
                    path.stem, path, origin, card.arch, card.scale, size_mb, hidden_by=shadow,
                    description=card.description or "",
                    measurement=card.training.get("measurement"),
                )
            )
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
    looks_like_path = (
        os.sep in text
        or (os.altsep and os.altsep in text)
        or path.suffix.lower() in SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES
    )
    if looks_like_path:
        if path.is_dir():
            raise ModelError(
                "is a folder, not a model file", path=path, hint=f"Give a '{MODEL_SUFFIX}' file."
            )
        raise ModelError(
            "model file not found",
            path=path,
            hint="Check the path, or give the name of an installed model (`semsr models list`).",
        )
    for _origin, folder in _model_folders():
        candidate = folder / f"{text}{MODEL_SUFFIX}"
        if candidate.is_file():
            return candidate
    names = sorted({e.name for e in list_models()})
    available = ", ".join(names) if names else "none installed"
    raise ModelError(
        f"no model named '{text}' (available: {available})",
        hint="Import one with `semsr models import FILE.pth` or give a file path.",
    )


def load_model(path_or_name: str | os.PathLike, device: str | torch.device = "cpu",
               *, task: str | None = SR_TASK) -> Model:
    """Load a model by file path or name, ready for inference (eval mode) on ``device``.

    A model made for another ``task`` than the one asked for (by default
    super-resolution; ``None`` accepts any) is refused with a ModelError naming it.

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
    if task is not None and model_task(model.card) != task:
        shown = " (`semsr models list` shows them)" if task == SR_TASK else ""
        raise ModelError(f"this is a {model_task(model.card)} model, not a {task} model",
                         path=path, hint=f"Choose a {task} model{shown}.")
    if not model.card.name:
        model.card.name = path.stem
    model.path = path
    model.generator.to(device).eval()
    return model


# ------------------------------------------------------- user-facing actions


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def check_model_name(name: str) -> str:
    """A model name usable as a file name on every platform, or a ConfigError."""
    if not _NAME.fullmatch(name) or name.endswith(MODEL_SUFFIX):
        raise ConfigError(
            f"model name '{name}' is not allowed",
            hint="Use letters, digits, '.', '_', '+' or '-' (no spaces or "
            "slashes), without the file extension.",
        )
    return name


def install_model(model: Model, name: str, overwrite: bool = False) -> Path:
    """Save ``model`` into the user models folder as ``<name>.semsr``.

    A name already taken, by a user model or by a bundled one (which the user model
    would hide: every Super-resolve by that name would use it), is refused unless
    ``overwrite`` (``--replace``)."""
    check_model_name(name)
    _check_name_free(name, overwrite)
    dest = _model_folders()[0][1] / f"{name}{MODEL_SUFFIX}"
    model.card.name = name
    return model.save(dest)


def _check_name_free(name: str, overwrite: bool) -> None:
    if overwrite:
        return
    dest = _model_folders()[0][1] / f"{name}{MODEL_SUFFIX}"
    if dest.exists():
        raise OutputError(
            f"a model named '{name}' already exists",
            path=dest,
            hint="Choose another name (--name), or replace it (--replace).",
        )
    bundled = _model_folders()[1][1] / f"{name}{MODEL_SUFFIX}"
    if bundled.is_file():
        raise OutputError(
            f"'{name}' is the name of a bundled model; a user model of that name would hide "
            "it, and everything that asks for it by name would silently use yours",
            hint="Choose another name (--name), or pass --replace to hide the bundled "
            "model on purpose.",
        )


def import_model(
    path: str | os.PathLike, name: str = "", scale: int | None = None, overwrite: bool = False
) -> tuple[Model, Path]:
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
        raise ModelError(
            "cannot import this kind of file",
            path=path,
            hint="Give an ESRGAN/Real-ESRGAN/BasicSR '.pth' or '.safetensors'.",
        )
    return model, install_model(model, name, overwrite=overwrite)


def export_model(
    path_or_name: str | os.PathLike, dest: str | os.PathLike, overwrite: bool = False
) -> Path:
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
            raise OutputError(
                "the destination is the model file itself",
                path=dest,
                hint="Choose another destination.",
            )
        if not overwrite:
            raise OutputError(
                "the destination already exists",
                path=dest,
                hint="Choose another name, or replace it (--force).",
            )
    return model.save(dest)
