"""A catalogue of realistic inference bugs, each a named fault applied by monkeypatching.

Every bug names the layer it sits in, the check family meant to catch it, and the probes
(:mod:`validation.calibration.probes`) whose code path it lies on: a probe off that path runs the
correct code and cannot see the bug.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import numpyro.infer.hmc
import numpyro.infer.util
import pytest
from einops import einsum
from numpyro.primitives import Messenger

from regmaster import diagnostics, inference, kernels, nn, posteriordb, sbc, stats, zoo
from regmaster.checks import check_inputs

Patch = Callable[[pytest.MonkeyPatch], None]


@dataclass(frozen=True)
class Bug:
    name: str
    layer: str
    family: str  # the family meant to catch it
    summary: str
    patch: Patch
    probes: tuple[str, ...]


class _EditSites(Messenger):
    """Calls ``edit(msg)`` on every sample site: the way a bug rewrites a model's distribution."""

    def __init__(self, fn, edit):
        self.edit = edit
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] == "sample":
            self.edit(msg)


def replace_everywhere(mp: pytest.MonkeyPatch, module, name: str, new) -> None:
    """Set ``module.name`` to ``new`` and every loaded module's reference to the original: the
    effect of a wrong function body, whichever way its users imported it."""
    original = getattr(module, name)
    for loaded in list(sys.modules.values()):
        if getattr(loaded, name, None) is original:
            mp.setattr(loaded, name, new)


def _edited_model(name: str, edit) -> Patch:
    def patch(mp: pytest.MonkeyPatch) -> None:
        spec = zoo.REGISTRY[name]

        @functools.wraps(spec.model)
        def model(*args, **kwargs):
            return _EditSites(spec.model, edit)(*args, **kwargs)

        mp.setitem(zoo.REGISTRY, name, dataclasses.replace(spec, model=model))

    return patch


def _prior_sd_doubled(msg) -> None:
    if msg["name"] == "w":
        msg["fn"] = dist.Normal(msg["fn"].loc, 2.0 * msg["fn"].scale)


def _likelihood_doubled(msg) -> None:
    if msg["name"] == "obs" and msg["is_observed"]:
        msg["scale"] = 2.0


