"""``python -m kernel_sim`` is the ``kernel-sim`` command."""

import sys

from kernel_sim.cli import main

sys.exit(main())
