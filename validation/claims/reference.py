"""NUTS on the posteriordb posteriors against their reference draws: the claim the suite, the
calibration harness and ``regmaster check`` share (:mod:`regmaster.reference`)."""

from __future__ import annotations

from typing import Any

from regmaster import posteriordb
from regmaster.plugin import INFERENCE
from regmaster.reference import CI, RELEASE, check, nuts_draws
from regmaster.settings import RunLengths
from regmaster.verdicts import DIVERGENCES, ESS_REFERENCE, REFERENCE_ALPHA, RHAT

SIZES: dict[str, RunLengths] = {"ci": CI, "release": RELEASE}

PASSING = [name for name in posteriordb.POSTERIORS if name not in posteriordb.KNOWN_BAD]
"""The posteriors whose NumPyro model is the reference's: NUTS must match them."""


def measured(name: str, seed: int, size: str = "ci", model=None) -> tuple[dict[str, Any], list]:
    """One run of NUTS on ``name`` (or ``model`` on its data) at ``size``: the recorded figures
    and the verdicts."""
    posterior = posteriordb.get(name)
    lengths = SIZES[size]
    draws, divergences = nuts_draws(posterior, seed, lengths, model=model).run(0)
    figures, judged = check(posterior, draws, divergences)
    recorded = {
        "model": name,
        "statistic": "z = (NUTS - reference) / sqrt(MCSE^2 + MCSE_ref^2) of the mean, sd, 5% and "
        "95% quantile of every parameter; Holm over all",
        **figures,
        "threshold": REFERENCE_ALPHA.value,
        "gate_threshold": {
            "max_rhat": RHAT.value,
            "min_ess_bulk": ESS_REFERENCE.value,
            "min_ess_tail": ESS_REFERENCE.value,
            "divergences": DIVERGENCES.value,
        },
        "size": size,
        INFERENCE: f"NUTS (target acceptance {posterior.target_accept_prob}, max tree depth 10; "
        f"{lengths.num_chains} x ({lengths.num_warmup} + {lengths.num_samples}))",
    }
    return recorded, judged
