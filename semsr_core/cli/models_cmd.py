"""``semsr models``: list, inspect, import and export model files; the card as text."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_models(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="list installed models (user folder, then bundled)")
    info = actions.add_parser("info", help="show a model's card and parameter count")
    info.add_argument("model", help="model name or file (.semsr, .safetensors, .pth)")
    info.add_argument("--json", action="store_true", help="print the whole model card as JSON")
    imp = actions.add_parser(
        "import",
        help="import ESRGAN/Real-ESRGAN/BasicSR weights "
        "(.pth or .safetensors), or a BioImage Model Zoo package "
        "exported by semsr (.zip), into the user models folder",
    )
    imp.add_argument("file", help="weights file or zoo package to import")
    imp.add_argument("--name", default="", help="model name (default: the file name)")
    imp.add_argument(
        "--scale",
        type=int,
        default=None,
        help="upscaling factor, only if detection from the weights is ambiguous",
    )
    imp.add_argument(
        "--replace",
        "--force",
        dest="replace",
        action="store_true",
        help="replace a user model of the same name, or hide a bundled one (refused without it)",
    )
    exp = actions.add_parser(
        "export",
        help="write a model to a .semsr file, or a BioImage Model Zoo package (.zip), for sharing",
    )
    exp.add_argument("model", help="model name or file")
    exp.add_argument("dest", help="destination file or folder")
    exp.add_argument(
        "--format",
        choices=("semsr", "bioimageio"),
        default="semsr",
        help="semsr: one .semsr file (default); bioimageio: a BioImage Model Zoo "
        "package DEST.zip (needs `pip install 'semsr[zoo]'`)",
    )
    exp.add_argument("--force", action="store_true", help="replace an existing file")


def run_models(args: argparse.Namespace) -> int:
    from semsr_core import models

    if args.action == "list":
        entries = models.list_models(hidden=True)
        if not entries:
            print(
                f"no models installed; import one with `semsr models import FILE.pth` "
                f"(user folder: {models.user_models_dir()})"
            )
            return 0
        print(
            _models_table(entries, models.preferred_model([e for e in entries if not e.hidden_by]))
        )
    elif args.action == "info":
        path = models.resolve_model(args.model)
        model = models.load_model(path, task=None)  # any model's card, classifiers too
        if args.json:
            print(model.card.to_json())
        else:
            print("\n".join(_card_lines(model, path)))
    elif args.action == "import":
        from semsr_core.models import bioimageio

        if bioimageio.is_bioimageio_package(args.file):
            model = bioimageio.import_bioimageio(args.file)
            name = args.name or model.card.name or Path(args.file).stem
            dest = models.install_model(model, name, overwrite=args.replace)
        else:
            model, dest = models.import_model(
                args.file, name=args.name, scale=args.scale, overwrite=args.replace
            )
        c = model.card
        print(
            f"imported {args.file} as '{c.name}': {c.arch} ×{c.scale}, "
            f"{c.in_channels}→{c.out_channels} channels, {model.parameter_count:,} "
            f"parameters → {dest}"
        )
    elif args.action == "export" and args.format == "bioimageio":
        from semsr_core.models.bioimageio import export_bioimageio

        model = models.load_model(args.model)
        dest = export_bioimageio(model, args.dest, overwrite=args.force)
        print(f"exported {args.model} → {dest} (BioImage Model Zoo package)")
    elif args.action == "export":
        dest = models.export_model(args.model, args.dest, overwrite=args.force)
        print(f"exported {args.model} → {dest}")
    return 0


def _models_table(entries: list, preferred) -> str:
    """``semsr models list``: a header, one aligned row per model, ``*`` on the one the
    Super-resolve panel selects until the user chooses (:func:`models.preferred_model`)."""
    rows = [("", "NAME", "FROM", "MODEL", "SIZE", "FILE")]
    for e in entries:
        what = f"{e.arch} ×{e.scale}" if not e.problem else f"unreadable: {e.problem}"
        mark = "*" if preferred is not None and e.path == preferred.path else ""
        origin = f"{e.origin} (hidden)" if e.hidden_by else e.origin
        rows.append((mark, e.name, origin, what, f"{e.size_mb:.1f} MB", str(e.path)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1]
        for r in rows
    ]
    if preferred is not None:
        lines.append(
            f"* '{preferred.name}': the model the Super-resolve panel selects first "
            "(your own models before the bundled default)"
        )
    for e in entries:
        if e.hidden_by:
            lines.append(
                f"(hidden) '{e.name}': the name means your model {e.hidden_by}, "
                "not the bundled one; delete or rename yours to use the bundled model"
            )
    return "\n".join(line.rstrip() for line in lines)


def _number(value) -> str:
    return (
        f"{value:,}"
        if isinstance(value, int)
        else f"{value:.4g}"
        if isinstance(value, float)
        else str(value)
    )


def _training_text(training: dict) -> str:
    """One line: how long a model was trained (no paths of temporary files)."""
    parts = []
    if training.get("epochs") is not None:
        parts.append(f"{_number(training['epochs'])} epochs")
    if training.get("steps") is not None:
        parts.append(f"{_number(training['steps'])} steps")
    if training.get("seconds"):
        parts.append(f"{training['seconds'] / 60:.0f} min")
    return ", ".join(parts)


def _data_text(training: dict) -> str:
    """One line: what a model was trained on."""
    parts = []
    data = training.get("data") or {}
    if isinstance(data, dict):
        if "train_pairs" in data:
            parts.append(
                f"{len(data['train_pairs'])} training + "
                f"{len(data.get('val_pairs', []))} validation pairs"
            )
        elif isinstance(data.get("simulated_train"), dict):
            sim = data["simulated_train"]
            parts.append(
                f"{sim.get('pairs', '?')} simulated pairs of {sim.get('hr_size', '?')} px HR"
            )
        if data.get("defect_masks"):
            parts.append(f"{data['defect_masks']} defect masks")
        if data.get("variation"):
            parts.append(f"varied: {data['variation']}")
    return ", ".join(parts)


def _lineage_text(training: dict) -> str:
    """The chain of models a model was fine-tuned from, summarised in one line."""
    stages = []
    parent = training.get("initialised_from")
    while isinstance(parent, dict):
        stages.append(parent)
        parent = (parent.get("training") or {}).get("initialised_from")
    if not stages:
        return ""
    steps = sum(int((s.get("training") or {}).get("steps") or 0) for s in stages)
    seconds = sum(float((s.get("training") or {}).get("seconds") or 0) for s in stages)
    recipes = " → ".join(s.get("recipe") or s.get("name") or "?" for s in reversed(stages))
    return (
        f"fine-tuned from {len(stages)} earlier stage(s) ({recipes}), "
        f"{steps:,} steps and {seconds / 3600:.1f} h before this one"
    )


def _normalization_text(card) -> str:
    norm = dict(card.normalization)
    mode = norm.pop("mode", "auto")
    what = {
        "auto": "the intensity policy (integers by their dtype's range, floats and "
        "narrow integers by robust percentiles)",
        "dtype": "by the dtype's range (an older card; read as the intensity policy)",
        "percentile": "by percentiles",
    }.get(mode, mode)
    extra = ", ".join(f"{k} {_number(v)}" for k, v in norm.items())
    low, high = card.value_range
    return f"{what}{f' ({extra})' if extra else ''}; network range {low:g}…{high:g}"


def _metrics_text(metrics: dict) -> str:
    """``psnr 22.22 dB (bicubic 20.07)``: each metric with its baseline beside it."""
    parts = []
    for key, value in metrics.items():
        if key.endswith("_bicubic") and key[: -len("_bicubic")] in metrics:
            continue
        unit = " dB" if "psnr" in key else ""
        text = f"{key} {_number(value)}{unit}"
        if f"{key}_bicubic" in metrics:
            text += f" (bicubic {_number(metrics[key + '_bicubic'])})"
        parts.append(text)
    return ", ".join(parts)


def _card_lines(model, path) -> list[str]:
    """``semsr models info``: the model card, one readable line per subject."""
    card = model.card
    sizes = ", ".join(
        f"{k} {v}"
        for k, v in card.config.items()
        if k not in ("scale", "in_channels", "out_channels")
    )
    rows = [
        ("name", card.name or path.stem),
        ("file", str(path)),
        ("description", card.description),
        ("architecture", f"{card.arch}" + (f" ({sizes})" if sizes else "")),
        ("parameters", f"{model.parameter_count:,}"),
        ("scale", f"×{card.scale}, {card.in_channels} channel(s) in, {card.out_channels} out"),
        ("normalisation", _normalization_text(card)),
        ("recipe", card.recipe),
        ("training", _training_text(card.training)),
        ("data", _data_text(card.training)),
        ("lineage", _lineage_text(card.training)),
        ("metrics", _metrics_text(card.metrics)),
        (
            "created",
            " ".join(
                filter(
                    None, [card.created, card.semsr_version and f"with semsr {card.semsr_version}"]
                )
            ),
        ),
        ("source", ", ".join(f"{k} {v}" for k, v in card.source.items())),
    ]
    width = max(len(key) for key, _ in rows) + 1
    lines = [f"{key + ':':<{width}} {value}" for key, value in rows if value]
    lines.append(f"(the whole card: semsr models info {path.stem} --json)")
    return lines
