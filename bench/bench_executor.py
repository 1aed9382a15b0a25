"""Fix jobs through the executor seam: the local pool vs Ray, N = 1, 4, 16 small jobs, side by side.

Each job is a real FixJob: a one-file repo sent as a git bundle, cloned by the worker, one iteration against
the scripted model server (instant replies), one pytest run, the events streamed back to the head. Prints per
executor and N: wall time, throughput (jobs/s), mean latency (submit → result) and the overhead per job,
i.e. the wall time per job beyond the local pool's at the same N — Ray's scheduling, object transfer and
event relay. Both executors run `--jobs` jobs at once (default 2: this box has 2 cores).

Ray runs as a local cluster started by `ray.init()` (or the cluster at RAY_ADDRESS); it is skipped, with the
reason, when Ray is not installed (`pip install -e '.[ray]'`).

    .venv/bin/python bench/bench_executor.py [--sizes 1,4,16] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import wait
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from model_server import ScriptedModelServer  # noqa: E402

from micro_agent.config import Budget, RoleModels, RunRequest, Tier  # noqa: E402
from micro_agent.executor import ExecutorConfig, ExecutorUnavailable, make_executor  # noqa: E402
from micro_agent.fixjob import pack  # noqa: E402

from bench_engine import FIXED, make_repo as make_calc_repo  # noqa: E402  the same small job as bench_engine's


def make_repo(path: Path) -> tuple[Path, str]:
    """bench_engine's buggy calculator repo, and its base commit (a job carries it as a bundle)."""
    make_calc_repo(path)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, check=True, capture_output=True, text=True)
    return path, head.stdout.strip()


def run_batch(executor, repo: Path, base: str, model: str, n: int) -> dict[str, float]:
    tiers = [Tier(name="t1", mode="simple", maxIterations=2, models=RoleModels(artisan=model))]
    jobs = [pack(repo, f"bench-{i}", base, RunRequest(
        root=repo, target="calc.py", test_command=f"{sys.executable} -m pytest -q tests", tiers=tiers,
        budget=Budget(), apply=False)) for i in range(n)]
    started = time.perf_counter()
    submitted = {}
    for job in jobs:
        submitted[executor.submit_fix(job, lambda event: None)] = time.perf_counter()
    done = {}
    for future in submitted:
        future.add_done_callback(lambda f: done.setdefault(f, time.perf_counter()))
    wait(list(submitted))
    wall = time.perf_counter() - started
    for future in submitted:
        assert future.result().report.outcome == "success", future.result().report.message
    latencies = [done.get(f, time.perf_counter()) - t for f, t in submitted.items()]
    return {"wall_s": wall, "jobs_per_s": n / wall, "latency_s": statistics.mean(latencies),
            "bundle_kb": len(jobs[0].bundle) / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,16")
    parser.add_argument("--jobs", type=int, default=2, help="jobs at once (the local pool's size)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with ScriptedModelServer() as server, tempfile.TemporaryDirectory(prefix="bench-executor-") as tmp:
        os.environ.update(OPENAI_API_BASE=server.url, OPENAI_API_KEY="bench")
        name = f"bench-{uuid.uuid4().hex[:6]}"
        server.script(name, [f"```python\n{FIXED}```"])
        repo, base = make_repo(Path(tmp) / "repo")
        results: dict[str, dict[int, dict[str, float]]] = {}
        executors = {"local": ExecutorConfig(kind="local"), "ray": ExecutorConfig(kind="ray")}
        for label, config in executors.items():
            try:
                started = time.perf_counter()
                executor = make_executor(config, args.jobs)
                startup = time.perf_counter() - started
            except ExecutorUnavailable as exc:
                print(f"{label}: skipped: {exc}")
                continue
            run_batch(executor, repo, base, f"openai/{name}", 1)  # warm-up: worker processes, imports
            results[label] = {n: run_batch(executor, repo, base, f"openai/{name}", n) for n in sizes}
            print(f"{label}: started in {startup:.2f} s")
            executor.shutdown()
    print(f"\n{'N':>3}  {'executor':<8} {'wall s':>8} {'jobs/s':>7} {'latency s':>10} {'overhead/job ms':>16}")
    for n in sizes:
        local = results.get("local", {}).get(n)
        for label in results:
            row = results[label][n]
            overhead = "" if local is None or label == "local" else \
                f"{(row['wall_s'] - local['wall_s']) / n * 1000:+.0f}"
            print(f"{n:>3}  {label:<8} {row['wall_s']:>8.2f} {row['jobs_per_s']:>7.2f} {row['latency_s']:>10.2f} "
                  f"{overhead:>16}")
    if results:
        first = next(iter(results.values()))
        print(f"\none job sends a {first[sizes[0]]['bundle_kb']:.1f} KB git bundle plus its RunRequest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
