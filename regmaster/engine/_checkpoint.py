"""Checkpoints of a batched fit: every lane's NUTS state and draws so far, saved after each
segment and loaded to resume with the same numbers."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np


def clear_checkpoint(path: str | os.PathLike) -> None:
    """Delete a checkpoint's files (``state.pkl``, ``segment-N.pkl``) and, if then empty, its
    directory; nothing else in it is touched."""
    path = Path(path)
    if not path.is_dir():
        return
    for child in [*path.glob("state.pkl*"), *path.glob("segment-*.pkl*")]:
        child.unlink()
    try:
        path.rmdir()
    except OSError:
        pass


def has_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds a checkpoint of a batched fit."""
    return (Path(path) / "state.pkl").is_file()


class _Checkpoint:
    """A directory holding every lane's NUTS state after the last finished segment
    (``state.pkl``, with the seconds spent so far) and each finished segment's post-warmup
    transitions (``segment-N.pkl``).

    The state file names what it belongs to (a hash of the lanes' initial points, data and keys
    and of the run's lengths and layout) and the SHA-256 of every segment file; a directory of
    another run, or a segment file that is damaged or swapped, is refused naming the file.
    """

    def __init__(self, path, lanes, settings):
        self.path = None if path is None else Path(path)
        digest = hashlib.sha256(repr(settings).encode())
        for leaf in jax.tree.leaves(lanes):
            digest.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
        self.fingerprint = digest.hexdigest()
        self.checksums: list[str] = []

    def _refuse(self, file: Path, why: str):
        return ValueError(
            f"checkpoint file {file} {why}; delete {self.path} to start the run afresh, or run "
            "without --resume"
        )

    def load(self):
        """``(state, kept, seconds)``: every lane's state (``None`` without a checkpoint), each
        finished segment's transitions and the seconds they took."""
        if self.path is None or not (self.path / "state.pkl").exists():
            return None, [], 0.0
        state_file = self.path / "state.pkl"
        try:
            saved = pickle.loads(state_file.read_bytes())
            segments, state = saved["segments"], saved["state"]
        except Exception as error:  # any unpickling failure means a damaged file
            why = f"cannot be read ({type(error).__name__}: {error})"
            raise self._refuse(state_file, why) from None
        if saved.get("fingerprint") != self.fingerprint:
            raise self._refuse(state_file, "belongs to another run (other data, seed or settings)")
        checksums = saved.get("checksums")
        kept = [self._segment(i, checksums) for i in range(segments)]
        self.checksums = list(checksums or [])
        # Checkpoints written before the seconds were kept count as 0 s.
        return jax.tree.map(jnp.asarray, state), kept, float(saved.get("seconds", 0.0))

    def _segment(self, i: int, checksums: list[str] | None):
        """Segment ``i``'s transitions, checked against its checksum when there is one."""
        file = self.path / f"segment-{i}.pkl"
        try:
            raw = file.read_bytes()
        except OSError as error:
            raise self._refuse(file, f"cannot be read ({error.strerror or error})") from None
        if checksums is not None and hashlib.sha256(raw).hexdigest() != checksums[i]:
            raise self._refuse(file, "does not match its checksum: damaged or from another run")
        try:
            return pickle.loads(raw)
        except Exception as error:
            why = f"cannot be read ({type(error).__name__}: {error})"
            raise self._refuse(file, why) from None

    def save(self, state, index: int, segment, seconds: float) -> None:
        """Write segment ``index``'s transitions and every lane's state after it."""
        # Under jax.distributed every process holds the whole state; the first writes it.
        if self.path is None or jax.process_index() != 0:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        raw = self._write(f"segment-{index}.pkl", segment)
        self.checksums = [*self.checksums[:index], hashlib.sha256(raw).hexdigest()]
        state = jax.tree.map(np.asarray, state)
        self._write(
            "state.pkl",
            {
                "fingerprint": self.fingerprint,
                "segments": index + 1,
                "state": state,
                "seconds": seconds,
                "checksums": self.checksums,
            },
        )

    def _write(self, name: str, value) -> bytes:
        raw = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        tmp = self.path / f"{name}.tmp"
        tmp.write_bytes(raw)
        tmp.replace(self.path / name)
        return raw
