"""Simulation-based calibration (Talts et al. 2018; Modrak et al. 2023) with batched NUTS.

For n = 1..N: theta~ ~ p(theta), y~ ~ p(y | theta~), L draws theta_l from the fitted posterior
p(theta | y~), rank r = #{q(theta_l) < q(theta~)} for each test quantity q (ties broken at random).
Exact inference makes every r uniform on {0, ..., L}; :mod:`regmaster.stats` tests that and Holm's
correction over all tests of all quantities keeps the family-wise false-alarm rate <= alpha.

All replications and all chains are one compiled program: NumPyro's functional NUTS kernel,
vmapped over (replication, chain) lanes, a few dozen at a time under one ``lax.map`` on a CPU and
all at once on an accelerator; every replication and chain has its own initial point, key and
warmup adaptation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from numpyro import handlers
from numpyro.distributions.transforms import biject_to
from numpyro.infer import Predictive
from numpyro.infer.hmc import hmc
from numpyro.infer.util import initialize_model, potential_energy

from . import diagnostics, stats
from .checks import check_inputs, check_positive_int

Draws = dict[str, jax.Array]


class BatchedFit(NamedTuple):
    """NUTS output for a batch of replications: arrays shaped (replication, chain, draw, ...)."""

    samples: Draws
    diverging: np.ndarray
    num_steps: np.ndarray
    accept_prob: np.ndarray
    energy: np.ndarray
    initial_z: Draws
    max_tree_depth: int


class SBCResult(NamedTuple):
    """Ranks, per-quantity p-values, the family verdict and per-fit diagnostics."""

    model: str
    quantities: list[str]
    ranks: np.ndarray  # (replications, quantities), integers in 0..num_draws
    num_draws: int
    pvalues: dict[str, np.ndarray]  # test -> (quantities,)
    adjusted: np.ndarray  # (quantities,): smallest Holm-adjusted p-value over the tests
    alpha: float
    passed: bool
    fit_diagnostics: dict[str, Any]
    seconds: float

    @property
    def replications(self) -> int:
        return int(self.ranks.shape[0])

    @property
    def replications_per_second(self) -> float:
        return self.replications / self.seconds if self.seconds > 0 else float("inf")

    def rows(self) -> list[dict[str, Any]]:
        """One row per quantity: raw p-value of each test and the Holm-adjusted p-value."""
        rows = []
        for j, name in enumerate(self.quantities):
            row = {"name": name, "pvalue": float(self.adjusted[j])}
            row.update({f"p_{test}": float(p[j]) for test, p in self.pvalues.items()})
            row["passed"] = bool(self.adjusted[j] > self.alpha)
            rows.append(row)
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "replications": self.replications,
            "num_draws": self.num_draws,
            "passed": self.passed,
            "alpha": self.alpha,
            "quantities": self.rows(),
            "diagnostics": self.fit_diagnostics,
            "seconds": self.seconds,
            "replications_per_second": self.replications_per_second,
        }


def simulate(model, key: jax.Array, x, num_replications: int, **model_kwargs):
    """Draw (theta~, y~) from the prior predictive: latent sites shaped (N, ...) and y~ (N, n)."""
    draws = Predictive(model, num_samples=num_replications)(key, x, **model_kwargs)
    y = draws.pop("obs")
    latent = {name: draws[name] for name in _latent_transforms(model, x, y[0], model_kwargs)}
    return latent, y


def _latent_transforms(model, x, y, model_kwargs):
    trace = handlers.trace(handlers.seed(model, 0)).get_trace(x, y, **model_kwargs)
    return {
        name: biject_to(site["fn"].support)
        for name, site in trace.items()
        if site["type"] == "sample" and not site["is_observed"]
    }


def chain_runner(
    model,
    x,
    y_template,
    *,
    num_warmup: int,
    num_samples: int,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    **model_kwargs,
):
    """``one_chain(z0, y, key)``: warmup and sampling of one NUTS chain as a pure function.

    It runs NumPyro's functional NUTS kernel (``numpyro.infer.hmc.hmc``) in one ``lax.scan`` over
    warmup and sampling, so it can be ``vmap``-ed over replications and chains and compiled once.
    Returns it with the unconstrained parameter template (shapes and dtypes) and the per-site
    bijections to the constrained space.
    """
    # Shapes only: initialize_model run eagerly would compile ~90 tiny programs, one per op.
    template = jax.eval_shape(
        lambda: (
            initialize_model(
                jr.PRNGKey(0), model, model_args=(x, y_template), model_kwargs=model_kwargs
            ).param_info.z
        )
    )

    def potential_fn_gen(*args, **kwargs):  # initialize_model's, with dynamic_args=True
        return partial(potential_energy, model, args, kwargs)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")
    transforms = _latent_transforms(model, x, y_template, model_kwargs)

    def one_chain(z0, y, rng_key):
        args = (x, y)
        state = init_kernel(
            z0,
            num_warmup,
            target_accept_prob=target_accept_prob,
            max_tree_depth=max_tree_depth,
            model_args=args,
            model_kwargs=model_kwargs,
            rng_key=rng_key,
        )

        def step(carry, _):
            new = sample_kernel(carry, model_args=args, model_kwargs=model_kwargs)
            return new, (new.z, new.diverging, new.num_steps, new.accept_prob, new.energy)

        # One scan over warmup and sampling: the NUTS kernel is compiled once, not twice.
        _, collected = jax.lax.scan(step, state, None, length=num_warmup + num_samples)
        return jax.tree.map(lambda a: a[num_warmup:], collected)

    return one_chain, template, transforms


def host_rng(key: jax.Array) -> np.random.Generator:
    """A NumPy generator seeded by a JAX key's bits (no XLA program is compiled for it)."""
    return np.random.default_rng(np.asarray(jr.key_data(key)).astype(np.uint32).ravel().tolist())


