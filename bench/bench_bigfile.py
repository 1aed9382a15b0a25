"""A bug at line 10,004 of a 20,000-line file: does it reach the model's prompt, and how large is the prompt?

One in-process run (engine.run) against the scripted model server: the artisan first echoes a fragment (the
run must refuse to write it), then answers with a SEARCH/REPLACE block. Prints
- the target's size, the artisan prompt's size (characters) and whether the buggy line was in it,
- the time to build that prompt (excerpts and outline of the 20,000 lines),
- the outcome, and the reply error that stopped the fragment.

    .venv/bin/python bench/bench_bigfile.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from model_server import ScriptedModelServer  # noqa: E402

from micro_agent.config import Budget, RoleModels, RunRequest, Tier  # noqa: E402
from micro_agent.engine import run  # noqa: E402
from micro_agent.events import AgentCalling, IterationFinished  # noqa: E402
from micro_agent.prompts import FILE_CAP, PromptState, artisan_messages  # noqa: E402
from micro_agent.reports import TestFailure, TestReport  # noqa: E402

LINES, BUG_LINE = 20_000, 10_004
BUGGY_LINE = "    return a - b  # the bug"


def big_module() -> str:
    lines = []
    for k in range(LINES // 2):
        lines += [f"def f{k}(a, b):", "    return a + b"]
    lines[BUG_LINE - 1] = BUGGY_LINE
    return "\n".join(lines) + "\n"


TESTS = f"from big import f{(BUG_LINE - 1) // 2}\n\n\ndef test_it():\n    assert f{(BUG_LINE - 1) // 2}(2, 3) == 5\n"
FIX = f"<<<<<<< SEARCH\n{BUGGY_LINE}\n=======\n    return a + b\n>>>>>>> REPLACE\n"
FRAGMENT = f"```python path=big.py\ndef f{(BUG_LINE - 1) // 2}(a, b):\n    return a + b\n```\n"


def make_repo(path: Path) -> Path:
    (path / "tests").mkdir(parents=True)
    (path / "big.py").write_text(big_module())
    (path / "conftest.py").write_text("")
    (path / "tests" / "test_big.py").write_text(TESTS)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=path, check=True, env=env)
    return path


def prompt_build_ms(repeat: int = 5) -> float:
    """Building the artisan prompt alone, from a pytest-like failure (median of `repeat`)."""
    name = f"f{(BUG_LINE - 1) // 2}"
    report = TestReport(passed=False, failures=[TestFailure(
        name="tests/test_big.py::test_it", file="tests/test_big.py", line=5,
        message=f">       assert {name}(2, 3) == 5\nE       assert -1 == 5")])
    state = PromptState(root=Path("."), objective="fix", target="big.py", target_content=big_module(),
                        test_command="pytest", test_files={"tests/test_big.py": TESTS}, last_report=report)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        artisan_messages(state)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2] * 1000


def main() -> int:
    with ScriptedModelServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(OPENAI_API_BASE=server.url, OPENAI_API_KEY="bench", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
        server.script("bigfile", [FRAGMENT, FIX])
        repo = make_repo(Path(tmp) / "big")
        request = RunRequest(root=repo, target="big.py", test_command=f"{sys.executable} -m pytest -q tests",
                             tiers=[Tier(name="t1", mode="simple", maxIterations=3,
                                         models=RoleModels(artisan="openai/bigfile"))], budget=Budget())
        events: list[object] = []
        started = time.perf_counter()
        report = run(request, events.append)
        wall = time.perf_counter() - started
        first_prompt = server.prompts("bigfile")[0]
        fixed = (repo / "big.py").read_text() == big_module().replace(BUGGY_LINE, "    return a + b")
    calls = [e.prompt_chars for e in events if isinstance(e, AgentCalling)]
    errors = [m for e in events if isinstance(e, IterationFinished) for m in e.error_messages]
    size = len(big_module())
    print(f"A bug at line {BUG_LINE:,} of a {LINES:,}-line Python file ({size:,} characters; prompt cap "
          f"{FILE_CAP:,} characters of one file):")
    print(f"  artisan prompt                        {calls[0]:,} characters "
          f"({calls[0] / size:.1%} of the file)")
    print(f"  buggy line in the prompt              {'yes' if BUGGY_LINE in first_prompt else 'NO'}")
    print(f"  building that prompt                  {prompt_build_ms():.1f} ms")
    print(f"  a whole-file fragment                 refused: {errors[0] if errors else 'NOT REFUSED'}"[:160])
    print(f"  run                                   {report.outcome} in {report.total_iterations} iterations, "
          f"{wall:.2f} s; file fixed by SEARCH/REPLACE: {'yes' if fixed else 'NO'}")
    return 0 if report.outcome == "success" and fixed and BUGGY_LINE in first_prompt else 1


if __name__ == "__main__":
    sys.exit(main())
