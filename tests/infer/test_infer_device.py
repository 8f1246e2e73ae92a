"""Device and precision choice, checked for machines other than this one by passing the
machine's capabilities in."""

from __future__ import annotations

import pytest
import torch

from semsr_core.errors import ConfigError
from semsr_core.infer.device import (
    available_devices,
    choose_precision,
    is_out_of_memory,
    resolve_device,
    set_cpu_threads,
)
from semsr_core.infer.network import choose_tile_and_batch


@pytest.mark.parametrize(("cuda_count", "mps", "expected"), [
    (2, True, "cuda:0"),  # CUDA first
    (0, True, "mps"),     # then Apple's GPU
    (0, False, "cpu"),    # then the CPU
])
def test_auto_prefers_cuda_then_mps_then_cpu(cuda_count, mps, expected):
    assert resolve_device("auto", cuda_count=cuda_count, mps=mps) == torch.device(expected)


def test_a_named_gpu_is_used_when_present():
    assert resolve_device("cuda:1", cuda_count=2, mps=False) == torch.device("cuda", 1)
    assert resolve_device("CUDA", cuda_count=1, mps=False) == torch.device("cuda", 0)


@pytest.mark.parametrize(("name", "cuda_count", "mps", "words"), [
    ("cuda:1", 1, False, "cuda:0..cuda:0"),
    ("cuda", 0, False, "no CUDA GPU"),
    ("mps", 0, False, "no Apple GPU"),
    ("tpu", 0, False, "not known"),
    ("cuda:x", 1, False, "not a device name"),
])
def test_an_absent_device_is_a_clear_error(name, cuda_count, mps, words):
    with pytest.raises(ConfigError, match=words) as info:
        resolve_device(name, cuda_count=cuda_count, mps=mps)
    assert name in str(info.value)


@pytest.mark.parametrize(("precision", "device", "bf16", "expected"), [
    ("auto", "cuda", True, torch.bfloat16),
    ("auto", "cuda", False, torch.float16),
    ("auto", "cpu", True, torch.bfloat16),   # a CPU with AMX / AVX-512-BF16
    ("auto", "cpu", False, torch.float32),
    ("auto", "mps", False, torch.float32),
    ("fp32", "cuda", True, torch.float32),
    ("fp16", "cuda", True, torch.float16),
    ("bf16", "cpu", False, torch.bfloat16),
])
def test_precision_choice(precision, device, bf16, expected):
    assert choose_precision(precision, torch.device(device), bf16_supported=bf16) == expected


def test_fp16_on_the_cpu_and_unknown_precisions_are_refused():
    with pytest.raises(ConfigError, match="fp16"):
        choose_precision("fp16", torch.device("cpu"))
    with pytest.raises(ConfigError, match="fp8"):
        choose_precision("fp8", torch.device("cpu"))


def test_the_cpu_is_always_listed_last():
    devices = available_devices()
    assert devices[-1].id == "cpu"
    assert devices[-1].total_memory and devices[-1].total_memory > 0


def test_cpu_thread_count_is_set_as_asked():
    before = torch.get_num_threads()
    try:
        assert set_cpu_threads(1) == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_out_of_memory_errors_are_recognised_and_others_are_not():
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory"))
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 20 MiB"))
    assert not is_out_of_memory(RuntimeError("Given groups=1, weight of size [8, 1, 3, 3]"))
    assert not is_out_of_memory(ValueError("out of memory"))


def test_automatic_tile_grows_with_free_memory_and_stays_within_bounds():
    small, _ = choose_tile_and_batch(per_pixel=4096, free=2**30, device_type="cuda",
                                     tile=None, batch=1, overlap=16, multiple=4)
    large, _ = choose_tile_and_batch(per_pixel=4096, free=16 * 2**30, device_type="cuda",
                                     tile=None, batch=1, overlap=16, multiple=4)
    assert 64 <= small < large <= 1024
    assert small % 4 == 0 and large % 4 == 0
    # 0.5 GiB budget at 4 KiB per pixel fits a 362-pixel square; rounded down to 4
    assert small == 360


def test_given_tile_and_batch_are_kept_and_the_cpu_batches_one():
    assert choose_tile_and_batch(per_pixel=1.0, free=0, device_type="cpu", tile=200,
                                 batch=3, overlap=16) == (200, 3)
    tile, batch = choose_tile_and_batch(per_pixel=1000, free=2**34, device_type="cpu",
                                        tile=None, batch=None, overlap=16)
    assert (tile, batch) == (512, 1)
    _, gpu_batch = choose_tile_and_batch(per_pixel=1000, free=2**34, device_type="cuda",
                                         tile=256, batch=None, overlap=16)
    assert gpu_batch == 16


def test_measuring_bf16_speed_leaves_torchs_random_stream_as_it_was():
    """A seeded training that measures the CPU on its way must run as it would without."""
    from semsr_core.infer.device import bf16_conv_speedup

    bf16_conv_speedup.cache_clear()
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    bf16_conv_speedup(repeats=1)
    assert torch.equal(torch.rand(4), expected)