def uniform_initial_points(key: jax.Array, template: Draws, batch: int, radius: float = 2.0):
    """``batch`` independent points uniform in [-radius, radius] per unconstrained coordinate."""
    return _uniform_points(host_rng(key), template, batch, radius)


def _uniform_points(rng: np.random.Generator, template: Draws, batch: int, radius: float):
    # Drawn on the host: each eager jax.random call compiled a small XLA program of its own
    # (~0.15 s each), and drawing them inside the engine's program lengthened its compilation
    # by ~0.6 s.
    return jax.tree.map(
        lambda leaf: jnp.asarray(rng.uniform(-radius, radius, (batch, *leaf.shape)), leaf.dtype),
        template,
    )


# A vmapped NUTS transition lasts as long as the longest trajectory among its lanes, so one vmap
# over every lane waits at each transition for the slowest of them all. Measured on the linear
# model, 200 replications x 2 chains, 300 + 300 iterations, 2-core CPU (execution only): 5.8 s
# with all 400 lanes in one vmap, 4.5 s with 100 per step, 3.9 s with 40, 4.8 s with 20, 6.3 s
# with 8 (per-step overhead takes over). Mean trajectory 5.6 leapfrog steps; the longest of 400
# lanes at each transition averaged 27-28. On a GPU a step costs its launch latency rather than its
# lanes' work: same model and sizes on one H200 (jax 0.11.2), 6.5 s with all 400 lanes in one vmap
# against 24.1 s with 40 per step (benchmarks/bench_sbc.py --backend gpu). So the default is 40
# lanes per step on a CPU and every lane in one step elsewhere.
LANES_PER_STEP = 40


def default_lanes_per_step(platform: str, lanes: int) -> int:
    """Lanes vmapped per step when none is asked for: :data:`LANES_PER_STEP` on ``"cpu"``, all
    ``lanes`` on an accelerator (measured above)."""
    return min(LANES_PER_STEP, lanes) if platform == "cpu" else lanes


def _current_platform(devices: list) -> str:
    # The platform the program will run on: the first given device, else the default device
    # (``jax.default_device`` included), read off a host value put there (nothing compiles).
    if devices:
        return devices[0].platform
    return next(iter(jax.device_put(np.zeros(())).devices())).platform


