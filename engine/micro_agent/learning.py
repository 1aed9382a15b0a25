"""`learn: true`: start a run at the tier that has solved this kind of failure before.

The rule (docs/learning.md):

1. History is the finished runs in the audit database. A tier is known by its name and artisan model.
   The *scope* is this target when some tier of the chain has solved it before, else the whole project.
2. Walking the chain from the first tier, a tier is skipped when, in that scope, it was tried at least
   MIN_TRIES times, never solved anything, and a later tier of the chain has solved something there.
   The walk stops at the first tier that is not skipped: the run starts there.
3. So the user's first tier is never skipped on thin history (fewer than MIN_TRIES tries), nor when it
   has solved anything in scope, nor when no later tier would do better. No history: the chain as it is.

`choose` is the pure rule; `apply` reads the database and returns the request with its chain cut and a
note for the run header that says why it starts where it does.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .audit import open_db
from .config import RunRequest, Tier
from .stats import solved_here, tier_runs

MIN_TRIES = 3


@dataclass
class Record:
    tries: int = 0
    solves: int = 0


History = dict[tuple[str, str], Record]  # (tier name, artisan model) → what it did


def tier_key(tier: Tier) -> tuple[str, str]:
    return tier.name, tier.models.artisan


def history(conn: sqlite3.Connection, target: str | None = None) -> History:
    """What each tier did on `target` (None: on every target)."""
    found: History = {}
    for row in tier_runs(conn, target=target):
        record = found.setdefault((row["tier"], row["model"]), Record())
        record.tries += 1
        record.solves += solved_here(row)
    return found


def choose(tiers: list[Tier], target: str, on_target: History, in_project: History,
           min_tries: int = MIN_TRIES) -> tuple[int, str]:
    """(index of the tier to start at, why) by the rule above."""
    keys = [tier_key(t) for t in tiers]
    if any(on_target.get(k, Record()).solves for k in keys):
        scope, where = on_target, target
    elif any(in_project.get(k, Record()).solves for k in keys):
        scope, where = in_project, "this project"
    else:
        return 0, f"learn: no tier of this chain has solved {target} or anything else here yet; starting at the first"

    def record(index: int) -> Record:
        return scope.get(keys[index], Record())

    start, skipped = 0, []
    while start < len(tiers) - 1:
        tally = record(start)
        later_solved = any(record(i).solves for i in range(start + 1, len(tiers)))
        if tally.tries >= min_tries and tally.solves == 0 and later_solved:
            skipped.append(f"{tiers[start].name} (solved 0 of {tally.tries} in {where})")
            start += 1
            continue
        break
    chosen = record(start)
    solved = f"solved {chosen.solves} of {chosen.tries} run(s) in {where}"
    if not skipped:
        if chosen.solves:
            why = solved
        elif chosen.tries < min_tries:
            why = f"only {chosen.tries} run(s) in {where}, fewer than the {min_tries} needed to skip it"
        else:
            why = f"no later tier has solved anything in {where}"
        return 0, f"learn: starting at the first tier, {tiers[0].name}: {why}"
    return start, (f"learn: starting at tier {start + 1}, {tiers[start].name} ({solved}); skipped "
                   + ", ".join(skipped))


def apply(request: RunRequest, db_path: Path | None, min_tries: int = MIN_TRIES) -> RunRequest:
    """The request with its chain starting at the learned tier and `start_note` saying why."""
    if db_path is None or not Path(db_path).is_file():
        return request.model_copy(update={"start_note": "learn: no audit history yet; starting at the first tier"})
    try:
        conn = open_db(db_path, readonly=True)
        try:
            on_target, in_project = history(conn, request.target), history(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return request.model_copy(update={"start_note": f"learn: the audit log cannot be read ({exc}); "
                                                        "starting at the first tier"})
    start, why = choose(request.tiers, request.target, on_target, in_project, min_tries)
    return request.model_copy(update={"tiers": request.tiers[start:], "start_note": why})
