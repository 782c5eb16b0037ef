"""Process-wide JAX settings: float64 and the persistent compilation cache."""

from __future__ import annotations

import os
from pathlib import Path

import jax

CACHE_ENV = "REGMASTER_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$REGMASTER_CACHE_DIR``, else ``$XDG_CACHE_HOME/regmaster/xla`` (XDG default ~/.cache)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "regmaster" / "xla"


def configure(*, x64: bool = True, cache_dir: str | os.PathLike | None = None) -> None:
    """Turn on float64 (the notebook's precision) and, if given, the compilation cache."""
    jax.config.update("jax_enable_x64", x64)
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(cache_dir))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
