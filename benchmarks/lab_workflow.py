"""A lab's own model in ten laptop minutes: the wizard's workflow on a simulated lab case.

The lab case (issue 15): four unaligned scans of one specimen with a contrast gap
between LR and HR, and held-out scans of the same specimen. For each data type
(float32 in [0, 1], uint16), as a user would type it:

1. ``semsr simulate SIM --pairs 12 --scale 4 --size 384 --seed 15 --style-gap shared``
   (``--style per-pair``: each pair its own contrast gap instead of the specimen's one);
2. the lab's scans: pairs 0–3 with LR and HR cut to different fields of view (offsets up
   to 8 LR pixels; the LR is 88², as the real scans), written in the data type; pairs
   4–11, whole, are the held-out scans;
3. ``semsr align LAB/lr LAB/hr -o ALIGNED``;
4. ``semsr train finetune --data ALIGNED --max-minutes M --device cpu``;
5. ``semsr super-resolve HELD/lr -o SR --model RUN/model.semsr``;
6. PSNR of SR and of bicubic against the held-out HR (intensities in [0, 1]).

``--wizard`` also runs the wizard's own path on the uint16 scans: its pair checks
(``wizard_data.check_pairs``), its staged data, the recipe it recommends
(``wizard_data.default_recipe``) and ``semsr_app.training.run_training`` with the same
time limit. Writes ``benchmarks/lab_workflow.md`` and ``.json`` (with the hand-written
``lab_workflow.notes.md`` appended).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lab_workflow.py --minutes 10 --wizard
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
SEMSR = [sys.executable, "-m", "semsr_core.cli"]
TRAIN_PAIRS, HELD_OUT = 4, 8
SIZE, SCALE, SEED = 384, 4, 15
LR_SIDE, MAX_OFFSET = 88, 8  # the lab's LR scans; how far LR and HR fields of view differ


def semsr(*args: str) -> str:
    """Run one `semsr` command as a user would; its output (stdout + stderr)."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run([*SEMSR, *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"semsr {' '.join(args)} failed ({done.returncode}):\n"
                           f"{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


LAB_PAIRS = {"count": TRAIN_PAIRS}
"""``--lab-pairs N`` (4–8): the lab's scans are pairs 0–3 and, beyond 4, pairs 12 onwards,
so that the held-out scans (4–11) stay the same whatever N is."""

STYLE = {"style": "shared"}
"""``--style``: one contrast gap for all the lab's scans (``shared``: one specimen, one
microscope setting for LR and one for HR) or a gap of its own per pair (``per-pair``)."""


def simulate(sim: Path) -> None:
    pairs = LAB_PAIRS["count"] + HELD_OUT  # the simulator's pairs do not depend on the count
    semsr("simulate", str(sim), "--pairs", str(pairs), "--scale", str(SCALE),
          "--size", str(SIZE), "--seed", str(SEED), "--style-gap", STYLE["style"], "--quiet")


def as_dtype(image_u16: np.ndarray, dtype: str) -> np.ndarray:
    return image_u16 if dtype == "uint16" else (image_u16 / 65535.0).astype(np.float32)


def unit(image: np.ndarray) -> np.ndarray:
    """Intensities in [0, 1]: uint16 by its range, float32 as written."""
    image = np.asarray(image)
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    return image.astype(np.float32)


