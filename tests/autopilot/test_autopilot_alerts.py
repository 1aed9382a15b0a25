"""`serve`'s /hooks/alertmanager, /metrics and pull-request outcomes (webhook and poll), against the real service."""

from __future__ import annotations

import json
import time

from autopilot_support import REPO, env_for, forge, make_project, micro_agent, slow_artisan  # noqa: F401
from prometheus_client.parser import text_string_to_metric_families
from test_autopilot_serve import Serve, http

from micro_agent import autopilot_db
from micro_agent_autopilot import metrics


def alertmanager(url: str, alerts: list[dict], version: str = "4") -> tuple[int, dict]:
    payload = {"version": version, "groupKey": "{}:{alertname=\"x\"}", "status": "firing", "receiver": "autopilot",
               "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
               "alerts": alerts}
    return http(url + "/hooks/alertmanager", "POST", json.dumps(payload).encode(),
                {"Content-Type": "application/json"})


def alert(fingerprint: str, status: str = "firing", labels: dict | None = None, annotations: dict | None = None):
    return {"status": status, "labels": {"alertname": "PricingBroken", **(labels or {})},
            "annotations": annotations or {}, "startsAt": "2026-01-01T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom/graph", "fingerprint": fingerprint}


def samples(url: str) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics: (name, sorted labels) → value."""
    with_type = http_text(url + "/metrics")
    found = {}
    for family in text_string_to_metric_families(with_type):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def http_text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=20) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return response.read().decode()


def wait_until(check, timeout: float = 120, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := check()):
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def watch_only_the_report_tests(root) -> None:
    """The watched suite is tests/test_report.py: the calc failure reaches the service only through an alert."""
    config = json.loads((root / "micro-agent.yml").read_text())
    config["autopilot"]["suite"] = config["autopilot"]["suite"] + "/test_report.py"
    config["autopilot"]["schedule"] = "1h"
    (root / "micro-agent.yml").write_text(json.dumps(config))


def test_alerts_start_passes_metrics_count_and_pull_request_outcomes_are_recorded(tmp_path, forge, slow_artisan,
                                                                                 cli_env):
    artisan, state = slow_artisan
    root, _remote = make_project(tmp_path, artisan, forge.url)
    watch_only_the_report_tests(root)
    env = {**env_for(cli_env), "MICRO_AGENT_AUTOPILOT_OUTCOME_POLL_S": "1"}
    serve = Serve(root, env)
    try:
        jobs = serve.wait_for(lambda jobs: len(jobs) == 1 and jobs[0]["state"] == "proposed")
        assert jobs[0]["target"] == "src/stats.py"
        before = samples(serve.url)
        assert before[("micro_agent_autopilot_fixes_proposed_total", ())] == 1
        assert before[("micro_agent_autopilot_paused", ())] == 0

        assert alertmanager(serve.url, [], version="3")[0] == 400
        assert http(serve.url + "/hooks/alertmanager", "POST", b"not json")[0] == 400
        state["delay"] = 3.0  # the alert's fix takes a while: a repeat of the alert arrives meanwhile
        code, answer = alertmanager(serve.url, [
            alert("fp-calc", labels={"micro_agent_tests": "tests/test_calc.py"},
                  annotations={"micro_agent_repo_path": str(root)}),
            alert("fp-nolabel"),
            alert("fp-elsewhere", annotations={"micro_agent_tests": "tests/test_calc.py",
                                               "micro_agent_repo_path": str(tmp_path / "other")}),
            alert("fp-option", labels={"micro_agent_tests": "--co"}),
            alert("fp-old", status="resolved")])
        assert code == 202
        actions = {a["fingerprint"]: (a["action"], a["reason"]) for a in answer["alerts"]}
        assert actions["fp-calc"][0] == "started"
        assert actions["fp-nolabel"][0] == "ignored" and "no micro_agent_tests" in actions["fp-nolabel"][1]
        assert actions["fp-elsewhere"][0] == "ignored" and "this service watches" in actions["fp-elsewhere"][1]
        assert actions["fp-option"][0] == "ignored" and "looks like an option" in actions["fp-option"][1]
        assert actions["fp-old"][0] == "resolved"
        code, again = alertmanager(serve.url, [alert("fp-calc", labels={"micro_agent_tests": "tests/test_calc.py"})])
        assert again["alerts"][0]["action"] == "duplicate", again

        jobs = serve.wait_for(lambda jobs: len(jobs) == 2 and all(j["state"] == "proposed" for j in jobs))
        calc = next(j for j in jobs if j["target"] == "src/calc.py")
        assert calc["tests"] == ["tests/test_calc.py::test_add"]
        pulls = {p["head"]["ref"]: p["number"] for p in forge.pulls}
        assert len(pulls) == 2
        after = samples(serve.url)
        assert after[("micro_agent_autopilot_fixes_proposed_total", ())] == 2
        assert after[("micro_agent_autopilot_runs_total", (("outcome", "proposed"),))] == 2
        assert after[("micro_agent_autopilot_alerts_total", (("action", "started"),))] == 1
        assert after[("micro_agent_autopilot_alerts_total", (("action", "duplicate"),))] == 1
        assert after[("micro_agent_autopilot_alerts_total", (("action", "ignored"),))] == 3
        assert after[("micro_agent_autopilot_jobs_queued", ())] == 0
        assert after[("micro_agent_autopilot_fix_duration_seconds_count", ())] == 2
        assert after[("micro_agent_autopilot_iterations_total", (("model", artisan), ("tier", "simple")))] == 2
        assert ("micro_agent_autopilot_cost_usd_total", (("model", artisan), ("tier", "simple"))) in after

        # outcomes: the stats fix is closed unmerged (webhook), the calc fix is merged on the forge (poll)
        stats_pr = pulls[next(j["branch"] for j in jobs if j["target"] == "src/stats.py")]
        code, answer = http(serve.url + "/hooks/github", "POST", json.dumps({
            "action": "closed", "pull_request": {"number": stats_pr, "merged": False,
                                                 "head": {"ref": "x"}}}).encode(),
                            {"X-GitHub-Event": "pull_request"})
        assert code == 202 and answer["recorded"] is True, answer
        assert samples(serve.url)[("micro_agent_autopilot_fixes_closed_total", ())] == 1
        code, answer = http(serve.url + "/hooks/github", "POST", json.dumps({
            "action": "closed", "pull_request": {"number": 999, "merged": True, "head": {"ref": "feature"}}}).encode(),
                            {"X-GitHub-Event": "pull_request"})
        assert answer["recorded"] is False and "not opened by the autopilot" in answer["reason"]
        forge.merge(pulls[calc["branch"]])
        wait_until(lambda: samples(serve.url)[("micro_agent_autopilot_fixes_merged_total", ())] == 1,
                   what="the poll to see the merge")

        assert http(serve.url + "/api/pause", "POST")[0] == 200
        assert samples(serve.url)[("micro_agent_autopilot_paused", ())] == 1
        code, paused = alertmanager(serve.url, [alert("fp-calc", labels={"micro_agent_tests": "tests/test_calc.py"})])
        assert paused["alerts"][0]["action"] == "ignored" and "paused" in paused["alerts"][0]["reason"]
    finally:
        serve.stop()
    assert serve.process.returncode == 0, "".join(serve.stderr)

    # the counts live in the state database: a new registry (a restarted service) reads the same numbers
    db = root / ".micro-agent" / "audit.db"
    text = metrics.exposition(metrics.registry(lambda: autopilot_db.connect(db), lambda: False, 5.0)).decode()
    assert "micro_agent_autopilot_fixes_merged_total 1.0" in text
    assert "micro_agent_autopilot_fixes_closed_total 1.0" in text
    conn = autopilot_db.connect(db)
    recorded = [(a["fingerprint"], a["action"]) for a in reversed(autopilot_db.list_alerts(conn))]
    conn.close()
    assert recorded[:6] == [("fp-calc", "started"), ("fp-nolabel", "ignored"), ("fp-elsewhere", "ignored"),
                            ("fp-option", "ignored"), ("fp-old", "resolved"), ("fp-calc", "duplicate")]
    stats = json.loads(micro_agent(["audit", "stats", "--json"], root, env).stdout)
    assert stats["tiers"][0]["proposed"] == 2 and stats["tiers"][0]["merged"] == 1


def test_which_alerts_start_a_pass(tmp_path):
    from micro_agent_autopilot.alerts import Alert, PayloadProblem, decide, read_payload

    def one(labels=None, annotations=None, status="firing", fingerprint="f"):
        return decide(Alert(status=status, labels=labels or {}, annotations=annotations or {},
                            fingerprint=fingerprint), tmp_path)

    picked = one({"micro_agent_tests": "tests/test_a.py::test_x, tests/test_b.py tests/test_c.py::K::t"})
    assert picked.action == "start"
    assert picked.tests == ["tests/test_a.py::test_x", "tests/test_b.py", "tests/test_c.py::K::t"]
    assert one(annotations={"micro_agent_tests": "t.py", "micro_agent_repo_path": str(tmp_path / ".")}).action == "start"
    assert "not a path inside" in one({"micro_agent_tests": "/etc/passwd"}).reason
    assert "not a path inside" in one({"micro_agent_tests": "../other/test_x.py"}).reason
    assert one({"micro_agent_tests": "t.py"}, status="resolved").action == "resolved"
    assert one({"alertname": "A", "job": "x"}, fingerprint="").fingerprint == "alertname=A|job=x"
    for bad in ({"alerts": []}, {"version": "3", "alerts": []}, {"version": "4", "alerts": "no"}, []):
        try:
            read_payload(bad)
        except PayloadProblem as problem:
            assert "Alertmanager" in str(problem)
        else:
            raise AssertionError(f"accepted {bad}")