def _half_likelihood_dropped(msg) -> None:
    if msg["name"] == "obs" and msg["is_observed"]:
        n = jnp.shape(msg["value"])[-1]
        msg["fn"] = msg["fn"].mask(jnp.arange(n) < n // 2)


def _model_linear_tree_at_dropped(x, y=None, *, degree: int):
    x, y = check_inputs(x, y)
    net = nn.LinearRegressor(degree=degree)
    w = numpyro.sample("w", dist.Normal(jnp.zeros(degree + 1), 1.0))
    _ = eqx.tree_at(lambda m: m.weight, net, w)  # the result is not kept
    f = numpyro.deterministic("f", net(x))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    numpyro.sample("obs", dist.Normal(f, sigma), obs=y)


def _tree_at_dropped(mp: pytest.MonkeyPatch) -> None:
    spec = zoo.REGISTRY["linear"]
    mp.setitem(
        zoo.REGISTRY, "linear", dataclasses.replace(spec, model=_model_linear_tree_at_dropped)
    )


def _tempered_target(mp: pytest.MonkeyPatch) -> None:
    original = numpyro.infer.util.potential_energy

    def tempered(*args, **kwargs):
        return 0.8 * original(*args, **kwargs)

    replace_everywhere(mp, numpyro.infer.util, "potential_energy", tempered)


def _missing_jacobian(mp: pytest.MonkeyPatch) -> None:
    from numpyro.distributions.transforms import biject_to

    original = numpyro.infer.util._unconstrain_reparam

    def no_log_det(params, site):
        name = site["name"]
        if name not in params or site["type"] != "sample":
            return original(params, site)
        return biject_to(site["fn"].support)(params[name])  # the log |det J| factor is lost

    mp.setattr(numpyro.infer.util, "_unconstrain_reparam", no_log_det)


def _no_adaptation(mp: pytest.MonkeyPatch) -> None:
    original = numpyro.infer.hmc.hmc

    def hmc(*args, **kwargs):
        init_kernel, sample_kernel = original(*args, **kwargs)

        def init(*a, **k):
            k.update(adapt_step_size=False, adapt_mass_matrix=False)
            return init_kernel(*a, **k)

        return init, sample_kernel

    replace_everywhere(mp, numpyro.infer.hmc, "hmc", hmc)


def _chains_share_randomness(mp: pytest.MonkeyPatch) -> None:
    class SharedKeyMCMC(inference.MCMC):
        def run(self, rng_key, *args, **kwargs):
            if self.num_chains > 1 and jnp.ndim(rng_key) == 1:
                rng_key = jnp.broadcast_to(rng_key, (self.num_chains, *jnp.shape(rng_key)))
            return super().run(rng_key, *args, **kwargs)

    mp.setattr(inference, "MCMC", SharedKeyMCMC)


def _map_stopped_early(mp: pytest.MonkeyPatch) -> None:
    class EarlySVI(inference.SVI):
        def run(self, rng_key, num_steps, *args, **kwargs):
            return super().run(rng_key, max(1, num_steps // 20), *args, **kwargs)

    mp.setattr(inference, "SVI", EarlySVI)


def _map_keeps_initial_point(mp: pytest.MonkeyPatch) -> None:
    class InitialPointSVI(inference.SVI):
        def run(self, rng_key, num_steps, *args, init_state=None, **kwargs):
            result = super().run(rng_key, num_steps, *args, init_state=init_state, **kwargs)
            return result._replace(params=self.get_params(init_state))  # the state run started from

    mp.setattr(inference, "SVI", InitialPointSVI)


def _map_without_prior(mp: pytest.MonkeyPatch) -> None:
    def drop_prior(msg) -> None:
        if not msg["is_observed"]:
            msg["scale"] = 0.0

    class LikelihoodOnlySVI(inference.SVI):
        def __init__(self, model, guide, *args, **kwargs):
            super().__init__(
                functools.partial(_EditSites(model, drop_prior)), guide, *args, **kwargs
            )

    mp.setattr(inference, "SVI", LikelihoodOnlySVI)


def _predict_site(site: str) -> Patch:
    def patch(mp: pytest.MonkeyPatch) -> None:
        original = inference.predict

        def predict(*args, **kwargs):
            kwargs["site"] = site
            return original(*args, **kwargs)

        replace_everywhere(mp, inference, "predict", predict)

    return patch


def _predict_from_prior(mp: pytest.MonkeyPatch) -> None:
    def predict(model, key, x, *, samples=None, map_fit=None, num_samples=None, site="obs", **kw):
        size = num_samples or next(iter(samples.values())).shape[0]
        return numpyro.infer.Predictive(model, num_samples=size)(key, x, **kw)[site]

    replace_everywhere(mp, inference, "predict", predict)


def _interval_wrong_level(mp: pytest.MonkeyPatch) -> None:
    def interval(draws, level: float = 0.95):
        tail = 1.0 - level  # should be (1 - level) / 2
        lo, hi = jnp.quantile(draws, jnp.array([tail, 1.0 - tail]), axis=0)
        return lo, hi

    replace_everywhere(mp, inference, "predictive_interval", interval)


def _rhat_classic(mp: pytest.MonkeyPatch) -> None:
    def rhat(draws):
        return diagnostics._per_element(diagnostics._arviz().rhat, draws, method="identity")

    mp.setattr(diagnostics, "rhat", rhat)


def _ess_without_autocorrelation(mp: pytest.MonkeyPatch) -> None:
    def ess(draws):
        draws = np.asarray(draws)
        return np.full(draws.shape[2:], float(draws.shape[0] * draws.shape[1]))

    mp.setattr(diagnostics, "ess_bulk", ess)


def _mcse_without_autocorrelation(mp: pytest.MonkeyPatch) -> None:
    def mcse_mean(draws):
        draws = np.asarray(draws)
        flat = draws.reshape(-1, *draws.shape[2:])
        return flat.std(axis=0, ddof=1) / np.sqrt(flat.shape[0])  # sd / sqrt(N)

    mp.setattr(diagnostics, "mcse_mean", mcse_mean)


def _no_holm(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(stats, "holm", lambda p: np.asarray(p, dtype=float))


def _ranks_off_by_one(mp: pytest.MonkeyPatch) -> None:
    def ranks_of(truth, draws, rng):
        truth = np.asarray(truth)[:, None, :]
        return np.minimum(np.sum(np.asarray(draws) <= truth, axis=1) + 1, np.shape(draws)[1])

    mp.setattr(sbc, "ranks_of", ranks_of)


def _thin_consecutive(mp: pytest.MonkeyPatch) -> None:
    def thin(draws, num_draws):
        pooled = draws.reshape(draws.shape[0], -1, *draws.shape[3:])
        return pooled[:, :num_draws]  # the first draws of the first chain: correlated

    mp.setattr(sbc, "thin", thin)


def _rff_features(edit) -> Patch:
    def patch(mp: pytest.MonkeyPatch) -> None:
        mp.setattr(nn, "_rff_features", edit)

    return patch


def _rff_no_phase(x, omega, bias):
    return jnp.sqrt(2.0 / omega.shape[0]) * jnp.cos(einsum(x, omega, "n, d -> n d"))


def _rff_scale_one_over_d(x, omega, bias):
    return jnp.sqrt(1.0 / omega.shape[0]) * jnp.cos(einsum(x, omega, "n, d -> n d") + bias)


def _rbf_lengthscale_not_squared(mp: pytest.MonkeyPatch) -> None:
    original = kernels.rbf_kernel

    def rbf(x1, x2, lengthscale=1.0, *args, **kwargs):
        return original(x1, x2, np.sqrt(lengthscale), *args, **kwargs)  # exp(-d^2 / (2 l))

    replace_everywhere(mp, kernels, "rbf_kernel", rbf)


def _rff_kernel_einsum_index(mp: pytest.MonkeyPatch) -> None:
    def rff_kernel(feature_map, x1, x2):  # a typo: sums the features of each side separately
        return einsum(feature_map(x1), feature_map(x2), "n1 d, n2 e -> n1 n2")

    replace_everywhere(mp, kernels, "rff_kernel", rff_kernel)


def _normal_prior_sd_doubled(msg) -> None:
    if not msg["is_observed"] and isinstance(msg["fn"], dist.Normal):
        msg["fn"] = dist.Normal(msg["fn"].loc, 2.0 * msg["fn"].scale)


def _normal_prior_variance_as_sd(msg) -> None:
    if not msg["is_observed"] and isinstance(msg["fn"], dist.Normal):
        msg["fn"] = dist.Normal(msg["fn"].loc, msg["fn"].scale ** 2)


def _edited_posteriors(edit) -> Patch:
    def patch(mp: pytest.MonkeyPatch) -> None:
        for name, posterior in list(posteriordb.POSTERIORS.items()):
            edited = _EditSites(posterior.model, edit)
            mp.setitem(posteriordb.POSTERIORS, name, dataclasses.replace(posterior, model=edited))

    return patch


NUTS_LINEAR = ("nuts_linear", "sbc_linear")
BUGS: tuple[Bug, ...] = (
    Bug("prior_sd_doubled", "model", "exact", "w ~ N(0, 2^2) instead of N(0, 1)",
        _edited_model("linear", _prior_sd_doubled), NUTS_LINEAR),
    Bug("posteriordb_prior_sd_doubled", "model", "reference",
        "every normal prior's sd doubled in the posteriordb models (kilpisjarvi: beta ~ "
        "N(0, 0.067^2); eight schools: theta_trans ~ N(0, 2^2))",
        _edited_posteriors(_normal_prior_sd_doubled), ("reference",)),
    Bug("posteriordb_prior_variance_as_sd", "model", "reference",
        "Stan's normal(mu, sigma) translated with the variance for the sd in every normal prior "
        "(kilpisjarvi: beta's prior sd 0.033^2; eight schools: mu ~ N(0, 25))",
        _edited_posteriors(_normal_prior_variance_as_sd), ("reference",)),
    Bug("likelihood_doubled", "model", "sbc", "the observation log-density counted twice",
        _edited_model("linear", _likelihood_doubled), NUTS_LINEAR),
    Bug("half_likelihood_dropped", "model", "sbc", "half of the observations left out of the fit",
        _edited_model("linear", _half_likelihood_dropped), NUTS_LINEAR),
    Bug("tree_at_result_dropped", "model", "exact",
        "eqx.tree_at's result not kept: the module keeps its placeholder weights",
        _tree_at_dropped, NUTS_LINEAR),
    Bug("tempered_target", "sampler", "sbc", "NUTS targets p^0.8 instead of p",
        _tempered_target, NUTS_LINEAR),
    Bug("missing_jacobian", "sampler", "exact",
        "no log-det-Jacobian term for constrained sites (sigma)",
        _missing_jacobian, NUTS_LINEAR),
    Bug("no_warmup_adaptation", "sampler", "convergence", "step size 1 and unit mass matrix",
        _no_adaptation, NUTS_LINEAR),
    Bug("chains_share_randomness", "sampler", "convergence",
        "every chain gets the same key: same start, same momenta", _chains_share_randomness,
        ("nuts_linear",)),
    Bug("map_stopped_early", "map", "map", "SVI runs 1/20 of its steps", _map_stopped_early,
        ("map",)),
    Bug("map_without_prior", "map", "map", "the MAP objective drops the prior (an MLE)",
        _map_without_prior, ("map",)),
    Bug("map_keeps_initial_point", "map", "r2",
        "the MAP fit returns the parameters SVI started from", _map_keeps_initial_point,
        ("notebook_fits", "map")),
    Bug("predict_without_noise", "prediction", "coverage",
        "predictive draws of f instead of y", _predict_site("f"), ("notebook_fits",)),
    Bug("predict_from_prior", "prediction", "r2", "predictive draws from the prior",
        _predict_from_prior, ("notebook_fits",)),
    Bug("interval_wrong_level", "prediction", "coverage",
        "tail (1 - level) instead of (1 - level) / 2: a 90% interval", _interval_wrong_level,
        ("notebook_fits", "interval")),
    Bug("rhat_classic", "diagnostics", "diagnostics",
        "R-hat without splitting or rank normalisation (Gelman & Rubin 1992)", _rhat_classic,
        ("diagnostics", "nuts_linear")),
    Bug("ess_without_autocorrelation", "diagnostics", "diagnostics",
        "ESS = number of draws", _ess_without_autocorrelation, ("diagnostics", "nuts_linear")),
    Bug("mcse_without_autocorrelation", "diagnostics", "diagnostics",
        "MCSE of the mean = sd / sqrt(N)", _mcse_without_autocorrelation, ("diagnostics",)),
    Bug("no_holm_correction", "statistics", "sbc", "SBC p-values not adjusted for 4 x Q tests",
        _no_holm, ("harness", "sbc_linear")),
    Bug("ranks_off_by_one", "statistics", "sbc", "rank = #{draws <= truth} + 1",
        _ranks_off_by_one, ("harness", "sbc_linear")),
    Bug("thin_keeps_consecutive_draws", "statistics", "sbc",
        "thinning keeps the first L draws of the first chain", _thin_consecutive,
        ("harness", "sbc_linear")),
    Bug("rff_without_phase", "rff", "rff", "phi = sqrt(2/D) cos(omega x): no random phase",
        _rff_features(_rff_no_phase), ("rff",)),
    Bug("rff_scale_one_over_d", "rff", "rff", "sqrt(1/D) instead of sqrt(2/D)",
        _rff_features(_rff_scale_one_over_d), ("rff",)),
    Bug("rbf_lengthscale_not_squared", "rff", "rff", "exp(-d^2 / (2 l)) as the exact kernel",
        _rbf_lengthscale_not_squared, ("rff",)),
    Bug("rff_kernel_einsum_index", "model", "rff", "'n1 d, n2 e' for 'n1 d, n2 d' in phi phi'",
        _rff_kernel_einsum_index, ("rff",)),
)  # fmt: skip
BY_NAME = {bug.name: bug for bug in BUGS}
