"""Where inference runs and in what number format.

``resolve_device("auto")`` picks CUDA, then Apple's MPS, then the CPU; a named device
(``"cuda:1"``) that is absent is an error that says which devices exist.
``choose_precision`` picks the arithmetic: on CUDA bfloat16 where the GPU supports it,
else float16; on the CPU bfloat16 where the processor computes it natively (AMX or
AVX-512-BF16, detected by :func:`cpu_bf16_support`) and measured faster than float32
there (:func:`bf16_conv_speedup`), else float32; float32 on MPS.
An ``auto`` choice other than float32 is checked against float32 on the first tile
(:func:`semsr_core.infer.network.check_precision`). ``training_autocast_dtype`` is the
same choice for training steps. ``free_memory`` says
how many bytes a tile may use, and ``set_cpu_threads`` sets the CPU thread count once,
deliberately, instead of leaving it to whatever torch guessed.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass

import torch

from semsr_core.errors import ConfigError

PRECISIONS = ("auto", "fp32", "fp16", "bf16")

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class DeviceInfo:
    """One device the app can offer: ``id`` for :func:`resolve_device`, a readable name,
    and its total memory in bytes (``None`` where unknown)."""

    id: str
    name: str
    total_memory: int | None


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[DeviceInfo]:
    """The devices inference can use on this machine, CPU last."""
    import psutil

    found = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            found.append(DeviceInfo(f"cuda:{index}", props.name, int(props.total_memory)))
    if _mps_available():
        found.append(DeviceInfo("mps", "Apple GPU (MPS)", None))
    found.append(DeviceInfo("cpu", f"CPU ({os.cpu_count()} logical cores)",
                            int(psutil.virtual_memory().total)))
    return found


def resolve_device(name: str | torch.device = "auto", *, cuda_count: int | None = None,
                   mps: bool | None = None) -> torch.device:
    """The torch device for ``name``: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:i"`` or ``"mps"``.

    ``cuda_count`` and ``mps`` describe the machine; they default to what torch reports
    and exist so the choice can be checked for machines other than this one.
    """
    if isinstance(name, torch.device):
        name = str(name)
    text = str(name).strip().lower()
    if cuda_count is None:
        cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if mps is None:
        mps = _mps_available()
    if text == "auto":
        if cuda_count > 0:
            return torch.device("cuda", 0)
        return torch.device("mps") if mps else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        if not mps:
            raise ConfigError(f"device 'mps' was asked for but this machine has no Apple GPU "
                              f"({_present(cuda_count, mps)})",
                              hint="Use --device auto or cpu.")
        return torch.device("mps")
    if text == "cuda" or text.startswith("cuda:"):
        index_text = text.partition(":")[2] or "0"
        if not index_text.isdigit():
            raise ConfigError(f"device '{name}' is not a device name",
                              hint="Write cuda, cuda:0, cuda:1, ...")
        index = int(index_text)
        if index >= cuda_count:
            raise ConfigError(f"device '{name}' was asked for but this machine has "
                              f"{_present(cuda_count, mps)}",
                              hint="Use --device auto, cpu, or one of the CUDA devices listed.")
        return torch.device("cuda", index)
    raise ConfigError(f"device '{name}' is not known",
                      hint="Use auto, cpu, cuda, cuda:<index> or mps.")


def _present(cuda_count: int, mps: bool) -> str:
    parts = [f"cuda:0..cuda:{cuda_count - 1}"] if cuda_count else ["no CUDA GPU"]
    if mps:
        parts.append("mps")
    parts.append("cpu")
    return ", ".join(parts)


@dataclass(frozen=True)
class CpuBf16Support:
    """Whether this processor computes bfloat16 natively, and how that was found.

    ``amx``: Intel AMX tiles with bf16 (Sapphire Rapids and later); ``avx512_bf16``:
    the AVX-512 bf16 dot-product instructions (Cooper Lake, Zen 4 and later). Without
    either, oneDNN emulates bf16 through float32 and it is slower than float32.
    """

    amx: bool
    avx512_bf16: bool
    speedup: float | None = None
    """bf16's speed over float32's on a 3×3 convolution, measured on this machine
    (:func:`bf16_conv_speedup`); ``None`` where not measured."""

    @property
    def native(self) -> bool:
        return self.amx or self.avx512_bf16

    @property
    def faster(self) -> bool:
        """Native bf16 that is also measured faster than float32 (or not measured)."""
        return self.native and (self.speedup is None or self.speedup >= MIN_BF16_SPEEDUP)

    def describe(self) -> str:
        found = [n for n, on in (("AMX-BF16", self.amx), ("AVX-512-BF16", self.avx512_bf16))
                 if on]
        text = ", ".join(found) if found else "no native bf16"
        if self.speedup is not None:
            text += f" (3×3 convolution bf16 ÷ fp32 speed {self.speedup:.2f}×)"
        return text


MIN_BF16_SPEEDUP = 1.15
"""Least measured bf16 ÷ fp32 convolution speed for ``auto`` to choose bf16 on the CPU.
AMX gives 5–10× (benchmarks/speed.md); a virtual machine that reports AVX-512-BF16 but
runs it slowly gave 0.4× — there float32 is kept."""


def _cpuinfo_flags() -> set[str]:
    """The feature flags of /proc/cpuinfo (empty where there is no such file)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


