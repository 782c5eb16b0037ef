"""How a NumPyro model is called on its inputs and its data, whatever their shapes.

A model takes its inputs as one positional argument (an array of any shape, a dict or tuple of
arrays, or nothing at all: ``inputs=None`` calls ``model(**kwargs)``). Its data reach it one of
two ways:

- a dict ``{site: value}``: each named sample site is conditioned on its value
  (``numpyro.handlers.condition``), so a model with several observed sites, or one whose data is
  not an argument, needs nothing else;
- an array: passed as the model's second positional argument, ``model(inputs, y)`` (the
  convention of ``model(x, y=None)`` with ``obs=y``).
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import numpy as np
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.infer.initialization import init_to_uniform


def call(model, inputs, data, **kwargs):
    """``model`` on ``inputs`` with ``data`` observed (a site dict, an array, or ``None``).

    Parameters
    ----------
    model : callable
        A NumPyro model.
    inputs : array, pytree or None
        Its one positional input; None calls it without one.
    data : dict, array or None
        ``{site: value}`` conditions those sites; an array is the second positional argument; None
        observes nothing.
    **kwargs
        Passed to the model.

    Returns
    -------
    object
        Whatever the model returns.
    """
    args = () if inputs is None else (inputs,)
    if isinstance(data, Mapping):
        with handlers.condition(data=dict(data)):
            return model(*args, **kwargs)
    if data is None:
        return model(*args, **kwargs)
    return model(*args, data, **kwargs)


def conditioned(model):
    """``model`` as a function of ``(inputs, data, **kwargs)``, the form the kernels trace.

    Parameters
    ----------
    model : callable
        A NumPyro model.

    Returns
    -------
    callable
        ``(inputs, data, **kwargs) -> call(model, inputs, data, **kwargs)``, named as ``model``.
    """

    def conditioned_model(inputs, data, **kwargs):
        return call(model, inputs, data, **kwargs)

    conditioned_model.__name__ = getattr(model, "__name__", "model")
    return conditioned_model


def _improper_placeholder(site):
    """A value for a site whose prior cannot be sampled (``ImproperUniform``: Stan's flat prior):
    a point of its support, as NumPyro's ``init_to_uniform`` picks one; None leaves others be."""
    if site["type"] == "sample" and not site["is_observed"]:
        if isinstance(site["fn"], dist.ImproperUniform):
            return init_to_uniform(site)
    return None


def seeded_for_tracing(model, seed: int = 0):
    """``model`` seeded, with a point of the support in place of every draw from a flat
    (improper) prior: its trace shows every site, its shapes and supports, even where the prior
    cannot be sampled.

    Parameters
    ----------
    model : callable
        A NumPyro model.
    seed : int
        The seed of its proper sites' draws.

    Returns
    -------
    callable
        The model under ``handlers.seed`` and a ``handlers.substitute`` for improper sites.
    """
    return handlers.substitute(handlers.seed(model, seed), substitute_fn=_improper_placeholder)


def improper_sites(model, inputs, data=None, **kwargs) -> list[str]:
    """The latent sample sites of ``model`` whose prior is flat (``ImproperUniform``): no draw
    from the prior exists, so neither SBC nor a prior predictive check can run."""
    tr = trace(model, inputs, data, **kwargs)
    return [
        name
        for name, site in tr.items()
        if site["type"] == "sample"
        and not site["is_observed"]
        and isinstance(site["fn"], dist.ImproperUniform)
    ]


def trace(model, inputs, data=None, params=None, **kwargs):
    """The model's trace on ``inputs`` and ``data``, with ``params`` substituted if given.

    Parameters
    ----------
    model : callable
        A NumPyro model; seeded with 0, flat priors given a point of their support
        (:func:`seeded_for_tracing`).
    inputs : array, pytree or None
        Its input.
    data : dict, array or None
        Its data, as for :func:`call`.
    params : dict, optional
        Site name -> value substituted.
    **kwargs
        Passed to the model.

    Returns
    -------
    collections.OrderedDict
        NumPyro's trace: site name -> site.
    """
    seeded = seeded_for_tracing(model)
    if params is not None:
        seeded = handlers.substitute(seeded, params)
    return handlers.trace(conditioned(seeded)).get_trace(inputs, data, **kwargs)


def describe(tree) -> str:
    """Shapes of a pytree of arrays, for messages: ``(20, 2)``, ``{a: (3,), b: ()}``, ``none``.

    Parameters
    ----------
    tree : pytree or None
        Arrays in dicts, tuples and lists.

    Returns
    -------
    str
        The shapes, nested as the tree is.
    """
    if tree is None:
        return "none"
    if isinstance(tree, Mapping):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in tree.items()) + "}"
    if isinstance(tree, (tuple, list)):
        return "(" + ", ".join(describe(v) for v in tree) + ")"
    return str(tuple(np.shape(tree)))


def check_finite(name: str, tree) -> None:
    """Refuse NaN or inf anywhere in a concrete pytree of arrays, naming the argument and leaf.

    Traced and non-numeric leaves are skipped.

    Parameters
    ----------
    name : str
        The argument, for the message.
    tree : pytree
        Its value.

    Raises
    ------
    ValueError
        A numeric leaf holds NaN or inf.
    """
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        if isinstance(leaf, jax.core.Tracer):
            continue
        values = np.asarray(leaf)
        if not np.issubdtype(values.dtype, np.number):
            continue
        bad = int(np.sum(~np.isfinite(values)))
        if bad:
            where = f"{name}{jax.tree_util.keystr(path)}"
            raise ValueError(f"{where} must be finite, got {bad} NaN or inf value(s)")


def leading_size(name: str, tree) -> int:
    """The common length of the leading axis of every leaf, or a ``ValueError`` naming ``name``.

    Parameters
    ----------
    name : str
        The argument, for the message.
    tree : pytree
        Arrays of at least one dimension.

    Returns
    -------
    int
        The shared leading size.

    Raises
    ------
    ValueError
        No leaves, a scalar leaf, or leaves of different leading sizes.
    """
    sizes = {int(np.shape(leaf)[0]) if np.ndim(leaf) else -1 for leaf in jax.tree.leaves(tree)}
    if not sizes or -1 in sizes or len(sizes) != 1:
        raise ValueError(
            f"{name} must hold arrays that share a leading (replication) axis, got shapes "
            f"{describe(tree)}"
        )
    return sizes.pop()


def check_data(x, y=None):
    """Check a model's inputs ``x`` and data ``y`` before fitting: finite everywhere; a 1-D ``x``
    with an array ``y`` (the notebook's form) as :func:`regmaster.checks.check_inputs` does.
    Returns them as JAX arrays (pytrees kept).

    Parameters
    ----------
    x : array, pytree or None
        The model's inputs.
    y : array, dict or None
        Its data.

    Returns
    -------
    x, y
        As JAX arrays, in the same structure.

    Raises
    ------
    ValueError
        A non-finite value, or a 1-D ``x`` whose ``y`` does not match it.
    """
    import jax.numpy as jnp

    from .checks import check_inputs

    if np.ndim(x) == 1 and not isinstance(x, Mapping) and not isinstance(y, Mapping):
        return check_inputs(x, y)
    x = None if x is None else jax.tree.map(jnp.asarray, x)
    y = None if y is None else jax.tree.map(jnp.asarray, y)
    check_finite("x", x)
    check_finite("y", y)
    return x, y
