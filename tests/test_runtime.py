"""Process-wide settings: single-threaded Eigen is asked for before JAX starts, never after."""

from __future__ import annotations

import os
import subprocess
import sys

_SCRIPT = """
import os
import jax.numpy as jnp
from regmaster.runtime import single_threaded_eigen
{before}
acted = single_threaded_eigen()
jnp.ones(3).sum().block_until_ready()
print(acted, os.environ.get("XLA_FLAGS", ""), sep="|")
"""


def _run(before: str = "", flags: str | None = None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if flags is not None:
        env["XLA_FLAGS"] = flags
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(before=before)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return out.stdout.strip().split("|")


def test_single_threaded_eigen_is_added_to_the_flags_before_jax_starts():
    acted, flags = _run(flags="--xla_force_host_platform_device_count=2")
    assert (acted, flags) == (
        "True",
        "--xla_force_host_platform_device_count=2 --xla_cpu_multi_thread_eigen=false",
    )


def test_single_threaded_eigen_leaves_the_flags_alone_once_jax_has_started():
    acted, flags = _run(before="jnp.zeros(1).block_until_ready()")
    assert (acted, flags) == ("False", "")


def test_a_user_setting_of_the_eigen_pool_is_kept():
    acted, flags = _run(flags="--xla_cpu_multi_thread_eigen=true")
    assert (acted, flags) == ("True", "--xla_cpu_multi_thread_eigen=true")
