"""Seeds from names: the same check draws the same numbers alone, in a full run, on any worker."""

from __future__ import annotations

import hashlib

MAX_SEED = 2**32 - 1
"""The largest seed: ``jax.random.PRNGKey`` keeps the low 32 bits of a larger one (without
64-bit mode), so two seeds would give one key."""


def seed_from_name(name: str) -> int:
    """A stable 31-bit seed: the first four bytes of SHA-256(name), little-endian."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little") & 0x7FFFFFFF
