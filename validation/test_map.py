"""MAP by SVI + AutoDelta against closed-form and independent optima.

AutoDelta + Trace_ELBO maximises log p(theta, y) over the *constrained* values, with no Jacobian
term (the delta guide has log q = 0; SVI maps its parameters through ``biject_to``). References:

- closed form: sigma fixed, w ~ N(0, I), y ~ N(Phi w, s^2 I): MAP = (Phi'Phi/s^2 + I)^-1 Phi'y/s^2;
- scipy L-BFGS-B on -``log_density`` over constrained values (positive bound for sigma), gradient
  by ``jax.grad``, started from a fixed point unrelated to the SVI run;
- for the non-convex MLP, "equal" means: the AutoDelta point is a stationary point and a
  second-order optimiser (Newton trust region with the exact Hessian) started there cannot raise
  the log joint beyond tolerance.

These are optimisation checks, deterministic given the seed: no false-alarm rate in the
statistical sense. Tolerances (float64, :mod:`regmaster.verdicts`) are those achieved with margin
(docs/calibration.md#map). Optimiser: Adam with a rate halving every 1000 steps from 0.1, since
Adam at a constant rate reaches the optimum and drifts off it again (docs/calibration.md#map).
"""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from numpyro import handlers
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoDelta
from numpyro.infer.initialization import init_to_value

from regmaster.data import make_sinc
from regmaster.inference import decaying_adam, run_map
from regmaster.references import optima
from regmaster.seeds import seed_from_name
from regmaster.verdicts import MAP_GRAD, MAP_OBJECTIVE, MAP_THETA, map_point
from regmaster.zoo import get_spec
from validation.cases import cases
from validation.claims.map import ridge_gap
from validation.claims.rates import FALSE_ALARM  # noqa: F401  (read by the plugin)
from validation.fitcache import shared

pytestmark = pytest.mark.map


# docs/findings.md#mlp-map-adam; the Adam schedules are the registry's (ModelSpec.map_schedule).
XFAIL = {
    "mlp_map": (
        "Adam does not reach a stationary point of the MLP's log joint: after 1e5 steps of "
        "Adam(0.01, halving every 2e4) |grad log p| = 0.13, and a Newton trust region started "
        "there raises log p from 70.44 to 71.24 (relative gap 1.1e-2) and moves theta by 1.7; "
        "the Hessian's condition number is ~1.6e7 at the MLP's local maxima. The delta guide's "
        "objective itself is right: test_delta_guide_is_stationary_at_constrained_map[mlp_map]"
    ),
}


def _fit_seed(name: str, backend: str) -> int:
    return seed_from_name(f"validation/test_map.py::autodelta[{name}-{backend}]")


def _flat(params) -> np.ndarray:
    return np.asarray(ravel_pytree({k: jnp.asarray(v) for k, v in params.items()})[0])


def _model_args(name: str):
    spec = get_spec(name)
    data = make_sinc()
    return spec.model, (data.x_train, data.y_train), spec.kwargs(data.model_keys)


def _fixed_init(point: dict) -> dict:
    """An initial point unrelated to the SVI run: 0.1 for real sites, 1 for sigma."""
    return {
        k: jnp.ones_like(v) if k == "sigma" else jnp.full_like(v, 0.1) for k, v in point.items()
    }


def _autodelta_point(name: str, backend: str, cache: Path) -> dict:
    """The AutoDelta optimum with decaying Adam, from an init drawn with the fit's own seed."""
    return shared(f"map-autodelta-{name}-{backend}", lambda: _fit_autodelta(name, backend), cache)


def _fit_autodelta(name: str, backend: str) -> dict:
    model, args, kwargs = _model_args(name)
    schedule = get_spec(name).map_schedule
    key = jax.random.PRNGKey(_fit_seed(name, backend))
    optimizer = decaying_adam(schedule.learning_rate, schedule.halving_steps)
    fit = run_map(model, key, *args, num_steps=schedule.num_steps, optimizer=optimizer, **kwargs)
    return {k: np.asarray(v) for k, v in fit.point().items()}


def _reference(name: str, backend: str, cache: Path) -> optima.ConstrainedMap:
    """The independent optimum (computed once per run, see :func:`_find_reference`)."""
    return shared(
        f"map-reference-{name}-{backend}", lambda: _find_reference(name, backend, cache), cache
    )


