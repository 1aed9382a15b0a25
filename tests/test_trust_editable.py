"""An editable install of the project must not make the user's files the judge of a candidate.

`pip install -e .` (or `uv sync`) leaves a `.pth` in the project's venv naming the user's `src/`. The run's
tests happen in a copy of the project with that venv first on PATH, so without care `import shop` would
load the user's buggy file instead of the candidate, and no fix could ever pass (or be confirmed).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import fenced, make_repo
from test_project_env import make_venv, minimal_env

BUGGY = "def total(prices):\n    return sum(prices) - 1\n"
FIXED = "def total(prices):\n    return sum(prices)\n"
TESTS = "from shop.pricing import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n"
TEST_CMD = "python -m pytest -q -p no:cacheprovider tests/test_pricing.py"


def editable_project(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "proj", {
        "pyproject.toml": '[project]\nname = "shop"\nversion = "0"\n', "src/shop/__init__.py": "",
        "src/shop/pricing.py": BUGGY, "tests/test_pricing.py": TESTS, ".gitignore": ".micro-agent/\n.venv/\n",
        "micro-agent.yml": f"test: {TEST_CMD}\n"})
    venv = make_venv(repo / ".venv")
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "__editable__.shop-0.pth").write_text(f"{repo / 'src'}\n")  # what `pip install -e .` leaves
    return repo


def test_a_candidate_is_judged_on_its_own_code_not_on_the_editable_install(tmp_path, model_server, model, cli_env):
    repo = editable_project(tmp_path)
    env = minimal_env(cli_env)
    premise = subprocess.run([str(repo / ".venv/bin/python"), "-c", "import shop.pricing as p; print(p.__file__)"],
                             cwd=tmp_path, env=env, capture_output=True, text=True)
    assert premise.stdout.strip() == str(repo / "src/shop/pricing.py")  # the venv imports the user's file
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(FIXED)])
    done = subprocess.run([str(repo / ".venv/bin/micro-agent"), "run", "src/shop/pricing.py", "--artisan", artisan,
                           "--no-escalate", "--simple", "2", "--json"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=180)
    report = json.loads(done.stdout)
    assert done.returncode == 0, report["message"] + done.stderr
    assert report["total_iterations"] == 1
    assert (repo / "src/shop/pricing.py").read_text() == FIXED
