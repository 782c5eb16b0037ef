"""Models of one's own, validated by regmaster: see test_eight_schools.py."""
