"""The verdict functions: which figure each judges, on which side of its bound, named how."""

import math

import numpy as np
import pytest

from regmaster import moments, verdicts
from regmaster.zoo import get_spec


def test_a_nan_figure_never_holds():
    assert not verdicts.RHAT.holds(math.nan)
    assert not verdicts.ESS_PER_CHAIN.holds(math.nan)
    (verdict,) = verdicts.convergence({"max_rhat": math.nan})
    assert not verdict.passed


def test_each_bound_is_held_on_its_own_side():
    rhat = verdicts.RHAT
    assert rhat.holds(rhat.value - 1e-9) and not rhat.holds(rhat.value)  # strict: "<"
    ess = verdicts.ESS_PER_CHAIN
    assert ess.holds(ess.value) and not ess.holds(ess.value - 1)  # ">="


def test_convergence_judges_the_figures_given_in_a_fixed_order():
    figures = {"divergences": 3, "max_rhat": 1.0}
    judged = verdicts.convergence(figures, what="m")
    assert [v.name for v in judged] == ["rhat", "divergences"]
    assert [v.passed for v in judged] == [True, False]
    assert judged[1].message.startswith("m: divergent post-warmup transitions = 3")


def test_a_reference_check_names_the_moment_beyond_its_bound_and_gates_on_convergence():
    gate = {"max_rhat": 1.0, "min_ess_bulk": 5000.0, "min_ess_tail": 5000.0}
    over_mean = verdicts.Z_MEAN.value + 0.1  # within the sd bound, beyond the mean's
    judged = verdicts.reference(gate, {"w_mean": over_mean, "w_sd": over_mean})
    assert [v.name for v in judged] == ["reference_rhat", "reference_ess", "z"]
    assert judged[0].passed and judged[1].passed and not judged[2].passed
    assert "'w_mean'" in judged[2].message and "'w_sd'" not in judged[2].message.split("(")[0]
    unconverged = dict(gate, min_ess_tail=10.0)
    assert not verdicts.reference(unconverged, {"w_mean": 0.0})[1].passed


def test_coverage_of_an_interval_without_a_claim_is_held_to_the_floor_only():
    share = 0.6  # far from 95%, yet not a degenerate interval
    assert verdicts.coverage(share, exempt=True).passed
    assert not verdicts.coverage(share).passed
    assert not verdicts.coverage(0.0, exempt=True).passed  # an interval that covers nothing


def test_the_r2_gate_reads_the_notebooks_direction():
    linear, bnn = get_spec("linear").notebook, get_spec("bnn").notebook  # "<" and ">"
    assert verdicts.r2_gate(linear, linear.r2_threshold - 0.1).passed
    assert not verdicts.r2_gate(linear, linear.r2_threshold + 0.1).passed
    assert verdicts.r2_gate(bnn, bnn.r2_threshold + 0.1).passed


def test_z_scores_of_exact_draws_are_standard_normal_and_a_shift_is_seen():
    # False alarms < 1e-4 per bound, a 0.2 sd shift moves z by 12.6 (docs/calibration.md#z-scores).
    draws = {"w": np.random.default_rng(3).standard_normal((4, 1000, 50))}
    z, gated = moments.z_scores(draws, {"w_mean": np.zeros(50), "w_sd": np.ones(50)})
    assert set(gated) == {"w"}
    assert abs(float(np.mean(z["w_mean"]))) < 0.6 and 0.6 < float(np.std(z["w_mean"])) < 1.5
    shifted, _ = moments.z_scores(draws, {"w_mean": np.full(50, 0.2)})
    assert float(np.max(shifted["w_mean"])) < -8  # every component flagged


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"w_median": 0.0}, "<site>_mean, <site>_sd or <site>_cov"),
        ({"v_mean": 0.0}, "reference names 'v', which has no draws"),
        ({"w_cov": np.eye(2)}, "needs w_mean"),
    ],
)
def test_a_reference_the_draws_cannot_answer_is_refused_naming_it(given, message):
    with pytest.raises(ValueError, match=message):
        moments.z_scores({"w": np.zeros((2, 10, 2))}, given)
