"""`GET /`: the status page, served by the real service and drawn by a real headless Chromium (charts included)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from autopilot_support import env_for, forge, make_project, slow_artisan  # noqa: F401
from test_autopilot_serve import Serve, http

from micro_agent import autopilot_db

CHROMIUM = Path("/usr/bin/chromium")
BAR_BLUE = (0x09 / 255, 0x69 / 255, 0xDA / 255)  # the cost bars' colour (page.py)


def seed_history(db: Path) -> None:
    """A week of earlier jobs: some solved, some not, each with its cost."""
    conn = autopilot_db.connect(db)
    pass_id = autopilot_db.start_pass(conn, "schedule", "refs/heads/main", "pytest")
    today = datetime.now(timezone.utc).replace(hour=9, minute=0, second=0, microsecond=0)
    for days_ago in range(1, 8):
        for n in range(3):
            job_id = autopilot_db.add_job(conn, pass_id, f"src/mod{n}.py", [f"tests/test_mod{n}.py::t"], [], "abc")
            state = "proposed" if n <= days_ago % 3 else "failed"  # a solve rate of 1/3, 2/3 or 3/3 a day
            conn.execute("UPDATE autopilot_jobs SET created_at = ?, state = ?, cost_usd = ? WHERE job_id = ?",
                         [autopilot_db.iso_utc(today - timedelta(days=days_ago, minutes=n)), state,
                          0.02 * (days_ago + n), job_id])
    conn.close()


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=20) as response:
        return response.status, response.headers["Content-Type"], response.read()


def test_the_status_page_shows_the_queue_runs_and_charts_in_a_real_browser(tmp_path, forge, slow_artisan, cli_env):
    artisan, _state = slow_artisan
    root, _remote = make_project(tmp_path, artisan, forge.url)
    seed_history(root / ".micro-agent" / "audit.db")
    serve = Serve(root, env_for(cli_env))
    try:
        serve.wait_for(lambda jobs: {j["target"] for j in jobs if j["state"] == "proposed"}
                       >= {"src/calc.py", "src/stats.py"})
        status, kind, body = get(serve.url + "/")
        page = body.decode()
        assert status == 200 and kind.startswith("text/html")
        assert "Queue (0)" in page and "Nothing queued or running." in page
        assert "src/calc.py" in page and "src/stats.py" in page and forge.url in page  # recent runs link their PRs
        assert '<script src="/static/chart.umd.min.js">' in page and "//" not in "".join(
            line for line in page.splitlines() if "<script" in line or "<link" in line)  # nothing from elsewhere
        assert get(serve.url + "/static/status.css")[0] == 200 and get(serve.url + "/static/status.js")[0] == 200
        status, kind, script = get(serve.url + "/static/chart.umd.min.js")
        assert status == 200 and script.startswith(b"/*!\n * Chart.js v4") and len(script) > 100_000
        assert http(serve.url + "/static/..%2Fpage.py")[0] == 404
        assert http(serve.url + "/static/nothing.js")[0] == 404

        if not CHROMIUM.exists():
            if os.environ.get("CI"):
                pytest.fail("chromium is not installed at /usr/bin/chromium (bash .ci/install-vscode-e2e.sh)")
            pytest.skip("chromium is not installed at /usr/bin/chromium (bash .ci/install-vscode-e2e.sh installs it)")
        browser = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                   f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1100", "--virtual-time-budget=5000"]
        dom = subprocess.run([*browser, "--dump-dom", serve.url + "/"], capture_output=True, text=True, timeout=120)
        assert 'data-charts="drawn"' in dom.stdout, dom.stderr[-2000:]  # Chart.js loaded from the service and ran
        shot = tmp_path / "autopilot-status.png"
        done = subprocess.run([*browser, f"--screenshot={shot}", serve.url + "/"], capture_output=True, text=True,
                              timeout=120)
        assert shot.is_file() and shot.stat().st_size > 20_000, done.stderr[-2000:]
        image = pytest.importorskip("matplotlib.image", reason="matplotlib is the eval extra: pip install -e '.[eval]'")
        pixels = image.imread(str(shot))[..., :3]
        blue = ((abs(pixels[..., 0] - BAR_BLUE[0]) < 0.05) & (abs(pixels[..., 1] - BAR_BLUE[1]) < 0.05)
                & (abs(pixels[..., 2] - BAR_BLUE[2]) < 0.05))
        assert blue.sum() > 2000, "the cost bars are not on screen"
        if target := os.environ.get("MICRO_AGENT_AUTOPILOT_SCREENSHOT"):  # refresh the docs' screenshot
            shutil.copy(shot, target)
    finally:
        serve.stop()
    with sqlite3.connect(root / ".micro-agent" / "audit.db") as conn:
        assert conn.execute("SELECT count(*) FROM autopilot_jobs").fetchone()[0] == 23