def _find_reference(name: str, backend: str, cache: Path) -> optima.ConstrainedMap:
    """The independent optimum: L-BFGS-B from a fixed init (convex models); for the MLP, a Newton
    trust region from the AutoDelta point (the basin is the MLP's, the optimiser is not SVI's);
    both finished by Newton steps to the float64 floor of the gradient."""
    model, args, kwargs = _model_args(name)
    point = _autodelta_point(name, backend, cache)
    if not get_spec(name).identified:  # non-convex: stay in the AutoDelta point's basin
        ref = optima.constrained_map(model, point, *args, method="trust-exact", **kwargs)
    else:
        ref = optima.constrained_map(model, _fixed_init(point), *args, **kwargs)
    return optima.newton_polish(model, ref.params, *args, **kwargs)


def test_autodelta_equals_ridge_closed_form(backend, seed, record, check):
    """Linear model, sigma fixed: AutoDelta = (Phi'Phi/s^2 + I)^-1 Phi'y/s^2 to ``MAP_RIDGE``."""
    figures, verdict = ridge_gap(seed)
    record(**figures)
    check(verdict)


@pytest.mark.parametrize("map_model", cases("map", xfail=XFAIL))
def test_autodelta_equals_constrained_map(map_model, backend, fit_cache, record, check):
    """AutoDelta point = independent constrained optimum; stationary; not improvable."""
    model, args, kwargs = _model_args(map_model)
    point = _autodelta_point(map_model, backend, fit_cache)
    ref = _reference(map_model, backend, fit_cache)
    log_p = float(optima.log_joint_fn(model, *args, **kwargs)(point))
    theta_gap = float(np.max(np.abs(_flat(point) - _flat(ref.params))))
    grad = optima.grad_norm(model, point, *args, **kwargs)
    objective_gap = (ref.log_joint - log_p) / abs(log_p)
    record(
        statistic="theta gap, gradient norm, relative objective gap",
        theta_gap=theta_gap,
        grad_norm=grad,
        objective_gap=objective_gap,
        log_joint=log_p,
        reference_log_joint=ref.log_joint,
        reference_grad_norm=ref.grad_norm,
        threshold={
            "theta": MAP_THETA.value,
            "grad": MAP_GRAD.value,
            "objective": MAP_OBJECTIVE.value,
        },
        fit_seed=_fit_seed(map_model, backend),
    )
    check(
        *map_point(
            theta_gap=theta_gap,
            grad_norm=grad,
            objective_gap=objective_gap,
            reference_grad_norm=ref.grad_norm,
            what=map_model,
        )
    )


@pytest.mark.parametrize("map_model", cases("map"))
def test_delta_guide_is_stationary_at_constrained_map(map_model, backend, fit_cache, record, check):
    """At the reference constrained optimum theta*, the AutoDelta loss is -log p(theta*) and its
    gradient in SVI's unconstrained coordinates vanishes (a log-Jacobian term, as in
    AutoLaplaceApproximation, would leave d/d log sigma = -1 there)."""
    model, args, kwargs = _model_args(map_model)
    ref = _reference(map_model, backend, fit_cache)
    loss, grad = optima.delta_guide_objective(model, ref.params, *args, **kwargs)
    loss_gap = abs(loss + ref.log_joint) / abs(ref.log_joint)
    record(
        statistic="|grad| of the AutoDelta loss at theta*, |loss + log p(theta*)| / |log p|",
        grad_norm=grad,
        loss_gap=loss_gap,
        reference_grad_norm=ref.grad_norm,
        threshold={"grad": MAP_GRAD.value, "loss": MAP_OBJECTIVE.value},
    )
    check(
        *map_point(
            grad_norm=grad,
            objective_gap=loss_gap,
            reference_grad_norm=ref.grad_norm,
            what=map_model,
        )
    )


SAME_LOG_DENSITY = 1e-14  # relative; the two models compute one log density (float64)
SAME_TRAJECTORY = 1e-10  # |theta_dropout(0) - theta_mlp|_inf: one optimiser path, rounding apart


def _mlp_models():
    spec, dropout = get_spec("mlp_map"), get_spec("mlp_dropout")
    data = make_sinc()
    dropout_kwargs = {**dropout.kwargs(data.model_keys), "dropout_rate": 0.0}
    mlp = functools.partial(spec.model, **spec.kwargs(data.model_keys))
    # the dropout mask is drawn from numpyro.prng_key(): it needs a seed handler
    drop = handlers.seed(functools.partial(dropout.model, **dropout_kwargs), rng_seed=0)
    return mlp, drop, (data.x_train, data.y_train)


