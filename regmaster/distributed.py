"""Several processes, one run: JAX's multi-process runtime (``jax.distributed``).

Every process runs the same program on the same seed; :func:`regmaster.engine.fit_batched` given
devices of several processes splits the lanes over all of them and gathers every lane's draws in
every process, so each computes the same verdict. The first process reports and writes files.
Launching: docs/scale.md.
"""

from __future__ import annotations

import jax

__all__ = ["PeerLost", "barrier", "first_line", "initialize", "is_reporter"]


class PeerLost(RuntimeError):
    """Another process of the run stopped, or cannot be reached, while this one waited on it."""

    @classmethod
    def from_error(cls, error: BaseException) -> PeerLost:
        return cls(
            f"process {jax.process_index()} of {jax.process_count()}: another process of the "
            f"run stopped or cannot be reached (read its own error first): {first_line(error)}"
        )


def first_line(error: BaseException) -> str:
    """The first line of a JAX runtime error's message (the rest is its C++ context)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> None:
    """Join the run: ``jax.distributed.initialize`` before any JAX computation.

    With no arguments JAX reads the cluster from its environment (SLURM, Open MPI, Kubernetes,
    ``JAX_COORDINATOR_ADDRESS``); otherwise give all three: the coordinator's ``host:port`` (the
    process with id 0 listens there), the number of processes, this one's id in
    [0, num_processes).
    """
    given = [coordinator is not None, num_processes is not None, process_id is not None]
    if any(given) and not all(given):
        raise ValueError(
            "coordinator, num_processes and process_id go together: got "
            f"coordinator={coordinator!r}, num_processes={num_processes!r}, "
            f"process_id={process_id!r}"
        )
    if coordinator is not None:
        host, _, port = coordinator.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"coordinator must be HOST:PORT, got {coordinator!r}")
        if num_processes < 1:
            raise ValueError(f"num_processes must be >= 1, got {num_processes}")
        if not 0 <= process_id < num_processes:
            raise ValueError(f"process_id must be in [0, {num_processes}), got {process_id}")
    jax.distributed.initialize(
        coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
    )


def is_reporter() -> bool:
    """Whether this process prints and writes the run's results (process 0)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process of the run reaches this point (``sync_global_devices``);
    :class:`PeerLost` if one of them stopped on the way."""
    from jax.experimental import multihost_utils

    try:
        multihost_utils.sync_global_devices(name)
    except jax.errors.JaxRuntimeError as error:
        raise PeerLost.from_error(error) from None
