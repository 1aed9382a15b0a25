"""`micro-agent eval` against the scripted HTTP model server: every figure in report.json is what the script implies.

The chain: cheap (simple × 2, $0.001 a call), then strong (simple × 2, $0.01 a call).
  alpha: cheap fixes it on its first call            → 1 iteration,  $0.001, solved by cheap
  beta:  cheap never, strong on its first call        → 3 iterations, $0.012, solved by strong
  delta: cheap never, strong on its second call       → 4 iterations, $0.022, solved by strong
  gamma: nobody                                       → 4 iterations, $0.022, failed
Compared with: solo (model:…, the default chain with one model, $0.01 a call; per-task cap of 4 iterations)
and shot (single:…, one call, $0.01), both fixing alpha and beta at once, delta on a second call, gamma never.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import micro_agent
from eval_support import COMPLETION_TOKENS, PROMPT_TOKENS, fixer, prices_config, tier_file, write_suite

NAMES = ["alpha", "beta", "delta", "gamma"]
APPROX = dict(abs=1e-9)


@pytest.fixture(scope="module")
def evaluated(model_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    suite = write_suite(tmp / "suite", NAMES)
    cheap, strong, solo, shot = (f"openai/{role}-{tmp.name}" for role in ("cheap", "strong", "solo", "shot"))
    bare = lambda m: m.removeprefix("openai/")  # noqa: E731
    model_server.script(bare(cheap), [fixer({"alpha": 1}, NAMES)])
    model_server.script(bare(strong), [fixer({"beta": 1, "delta": 2}, NAMES)])
    for m in (solo, shot):
        model_server.script(bare(m), [fixer({"alpha": 1, "beta": 1, "delta": 2}, NAMES)])
    config = prices_config(tmp / "eval.yml", {cheap: 0.001, strong: 0.01, solo: 0.01, shot: 0.01}, max_iterations=4)
    tiers = tier_file(tmp / "tiers.json", [("cheap", cheap, 2), ("strong", strong, 2)])
    env = {**_env(model_server, tmp)}
    done = micro_agent(["eval", str(suite), "--tier-config", str(tiers), "--config", str(config),
                        "--compare", f"solo=model:{solo}", "--compare", f"shot=single:{shot}",
                        "--jobs", "2", "--json", "--report", str(tmp / "report")], tmp, env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout), tmp / "report"


def _env(model_server, tmp: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    (tmp / "tmp").mkdir(exist_ok=True)
    env.update(OPENAI_API_BASE=model_server.url, OPENAI_API_KEY="test-key", LITELLM_LOCAL_MODEL_COST_MAP="True",
               NO_COLOR="1", TMPDIR=str(tmp / "tmp"), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    return env


def by_task(report: dict, config: str) -> dict[str, dict]:
    return {r["task"]: r for r in report["results"] if r["config"] == config}


def test_chain_figures_per_task(evaluated):
    report, _ = evaluated
    chain = by_task(report, "chain")
    expected = {  # task: (solved, iterations, calls, cost, tier)
        "alpha": (True, 1, 1, 0.001, "cheap"),
        "beta": (True, 3, 3, 0.012, "strong"),
        "delta": (True, 4, 4, 0.022, "strong"),
        "gamma": (False, 4, 4, 0.022, None),
    }
    assert set(chain) == set(expected)
    for task, (solved, iterations, calls, cost, tier) in expected.items():
        r = chain[task]
        assert (r["solved"], r["iterations"], r["model_calls"], r["solved_by_tier"]) == (solved, iterations, calls, tier), r
        assert r["cost_usd"] == pytest.approx(cost, **APPROX), r
        assert r["prompt_tokens"] == calls * PROMPT_TOKENS and r["completion_tokens"] == calls * COMPLETION_TOKENS
        assert r["prompt_chars"] > 0 and r["reply_chars"] > 0 and r["wall_s"] > 0
    assert chain["gamma"]["status"] == "failed" and chain["gamma"]["engine_outcome"] == "failed"


def test_summaries_are_what_the_script_implies(evaluated):
    report, _ = evaluated
    summaries = {s["config"]: s for s in report["summaries"]}
    assert [c["name"] for c in report["configs"]] == ["chain", "solo", "shot"]
    chain, solo, shot = summaries["chain"], summaries["solo"], summaries["shot"]
    assert (chain["tasks"], chain["solved"], chain["solve_rate"]) == (4, 3, 0.75)
    assert chain["total_cost_usd"] == pytest.approx(0.057, **APPROX)
    assert chain["cost_per_solved_usd"] == pytest.approx(0.019, **APPROX)
    assert chain["mean_iterations"] == 3.0 and chain["mean_model_calls"] == 3.0
    assert chain["solved_by_tier"] == {"cheap": 1, "strong": 2}
    assert chain["prompt_tokens"] == 12 * PROMPT_TOKENS

    # solo: alpha 1, beta 1, delta 2 iterations; gamma stopped by the per-task cap of 4 iterations
    assert (solo["solved"], solo["solve_rate"], solo["mean_iterations"]) == (3, 0.75, 2.0)
    assert solo["total_cost_usd"] == pytest.approx(0.08, **APPROX)
    assert solo["cost_per_solved_usd"] == pytest.approx(0.08 / 3, **APPROX)
    assert solo["solved_by_tier"] == {"simple": 3}
    assert by_task(report, "solo")["gamma"]["status"] == "budget_exhausted"

    # shot: one call each, no loop
    assert (shot["solved"], shot["solve_rate"], shot["mean_iterations"]) == (2, 0.5, 1.0)
    assert shot["total_cost_usd"] == pytest.approx(0.04, **APPROX)
    assert shot["cost_per_solved_usd"] == pytest.approx(0.02, **APPROX)
    assert shot["solved_by_tier"] == {"single-shot": 2}


def test_compare_figures(evaluated):
    report, _ = evaluated
    versus = {v["other"]: v for v in report["versus"]}
    assert set(versus) == {"solo", "shot"} and all(v["config"] == "chain" for v in versus.values())
    # the chain costs no more than solo on alpha (0.001 ≤ 0.01) and gamma (0.022 ≤ 0.04), more on beta and delta
    assert versus["solo"]["tasks_compared"] == 4
    assert versus["solo"]["cost_le_share"] == 0.5 and versus["solo"]["solve_rate_lift"] == 0.0
    # the loop's lift over single-shot: delta is solved by the chain, not by one call
    assert versus["shot"]["cost_le_share"] == 0.25 and versus["shot"]["solve_rate_lift"] == 0.25


def test_report_folder_holds_the_same_report_and_a_page_with_charts(evaluated):
    report, folder = evaluated
    assert json.loads((folder / "report.json").read_text()) == report
    page = (folder / "index.html").read_text()
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # the eval extra is missing: the page has the tables and says how to get charts
        assert "pip install &#x27;micro-agent[eval]&#x27;" in page and "<svg" not in page
    else:
        assert page.count("<svg") == 3
    assert not re.search(r"""(src|href)=["']?(https?:)?//|<script|<link|@import""", page), "nothing loads at view time"
    assert "Solve rate per configuration" in page and "gamma" in page and "75%" in page


CHROMIUM = Path("/usr/bin/chromium")


def test_html_report_renders_in_headless_chromium(evaluated, tmp_path):
    """The page renders offline in a real browser, charts included (the chart greens are on screen)."""
    import os
    import shutil
    import subprocess

    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed at /usr/bin/chromium (bash .ci/install-vscode-e2e.sh installs it)")
    image = pytest.importorskip("matplotlib.image", reason="matplotlib is the eval extra: pip install -e '.[eval]'")
    _, folder = evaluated
    shot = tmp_path / "eval-report.png"
    done = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1500",
                           f"--screenshot={shot}", (folder / "index.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 20_000, done.stderr[-2000:]
    pixels = image.imread(str(shot))[..., :3]
    green = (abs(pixels[..., 0] - 0x2F / 255) < 0.05) & (abs(pixels[..., 1] - 0x7D / 255) < 0.05) \
        & (abs(pixels[..., 2] - 0x4F / 255) < 0.05)
    assert green.sum() > 2000, "the solve-rate bars are not on screen"
    if target := os.environ.get("MICRO_AGENT_EVAL_SCREENSHOT"):  # refresh the docs' screenshot
        shutil.copy(shot, target)
