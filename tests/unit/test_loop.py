"""The loop's branches, in process: the real engine with the scripted model and scripted tests (scripted.py).

No model HTTP and no test process: only the run's git working copy is real. Each run takes a fraction
of a second, so every branch of escalation, budget, critic, skip-tier, cancel and provider trouble is here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CALC_BUGGY, CALC_FIXED, fenced, make_repo
from micro_agent import engine
from micro_agent.budget import BudgetExhausted
from micro_agent.config import Budget, RunRequest, Tier
from micro_agent.controls import Controls
from micro_agent.events import AgentCalled, Escalated, Event, IterationFinished, RunFinished, TierStarted
from micro_agent.outcomes import OUTCOMES, RunStopped
from micro_agent.reports import RunReport
from micro_agent.scripted import Scripted, ScriptedModel, ScriptedTests, unavailable

STILL_WRONG = CALC_BUGGY.replace("return a - b", "return a * b")  # a change, but the tests still fail
NO_LIMITS = {"maxCostUsd": None, "maxDurationMinutes": None, "maxIterations": None}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "proj", {"calc.py": CALC_BUGGY, "tests/test_calc.py": "def test_add(): ...\n",
                                         ".gitignore": ".micro-agent/\n"})


def tier(name: str, mode: str, iterations: int, model: str) -> Tier:
    return Tier(name=name, mode=mode, maxIterations=iterations, models={"artisan": model})


def request(root: Path, *tiers: Tier, **budget) -> RunRequest:
    return RunRequest(root=root, target="calc.py", test_command="scripted", tiers=list(tiers),
                      budget=Budget(**{**NO_LIMITS, **budget}), project_env=False)


def add_fixed(code: str) -> bool:
    return "return a + b" in code


def run(req: RunRequest, model: ScriptedModel, controls: Controls | None = None,
        tests: ScriptedTests | None = None) -> tuple[RunReport, list[Event]]:
    events: list[Event] = []
    report = engine.run(req, events.append, controls, model=model, tests=tests or ScriptedTests("calc.py", add_fixed))
    return report, events


def of(kind: type, events: list[Event]) -> list:
    return [e for e in events if isinstance(e, kind)]


def test_a_failed_tier_escalates_with_its_summary_and_the_next_tier_solves_it(project):
    model = ScriptedModel({"m/simple": [fenced(STILL_WRONG), fenced(STILL_WRONG)],
                           "m/full": ["calc.py is all there is", fenced(CALC_FIXED), "looks right"]})
    report, events = run(request(project, tier("simple", "simple", 2, "m/simple"),
                                 tier("full", "full", 2, "m/full")), model)
    assert report.outcome == "success" and report.solved_by_tier == "full" and report.applied
    assert (project / "calc.py").read_text() == CALC_FIXED
    assert [t.iterations for t in report.tiers] == [2, 1]
    escalated, = of(Escalated, events)
    assert (escalated.from_tier, escalated.to_tier) == ("simple", "full")
    assert escalated.reason == "2 iterations ran without passing tests"
    full_started = of(TierStarted, events)[1]
    assert "=== TIER 1 FAILURES: simple (2 iterations) ===" in full_started.escalation_context
    assert "test_target" in full_started.escalation_context  # the first tier's failed test, in its summary
    full_artisan = next(c for c in model.calls if c.model_name == "m/full" and c.role == "artisan")
    assert "TIER 1 FAILURES: simple" in "".join(m["content"] for m in full_artisan.messages)
    assert model.roles_called() == ["artisan", "artisan", "librarian", "artisan", "critic"]


def test_the_budget_spent_at_the_hand_off_stops_before_the_next_tier(project):
    model = ScriptedModel({"m/a": [fenced(STILL_WRONG)] * 2, "m/b": [fenced(CALC_FIXED)]})
    report, events = run(request(project, tier("a", "simple", 2, "m/a"), tier("b", "simple", 2, "m/b"),
                                 maxIterations=2), model)
    assert report.outcome == "budget_exhausted" and report.exit_code == 3
    assert report.message == "Budget exhausted before escalation could start: iteration limit reached: 2 iterations."
    assert not of(Escalated, events) and [t.iterations for t in report.tiers] == [2, 0]
    assert (project / "calc.py").read_text() == CALC_BUGGY


def test_the_cost_cap_stops_the_run_and_keeps_what_was_spent(project):
    model = ScriptedModel({"m/a": [Scripted(fenced(STILL_WRONG), cost_usd=0.03)] * 5})
    report, events = run(request(project, tier("a", "simple", 5, "m/a"), maxCostUsd=0.05), model)
    assert report.outcome == "budget_exhausted"
    assert report.message.startswith("Budget exhausted: cost limit reached: $0.0600 of $0.05")
    assert report.total_iterations == 2 and report.total_cost_usd == pytest.approx(0.06)
    assert [e.cost_usd for e in of(IterationFinished, events)] == pytest.approx([0.03, 0.03])


@pytest.mark.parametrize("failure", [unavailable("m/critic"),
                                     Scripted(raises=BudgetExhausted("time limit reached: 1 min (m/critic was still answering)"))])
def test_a_critic_that_fails_never_blocks_a_candidate_that_passed(project, failure):
    model = ScriptedModel({"librarian": ["calc.py"], "artisan": [fenced(CALC_FIXED)], "critic": [failure]})
    report, events = run(request(project, tier("full", "full", 2, "m/full")), model)
    assert report.outcome == "success" and report.total_iterations == 1
    critic = next(e for e in of(AgentCalled, events) if e.role == "critic")
    assert critic.error and critic.error.startswith(("m/critic: provider unreachable", "Budget exhausted: time limit"))


def test_the_budget_running_out_during_a_call_keeps_that_iteration(project):
    late = BudgetExhausted("time limit reached: 1 min (m/a was still answering)")
    model = ScriptedModel({"m/a": [Scripted(fenced(STILL_WRONG), cost_usd=0.01), late]})
    report, events = run(request(project, tier("a", "simple", 5, "m/a")), model)
    assert report.outcome == "budget_exhausted" and report.message == f"Budget exhausted: {late.reason}."
    finished = of(IterationFinished, events)
    assert [e.iteration for e in finished] == [1, 2] and finished[1].error_messages == [late.message]
    assert report.total_iterations == 2 and report.total_cost_usd == pytest.approx(0.01)


def test_a_critic_that_fails_on_a_candidate_that_failed_ends_the_tier(project):
    model = ScriptedModel({"librarian": ["calc.py"] * 2, "artisan": [fenced(STILL_WRONG)] * 2,
                           "critic": [unavailable("m/critic")]})
    report, _ = run(request(project, tier("full", "full", 2, "m/full")), model)
    assert report.outcome == "failed" and report.total_iterations == 1


def test_skip_tier_ends_the_tier_after_the_call_and_escalates(project):
    controls = Controls()
    model = ScriptedModel({"m/a": [Scripted(fenced(STILL_WRONG), then=controls.skip_tier)],
                           "m/b": [fenced(CALC_FIXED)]})
    report, events = run(request(project, tier("a", "simple", 3, "m/a"), tier("b", "simple", 3, "m/b")),
                         model, controls)
    assert report.outcome == "success" and report.solved_by_tier == "b"
    assert [t.iterations for t in report.tiers] == [1, 1]
    assert of(Escalated, events)[0].reason == "the user asked for the next tier"
    assert of(IterationFinished, events)[0].error_messages == ["the user asked for the next tier"]


def test_cancel_during_a_call_stops_the_run_and_leaves_the_files_alone(project):
    controls = Controls()
    model = ScriptedModel({"m/a": [Scripted(fenced(CALC_FIXED), then=controls.cancel)]})
    report, events = run(request(project, tier("a", "simple", 3, "m/a")), model, controls)
    assert report.outcome == "interrupted" and report.exit_code == 130
    assert report.message == "Interrupted: the user's files are unchanged."
    assert (project / "calc.py").read_text() == CALC_BUGGY
    assert isinstance(events[-1], RunFinished)


def test_an_unusable_reply_is_an_attempt_and_the_next_one_can_fix_it(project):
    model = ScriptedModel({"artisan": ["I would rewrite add, but I am not sure how.", fenced(CALC_FIXED)]})
    report, events = run(request(project, tier("a", "simple", 3, "m/a")), model)
    assert report.outcome == "success" and report.total_iterations == 2
    first = of(IterationFinished, events)[0]
    assert first.test_status == "error" and first.error_messages[0].startswith("unusable reply: ")


def test_a_model_that_is_unavailable_ends_its_tier_at_once(project):
    model = ScriptedModel({"m/down": [unavailable("m/down")], "m/up": [fenced(CALC_FIXED)]})
    report, events = run(request(project, tier("a", "simple", 5, "m/down"), tier("b", "simple", 5, "m/up")), model)
    assert report.outcome == "success" and [t.iterations for t in report.tiers] == [1, 1]
    assert of(Escalated, events)[0].reason == "model unavailable: m/down: provider unreachable (scripted)"


def test_no_model_answering_at_all_is_a_setup_error(project):
    model = ScriptedModel({})  # an empty script: every call is "unavailable"
    report, _ = run(request(project, tier("a", "simple", 5, "m/a"), tier("b", "simple", 5, "m/b")), model)
    assert report.outcome == "error" and report.exit_code == 2
    assert report.message.startswith("No model could be reached: m/a: the script has no answer left")
    assert "m/b" in report.message


def test_a_broken_test_command_asks_no_model(project):
    model = ScriptedModel({"*": [fenced(CALC_FIXED)]})
    tests = ScriptedTests("calc.py", add_fixed, infra_error="command not found: scripted")
    report, _ = run(request(project, tier("a", "simple", 3, "m/a")), model, tests=tests)
    assert report.outcome == "error" and "The test command is broken" in report.message
    assert model.calls == []


def test_tests_that_already_pass_ask_no_model(project):
    model = ScriptedModel({"*": [fenced(CALC_FIXED)]})
    report, _ = run(request(project, tier("a", "simple", 3, "m/a")), model,
                    tests=ScriptedTests("calc.py", lambda code: True))
    assert report.outcome == "success" and report.message == "The tests already pass: nothing to fix."
    assert model.calls == []


def test_every_model_gets_the_messages_redacted(project):
    key = "sk-proj-" + "a1B2" * 8
    (project / "calc.py").write_text(CALC_BUGGY + f'\nAPI_KEY = "{key}"\n')
    model = ScriptedModel({"*": [fenced(STILL_WRONG)]})
    run(request(project, tier("a", "simple", 1, "m/a")), model)
    sent = "".join(m["content"] for m in model.calls[0].messages)
    assert "def add" in sent and key not in sent


def test_every_stop_carries_its_outcome():
    from micro_agent.controls import RunInterrupted
    from micro_agent.runlock import RunInProgress
    from micro_agent.workspace import WorkspaceError

    stops = [BudgetExhausted("cost limit reached"), RunInterrupted(), WorkspaceError("no folder"),
             RunInProgress("calc.py", {"run_id": "r1"}, Path("x.lock")), engine.TestsBroken("broken"),
             engine.ModelUnavailable("none")]
    assert all(isinstance(stop, RunStopped) and stop.outcome in OUTCOMES and stop.message for stop in stops)
    assert [stop.outcome for stop in stops[:3]] == ["budget_exhausted", "interrupted", "error"]


def test_a_run_already_fixing_the_file_stops_this_one_with_what_to_do(project):
    from micro_agent.runlock import RunLock

    model = ScriptedModel({"*": [fenced(CALC_FIXED)]})
    with RunLock(project, "calc.py", "other-run"):
        report, _ = run(request(project, tier("a", "simple", 3, "m/a")), model)
    assert report.outcome == "error" and report.message.startswith("Another Micro Agent run is fixing calc.py")
    assert model.calls == [] and (project / "calc.py").read_text() == CALC_BUGGY


def test_a_working_copy_that_cannot_be_made_is_a_workspace_error(project):
    req = request(project, tier("a", "simple", 3, "m/a")).model_copy(update={"run_id": "two..dots"})
    report, _ = run(req, ScriptedModel({}))
    assert report.outcome == "error" and report.message.startswith("run id 'two..dots' is not usable in a git ref")


def test_a_full_iteration_carries_the_librarians_analysis_to_its_event(project):
    model = ScriptedModel({"m/full": ["ANALYSIS: add subtracts instead of adding.\nFILES: calc.py",
                                      fenced(CALC_FIXED), "looks right"]})
    report, events = run(request(project, tier("full", "full", 1, "m/full")), model)
    assert report.outcome == "success"
    finished, = of(IterationFinished, events)
    assert finished.librarian_notes == "add subtracts instead of adding."