def make_lab_case(sim: Path, lab: Path, held: Path, dtype: str, seed: int = SEED) -> None:
    """The lab's unaligned scans (pairs 0–3, and 12 onwards with ``--lab-pairs``) and the
    held-out scans (4–11) from ``sim``."""
    from semsr_core.io import read_stack, write_stack

    rng = np.random.default_rng(seed)
    for folder in (lab / "lr", lab / "hr", held / "lr", held / "hr"):
        folder.mkdir(parents=True)
    stems = sorted(p.stem for p in (sim / "lr").glob("*.tif"))
    for index, stem in enumerate(stems[: LAB_PAIRS["count"] + HELD_OUT]):
        with read_stack(sim / "lr" / f"{stem}.tif") as s:
            lr, lr_px = np.asarray(s[0]), s.pixel_size
        with read_stack(sim / "hr" / f"{stem}.tif") as s:
            hr, hr_px = np.asarray(s[0]), s.pixel_size
        if not TRAIN_PAIRS <= index < TRAIN_PAIRS + HELD_OUT:  # LR and HR cut apart
            ly, lx = rng.integers(0, MAX_OFFSET + 1, size=2)
            hy, hx = rng.integers(0, SCALE * MAX_OFFSET + 1, size=2)
            side = LR_SIDE
            lr = lr[ly:ly + side, lx:lx + side]
            hr = hr[hy:hy + SCALE * side, hx:hx + SCALE * side]
            out = lab
        else:
            out = held
        write_stack(out / "lr" / f"{stem}.tif", as_dtype(lr, dtype), pixel_size=lr_px)
        write_stack(out / "hr" / f"{stem}.tif", as_dtype(hr, dtype), pixel_size=hr_px)


def held_out_gain(held: Path, sr_dir: Path) -> dict[str, float]:
    """Mean PSNR of the SR files and of bicubic against the held-out HR."""
    from semsr_core.data.resample import upscale
    from semsr_core.io import read_stack
    from semsr_core.metrics.full_reference import psnr

    rows = []
    for lr_path in sorted((held / "lr").glob("*.tif")):
        with read_stack(lr_path) as s:
            lr = unit(s[0])
        with read_stack(held / "hr" / lr_path.name) as s:
            hr = unit(s[0])
        found = sorted(sr_dir.glob(f"{lr_path.stem}*"))
        with read_stack(found[0]) as s:
            sr = unit(s[0])
        sr = np.clip(sr[: hr.shape[0], : hr.shape[1]], 0, 1)
        rows.append((psnr(hr, sr), psnr(hr, upscale(lr, shape=hr.shape))))
    sr_psnr, bic_psnr = (float(v) for v in np.mean(rows, axis=0))
    return {"psnr": sr_psnr, "psnr_bicubic": bic_psnr, "gain_db": sr_psnr - bic_psnr,
            "pairs": len(rows)}


def _has_consistency_guard() -> bool:
    return "--consistency" in semsr("super-resolve", "--help")


def run_model_on_held_out(model: Path, held: Path, work: Path) -> dict[str, float]:
    """`semsr super-resolve` as it is by default; where it has a measurement-consistency
    guard, also with ``--consistency off`` (the model's own output)."""
    sr_dir = work / "sr"
    semsr("super-resolve", str(held / "lr"), "-o", str(sr_dir), "--model", str(model),
          "--device", "cpu", "--quiet")
    result = held_out_gain(held, sr_dir)
    if _has_consistency_guard():
        off = work / "sr_consistency_off"
        semsr("super-resolve", str(held / "lr"), "-o", str(off), "--model", str(model),
              "--device", "cpu", "--quiet", "--consistency", "off")
        result["consistency_off"] = held_out_gain(held, off)
    if "--self-ensemble" in semsr("super-resolve", "--help"):
        ensemble = work / "sr_self_ensemble"
        semsr("super-resolve", str(held / "lr"), "-o", str(ensemble), "--model", str(model),
              "--device", "cpu", "--quiet", "--self-ensemble")
        result["self_ensemble"] = held_out_gain(held, ensemble)
    return result


def _line(output: str, start: str) -> str:
    found = [ln.strip() for ln in output.splitlines() if ln.strip().startswith(start)]
    return found[-1] if found else ""


