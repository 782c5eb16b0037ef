"""One SBC run over two processes (``jax.distributed``, loopback) equals the one-process run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from regmaster import cli

# 10 replications x 2 chains of the linear model: 20 lanes, 10 on each of 2 CPU devices.
_RUN = ["sbc", "--model", "linear", "--replications", "10", "--seed", "3", "--no-cache"]
_TIMEOUT_S = 600


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(devices_per_process: int, cache) -> dict[str, str]:
    """A CPU run with its own cache: the default checkpoint directory does not exist yet, as on a
    fresh machine, so both processes starting a run at once is exercised."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", REGMASTER_CACHE_DIR=str(cache / "xla"))
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices_per_process}"
    return env


def _regmaster(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "regmaster", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen) -> tuple[int, str]:
    try:
        out, err = process.communicate(timeout=_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return process.returncode, out + err


def _figures(path) -> dict:
    """What a run computed: verdict, per-quantity p-values, fit diagnostics (no timings)."""
    sbc = json.loads(path.read_text())["sbc"]
    return {
        key: sbc[key] for key in ("passed", "quantities", "diagnostics", "replications", "ranks")
    }


def test_two_processes_give_the_figures_of_one_process_with_two_devices(tmp_path):
    try:
        port = _free_port()
    except OSError as error:
        pytest.skip(f"no loopback port for the coordinator: {error}")
    single = _regmaster(
        [*_RUN, "--devices", "all", "--json", str(tmp_path / "one.json")], _env(2, tmp_path)
    )
    code, log = _finish(single)
    assert code in (0, 1), log

    shared = [*_RUN, "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
    first = _regmaster(
        [*shared, "--process-id", "0", "--json", str(tmp_path / "two.json")], _env(1, tmp_path)
    )
    second = _regmaster(
        [*shared, "--process-id", "1", "--json", str(tmp_path / "other.json")], _env(1, tmp_path)
    )
    (code0, log0), (code1, log1) = _finish(first), _finish(second)
    if "could not join" in log0 + log1:
        pytest.skip(f"jax.distributed cannot start two local processes here: {log0[-300:]}")
    assert code0 in (0, 1) and code1 == code0, log0 + log1
    assert "over 2 devices" in log0
    assert not (tmp_path / "other.json").exists(), "only process 0 writes the record"
    assert _figures(tmp_path / "two.json") == _figures(tmp_path / "one.json")


def test_a_process_that_stops_is_reported_by_the_others_without_a_traceback(tmp_path):
    try:
        port = _free_port()
    except OSError as error:
        pytest.skip(f"no loopback port for the coordinator: {error}")
    shared = [*_RUN, "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2"]
    first = _regmaster([*shared, "--process-id", "0"], _env(1, tmp_path))
    # Process 1 stops on its own bad argument after joining; process 0 waits for it in vain.
    second = _regmaster([*shared, "--process-id", "1", "--resume"], _env(1, tmp_path))
    (code0, log0), (code1, log1) = _finish(first), _finish(second)
    if "could not join" in log0 + log1:
        pytest.skip(f"jax.distributed cannot start two local processes here: {log0[-300:]}")
    assert code1 == 2 and "--resume: no checkpoint" in log1, log1
    assert code0 == 2 and "another process of the run stopped" in log0, log0
    assert "Traceback" not in log0 + log1


def test_half_a_coordinator_is_refused_before_any_fitting(capsys):
    assert cli.main(["sbc", "--model", "linear", "--num-processes", "2"]) == 2
    assert "--coordinator" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"], "HOST:PORT"),
        (
            ["--coordinator", "localhost:1234", "--num-processes", "2", "--process-id", "2"],
            "[0, 2)",
        ),
        (["--coordinator", "localhost:1234", "--num-processes", "0", "--process-id", "0"], ">= 1"),
        (["--coordinator", "localhost:1234", "--process-id", "0"], "go together"),
    ],
)
def test_bad_distributed_arguments_are_named(flags, named, capsys):
    assert cli.main(["sbc", "--model", "linear", *flags]) == 2
    assert named in capsys.readouterr().err


def test_importing_regmaster_starts_no_jax_backend():
    # jax.distributed.initialize must come before any JAX computation: an array built at import
    # time (a module-level PRNGKey) would make --distributed fail.
    probe = (
        "import jax._src.xla_bridge as xb\n"
        "def touched(*a, **k): raise SystemExit('a JAX backend was started at import')\n"
        "xb.backends = touched\n"
        "import regmaster, regmaster.cli, regmaster.sbc, regmaster.engine, regmaster.zoo\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
