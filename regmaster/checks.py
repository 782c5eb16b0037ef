"""Argument checks shared by the package: every bad input raises ``ValueError`` naming it."""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np


def _is_concrete(value) -> bool:
    return not isinstance(value, jax.core.Tracer)


def _check_finite(name: str, values) -> None:
    if not _is_concrete(values):
        return
    bad = int(np.sum(~np.isfinite(np.asarray(values))))
    if bad:
        raise ValueError(f"{name} must be finite, got {bad} NaN or inf value(s)")


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_positive_float(name: str, value) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number ``> 0``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not math.isfinite(number) or number <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def check_probability(name: str, value) -> float:
    """Return ``value`` as a float in the open interval ``(0, 1)``, or raise naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}") from None
    if not (0.0 < number < 1.0):
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return number


def check_rate(name: str, value) -> float:
    """Return ``value`` as a float in ``[0, 1)``, or raise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}") from None
    if not (0.0 <= number < 1.0):
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return number


def check_inputs(x, y=None):
    """Check a 1-D input ``x`` and optional target ``y`` of the same length.

    Shapes are checked always (they are static under ``jit``); finiteness is checked whenever the
    arrays are concrete, so a NaN or inf never reaches a sampler silently.
    """
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D with shape (n,), got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError("x must hold at least one point, got shape (0,)")
    _check_finite("x", x)
    if y is None:
        return x, None
    y = jnp.asarray(y)
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"y must have the shape of x, {tuple(x.shape)}, got shape {tuple(y.shape)}"
        )
    _check_finite("y", y)
    return x, y


def check_output(option: str, path: str | None, directory: bool = False) -> None:
    """Refuse an output path that cannot be written, before any computing: the directories are
    made and a file is opened for appending (and removed again if it did not exist).

    Parameters
    ----------
    option : str
        The option that named the path, for the message.
    path : str or None
        The path; nothing is checked when it is empty.
    directory : bool, optional
        Whether the path is a directory to write files in.

    Raises
    ------
    ValueError
        The path cannot be written, in one line naming the option and the reason.
    """
    if not path:
        return
    target = Path(path)
    try:
        if directory:
            target.mkdir(parents=True, exist_ok=True)
            probe = target / ".regmaster-write-test"
        else:
            if target.is_dir():
                raise IsADirectoryError(21, "is a directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            probe = target
        existed = probe.exists()
        with open(probe, "a"):
            pass
        if not existed:
            probe.unlink()
    except OSError as error:
        raise ValueError(
            f"{option} {path}: cannot write there ({error.strerror or error})"
        ) from None
