"""The reference notebook's seven experiments, as written (plots removed).

This is the baseline that ``benchmarks/bench_fit.py`` times against ``regmaster fit``. Only the
plotting and the notebook's own printouts are dropped; models, keys, settings and inference calls are
the notebook's, line for line. Run it alone with ``python benchmarks/notebook_reference.py``.
"""

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpyro
import numpyro.distributions as dist
from einops import einsum
from numpyro.infer import MCMC, NUTS, SVI, Predictive, Trace_ELBO
from numpyro.infer.autoguide import AutoDelta
from numpyro.optim import Adam

jax.config.update("jax_enable_x64", True)


def run_notebook() -> dict[str, tuple[float, float]]:
    """Return ``{name: (r2, seconds)}`` for the notebook's seven models."""
    results: dict[str, tuple[float, float]] = {}
    key = jr.PRNGKey(666)
    k_data, *k_models = jr.split(key, 16)

    def latent(x):
        return jnp.sinc(x / jnp.pi)

    k1, k2 = jr.split(k_data)
    x_train = jr.uniform(k1, (100,), minval=-10.0, maxval=10.0)
    y_train = latent(x_train) + 0.05 * jr.normal(k2, (100,))
    x_test = jnp.linspace(-10.0, 10.0, 400)
    y_test = latent(x_test)

    def r2(y_true, y_pred):
        ss_res = jnp.sum((y_true - y_pred) ** 2)
        ss_tot = jnp.sum((y_true - y_true.mean()) ** 2)
        return float(1.0 - ss_res / ss_tot)

    # Model 1
    t0 = time.perf_counter()

    class LinearRegressor(eqx.Module):
        weight: jax.Array
        degree: int = eqx.field(static=True)

        def __init__(self, degree: int):
            self.degree = degree
            self.weight = jnp.zeros(degree + 1)

        def features(self, x):
            return jnp.stack([x**p for p in range(self.degree + 1)], axis=-1)

        def __call__(self, x):
            return einsum(self.features(x), self.weight, "n feat, feat -> n")

    def model_linear(x, y=None, *, degree):
        net = LinearRegressor(degree=degree)
        w = numpyro.sample("w", dist.Normal(jnp.zeros(degree + 1), 1.0))
        net = eqx.tree_at(lambda m: m.weight, net, w)
        f = numpyro.deterministic("f", net(x))
        sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
        numpyro.sample("obs", dist.Normal(f, sigma), obs=y)

    mcmc_linear = MCMC(NUTS(model_linear), num_warmup=300, num_samples=500, progress_bar=False)
    mcmc_linear.run(k_models[0], x_train, y_train, degree=1)
    samples_linear = mcmc_linear.get_samples()
    preds_linear = Predictive(model_linear, posterior_samples=samples_linear)(
        k_models[1], x_test, degree=1
    )["obs"]
    results["linear"] = (r2(y_test, preds_linear.mean(0)), time.perf_counter() - t0)

    # Model 2
    t0 = time.perf_counter()

    class MLP(eqx.Module):
        W1: jax.Array
        b1: jax.Array
        W2: jax.Array
        b2: jax.Array
        hidden_dim: int = eqx.field(static=True)

        def __init__(self, hidden_dim: int, *, key):
            self.hidden_dim = hidden_dim
            k1, k2 = jr.split(key)
            self.W1 = 0.1 * jr.normal(k1, (1, hidden_dim))
            self.b1 = jnp.zeros(hidden_dim)
            self.W2 = 0.1 * jr.normal(k2, (hidden_dim, 1))
            self.b2 = jnp.array(0.0)

        def __call__(self, x):
            h = jnp.tanh(einsum(x, self.W1, "n, one h -> n h") + self.b1)
            return einsum(h, self.W2, "n h, h one -> n") + self.b2

    def model_nnet(x, y=None, *, hidden_dim):
        net = MLP(hidden_dim=hidden_dim, key=jr.PRNGKey(0))
        W1 = numpyro.sample("W1", dist.Normal(jnp.zeros((1, hidden_dim)), 1.0))
        b1 = numpyro.sample("b1", dist.Normal(jnp.zeros(hidden_dim), 1.0))
        W2 = numpyro.sample("W2", dist.Normal(jnp.zeros((hidden_dim, 1)), 1.0))
        b2 = numpyro.sample("b2", dist.Normal(0.0, 1.0))
        net = eqx.tree_at(lambda m: (m.W1, m.b1, m.W2, m.b2), net, (W1, b1, W2, b2))
        f = numpyro.deterministic("f", net(x))
        sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
        numpyro.sample("obs", dist.Normal(f, sigma), obs=y)

    guide_nnet = AutoDelta(model_nnet)
    svi_nnet = SVI(model_nnet, guide_nnet, Adam(5e-3), Trace_ELBO())
    svi_result_nnet = svi_nnet.run(
        k_models[2], 2000, x_train, y_train, hidden_dim=30, progress_bar=False
    )
    preds_nnet = Predictive(
        model_nnet, params=svi_result_nnet.params, num_samples=200, guide=guide_nnet
    )(k_models[3], x_test, hidden_dim=30)["obs"]
    results["mlp_map"] = (r2(y_test, preds_nnet.mean(0)), time.perf_counter() - t0)

    # Model 3
    t0 = time.perf_counter()

    class MLPDropout(eqx.Module):
        W1: jax.Array
        b1: jax.Array
        W2: jax.Array
        b2: jax.Array
        hidden_dim: int = eqx.field(static=True)
        dropout_rate: float = eqx.field(static=True)

        def __init__(self, hidden_dim: int, dropout_rate: float, *, key):
            self.hidden_dim = hidden_dim
            self.dropout_rate = dropout_rate
            k1, k2 = jr.split(key)
            self.W1 = 0.1 * jr.normal(k1, (1, hidden_dim))
            self.b1 = jnp.zeros(hidden_dim)
            self.W2 = 0.1 * jr.normal(k2, (hidden_dim, 1))
            self.b2 = jnp.array(0.0)

        def __call__(self, x, mask):
            h = jnp.tanh(einsum(x, self.W1, "n, one h -> n h") + self.b1)
            h = h * mask / (1.0 - self.dropout_rate)
            return einsum(h, self.W2, "n h, h one -> n") + self.b2

    def model_nnet_dropout(x, y=None, *, hidden_dim, dropout_rate):
        N = x.shape[0]
        rng_key = numpyro.prng_key()
        mask = jr.bernoulli(rng_key, p=1.0 - dropout_rate, shape=(N, hidden_dim)).astype(
            jnp.float64
        )
        net = MLPDropout(hidden_dim=hidden_dim, dropout_rate=dropout_rate, key=jr.PRNGKey(0))
        W1 = numpyro.sample("W1", dist.Normal(jnp.zeros((1, hidden_dim)), 1.0))
        b1 = numpyro.sample("b1", dist.Normal(jnp.zeros(hidden_dim), 1.0))
        W2 = numpyro.sample("W2", dist.Normal(jnp.zeros((hidden_dim, 1)), 1.0))
        b2 = numpyro.sample("b2", dist.Normal(0.0, 1.0))
        net = eqx.tree_at(lambda m: (m.W1, m.b1, m.W2, m.b2), net, (W1, b1, W2, b2))
        f = numpyro.deterministic("f", net(x, mask))
        sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
        numpyro.sample("obs", dist.Normal(f, sigma), obs=y)

    guide_dropout = AutoDelta(model_nnet_dropout)
    svi_dropout = SVI(model_nnet_dropout, guide_dropout, Adam(5e-3), Trace_ELBO())
    svi_result_dropout = svi_dropout.run(
        k_models[4], 2000, x_train, y_train, hidden_dim=30, dropout_rate=0.1, progress_bar=False
    )
    preds_dropout = Predictive(
        model_nnet_dropout, params=svi_result_dropout.params, num_samples=100, guide=guide_dropout
    )(k_models[5], x_test, hidden_dim=30, dropout_rate=0.1)["obs"]
    results["mlp_dropout"] = (r2(y_test, preds_dropout.mean(0)), time.perf_counter() - t0)

    # Model 4
    t0 = time.perf_counter()

    def model_bayesian_nnet(x, y=None, *, hidden_dim, prior_scale):
        net = MLP(hidden_dim=hidden_dim, key=jr.PRNGKey(0))
        W1 = numpyro.sample("W1", dist.Normal(jnp.zeros((1, hidden_dim)), prior_scale))
        b1 = numpyro.sample("b1", dist.Normal(jnp.zeros(hidden_dim), prior_scale))
        W2 = numpyro.sample("W2", dist.Normal(jnp.zeros((hidden_dim, 1)), prior_scale))
        b2 = numpyro.sample("b2", dist.Normal(0.0, prior_scale))
        net = eqx.tree_at(lambda m: (m.W1, m.b1, m.W2, m.b2), net, (W1, b1, W2, b2))
        f = numpyro.deterministic("f", net(x))
        sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
        numpyro.sample("obs", dist.Normal(f, sigma), obs=y)

    mcmc_bnnet = MCMC(
        NUTS(model_bayesian_nnet), num_warmup=300, num_samples=500, progress_bar=False
    )
    mcmc_bnnet.run(k_models[6], x_train, y_train, hidden_dim=15, prior_scale=1.0)
    samples_bnnet = mcmc_bnnet.get_samples()
    preds_bnnet = Predictive(model_bayesian_nnet, posterior_samples=samples_bnnet)(
        k_models[7], x_test, hidden_dim=15, prior_scale=1.0
    )["obs"]
    results["bnn"] = (r2(y_test, preds_bnnet.mean(0)), time.perf_counter() - t0)

    # Model 5
    t0 = time.perf_counter()

    class RFFFeatureMap(eqx.Module):
        omega: jax.Array
        bias: jax.Array
        n_features: int = eqx.field(static=True)

        def __init__(self, n_features: int, lengthscale: float, *, key):
            self.n_features = n_features
            k1, k2 = jr.split(key)
            self.omega = jr.normal(k1, (n_features,)) / lengthscale
            self.bias = jr.uniform(k2, (n_features,), minval=0.0, maxval=2.0 * jnp.pi)

        def __call__(self, x):
            projection = einsum(x, self.omega, "n, d -> n d")
            return jnp.sqrt(2.0 / self.n_features) * jnp.cos(projection + self.bias)

    def model_svr_rff(x, y=None, *, rff):
        D = rff.n_features
        Phi = rff(x)
        w = numpyro.sample("w", dist.Normal(jnp.zeros(D), 1.0))
        sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
        f = numpyro.deterministic("f", einsum(Phi, w, "n d, d -> n"))
        numpyro.sample("obs", dist.Normal(f, sigma), obs=y)

    rff_svr = RFFFeatureMap(n_features=40, lengthscale=1.0, key=k_models[8])
    mcmc_svr = MCMC(NUTS(model_svr_rff), num_warmup=300, num_samples=500, progress_bar=False)
    mcmc_svr.run(k_models[9], x_train, y_train, rff=rff_svr)
    samples_svr = mcmc_svr.get_samples()
    preds_svr = Predictive(model_svr_rff, posterior_samples=samples_svr)(
        k_models[10], x_test, rff=rff_svr
    )["obs"]
    results["rff_svr"] = (r2(y_test, preds_svr.mean(0)), time.perf_counter() - t0)

    # Model 6
    t0 = time.perf_counter()

    def model_gp_rff(x, y=None, *, rff):
        D = rff.n_features
        Phi = rff(x)
        amplitude = numpyro.sample("amplitude", dist.HalfNormal(1.0))
        w = numpyro.sample("w", dist.Normal(jnp.zeros(D), amplitude))
        sigma = numpyro.sample("sigma", dist.HalfNormal(0.1))
        f = numpyro.deterministic("f", einsum(Phi, w, "n d, d -> n"))
        numpyro.sample("obs", dist.Normal(f, sigma), obs=y)

    mcmc_gp = MCMC(NUTS(model_gp_rff), num_warmup=300, num_samples=500, progress_bar=False)
    mcmc_gp.run(k_models[11], x_train, y_train, rff=rff_svr)
    samples_gp = mcmc_gp.get_samples()
    preds_gp = Predictive(model_gp_rff, posterior_samples=samples_gp)(
        k_models[12], x_test, rff=rff_svr
    )["obs"]
    results["rff_gp"] = (r2(y_test, preds_gp.mean(0)), time.perf_counter() - t0)

    # Model 7
    t0 = time.perf_counter()

    class DeepRFFRegressor(eqx.Module):
        rff1: RFFFeatureMap
        W1: jax.Array
        rff2: RFFFeatureMap
        w2: jax.Array
        inner_dim: int = eqx.field(static=True)

        def __init__(
            self,
            n_features_1,
            n_features_2,
            inner_dim,
            lengthscale_1=1.0,
            lengthscale_2=1.0,
            *,
            key,
        ):
            k1, k2, k3 = jr.split(key, 3)
            self.inner_dim = inner_dim
            self.rff1 = RFFFeatureMap(n_features_1, lengthscale_1, key=k1)
            self.W1 = 0.1 * jr.normal(k2, (n_features_1, inner_dim))
            self.rff2 = RFFFeatureMap(n_features_2, lengthscale_2, key=k3)
            self.w2 = jnp.zeros(n_features_2)

        def __call__(self, x):
            Phi1 = self.rff1(x)
            h = einsum(Phi1, self.W1, "n d1, d1 inner -> n inner")
            Phi2 = jnp.mean(
                jnp.stack([self.rff2(h[:, j]) for j in range(self.inner_dim)], axis=0), axis=0
            )
            return einsum(Phi2, self.w2, "n d2, d2 -> n")

    def model_deep_gp_rff(x, y=None, *, deep_rff):
        D1 = deep_rff.rff1.n_features
        D2 = deep_rff.rff2.n_features
        inner = deep_rff.inner_dim
        W1 = numpyro.sample("W1", dist.Normal(jnp.zeros((D1, inner)), 1.0))
        w2 = numpyro.sample("w2", dist.Normal(jnp.zeros(D2), 1.0))
        mod = eqx.tree_at(lambda m: (m.W1, m.w2), deep_rff, (W1, w2))
        f = numpyro.deterministic("f", mod(x))
        sigma = numpyro.sample("sigma", dist.HalfNormal(0.1))
        numpyro.sample("obs", dist.Normal(f, sigma), obs=y)

    deep_rff = DeepRFFRegressor(n_features_1=15, n_features_2=10, inner_dim=4, key=k_models[13])
    mcmc_deep = MCMC(NUTS(model_deep_gp_rff), num_warmup=200, num_samples=300, progress_bar=False)
    mcmc_deep.run(k_models[14], x_train, y_train, deep_rff=deep_rff)
    samples_deep = mcmc_deep.get_samples()
    preds_deep = Predictive(model_deep_gp_rff, posterior_samples=samples_deep)(
        k_models[14], x_test, deep_rff=deep_rff
    )["obs"]
    results["deep_rff"] = (r2(y_test, preds_deep.mean(0)), time.perf_counter() - t0)
    return results


if __name__ == "__main__":
    t_start = time.perf_counter()
    for name, (r2_value, seconds) in run_notebook().items():
        print(f"{name:<12} R2 = {r2_value:8.4f}   {seconds:6.1f} s")
    print(f"total {time.perf_counter() - t_start:.1f} s")
