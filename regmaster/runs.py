"""Where a command-line SBC run keeps its checkpoint, and the lock that keeps two runs apart.

A run's directory is named by a hash of everything that defines it (model, settings, seed,
replications, inference model, device count), so two different runs never share one; two
identical runs share it, and the lock (``fcntl.flock`` on ``DIR.lock``) makes the second wait
until the first has finished, then compute the same numbers itself.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path


def run_key(definition: dict) -> str:
    """A 12-hex-digit SHA-256 of the run's definition (JSON, keys sorted, other values by
    ``repr``).

    Parameters
    ----------
    definition : dict
        Everything that defines the run.

    Returns
    -------
    str
        The first 12 hex digits of the digest.
    """
    text = json.dumps(definition, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def default_checkpoint(base: Path, label: str, replications: int, seed: int, key: str) -> Path:
    """``base/sbc-LABEL-nN-seedS-KEY``, the label reduced to letters, digits, ``-`` and ``_``.

    Parameters
    ----------
    base : pathlib.Path
        The directory holding the checkpoints.
    label : str
        The model's label; other characters become ``_``.
    replications : int
        N.
    seed : int
        S.
    key : str
        :func:`run_key` of the run.

    Returns
    -------
    pathlib.Path
        The run's checkpoint directory.
    """
    label = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)
    return base / f"sbc-{label}-n{replications}-seed{seed}-{key}"


@contextmanager
def locked(checkpoint: Path, say=None):
    """Hold the lock of ``checkpoint`` for the body; if another process holds it, ``say`` so
    (with its pid) and wait for it.

    The lock is ``fcntl.flock`` on ``<checkpoint>.lock``, which holds the pid of its holder.

    Parameters
    ----------
    checkpoint : pathlib.Path
        The run's checkpoint directory.
    say : callable, optional
        Receives the waiting message; default: print to stderr.
    """
    lock_path = checkpoint.with_name(checkpoint.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            (say or _stderr)(
                f"another regmaster run (pid {holder}) is running this SBC in {checkpoint}; "
                "waiting for it to finish (Ctrl-C to stop waiting)"
            )
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