def test_dropout_at_rate_0_has_the_mlp_log_density(backend, seed, record):
    """log p(theta, y) of the dropout MLP at p = 0 equals the MLP's at 8 prior draws of theta."""
    mlp, drop, args = _mlp_models()
    keys = jax.random.split(jax.random.PRNGKey(seed), 8)
    gaps = []
    for key in keys:
        theta = handlers.trace(handlers.seed(mlp, key)).get_trace(args[0])
        params = {k: s["value"] for k, s in theta.items() if s["type"] == "sample" and k != "obs"}
        a = optima.log_joint_fn(mlp, *args)(params)
        b = optima.log_joint_fn(drop, *args)(params)
        gaps.append(float(jnp.abs(a - b) / jnp.abs(a)))
    record(
        statistic="max relative |log p_dropout(0) - log p_mlp|",
        value=max(gaps),
        threshold=SAME_LOG_DENSITY,
    )
    assert max(gaps) <= SAME_LOG_DENSITY


def _autodelta_from(model, init: dict, args, steps: int) -> dict:
    guide = AutoDelta(model, init_loc_fn=init_to_value(values=init))
    svi = SVI(model, guide, decaying_adam(0.01, 1000), Trace_ELBO())
    result = svi.run(jax.random.PRNGKey(0), steps, *args, progress_bar=False)
    return {k: np.asarray(v) for k, v in guide.median(result.params).items()}


def test_dropout_at_rate_0_autodelta_equals_mlp_map(backend, seed, record):
    """From the same initial point and optimiser, AutoDelta on the dropout MLP at p = 0 follows the
    MLP's trajectory: same point after 3000 steps to ``SAME_TRAJECTORY``."""
    mlp, drop, args = _mlp_models()
    trace = handlers.trace(handlers.seed(mlp, jax.random.PRNGKey(seed))).get_trace(args[0])
    init = {k: s["value"] for k, s in trace.items() if s["type"] == "sample" and k != "obs"}
    a = _autodelta_from(mlp, init, args, 3000)
    b = _autodelta_from(drop, init, args, 3000)
    gap = float(np.max(np.abs(_flat(a) - _flat(b))))
    record(
        statistic="|theta_dropout(0) - theta_mlp|_inf after 3000 steps",
        value=gap,
        threshold=SAME_TRAJECTORY,
    )
    assert gap <= SAME_TRAJECTORY


def test_rff_gp_has_no_map(backend, seed, record):
    """The centred hierarchical RFF model's log joint is unbounded: along amplitude = t,
    w = t * w0 (w0 fixed), sigma fixed, log p = -D log t + O(1) as t -> 0, since
    sum_j log N(t w0_j; 0, t) = -D log t - |w0|^2 / 2 - (D/2) log 2 pi. So no MAP exists; an
    AutoDelta fit of this model is a run towards the singularity, not an estimate."""
    spec = get_spec("rff_gp")
    data = make_sinc()
    kwargs = spec.kwargs(data.model_keys)
    D = kwargs["rff"].n_features
    w0 = jax.random.normal(jax.random.PRNGKey(seed), (D,))
    log_joint = optima.log_joint_fn(spec.model, data.x_train, data.y_train, **kwargs)
    ts = jnp.logspace(-2, -14, 25)
    values = np.array(
        [float(log_joint({"amplitude": t, "w": t * w0, "sigma": jnp.array(0.1)})) for t in ts]
    )
    slopes = np.diff(values) / np.diff(np.log(np.asarray(ts)))
    tail_slope = float(slopes[-1])
    record(
        statistic="log p along amplitude = t -> 0; slope d log p / d log t",
        log_joint_first_last=[values[0], values[-1]],
        min_increment=float(np.min(np.diff(values))),
        tail_slope=tail_slope,
        expected_slope=-D,
    )
    assert np.all(np.diff(values) > 0), "log p must increase monotonically as t -> 0"
    assert abs(tail_slope + D) <= 1e-6 * D, f"slope {tail_slope} != -D = {-D}: not unbounded"
    assert values[-1] > values[0] + 0.9 * D * np.log(1e12)
