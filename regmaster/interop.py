"""SBC results to and from ArviZ: the ``prior_sbc`` group of a DataTree, which ArviZ's plots read
(``arviz_plots.plot_ecdf_pit``, as for the results of simuk).

Each test quantity is a variable of ``prior_sbc`` holding its fractional ranks
u = (r + 1/2) / (L + 1), dims (chain = 1, draw = N); the group ``prior`` holds the simulated
truths. The number of draws L, the model, alpha and the inference are attributes of the root, so
:func:`from_datatree` recovers the integer ranks exactly. Needs ``arviz-base``
(``pip install regmaster[arviz]``).

References
----------
Säilynoja, Bürkner, Vehtari (2022). Graphical test for discrete uniformity and its applications
in goodness-of-fit evaluation and multiple sample comparison. Statistics and Computing 32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .sbc import SBCResult, result_from_ranks
from .verdicts import SBC_ALPHA

__all__ = ["from_datatree", "to_datatree"]


def _arviz_base():
    try:
        import arviz_base
    except ImportError:
        raise ImportError(
            "to_datatree and from_datatree need arviz-base: pip install 'regmaster[arviz]'"
        ) from None
    return arviz_base


def to_datatree(result: SBCResult) -> Any:
    """``result`` as an xarray DataTree with the groups ``prior_sbc`` (fractional ranks) and
    ``prior`` (the truths, when the result has them).

    Parameters
    ----------
    result : SBCResult
        An SBC run.

    Returns
    -------
    xarray.DataTree
        What ``arviz_plots.plot_ecdf_pit(tree)`` draws.
    """
    arviz_base = _arviz_base()
    fractional = (np.asarray(result.ranks) + 0.5) / (result.num_draws + 1)
    groups = {"prior_sbc": {q: fractional[None, :, j] for j, q in enumerate(result.quantities)}}
    if result.truth is not None:
        groups["prior"] = {q: result.truth[None, :, j] for j, q in enumerate(result.quantities)}
    attrs = {
        "model": result.model,
        "num_draws": int(result.num_draws),
        "alpha": float(result.alpha),
        "inference": result.inference or "",
        "ranks": "u = (r + 1/2) / (num_draws + 1), r the rank among num_draws draws",
        "modeling_interface": "regmaster",
    }
    return arviz_base.from_dict(groups, attrs={"/": attrs})


def from_datatree(tree, alpha: float | None = None) -> SBCResult:
    """An :class:`SBCResult` from a tree of :func:`to_datatree`: its ranks, quantity names and
    truths, and the verdict recomputed from the ranks (Holm at ``alpha``, default the tree's).

    Parameters
    ----------
    tree : xarray.DataTree
        With a ``prior_sbc`` group of fractional ranks and ``num_draws`` among its attributes.
    alpha : float, optional
        The family-wise level of the recomputed verdict.

    Returns
    -------
    SBCResult
        Ranks, p-values and verdict; no fit health, no draws.
    """
    attrs = dict(tree.attrs)
    if "prior_sbc" not in tree.children or "num_draws" not in attrs:
        raise ValueError(
            "tree must hold a 'prior_sbc' group and a 'num_draws' attribute (to_datatree's "
            f"layout); got groups {sorted(tree.children)} and attributes {sorted(attrs)}"
        )
    num_draws = int(attrs["num_draws"])
    alpha = float(attrs.get("alpha", SBC_ALPHA.value)) if alpha is None else alpha
    ranks_group = tree["prior_sbc"].to_dataset()
    names = list(ranks_group.data_vars)
    fractional = np.stack([ranks_group[q].values.reshape(-1) for q in names], axis=1)
    ranks = np.rint(fractional * (num_draws + 1) - 0.5).astype(int)
    truth = None
    if "prior" in tree.children:
        prior = tree["prior"].to_dataset()
        truth = np.stack([prior[q].values.reshape(-1) for q in names], axis=1)
    return result_from_ranks(
        str(attrs.get("model", "")),
        names,
        ranks,
        num_draws,
        alpha,
        truth=truth,
        inference=attrs.get("inference") or None,
    )
