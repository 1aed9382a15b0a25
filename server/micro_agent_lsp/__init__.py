"""The Micro Agent language server (pygls): LSP in, engine calls out.

Start it with `micro-agent lsp` or `python -m micro_agent_lsp`; see `server.main`.
"""

__version__ = "0.1.0"
