"""Learning is real: validation PSNR gain over bicubic after a short CPU run.

Trains `n1_reduced` and `wgangp_sr` at reduced width on simulated SEM pairs. The
run validates on 8 pairs of other seeds and exports the weights of its best
validation (``train.export = "best"``); the exported model is then measured on 8
further held-out pairs (seed 950) that took no part in training or in choosing the
weights: that is the gain reported. Writes the figures to benchmarks/train_gain.md
(and .json).

    .venv/bin/python benchmarks/train_gain.py [--minutes 12] [--device cpu]
"""

from __future__ import annotations

import argparse
import atexit
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from semsr_core.data.simulate import simulate_dataset
from semsr_core.train import train
from semsr_core.train.api import run_summary

RUNS = {
    "n1_reduced": ["generator.features=32", "generator.growth=16", "generator.blocks=1",
                   "discriminators.d.input_size=128", "data.lr_patch=32",
                   "phases.gan.epochs={epochs}", "train.validate_every_epochs={every}",
                   "train.export=\"best\""],
    "wgangp_sr": ["generator.features=32", "generator.blocks=4",
                  "discriminators.critic.features=16", "data.lr_patch=32", "data.batch=8",
                  "phases.gan.epochs={epochs}", "train.validate_every_epochs={every}",
                  "train.export=\"best\""],
    # unpaired CUT family (issue 17): resnet_gen at a quarter width, 128² HR crops; the
    # 9 blocks stay (CUT's encoder layers reach block 7)
    "cut": ["generator.features=16", "discriminators.d.features=16", "data.lr_patch=32",
            "phases.gan.epochs={epochs}", "train.validate_every_epochs={every}",
            "train.export=\"best\""],
    "cut_monce": ["generator.features=16", "discriminators.d.features=16", "data.lr_patch=32",
                  "phases.gan.epochs={epochs}", "train.validate_every_epochs={every}",
                  "train.export=\"best\""],
    # label-guided SRGAN (issue 17 item 7): SRResNet-4 at half width, as many MSE
    # pre-training epochs as GAN ones; the bundled defect classifier's term as the recipe's
    "srgan_labels": ["generator.features=32", "generator.blocks=4",
                     "discriminators.d.features=32", "data.batch=8",
                     "phases.pretrain.epochs={epochs}", "phases.gan.epochs={epochs}",
                     "train.validate_every_epochs={every}", "train.export=\"best\""],
    # the rest of issue 17: the same quarter-width resnet_gen for the CUT family and
    # LSeSim (its own small structure network: no VGG16 file needed); MASA-SR at a
    # quarter width with fewer blocks ([S1]'s 40² LR crops); LIR at a quarter width, two
    # residual blocks per part, the authors' 64² crops, batch 4
    "qsattn": ["generator.features=16", "discriminators.d.features=16", "data.lr_patch=32",
               "phases.gan.epochs={epochs}", "train.validate_every_epochs={every}",
               "train.export=\"best\""],
    # paired, so it validates: a short run below bicubic would export nothing; export it
    # anyway (its verdict still says so) to measure it on the test pairs
    "monce_paired": ["generator.features=16", "discriminators.d.features=16",
                     "data.lr_patch=32", "phases.gan.epochs={epochs}",
                     "train.validate_every_epochs={every}", "train.export=\"best\"",
                     "train.export_worse=true"],
    "monce_fsesim": ["generator.features=16", "discriminators.d.features=16",
                     "data.lr_patch=32", "phases.gan.epochs={epochs}",
                     "train.validate_every_epochs={every}", "train.export=\"best\""],
    "lsesim_unpaired": ["generator.features=16", "discriminators.d.features=16",
                        "data.lr_patch=32", "phases.gan.losses.lsesim.backbone=\"own\"",
                        "phases.gan.epochs={epochs}", "train.validate_every_epochs={every}",
                        "train.export=\"best\""],
    "masa_rec": ["generator.features=16", "generator.encoder_blocks=2",
                 "generator.decoder_blocks=1", "generator.fusion_blocks=[2,2,1]",
                 "data.batch=4", "phases.rec.epochs={epochs}",
                 "train.validate_every_epochs={every}", "train.export=\"best\""],
    "lir": ["generator.features=16", "generator.blocks=2", "discriminators.d.features=16",
            "phases.gan.losses.lir.features=16", "data.batch=4", "phases.gan.epochs={epochs}",
            "train.validate_every_epochs={every}", "train.export=\"best\""],
}


