"""``python -m validation.calibration.divergence_rise PART``: the release comparison's rule for
divergences (:data:`regmaster.verdicts.DIVERGENCE_RISE`), its size and its power
(docs/calibration.md#release-divergences).

Parts:

  size   rejections of Fisher's one-sided test on pairs of runs with the same rate of
         diverging replications (independent binomial counts; 200,000 pairs per rate)
  power  rejections when the rate is multiplied by 1.5 and 2, at each release SBC's measured
         rate (simulated counts, 20,000 pairs per rate)
  bug    SBC of ``--model`` fitted with the step-size adaptation aiming at lower acceptance
         rates than the entry's (a dropped or mistyped setting), against the correct run on
         the same data sets: replications with divergences, the test's p-value, the ranks
         verdict
"""

from __future__ import annotations

import argparse
import time

import numpy as np

# Rates of replications with divergences in the release SBC records (1,000 replications each,
# releases/2026-12-03-cpu/validation.json): rff_svr, rff_gp, deep_rff_smooth,
# rff_gp_noncentred, bnn, deep_rff.
RELEASE_RATES = (0.001, 0.004, 0.041, 0.165, 0.445, 0.998)


def _pvalues(before: np.ndarray, after: np.ndarray, n: int) -> np.ndarray:
    from scipy.stats import hypergeom

    return hypergeom.sf(after - 1, 2 * n, before + after, n)  # regmaster.stats.rise_pvalue


def size(alpha: float, pairs: int = 200_000) -> None:
    rng = np.random.default_rng(20261203)
    print(f"| replications | rate | rejected at {alpha:g} (of {pairs:,}) | any where none |")
    print("|---:|---:|---:|---:|")
    for n in (100, 1000):
        for rate in RELEASE_RATES:
            a, b = rng.binomial(n, rate, (2, pairs))
            rejected = np.mean(_pvalues(a, b, n) <= alpha)
            print(f"| {n} | {rate:g} | {rejected:.5f} | {np.mean((a == 0) & (b > 0)):.5f} |")


def power(alpha: float, pairs: int = 20_000) -> None:
    rng = np.random.default_rng(20261204)
    print(f"| replications | baseline rate | x1.5 | x2 | + 0.02 | (rejected at {alpha:g}) |")
    print("|---:|---:|---:|---:|---:|---|")
    for n in (200, 1000):
        for rate in RELEASE_RATES[:-1]:
            a = rng.binomial(n, rate, pairs)
            rejected = []
            for risen in (1.5 * rate, 2 * rate, rate + 0.02):
                b = rng.binomial(n, min(1.0, risen), pairs)
                rejected.append(f"{np.mean(_pvalues(a, b, n) <= alpha):.3f}")
            print(f"| {n} | {rate:g} | {' | '.join(rejected)} | |")


def bug(model: str, replications: int, targets: list[float]) -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    from regmaster import stats, zoo
    from regmaster.engine import BatchedNUTS
    from regmaster.sbc import run_sbc
    from regmaster.seeds import seed_from_name

    spec = zoo.get_spec(model)
    seed = seed_from_name(f"divergence-rise:{model}")  # one seed: the same data sets in every run
    print(
        "| target acceptance | replications with divergences | divergent transitions | "
        "p against the correct run | ranks verdict (min Holm p) | seconds |"
    )
    print("|---:|---:|---:|---:|---|---:|")
    correct = None
    for target in [spec.target_accept_prob, *targets]:
        start = time.perf_counter()
        result = run_sbc(
            spec,
            seed=seed,
            replications=replications,
            inference=BatchedNUTS(target, spec.max_tree_depth),
        )
        health = result.fit_diagnostics
        counts = (health["replications_with_divergences"], replications)
        shown = "" if correct is None else f"{stats.rise_pvalue(correct, counts):.3g}"
        correct = correct or counts
        verdict = "pass" if result.passed else "reject"
        print(
            f"| {target:g} | {counts[0]} | {health['divergent_transitions']} | {shown} | "
            f"{verdict} ({result.adjusted.min():.3g}) | {time.perf_counter() - start:.0f} |",
            flush=True,
        )


def main() -> None:
    from regmaster.verdicts import DIVERGENCE_RISE

    parser = argparse.ArgumentParser(prog="python -m validation.calibration.divergence_rise")
    parser.add_argument("part", choices=("size", "power", "bug"))
    parser.add_argument("--model", default="rff_gp_noncentred")
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.7, 0.6])
    args = parser.parse_args()
    if args.part == "size":
        size(DIVERGENCE_RISE.value)
    elif args.part == "power":
        power(DIVERGENCE_RISE.value)
    else:
        bug(args.model, args.replications, args.targets)


if __name__ == "__main__":
    main()