def _plan_text(events: list[dict]) -> str:
    """The run's first plan, in the words `semsr train` prints it (a ``plan`` event; runs
    logged before typed events sent it as a message with a ``plan`` key)."""
    from semsr_core.train.budget import RunPlan

    for event in events:
        if event["kind"] == "plan":
            fields = {k: v for k, v in event["plan"].items() if k not in ("total_steps",
                                                                           "minutes")}
            return "plan: " + RunPlan(**fields).describe()
        if event["kind"] == "message" and event.get("plan"):
            return event["text"]
    return ""


def cli_path(dtype: str, minutes: float, work: Path, uint16_held: Path | None = None) -> dict:
    sim, lab, held = work / "sim", work / "lab", work / "held"
    simulate(sim)
    make_lab_case(sim, lab, held, dtype)
    aligned = work / "aligned"
    align_out = semsr("align", str(lab / "lr"), str(lab / "hr"), "-o", str(aligned), "--quiet")
    run = work / "run"
    began = time.monotonic()
    train_out = semsr("train", "finetune", "--data", str(aligned), "--run", str(run),
                      "--max-minutes", str(minutes), "--device", "cpu")
    wall = time.monotonic() - began
    verdict = json.loads((run / "verdict.json").read_text(encoding="utf-8"))
    events = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()]
    finished = [e for e in events if e["kind"] == "finished"][-1]
    result = {"dtype": dtype, "align": align_out.strip().splitlines()[-1],
              "plan": _plan_text(events), "train": _line(train_out, "finished")
              or _line(train_out, "time_limit"), "verdict": verdict["text"],
              "time_use": finished.get("time_use", {}), "train_wall_s": round(wall, 1),
              "steps": finished["step"]}
    if (run / "model.semsr").is_file():
        result["held_out"] = run_model_on_held_out(run / "model.semsr", held, work)
        if dtype != "uint16" and uint16_held is not None:  # the same pixels, stored as uint16
            result["held_out_as_uint16"] = run_model_on_held_out(
                run / "model.semsr", uint16_held, work / "as_uint16")
    result["bundled_default_x4"] = run_model_on_held_out(
        Path("default-x4"), held, work / "bundled") if dtype == "uint16" else None
    return result


def wizard_path(minutes: float, work: Path) -> dict:
    """The wizard's own path on the uint16 lab case: its checks, staging and recipe."""
    sys.path.insert(0, str(ROOT.parent))
    from semsr_app import wizard_data
    from semsr_app.training import TrainingRequest, run_training

    sim, lab, held = work / "sim", work / "lab", work / "held"
    simulate(sim)
    make_lab_case(sim, lab, held, "uint16")
    choice = wizard_data.DataChoice(hr_dir=lab / "hr", lr_dir=lab / "lr")
    scan = wizard_data.scan_data(choice)
    checks = list(wizard_data.check_pairs(scan.pairs))  # a generator of the checks
    staged = wizard_data.write_training_data(checks, work / "staged")
    recipe, why = wizard_data.default_recipe(sum(c.included for c in checks), "cpu")
    run = work / "run"
    data = wizard_data.move_data_into_run(staged, run)
    request = TrainingRequest(recipe=recipe, data=data, run_dir=run, device="cpu",
                              overrides=wizard_data.data_overrides(choice, checks),
                              max_minutes=minutes)
    began = time.monotonic()
    result = run_training(request)
    wall = time.monotonic() - began
    out = {"recipe": recipe, "why": why, "verdicts": [c.verdict for c in checks],
           "verdict": result.verdict.text(), "time_use": result.time, "steps": result.step,
           "train_wall_s": round(wall, 1)}
    if result.model_path is not None:
        out["held_out"] = run_model_on_held_out(result.model_path, held, work)
    return out


