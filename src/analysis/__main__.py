"""``python -m analysis`` is the ``churn-radar`` command."""

import sys

from analysis.cli import main

sys.exit(main())
