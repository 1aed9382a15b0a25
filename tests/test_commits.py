"""The run's commit subjects: what the engine writes is what the audit commands and undo read back."""

from __future__ import annotations

from micro_agent.commits import (CANDIDATE_SUBJECT, CandidateSubject, candidate_message, candidate_prefix,
                                 parse_candidate, seed_message)


def test_a_candidate_subject_reads_back_as_what_was_written() -> None:
    subject = candidate_message("run-1.a_b", 2, 13)
    assert subject == "micro-agent run-1.a_b tier 2 iteration 13"
    assert parse_candidate(subject) == CandidateSubject("run-1.a_b", 2, 13)
    assert subject.startswith(candidate_prefix("run-1.a_b"))
    assert CANDIDATE_SUBJECT.match(subject)["iteration"] == "13"


def test_the_seed_and_the_users_commits_are_no_candidates() -> None:
    assert parse_candidate(seed_message("run-1")) is None
    assert not seed_message("run-1").startswith(candidate_prefix("run-1"))
    for subject in ("Fix the tier 2 iteration bug", "micro-agent run-1 tier x iteration 1", ""):
        assert parse_candidate(subject) is None
