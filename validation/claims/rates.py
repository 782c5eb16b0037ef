"""Each check's nominal false-alarm rate on correct code, by test name: recorded with the check's
result (regmaster's plugin reads a test module's ``FALSE_ALARM``) and printed beside its measured
rate by the calibration harness (docs/calibration.md#calibrate)."""

from __future__ import annotations

from regmaster.verdicts import (
    BFMI,
    CHAIN_CORRELATION,
    DIVERGENCES,
    ESS_PER_CHAIN,
    LOW_ESS_SHARE,
    POINT_DRAWS,
    REFERENCE_ALPHA,
    RHAT,
    SATURATED_SHARE,
    SBC_ALPHA,
)

# Nominal false-alarm rate of each check on correct code: its threshold's (regmaster.verdicts).
CONVERGENCE = {
    "test_rhat_below_1_01": RHAT.false_alarm,
    "test_ess_at_least_100_per_chain": ESS_PER_CHAIN.false_alarm,
    "test_no_divergences": DIVERGENCES.false_alarm,
    "test_ebfmi_at_least_0_2": BFMI.false_alarm,
    "test_tree_depth_not_saturated": SATURATED_SHARE.false_alarm,
    "test_chains_are_not_copies": CHAIN_CORRELATION.false_alarm,
}

COVERAGE = {
    "test_predictive_interval_covers_fresh_observations": "~6e-5 per model (normal "
    "approximation); 0 of 33 fits below the exempt floor; 0 of 200 fresh-noise seeds (rff_svr, "
    "mlp_map)",
    "test_interval_of_normal_draws_has_its_level": "5.7e-7 per bound (normal tail, 5 sd); "
    "0 of 200 seeds",
}

DIAGNOSTICS = {
    "test_rhat_flags_a_chain_offset_by_half_an_sd": "0 of 200 seeds (<= 1.8%, 95%)",
    "test_rhat_flags_chains_that_drift": "0 of 200 seeds (<= 1.8%, 95%)",
    "test_rhat_flags_chains_that_differ_in_scale": "0 of 200 seeds (<= 1.8%, 95%)",
    "test_ess_of_ar1_chains_matches_theory": "0 of 200 seeds (<= 1.8%, 95%)",
    "test_mcse_of_ar1_mean_matches_theory": "0 of 200 seeds (<= 1.8%, 95%)",
}

EXACT_POSTERIOR = {
    "test_nuts_matches_exact_posterior": "2.0e-4 to 0.8% per case from the z-scores (union "
    "bound), plus the R-hat/ESS gate; measured over 200 runs per linear case: 0, and 1 for "
    "linear-quadrature-10_points (0.5%, 95% interval 0.01%-2.8%)",
    "test_quadrature_reference_is_converged": "deterministic",
    "test_conjugate_closed_form_matches_direct_solve": "deterministic",
}

# Optimisation checks, deterministic given the seed.
MAP = {
    "test_autodelta_equals_ridge_closed_form": "deterministic given the seed; 0 of 200 seeds",
} | {
    name: "deterministic given the seed"
    for name in (
        "test_autodelta_equals_constrained_map",
        "test_delta_guide_is_stationary_at_constrained_map",
        "test_dropout_at_rate_0_has_the_mlp_log_density",
        "test_dropout_at_rate_0_autodelta_equals_mlp_map",
        "test_rff_gp_has_no_map",
    )
}

R2 = {
    "test_r2_passes_notebook_threshold": "deterministic given the seed (>= 8 sd margin over seeds)",
    "test_r2_matches_notebook_value": "deterministic given the seed (a regression gate)",
    "test_r2_threshold_holds_over_seeds": "<= 7.5% for mlp_dropout's 5 seeds (Cantelli); far "
    "less for the others",
}

# Nominal false-alarm rates (docs/calibration.md#rff).
RFF = {
    "test_rff_kernel_unbiased_with_theoretical_variance": "~3e-6 per pair; 0 of 200 seeds at "
    "l = 0.5 and 2.5",
    "test_sincos_variance_never_above_cos_phase": "~3e-6 per pair",
    "test_hoeffding_pointwise_bound": "<= 1e-6 per pair; 0 of 200 seeds at l = 0.5",
    "test_uniform_error_on_finite_set_below_union_bound": "<= 4e-5 over 40 draws",
    "test_max_error_decays_as_inverse_sqrt_features": "< 1e-9",
    "test_rff_bayesian_regression_converges_to_exact_gp": "<= 2e-5 per slope",
    "test_models_use_the_validated_feature_map": "deterministic",
    "test_rff_parameters_follow_documented_law": "1e-6 per test; 0 of 200 seeds",
    "test_kernel_functions_reject_bad_arguments": "deterministic",
    "test_rff_report_plot": "a >10-sd draw",
}

# Family-wise by Holm at SBC_ALPHA; measured rates beside the thresholds (regmaster.verdicts).
SBC = {
    "test_sbc_ranks_uniform": SBC_ALPHA.false_alarm,
    "test_sbc_thinned_draws_are_near_independent": LOW_ESS_SHARE.false_alarm,
    "test_sbc_guide_draws_have_spread": POINT_DRAWS.false_alarm,
}

# The SBC statistics themselves, on exact draws and uniform ranks
# (validation/claims/sbc_statistics.py).
SBC_STATISTICS = {
    "test_each_uniformity_test_alone_rejects_the_failure_it_is_there_for": (
        "<= 0.001 per (test, fault): the raw p-value's size"
    ),
    "test_each_uniformity_test_holds_its_size_on_exact_draws": (
        "0.0089: P(Binomial(200, 0.05) > 20) for an exact test"
    ),
    "test_gamma_test_false_alarm_rate_within_twice_nominal": (
        "< 1e-4: an exact test's 95% upper bound passing 2x nominal"
    ),
    "test_sequential_sbc_false_alarm_rate_is_at_most_alpha_over_its_looks": (
        "0.0081: P(Binomial(400, 0.01) >= 10)"
    ),
    "test_sequential_sbc_stops_a_clear_failure_at_an_early_look": (
        "2e-4 at a power of 0.97 (P(Binomial(100, 0.97) < 90)); measured 199/200"
    ),
}

REFERENCE = {
    "test_nuts_matches_posteriordb_reference": REFERENCE_ALPHA.false_alarm,
    "test_nuts_matches_posteriordb_reference_at_release_size": REFERENCE_ALPHA.false_alarm,
}

FALSE_ALARM: dict[str, str] = (
    CONVERGENCE
    | COVERAGE
    | DIAGNOSTICS
    | EXACT_POSTERIOR
    | MAP
    | R2
    | REFERENCE
    | RFF
    | SBC
    | SBC_STATISTICS
)
"""Every check's nominal false-alarm rate, by test function name."""
