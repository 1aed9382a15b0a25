"""The Micro Agent language server (pygls): LSP in, engine calls out.

Start it with `micro-agent lsp` or `python -m micro_agent_lsp`; see `server.main`.
"""

from micro_agent import __version__  # the package version (importlib.metadata)

__all__ = ["__version__"]