def write_report(results: dict, path_md: Path) -> None:
    lines = ["# Lab workflow: align → train finetune → super-resolve (issue 15)", "",
             f"Command: `{results['command']}`", "",
             f"Machine: {results['machine']}; training precision "
             f"{results['training_precision']}; {results['date']}.", "",
             "Simulated lab case: `semsr simulate --pairs 12 --scale 4 --size 384 --seed 15 "
             f"--style-gap {results.get('style', 'per-pair')}`"
             + (f" (with {results['lab_pairs'] + 8} pairs)" if results.get("lab_pairs", 4) > 4
                else "")
             + f"; the lab's {results.get('lab_pairs', 4)} scans are "
             + ("pairs 0–3 and 12 onwards" if results.get("lab_pairs", 4) > 4 else "pairs 0–3")
             + " with LR (88²) and HR cut to "
             "different fields of view (offsets up to 8 LR pixels), aligned by "
             "`semsr align`; the 8 held-out scans (pairs 4–11, whole) take no part in "
             "training or in choosing the exported weights. "
             + (f"All {results.get('lab_pairs', 4) + 8} scans share one random contrast gap "
                "(gain, gamma, offset) between LR and HR: one specimen, one setting for each "
                "kind of scan."
                if results.get("style") == "shared" else
                "Each pair has its own random contrast gap (gain, gamma, offset) between LR "
                "and HR."), "",
             "| path | data | steps | training steps / budget | validation | verdict "
             "(own validation pair) | held-out PSNR (bicubic) | gain over bicubic |",
             "|---|---|---|---|---|---|---|---|"]
    rows = [("CLI", r) for r in results["cli"]]
    if results.get("wizard"):
        rows.append(("wizard", {**results["wizard"], "dtype": "uint16"}))
    for path, r in rows:
        use = r.get("time_use", {})
        held = r.get("held_out")
        figures = (f"{held['psnr']:.2f} ({held['psnr_bicubic']:.2f}) | **{held['gain_db']:+.2f}"
                   " dB**" if held else "— | no model exported")
        off = (held or {}).get("consistency_off")
        if off:
            figures += f" ({off['gain_db']:+.2f} dB with `--consistency off`)"
        ensemble = (held or {}).get("self_ensemble")
        if ensemble:
            figures += f"; {ensemble['gain_db']:+.2f} dB with `--self-ensemble`"
        lines.append(f"| {path} | {r['dtype']} | {r['steps']:,} | "
                     f"{use.get('training_share_of_budget', 0):.1%} | "
                     f"{use.get('validation_s', 0):.0f} s ({use.get('validations', 0)}×) | "
                     f"{r['verdict']} | {figures} |")
    bundled = next((r["bundled_default_x4"] for r in results["cli"]
                    if r.get("bundled_default_x4")), None)
    if bundled:
        lines += ["", f"The bundled `default-x4` as it is, on the same held-out uint16 scans: "
                  f"{bundled['psnr']:.2f} dB (bicubic {bundled['psnr_bicubic']:.2f}), "
                  f"{bundled['gain_db']:+.2f} dB"
                  + (f" ({bundled['consistency_off']['gain_db']:+.2f} dB with "
                     "`--consistency off`)." if bundled.get("consistency_off") else ".")]
    for r in results["cli"]:
        if r.get("held_out_as_uint16"):
            h = r["held_out_as_uint16"]
            lines += ["", f"The {r['dtype']} model on the same held-out pixels stored as uint16: "
                      f"{h['psnr']:.2f} dB (bicubic {h['psnr_bicubic']:.2f}), "
                      f"{h['gain_db']:+.2f} dB."]
    for r in results["cli"]:
        lines += ["", f"{r['dtype']}: {r['align']}", "", f"    {r['plan']}", f"    {r['train']}"]
    if results.get("wizard"):
        lines += ["", f"Wizard: pair checks {results['wizard']['verdicts']}; "
                  f"recommended recipe: {results['wizard']['why']}"]
    notes = path_md.with_name(path_md.stem + ".notes.md")  # hand-written, kept across runs
    if notes.is_file():
        lines += ["", notes.read_text(encoding="utf-8").rstrip()]
    path_md.write_text("\n".join(lines) + "\n", encoding="utf-8")


