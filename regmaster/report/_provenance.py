"""Provenance of a run: package versions, platform, processor, JAX devices and git commit."""

from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("jax", "jaxlib", "numpyro", "equinox", "einops", "arviz", "scipy", "numpy", "pytest")


def environment(argv: Iterable[str] | None = None) -> dict[str, Any]:
    """Versions, platform, JAX devices and precision, git commit (and whether tracked files
    differ from it) and command line of this run."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    commit = _git(["rev-parse", "HEAD"])
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _processor(),
        "packages": versions,
        "git_commit": commit,
        "git_dirty": None
        if commit is None
        else _git(["status", "--porcelain", "--untracked-files=no"]) is not None,
        "command": list(sys.argv if argv is None else argv),
    }
    if "jax" in sys.modules:
        import jax

        env["jax_backend"] = jax.default_backend()
        env["devices"] = [str(d) for d in jax.devices()]
        env["x64"] = bool(jax.config.jax_enable_x64)
    return env


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _git(args: list[str]) -> str | None:
    """``git ARGS``'s output, stripped; None when empty or when git cannot answer."""
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None
