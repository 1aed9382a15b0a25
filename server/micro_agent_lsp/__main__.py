"""`python -m micro_agent_lsp [--tcp HOST:PORT]`: the same as `micro-agent lsp`."""

import sys

from .server import main

sys.exit(main())
