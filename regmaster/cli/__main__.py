"""``python -m regmaster.cli``: the ``regmaster`` command."""

import sys

from . import main

sys.exit(main())