def batched_chains(one_chain, lanes_per_step: int | None = None, devices=None):
    """``run(z0, y_rows, keys)``, compiled: ``one_chain`` (see :func:`chain_runner`) on every lane
    (leading axis), ``lanes_per_step`` lanes vmapped at a time under one ``lax.map`` (``None``:
    :func:`default_lanes_per_step` for the platform).

    A batch that ``lanes_per_step`` does not divide is padded with copies of its last lane (and
    the copies dropped), so the program holds one NUTS kernel, not a second for the remainder.
    With several ``devices`` the lanes are split evenly over them (``shard_map``), each device
    stepping through its share. A lane computes the same thing under any split, but the
    multi-device program is compiled apart and may round differently, and a long chain amplifies
    a last-bit difference into different (equally valid) draws: a seed gives the same numbers for
    the same device count.
    """
    if lanes_per_step is not None:
        lanes_per_step = check_positive_int("lanes_per_step", lanes_per_step)
    devices = list(devices) if devices is not None else []
    platform = _current_platform(devices)
    num_devices = max(len(devices), 1)

    def run(z0, y_rows, keys):
        batch = y_rows.shape[0]
        per_step = lanes_per_step or default_lanes_per_step(platform, -(-batch // num_devices))

        def run_share(lanes):
            return jax.lax.map(lambda lane: one_chain(*lane), lanes, batch_size=per_step)

        if num_devices > 1:
            mesh = jax.sharding.Mesh(np.array(devices), ("lanes",))
            spec = jax.sharding.PartitionSpec("lanes")
            run_share = jax.shard_map(
                run_share, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False
            )
        group = per_step * num_devices
        pad = -(-batch // group) * group - batch

        def padded(a):
            return jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)]) if pad else a

        out = run_share(jax.tree.map(padded, (z0, y_rows, keys)))
        return jax.tree.map(lambda a: a[:batch], out)

    return jax.jit(run)


def fit_batched(
    model,
    key: jax.Array,
    x,
    y_batch,
    *,
    num_warmup: int,
    num_samples: int,
    num_chains: int = 2,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    init_radius: float = 2.0,
    init_fn: Callable[[jax.Array, Draws], Draws] | None = None,
    lanes_per_step: int | None = None,
    devices=None,
    **model_kwargs,
) -> BatchedFit:
    """NUTS on every row of ``y_batch``, all replications and chains in one compiled program.

    Each (replication, chain) starts from its own point drawn uniformly in [-r, r] in the
    unconstrained space (NumPyro's ``init_to_uniform``) and adapts its own step size and diagonal
    mass matrix. ``init_fn(key, template)`` overrides the initial points (for tests of the harness).

    The (replication, chain) lanes run ``lanes_per_step`` at a time, vmapped, under one
    ``lax.map`` (default: :func:`default_lanes_per_step`, 40 on a CPU, all on a GPU; the draws do
    not depend on it); with several ``devices`` (for example CPU devices made by
    ``XLA_FLAGS=--xla_force_host_platform_device_count=N``, one per core) each runs its share.
    """
    x, _ = check_inputs(x)
    y_batch = jnp.asarray(y_batch)
    if y_batch.ndim != 2 or y_batch.shape[1] != x.shape[0]:
        raise ValueError(
            f"y_batch must be shaped (replications, {x.shape[0]}), got {tuple(y_batch.shape)}"
        )
    num_chains = check_positive_int("num_chains", num_chains)
    num_samples = check_positive_int("num_samples", num_samples)
    num_warmup = check_positive_int("num_warmup", num_warmup, minimum=0)
    num_reps = y_batch.shape[0]
    batch = num_reps * num_chains

    one_chain, template, transforms = chain_runner(
        model,
        x,
        y_batch[0],
        num_warmup=num_warmup,
        num_samples=num_samples,
        target_accept_prob=target_accept_prob,
        max_tree_depth=max_tree_depth,
        **model_kwargs,
    )

    run_lanes = batched_chains(one_chain, lanes_per_step, devices)

    # Initial points and the lanes' keys (raw threefry keys) come from a host generator seeded
    # by ``key``, so no XLA program is compiled for them.
    rng = host_rng(key)
    if init_fn is None:
        initial_z = _uniform_points(rng, template, batch, init_radius)
    else:
        initial_z = init_fn(key, jax.tree.map(lambda v: jnp.zeros((batch, *v.shape)), template))
    _check_distinct(initial_z)
    keys = jnp.asarray(rng.integers(0, 2**32, (batch, 2), dtype=np.uint32))

    def program(initial_z, y_batch, keys):
        # Every lane's chain and the constraining bijections: one program.
        y_rows = jnp.repeat(y_batch, num_chains, axis=0)
        z, *stats = run_lanes(initial_z, y_rows, keys)
        return {name: transforms[name](z[name]) for name in z}, stats

    constrained, stats = jax.jit(program)(initial_z, y_batch, keys)
    diverging, num_steps, accept, energy = stats

    def unbatch(a):
        return np.asarray(a).reshape(num_reps, num_chains, num_samples, *a.shape[2:])

    constrained = {name: unbatch(v) for name, v in constrained.items()}
    return BatchedFit(
        constrained,
        unbatch(diverging),
        unbatch(num_steps),
        unbatch(accept),
        unbatch(energy),
        {
            name: np.asarray(v).reshape(num_reps, num_chains, *v.shape[1:])
            for name, v in initial_z.items()
        },
        max_tree_depth,
    )


