"""A small Python suite whose scripted models fix known tasks on known calls, so every figure is predictable."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

# Each task: value() must return 2. The marker tells the scripted model which task a prompt is about.
BUGGY = '"""TASK {name}"""\n\n\ndef value():\n    return 1\n'
FIXED = '"""TASK {name}"""\n\n\ndef value():\n    return 2\n'
WRONG = '"""TASK {name}"""\n\n\ndef value():\n    return 1  # tried\n'
TEST = "from {name} import value\n\n\ndef test_value():\n    assert value() == 2\n"

PROMPT_TOKENS, COMPLETION_TOKENS = 1000, 100


def write_suite(root: Path, names: list[str]) -> Path:
    for name in names:
        folder = root / name
        folder.mkdir(parents=True)
        (folder / f"{name}.py").write_text(BUGGY.format(name=name))
        (folder / f"test_{name}.py").write_text(TEST.format(name=name))
        (folder / "reference.py").write_text(FIXED.format(name=name))
        (folder / "task.yml").write_text(f"target: {name}.py\ntest: {sys.executable} -m pytest -q test_{name}.py\n"
                                         f"tags: [python]\nreference: reference.py\n")
    return root


def fixer(fix_on: dict[str, int | None], names: list[str], delay: dict[str, float] | None = None):
    """A scripted reply: for task t, the fix on the `fix_on[t]`-th call about t (None: never), else a wrong edit.

    Calls are counted per task, so the replies do not depend on the order tasks run in.
    """
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def reply(request: dict) -> dict:
        task = next((n for n in names if f"TASK {n}" in request["prompt"]), None)
        if task is None:
            return {"content": "no task marker in the prompt", "status": 500}
        with lock:
            counts[task] = counts.get(task, 0) + 1
            nth = counts[task]
        code = FIXED if fix_on.get(task) is not None and nth >= fix_on[task] else WRONG
        answer = {"content": f"```python\n{code.format(name=task)}```\n",
                  "prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS}
        if delay and task in delay:
            answer["delay"] = delay[task]
        return answer

    return reply


def prices_config(path: Path, per_call_usd: dict[str, float], max_iterations: int | None = None) -> Path:
    """A micro-agent.yml pricing each model so that one call (PROMPT_TOKENS in, output free) costs per_call_usd."""
    lines = ["prices:"] + [f"  {m}: {{inputPerMillion: {usd * 1e6 / PROMPT_TOKENS}, outputPerMillion: 0}}"
                           for m, usd in per_call_usd.items()]
    if max_iterations:
        lines += ["budget:", f"  maxIterations: {max_iterations}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def tier_file(path: Path, tiers: list[tuple[str, str, int]]) -> Path:
    path.write_text(json.dumps({"tiers": [{"name": n, "mode": "simple", "maxIterations": k, "models": {"artisan": m}}
                                          for n, m, k in tiers]}))
    return path
