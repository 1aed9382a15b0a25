"""Fix jobs on a real Ray cluster: `ray start --head` plus one more node process on this machine, in a temp dir.

The autopilot (the real CLI) sends its jobs there with RAY_ADDRESS; the scripted HTTP model server answers.
Skipped when Ray is not installed here (`pip install -e '.[ray]'`), but a failure in CI (`CI` set).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "autopilot"))
from autopilot_support import BIN_MICRO_AGENT, git  # noqa: E402
from conftest import THREE_BUGS as BUGS, bug_files, fenced, fix_what_is_shown, make_repo, micro_agent  # noqa: E402

try:
    import ray  # noqa: F401
    from ray.util.state import list_tasks
except ImportError:
    if os.environ.get("CI"):
        raise
    pytest.skip("Ray is not installed here: `.venv/bin/pip install -e '.[ray]'` to run these tests",
                allow_module_level=True)

RAY_BIN = str(Path(sys.executable).parent / "ray")
# A cluster of the test's own: no token (a ~/.ray/auth_token left by another Ray would switch auth on), no stats.
NO_AUTH = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ours(marker: str) -> list[int]:
    """The processes this fixture's `ray start` made: those that inherited its marker variable, and their
    children (Ray's agents and workers rename themselves, which overwrites what /proc shows of their env)."""
    marked, parent = set(), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if f"MICRO_AGENT_TEST_RAY={marker}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                marked.add(int(entry.name))
        except (OSError, ValueError, IndexError):
            pass
    ours, grew = set(marked), True
    while grew:
        children = {pid for pid, ppid in parent.items() if ppid in ours} - ours
        ours |= children
        grew = bool(children)
    return sorted(ours)


@pytest.fixture(scope="module")
def ray_cluster():
    """(GCS address, dashboard URL): a head node and one worker node, one CPU each, stopped afterwards."""
    marker = uuid.uuid4().hex
    temp = tempfile.mkdtemp(prefix="mar", dir="/tmp")  # short: Ray's socket paths have a length limit
    env = {**os.environ, "MICRO_AGENT_TEST_RAY": marker, **NO_AUTH}
    port, dashboard = _free_port(), _free_port()
    common = ["--num-cpus", "1", "--node-ip-address", "127.0.0.1", "--disable-usage-stats", "--temp-dir", temp]
    def ray_start(*args: str) -> None:
        done = subprocess.run([RAY_BIN, "start", *args, *common], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"`ray start {' '.join(args)}` failed:\n{done.stdout}\n{done.stderr}"

    try:
        ray_start("--head", "--port", str(port), "--include-dashboard", "true", "--dashboard-port", str(dashboard),
                  "--ray-client-server-port", str(_free_port()), "--dashboard-agent-listen-port", str(_free_port()))
        ray_start("--address", f"127.0.0.1:{port}", "--dashboard-agent-listen-port", str(_free_port()))
        saved = {k: os.environ.get(k) for k in NO_AUTH}
        os.environ.update(NO_AUTH)  # for the state API calls made from this process
        yield f"127.0.0.1:{port}", f"http://127.0.0.1:{dashboard}"
        os.environ.update({k: v for k, v in saved.items() if v is not None})
        for k in (k for k, v in saved.items() if v is None):
            os.environ.pop(k, None)
    finally:
        pids = _ours(marker)  # taken before any is killed: an orphan's parent is no longer ours
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            time.sleep(2)
        subprocess.run(["rm", "-rf", temp], check=False)


def _project(tmp_path: Path, artisan: str, targets: dict, **policy) -> Path:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    root = tmp_path / "proj"
    files = bug_files(targets)
    config = {"models": {"artisan": artisan}, "budget": {"maxIterations": 3},
              "autopilot": {"suite": f"{sys.executable} -m pytest -q tests", "remote": "origin", "base": "main",
                            "policy": {"allowedPaths": ["src/**"], "maxConcurrentRuns": 3, **policy}}}
    files["micro-agent.yml"] = json.dumps(config)
    make_repo(root, files)
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    return root


def _attempts(db: Path) -> dict[str, tuple[str, int]]:
    """run_id -> (outcome, iterations kept)."""
    with sqlite3.connect(db) as conn:
        return {run: (outcome, n) for run, outcome, n in conn.execute(
            "SELECT r.run_id, r.outcome, (SELECT COUNT(*) FROM tier_attempts a WHERE a.run_id = r.run_id) "
            "FROM runs r")}


def _ray_tasks(address: str) -> list:
    return list_tasks(address=address, filters=[("func_or_class_name", "=", "run_on_worker")], detail=True,
                      raise_on_missing_output=False)


def test_a_pass_runs_three_jobs_on_ray_and_proposes_three_fixes(tmp_path, ray_cluster, model_server, cli_env):
    address, dashboard = ray_cluster
    artisan = f"fixer-{uuid.uuid4().hex[:8]}"
    model_server.script(artisan, [fix_what_is_shown])
    root = _project(tmp_path, f"openai/{artisan}", BUGS)
    env = {**cli_env, "RAY_ADDRESS": address, **NO_AUTH}

    done = micro_agent(["autopilot", "once", "--json"], root, env, timeout=400)

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    jobs = {j["target"]: j for j in report["jobs"]}
    assert sorted(jobs) == sorted(BUGS) and {j["outcome"] for j in jobs.values()} == {"proposed"}, report
    nodes = {n["NodeID"] for n in _nodes(address)}
    assert all(j["executor"] == "ray" and j["node"] in nodes for j in jobs.values()), jobs
    for target, (_buggy, fixed, _test) in BUGS.items():
        assert git(tmp_path / "remote.git", "show", f"{jobs[target]['branch']}:{target}") == fixed
    # the head wrote every iteration the workers ran, and the workers' candidate commits are in the repo
    attempts = _attempts(root / ".micro-agent" / "audit.db")
    assert all(attempts[j["run_id"]] == ("success", 1) for j in jobs.values()), attempts
    for job in jobs.values():
        assert git(root, "rev-parse", "--verify", f"refs/micro-agent/{job['run_id']}").strip()
    # Ray's state API saw the three tasks, finished, on the nodes the report names
    tasks = [t for t in _ray_tasks(dashboard) if t.state == "FINISHED"]
    assert len(tasks) >= 3 and {j["node"] for j in jobs.values()} <= {t.node_id for t in tasks}
    # `autopilot status --json` says where each job ran
    status = micro_agent(["autopilot", "status", "--json"], root, env)
    assert status.returncode == 0, status.stderr
    rows = {j["target"]: j for j in json.loads(status.stdout)["jobs"]}
    assert all(rows[t]["executor"] == "ray" and rows[t]["node"] == jobs[t]["node"] for t in BUGS)


def _nodes(address: str) -> list[dict]:
    out = subprocess.run([sys.executable, "-c", "import json, ray; ray.init(address=%r, log_to_driver=False); "
                          "print(json.dumps(ray.nodes()))" % address], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_worker_killed_mid_job_is_retried_and_its_finished_iteration_is_kept(
        tmp_path, ray_cluster, model_server, cli_env):
    address, dashboard = ray_cluster
    artisan = f"fixer-{uuid.uuid4().hex[:8]}"
    buggy, fixed, _test = BUGS["src/calc.py"]
    # iteration 1 fails fast; iteration 2 hangs in the model call (the worker dies there); the retry fixes it
    model_server.script(artisan, [fenced("def add(a, b):\n    return a * b\n"),
                                  {"content": fenced(fixed), "delay": 90}, fenced(fixed)])
    root = _project(tmp_path, f"openai/{artisan}", {"src/calc.py": BUGS["src/calc.py"]})
    env = {**cli_env, "RAY_ADDRESS": address, **NO_AUTH}
    db = root / ".micro-agent" / "audit.db"
    head = subprocess.Popen([BIN_MICRO_AGENT, "autopilot", "once", "--json"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # one iteration written by the head, the second one under way
            if db.exists() and any(n >= 1 for _o, n in _attempts_safe(db).values()) \
                    and len(model_server.calls(artisan)) >= 2:
                break
            assert head.poll() is None, head.communicate()
            time.sleep(0.5)
        running = [t for t in _ray_tasks(dashboard) if t.state == "RUNNING"]
        assert len(running) == 1, running
        os.kill(running[0].worker_pid, signal.SIGKILL)
        out, err = head.communicate(timeout=300)
    finally:
        if head.poll() is None:
            head.kill()
    assert head.returncode == 0, out + err
    job = json.loads(out)["jobs"][0]
    assert job["outcome"] == "proposed" and job["executor"] == "ray", job
    attempts = _attempts(db)
    lost = [run for run, (outcome, n) in attempts.items() if run != job["run_id"]]
    assert len(lost) == 1 and attempts[lost[0]] == ("interrupted", 1), attempts  # its finished iteration kept
    assert attempts[job["run_id"]][0] == "success"
    assert git(tmp_path / "remote.git", "show", f"{job['branch']}:src/calc.py") == fixed


def _attempts_safe(db: Path) -> dict:
    try:
        return _attempts(db)
    except sqlite3.Error:  # the head has not made the tables yet
        return {}


def test_run_all_failing_on_ray_applies_the_three_fixes(tmp_path, ray_cluster, model_server, cli_env):
    address, _dashboard = ray_cluster
    artisan = f"fixer-{uuid.uuid4().hex[:8]}"
    model_server.script(artisan, [fix_what_is_shown])
    root = _project(tmp_path, f"openai/{artisan}", BUGS)
    done = micro_agent(["run", "--all-failing", "-t", f"{sys.executable} -m pytest -q tests", "--json",
                        "--ray-address", address, "--jobs", "3"], root, {**cli_env, **NO_AUTH}, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert sorted((t["target"], t["outcome"], t["applied"], t["executor"]) for t in report["targets"]) == [
        (target, "success", True, "ray") for target in sorted(BUGS)]
    for target, (_buggy, fixed, _test) in BUGS.items():
        assert (root / target).read_text() == fixed
    attempts = _attempts(root / ".micro-agent" / "audit.db")
    assert all(attempts[t["run_id"]] == ("success", 1) for t in report["targets"]), attempts
