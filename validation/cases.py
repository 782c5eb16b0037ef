"""Test parameters from the registry: one per entry that a family checks, marked by its cost."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from regmaster import zoo


def cases(family: str, xfail: Mapping[str, str] | None = None) -> list:
    """``pytest.param(name, id=name)`` for every entry ``family`` checks, in registry order.

    Cost ``slow`` adds the marker ``slow``, ``release`` the marker ``release`` (skipped unless
    ``--release``); ``xfail`` maps a name to the reason of its strict xfail (a finding).
    """
    xfail = dict(xfail or {})
    unknown = set(xfail) - set(zoo.names(family))
    if unknown:
        raise ValueError(f"xfail names entries that {family!r} does not check: {sorted(unknown)}")
    params = []
    for name in zoo.names(family):
        cost = zoo.get_spec(name).checks[family]
        marks = [] if cost == "ci" else [getattr(pytest.mark, cost)]
        if name in xfail:
            marks.append(pytest.mark.xfail(strict=True, reason=xfail[name]))
        params.append(pytest.param(name, marks=marks, id=name))
    return params
