"""The run record of a validation run: read it, summarise it, compare it with a baseline.

A record (``reports/validation.json``) holds the environment of the run and one result per check:
its test id, family, model, backend, outcome, verdict and recorded figures. Verdicts: ``pass``;
``finding`` (a strict xfail: a documented inference problem, docs/findings.md); ``fail``; ``skip``.

:func:`compare` lists every check whose verdict changed or whose key figure moved past the
tolerances of :mod:`regmaster.verdicts`; a change that makes the current run worse is a regression.
"""

from ._policy import TIMING_FIGURES, Change, compare, diff
from ._provenance import PACKAGES, environment
from ._record import (
    SCHEMA,
    VERDICTS,
    RecordError,
    format_summary,
    format_timing,
    jsonable,
    load,
    merge_records,
    results_by_test,
    split_test_id,
    summary,
    timing,
    verdict_of,
)
from ._render import inference_paths, key_figure, to_html, to_markdown

__all__ = [
    "PACKAGES",
    "SCHEMA",
    "TIMING_FIGURES",
    "VERDICTS",
    "Change",
    "RecordError",
    "compare",
    "diff",
    "environment",
    "format_summary",
    "format_timing",
    "inference_paths",
    "jsonable",
    "key_figure",
    "load",
    "merge_records",
    "results_by_test",
    "split_test_id",
    "summary",
    "timing",
    "to_html",
    "to_markdown",
    "verdict_of",
]
