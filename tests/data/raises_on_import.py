"""A user module that raises while it is imported (tests/test_sbc.py)."""

raise ZeroDivisionError("division by zero while importing")
