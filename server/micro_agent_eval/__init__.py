"""`micro-agent eval`: run the product's own loop over a suite of bugs and measure what it fixes and what it costs.

A face on the engine, like the CLI and the language server: it builds RunRequests, calls
`micro_agent.engine.run` once per task and configuration, and the engine knows nothing of it.
"""
