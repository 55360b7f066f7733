"""``python -m mdperf``: the same as the ``mdperf`` command."""

import sys

from .cli.main import main

sys.exit(main())