@functools.lru_cache(maxsize=1)
def bf16_conv_speedup(repeats: int = 7) -> float:
    """bf16's speed over float32's on one core of this CPU, measured once per process.

    A 64→64-channel 3×3 convolution on a 64×64 channels-last tensor (the shape of SR
    trunks), each precision timed ``repeats`` times in turn after a warm-up on one
    thread, in the thread's own CPU time (so that other jobs on a busy machine do not
    enter the timings), best of each; about 0.2 s on a 2-core Xeon without AMX. The flags
    say what the CPU can decode; this says whether it is fast (a virtual CPU may not be).
    """
    # the layers' initialisation and the input draw from torch's random generator: on a
    # fork of it, so that measuring (lazily, inside a seeded training) changes no run
    with torch.random.fork_rng(devices=[]):
        conv32 = torch.nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
        conv16 = torch.nn.Conv2d(64, 64, 3, padding=1).to(torch.bfloat16)
        conv16 = conv16.to(memory_format=torch.channels_last)
        x32 = torch.rand(1, 64, 64, 64).contiguous(memory_format=torch.channels_last)
    x16 = x32.to(torch.bfloat16)
    best = {"fp32": float("inf"), "bf16": float("inf")}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            conv32(x32), conv16(x16)
            for _ in range(max(1, repeats)):
                for name, conv, x in (("fp32", conv32, x32), ("bf16", conv16, x16)):
                    start = time.thread_time()
                    conv(x)
                    best[name] = min(best[name], time.thread_time() - start)
    finally:
        torch.set_num_threads(threads)
    return best["fp32"] / max(best["bf16"], 1e-9)


def cpu_bf16_support() -> CpuBf16Support:
    """Detect native bfloat16 on this CPU, and measure whether it is faster than float32.

    On Linux the kernel's flags in /proc/cpuinfo decide (``amx_bf16``, ``avx512_bf16``;
    they also say whether the OS enabled the AMX state); elsewhere torch's own CPU
    probe. Without oneDNN in this torch build there are no fast bf16 convolutions.
    Where the flags say native, :func:`bf16_conv_speedup` is measured (once per process).
    """
    if not torch.backends.mkldnn.is_available():
        return CpuBf16Support(False, False)
    flags = _cpuinfo_flags()
    if flags:
        found = CpuBf16Support("amx_bf16" in flags, "avx512_bf16" in flags)
        return _measured(found)
    probe = getattr(torch, "cpu", None)

    def asked(name: str) -> bool:
        function = getattr(probe, name, None)
        try:
            return bool(function()) if function is not None else False
        except Exception:  # an old torch or an unknown CPU: no evidence of support
            return False

    return _measured(CpuBf16Support(asked("_is_amx_tile_supported"),
                                    asked("_is_avx512_bf16_supported")))


def _measured(found: CpuBf16Support) -> CpuBf16Support:
    if not found.native:
        return found
    return CpuBf16Support(found.amx, found.avx512_bf16, bf16_conv_speedup())