def _check_distinct(initial_z: Draws) -> None:
    """Refuse initial points shared between (replication, chain) pairs: a harness bug."""
    flat = np.concatenate(
        [np.asarray(v).reshape(v.shape[0], -1) for v in initial_z.values()], axis=1
    )
    if flat.shape[0] > 1 and np.unique(flat, axis=0).shape[0] < flat.shape[0]:
        raise RuntimeError(
            f"initial points are shared: {np.unique(flat, axis=0).shape[0]} distinct of "
            f"{flat.shape[0]} (replication, chain) pairs; each needs its own initialisation"
        )


def log_likelihood(model, params: Draws, x, y, **model_kwargs) -> jax.Array:
    """sum_i log p(y_i | theta) at one parameter point (observed sites only)."""
    tr = handlers.trace(handlers.substitute(handlers.seed(model, 0), params)).get_trace(
        x, y, **model_kwargs
    )
    return sum(
        jnp.sum(site["fn"].log_prob(site["value"]))
        for site in tr.values()
        if site["type"] == "sample" and site["is_observed"]
    )


def deterministic_site(model, params: Draws, x, site: str = "f", **model_kwargs) -> jax.Array:
    """The value of a deterministic site (default ``f``) at inputs ``x`` and one parameter point."""
    tr = handlers.trace(handlers.substitute(handlers.seed(model, 0), params)).get_trace(
        x, **model_kwargs
    )
    return tr[site]["value"]


def quantity_names(params: Draws, *, parameters: Sequence[str] | None, probe_x=None) -> list[str]:
    """Names of the scalar test quantities, in the order :func:`quantity_values` returns them."""
    names = []
    for site in parameters if parameters is not None else sorted(params):
        size = int(np.prod(np.shape(params[site])))
        names.extend([site] if size == 1 else [f"{site}[{i}]" for i in range(size)])
    if probe_x is not None:
        names.extend(f"f(x={v:.3g})" for v in np.asarray(probe_x))
    return [*names, "loglik"]


def quantity_values(
    model,
    params: Draws,
    x,
    y,
    *,
    parameters: Sequence[str] | None,
    probe_x=None,
    **model_kwargs,
) -> jax.Array:
    """Scalar test quantities at one parameter point: parameter components, f(probe_x), log-lik."""
    values = [
        jnp.ravel(params[site])
        for site in (parameters if parameters is not None else sorted(params))
    ]
    if probe_x is not None:
        values.append(deterministic_site(model, params, probe_x, **model_kwargs))
    values.append(jnp.atleast_1d(log_likelihood(model, params, x, y, **model_kwargs)))
    return jnp.concatenate(values)


