"""The language server's pure parts: edits, diagnostics, settings, code actions, the run registry,
progress wording, argument parsing and the debounced test watcher."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from lsp_support import apply_text_edits
from micro_agent.events import (AgentCalling, Escalated, IterationStarted, RunStarted, TestsFinished, TierPlan,
                                TierStarted)
from micro_agent.reports import RunReport, TestFailure, TestReport
from micro_agent_lsp.actions import code_actions
from micro_agent_lsp.arguments import BadArguments, RunArgs, parse_arguments
from micro_agent_lsp.bridge import end_message, finished_message, finished_summary, progress_message
from micro_agent_lsp.diagnostics import (FailureSite, failure_sites, name_candidates, site_diagnostics,
                                         definition_line)
from micro_agent_lsp.edits import FileChange, line_edits, split_lines, workspace_edit
from micro_agent_lsp.runs import ActiveRun, RunAlreadyInProgress, RunRegistry
from micro_agent_lsp.editor_settings import merge, parse_settings, section_of
from micro_agent_lsp.testwatch import TestWatcher

# ---------------------------------------------------------------- edits


@pytest.mark.parametrize("old,new", [
    ("a\nb\nc\n", "a\nB\nc\n"),
    ("a\nb\nc", "a\nb\nc\nd\n"),  # no newline at the end, then lines added
    ("a\nb\nc", "a\nb"),  # the last line removed
    ("x = 1\r\ny = 2\r\n", "x = 1\r\ny = 3\r\n"),  # CRLF kept
    ("s = 'é😀'\nend", "s = 'é😀!'\nend"),  # characters beyond one utf-16 unit
    ("", "new file\n"),
    ("all\ngone\n", ""),
    ("def f():\n    return 1\n" * 3, "def f():\n    return 2\n" + "def f():\n    return 1\n" * 2),
])
def test_line_edits_turn_the_old_text_into_the_new(old, new):
    edits = line_edits(old, new)
    assert apply_text_edits(old, edits) == new
    assert all(e.range.start.character == 0 or e.range.start.line == len(split_lines(old)) - 1 for e in edits)


def test_line_edits_touch_only_the_lines_that_changed():
    old = "".join(f"line {i}\n" for i in range(100))
    [edit] = line_edits(old, old.replace("line 50\n", "line fifty\n"))
    assert (edit.range.start.line, edit.range.end.line, edit.new_text) == (50, 51, "line fifty\n")


def test_the_end_of_a_file_without_a_final_newline_is_measured_in_the_client_units():
    [edit] = line_edits("a\n😀😀", "a\nb\n")
    assert edit.range.end == types.Position(line=1, character=4)  # two surrogate pairs
    [edit] = line_edits("a\n😀😀", "a\nb\n", types.PositionEncodingKind.Utf32)
    assert edit.range.end == types.Position(line=1, character=2)


def test_workspace_edit_is_versioned_where_the_client_supports_document_changes():
    change = FileChange(uri="file:///p/calc.py", old_text="a - b\n", new_text="a + b\n", version=7)
    versioned = workspace_edit([change], document_changes=True)
    [doc_edit] = versioned.document_changes
    assert doc_edit.text_document.version == 7 and doc_edit.edits[0].new_text == "a + b\n"
    plain = workspace_edit([change], document_changes=False)
    assert list(plain.changes) == ["file:///p/calc.py"] and plain.document_changes is None


# ---------------------------------------------------------------- diagnostics

PY_TESTS = "import calc\n\n\nclass TestCalc:\n    def test_add(self):\n        assert calc.add(2, 3) == 5\n"
JS_TESTS = "import { add } from './math';\n\ndescribe('math', () => {\n  it(\"adds two numbers\", () => {\n" \
           "    expect(add(2, 3)).toBe(5);\n  });\n});\n"
RS_TESTS = "use calc::add;\n\n#[test]\nfn adds() {\n    assert_eq!(add(2, 3), 5);\n}\n"


@pytest.mark.parametrize("text,name,line", [
    (PY_TESTS, "tests/test_calc.py::TestCalc::test_add", 4),
    (PY_TESTS, "tests.test_calc.TestCalc.test_add", 4),
    (PY_TESTS, "tests/test_calc.py::test_add[1-2]", 4),
    (JS_TESTS, "math > adds two numbers", 3),
    (RS_TESTS, "adds", 3),
    (RS_TESTS, "tests::adds", 3),
    (PY_TESTS, "test_missing", None),
])
def test_a_failing_test_is_found_where_it_is_defined(text, name, line):
    assert definition_line(text, name) == line


def test_name_candidates_go_from_the_full_name_to_the_test_itself():
    assert name_candidates("tests/test_calc.py::TestCalc::test_add[x]") == [
        "tests/test_calc.py::TestCalc::test_add", "test_add"]
    assert name_candidates("math > adds 1.5") == ["math > adds 1.5", "adds 1.5"]


def _report(*failures: TestFailure, infra_error: str | None = None) -> TestReport:
    return TestReport(passed=False, failures=list(failures), infra_error=infra_error)


def test_failure_sites_locate_the_assertion_and_the_definition(tmp_path: Path):
    texts = {"tests/test_calc.py": PY_TESTS}
    pytest_message = ("    def test_add(self):\n>       assert calc.add(2, 3) == 5\nE       assert -1 == 5\n"
                      "E        +  where -1 = add(2, 3)\n\ntests/test_calc.py:6: AssertionError")
    report = _report(
        TestFailure(name="tests/test_calc.py::TestCalc::test_add", file="tests/test_calc.py", line=6,
                    message=pytest_message),
        TestFailure(name="tests/test_calc.py::TestCalc::test_add", file=str(tmp_path / "tests/test_calc.py"),
                    line=None, message="no line"),
        TestFailure(name="test_add", file=None, line=None, message=""),  # no location at all
    )
    sites = failure_sites(report, tmp_path, texts.get, ["tests/test_calc.py"])
    assert [(s.file, s.line, s.def_line) for s in sites] == [("tests/test_calc.py", 5, 4)] * 1 + [
        ("tests/test_calc.py", 4, 4), ("tests/test_calc.py", 4, 4)]
    assert sites[0].message == "assert -1 == 5\n +  where -1 = add(2, 3)"  # pytest's explanation first
    assert sites[2].message == "test_add failed"
    assert sites[0].lines == {4, 5}


def test_a_run_that_could_not_start_is_shown_on_the_test_file(tmp_path: Path):
    [site] = failure_sites(_report(infra_error="command not found: pytest"), tmp_path, {}.get, ["tests/test_x.py"])
    assert (site.file, site.line, site.test) == ("tests/test_x.py", 0, "")
    assert site.message == "The tests could not run: command not found: pytest"


def test_site_diagnostics_cover_the_failing_line_without_its_indent():
    text = "def test_é():\n    assert 'é😀' == 1\n"
    site = FailureSite("t.py", "t.py::test_é", 1, 0, "assert False")
    [diagnostic] = site_diagnostics([site], text)
    assert diagnostic.range == types.Range(start=types.Position(line=1, character=4),
                                           end=types.Position(line=1, character=21))  # 😀: 2 units
    assert diagnostic.source == "micro-agent" and diagnostic.code == "test_é"
    assert diagnostic.severity == types.DiagnosticSeverity.Error


# ---------------------------------------------------------------- settings


def test_bad_settings_are_named_and_dropped_the_rest_applies():
    settings, problems = parse_settings({
        "models": {"artisan": "openai/x", "critic": "not a model"},
        "budget": {"maxCostUsd": -1, "maxIterations": 7},
        "runTestsOnSave": "often", "colour": "blue", "mode": "simple", "simple": 0,
    })
    assert settings.models.artisan == "openai/x" and settings.models.critic is None
    assert settings.budget.max_iterations == 7 and settings.budget.max_cost_usd is None
    assert settings.run_tests_on_save is True and settings.mode == "simple" and settings.simple_iterations is None
    named = sorted(p.split(":")[0] for p in problems)
    assert named == ["microAgent.budget.maxCostUsd", "microAgent.colour", "microAgent.models.critic",
                     "microAgent.runTestsOnSave", "microAgent.simple", "microAgent.simpleIterations"]
    renamed = [p for p in problems if p.startswith("microAgent.simple:")]
    assert renamed == ["microAgent.simple: renamed microAgent.simpleIterations (the number of simple-mode iterations); "
                       "using its value — rename the setting"]
    assert all(p.endswith("using the default") for p in problems if p not in renamed)


def test_settings_come_from_the_microagent_section_merged_deeply():
    init = section_of({"microAgent": {"models": {"artisan": "openai/a", "critic": "openai/c"}}})
    configured = {"models": {"artisan": "openai/b"}, "testCommand": "make test"}
    settings, problems = parse_settings(merge(init, configured))
    assert problems == []
    assert (settings.models.artisan, settings.models.critic, settings.test_command) == ("openai/b", "openai/c",
                                                                                          "make test")
    assert parse_settings("yes")[1] == ["microAgent: expected an object of settings, got str"]
    unset = parse_settings({"runTestsOnSave": None, "models": {"artisan": None}, "budget": None})
    assert unset == (parse_settings({})[0], [])  # null is "not set", as VS Code sends it


# ---------------------------------------------------------------- code actions


def _range(line: int) -> types.Range:
    return types.Range(start=types.Position(line=line, character=0), end=types.Position(line=line, character=3))


def test_fix_is_offered_on_failing_test_lines_and_on_our_diagnostics():
    [fix] = code_actions("file:///t.py", _range(4), [], {4, 5}, run_in_progress=False)
    assert fix.title == "Fix with Micro Agent" and fix.kind == types.CodeActionKind.QuickFix
    assert fix.command.arguments == [{"uri": "file:///t.py", "line": 4}]
    assert code_actions("file:///t.py", _range(9), [], {4, 5}, run_in_progress=False) == []
    ours = types.Diagnostic(range=_range(9), message="boom", source="micro-agent")
    theirs = types.Diagnostic(range=_range(9), message="unused import", source="ruff")
    [fix] = code_actions("file:///t.py", _range(9), [theirs, ours], set(), run_in_progress=False)
    assert fix.diagnostics == [ours]
    assert code_actions("file:///t.py", _range(9), [theirs], set(), run_in_progress=False) == []


def test_while_a_run_goes_on_escalate_and_cancel_are_offered_instead():
    actions = code_actions("file:///t.py", _range(4), [], {4}, run_in_progress=True)
    assert [(a.title, a.command.command) for a in actions] == [
        ("Escalate Micro Agent run", "microAgent.escalate"), ("Cancel Micro Agent run", "microAgent.cancel")]
    commands = code_actions("file:///t.py", _range(4), [], {4}, run_in_progress=True, literal_support=False)
    assert all(isinstance(c, types.Command) for c in commands)


# ---------------------------------------------------------------- runs and progress


def _run(target_path: str = "/p/calc.py", tests: tuple[str, ...] = ("/p/tests/test_calc.py",)) -> ActiveRun:
    return ActiveRun(run_id="r1234567", root=Path("/p"), target="calc.py", uri="file://" + target_path,
                     target_path=target_path, test_paths=list(tests))


def test_one_run_per_target_found_by_its_target_or_its_tests():
    registry = RunRegistry()
    run = _run()
    registry.add(run)
    with pytest.raises(RunAlreadyInProgress, match="already fixing calc.py"):
        registry.add(_run())
    assert registry.find("/p/tests/test_calc.py") is run and registry.find("/p/other.py") is None
    assert registry.escalate("/p/tests/test_calc.py") is run and run.controls.take_skip_tier()
    assert registry.cancel("/p/calc.py") is run and run.controls.cancelled.is_set()
    registry.finish(run, {"runId": run.run_id, "outcome": "interrupted"})
    assert registry.find("/p/calc.py") is None
    assert registry.status("/p/tests/test_calc.py") == {"running": [], "lastFinished": {
        "runId": "r1234567", "outcome": "interrupted"}}


def test_progress_lines_follow_the_run():
    run = _run()
    plan = TierPlan(index=0, name="simple", mode="simple", max_iterations=5, models={"artisan": "openai/a"})
    events = [
        RunStarted(run_id="r", target="calc.py", objective="", test_command="pytest", root="/p", tiers=[
            plan, TierPlan(index=1, name="full", mode="full", max_iterations=5, models={})]),
        TestsFinished(run_id="r", report=_report(TestFailure(name="a"), TestFailure(name="b"))),
        TierStarted(run_id="r", tier=plan),
        IterationStarted(run_id="r", tier_index=0, tier_name="simple", mode="simple", iteration=2,
                         max_iterations=5, total_iterations=2, cost_so_far_usd=0.0123),
        AgentCalling(run_id="r", tier_index=0, iteration=2, role="artisan", model="openai/a", prompt_chars=10),
        Escalated(run_id="r", from_tier="simple", to_tier="full", reason="5 iterations without a pass", summary="",
                  remaining_cost_usd=None, remaining_minutes=None),
    ]
    lines = []
    for event in events:
        run.observe(event)
        lines.append(progress_message(run, event))
    assert lines == ["running the tests", "initial run: 2 failing tests", "simple mode: up to 5 iterations",
                     "simple mode · iteration 2/5 · $0.0123",
                     "simple mode · iteration 2/5 · artisan (openai/a) · $0.0123",
                     "escalating simple → full: 5 iterations without a pass"]
    assert run.status()["iteration"] == 2 and run.status()["costUsd"] == 0.0123


def test_end_and_closing_messages_say_how_it_went():
    solved = RunReport(run_id="r", target="calc.py", test_command="t", outcome="success", solved_by_tier="full",
                       total_iterations=3, total_cost_usd=0.02, changed_files={"calc.py": "x"})
    assert end_message(solved) == "fixed by full in 3 iterations · $0.0200"
    assert finished_message(solved, "calc.py") == (types.MessageType.Info,
                                                   "Micro Agent fixed calc.py in 3 iterations (tier full), $0.0200.")
    spent = solved.model_copy(update={"outcome": "budget_exhausted", "message": "Budget exhausted: $0.50 spent"})
    kind, text = finished_message(spent, "calc.py")
    assert kind == types.MessageType.Warning and "budget exhausted" in text and "$0.50 spent" in text


def test_the_editor_says_each_outcome_with_the_engine_s_one_label():
    report = RunReport(run_id="r", target="calc.py", test_command="t", outcome="failed", total_iterations=2,
                       total_cost_usd=0.01)
    assert end_message(report) == "not solved after 2 iterations · $0.0100"
    assert finished_message(report.model_copy(update={"outcome": "error"}), "calc.py")[0] == types.MessageType.Error
    summary = finished_summary(_run(), report.model_copy(update={"outcome": "interrupted"}))
    assert (summary["outcome"], summary["outcomeLabel"]) == ("interrupted", "cancelled")


# ---------------------------------------------------------------- arguments and the test watcher


def test_command_arguments_take_an_object_or_uri_and_line():
    assert parse_arguments(RunArgs, "microAgent.run", ({"uri": "file:///a.py", "testCommand": "make"},)).test_command \
        == "make"
    assert parse_arguments(RunArgs, "microAgent.run", ("file:///a.py", 3)).line == 3
    with pytest.raises(BadArguments, match="microAgent.run: mode"):
        parse_arguments(RunArgs, "microAgent.run", ({"uri": "file:///a.py", "mode": "turbo"},))


async def test_the_watcher_debounces_and_runs_one_at_a_time_per_key():
    watcher = TestWatcher(delay_s=0.05)
    runs: list[str] = []
    release = asyncio.Event()

    def job(tag: str):
        async def go() -> None:
            runs.append(tag)
            await release.wait()
        return go

    for tag in ("save1", "save2", "save3"):  # quick saves: one run, with the last job
        watcher.schedule("k", job(tag))
    await asyncio.sleep(0.15)
    assert runs == ["save3"]
    watcher.schedule("k", job("during1"))
    watcher.schedule("k", job("during2"))
    await asyncio.sleep(0.15)
    assert runs == ["save3"]  # still running: the next one waits
    release.set()
    await asyncio.wait_for(watcher.idle(), 2)
    assert runs == ["save3", "during2"]