def _test_figures(model_path: Path, folder: Path, reference=None) -> dict[str, float]:
    """Mean PSNR/SSIM of the model and of bicubic on the pairs in ``folder`` (with
    ``reference`` as every pair's reference image for a reference-based model)."""
    import numpy as np

    from semsr_core import super_resolve
    from semsr_core.data.resample import upscale
    from semsr_core.io import read_stack
    from semsr_core.io.intensity import to_unit_range
    from semsr_core.metrics.full_reference import psnr, ssim
    from semsr_core.models import load_model

    model = load_model(model_path)
    rows = []
    for lr_path in sorted((folder / "lr").glob("*.tif")):
        lr = to_unit_range(np.asarray(read_stack(lr_path)[0]))
        hr = to_unit_range(np.asarray(read_stack(folder / "hr" / lr_path.name)[0]))
        given = {} if reference is None else {"reference": reference}
        sr = super_resolve(lr, model, device="cpu", output_dtype="float32", **given)
        bic = upscale(lr, shape=hr.shape)
        rows.append((psnr(hr, sr), ssim(hr, sr), psnr(hr, bic), ssim(hr, bic)))
    psnr_sr, ssim_sr, psnr_bic, ssim_bic = (float(v) for v in np.mean(rows, axis=0))
    return {"psnr": psnr_sr, "ssim": ssim_sr, "psnr_bicubic": psnr_bic,
            "ssim_bicubic": ssim_bic, "pairs": len(rows)}


def _reference_for(model_path: Path, train_folder: Path):
    """For a reference-based model (MASA-SR), the first training pair's HR, in [0, 1]:
    the test pairs have no reference of their own (validation, too, falls back on a
    training HR); None for other models."""
    import numpy as np

    from semsr_core import archs
    from semsr_core.io import read_stack
    from semsr_core.io.intensity import to_unit_range
    from semsr_core.models import load_model

    if not archs.spec(load_model(model_path).card.arch).reference_input:
        return None
    first = sorted((train_folder / "hr").glob("*.tif"))[0]
    return to_unit_range(np.asarray(read_stack(first)[0]))


def _recognition(model_path: Path, folder: Path, out: Path) -> dict[str, float | None]:
    """The defect classifier's defect-tile recall on the test pairs (``semsr evaluate``'s
    "do defects stay recognisable?"): HR's, bicubic's and the model's."""
    from semsr_core.metrics import evaluate

    e = evaluate(folder, out, [model_path], figures=False, device="cpu", overwrite=True)
    model = e.methods[-1]
    return {"hr": e.hr.get("recognition_recall"),
            "bicubic": e.aggregate["bicubic"].get("recognition_recall"),
            "model": e.aggregate[model].get("recognition_recall")}


