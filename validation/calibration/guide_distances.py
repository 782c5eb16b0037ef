"""``python -m validation.calibration.guide_distances``: how far NumPyro's approximations land
from the posteriordb references. Each guide of ``regmaster reference --inference`` (10,000 Adam
steps from 0.05, halving every 2000, 4 ELBO draws per step) is fitted once per posterior (seed 0)
and its 4,000 draws are compared with the reference draws: the largest |mean gap| in reference
sds, the range of sd / sd_ref, the check's verdict, and the final gradient norm of the ELBO.
The table: docs/calibration.md#posteriordb-guides.
"""

from __future__ import annotations

import jax

GUIDES = ("svi-mean-field", "svi-full-rank", "laplace")


def main() -> None:
    jax.config.update("jax_enable_x64", True)
    from regmaster import posteriordb, verdicts, zoo
    from regmaster.reference import GUIDE_DRAWS, check, distances, fit_draws

    print("| posterior | guide | max abs mean gap (ref sd) | sd ratio | check | ELBO grad norm |")
    print("|---|---|---:|---|---|---:|")
    for name, posterior in posteriordb.POSTERIORS.items():
        if name in posteriordb.KNOWN_BAD:
            continue
        inputs, data = posterior.inputs_and_data()
        reference = posterior.reference_draws()
        for guide in GUIDES:
            draws, health = fit_draws(
                posterior.model,
                jax.random.PRNGKey(0),
                inputs,
                data,
                zoo.INFERENCES[guide],
                GUIDE_DRAWS,
                list(reference),
            )
            gaps = distances(draws, reference)
            figures, judged = check(posterior, draws, 0)
            verdict = "pass" if not verdicts.failed(judged) else "fail"
            print(
                f"| `{name}` | {guide} | {gaps['max_abs_mean_gap_sd']:.2f} | "
                f"{gaps['min_sd_ratio']:.2f}-{gaps['max_sd_ratio']:.2f} | {verdict} "
                f"(p {figures['min_holm_pvalue']:.2g}) | {float(health['grad_norm']):.2g} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