class _kept:
    """A work folder that stays (``--keep``), used like a TemporaryDirectory."""

    def __init__(self, folder: str):
        self.folder = folder

    def __enter__(self) -> str:
        Path(self.folder).mkdir(parents=True, exist_ok=False)
        return self.folder

    def __exit__(self, *exc) -> None:
        return None


def _training_precision() -> str:
    """The autocast type the engine trains with on this CPU (fp32 when none)."""
    import torch

    from semsr_core.train.engine import _amp_dtype

    dtype = _amp_dtype(torch.device("cpu"))
    return "fp32" if dtype is None else str(dtype).replace("torch.", "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--dtypes", nargs="*", default=["float32", "uint16"])
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (runs, models)")
    parser.add_argument("--merge", nargs="+", metavar="JSON",
                        help="write the report from these results files (CLI rows and the "
                             "wizard row) without running anything")
    parser.add_argument("--cli-results", metavar="JSON",
                        help="take the CLI rows from this file (a list, as printed) instead "
                             "of running them: to rerun only the wizard's path")
    parser.add_argument("--wizard", action="store_true", help="also the wizard's own path")
    parser.add_argument("--style", choices=("shared", "per-pair"), default="shared",
                        help="the LR/HR contrast gap: one for the specimen (default) or one "
                             "per pair")
    parser.add_argument("--lab-pairs", type=int, default=TRAIN_PAIRS, choices=range(4, 9),
                        metavar="N", help="the lab's scans: 4 (default) to 8; the held-out "
                                          "scans stay the same")
    parser.add_argument("--out", default=str(ROOT / "lab_workflow"),
                        help="write OUT.md and OUT.json (default benchmarks/lab_workflow)")
    args = parser.parse_args(argv)
    STYLE["style"] = args.style
    LAB_PAIRS["count"] = args.lab_pairs
    results = {"command": "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lab_workflow.py "
                          + " ".join(argv if argv is not None else sys.argv[1:]),
               "machine": f"{platform.processor() or platform.machine()}, "
                          f"{os.cpu_count()} cores (shared), OMP_NUM_THREADS="
                          f"{os.environ.get('OMP_NUM_THREADS', '?')}",
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cli": [],
               "training_precision": _training_precision(), "style": args.style,
               "lab_pairs": args.lab_pairs}
    out = Path(args.out)
    if args.merge:
        parts = [json.loads(Path(f).read_text(encoding="utf-8")) for f in args.merge]
        results = {**parts[0], "cli": [r for p in parts for r in p["cli"]],
                   "commands": [p["command"] for p in parts],
                   "command": " ; ".join(p["command"] for p in parts)}
        results["wizard"] = next((p["wizard"] for p in parts if p.get("wizard")), None)
        out.with_suffix(".json").write_text(json.dumps(results, indent=2), encoding="utf-8")
        write_report(results, out.with_suffix(".md"))
        print(f"wrote {out.with_suffix('.md')}")
        return 0
    with (tempfile.TemporaryDirectory(prefix="semsr-lab-") if not args.keep
          else _kept(args.keep)) as tmp:
        if args.cli_results:
            results["cli"] = json.loads(Path(args.cli_results).read_text(encoding="utf-8"))
            results["cli_results_from"] = args.cli_results
        dtypes = [] if args.cli_results else args.dtypes  # rows given: not run again
        for dtype in sorted(dtypes, key=lambda d: d != "uint16"):  # uint16 first
            u16 = Path(tmp) / "uint16" / "held"
            results["cli"].append(cli_path(dtype, args.minutes, Path(tmp) / dtype,
                                           u16 if u16.is_dir() else None))
            print(json.dumps(results["cli"][-1], indent=2), flush=True)
        if args.wizard:
            results["wizard"] = wizard_path(args.minutes, Path(tmp) / "wizard")
            print(json.dumps(results["wizard"], indent=2), flush=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    write_report(results, out.with_suffix(".md"))
    print(f"wrote {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
