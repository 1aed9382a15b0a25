"""`micro-agent run`'s flags as one layer of run settings (micro_agent.run_settings), the flag named in each problem."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

# run-settings key (camelCase, dotted) -> the flag that sets it, as `--help` shows it
FLAG_OF = {
    "test": "-t/--test CMD", "simpleIterations": "--simple N", "mode": "--full", "escalate": "--no-escalate",
    "tierConfig": "--tier-config PATH", "budget.maxCostUsd": "--max-budget USD",
    "budget.maxDurationMinutes": "--max-duration MIN", "budget.maxIterations": "--max-iterations N",
    "models.artisan": "--artisan MODEL", "models.librarian": "--librarian MODEL", "models.critic": "--critic MODEL",
    "testTimeoutSeconds": "--test-timeout S", "projectEnv": "--no-project-env", "apply": "--dry-run",
}


def flags_given(args: argparse.Namespace) -> dict[str, Any]:
    """The flags the user gave, under their run-settings keys (flags left out say nothing)."""
    given: dict[str, Any] = {
        "test": args.test, "simpleIterations": args.simple, "mode": "full" if args.full else None,
        "escalate": False if args.no_escalate else None,
        "tierConfig": str(Path(args.tier_config).resolve()) if args.tier_config else None,  # relative to the cwd
        "testTimeoutSeconds": args.test_timeout, "projectEnv": False if args.no_project_env else None,
        "learn": True if getattr(args, "learn", None) else None,
        "apply": False if args.dry_run else None,
        "budget": {"maxCostUsd": args.max_budget, "maxDurationMinutes": args.max_duration,
                   "maxIterations": args.max_iterations},
        "models": {role: getattr(args, role) for role in ("artisan", "librarian", "critic")},
    }
    given["budget"] = {k: v for k, v in given["budget"].items() if v is not None}
    given["models"] = {k: v for k, v in given["models"].items() if v is not None}
    return {k: v for k, v in given.items() if v is not None and v != {}}


def flags_layer(args: argparse.Namespace):
    """(the layer, one problem per bad flag). The CLI is strict: the caller reports the problems with every
    other configuration problem and exits 2."""
    from micro_agent.run_settings import RunSettings, forgiving_layer

    layer, dropped = forgiving_layer(RunSettings, flags_given(args))
    problems = []
    for loc, why in dropped:
        key = ".".join(str(part) for part in loc)
        problems.append(f"{FLAG_OF.get(key, key)}: {why}")
    return layer, problems
