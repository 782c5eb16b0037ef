"""The replication planner: its simulated power against the SBC power table of
docs/calibration.md (measured by `tox -e calibrate`, other seeds), and its refusals."""

import pytest

from regmaster import get_spec
from regmaster.cli import main
from regmaster.planning import plan, quantity_count, simulated_power


def test_planned_power_falls_in_the_measured_power_tables_intervals():
    # The table's 95% intervals; false alarm ~1% each (docs/calibration.md#planner).
    bnn = simulated_power(40, quantity_count(get_spec("bnn")), 99, scale=0.8, runs=400, seed=1)
    linear = simulated_power(
        200, quantity_count(get_spec("linear")), 99, scale=0.8, faulty=1, runs=400, seed=2
    )
    assert 0.201 <= bnn <= 0.327, bnn
    assert 0.574 <= linear <= 0.711, linear


def test_a_plan_stops_at_the_first_size_that_reaches_the_target():
    result = plan(get_spec("bnn"), scale=0.8, power=0.8, sizes=(50, 100, 200, 500), seed=0)
    sizes = list(result.power_by_size)
    assert result.replications == sizes[-1] and result.power_by_size[sizes[-1]] >= 0.8
    assert all(p < 0.8 for p in list(result.power_by_size.values())[:-1])
    assert result.quantities == 5


def test_a_plan_without_a_fault_is_refused():
    with pytest.raises(ValueError, match="plan needs a fault"):
        plan(get_spec("linear"))


def test_the_command_plans_without_fitting_and_refuses_a_bad_fault(capsys):
    assert main(["sbc", "--model", "linear", "--plan", "shift=0.5"]) == 0
    out = capsys.readouterr().out
    assert "SBC plan for linear: 7 quantities" in out and "replications detect it" in out
    with pytest.raises(SystemExit) as stop:
        main(["sbc", "--model", "linear", "--plan", "narrower=0.1"])
    assert stop.value.code == 2
