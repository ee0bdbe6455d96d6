"""``python -m analysis`` is the ``churn-radar`` command."""

import sys

from .cli import main

sys.exit(main())
