"""An offline `micro-agent eval` demo: the scripted model server plays a cheap and a strong model.

    .venv/bin/python scripts/eval_demo.py [--screenshot docs/images/eval-report.png]

Four tasks; the chain (cheap × 2 at $0.001 a call, then strong × 2 at $0.01) is compared with the strong
model alone and with one strong call. It prints the tables docs/eval.md shows and writes the report into a
temp folder (and, with --screenshot, a headless-Chromium picture of its index.html).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "eval")]
from eval_support import fixer, prices_config, tier_file, write_suite  # noqa: E402
from model_server import ScriptedModelServer  # noqa: E402

NAMES = ["alpha", "beta", "delta", "gamma"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", help="write a PNG of the HTML report here (needs /usr/bin/chromium)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="micro-agent-eval-demo-"))
    with ScriptedModelServer() as server:
        write_suite(tmp / "demo-suite", NAMES)
        server.script("cheap", [fixer({"alpha": 1}, NAMES)])
        server.script("strong", [fixer({"beta": 1, "delta": 2}, NAMES)])
        for name in ("solo", "shot"):
            server.script(name, [fixer({"alpha": 1, "beta": 1, "delta": 2}, NAMES)])
        prices_config(tmp / "eval.yml", {f"openai/{m}": usd for m, usd in
                                         (("cheap", 0.001), ("strong", 0.01), ("solo", 0.01), ("shot", 0.01))},
                      max_iterations=4)
        tier_file(tmp / "tiers.json", [("cheap", "openai/cheap", 2), ("strong", "openai/strong", 2)])
        env = {**os.environ, "OPENAI_API_BASE": server.url, "OPENAI_API_KEY": "scripted",
               "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        done = subprocess.run([str(Path(sys.executable).parent / "micro-agent"), "eval", "demo-suite",
                               "--tier-config", "tiers.json", "--config", "eval.yml",
                               "--compare", "strongest=model:openai/solo", "--compare", "one-shot=single:openai/shot",
                               "--jobs", "2", "--report", "eval-out"], cwd=tmp, env=env)
    if args.screenshot and done.returncode == 0:
        subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={tmp / 'profile'}", "--window-size=1280,1500",
                        f"--screenshot={Path(args.screenshot).resolve()}", (tmp / "eval-out" / "index.html").as_uri()],
                       check=True, capture_output=True)
    print(f"report: {tmp / 'eval-out'}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
