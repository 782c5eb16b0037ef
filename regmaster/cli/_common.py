"""What the subcommands share: the argument parser, model names, output checks and files."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import zoo
from ..checks import check_output

CACHE_OPTION = "--cache-dir (default $REGMASTER_CACHE_DIR)"
"""How an unusable compilation-cache directory is named: the option, else the variable."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message):
        """Print ``PROG: error: MESSAGE`` on stderr and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def model_names(values: list[str]) -> list[str]:
    """The model names ``--model`` gives, in order and each once.

    Parameters
    ----------
    values : list of str
        The option's values: names, comma-separated names or ``all`` (the notebook's models).

    Returns
    -------
    list of str
        The names; :class:`ValueError` names an unknown model or an empty selection.
    """
    names: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name == "all":
                names.extend(zoo.MODEL_NAMES)
            elif name:
                zoo.notebook_spec(name)  # raises ValueError naming the unknown model
                names.append(name)
    if not names:
        raise ValueError("--model needs at least one model name or 'all'")
    return list(dict.fromkeys(names))


def seed_value(text: str) -> int:
    """An option's value as a seed, an integer in 0..:data:`regmaster.seeds.MAX_SEED` (an
    argparse ``type``).

    Parameters
    ----------
    text : str
        The value as given on the command line.

    Returns
    -------
    int
        The value; :class:`argparse.ArgumentTypeError` says what is wrong with it.
    """
    from ..seeds import MAX_SEED

    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer in 0..{MAX_SEED}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An option's value as an integer >= 1 (an argparse ``type``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An option's value as a finite number > 0 (an argparse ``type``)."""
    from ..checks import check_positive_float

    try:
        return check_positive_float("value", text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}") from None


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path``, making its directory first.

    Parameters
    ----------
    path : str
        The file to write.
    text : str
        Its contents.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def write_json(path: str, payload: dict) -> None:
    """Write ``payload`` to ``path`` as indented JSON with a final newline.

    Parameters
    ----------
    path : str
        The file to write.
    payload : dict
        JSON values.
    """
    write_text(path, json.dumps(payload, indent=2) + "\n")


def say(message: str, quiet: bool, always: bool = False) -> None:
    """A progress line on stderr, unless ``quiet`` (``always`` prints it regardless).

    Parameters
    ----------
    message : str
        The line.
    quiet : bool
        Whether ``--quiet`` was given.
    always : bool, optional
        Print even when quiet (a warning).
    """
    if always or not quiet:
        print(message, file=sys.stderr, flush=True)


def check_outputs(
    outputs: Mapping[str, tuple[str | None, bool]], inputs: Sequence[str] = ()
) -> None:
    """:func:`check_output` for every output option, then refuse two options naming one path
    and an output that is one of the ``inputs`` (it would be overwritten), before any computing.

    Parameters
    ----------
    outputs : mapping
        option -> (path or None, whether the path is a directory).
    inputs : sequence of str
        The files the command reads.

    Raises
    ------
    ValueError
        In one line naming the option, the path and the clash.
    """
    seen: dict[Path, str] = {Path(path).resolve(): "an input file" for path in inputs}
    for option, (path, directory) in outputs.items():
        if not path:
            continue
        where = Path(path).resolve()
        if where in seen:
            raise ValueError(f"{option} {path} is also {seen[where]}: name another path")
        check_output(option, path, directory)
        seen[where] = f"the path of {option}"
