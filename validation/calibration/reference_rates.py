"""``python -m validation.calibration.reference_rates [NAME ...]``: the posteriordb check's
false-alarm rate and power, measured over independent NUTS runs.

For each posterior, ``runs`` runs at CI size are fitted as one vectorised batch (seed from the
posterior's name) and each is judged by :func:`regmaster.reference.check` against the
reference draws (false alarms, a run failing its gate counted as one), against the reference
shifted by 0.1 reference sd in every parameter, and against the reference widened by 10% about
its mean (power, at ``REFERENCE_ALPHA``). The table: docs/calibration.md#posteriordb.
"""

from __future__ import annotations

import sys
import time

import jax
import numpy as np

from validation.calibration.run import interval

DEFAULT = ("mesquite_logvolume", "kidiq_momiq", "eight_schools_noncentered", "garch11", "blr")


def shifted(reference: dict, sds: float) -> dict:
    """Every parameter's reference draws moved by ``sds`` of its reference sd."""
    return {k: v + sds * v.reshape(-1, *v.shape[2:]).std(0) for k, v in reference.items()}


def widened(reference: dict, factor: float) -> dict:
    """Every parameter's reference draws scaled by ``factor`` about their mean."""
    out = {}
    for k, v in reference.items():
        mean = v.reshape(-1, *v.shape[2:]).mean(0)
        out[k] = mean + factor * (v - mean)
    return out


LEVELS = (0.01, 0.001, 0.0001)  # the family-wise levels whose false-alarm rates are printed


def rates(name: str, runs: int = 100) -> dict:
    """Per run: the smallest Holm-adjusted p against the reference, the shifted one and the
    widened one, and whether the convergence gate held."""
    from regmaster import posteriordb
    from regmaster.reference import check, nuts_draws
    from regmaster.seeds import seed_from_name

    posterior = posteriordb.get(name)
    reference = posterior.reference_draws()
    references = {
        "reference": reference,
        "shift 0.1 sd": shifted(reference, 0.1),
        "10% wider": widened(reference, 1.1),
    }
    start = time.perf_counter()
    batch = nuts_draws(posterior, seed_from_name(f"reference-rates:{name}"), runs=runs)
    pvalues = {label: [] for label in references}
    gate = []
    for r in range(batch.count):
        draws, divergences = batch.run(r)
        for label, ref in references.items():
            figures, judged = check(posterior, draws, divergences, ref)
            pvalues[label].append(figures["min_holm_pvalue"])
            if label == "reference":
                gate.append(all(v.passed for v in judged if v.name != "reference_z"))
    return {
        "pvalues": {k: np.array(v) for k, v in pvalues.items()},
        "gate": np.array(gate),
        "seconds": time.perf_counter() - start,
    }


def main(names: list[str]) -> None:
    from regmaster.verdicts import REFERENCE_ALPHA

    jax.config.update("jax_enable_x64", True)
    alpha = REFERENCE_ALPHA.value
    head = " | ".join(f"false alarms at {a:g} (95%)" for a in LEVELS)
    print(f"| posterior | runs | gate failed | {head} | shift 0.1 sd | 10% wider | seconds |")
    print("|---|---:|---:|" + "---:|" * len(LEVELS) + "---:|---:|---:|")
    for name in names:
        out = rates(name)
        p, gate = out["pvalues"], out["gate"]
        n = len(gate)
        cells = []
        for level in LEVELS:
            k = int(np.sum(~gate | (p["reference"] <= level)))
            low, high = interval(k, n)
            cells.append(f"{k} ({low:.1%}-{high:.1%})")
        power = [int(np.sum(~gate | (p[k] <= alpha))) for k in ("shift 0.1 sd", "10% wider")]
        print(
            f"| `{name}` | {n} | {int(np.sum(~gate))} | {' | '.join(cells)} | {power[0]} | "
            f"{power[1]} | {out['seconds']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:] or list(DEFAULT))
