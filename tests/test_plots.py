"""The figures draw the numbers they are given: fit mean and band, SBC rank counts and ECDFs."""

import matplotlib.pyplot as plt
import numpy as np

from regmaster import SBCResult, make_sinc
from regmaster.experiment import FitOutcome
from regmaster.plots import (
    SBC_FIGURES,
    plot_fit,
    save_fit_figures,
    save_sbc_figures,
    sbc_contraction_figure,
    sbc_coverage_figure,
    sbc_ecdf_figure,
    sbc_history_figure,
    sbc_rank_figure,
    sbc_recovery_figure,
)

DATA = make_sinc()


def _outcome(name: str) -> FitOutcome:
    mean = np.sin(np.asarray(DATA.x_test))
    return FitOutcome(name, name, "NUTS", 0.9, 0.8, ">", True, 1.0, mean, mean - 0.1, mean + 0.2)


def _sbc_result(ranks: np.ndarray, truth=None, thinned=None) -> SBCResult:
    n, q = ranks.shape
    names = [f"q{j}" for j in range(q)]
    adjusted = np.linspace(0.2, 1.0, q)
    rng = np.random.default_rng(3)
    truth = rng.normal(size=(n, q)) if truth is None else truth
    thinned = rng.normal(size=(n, 99, q)) if thinned is None else thinned
    return SBCResult(
        "toy", names, ranks, 99, {}, adjusted, 0.01, True, {}, 1.0, truth=truth, thinned=thinned
    )


def test_fit_plot_draws_the_outcomes_mean_and_band():
    outcome = _outcome("linear")
    fig, ax = plt.subplots()
    plot_fit(ax, DATA, outcome)
    mean_line = next(line for line in ax.get_lines() if line.get_label() == "Posterior mean")
    np.testing.assert_array_equal(mean_line.get_ydata(), outcome.mean)
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(band.min(), outcome.lower.min()) and np.isclose(
        band.max(), outcome.upper.max()
    )
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    plt.close(fig)


def test_rank_histograms_count_each_quantitys_ranks():
    rng = np.random.default_rng(0)
    ranks = np.stack([rng.integers(0, 100, 50), np.full(50, 7)], axis=1)
    fig = sbc_rank_figure(_sbc_result(ranks))
    for j, ax in enumerate(fig.axes):
        heights = [bar.get_height() for bar in ax.containers[0]]  # the histogram's bars
        expected, _ = np.histogram(ranks[:, j], np.linspace(0, 100, 21))
        np.testing.assert_array_equal(heights, expected)
        assert ax.get_title().startswith(f"q{j}")
    plt.close(fig)


def test_ecdf_difference_of_ranks_all_at_zero_rises_to_one_at_once():
    ranks = np.zeros((40, 1), dtype=int)
    fig = sbc_ecdf_figure(_sbc_result(ranks))
    x, diff = fig.axes[0].get_lines()[0].get_data()
    # Jittered ranks all lie in [0, 0.01): the ECDF is 1 from there on, so ECDF - x = 1 - x.
    np.testing.assert_allclose(diff[x >= 0.01], 1 - x[x >= 0.01])
    plt.close(fig)


def test_figures_are_written_under_their_names(tmp_path):
    paths = save_fit_figures([_outcome("linear"), _outcome("bnn")], DATA, tmp_path / "fit")
    assert [p.name for p in paths] == ["fit_linear.png", "fit_bnn.png", "comparison.png"]
    ranks = np.random.default_rng(1).integers(0, 100, (30, 3))
    paths = save_sbc_figures(_sbc_result(ranks), tmp_path / "sbc")
    assert [p.name for p in paths] == [f"sbc_{kind}_toy.png" for kind in SBC_FIGURES]
    for path in paths:
        image = plt.imread(path)
        assert image.ndim == 3 and image.std() > 0  # a decodable, non-blank picture


def test_coverage_of_ranks_in_the_middle_is_full_and_of_ranks_at_an_end_is_none():
    # Every truth at the posterior median: every central interval covers it (coverage 1);
    # every truth below all draws: none does below the 98% level.
    middle = sbc_coverage_figure(_sbc_result(np.full((40, 1), 49)))
    x, diff = middle.axes[0].get_lines()[0].get_data()
    np.testing.assert_allclose(diff[x >= 0.02], 1 - x[x >= 0.02])
    end = sbc_coverage_figure(_sbc_result(np.zeros((40, 1), dtype=int)))
    x, diff = end.axes[0].get_lines()[0].get_data()
    np.testing.assert_allclose(diff[x < 0.98], -x[x < 0.98])
    plt.close(middle)
    plt.close(end)


def test_contraction_and_recovery_place_each_replication_at_its_z_and_mean():
    rng = np.random.default_rng(4)
    thinned = rng.normal(size=(30, 99, 1))
    truth = rng.normal(size=(30, 1))
    result = _sbc_result(np.zeros((30, 1), dtype=int), truth=truth, thinned=thinned)
    mean, sd = thinned.mean(axis=1), thinned.std(axis=1, ddof=1)
    fig = sbc_contraction_figure(result)
    points = fig.axes[0].collections[-1].get_offsets()
    np.testing.assert_allclose(points[:, 1], ((mean - truth) / sd)[:, 0])
    np.testing.assert_allclose(points[:, 0], 1 - sd[:, 0] ** 2 / truth[:, 0].var(ddof=1))
    plt.close(fig)
    fig = sbc_recovery_figure(result)
    x, y = fig.axes[0].get_lines()[0].get_data()
    np.testing.assert_allclose(x, truth[:, 0])
    np.testing.assert_allclose(y, mean[:, 0])
    plt.close(fig)


def test_history_holds_the_verdict_of_each_first_n_replications():
    from regmaster.sbc import verdict

    ranks = np.random.default_rng(6).integers(0, 100, (30, 2))
    fig = sbc_history_figure(_sbc_result(ranks))
    sizes, holm = fig.axes[0].get_lines()[0].get_data()
    assert list(sizes) == [10, 20, 30]
    expected = [verdict(ranks[:n], 99, 0.01, np.random.default_rng(0))[1].min() for n in sizes]
    np.testing.assert_allclose(holm, expected)
    plt.close(fig)
