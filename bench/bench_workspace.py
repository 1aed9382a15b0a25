"""The workspace's share of an iteration: restore, the stray-changes check and the candidate commit.

A small git project (a target, a test file, a conftest, a cache folder a test run leaves behind), one
candidate written per round; prints the median milliseconds of each step over `--rounds` rounds.
Target (issue 12): restore + check ≤ 20 ms together with the rest of the loop's per-iteration work.

    .venv/bin/python bench/bench_workspace.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from micro_agent.workspace import Workspace


def make_repo(path: Path, files: int) -> Path:
    (path / "tests").mkdir(parents=True)
    (path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (path / "tests" / "test_calc.py").write_text("from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n")
    (path / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n")
    for i in range(files):  # the rest of a small project
        (path / "pkg" / f"m{i // 50}").mkdir(parents=True, exist_ok=True)
        (path / "pkg" / f"m{i // 50}" / f"f{i}.py").write_text(f"X = {i}\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=path, check=True, env=env)
    return path


def leave_caches(path: Path, round_: int) -> None:
    """What a pytest run leaves: bytecode and its cache folder."""
    for folder in (path / "__pycache__", path / "tests" / "__pycache__", path / ".pytest_cache" / "v"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"c{round_}.pyc").write_bytes(b"\0" * 64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--files", type=int, default=200, help="other files in the project")
    args = parser.parse_args()
    timings: dict[str, list[float]] = {"restore": [], "stray_changes": [], "commit": []}
    with tempfile.TemporaryDirectory(prefix="bench-ws-") as tmp:
        root = make_repo(Path(tmp) / "project", args.files)
        with Workspace.create(root, "bench") as ws:
            for round_ in range(args.rounds):
                started = time.perf_counter()
                ws.restore()
                timings["restore"].append(time.perf_counter() - started)
                ws.write({"calc.py": f"def add(a, b):\n    return a + b + {round_} - {round_}\n"})
                started = time.perf_counter()
                ws.commit(f"micro-agent bench tier 0 iteration {round_ + 1}")
                timings["commit"].append(time.perf_counter() - started)
                leave_caches(ws.path, round_)
                started = time.perf_counter()
                stray = ws.stray_changes()
                timings["stray_changes"].append(time.perf_counter() - started)
                assert stray == [], stray
    print(f"workspace steps per iteration, median of {args.rounds} rounds ({args.files + 3} files):")
    for name, values in timings.items():
        print(f"  {name:<15} {statistics.median(values) * 1000:7.1f} ms")
    per_iteration = statistics.median(timings["restore"]) + statistics.median(timings["stray_changes"])
    print(f"  restore + check {per_iteration * 1000:7.1f} ms   (the commit runs in the background, during the tests)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
