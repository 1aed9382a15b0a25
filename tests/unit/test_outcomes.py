"""The one outcome table (outcomes.py): every outcome word has its label, exit status, colour and severity."""

from __future__ import annotations

from typing import get_args

from micro_agent.outcomes import EXIT_CODES, OUTCOMES, Outcome, outcome_colour, outcome_label
from micro_agent.reports import RunReport


def test_every_outcome_word_has_one_row_and_the_exit_statuses_hold():
    assert set(OUTCOMES) == set(get_args(Outcome))
    assert EXIT_CODES == {"success": 0, "failed": 1, "error": 2, "budget_exhausted": 3, "solved_not_applied": 4,
                          "interrupted": 130}
    report = RunReport(run_id="r", target="t.py", test_command="t", outcome="budget_exhausted")
    assert report.exit_code == 3


def test_labels_say_the_outcome_and_unknown_words_pass_through():
    assert [outcome_label(w) for w in ("success", "failed", "budget_exhausted", "interrupted")] == [
        "solved", "not solved", "budget exhausted", "cancelled"]
    assert outcome_label("a_newer_word") == "a_newer_word" and outcome_label(None) == "unfinished"
    assert outcome_colour("success") == "green" and outcome_colour(None, "dim") == "dim"
