"""Where inference runs and in what number format.

``resolve_device("auto")`` picks CUDA, then Apple's MPS, then the CPU; a named device
(``"cuda:1"``) that is absent is an error that says which devices exist.
``choose_precision`` picks the arithmetic: on CUDA bfloat16 where the GPU supports it,
else float16; float32 on the CPU and MPS unless asked otherwise. ``free_memory`` says
how many bytes a tile may use, and ``set_cpu_threads`` sets the CPU thread count once,
deliberately, instead of leaving it to whatever torch guessed.
"""

from __future__ import annotations

import os
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


def choose_precision(precision: str, device: torch.device, *,
                     bf16_supported: bool | None = None) -> torch.dtype:
    """The compute dtype for ``precision`` (``auto``/``fp32``/``fp16``/``bf16``) on ``device``.

    ``auto`` is bfloat16 on a CUDA GPU that supports it (``bf16_supported``, by default
    asked of torch), float16 on other CUDA GPUs, float32 elsewhere. float16 on the CPU is
    refused: it is slow there and loses range; use bf16 or fp32.
    """
    text = str(precision).strip().lower()
    if text not in PRECISIONS:
        raise ConfigError(f"precision '{precision}' is not known",
                          hint="Use one of auto, fp32, fp16, bf16.")
    if text == "auto":
        if device.type != "cuda":
            return torch.float32
        if bf16_supported is None:
            bf16_supported = torch.cuda.is_bf16_supported()
        return torch.bfloat16 if bf16_supported else torch.float16
    if text == "fp16" and device.type == "cpu":
        raise ConfigError("precision 'fp16' is not offered on the CPU",
                          hint="Use bf16 or fp32 there.")
    return _DTYPES[text]


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
