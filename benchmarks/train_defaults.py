"""Train the bundled default models with semsr's own engine on simulated SEM data.

    .venv/bin/python benchmarks/train_defaults.py NAME [--minutes 35] [--device cpu]
        [--init MODEL] [--mask-weight K] [--set KEY=VALUE]... [--out FILE]
        [--work DIR]   # with an existing DIR: continue that run

The models and how they are made (each line one command; ``--init`` names the model a
stage starts from, see ``generator.init``):

    default-x4-base   L1 phase of en1 on a 2×32 RRDBNet, varied simulated pairs (40 min)
    default-x4        default-x4-base fine-tuned with L1 on the synthetic-defect
                      augmentation of [S0] and defect-rich pairs      --init default-x4-base
    default-x4-defects      the same, with the simulator's defect masks and the L1 loss
                      weighting masked pixels (--mask-weight)   --init <default-x4 stage>
    default-x4-masks-plain  L1 on plain patches of the defect-rich pairs, weighting the
                      simulated defects' pixels (--mask-weight)   --init <earlier stage>
                      (the stages bundled as default-x4: resources/models/README.md)
    default-x4-gan    default-x4 trained on en1_defects' adversarial phase (RaGAN,
                      PatchGAN-34, synthetic defects), without the VGG term  --init default-x4
    default-x2        ×2, L1 with synthetic defects on defect-rich pairs, from scratch

Training data are varied on purpose, so that the model is not tuned to one look of
the simulator: every pair draws its layout (hexmesh, lines, vias, particles, mixed),
LR electron dose (15–150 e⁻/pixel), read noise, scan-line offset and jitter, drift,
a contrast/brightness "style" gap for a third of the pairs, and a quarter of the pairs
use a plain degradation of the HR scan (bicubic, crappify, area) instead of the
simulated fast scan. Validation pairs come from seeds never used for training
(and different from those of resources/sample and of the held-out evaluation set).
A bundled model goes to resources/models/<name>.semsr with its card (recipe, data,
steps, time, figures); an intermediate stage (``default-x4-base``) to the work folder;
with ``--out`` any stage goes to that file instead (candidates to compare).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from semsr_core.data.simulate import simulate_pair
from semsr_core.io import write_stack
from semsr_core.models import load_model
from semsr_core.resources import resource_path
from semsr_core.train import resume, train

LAYOUTS = ("hexmesh", "lines", "vias", "particles", "mixed")

_L1_ONLY = ["phases.gan.epochs=0", "schedule.type=\"constant\"",
            "train.validate_every_epochs={every}", "train.checkpoint_every=100"]
_SMALL_RRDB = ["generator.blocks=2", "generator.features=32", "generator.growth=16"]
# the mask-weighted L1 stages of default-x4: annealed, the defect pixels weighted
_MASKED_L1 = [*_SMALL_RRDB, "data.lr_patch=32", "data.batch=16", "optimizer.lr=1e-4",
              "schedule.type=\"cosine\"", "schedule.eta_min=1e-6",
              "phases.pretrain.losses.l1.mask_weight={mask_weight}",
              "phases.pretrain.epochs={epochs}", "phases.gan.epochs=0",
              "train.validate_every_epochs={every}", "train.checkpoint_every=100"]

MODELS = {
    # fidelity model, stage 1: the L1 pre-training phase of EN1 on a laptop-sized RRDBNet
    "default-x4-base": dict(
        train_seed=100000,
        recipe="en1", scale=4, bundle=False, defect_rate=(0.5, 3.0),
        description="stage 1 of default-x4: the L1 phase of the 'en1' recipe",
        overrides=[*_SMALL_RRDB, "data.lr_patch=32", "data.batch=16",
                   "data.augment=[\"rot90flip\"]", "phases.pretrain.epochs={epochs}",
                   *_L1_ONLY]),
    # fidelity model, stage 2: the same L1 objective on [S0]'s synthetic-defect
    # augmentation (natural-image content pasted into LR and HR) and pairs with more
    # simulated defects, so that rare structure is reproduced, not replaced by the
    # surrounding pattern
    "default-x4": dict(
        train_seed=200000,
        recipe="en1_defects", scale=4, bundle=True, defect_rate=(2.0, 6.0), init=True,
        description="×4 fidelity model (L1-led): the L1 phase of the EN1 recipes on a "
                    "laptop-sized RRDBNet, fine-tuned on synthetic defects",
        overrides=[*_SMALL_RRDB, "data.lr_patch=32", "data.batch=16",
                   "data.defects.alpha=32", "data.defects.beta=4",
                   "optimizer.lr=1e-4", "phases.pretrain.epochs={epochs}", *_L1_ONLY]),
    # perceptual model: en1_defects' adversarial phase (RaGAN + PatchGAN-34 on synthetic
    # defects), from default-x4. The VGG19 term of [S0] eq. 3.7 is left out: its
    # ImageNet weights cannot be fetched here and semsr never downloads them.
    "default-x4-gan": dict(
        train_seed=300000,
        recipe=str(Path(__file__).with_name("default_x4_gan.toml")), scale=4, bundle=True,
        defect_rate=(2.0, 6.0), init=True,
        description="×4 perceptual model: the adversarial phase of 'en1_defects' "
                    "(RaGAN with a PatchGAN-34, synthetic defects) on a laptop-sized "
                    "RRDBNet started from default-x4; L1 + 0.1·RaGAN, without the VGG "
                    "term (benchmarks/default_x4_gan.toml)",
        overrides=["phases.gan.epochs={epochs}", "train.validate_every_epochs={every}",
                   "train.checkpoint_every=100"]),
    # fidelity model, stage 4 (bundled as default-x4): the stage-2 data again, now with
    # the simulator's defect masks, and the L1 loss weighting masked pixels (simulated
    # and pasted defects) `mask_weight` times; the learning rate annealed
    "default-x4-defects": dict(
        train_seed=200000, bundle_as="default-x4",
        recipe="en1_defects", scale=4, bundle=True, defect_rate=(2.0, 6.0), init=True,
        description="×4 fidelity model (L1-led): the L1 phase of the EN1 recipes on a "
                    "laptop-sized RRDBNet, fine-tuned on synthetic defects with the "
                    "defect pixels weighted more",
        overrides=["data.defects.alpha=32", "data.defects.beta=4", *_MASKED_L1]),
    # fidelity model, stages 5-6 (bundled as default-x4): plain patches of the same data,
    # the L1 loss weighting the simulator's defect masks, the learning rate annealed (the
    # bundled stages start it lower: --set 'optimizer.lr=5e-5')
    "default-x4-masks-plain": dict(
        train_seed=200000, bundle_as="default-x4",
        recipe="en1", scale=4, bundle=True, defect_rate=(2.0, 6.0), init=True,
        description="×4 fidelity model (L1-led): the L1 phase of the EN1 recipes on a "
                    "laptop-sized RRDBNet, fine-tuned with the defect pixels weighted more",
        overrides=["data.augment=[\"rot90flip\"]", *_MASKED_L1]),
    # ×2 fidelity model: L1 on synthetic defects and defect-rich pairs, from scratch
    "default-x2": dict(
        train_seed=400000,
        recipe="en1_defects", scale=2, bundle=True, defect_rate=(1.0, 6.0),
        description="×2 fidelity model (L1-led): the L1 phase of the EN1 recipes with "
                    "synthetic defects on a laptop-sized RRDBNet",
        overrides=[*_SMALL_RRDB, "data.scale=2", "data.lr_patch=48", "data.batch=16",
                   "data.defects.alpha=48", "data.defects.beta=2",
                   "phases.pretrain.epochs={epochs}", *_L1_ONLY]),
}


def simulate_varied(out: Path, count: int, seed0: int, scale: int, size: int,
                    defect_rate: tuple[float, float] = (0.5, 3.0)) -> dict:
    rng = np.random.default_rng(seed0)
    for folder in ("lr", "hr", "masks"):
        (out / folder).mkdir(parents=True)
    looks = []
    for i in range(count):
        seed = seed0 + i
        plain = rng.random() < 0.25
        options = dict(
            size=size, scale=scale, layout=str(rng.choice(LAYOUTS)),
            defect_rate=float(rng.uniform(*defect_rate)), style_gap=bool(rng.random() < 0.33),
            degradation=str(rng.choice(["bicubic", "crappify", "area"])) if plain
            else "sem-noise",
            lr_dose=float(np.exp(rng.uniform(np.log(15), np.log(150)))),
            hr_dose=float(rng.uniform(200, 800)), read_noise=float(rng.uniform(0.0, 0.03)),
            line_offset=float(rng.uniform(0.0, 0.03)), line_jitter=float(rng.uniform(0, 0.3)),
            drift=float(rng.uniform(0.0, 0.3)))
        pair = simulate_pair(seed, **options)
        name = f"sim_{seed:06d}.tif"
        for folder, image, pixel in (("lr", _uint16(pair.lr), pair.lr_pixel_size),
                                     ("hr", _uint16(pair.hr), pair.hr_pixel_size),
                                     ("masks", pair.mask, pair.hr_pixel_size)):
            write_stack(out / folder / name, image, pixel_size=pixel)
        looks.append({"seed": seed, **options})
    return {"pairs": count, "first_seed": seed0, "hr_size": size,
            "defect_rate": list(defect_rate), "looks": looks}


def _uint16(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 65535).astype(np.uint16)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name", choices=sorted(MODELS))
    ap.add_argument("--minutes", type=float, default=35.0)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--pairs", type=int, default=80)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--init", help="model (name or file) this stage starts from")
    ap.add_argument("--mask-weight", type=float, default=4.0,
                    help="weight of defect pixels in the L1 loss (the stages that use it)")
    ap.add_argument("--out", help="write the model here instead (no bundling)")
    ap.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE",
                    help="further recipe overrides, as `semsr train --set` (repeatable)")
    ap.add_argument("--work", help="keep data and run here (default: a temp folder); "
                    "given again, the run there continues from its last checkpoint")
    args = ap.parse_args()

    spec = MODELS[args.name]
    if spec.get("init") and not args.init:
        ap.error(f"{args.name} starts from another model: give --init (see the docstring)")
    work = Path(args.work or tempfile.mkdtemp(prefix=f"semsr_{args.name}_"))
    sets = [s.format(epochs=args.epochs, every=5, mask_weight=args.mask_weight)
            for s in spec["overrides"]] + args.extra
    if args.init:
        sets.append(f"generator.init=\"{args.init}\"")
    started = time.monotonic()
    if (work / "run" / "checkpoints").is_dir():  # continue an earlier, time-limited run
        looks = json.loads((work / "looks.json").read_text())
        data_info, val_info = looks["train"], looks["val"]
        result = resume(work / "run", device=args.device, max_minutes=args.minutes)
    else:
        scale = spec["scale"]
        data_info = simulate_varied(work / "train", args.pairs, spec["train_seed"], scale, 384,
                                    spec["defect_rate"])
        val_info = simulate_varied(work / "val", 8, 900_000, scale, 384, spec["defect_rate"])
        (work / "looks.json").write_text(json.dumps({"train": data_info, "val": val_info}))
        result = train(spec["recipe"], work / "train", work / "run", val=work / "val",
                       overrides=sets, device=args.device, max_minutes=args.minutes)
    minutes = (time.monotonic() - started) / 60
    model = load_model(result.model_path)
    card = model.card
    name = spec.get("bundle_as", args.name)
    card.name = name
    card.description = f"semsr default {spec['description']}, trained on varied simulated SEM data"
    engine_data = card.training.get("data", {})
    card.training["data"] = {"defect_masks": engine_data.get("defect_masks", 0),
                             "simulated_train": {k: v for k, v in data_info.items()
                                                 if k != "looks"},
                             "simulated_val": {k: v for k, v in val_info.items()
                                               if k != "looks"},
                             "variation": "layouts, LR dose 15-150 e/px, read noise, line "
                                          "offset/jitter, drift, style gap (1/3), plain "
                                          "degradations (1/4), defect rate "
                                          f"{spec['defect_rate'][0]}-{spec['defect_rate'][1]}"}
    card.training["command"] = (f"python benchmarks/train_defaults.py {args.name} "
                                f"--minutes {args.minutes} --epochs {args.epochs} "
                                f"--pairs {args.pairs}"
                                + (f" --init {args.init}" if args.init else "")
                                + (f" --mask-weight {args.mask_weight:g}"
                                   if any("mask_weight" in o for o in spec["overrides"])
                                   else "")
                                + "".join(f" --set '{e}'" for e in args.extra))
    card.training["overrides"] = sets
    card.training["minutes_this_session"] = round(minutes, 1)
    if args.out:
        dest = Path(args.out)
    elif spec["bundle"]:
        dest = resource_path("models", f"{name}.semsr")
    else:
        dest = work / f"{name}.semsr"
    dest.parent.mkdir(parents=True, exist_ok=True)
    model.save(dest)
    print(json.dumps({"model": str(dest), "status": result.status, "steps": result.step,
                      "minutes": round(minutes, 1), "metrics": result.metrics}, indent=2))
    if args.work is None and spec["bundle"]:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
