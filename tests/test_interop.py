"""SBC results as an ArviZ DataTree: the ranks survive the round trip, and ArviZ draws them."""

import matplotlib.pyplot as plt
import matplotlib.style.core  # noqa: F401  (see the plot test)
import numpy as np
import pytest

from regmaster import sbc
from regmaster.interop import from_datatree, to_datatree


def _result():
    rng = np.random.default_rng(5)
    ranks = rng.integers(0, 100, size=(40, 3))
    truth = rng.normal(size=(40, 3))
    pvalues, adjusted, passed = sbc.verdict(ranks, 99, 0.01, rng)
    return sbc.SBCResult(
        "toy",
        ["w[0]", "f(x=-5)", "loglik"],
        ranks,
        99,
        pvalues,
        adjusted,
        0.01,
        passed,
        {},
        1.0,
        truth=truth,
        inference="NUTS",
    )


def test_the_round_trip_keeps_ranks_names_truths_and_the_inference():
    result = _result()
    back = from_datatree(to_datatree(result))
    np.testing.assert_array_equal(back.ranks, result.ranks)
    np.testing.assert_array_equal(back.truth, result.truth)
    assert (back.quantities, back.num_draws, back.inference) == (result.quantities, 99, "NUTS")


def test_arviz_plots_draws_the_ecdf_of_an_sbc_result():
    # arviz-plots is no test dependency (docs/findings.md#arviz-plots): where it is installed,
    # this runs. 0.8.0 reaches matplotlib.style.core, which Matplotlib 3.11 no longer imports
    # with matplotlib.style (deprecated, still present): imported at the top, before it.
    plot_ecdf_pit = pytest.importorskip("arviz_plots").plot_ecdf_pit

    plot_ecdf_pit(to_datatree(_result()))
    figure = plt.gcf()
    drawn = [ax for ax in figure.axes if ax.get_lines()]
    assert [ax.get_title() for ax in drawn] == ["w[0]", "f(x=-5)", "loglik"]
    plt.close(figure)


def test_a_tree_without_sbc_ranks_is_refused_naming_what_it_has():
    from arviz_base import from_dict

    tree = from_dict({"posterior": {"mu": np.zeros((1, 5))}})
    with pytest.raises(ValueError, match=r"tree must hold a 'prior_sbc' group .* \['posterior'\]"):
        from_datatree(tree)
