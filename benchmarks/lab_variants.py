"""Variants of the lab's fine-tune on one kept lab case: what limits its gain?

Takes a lab case kept by ``lab_workflow.py --keep DIR`` (``DIR/uint16/aligned`` and
``DIR/uint16/held``), trains one variant with ``semsr train`` for a time limit — a
recipe (default ``finetune``) and ``--set`` overrides, or ``--val`` — and scores it on
the held-out scans as ``lab_workflow.py`` does (``semsr super-resolve``, PSNR against
bicubic). One variant per call, so that variants can run side by side with one thread
each; each writes ``OUT/NAME/result.json`` and prints it.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lab_variants.py base 5 \\
        --case /work/lab/run3 --out /work/exp
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lab_variants.py lr5e5 5 \\
        --case /work/lab/run3 --out /work/exp -- --set optimizer.lr=5e-5
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import lab_workflow
import numpy as np


def self_ensemble_gain(model: Path, held: Path) -> dict[str, float]:
    """Held-out gain of ``model`` alone and averaged over the 8 rotations and flips."""
    from semsr_core.data.resample import upscale
    from semsr_core.infer import super_resolve
    from semsr_core.io import read_stack
    from semsr_core.metrics.full_reference import psnr
    from semsr_core.models import load_model

    net, rows = load_model(model), []
    for lr_path in sorted((held / "lr").glob("*.tif")):
        with read_stack(lr_path) as stack:
            raw = np.asarray(stack[0])
        with read_stack(held / "hr" / lr_path.name) as stack:
            hr = lab_workflow.unit(stack[0])
        outputs = []
        for k in range(4):
            for flip in (False, True):
                x = np.rot90(raw, k)
                x = x[:, ::-1] if flip else x
                y = np.asarray(super_resolve(np.ascontiguousarray(x), net, device="cpu",
                                             output_dtype="float32"), np.float32)
                outputs.append(np.rot90(y[:, ::-1] if flip else y, -k))
        scale = 65535.0 if raw.dtype == np.uint16 else 1.0
        one = np.clip(outputs[0] / scale, 0, 1)
        mean = np.clip(np.mean(outputs, axis=0) / scale, 0, 1)
        bicubic = upscale(lab_workflow.unit(raw), shape=hr.shape)
        rows.append((psnr(hr, one), psnr(hr, mean), psnr(hr, bicubic)))
    single, ensemble, bicubic_psnr = np.mean(rows, axis=0)
    return {"single_gain_db": float(single - bicubic_psnr),
            "x8_gain_db": float(ensemble - bicubic_psnr)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("minutes")
    ap.add_argument("--case", required=True, help="a lab_workflow.py --keep folder")
    ap.add_argument("--out", required=True, help="variants go to OUT/NAME")
    ap.add_argument("--recipe", default="finetune")
    ap.add_argument("--tta", action="store_true",
                    help="also score the x8 self-ensemble (rotations and flips)")
    args, rest = ap.parse_known_args()
    args.train_args = [a for a in rest if a != "--"]  # after --: more `semsr train` options
    case = Path(args.case) / "uint16"
    work = Path(args.out) / args.name
    run = work / "run"
    output = lab_workflow.semsr("train", args.recipe, "--data", str(case / "aligned"),
                                "--run", str(run), "--max-minutes", args.minutes,
                                "--device", "cpu", *args.train_args)
    (work / "train.log").write_text(output, encoding="utf-8")
    verdict = json.loads((run / "verdict.json").read_text(encoding="utf-8"))
    events = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()]
    result = {"name": args.name, "recipe": args.recipe, "args": args.train_args,
              "verdict": verdict["text"],
              "validation": [(e["step"], round(e["psnr"], 3)) for e in events
                             if e["kind"] == "metrics"]}
    if (run / "model.semsr").is_file():
        result["held_out"] = lab_workflow.run_model_on_held_out(run / "model.semsr",
                                                                case / "held", work)
        if args.tta:
            result["self_ensemble"] = self_ensemble_gain(run / "model.semsr", case / "held")
    (work / "result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
