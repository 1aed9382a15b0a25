"""The Ray executor: each fix job is one Ray task; its engine events come back through a small relay actor.

Imported only when Ray is asked for (micro_agent.executor.make_executor). A task gets the whole FixJob
(the git bundle travels in Ray's object store), runs `run_fix_job` in a temp clone on whichever node Ray
picks, and sends every engine event to the relay as it happens, so the head writes each finished iteration
to the audit database at once: a worker that dies mid-job loses only the iteration it was in. Tasks are
never retried by Ray (`max_retries=0`): the head decides (micro_agent.dispatch), with a fresh run id.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import ray
from ray import exceptions as ray_errors

from .events import Event
from .executor import ExecutorUnavailable, JobCancelled, WorkerLost
from .fixjob import FixJob, JobResult, run_fix_job

# The model's settings and credentials a worker needs to call it, taken from the head's environment and set in
# each task's runtime_env (docs/scaling.md); anything else on a worker is the worker's own.
FORWARDED_ENV = re.compile(r"^(OPENAI|ANTHROPIC|AZURE|GEMINI|GOOGLE|MISTRAL|GROQ|DEEPSEEK|OLLAMA|OPENROUTER|TOGETHER"
                           r"|LITELLM|AWS|VERTEX|HF|HUGGINGFACE)_[A-Z0-9_]*$|^MICRO_AGENT_[A-Z0-9_]*$")
POLL_S = 0.25  # how often the head takes a running job's events from the relay
CANCEL_GRACE_S = 10.0  # a cancelled task that has not stopped by then is killed
_LOST = (ray_errors.WorkerCrashedError, ray_errors.NodeDiedError, ray_errors.ObjectLostError,
         ray_errors.OwnerDiedError, ray_errors.RayActorError, ray_errors.LocalRayletDiedError)


@ray.remote(num_cpus=0, max_restarts=-1)
class EventRelay:
    """Holds each running job's events until the head takes them."""

    def __init__(self) -> None:
        self._pending: dict[str, list] = defaultdict(list)

    def put(self, job_id: str, items: list) -> None:
        self._pending[job_id].extend(items)

    def take(self, job_id: str) -> list:
        return self._pending.pop(job_id, [])


@ray.remote(max_retries=0)
def run_on_worker(job: FixJob, relay) -> JobResult:
    node = ray.get_runtime_context().get_node_id()
    relay.put.remote(job.job_id, [("placed", node, os.getpid())])

    def send(event: Event) -> None:
        relay.put.remote(job.job_id, [event])

    try:
        return run_fix_job(job, send, None, "ray")
    finally:
        ray.get(relay.put.remote(job.job_id, []))  # every event is at the relay before the result is


def _keep_stdout_clean() -> None:
    """Ray prints its workers' errors ("(raylet) A worker died…") on the driver's stdout, which carries our
    `--json`: send them to stderr (Ray's listener looks the printer up at each call)."""
    from ray._private import worker

    printer = worker.print_to_stdstream
    if getattr(printer, "micro_agent", False):
        return

    def to_stderr(data, *args, **kwargs):
        return printer({**data, "is_err": True}, *args, **kwargs)

    to_stderr.micro_agent = True
    worker.print_to_stdstream = to_stderr


class RayExecutor:
    kind = "ray"

    def __init__(self, address: str | None = None, jobs: int = 1):
        if not ray.is_initialized():
            try:
                local = address is None and not os.environ.get("RAY_ADDRESS")
                ray.init(address=address, namespace="micro-agent", log_to_driver=False, ignore_reinit_error=True,
                         **({"include_dashboard": False} if local else {}))
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = address or os.environ.get("RAY_ADDRESS") or "a new local Ray"
                raise ExecutorUnavailable(
                    f"cannot reach the Ray cluster at {where}: {exc}. Start one with `ray start --head`, check "
                    "--ray-address / RAY_ADDRESS / executor.address, or use `--executor local`") from None
        _keep_stdout_clean()
        self.address = address
        self._relay = EventRelay.options(name=f"micro-agent-relay-{os.getpid()}", get_if_exists=True).remote()
        self._refs: dict[Future, Any] = {}
        self._cancelled: set[Future] = set()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return ray.remote(max_retries=0)(fn).remote(*args).future()

    def submit_fix(self, job: FixJob, on_event: Callable[[Event], None]) -> Future[JobResult]:
        outer: Future[JobResult] = Future()
        env = {k: v for k, v in os.environ.items() if FORWARDED_ENV.match(k)}
        ref = run_on_worker.options(runtime_env={"env_vars": env}).remote(job, self._relay)
        with self._lock:
            self._refs[outer] = ref
        outer.set_running_or_notify_cancel()
        threading.Thread(target=self._follow, args=(job.job_id, ref, outer, on_event),
                         name=f"ray-job-{job.job_id[:8]}", daemon=True).start()
        return outer

    def _follow(self, job_id: str, ref, outer: Future, on_event: Callable[[Event], None]) -> None:
        node = ""

        def drain() -> None:
            nonlocal node
            try:
                items = ray.get(self._relay.take.remote(job_id), timeout=30)
            except Exception:  # the relay is restarting: the next poll takes them
                return
            for item in items:
                if isinstance(item, tuple) and item and item[0] == "placed":
                    node = item[1]
                else:
                    on_event(item)

        cancel_at = None
        try:
            while True:
                ready, _ = ray.wait([ref], timeout=POLL_S)
                drain()
                if ready:
                    break
                if outer in self._cancelled:
                    cancel_at = cancel_at or time.monotonic()
                    if time.monotonic() - cancel_at > CANCEL_GRACE_S:
                        ray.cancel(ref, force=True)
            try:
                result = ray.get(ref)
            finally:
                drain()
            outer.set_result(result)
        except ray_errors.TaskCancelledError:
            outer.set_exception(JobCancelled(node))
        except _LOST as exc:
            if outer in self._cancelled:
                outer.set_exception(JobCancelled(node))
                return
            outer.set_exception(WorkerLost(node, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"))
        except ray_errors.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            if isinstance(cause, KeyboardInterrupt) or outer in self._cancelled:
                outer.set_exception(JobCancelled(node))
            else:
                outer.set_exception(cause)
        except BaseException as exc:  # noqa: BLE001 - the head must never hang on a job
            outer.set_exception(exc)
        finally:
            with self._lock:
                self._refs.pop(outer, None)
                self._cancelled.discard(outer)

    def cancel(self, future: Future) -> None:
        with self._lock:
            ref = self._refs.get(future)
            if ref is None:
                return
            self._cancelled.add(future)
        ray.cancel(ref, force=False)

    def shutdown(self, cancel_pending: bool = False) -> None:
        with self._lock:
            running = list(self._refs)
        if cancel_pending:
            for future in running:
                self.cancel(future)
        for future in running:
            try:
                future.exception()
            except Exception:
                pass
