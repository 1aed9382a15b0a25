"""Where eval jobs run: the one executor interface of micro_agent.executor (submit a job, shut down).

A job is a no-argument callable returning a TaskResult; `submit` gives back a concurrent.futures.Future.
Eval jobs share this machine's disk (the suite's repositories), so the eval uses the local pool.
"""

from micro_agent.executor import Executor, LocalExecutor

__all__ = ["Executor", "LocalExecutor"]
