"""``regmaster rank``: rank more test quantities from a finished SBC run, without refitting."""

from __future__ import annotations

from .. import zoo
from ._sbc import print_table


def add_parser(subparsers) -> None:
    """Declare ``rank`` and its options.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``regmaster`` command's subcommands.
    """
    rank = subparsers.add_parser(
        "rank",
        help="rank more quantities from a finished SBC run (its .draws.npz), without refitting",
        description="Rank functions of the parameters and the data among the thinned draws a "
        "run kept (regmaster sbc --json PATH writes PATH.draws.npz): the ranks a run that had "
        "them from the start gives, and the verdict over every quantity (Holm).",
    )
    rank.add_argument("draws", metavar="DRAWS.npz", help="the file beside an SBC run record")
    rank.add_argument(
        "--quantity",
        action="append",
        required=True,
        metavar="NAME=MODULE:FN",
        help="a quantity: FN(params, inputs, data) -> scalar, params a site -> value dict of one "
        "parameter point; repeat for more",
    )
    rank.set_defaults(func=run)


def _quantities(specs: list[str]) -> dict:
    """``NAME=MODULE:FN`` as ``{NAME: FN}``, each function imported (:func:`zoo.load_attribute`)."""
    quantities = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--quantity {spec!r}: must be NAME=MODULE:FN")
        if name in quantities:
            raise ValueError(f"--quantity {spec!r}: {name!r} is named twice")
        function = zoo.load_attribute(path, "--quantity")
        if not callable(function):
            raise ValueError(f"--quantity {spec!r}: {path} is not a function")
        quantities[name] = function
    return quantities


def run(args) -> int:
    """Load the run, rank the new quantities, print the table; 0 if the verdict holds, else 1."""
    import zipfile

    from ..sbc import load_result, rank_quantities
    from ..verdicts import sbc_calibration

    quantities = _quantities(args.quantity)
    try:
        result = load_result(args.draws)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ValueError(
            f"{args.draws}: not the draws file of an SBC run ({type(error).__name__}: {error})"
        ) from None
    result = rank_quantities(result, quantities)
    print(
        f"SBC of {result.model}, {result.replications} replications, with "
        f"{', '.join(quantities)} ranked from the kept draws"
    )
    print_table(result)
    verdict = sbc_calibration(result)
    if not verdict.passed:
        print(f"FAIL: ranks: {verdict.message}")
    status = "PASS" if verdict.passed else "FAIL"
    print(f"{status}: {result.model}, family-wise alpha {result.alpha} over every quantity")
    return 0 if verdict.passed else 1
