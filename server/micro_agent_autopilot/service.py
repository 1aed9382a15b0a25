"""`micro-agent autopilot serve`: passes on a schedule, on new commits and on CI webhooks, with a small HTTP API.

aiohttp serves the API (it is installed with litellm already: no new dependency, an asyncio server with
routing and raw request bodies for webhook signatures). Passes and jobs run on threads, never on the
event loop. The queue is the `autopilot_jobs` table: at start, jobs a crash left running are recovered
(retried once, or recorded as interrupted) and every queued job runs; a job whose delivery was cut short
finishes that delivery, and the forge's duplicate check makes sure one job never opens two pull requests.

    GET  / (status page) · GET /metrics (Prometheus) · GET /api/health · GET /api/status · GET /api/jobs
    GET  /api/jobs/{id} · POST /api/pause · POST /api/resume · POST /api/run
    POST /hooks/github (CI failures start a pass; closed pull requests are recorded) · POST /hooks/alertmanager
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from aiohttp import web

from micro_agent import autopilot_db as db
from micro_agent.controls import Controls

from . import alerts, gitops, metrics, page
from .forge import ForgeError
from .passes import GateClosed, detect, execute_job
from .settings import Settings

COMMIT_POLL_S = float(os.environ.get("MICRO_AGENT_AUTOPILOT_POLL_S", "30"))  # how often the base head is checked
OUTCOME_POLL_S = float(os.environ.get("MICRO_AGENT_AUTOPILOT_OUTCOME_POLL_S", "300"))  # open PRs' state
FAILED = frozenset({"failure", "timed_out", "startup_failure"})


class Service:
    def __init__(self, settings: Settings):
        self.settings = settings
        conn = db.connect(settings.db_path)
        try:
            self._resumed = threading.Event()
            if db.get_state(conn, "paused") != "1":
                self._resumed.set()
        finally:
            conn.close()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(settings.autopilot.policy.max_concurrent_runs, thread_name_prefix="autopilot-job")
        self._pass_lock = threading.Lock()
        self._pass_wanted: str | None = None  # a trigger that came while paused or during a pass
        self._running: dict[str, Controls] = {}
        self._alerting: set[str] = set()  # fingerprints of alerts whose pass (and its jobs) is not done yet
        self._lock = threading.Lock()
        self.last_base: str | None = None
        self.metrics = metrics.registry(self._conn, lambda: self.paused,
                                        settings.autopilot.policy.max_daily_cost_usd)

    # ------------------------------------------------------------------ state
    def _conn(self):
        return db.connect(self.settings.db_path)

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def pause(self) -> None:
        """Start nothing and finish nothing: the runs in flight stop now (Ray tasks are cancelled) and their
        jobs go back to the queue, for `resume` to run again."""
        self._set_paused(True)
        with self._lock:
            running = list(self._running.values())
        for controls in running:
            controls.cancel()

    def resume(self) -> None:
        self._set_paused(False)
        conn = self._conn()
        try:
            queued = db.queued_jobs(conn)  # what a pause stopped (claimed once: never run twice)
        finally:
            conn.close()
        with self._lock:
            again = [job for job in queued if job["job_id"] not in self._running]
        for job in again:
            self._submit(job)
        wanted, self._pass_wanted = self._pass_wanted, None
        if wanted:
            self.trigger(wanted)

    def _set_paused(self, paused: bool) -> None:
        conn = self._conn()
        try:
            db.set_state(conn, "paused", "1" if paused else "0")
        finally:
            conn.close()
        (self._resumed.clear if paused else self._resumed.set)()

    def gate(self) -> None:
        """Blocks a job while the service is paused; raises GateClosed at shutdown."""
        while not self._resumed.wait(0.5):
            if self._stopping.is_set():
                raise GateClosed()
        if self._stopping.is_set():
            raise GateClosed()

    # ------------------------------------------------------------------ work
    def start(self) -> None:
        conn = self._conn()
        try:
            db.recover_jobs(conn)
            queued = db.queued_jobs(conn)
        finally:
            conn.close()
        for job in queued:
            self._submit(job)
        self.trigger("start")

    def trigger(self, reason: str) -> bool:
        """Start a pass on a thread; False (and remembered) when paused or when a pass is running."""
        if self.paused or self._stopping.is_set():
            self._pass_wanted = reason
            return False
        if not self._pass_lock.acquire(blocking=False):
            self._pass_wanted = reason
            return False
        threading.Thread(target=self._pass, args=(reason,), name="autopilot-pass", daemon=True).start()
        return True

    def _pass(self, reason: str) -> None:
        try:
            conn = self._conn()
            try:
                report, jobs = detect(self.settings, conn, reason)
                self.last_base = report.base_commit or self.last_base
                if report.pass_id:
                    db.finish_pass(conn, report.pass_id, "error" if report.outcome == "error" else "queued",
                                   report.message or f"{len(jobs)} job(s) queued")
            finally:
                conn.close()
            for job in jobs:
                self._submit(job)
        except Exception as exc:  # noqa: BLE001  (a pass problem is logged; the service goes on)
            _log(f"pass ({reason}) failed: {type(exc).__name__}: {exc}")
        finally:
            self._pass_lock.release()
        wanted, self._pass_wanted = self._pass_wanted, None
        if wanted and not self.paused:
            self.trigger(wanted)

    def _submit(self, job: dict) -> Future:
        controls = Controls()
        with self._lock:
            self._running[job["job_id"]] = controls
        return self._pool.submit(self._job, job, controls)

    # ------------------------------------------------------------------ alerts
    def on_alerts(self, payload: alerts.Payload) -> list[dict]:
        """Record every alert of one Alertmanager delivery; start a pass for each firing one with tests."""
        answers = []
        conn = self._conn()
        try:
            for alert in payload.alerts:
                decision = alerts.decide(alert, self.settings.root)
                action, reason = decision.action, decision.reason
                if action == "start":
                    action, reason = self._start_alert_pass(decision.fingerprint, decision.tests)
                db.add_alert(conn, decision.fingerprint, decision.alertname, decision.status, action,
                             decision.tests, reason, decision.labels)
                answers.append({"fingerprint": decision.fingerprint, "alertname": decision.alertname,
                                "action": action, "tests": decision.tests, "reason": reason})
        finally:
            conn.close()
        return answers

    def _start_alert_pass(self, fingerprint: str, tests: list[str]) -> tuple[str, str]:
        if self._stopping.is_set():
            return "ignored", "the service is shutting down"
        if self.paused:
            return "ignored", ("the autopilot is paused; Alertmanager sends the alert again (repeat_interval) "
                               "while it fires")
        with self._lock:
            if fingerprint in self._alerting:
                return "duplicate", "a pass for this alert is still running"
            self._alerting.add(fingerprint)
        threading.Thread(target=self._alert_pass, args=(fingerprint, tests), name="autopilot-alert",
                         daemon=True).start()
        return "started", "a pass on " + " ".join(tests)

    def _alert_pass(self, fingerprint: str, tests: list[str]) -> None:
        """One pass on the alert's tests (after any pass running now), then its jobs to their end."""
        try:
            while not self._pass_lock.acquire(timeout=0.5):
                if self._stopping.is_set():
                    return
            try:
                conn = self._conn()
                try:
                    report, jobs = detect(self.settings, conn, "alert", selection=tests)
                    if report.pass_id:
                        db.finish_pass(conn, report.pass_id, "error" if report.outcome == "error" else "queued",
                                       report.message or f"{len(jobs)} job(s) queued")
                finally:
                    conn.close()
            finally:
                self._pass_lock.release()
            wanted, self._pass_wanted = self._pass_wanted, None
            if wanted and not self.paused:
                self.trigger(wanted)
            wait([self._submit(job) for job in jobs])
        except Exception as exc:  # noqa: BLE001  (logged; the service goes on)
            _log(f"pass for alert {fingerprint[:16]} failed: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._alerting.discard(fingerprint)

    # ------------------------------------------------------------------ what became of the fixes
    def pr_closed(self, number: int | None, branch: str | None, merged: bool, source: str) -> tuple[bool, str]:
        """Record that a pull request the autopilot opened was merged or closed unmerged."""
        conn = self._conn()
        try:
            proposal = db.proposal_for_pr(conn, number, branch)
            if proposal is None:
                return False, f"ignored: pull request {number} ({branch}) was not opened by the autopilot"
            if proposal["closed_at"]:
                return False, f"already recorded: pull request {number} was {proposal['reason']}"
            db.record_pr_closed(conn, proposal["id"], merged, source)
            return True, f"run {proposal['run_id'][:8]}: pull request {number} {'merged' if merged else 'closed'}"
        finally:
            conn.close()

    def poll_outcomes(self) -> int:
        """Ask the forge about each open pull request (the fallback without a webhook); returns how many closed."""
        forge = self.settings.forge
        if forge is None:
            return 0
        conn = self._conn()
        try:
            open_ones = [p for p in db.list_proposals(conn, limit=200) if p["state"] == "open" and p["pr_number"]]
        finally:
            conn.close()
        closed = 0
        for proposal in open_ones:
            try:
                state, merged = forge.pull_state(int(proposal["pr_number"]))
            except ForgeError as exc:
                _log(f"cannot read pull request {proposal['pr_number']}: {exc}")
                return closed
            if state == "closed":
                closed += self.pr_closed(proposal["pr_number"], proposal["branch"], merged, "poll")[0]
        return closed

    def _job(self, job: dict, controls: Controls) -> None:
        try:
            result = execute_job(self.settings, job, self.gate, controls)
            if result is not None:
                _log(f"job {job['job_id'][:8]} {job['target']}: {result.outcome} {result.pr_url or result.branch or ''}")
        except GateClosed:
            pass  # still queued: the next start runs it
        finally:
            with self._lock:
                self._running.pop(job["job_id"], None)

    def base_moved(self) -> bool:
        """Whether the base branch's head is not the one the last pass saw (a new commit)."""
        cfg = self.settings.autopilot
        try:
            sha, _ref, _warnings = gitops.resolve_base(self.settings.root, cfg.base, cfg.remote)
        except gitops.GitError:
            return False
        moved = self.last_base is not None and sha != self.last_base
        self.last_base = self.last_base or sha
        return moved

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            running = list(self._running.values())
        for controls in running:
            controls.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def status(self) -> dict:
        conn = self._conn()
        try:
            return {"paused": self.paused, "pass_running": self._pass_lock.locked(),
                    "jobs": db.list_jobs(conn, limit=50)}
        finally:
            conn.close()


# ---------------------------------------------------------------- webhooks


def verify_signature(secret: str | None, body: bytes, header: str | None) -> bool:
    """GitHub's `X-Hub-Signature-256: sha256=<hex HMAC of the body>`; always true without a secret."""
    if not secret:
        return True
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return bool(header) and hmac.compare_digest(expected, header or "")


def wants_pass(event: str, payload: dict, base: str) -> tuple[bool, str]:
    """(start a pass?, why) for one GitHub webhook delivery."""
    if event == "ping":
        return False, "pong"
    if event == "workflow_run":
        run = payload.get("workflow_run") or {}
        branch, conclusion = run.get("head_branch"), run.get("conclusion")
    elif event == "check_suite":
        suite = payload.get("check_suite") or {}
        branch, conclusion = suite.get("head_branch"), suite.get("conclusion")
    else:
        return False, f"ignored: the {event!r} event does not start a pass"
    if payload.get("action") != "completed" or conclusion not in FAILED:
        return False, f"ignored: {event} {payload.get('action')} with conclusion {conclusion}"
    if branch != base:
        return False, f"ignored: {event} failed on {branch!r}, not on the base branch {base!r}"
    return True, f"{event} failed on {base}"


# ---------------------------------------------------------------- HTTP


def build_app(service: Service, secret: str | None) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/api/health")
    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    @routes.get("/api/status")
    async def status(_request: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(service.status))

    @routes.get("/api/jobs")
    async def jobs(_request: web.Request) -> web.Response:
        return web.json_response({"jobs": (await asyncio.to_thread(service.status))["jobs"]})

    @routes.get("/api/jobs/{job_id}")
    async def job(request: web.Request) -> web.Response:
        def read() -> dict | None:
            conn = service._conn()
            try:
                found = db.get_job(conn, request.match_info["job_id"])
                if found is not None:
                    found["proposal"] = db.proposal_for_job(conn, found["job_id"])
                return found
            finally:
                conn.close()

        found = await asyncio.to_thread(read)
        if found is None:
            return web.json_response({"error": f"no job {request.match_info['job_id']!r}"}, status=404)
        return web.json_response(found)

    @routes.post("/api/pause")
    async def pause(_request: web.Request) -> web.Response:
        await asyncio.to_thread(service.pause)
        return web.json_response({"paused": True})

    @routes.post("/api/resume")
    async def resume(_request: web.Request) -> web.Response:
        await asyncio.to_thread(service.resume)
        return web.json_response({"paused": False})

    @routes.post("/api/run")
    async def run(_request: web.Request) -> web.Response:
        started = service.trigger("api")
        return web.json_response({"started": started, "paused": service.paused}, status=202)

    @routes.get("/")
    async def status_page(_request: web.Request) -> web.Response:
        def render() -> str:
            conn = service._conn()
            try:
                return page.render(conn, paused=service.paused, base=service.settings.autopilot.base,
                                   root=str(service.settings.root))
            finally:
                conn.close()

        return web.Response(text=await asyncio.to_thread(render), content_type="text/html")

    @routes.get("/static/{name}")
    async def static(request: web.Request) -> web.Response:
        found = page.static_file(request.match_info["name"])
        if found is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.FileResponse(found, headers={"Cache-Control": "max-age=86400"})

    @routes.get("/metrics")
    async def prometheus(_request: web.Request) -> web.Response:
        body = await asyncio.to_thread(metrics.exposition, service.metrics)
        return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})

    @routes.post("/hooks/alertmanager")
    async def alertmanager(request: web.Request) -> web.Response:
        try:
            payload = alerts.read_payload(json.loads(await request.read() or b"{}"))
        except ValueError as exc:  # bad JSON, or not an Alertmanager v4 payload
            why = str(exc) if isinstance(exc, alerts.PayloadProblem) else "the body is not JSON"
            return web.json_response({"error": f"{why}; point an Alertmanager webhook_configs url here"},
                                     status=400)
        answers = await asyncio.to_thread(service.on_alerts, payload)
        return web.json_response({"alerts": answers}, status=202)

    @routes.post("/hooks/github")
    async def github(request: web.Request) -> web.Response:
        body = await request.read()
        if not verify_signature(secret, body, request.headers.get("X-Hub-Signature-256")):
            return web.json_response({"error": "bad signature: check the webhook secret"}, status=401)
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return web.json_response({"error": "the body is not JSON: set the webhook's content type to "
                                               "application/json"}, status=400)
        event = request.headers.get("X-GitHub-Event", "")
        if event == "pull_request":
            pull = payload.get("pull_request") or {}
            if payload.get("action") != "closed":
                return web.json_response({"recorded": False, "reason": f"ignored: pull_request "
                                                                       f"{payload.get('action')}"}, status=202)
            recorded, why = await asyncio.to_thread(service.pr_closed, pull.get("number"),
                                                    (pull.get("head") or {}).get("ref"), bool(pull.get("merged")),
                                                    "webhook")
            return web.json_response({"recorded": recorded, "reason": why}, status=202)
        wanted, why = wants_pass(event, payload, service.settings.autopilot.base)
        started = service.trigger("webhook") if wanted else False
        return web.json_response({"pass": wanted, "started": started, "reason": why}, status=202)

    app = web.Application()
    app.add_routes(routes)

    async def background(app: web.Application):
        async def schedule() -> None:
            every = service.settings.autopilot.schedule_seconds
            waited = 0.0
            step = min(COMMIT_POLL_S, every)
            while True:
                await asyncio.sleep(step)
                waited += step
                if waited >= every:
                    waited = 0.0
                    service.trigger("schedule")
                elif await asyncio.to_thread(service.base_moved):
                    service.trigger("commit")

        async def outcomes() -> None:  # the fallback for a forge without a pull_request webhook
            while True:
                await asyncio.sleep(OUTCOME_POLL_S)
                await asyncio.to_thread(service.poll_outcomes)

        task = asyncio.create_task(schedule())
        polling = asyncio.create_task(outcomes())
        await asyncio.to_thread(service.start)
        yield
        task.cancel()
        polling.cancel()
        await asyncio.to_thread(service.stop)

    app.cleanup_ctx.append(background)
    return app


def _log(message: str) -> None:
    sys.stderr.write(f"micro-agent autopilot: {message}\n")
    sys.stderr.flush()


def serve(settings: Settings, host: str, port: int) -> int:
    forge = settings.autopilot.forge
    secret = None
    if forge is not None and forge.webhook_secret_env:
        secret = settings.env.get(forge.webhook_secret_env, "").strip()
        if not secret:
            _log(f"the webhook secret variable {forge.webhook_secret_env} (forge.webhookSecretEnv) is not set; "
                 "export it or remove webhookSecretEnv")
            return 2
    service = Service(settings)
    app = build_app(service, secret)

    async def main() -> None:
        runner = web.AppRunner(app, handle_signals=True)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][:2] if runner.addresses else (host, port)
        url = f"http://{bound[0]}:{bound[1]}"
        conn = service._conn()
        db.set_state(conn, "service_url", url)
        conn.close()
        print(f"micro-agent autopilot serving on {url}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            conn = service._conn()
            db.set_state(conn, "service_url", "")
            conn.close()
            await runner.cleanup()

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, web.GracefulExit):
        pass
    return 0
