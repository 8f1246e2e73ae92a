"""Training configurations: typed, validated once at load time.

A recipe (``resources/presets/<name>.toml``) or a user's TOML file is read into a
:class:`TrainConfig`. Every table rejects unknown keys and ill-typed values with a
:class:`~semsr_core.errors.ConfigError` naming the key (``phases.gan.losses.vgg.wieght:
unknown key``). Network tables pass their extra keys to the architecture's
constructor, and those are checked against its signature here, before training
starts. ``--set key=value`` overrides are applied to the raw TOML before validation,
so an override is checked exactly like the file.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from semsr_core.arguments import check_kwargs
from semsr_core.errors import ConfigError
from semsr_core.train.init_model import resolve_init_generator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RecipeInfo(_Strict):
    name: str = "custom"
    source: str = ""
    description: str = ""


class OptimizerConfig(_Strict):
    type: Literal["adam", "sgd", "rmsprop"] = "adam"
    lr: float = Field(1e-4, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = Field(0.0, ge=0)
    weight_decay: float = Field(0.0, ge=0)


class ScheduleConfig(_Strict):
    """Learning-rate schedule of one network.

    ``step``: multiply by ``gamma`` every ``every_epochs`` epochs; ``multistep``: by
    ``gamma`` at each epoch in ``milestones``; ``onecycle``: one cycle over the whole
    run up to ``max_lr`` (default: the optimiser's lr); ``cosine``: cosine annealing to
    ``eta_min`` over the run; ``constant``. Epoch-based schedules count epochs across
    phases; a schedule restarts per phase when ``per_phase`` is true.
    """

    type: Literal["constant", "step", "multistep", "onecycle", "cosine"] = "constant"
    every_epochs: int = Field(10, ge=1)
    gamma: float = Field(0.5, gt=0)
    milestones: list[int] = Field(default_factory=list)
    max_lr: float | None = None
    pct_start: float = Field(0.3, gt=0, lt=1)
    eta_min: float = Field(0.0, ge=0)
    per_phase: bool = False


class NetConfig(BaseModel):
    """A network: ``arch`` plus the architecture's own constructor arguments."""

    model_config = ConfigDict(extra="allow")
    arch: str

    def arch_kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class GeneratorConfig(NetConfig):
    """The generator; ``init`` (optional) is a model name or file whose weights it starts
    from (fine-tuning, e.g. a lab's own pairs on top of ``default-x4``). The model must
    have the same architecture and configuration. ``init = "bundled"`` names the bundled
    model of the data's scale (``default-x4``, ``default-x2``); its architecture and
    sizes are then read from that model's card, as they are for any model named here
    without an ``arch`` (see :func:`resolve_init_generator`)."""

    init: str | None = None


class DiscriminatorConfig(NetConfig):
    """A discriminator or critic with its own optimiser and schedule.

    What it looks at (the image, a low/high-pass part of it, input ⊕ output) is
    decided by the adversarial loss term that names it. ``early_stop_epochs``: the
    N1 regulariser ([S0] §1.2) — the discriminator's learning rate is annealed to
    zero over this many epochs, much faster than the generator's.
    """

    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    early_stop_epochs: int | None = Field(None, ge=1)
    grad_clip: float = Field(0.0, ge=0)


class LossTerm(BaseModel):
    """One weighted term of the generator objective; extra keys are the loss's parameters."""

    model_config = ConfigDict(extra="allow")
    weight: float = 1.0
    discriminator: str | None = None
    max_input_noise: float | None = Field(None, gt=0)
    """Adversarial terms only: samples whose LR reads noisier than this (σ, [0, 1] units,
    :func:`semsr_core.archs.noise_level.noise_sigma`) train with the other terms alone —
    where the input cannot show the texture, a discriminator would teach invention."""

    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PhaseConfig(_Strict):
    """A training phase (e.g. L1 pre-training, then adversarial training).

    ``l1_weight`` is δ of [S0] eq. 3.7, L_G = (1−δ)·L_vgg + δ·L_l1 + λ·L_adv: when
    given, the ``l1`` term gets weight δ and the ``vgg`` term 1−δ (SPEC §15).
    """

    name: str
    epochs: int = Field(1, ge=0)
    steps_per_epoch: int | None = Field(None, ge=1)
    losses: dict[str, LossTerm]
    l1_weight: float | None = Field(None, ge=0, le=1)
    n_critic: int = Field(1, ge=1)

    @field_validator("losses", mode="before")
    @classmethod
    def _weights_as_terms(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({"weight": v} if isinstance(v, int | float) else v)
                    for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _apply_l1_weight(self) -> PhaseConfig:
        if self.l1_weight is not None:
            for needed in ("l1", "vgg"):
                if needed not in self.losses:
                    raise ValueError(f"l1_weight needs an '{needed}' loss term in this phase")
            self.losses["l1"].weight = self.l1_weight
            self.losses["vgg"].weight = 1.0 - self.l1_weight
        if not self.losses:
            raise ValueError("a phase needs at least one loss term")
        return self


class DefectsConfig(_Strict):
    """Synthetic defects of [S0] Algorithm 1."""

    alpha: int = Field(64, ge=8)
    beta: int = Field(128, ge=1)
    source: str = "skimage"


class PasteConfig(_Strict):
    """ZSSR-style patch pasting of [S1] §3.2.1."""

    n1: int = Field(10, ge=1)
    n2: int = Field(1, ge=1)


class DataConfig(_Strict):
    scale: int = 4
    lr_patch: int = Field(32, ge=4)
    batch: int = Field(16, ge=1)
    augment: list[str] = Field(default_factory=lambda: ["rot90flip"])
    degradation: str = "bicubic"
    defects: DefectsConfig | None = None
    paste: PasteConfig | None = None
    pairing: Literal["paired", "hr_only", "unpaired"] = "paired"
    generator_input: Literal["lr", "bicubic", "zssr"] = "lr"
    zssr: dict[str, Any] = Field(default_factory=dict)  # ZSSR settings for "zssr" input
    val_fraction: float = Field(0.1, ge=0, lt=1)

    @model_validator(mode="before")
    @classmethod
    def _no_workers(cls, raw: Any) -> Any:
        """``data.workers`` was accepted but never read (the engine makes its samples in
        its own process). ``workers = 0``, which every earlier run's ``config.toml``
        holds, is dropped so those runs still resume; any other value is refused, as it
        would promise parallel loading that does not happen."""
        if isinstance(raw, dict) and "workers" in raw:
            if raw["workers"] != 0:
                raise ValueError("workers is not a setting: samples are made in the training "
                                 "process (the key was never read); remove it")
            raw = {k: v for k, v in raw.items() if k != "workers"}
        return raw

    @field_validator("zssr")
    @classmethod
    def _zssr_settings(cls, v: dict[str, Any]) -> dict[str, Any]:
        from semsr_core.infer.zssr import ZSSRSettings

        ZSSRSettings.from_dict(v)  # errors name the key
        return v

    @field_validator("scale")
    @classmethod
    def _scale(cls, v: int) -> int:
        if v not in (1, 2, 4, 8):
            raise ValueError("scale must be 1, 2, 4 or 8")
        return v


class TrainOptions(_Strict):
    """Run options. ``export``: which generator becomes the run's ``model.semsr`` —
    ``"last"`` (the EMA weights at the end) or ``"best"`` (the EMA weights of the
    validation with the highest PSNR, when the run has validation pairs; useful for
    adversarial recipes whose PSNR swings)."""

    seed: int = 0
    export: Literal["last", "best"] = "last"
    ema: float = Field(0.999, ge=0, lt=1)
    grad_clip: float = Field(0.0, ge=0)
    amp: bool = True
    log_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(200, ge=1)
    keep_last: int = Field(3, ge=1)
    validate_every_epochs: int = Field(1, ge=1)
    sample_count: int = Field(4, ge=0)
    # See semsr_core.train.budget: an epoch is at least this many samples (a small set
    # is passed over several times), and validation takes at most this share of the time
    # (1: validate every validate_every_epochs, whatever it costs).
    min_epoch_samples: int = Field(1024, ge=1)
    validation_share: float = Field(0.05, gt=0, le=1)
    validation_pixels: int = Field(4_000_000, ge=1)  # HR pixels of the pairs validated on
    # A model worse than bicubic on the validation pairs is not exported (see
    # semsr_core.train.verdict) unless this is true; its card then says it is worse.
    export_worse: bool = False


class TrainConfig(_Strict):
    recipe: RecipeInfo = Field(default_factory=RecipeInfo)
    generator: GeneratorConfig
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    discriminators: dict[str, DiscriminatorConfig] = Field(default_factory=dict)
    phases: list[PhaseConfig]
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainOptions = Field(default_factory=TrainOptions)

    @model_validator(mode="after")
    def _cross_checks(self) -> TrainConfig:
        if not self.phases:
            raise ValueError("phases: at least one phase is needed")
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phases: phase names must be unique, got {names}")
        for phase in self.phases:
            for loss, term in phase.losses.items():
                if term.discriminator is not None and term.discriminator not in self.discriminators:
                    raise ValueError(
                        f"phases.{phase.name}.losses.{loss}.discriminator: "
                        f"'{term.discriminator}' is not one of the [discriminators] "
                        f"({', '.join(self.discriminators) or 'none defined'})")
        return self

    @property
    def total_epochs(self) -> int:
        return sum(p.epochs for p in self.phases)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


# ----------------------------------------------------------------- loading


def _format_validation_error(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        lines.append(f"{key}: {msg}" if key else msg)
    return f"{origin}: invalid configuration — " + "; ".join(lines)


def _parse_value(text: str) -> Any:
    """A ``--set`` value as TOML (numbers, booleans, lists, quoted strings), else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides to a raw config dict (a copy is returned).

    A phase is addressed by index or by name: ``phases.gan.epochs=3`` or
    ``phases.1.epochs=3``. Missing tables are created, so a typo still reaches the
    validator, which names it. A loss term written as a bare weight (``l1 = 1.0``)
    becomes a table when a parameter is set: ``phases.pretrain.losses.l1.mask_weight=4``.
    """
    data = copy.deepcopy(raw)
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. generator.blocks=2")
        parts = key.split(".")
        node: Any = data
        for i, part in enumerate(parts[:-1]):
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):
                node = _list_item(node, part, where)
            else:
                current = node.get(part, {})
                if i > 0 and parts[i - 1] == "losses" and isinstance(current, int | float):
                    node[part] = current = {"weight": current}  # `l1 = 1.0`, a bare weight
                if not isinstance(current, dict | list):
                    raise ConfigError(f"--set {key}: {where} is a value, not a table")
                node = node.setdefault(part, {})
        last = parts[-1]
        if isinstance(node, list):
            raise ConfigError(f"--set {key}: name a key inside the list item")
        node[last] = _parse_value(value.strip())
    return data


def _list_item(items: list, part: str, where: str) -> Any:
    if part.isdigit() and int(part) < len(items):
        return items[int(part)]
    for item in items:
        if isinstance(item, dict) and item.get("name") == part:
            return item
    names = [str(i.get("name")) for i in items if isinstance(i, dict)]
    raise ConfigError(f"--set {where}: no such entry (use an index or one of: {', '.join(names)})")


def _check_arch_keys(config: TrainConfig, origin: str) -> None:
    """Check network tables against the architectures' constructor signatures."""
    from semsr_core import archs

    nets: list[tuple[str, NetConfig, str]] = [("generator", config.generator, "generator")]
    nets += [(f"discriminators.{n}", d, "discriminator") for n, d in config.discriminators.items()]
    for where, net, kind in nets:
        try:
            spec = archs.spec(net.arch)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {where}.arch: {exc}") from None
        if spec.kind != kind:
            raise ConfigError(f"{origin}: {where}.arch: '{net.arch}' is a {spec.kind}, "
                              f"not a {kind}")
        check_kwargs(spec.cls, net.arch_kwargs(), what=f"{origin}: arch '{net.arch}'",
                     key_prefix=f"{where}.")


def _check_loss_keys(config: TrainConfig, origin: str) -> None:
    """Check loss names and parameters against the loss classes (without building them)."""
    from semsr_core import losses

    for phase in config.phases:
        for name, term in phase.losses.items():
            where = f"phases.{phase.name}.losses.{name}"
            try:
                cls = losses.loss_class(name)
            except ConfigError as exc:
                raise ConfigError(f"{origin}: {where}: {exc}") from None
            adversarial = cls.role is losses.LossRole.ADVERSARIAL
            check_kwargs(cls, term.params(), what=f"{origin}: loss '{name}'",
                         extra=(("weight", "discriminator", "max_input_noise") if adversarial
                                else ("weight",)),
                         key_prefix=f"{where}.")
            if adversarial:
                if term.discriminator is None and len(config.discriminators) != 1:
                    raise ConfigError(f"{origin}: {where}.discriminator: name which of the "
                                      f"[discriminators] this term trains against")
            elif term.discriminator is not None:
                raise ConfigError(f"{origin}: {where}.discriminator: '{name}' is not an "
                                  "adversarial loss and takes no discriminator")
            elif term.max_input_noise is not None:
                raise ConfigError(f"{origin}: {where}.max_input_noise: '{name}' is not an "
                                  "adversarial loss; only those can be gated by noise")


def validate_config(raw: dict[str, Any], origin: str = "config") -> TrainConfig:
    """Validate a raw dict into a :class:`TrainConfig` (ConfigError names the key)."""
    raw = resolve_init_generator(raw, origin, DataConfig().scale)
    try:
        config = TrainConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, origin)) from None
    _check_arch_keys(config, origin)
    _check_loss_keys(config, origin)
    return config