def _epochs_that_fit(recipe: str, template: list[str], work: Path, args) -> int:
    """Epochs that fill ``args.minutes`` at the speed measured by a 2-epoch trial run, so
    that the recipe's whole schedule (e.g. OneCycle) runs within the time limit."""
    sets = [s.format(epochs=2, every=100) for s in template]
    started = time.monotonic()
    trial = train(recipe, work / "train", work / f"trial_{recipe}", overrides=sets,
                  device=args.device)
    per_epoch = (time.monotonic() - started) / 2
    return max(1, int(0.85 * args.minutes * 60 / per_epoch)) if trial.step else 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=12.0, help="time limit per recipe")
    ap.add_argument("--epochs", type=int, default=0,
                    help="epochs (schedules span these); default: as many as fit in --minutes")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--recipes", nargs="+", default=list(RUNS), choices=list(RUNS))
    ap.add_argument("--pairs", type=int, default=16, help="simulated training pairs")
    ap.add_argument("--size", type=int, default=256, help="HR side of the simulated pairs")
    ap.add_argument("--out", default=str(Path(__file__).with_suffix("")))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="semsr_gain_"))
    atexit.register(shutil.rmtree, work, True)  # no folders left in the temp dir
    simulate_dataset(work / "train", pairs=args.pairs, scale=4, size=args.size, seed=100,
                     layout="mixed")
    simulate_dataset(work / "val", pairs=8, scale=4, size=256, seed=900, layout="mixed")
    simulate_dataset(work / "test", pairs=8, scale=4, size=256, seed=950, layout="mixed")
    out = Path(args.out + ".json")
    results = json.loads(out.read_text())["results"] if out.is_file() else {}
    for recipe in args.recipes:
        template = RUNS[recipe]
        epochs = args.epochs or _epochs_that_fit(recipe, template, work, args)
        sets = [s.format(epochs=epochs, every=max(1, epochs // 10)) for s in template]
        started = time.monotonic()
        result = train(recipe, work / "train", work / f"run_{recipe}", val=work / "val",
                       overrides=sets, device=args.device, max_minutes=args.minutes)
        validations = run_summary(work / f"run_{recipe}")["metrics"]
        none = {"psnr": float("nan"), "psnr_bicubic": float("nan")}
        best = max(validations, key=lambda m: m["psnr"]) if validations else none
        last = validations[-1] if validations else none
        reference = _reference_for(result.model_path, work / "train")
        m = _test_figures(result.model_path, work / "test", reference)
        # semsr evaluate takes no reference images: no recognition for MASA-SR
        recognition = None if reference is not None else _recognition(
            result.model_path, work / "test", work / f"eval_{recipe}")
        results[recipe] = {
            "status": result.status, "steps": result.step, "epochs": result.epoch,
            "minutes": round((time.monotonic() - started) / 60, 1),
            "psnr": round(m["psnr"], 3), "psnr_bicubic": round(m["psnr_bicubic"], 3),
            "gain_db": round(m["psnr"] - m["psnr_bicubic"], 3),
            "ssim": round(m["ssim"], 4), "ssim_bicubic": round(m["ssim_bicubic"], 4),
            "val_best_gain_db": round(best["psnr"] - best["psnr_bicubic"], 3),
            "val_best_step": best.get("step"),
            "val_last_gain_db": round(last["psnr"] - last["psnr_bicubic"], 3),
            "val_gains_db": [round(v["psnr"] - v["psnr_bicubic"], 2) for v in validations],
            "train_pairs": f"{args.pairs} × {args.size}²", "overrides": sets,
            "threads": torch.get_num_threads(), "recognition": recognition,
        }
        print(recipe, results[recipe], flush=True)
    machine = f"{platform.processor() or platform.machine()}, torch {torch.__version__}, " \
              f"device {args.device}"
    write_report(args.out, machine, results)


def _recall_text(recognition: dict | None) -> str:
    if not recognition:  # runs recorded before the classifier existed
        return ""
    return " / ".join("—" if recognition.get(k) is None else f"{recognition[k]:.2f}"
                      for k in ("hr", "bicubic", "model"))


def write_report(out: str, machine: str, results: dict) -> None:
    """``out``.json with the results, and ``out``.md with their table followed by the
    hand-written notes of ``out``.notes.md (kept across runs)."""
    Path(out + ".json").write_text(json.dumps({"machine": machine, "results": results},
                                              indent=2))
    lines = ["# Learning is real: validation PSNR gain over bicubic", "",
             f"Machine: {machine}. Data: simulated training pairs (seed 100; count × HR side "
             "in the table), 8 validation pairs (seed 900) that choose the exported weights "
             "(best validation PSNR), and 8 test pairs (seed 950) on which the table's "
             "figures are measured; 256×256 HR, ×4, mixed layouts with defects. Command: "
             "`python benchmarks/train_gain.py --minutes M "
             "[--recipes R] [--pairs N --size S]`; epochs sized by a 2-epoch trial so that "
             "each schedule completes within M minutes.", "",
             "| recipe | train pairs | CPU threads | steps | minutes | test PSNR (dB) "
             "| bicubic (dB) | test gain (dB) | SSIM | bicubic SSIM "
             "| validation gains during the run (dB) "
             "| defect-tile recall HR / bicubic / model |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for recipe, r in results.items():
        lines.append(f"| {recipe} | {r.get('train_pairs', '16 × 256²')} | "
                     f"{r.get('threads', '?')} | {r['steps']} | "
                     f"{r['minutes']} | {r['psnr']} | {r['psnr_bicubic']} | {r['gain_db']:+} "
                     f"| {r['ssim']} | {r['ssim_bicubic']} | "
                     f"{', '.join(f'{g:+.2f}' for g in r.get('val_gains_db', []))} | "
                     f"{_recall_text(r.get('recognition'))} |")
    notes = Path(out + ".notes.md")
    if notes.is_file():
        lines += ["", notes.read_text().rstrip()]
    Path(out + ".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
