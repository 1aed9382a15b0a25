"""End to end with the real Prometheus and Alertmanager (Debian's `prometheus`, `prometheus-alertmanager`).

Prometheus scrapes the service's /metrics (its HTTP API then answers with our series), and a rule on those
series fires at once and goes through Alertmanager to /hooks/alertmanager, whose pass proposes a fix on the
recording forge. Skipped when the binaries are missing on a developer's machine; a failure in CI (`CI` set),
where .ci/install-prometheus.sh installs them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from autopilot_support import REPO, env_for, forge, make_project, slow_artisan  # noqa: F401
from test_autopilot_alerts import watch_only_the_report_tests
from test_autopilot_serve import Serve

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


@pytest.fixture
def binaries():
    if PROMETHEUS and ALERTMANAGER:
        return PROMETHEUS, ALERTMANAGER
    message = ("the prometheus and prometheus-alertmanager binaries are not installed "
               "(apt-get install -y prometheus prometheus-alertmanager, or bash .ci/install-prometheus.sh)")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def wait_for(check, timeout: float, what: str, logs=lambda: ""):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if (value := check()):
                return value
        except OSError as exc:  # not listening yet
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last error: {last}); {logs()}")


class Daemon:
    def __init__(self, argv: list[str], log):
        self.log = log
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def test_prometheus_scrapes_and_an_alert_through_alertmanager_proposes_a_fix(tmp_path, binaries, forge,
                                                                              slow_artisan, cli_env):
    prometheus, alertmanager = binaries
    artisan, _state = slow_artisan
    root, _remote = make_project(tmp_path, artisan, forge.url)
    watch_only_the_report_tests(root)
    serve = Serve(root, env_for(cli_env))
    daemons: list[Daemon] = []
    logs = tmp_path / "daemons.log"

    def log_tail() -> str:
        return logs.read_text()[-3000:] if logs.exists() else ""

    try:
        serve.wait_for(lambda jobs: len(jobs) == 1 and jobs[0]["state"] == "proposed")  # the watched suite's fix
        service = urllib.parse.urlsplit(serve.url)
        am_port, prom_port = free_port(), free_port()
        (tmp_path / "alertmanager.yml").write_text(json.dumps({
            "route": {"receiver": "autopilot", "group_by": ["alertname"], "group_wait": "1s",
                      "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": "autopilot", "webhook_configs": [
                {"url": f"{serve.url}/hooks/alertmanager", "send_resolved": True}]}]}))
        (tmp_path / "rules.yml").write_text(json.dumps({"groups": [{"name": "micro-agent", "interval": "1s",
            "rules": [{"alert": "PricingTestsFailing", "expr": "micro_agent_autopilot_paused == 0",
                       "labels": {"severity": "page", "micro_agent_tests": "tests/test_calc.py"},
                       "annotations": {"micro_agent_repo_path": str(root),
                                       "summary": "the pricing tests fail in production"}}]}]}))
        (tmp_path / "prometheus.yml").write_text(json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp_path / "rules.yml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
            "scrape_configs": [{"job_name": "micro-agent-autopilot", "metrics_path": "/metrics",
                                "static_configs": [{"targets": [service.netloc]}]}]}))
        with logs.open("w") as log:
            daemons.append(Daemon([alertmanager, f"--config.file={tmp_path / 'alertmanager.yml'}",
                                   f"--storage.path={tmp_path / 'am-data'}",
                                   f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="], log))
            daemons.append(Daemon([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                                   f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                                   f"--web.listen-address=127.0.0.1:{prom_port}"], log))
            api = f"http://127.0.0.1:{prom_port}/api/v1"

            def our_series():
                answer = get_json(f"{api}/query?query=micro_agent_autopilot_fixes_proposed_total")
                return answer["data"]["result"]

            result = wait_for(our_series, 90, "Prometheus to scrape /metrics", log_tail)
            assert result[0]["metric"]["job"] == "micro-agent-autopilot" and float(result[0]["value"][1]) >= 1
            costs = get_json(f"{api}/query?query=micro_agent_autopilot_cost_usd_total")["data"]["result"]
            assert costs and costs[0]["metric"]["model"] == artisan and costs[0]["metric"]["tier"] == "simple"

            jobs = serve.wait_for(lambda jobs: any(j["target"] == "src/calc.py" and j["state"] == "proposed"
                                                   for j in jobs), timeout=180)
            calc = next(j for j in jobs if j["target"] == "src/calc.py")
            assert calc["tests"] == ["tests/test_calc.py::test_add"]
            pulls = [p for p in forge.pulls if p["head"]["ref"] == calc["branch"]]
            assert len(pulls) == 1 and "src/calc.py" in pulls[0]["title"] + pulls[0]["body"]
            fired = get_json(f"{api}/alerts")["data"]["alerts"]
            assert [a["labels"]["alertname"] for a in fired] == ["PricingTestsFailing"]
            time.sleep(3)  # Alertmanager resends on group_interval while it fires: one pass, one fix
            assert sum(1 for j in serve.jobs() if j["target"] == "src/calc.py") == 1
            assert len([p for p in forge.pulls if "src-calc-py" in p["head"]["ref"]]) == 1
    finally:
        for daemon in reversed(daemons):
            daemon.stop()
        serve.stop()


def test_the_documented_alert_rules_load_in_prometheus_and_name_our_series(tmp_path, binaries):
    import re
    from pathlib import Path

    from micro_agent import autopilot_db
    from micro_agent_autopilot import metrics

    promtool = Path(binaries[0]).with_name("promtool")
    doc = (Path(__file__).resolve().parents[2] / "docs" / "autopilot.md").read_text()
    rules = doc.split("Example alert rules:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "rules.yml").write_text(rules)
    checked = subprocess.run([str(promtool), "check", "rules", str(tmp_path / "rules.yml")], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0 and "SUCCESS: 5 rules found" in checked.stdout, checked.stdout + checked.stderr
    db = tmp_path / "audit.db"
    exposed = metrics.exposition(metrics.registry(lambda: autopilot_db.connect(db), lambda: False, 5.0)).decode()
    series = set(re.findall(r"^# TYPE (\S+) ", exposed, re.M))  # counters are named with their _total
    for used in set(re.findall(r"micro_agent_autopilot_\w+", rules)):
        assert used in series, f"{used} is not exposed; exposed: {sorted(series)}"
