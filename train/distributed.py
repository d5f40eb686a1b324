"""This process's place in a torchrun job, its device, and the random states a resume restores.

Outside ``torchrun`` (WORLD_SIZE unset or 1) the process is rank 0 of a world of one, and the
barriers and broadcasts do nothing.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist

from runtime.errors import UsageError

T = TypeVar("T")


@dataclass(frozen=True)
class Distributed:
    """This process's rank among ``world_size`` (``local_rank`` on its machine: its GPU)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def finish(self) -> None:
        """Wait for every rank, then leave the process group (at the end of a run)."""
        if self.active:
            dist.barrier()
            dist.destroy_process_group()


def start_distributed() -> Distributed:
    """Join the torchrun process group when launched by torchrun (WORLD_SIZE > 1)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Distributed()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    world = Distributed(dist.get_rank(), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if backend == "gloo":
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    return world


@contextlib.contextmanager
def main_first(world: Distributed, enabled: bool) -> Iterator[None]:
    """Rank 0 runs the block before the other ranks (when ``enabled``), e.g. a download."""
    if enabled and not world.is_main:
        world.barrier()
    yield
    if enabled and world.is_main:
        world.barrier()


def pick_device(choice: str, world: Distributed) -> torch.device:
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("device cuda asked for but no CUDA GPU is visible")
        torch.cuda.set_device(world.local_rank)
        return torch.device("cuda", world.local_rank)
    return torch.device(choice)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def capture_rng() -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def broadcast(value: T, world: Distributed) -> T:
    """Rank 0's ``value`` on every rank (e.g. the early-stopping bookkeeping, so every rank
    leaves the epoch loop together)."""
    if not world.active:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]
