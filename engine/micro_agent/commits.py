"""The subjects of a run's commits on `refs/micro-agent/<run_id>`: written here and parsed here, nowhere else.

    micro-agent <run_id>: seed                          the user's files as the run found them
    micro-agent <run_id> tier <i> iteration <n>         one candidate

The audit commands (`audit show`) and the autopilot's undo read them back with `parse_candidate()` (or
`CANDIDATE_SUBJECT` and `candidate_prefix()` where a log is streamed).
"""

from __future__ import annotations

import re
from typing import NamedTuple

CANDIDATE_SUBJECT = re.compile(r"^micro-agent (?P<run>\S+) tier (?P<tier>\d+) iteration (?P<iteration>\d+)$")


class CandidateSubject(NamedTuple):
    run_id: str
    tier: int
    iteration: int


def seed_message(run_id: str) -> str:
    return f"micro-agent {run_id}: seed"


def candidate_message(run_id: str, tier: int, iteration: int) -> str:
    return f"micro-agent {run_id} tier {tier} iteration {iteration}"


def candidate_prefix(run_id: str) -> str:
    """What every candidate subject of `run_id` starts with (the seed's subject does not)."""
    return f"micro-agent {run_id} "


def parse_candidate(subject: str) -> CandidateSubject | None:
    """The run, tier and iteration a candidate commit's subject names; None for any other subject."""
    match = CANDIDATE_SUBJECT.match(subject.strip())
    if match is None:
        return None
    return CandidateSubject(match["run"], int(match["tier"]), int(match["iteration"]))

