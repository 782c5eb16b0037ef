"""``regmaster reference``: NUTS on posteriordb posteriors against their reference draws."""

from __future__ import annotations

from ..posteriordb import KNOWN_BAD, POSTERIORS, get
from ._common import check_outputs, seed_value, write_json

APPROXIMATIONS = ("nuts", "svi-mean-field", "svi-full-rank", "svi-low-rank", "laplace")


def add_parser(subparsers) -> None:
    """Declare ``reference`` and its options.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``regmaster`` command's subcommands.
    """
    reference = subparsers.add_parser(
        "reference",
        help="NUTS on posteriordb posteriors against their reference draws (z-score tables)",
        description="Fit a posteriordb posterior with NumPyro's NUTS and compare the mean, sd, "
        "5%% and 95%% quantiles of every parameter with posteriordb's reference draws: z = "
        "(NUTS - reference) / sqrt(MCSE^2 + MCSE_ref^2), Holm over all, after R-hat, ESS and "
        f"divergence gates. Posteriors: {', '.join(POSTERIORS)} (known bad: "
        f"{', '.join(KNOWN_BAD)}).",
    )
    reference.add_argument(
        "posterior",
        nargs="*",
        metavar="NAME",
        help="posteriors to check (default: every one whose model is the reference's)",
    )
    reference.add_argument(
        "--size",
        choices=("ci", "release"),
        default="ci",
        help="ci: 4 x (1000 + 1000) draws; release: 4 x (1000 + 10000)",
    )
    reference.add_argument("--seed", type=seed_value, default=0, help="fit seed (default 0)")
    reference.add_argument(
        "--inference",
        choices=APPROXIMATIONS,
        default="nuts",
        help="nuts (NumPyro's NUTS at the posterior's settings), or an approximation held "
        "against the same reference: an SVI guide (svi-mean-field, svi-full-rank, "
        "svi-low-rank) or laplace, 10,000 Adam steps, 4,000 draws; the table adds each "
        "parameter's mean gap in reference sds and its sd ratio",
    )
    reference.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    reference.add_argument("--list", action="store_true", help="list the posteriors and stop")
    reference.set_defaults(func=run)


def _element(key: str, index: int, count: int) -> str:
    site = key.rpartition("_")[0]
    return f"{site}[{index}]" if count > 1 else site


def print_table(figures: dict, gaps: dict | None = None) -> None:
    """One row per parameter element: its z-score for each statistic, and with ``gaps``
    (:func:`regmaster.reference.distances`) the mean's gap in reference sds and the sd ratio."""
    from ..reference_draws import STATISTICS

    z = figures["z"]
    sites = list(dict.fromkeys(k.rpartition("_")[0] for k in z))
    extra = f"{'mean gap/sd':>13}{'sd ratio':>10}" if gaps else ""
    print(f"  {'parameter':<18}" + "".join(f"{'z ' + s:>10}" for s in STATISTICS) + extra)
    for site in sites:
        count = len(z[f"{site}_mean"])
        for i in range(count):
            row = "".join(f"{z[f'{site}_{s}'][i]:>10.2f}" for s in STATISTICS)
            if gaps:
                row += f"{gaps['mean_gap_sd'][site][i]:>13.3f}{gaps['sd_ratio'][site][i]:>10.3f}"
            print(f"  {_element(site + '_mean', i, count):<18}{row}")


def _fitted(posterior, args, lengths):
    """Draws and divergences of ``args.inference`` on the posterior, and a line saying what ran."""
    import jax

    from ..reference import GUIDE_DRAWS, fit_draws, nuts_draws
    from ..zoo import INFERENCES, describe_inference

    if args.inference == "nuts":
        draws, divergences = nuts_draws(posterior, args.seed, lengths).run(0)
        what = (
            f"NUTS {lengths.num_chains} x ({lengths.num_warmup} + {lengths.num_samples}), target "
            f"acceptance {posterior.target_accept_prob}"
        )
        return draws, divergences, what
    inference = INFERENCES[args.inference]
    inputs, data = posterior.inputs_and_data()
    draws, _ = fit_draws(
        posterior.model,
        jax.random.PRNGKey(args.seed),
        inputs,
        data,
        inference,
        GUIDE_DRAWS,
        list(posterior.reference_draws()),
    )
    return draws, 0, f"{describe_inference(inference)}, 4000 draws"


def run(args) -> int:
    """Fit and judge each posterior; 0 when every verdict holds, else 1."""
    import jax

    from ..reference import CI, RELEASE, check, distances
    from ..verdicts import failed

    if args.list:
        for name, posterior in POSTERIORS.items():
            flat = f"; flat prior on {', '.join(posterior.flat)}" if posterior.flat else ""
            bad = "; known bad" if name in KNOWN_BAD else ""
            print(f"{name}: posteriordb {posterior.folder}{flat}{bad}")
        return 0
    names = args.posterior or [n for n in POSTERIORS if n not in KNOWN_BAD]
    posteriors = [get(n) for n in names]  # unknown names refused before any fitting
    check_outputs({"--json": (args.json, False)})
    jax.config.update("jax_enable_x64", True)
    lengths = {"ci": CI, "release": RELEASE}[args.size]
    passed, out = True, {}
    for posterior in posteriors:
        draws, divergences, what = _fitted(posterior, args, lengths)
        figures, judged = check(posterior, draws, divergences)
        gaps = None if args.inference == "nuts" else distances(draws, posterior.reference_draws())
        gate = figures["gate"]
        print(
            f"{posterior.name} (posteriordb {posterior.folder}): {what}, seed {args.seed}; R-hat "
            f"{gate['max_rhat']:.3f}, ESS bulk {gate['min_ess_bulk']:.0f} tail "
            f"{gate['min_ess_tail']:.0f}, divergences {gate['divergences']}"
        )
        print_table(figures, gaps)
        bad = failed(judged)
        for verdict in bad:
            print(f"  FAIL: {verdict.name}: {verdict.message}")
        print(
            f"  {'FAIL' if bad else 'PASS'}: smallest Holm-adjusted p "
            f"{figures['min_holm_pvalue']:.3g} over {figures['n_z_scores']} z-scores"
        )
        passed &= not bad
        out[posterior.name] = {**figures, "passed": not bad, "inference": what}
        if gaps:
            out[posterior.name]["distances"] = gaps
    if args.json:
        from ..report import jsonable

        write_json(args.json, jsonable(out))
    return 0 if passed else 1
