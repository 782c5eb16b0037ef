"""Process-wide JAX settings: float64, the persistent compilation cache, single-threaded Eigen."""

from __future__ import annotations

import os
from pathlib import Path

import jax
from jax._src import xla_bridge

CACHE_ENV = "REGMASTER_CACHE_DIR"

SINGLE_THREADED_EIGEN = "--xla_cpu_multi_thread_eigen=false"
"""The XLA flag that keeps XLA's CPU client off its multi-threaded Eigen pool, which at times
wedges for good on large vmapped programs (docs/findings.md#eigen-hang)."""


def default_cache_dir() -> Path:
    """``$REGMASTER_CACHE_DIR``, else ``$XDG_CACHE_HOME/regmaster/xla`` (XDG default ~/.cache)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "regmaster" / "xla"


def single_threaded_eigen() -> bool:
    """Add :data:`SINGLE_THREADED_EIGEN` to ``XLA_FLAGS`` unless it names the setting already.

    XLA reads the flags when JAX starts its CPU client, so this acts only before the first
    computation; it returns whether it acted (or the flag was there). Parallel runs use one
    process per core, so the pool bought no speed either (docs/findings.md#eigen-hang).
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" in flags:
        return True
    if xla_bridge.backends_are_initialized():
        return False
    os.environ["XLA_FLAGS"] = f"{flags} {SINGLE_THREADED_EIGEN}".strip()
    return True


def configure(*, x64: bool = True, cache_dir: str | os.PathLike | None = None) -> None:
    """Turn on float64 (the notebook's precision), single-threaded Eigen where JAX has not
    started yet (:func:`single_threaded_eigen`) and, if given, the compilation cache."""
    single_threaded_eigen()
    jax.config.update("jax_enable_x64", x64)
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(cache_dir))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
