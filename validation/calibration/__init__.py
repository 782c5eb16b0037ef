"""Calibration of the validation suite: its power against injected bugs and its false alarms.

:mod:`.bugs` is a catalogue of realistic inference bugs, each applied at run time with
``pytest.MonkeyPatch`` (never shipped in the package); :mod:`.probes` runs the suite's own checks
over many seeds at CI size, batched; ``python -m validation.calibration`` (``tox -e
calibrate``) measures the detection rate of every bug and the false-alarm rate of every check and
writes ``reports/calibration.json`` and ``reports/calibration.md`` (docs/calibration.md).
"""
