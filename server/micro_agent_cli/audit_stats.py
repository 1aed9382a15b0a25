"""`micro-agent audit stats`: per tier and model, and per target file, how often runs are solved and at what cost.

Part of the command-line face, next to audit_cli.py; the numbers come from micro_agent.stats.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone

from rich import box
from rich.console import Console
from rich.table import Table

from micro_agent.audit import iso_utc
from micro_agent.stats import Stats, compute

_SPAN = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>[hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def since(text: str) -> str:
    """`--since`: a span back from now (`12h`, `30d`, `2w`) or a date (`2026-01-31`); ISO-8601 UTC."""
    if match := _SPAN.match(text.strip()):
        span = timedelta(**{_UNITS[match["unit"]]: float(match["n"])})
        return iso_utc(datetime.now(timezone.utc) - span)
    try:
        return iso_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a span like 30d, 12h, 2w nor a date like 2026-01-31") \
            from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=since, metavar="SPAN", help="only runs started since: 30d, 12h, 2w or a date "
                                                                    "(default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "—" if value is None else fmt.format(value)


def _table(title: str, first: list[str]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in first:
        table.add_column(column, overflow="fold")
    for column in ("Runs", "Solved", "Mean iterations", "Cost", "Cost / solved", "Proposed", "Merged"):
        table.add_column(column, justify="right")
    return table


def _cells(t) -> list[str]:
    return [str(t.runs), f"{t.solved} ({_pct(t.solve_rate)})", _num(t.mean_iterations), f"${t.cost_usd:.4f}",
            _num(t.cost_per_solved_usd, "${:.4f}"), str(t.proposed), f"{t.merged} ({_pct(t.merge_rate)})"]


def render(console: Console, stats: Stats) -> None:
    if not stats.runs:
        when = f" since {stats.since}" if stats.since else ""
        console.print(f"No finished runs{when} in the audit log yet.", markup=False)
        return
    tiers = _table("Per tier and model", ["Tier", "Model"])
    for t in stats.tiers:
        tiers.add_row(t.tier, t.model, *_cells(t))
    targets = _table("Per target", ["Target"])
    for t in stats.targets:
        targets.add_row(t.target, *_cells(t))
    console.print(tiers)
    console.print(targets)
    console.print(f"{stats.runs} run(s), {stats.solved} solved, ${stats.cost_usd:.4f} in all"
                  + (f", since {stats.since}." if stats.since else "."), markup=False)


def run(console: Console, conn: sqlite3.Connection, args: argparse.Namespace) -> None:
    stats = compute(conn, args.since)
    if args.json:
        print(json.dumps(stats.as_dict(), indent=2))
    else:
        render(console, stats)
