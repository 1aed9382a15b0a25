"""The autopilot's pure parts: where a failure points, policy globs, webhook decisions, the config section."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from micro_agent.autopilot_config import parse_duration
from micro_agent.config import ConfigError
from micro_agent.run_settings import load_project_config
from micro_agent.reports import TestFailure
from micro_agent_autopilot.proposal import changed_lines, glob_regex
from micro_agent_autopilot.service import verify_signature, wants_pass
from micro_agent.blame import group, target_of

TRACEBACK = """def test_total():
>       assert total([1, 2]) == 3

tests/test_report.py:4:
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _
src/report.py:5: in total
    return helpers.add_all(values)
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _
src/helpers.py:2: in add_all
    return sum(v.amount for v in values)
E   AttributeError: 'int' object has no attribute 'amount'

src/helpers.py:2: AttributeError
"""


@pytest.fixture
def project(tmp_path):
    for rel in ("src/report.py", "src/helpers.py", "src/calc.py", "tests/test_report.py", "tests/test_calc.py",
                "tests/test_misc.py", "tests/helpers.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    (tmp_path / "tests/test_calc.py").write_text("from src.calc import add\n")
    return tmp_path


def test_the_deepest_project_frame_that_is_not_test_code_is_the_target(project):
    failure = TestFailure(name="tests/test_report.py::test_total", file="tests/test_report.py", message=TRACEBACK)
    assert target_of(failure, project) == ("src/helpers.py", "traceback")
    in_test_helper = TRACEBACK.replace("src/helpers.py", "tests/helpers.py")
    assert target_of(failure.model_copy(update={"message": in_test_helper}), project) == ("src/report.py", "traceback")


def test_without_a_source_frame_the_naming_convention_names_the_target(project):
    failure = TestFailure(name="tests/test_calc.py::test_add", file="tests/test_calc.py",
                          message="    def test_add():\n>       assert add(2, 3) == 5\nE   assert -1 == 5\n\n"
                                  "tests/test_calc.py:5: AssertionError")
    assert target_of(failure, project) == ("src/calc.py", "naming")


def test_a_test_no_target_can_be_named_for_is_reported_not_guessed(project):
    failure = TestFailure(name="tests/test_misc.py::test_x", file="tests/test_misc.py", message="E   assert False")
    targets, unmapped = group([failure], project)
    assert targets == [] and unmapped == [failure]


def test_failures_group_by_target(project):
    a = TestFailure(name="tests/test_report.py::test_total", file="tests/test_report.py", message=TRACEBACK)
    b = a.model_copy(update={"name": "tests/test_report.py::test_total_again"})
    targets, unmapped = group([a, b], project)
    assert [(t.path, t.tests) for t in targets] == [("src/helpers.py", [a.name, b.name])] and unmapped == []


def test_allowed_path_globs():
    assert glob_regex("src/**").match("src/a/b.py") and not glob_regex("src/**").match("lib/a.py")
    assert glob_regex("*.py").match("a.py") and not glob_regex("*.py").match("src/a.py")
    assert glob_regex("**/*.py").match("a.py") and glob_regex("**/*.py").match("x/y/a.py")


def test_changed_lines_counts_additions_and_removals_not_headers():
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n+c\n"
    assert changed_lines(diff) == 3


def test_webhook_decisions():
    failed = {"action": "completed", "workflow_run": {"head_branch": "main", "conclusion": "failure"}}
    assert wants_pass("workflow_run", failed, "main")[0] is True
    assert wants_pass("workflow_run", {**failed, "action": "requested"}, "main")[0] is False
    ok = {"action": "completed", "workflow_run": {"head_branch": "main", "conclusion": "success"}}
    assert wants_pass("workflow_run", ok, "main")[0] is False
    assert wants_pass("push", {}, "main")[0] is False


def test_webhook_signature():
    body = b'{"a": 1}'
    good = "sha256=" + hmac.new(b"s", body, hashlib.sha256).hexdigest()
    assert verify_signature("s", body, good) and not verify_signature("s", body, good[:-1] + "0")
    assert not verify_signature("s", body, None) and verify_signature(None, body, None)


def test_durations():
    assert parse_duration("15m") == 900 and parse_duration("30s") == 30 and parse_duration("2h") == 7200
    assert parse_duration(5) == 300
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_every_problem_of_the_autopilot_section_at_once(tmp_path):
    path = tmp_path / "micro-agent.yml"
    path.write_text("autopilot:\n  schedule: soon\n  base: ''\n  forge: {kind: gitlab, repo: a/b}\n"
                    "  policy: {maxConcurrentRuns: 0, maxDailyCostUsd: -1}\n")
    with pytest.raises(ConfigError) as caught:
        load_project_config(path)
    text = "\n".join(caught.value.problems)
    for key in ("autopilot.schedule", "autopilot.base", "autopilot.forge.kind", "autopilot.policy.maxConcurrentRuns",
                "autopilot.policy.maxDailyCostUsd"):
        assert key in text, (key, text)


def test_an_empty_autopilot_section_is_the_defaults(tmp_path):
    path = tmp_path / "micro-agent.yml"
    path.write_text("autopilot:\n")
    assert load_project_config(path).autopilot is None


def test_the_commit_message_says_what_the_librarians_analysis_found():
    from micro_agent.events import IterationFinished
    from micro_agent.reports import RunReport, TierResult
    from micro_agent_autopilot.proposal import Evidence, Failing, commit_message

    attempt = IterationFinished(run_id="r", tier_index=0, tier_name="full", tier_mode="full", model="m",
                                iteration=1, change_summary="calc.py: a - b became a + b", test_status="passed",
                                failed_tests=[], error_messages=[], cost_usd=0.0, duration_ms=1,
                                librarian_notes="add subtracts instead of adding.")
    report = RunReport(run_id="r", target="calc.py", test_command="t", outcome="success", solved_by_tier="full",
                       tiers=[TierResult(index=0, name="full", mode="full", models={"artisan": "m"},
                                         max_iterations=1, iterations=1, solved=True)])
    message = commit_message("calc.py", [Failing("tests/test_calc.py::test_add", "assert -1 == 5")], report,
                             Evidence([attempt], []))
    analysis = message.split("What the analysis found:")[1].split("What changed:")[0]
    assert "The librarian's analysis (full mode):" in analysis and "add subtracts instead of adding." in analysis
