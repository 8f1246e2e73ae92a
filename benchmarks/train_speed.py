"""Training steps per second of every bundled recipe at its default size: fp32 against
bf16 autocast, on this CPU, in one run.

Each recipe is timed by :func:`semsr_core.train.estimate.estimate_run` — the training
wizard's own estimate: the real Trainer on real (simulated) data, one warm-up step and
``--steps`` timed steps of every phase — twice in turn: ``train.amp=false`` (fp32) and
bf16 autocast. bf16 is forced for the second (``engine._amp_dtype``) so that it is
measured even where ``auto`` would not choose it; the ``auto`` column says what a run on
this machine uses (the estimate reports the precision its timed steps used). VGG-loss
recipes get random stand-in VGG weights of the public shapes when the real ones are
absent (the speed of a VGG loss does not depend on its weights).

    OMP_NUM_THREADS=1 timeout 7200 .venv/bin/python benchmarks/train_speed.py

Results go to ``benchmarks/train_speed.json`` (written after every recipe, so a run
stopped early keeps what it measured) and ``benchmarks/train_speed.md``.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from speed import _stand_in_vgg, _training_data, load_average, machine  # noqa: E402


def _measure(recipe: str, data: Path, steps: int, bf16: bool) -> dict:
    from semsr_core.train import engine, load_config
    from semsr_core.train.estimate import estimate_run

    original = engine._amp_dtype
    if bf16:
        engine._amp_dtype = lambda _device: torch.bfloat16
    started = time.perf_counter()
    try:
        config = load_config(recipe, [f"train.amp={str(bf16).lower()}"])
        estimate = estimate_run(config, data, device="cpu", steps=steps)
    finally:
        engine._amp_dtype = original
    return {"steps_per_s": {k: (1 / v if v else None)
                            for k, v in estimate.phase_seconds_per_step.items()},
            "precision": estimate.precision, "wall_s": time.perf_counter() - started,
            "load": load_average()}


def run(recipes: list[str], steps: int, out: Path, precisions: tuple[str, ...] = ("fp32", "bf16"),
        append: bool = False) -> dict:
    """Time ``recipes``; with ``append``, add to the results already in ``out`` (recipes
    measured there are skipped) and note this run's start beside the first's."""
    from semsr_core.infer.device import training_autocast_dtype
    from semsr_core.train import load_config

    work = Path(tempfile.mkdtemp(prefix="semsr-train-speed-"))
    atexit.register(shutil.rmtree, work, True)  # no folders left in the temp dir
    data = _training_data(work)
    auto = training_autocast_dtype(torch.device("cpu"))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    vgg = _stand_in_vgg(work)  # the environment points VGG losses at them
    if append and out.exists():
        results = json.loads(out.read_text())
        results.setdefault("continued", []).append(
            {"started": started, "load_start": load_average(), "precisions": precisions})
        recipes = [r for r in recipes if r not in {row["recipe"] for row in results["recipes"]}]
    else:
        results = {"machine": machine(), "started": started, "load_start": load_average(),
                   "steps": steps, "auto": "bf16 autocast" if auto == torch.bfloat16
                   else "fp32", "vgg": vgg, "recipes": []}
    for recipe in recipes:
        config = load_config(recipe)
        row: dict = {"recipe": recipe, "size": f"{config.generator.arch}, batch "
                     f"{config.data.batch}, LR patch {config.data.lr_patch}"}
        for name, bf16 in (("fp32", False), ("bf16", True)):
            if name not in precisions:
                continue
            try:
                row[name] = _measure(recipe, data, steps, bf16)
            except Exception as error:  # a recipe that cannot run here: say why
                row[name] = {"error": f"{type(error).__name__}: {str(error)[:200]}"}
        results["recipes"].append(row)
        print(f"{recipe}: " + json.dumps({k: row[k].get("steps_per_s", row[k].get("error"))
                                          for k in precisions}), flush=True)
        results["load_end"] = load_average()
        out.write_text(json.dumps(results, indent=1, ensure_ascii=False))
        out.with_suffix(".md").write_text(report(results))
    return results


def report(results: dict) -> str:
    m = results["machine"]
    lines = ["# Training steps per second, every recipe at its default size (CPU)", "",
             "Command: `OMP_NUM_THREADS=1 timeout 7200 .venv/bin/python "
             "benchmarks/train_speed.py` (`--recipes` to choose).", "",
             f"Machine: {m.get('cpu')}, torch threads {m.get('threads')}, torch "
             f"{m.get('torch')}, bf16: {m.get('bf16')}. Run {results['started']}; load "
             f"average at the start {results['load_start']}, after the last recipe "
             f"{results.get('load_end', '—')} (shared machine: compare the two columns of a "
             f"row, timed in turn, not rows with each other). `auto` on this machine "
             f"trains in **{results['auto']}**. {results['steps']} timed step(s) per phase "
             f"after one warm-up, by the wizard's estimate; "
             f"{results['vgg'] or 'real VGG weights'}.", "",
             "| recipe | size | phase | fp32 steps/s | bf16 steps/s | bf16 ÷ fp32 |",
             "|---|---|---|---|---|---|"]
    for row in results["recipes"]:
        fp32, bf16 = row["fp32"], row.get("bf16", {"steps_per_s": {}})
        if "error" in fp32 or "error" in bf16:
            lines.append(f"| {row['recipe']} | {row['size']} | — | "
                         f"{fp32.get('error', '')} | {bf16.get('error', '')} | — |")
            continue
        for phase, a in fp32["steps_per_s"].items():
            b = bf16["steps_per_s"].get(phase)
            ratio = f"{b / a:.2f}×" if a and b else "—"
            lines.append(f"| {row['recipe']} | {row['size']} | {phase} | "
                         f"{_rate(a)} | {_rate(b) if 'bf16' in row else 'not timed'} | "
                         f"{ratio} |")
    from semsr_core.train import recipe_names

    done = {r["recipe"] for r in results["recipes"]}
    missing = sorted(set(recipe_names()) - done)
    lines += ["", f"Recipes measured: {len(done)} of {len(done) + len(missing)}"
              + (f" (not yet: {', '.join(missing)})." if missing else ".")]
    for more in results.get("continued", []):
        lines.append(f"Continued {more['started']} ({', '.join(more['precisions'])} only), "
                     f"load average at its start {more['load_start']}.")
    notes = ROOT / "benchmarks" / "train_speed.notes.md"
    if notes.exists():
        lines += ["", notes.read_text().rstrip()]
    return "\n".join(lines) + "\n"


def _rate(value: float | None) -> str:
    return f"{value:.3g}" if value else "—"


def main(argv: list[str] | None = None) -> None:
    from semsr_core.train import recipe_names

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="*", help="recipe names (default: all)")
    parser.add_argument("--steps", type=int, default=1, help="timed steps per phase")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "train_speed.json")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"],
                        choices=["fp32", "bf16"], help="which to time (default both)")
    parser.add_argument("--append", action="store_true",
                        help="add to the --out results, skipping recipes measured there")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the .md from the --out JSON without measuring")
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads(args.out.read_text())
        args.out.with_suffix(".md").write_text(report(results))
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    run(args.recipes or list(recipe_names()), args.steps, args.out, tuple(args.precisions),
        args.append)


if __name__ == "__main__":
    main()