def choose_precision(precision: str, device: torch.device, *,
                     bf16_supported: bool | None = None) -> torch.dtype:
    """The compute dtype for ``precision`` (``auto``/``fp32``/``fp16``/``bf16``) on ``device``.

    ``auto`` is bfloat16 on a CUDA GPU that supports it, float16 on other CUDA GPUs,
    bfloat16 on a CPU with native bf16 (AMX or AVX-512-BF16) measured faster than float32
    (:attr:`CpuBf16Support.faster`), float32 elsewhere.
    ``bf16_supported`` describes the device; by default it is asked of torch (CUDA) or
    detected (:func:`cpu_bf16_support`). float16 on the CPU is refused: it is slow
    there and loses range; use bf16 or fp32.
    """
    text = str(precision).strip().lower()
    if text not in PRECISIONS:
        raise ConfigError(f"precision '{precision}' is not known",
                          hint="Use one of auto, fp32, fp16, bf16.")
    if text == "auto":  # the same choice as training's mixed precision; float32 without
        return training_autocast_dtype(device, bf16_supported=bf16_supported) or torch.float32
    if text == "fp16" and device.type == "cpu":
        raise ConfigError("precision 'fp16' is not offered on the CPU",
                          hint="Use bf16 or fp32 there.")
    return _DTYPES[text]


def is_auto(precision: str) -> bool:
    """True when ``precision`` asks semsr to choose (and so to check its choice)."""
    return str(precision).strip().lower() == "auto"


def precision_name(dtype: torch.dtype) -> str:
    """``fp32``, ``fp16`` or ``bf16`` for a compute dtype."""
    return {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[dtype]


def precision_label(amp_dtype: torch.dtype | None) -> str:
    """How a training step computes: its autocast dtype (``bf16 autocast``), or ``fp32``
    without autocast."""
    return "fp32" if amp_dtype is None else f"{precision_name(amp_dtype)} autocast"


def training_autocast_dtype(device: torch.device, *,
                            bf16_supported: bool | None = None) -> torch.dtype | None:
    """The autocast dtype of a mixed-precision training step on ``device``, None for float32.

    CUDA: bfloat16 where supported, else float16 (with a gradient scaler). CPU: bfloat16
    where the processor computes it natively and faster than float32
    (:attr:`CpuBf16Support.faster`; ``benchmarks/speed.md``: with AMX the loss curve
    follows float32's at about 2× the steps per minute), float32 elsewhere. MPS: float32.
    """
    if device.type == "cuda":
        if bf16_supported is None:
            bf16_supported = torch.cuda.is_bf16_supported()
        return torch.bfloat16 if bf16_supported else torch.float16
    if device.type == "cpu":
        if bf16_supported is None:
            bf16_supported = cpu_bf16_support().faster
        return torch.bfloat16 if bf16_supported else None
    return None


def free_memory(device: torch.device) -> int:
    """Bytes of memory free for inference on ``device`` right now."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        # memory cached by torch's allocator is free for our own tensors
        reserved = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + max(reserved, 0))
    import psutil

    # CPU and MPS (unified memory) share the host RAM
    return int(psutil.virtual_memory().available)


def set_cpu_threads(threads: int | None = None) -> int:
    """Set torch's CPU thread count: ``threads`` if given, else the cores this process may use.

    Returns the count set. Called once per inference run on the CPU so that the speed does
    not depend on how an earlier library left torch.
    """
    if threads is None:
        try:
            threads = len(os.sched_getaffinity(0))
        except AttributeError:  # macOS / Windows
            threads = os.cpu_count() or 1
        env = os.environ.get("OMP_NUM_THREADS")
        if env and env.isdigit() and int(env) > 0:
            threads = min(threads, int(env))
    threads = max(1, int(threads))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def is_out_of_memory(error: BaseException) -> bool:
    """True for a device out-of-memory error (CUDA, MPS), including the older RuntimeError text."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def release_cached_memory(device: torch.device) -> None:
    """Give memory cached by torch back to the device (after an out-of-memory error)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()
