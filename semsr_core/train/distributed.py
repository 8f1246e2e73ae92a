"""Several processes under ``torchrun`` (``WORLD_SIZE`` > 1): ranks, barriers, shared
stop flags, and each rank's device."""

from __future__ import annotations

import os

import torch


class Distributed:
    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def setup(self, device: torch.device) -> None:
        if self.enabled and not torch.distributed.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend=backend)

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def any_flags(self, *flags: bool) -> tuple[bool, ...]:
        """Each flag, true on every rank when any rank raised it (stop requests, time
        limit); one all-reduce for all of them."""
        if not self.enabled:
            return flags
        t = torch.tensor([1.0 if f else 0.0 for f in flags])
        torch.distributed.all_reduce(t)
        return tuple(bool(v > 0) for v in t.tolist())

    def broadcast_ints(self, values: list[int]) -> list[int]:
        """Rank 0's ``values`` on every rank (a plan fitted to rank 0's clock)."""
        if not self.enabled:
            return list(values)
        t = torch.tensor(values, dtype=torch.int64)
        torch.distributed.broadcast(t, src=0)
        return [int(v) for v in t.tolist()]

    def teardown(self) -> None:
        if self.enabled and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def resolve_training_device(device: str | torch.device, dist: Distributed) -> torch.device:
    from semsr_core.infer.device import resolve_device

    if dist.enabled and torch.cuda.is_available() and str(device) in ("auto", "cuda"):
        torch.cuda.set_device(dist.local_rank)
        return torch.device("cuda", dist.local_rank)
    return resolve_device(device)
