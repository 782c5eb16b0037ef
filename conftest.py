"""Shared by tests/ and validation/: float64 for the whole session (the notebook's precision)."""

import jax

jax.config.update("jax_enable_x64", True)
