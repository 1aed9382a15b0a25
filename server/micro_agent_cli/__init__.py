"""The command-line face: `micro-agent` / `ma-loop` (run, audit, and the subcommands of the other faces).

A face on the engine like the language server (micro_agent_lsp), the autopilot and eval: it parses flags,
builds a RunRequest, renders the engine's events with rich, and maps the outcome to an exit status. The
engine (micro_agent) never imports it. The other faces' subcommands are found lazily, by module name.
"""
