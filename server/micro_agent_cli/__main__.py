"""`python -m micro_agent_cli …`: the same as `micro-agent …`."""

import sys

from .main import main

sys.exit(main())
