"""`micro-agent autopilot serve`: the webhook, pause/resume, the HTTP API, and a kill -9 in the middle of a job."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request

from autopilot_support import (BIN_MICRO_AGENT, REPO, env_for, forge, git, make_project, micro_agent,  # noqa: F401
                               slow_artisan)

SECRET = "hook-secret"


def http(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body if body is not None else (b"" if method == "POST" else None),
                                     method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


class Serve:
    """`micro-agent autopilot serve --port 0` as a real process; `url` once it listens."""

    def __init__(self, root, env):
        self.process = subprocess.Popen([BIN_MICRO_AGENT, "autopilot", "serve", "--port", "0"], cwd=root, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr: list[str] = []
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()
        line = self.process.stdout.readline()
        assert "serving on" in line, (line, self.stderr)
        self.url = line.split("serving on", 1)[1].strip()

    def jobs(self) -> list[dict]:
        return http(self.url + "/api/jobs")[1]["jobs"]

    def wait_for(self, check, timeout: float = 180) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.jobs()
            if check(jobs):
                return jobs
            time.sleep(0.5)
        raise AssertionError(f"timed out; jobs: {self.jobs()}; stderr: {''.join(self.stderr)[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(60)


def hook(url: str, event: str, payload: dict, secret: str | None = SECRET) -> tuple[int, dict]:
    body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "Content-Type": "application/json"}
    if secret:
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return http(url + "/hooks/github", "POST", body, headers)


def with_webhook_secret(root) -> None:
    config = json.loads((root / "micro-agent.yml").read_text())
    config["autopilot"]["forge"]["webhookSecretEnv"] = "TEST_HOOK_SECRET"
    config["autopilot"]["schedule"] = "1h"
    (root / "micro-agent.yml").write_text(json.dumps(config))


def failed_run(branch: str) -> dict:
    return {"action": "completed", "workflow_run": {"head_branch": branch, "conclusion": "failure"}}


def test_paused_service_starts_nothing_until_resumed_then_a_webhook_pass_proposes(tmp_path, forge, slow_artisan,
                                                                                  cli_env):
    artisan, _state = slow_artisan
    root, _remote = make_project(tmp_path, artisan, forge.url)
    with_webhook_secret(root)
    env = {**env_for(cli_env), "TEST_HOOK_SECRET": SECRET}
    paused = micro_agent(["autopilot", "pause", "--json"], root, env)
    assert paused.returncode == 0 and json.loads(paused.stdout)["paused"] is True, paused.stderr
    serve = Serve(root, env)
    try:
        assert hook(serve.url, "workflow_run", failed_run("main"), secret="wrong")[0] == 401
        assert hook(serve.url, "workflow_run", failed_run("main"), secret=None)[0] == 401
        code, answer = hook(serve.url, "workflow_run", failed_run("feature"))
        assert code == 202 and answer["pass"] is False and "not on the base branch" in answer["reason"]
        code, answer = hook(serve.url, "workflow_run", failed_run("main"))
        assert code == 202 and answer == {"pass": True, "started": False, "reason": "workflow_run failed on main"}
        time.sleep(2)
        assert serve.jobs() == [] and forge.calls("POST") == []  # paused: nothing started

        status = micro_agent(["autopilot", "status", "--json"], root, env)
        assert json.loads(status.stdout)["paused"] is True and json.loads(status.stdout)["service"] == serve.url
        resumed = micro_agent(["autopilot", "resume"], root, env)
        assert resumed.returncode == 0, resumed.stderr

        jobs = serve.wait_for(lambda jobs: len(jobs) == 2 and all(j["state"] == "proposed" for j in jobs))
        assert sorted(j["target"] for j in jobs) == ["src/calc.py", "src/stats.py"]
        assert len(forge.calls("POST", f"/repos/{REPO}/pulls")) == 2
        code, one = http(f"{serve.url}/api/jobs/{jobs[0]['job_id'][:8]}")
        assert code == 200 and one["proposal"]["state"] == "open" and one["proposal"]["pr_url"] == jobs[0]["pr_url"]
        assert http(f"{serve.url}/api/jobs/nope")[0] == 404

        # a failed check suite on main starts another pass, which finds the fixes already proposed
        code, answer = hook(serve.url, "check_suite", {"action": "completed",
                                                       "check_suite": {"head_branch": "main", "conclusion": "failure"}})
        assert code == 202 and answer["pass"] is True
        time.sleep(8)
        assert len(serve.jobs()) == 2 and len(forge.calls("POST", f"/repos/{REPO}/pulls")) == 2
    finally:
        serve.stop()
    assert serve.process.returncode == 0, "".join(serve.stderr)


def test_kill_9_mid_job_and_restart_resumes_without_a_second_pull_request(tmp_path, forge, slow_artisan, cli_env):
    artisan, state = slow_artisan
    root, _remote = make_project(tmp_path, artisan, forge.url)
    env = env_for(cli_env)
    state["delay"] = 120.0  # the model hangs: the jobs are mid-run when the service dies
    serve = Serve(root, env)
    serve.wait_for(lambda jobs: len(jobs) == 2 and all(j["state"] == "running" for j in jobs))
    os.kill(serve.process.pid, signal.SIGKILL)
    serve.process.wait(10)
    state["delay"] = 0.0

    again = Serve(root, env)
    try:
        jobs = again.wait_for(lambda jobs: len(jobs) == 2 and all(j["state"] == "proposed" for j in jobs))
        assert all(j["tries"] == 2 for j in jobs), jobs
        pulls = forge.calls("POST", f"/repos/{REPO}/pulls")
        assert len(pulls) == 2 and len({p["body"]["head"] for p in pulls}) == 2
        # a new pass (POST /api/run) finds both already proposed
        assert http(again.url + "/api/run", "POST")[0] == 202
        time.sleep(8)
        assert len(again.jobs()) == 2 and len(forge.calls("POST", f"/repos/{REPO}/pulls")) == 2
    finally:
        again.stop()
    assert git(root, "worktree", "list").count("\n") == 1  # the killed service's worktrees were pruned


def test_a_new_commit_on_the_base_starts_a_pass_and_a_closed_pull_request_gets_a_new_fix(tmp_path, forge,
                                                                                        slow_artisan, cli_env):
    artisan, _state = slow_artisan
    root, remote = make_project(tmp_path, artisan, forge.url)
    env = {**env_for(cli_env), "MICRO_AGENT_AUTOPILOT_POLL_S": "1"}
    clone = tmp_path / "colleague"
    subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True)

    def push_commit(text: str) -> str:
        (clone / "README.md").write_text(text)
        git(clone, "commit", "-qam", text)
        git(clone, "push", "-q", "origin", "HEAD:main")
        return git(clone, "rev-parse", "HEAD").strip()

    def passes_at(sha: str) -> list[tuple]:
        with sqlite3.connect(root / ".micro-agent" / "audit.db") as conn:
            return conn.execute("SELECT trigger, outcome FROM autopilot_passes WHERE base_commit = ?", [sha]).fetchall()

    serve = Serve(root, env)
    try:
        serve.wait_for(lambda jobs: len(jobs) == 2 and all(j["state"] == "proposed" for j in jobs))
        first = push_commit("# calc\n\nmore docs\n")
        deadline = time.monotonic() + 60
        while not passes_at(first) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert passes_at(first) and passes_at(first)[0][0] == "commit"
        time.sleep(5)
        assert len(serve.jobs()) == 2 and len(forge.calls("POST", f"/repos/{REPO}/pulls")) == 2  # still open

        with forge.lock:  # someone closes the calc fix on the forge without merging it
            next(p for p in forge.pulls if "src-calc-py" in p["head"]["ref"])["state"] = "closed"
        push_commit("# calc\n\neven more docs\n")
        jobs = serve.wait_for(lambda jobs: len(jobs) == 3 and all(j["state"] == "proposed" for j in jobs))
        assert sorted(j["target"] for j in jobs) == ["src/calc.py", "src/calc.py", "src/stats.py"]
        assert len(forge.calls("POST", f"/repos/{REPO}/pulls")) == 3
    finally:
        serve.stop()


def test_pause_stops_the_runs_in_flight_and_resume_runs_their_jobs_again(tmp_path, forge, slow_artisan, cli_env):
    artisan, state = slow_artisan
    root, _remote = make_project(tmp_path, artisan, forge.url)
    env = env_for(cli_env)
    state["delay"] = 120.0  # the model hangs: both jobs are mid-run when the pause comes
    serve = Serve(root, env)
    try:
        serve.wait_for(lambda jobs: len(jobs) == 2 and all(j["state"] == "running" for j in jobs))
        assert http(serve.url + "/api/pause", "POST")[0] == 200
        started = time.monotonic()
        jobs = serve.wait_for(lambda jobs: all(j["state"] == "queued" for j in jobs), timeout=60)
        assert time.monotonic() - started < 45 and "pause" in jobs[0]["message"]
        assert forge.calls("POST") == []  # a paused service finishes nothing
        state["delay"] = 0.0
        assert http(serve.url + "/api/resume", "POST")[0] == 200
        jobs = serve.wait_for(lambda jobs: len(jobs) == 2 and all(j["state"] == "proposed" for j in jobs))
        assert len(forge.calls("POST", f"/repos/{REPO}/pulls")) == 2
    finally:
        serve.stop()
