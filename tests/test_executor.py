"""The executor seam without Ray: choosing the executor, the shared budget, and asking for Ray where it is missing."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "autopilot"))
from autopilot_support import artisan, make_project, micro_agent  # noqa: E402,F401

from micro_agent.executor import BudgetPool, ExecutorConfig, resolve

from conftest import THREE_BUGS as BUGS  # noqa: E402


def test_flags_win_over_ray_address_which_wins_over_the_config():
    ray_cfg = ExecutorConfig(kind="ray", address="ray://cfg:10001")
    env = {"RAY_ADDRESS": "ray://env:10001"}
    assert resolve(None) == ExecutorConfig(kind="local")
    assert resolve(ray_cfg) == ray_cfg
    assert resolve(None, env=env) == ExecutorConfig(kind="ray", address="ray://env:10001")
    assert resolve(ray_cfg, env=env).address == "ray://env:10001"
    assert resolve(ray_cfg, kind="local", env=env) == ExecutorConfig(kind="local")
    assert resolve(None, address="ray://flag:10001", env=env) == ExecutorConfig(kind="ray", address="ray://flag:10001")
    assert resolve(ray_cfg, kind="ray") == ray_cfg
    assert resolve(None, kind="ray") == ExecutorConfig(kind="ray", address=None)  # a local Ray


def test_shares_reserved_at_once_never_pass_the_cap_and_settling_frees_the_rest():
    pool = BudgetPool(cap_usd=1.0)
    shares: dict[str, object] = {}
    threads = [threading.Thread(target=lambda k=f"job{i}": shares.update({k: pool.reserve(k, per_job_usd=0.3)}))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    granted = sorted(s.cost_usd for s in shares.values() if s is not None)
    assert granted == pytest.approx([0.1, 0.3, 0.3, 0.3]) and list(shares.values()).count(None) == 4
    # a job that spent 0.05 of its 0.3 gives 0.25 back to the next job; then nothing is left
    done = next(k for k, s in shares.items() if s is not None and s.cost_usd == pytest.approx(0.3))
    pool.settle(done, 0.05)
    assert pool.reserve("late", per_job_usd=0.3).cost_usd == pytest.approx(0.25)
    assert pool.reserve("later", per_job_usd=0.3) is None
    assert pool.settled_usd == pytest.approx(0.05)


def test_spending_kept_elsewhere_and_the_time_cap_cut_the_share():
    now = [0.0]
    pool = BudgetPool(cap_usd=2.0, minutes=10, clock=lambda: now[0])
    share = pool.reserve("a", per_job_usd=1.0, per_job_minutes=30, spent_usd=1.5)
    assert share is not None and abs(share.cost_usd - 0.5) < 1e-9 and share.minutes == 10
    now[0] = 9 * 60
    assert abs(pool.reserve("b", None, spent_usd=0.0).minutes - 1) < 1e-9
    now[0] = 10 * 60
    assert pool.reserve("c", None, spent_usd=0.0) is None  # no time left: nothing starts


def test_asking_for_ray_where_it_is_not_installed_says_how_to_install_it(tmp_path, artisan, cli_env):
    root, _remote = make_project(tmp_path, artisan, None)
    hidden = tmp_path / "no-ray"
    (hidden / "ray").mkdir(parents=True)
    (hidden / "ray" / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    env = {**cli_env, "PYTHONPATH": str(hidden)}
    done = micro_agent(["autopilot", "once", "--executor", "ray"], root, env, timeout=240)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pip install 'micro-agent[ray]'" in done.stdout + done.stderr, done.stdout + done.stderr
    assert "--executor local" in done.stdout + done.stderr


def test_an_unknown_executor_kind_in_the_config_is_named(tmp_path, artisan, cli_env):
    root, _remote = make_project(tmp_path, artisan, None)
    config = (root / "micro-agent.yml").read_text().rstrip().rstrip("}") + ', "executor": {"kind": "spark"}}'
    (root / "micro-agent.yml").write_text(config)
    done = micro_agent(["autopilot", "once"], root, cli_env, timeout=120)
    assert done.returncode == 2 and "executor.kind" in done.stderr, done.stderr


def three_bugs(tmp_path: Path, model_server, **config) -> tuple[Path, str]:
    """A git project with three independent bugs, and the scripted model that fixes whichever file it is shown."""
    import json
    import uuid

    from conftest import bug_files, fix_what_is_shown, make_repo

    name = f"fixer-{uuid.uuid4().hex[:8]}"
    model_server.script(name, [fix_what_is_shown])
    root = tmp_path / "proj"
    files = bug_files(BUGS)
    files["micro-agent.yml"] = json.dumps({"models": {"artisan": f"openai/{name}"}, "budget": {"maxIterations": 3},
                                           **config})
    make_repo(root, files)
    return root, name


def test_run_over_three_targets_fixes_each_through_the_local_pool(tmp_path, model_server, cli_env):
    import json
    import sqlite3

    root, _name = three_bugs(tmp_path, model_server)
    (root / "src" / "text.py").write_text(BUGS["src/text.py"][0] + "# my uncommitted note\n")  # an overlay
    done = micro_agent(["run", *BUGS, "--json", "--jobs", "2"], root, cli_env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert [(t["target"], t["outcome"], t["applied"], t["executor"]) for t in report["targets"]] == [
        (target, "success", True, "local") for target in BUGS]
    for target, (_buggy, fixed, _test) in BUGS.items():
        text = (root / target).read_text()
        assert text.startswith(fixed.rstrip("\n")) or fixed in text, (target, text)
    with sqlite3.connect(root / ".micro-agent" / "audit.db") as conn:
        rows = dict(conn.execute("SELECT run_id, outcome FROM runs"))
    assert all(rows[t["run_id"]] == "success" for t in report["targets"]), rows


def test_all_failing_finds_the_targets_and_fixes_each_with_just_its_tests(tmp_path, model_server, cli_env):
    import json

    root, name = three_bugs(tmp_path, model_server, test=f"{sys.executable} -m pytest -q tests")
    done = micro_agent(["run", "--all-failing", "--json", "--jobs", "1", "--dry-run"], root, cli_env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(t["target"] for t in json.loads(done.stdout)["targets"]) == sorted(BUGS)
    assert all(not t["applied"] for t in json.loads(done.stdout)["targets"])
    assert (root / "src" / "calc.py").read_text() == BUGS["src/calc.py"][0]  # --dry-run: files untouched