def recipe_names() -> list[str]:
    """Names of the bundled recipes in ``resources/presets``."""
    from semsr_core.resources import resource_path

    return sorted(p.stem for p in resource_path("presets").glob("*.toml"))


def resolve_recipe(name_or_path: str | Path) -> Path:
    """A recipe name (``en1_defects``) or a path to a TOML file → the file's path."""
    from semsr_core.resources import resource_path

    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"{path}: no such configuration file", hint="Check the path.")
        return path
    preset = resource_path("presets", f"{name_or_path}.toml")
    if not preset.is_file():
        raise ConfigError(f"unknown recipe '{name_or_path}'",
                          hint=f"Known recipes: {', '.join(recipe_names())}; "
                               "or give the path of a .toml file.")
    return preset


def load_raw(name_or_path: str | Path) -> tuple[dict[str, Any], Path]:
    path = resolve_recipe(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})",
                          hint="Fix the syntax at the line named.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file", hint="Give a TOML recipe.") from None
    return raw, path


def load_config(name_or_path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a recipe or TOML file, apply ``--set`` overrides and validate.

    An error that only the overrides cause is reported as theirs (``--set KEY=VALUE:
    ...``), not as the recipe file's."""
    raw, path = load_raw(name_or_path)
    if not overrides:
        return validate_config(raw, origin=str(path))
    try:
        return validate_config(apply_overrides(raw, overrides), origin=str(path))
    except ConfigError:
        validate_config(raw, origin=str(path))  # the file's own mistake stays the file's
        origin = " ".join(f"--set {item}" for item in overrides)
        return validate_config(apply_overrides(raw, overrides), origin=origin)


def dump_config(config: TrainConfig) -> str:
    """The config as TOML text (written into each run folder)."""
    import tomli_w

    return tomli_w.dumps(config.to_dict())