def ranks_of(truth: np.ndarray, draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """r = #{draws < truth} + U{0..#{draws == truth}}: ties broken at random.

    ``truth`` (N, Q), ``draws`` (N, L, Q) -> ranks (N, Q) in 0..L.
    """
    truth = np.asarray(truth)[:, None, :]
    draws = np.asarray(draws)
    below = np.sum(draws < truth, axis=1)
    ties = np.sum(draws == truth, axis=1)
    return below + np.floor(rng.uniform(size=below.shape) * (ties + 1)).astype(int)


def thin(draws: np.ndarray, num_draws: int) -> np.ndarray:
    """``num_draws`` evenly spaced draws per replication from (N, chain, draw, ...) arrays."""
    chains, per_chain = draws.shape[1], draws.shape[2]
    pooled = draws.reshape(draws.shape[0], chains * per_chain, *draws.shape[3:])
    index = np.round(np.linspace(0, chains * per_chain - 1, num_draws)).astype(int)
    return pooled[:, index]


def verdict(
    ranks: np.ndarray, num_draws: int, alpha: float, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray, bool]:
    """Per-test p-values, the per-quantity smallest Holm-adjusted p-value, and pass/fail.

    Holm runs over every test of every quantity, so the family-wise false-alarm rate of the
    verdict is at most ``alpha`` for exact inference.
    """
    pvalues = stats.uniformity_pvalues(ranks, num_draws, rng)
    stacked = np.stack([pvalues[t] for t in stats.TESTS])  # (tests, quantities)
    adjusted = stats.holm(stacked).min(axis=0)
    return pvalues, adjusted, bool(np.all(adjusted > alpha))


def run_sbc(
    model,
    x,
    *,
    num_replications: int,
    key: jax.Array,
    inference_model=None,
    parameters: Sequence[str] | None = None,
    probe_x=None,
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 2,
    num_draws: int = 99,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    alpha: float = 0.01,
    name: str | None = None,
    devices=None,
    **model_kwargs,
) -> SBCResult:
    """Simulation-based calibration of NUTS on ``inference_model`` (default: ``model``).

    ``parameters`` selects the sample sites whose components are ranked (default: all; pass the
    identified ones for models with permutation-symmetric weights); ``probe_x`` adds f at those
    inputs; the log-likelihood is always a test quantity (a sampler that returns the prior passes
    every parameter and fails there). ``devices``: split the fits over these (see
    :func:`fit_batched`; default: the default device).
    """
    num_replications = check_positive_int("num_replications", num_replications, minimum=2)
    num_draws = check_positive_int("num_draws", num_draws)
    if num_draws > num_chains * num_samples:
        raise ValueError(
            f"num_draws must be <= num_chains * num_samples = "
            f"{num_chains * num_samples}, got {num_draws}"
        )
    if not (0.0 < alpha < 1.0):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    inference_model = model if inference_model is None else inference_model
    x, _ = check_inputs(x)
    key_sim, key_fit, key_rank = jr.split(key, 3)
    start = time.perf_counter()
    truth_params, y = simulate(model, key_sim, x, num_replications, **model_kwargs)
    fit = fit_batched(
        inference_model,
        key_fit,
        x,
        y,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        target_accept_prob=target_accept_prob,
        max_tree_depth=max_tree_depth,
        devices=devices,
        **model_kwargs,
    )

    probe_x = None if probe_x is None else np.asarray(probe_x, dtype=float)

    def quantities(params, y_row):
        return quantity_values(
            inference_model,
            params,
            x,
            y_row,
            parameters=parameters,
            probe_x=probe_x,
            **model_kwargs,
        )

    names = quantity_names(
        {k: v[0] for k, v in truth_params.items()}, parameters=parameters, probe_x=probe_x
    )
    truth = jax.jit(jax.vmap(quantities))({k: truth_params[k] for k in fit.samples}, y)
    per_draw = jax.jit(jax.vmap(jax.vmap(quantities, (0, None)), (0, 0)))
    shape = fit.diverging.shape  # (N, chains, draws)
    all_draws = per_draw(
        {k: v.reshape(shape[0], -1, *v.shape[3:]) for k, v in fit.samples.items()}, y
    )
    all_draws = np.asarray(all_draws).reshape(*shape, len(names))
    rng = host_rng(key_rank)
    ranks = ranks_of(np.asarray(truth), thin(all_draws, num_draws), rng)
    pvalues, adjusted, passed = verdict(ranks, num_draws, alpha, rng)
    seconds = time.perf_counter() - start
    return SBCResult(
        name or getattr(inference_model, "__name__", "model"),
        names,
        ranks,
        num_draws,
        pvalues,
        adjusted,
        alpha,
        passed,
        fit_summary(fit, all_draws, num_draws),
        seconds,
    )


def fit_summary(fit: BatchedFit, quantity_draws: np.ndarray, num_draws: int) -> dict[str, Any]:
    """Per-replication NUTS health: divergences, saturated trees, acceptance, R-hat and ESS.

    ``quantity_draws`` is (N, chain, draw, Q). ESS below ``num_draws`` means the thinned draws are
    not near-independent for that replication and quantity.
    """
    saturated = fit.num_steps >= 2**fit.max_tree_depth - 1
    draws = np.moveaxis(quantity_draws, (1, 2), (0, 1))  # (chain, draw, N, Q)
    ess = diagnostics.ess_bulk(draws)
    summary: dict[str, Any] = {
        "replications_with_divergences": int(np.sum(fit.diverging.any(axis=(1, 2)))),
        "divergent_transitions": int(fit.diverging.sum()),
        "saturated_transitions": int(saturated.sum()),
        "mean_accept_prob": float(fit.accept_prob.mean()),
        "min_ess_bulk": float(ess.min()),
        "median_ess_bulk": float(np.median(ess)),
        "share_ess_below_num_draws": float(np.mean(ess < num_draws)),
    }
    if fit.diverging.shape[1] >= 2:
        rhat = diagnostics.rhat(draws)
        summary["max_rhat"] = float(np.nanmax(rhat))
        summary["share_rhat_above_1_01"] = float(np.mean(rhat > 1.01))
    return summary


def run_model_sbc(
    name: str,
    *,
    num_replications: int | None = None,
    seed: int = 0,
    alpha: float = 0.01,
    inference_model=None,
    devices=None,
) -> SBCResult:
    """SBC of a registered NUTS model (or an SBC variant of one) with its
    :data:`regmaster.zoo.SBC_SETTINGS`.

    The model's fixed modules (RFF feature maps) are the notebook's, built from its keys.
    """
    from .data import make_sinc
    from .zoo import SBC_SETTINGS, get_spec

    if name not in SBC_SETTINGS:
        raise ValueError(
            f"model must be one of the NUTS models {', '.join(SBC_SETTINGS)}; got {name!r}"
        )
    settings = SBC_SETTINGS[name]
    spec = get_spec(settings.model or name)
    replications = settings.replications_ci if num_replications is None else num_replications
    model_keys = make_sinc().model_keys
    kwargs = spec.kwargs(model_keys)
    if settings.model_kwargs is not None:
        kwargs.update(settings.model_kwargs(model_keys[spec.module_key]))
    return run_sbc(
        spec.model,
        settings.design(),
        num_replications=replications,
        key=jr.PRNGKey(seed),
        inference_model=inference_model,
        parameters=settings.parameters,
        probe_x=settings.probe_x,
        num_warmup=settings.num_warmup,
        num_samples=settings.num_samples,
        num_chains=settings.num_chains,
        target_accept_prob=settings.target_accept_prob,
        max_tree_depth=settings.max_tree_depth,
        alpha=alpha,
        name=name,
        devices=devices,
        **kwargs,
    )
