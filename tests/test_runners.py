"""Test runners against real pytest, node, vitest, jest and cargo runs in temp dirs."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from micro_agent.controls import RunInterrupted
from micro_agent.runners import COLLECTION, COMPILE, run_tests, runner_name, select_runner
from micro_agent.runners.cargo import parse_output
from micro_agent.runners.jest import parse_report
from micro_agent.runners.vitest import parse_junit as parse_vitest_junit

FIXTURES = Path(__file__).parent / "fixtures" / "runners"

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def py_env() -> dict[str, str]:
    """`python` is this venv's interpreter; no third-party pytest plugins (faster, quieter)."""
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def is_alive(pid: int) -> bool:
    """A zombie waiting for an init that does not reap it counts as gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def gone_soon(pid: int, timeout: float = 2.0) -> bool:
    """SIGKILL is delivered asynchronously: give a loaded machine a moment to finish the process."""
    deadline = time.monotonic() + timeout
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not is_alive(pid)


def wait_for_file(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


# ---------------------------------------------------------------- pytest

MATHLIB = "def add(a, b):\n    return a - b\n"
MATH_TESTS = '''import pytest
from mathlib import add


def helper(x):
    assert x == 3, "helper says no"


def test_add():
    value = add(1, 2)
    assert value == 3


def test_helper():
    helper(add(1, 2))


class TestGroup:
    @pytest.mark.parametrize("a", [1, 2])
    def test_param(self, a):
        assert add(a, 0) == a


def test_passes():
    assert add(0, 0) == 0
'''


@pytest.fixture
def py_project(tmp_path: Path) -> Path:
    return write(tmp_path, {"mathlib.py": MATHLIB, "tests/test_math.py": MATH_TESTS})


def test_pytest_failures_carry_node_id_assertion_line_and_indented_message(py_project: Path, py_env):
    report = run_tests("python -m pytest -q", py_project, env=py_env)

    assert not report.passed and report.infra_error is None and report.status == "failed"
    assert report.exit_code == 1 and report.tests_run == 5
    by_name = {f.name: f for f in report.failures}
    assert set(by_name) == {"tests/test_math.py::test_add", "tests/test_math.py::test_helper"}
    add = by_name["tests/test_math.py::test_add"]
    assert (add.file, add.line) == ("tests/test_math.py", 11)
    # The code's indentation survives, the first source line included.
    assert "    def test_add():\n        value = add(1, 2)\n>       assert value == 3" in add.message
    assert "E       assert -1 == 3" in add.message
    helper = by_name["tests/test_math.py::test_helper"]
    assert helper.line == 6  # the failing assert inside the helper, not the call site
    assert "helper says no" in helper.message
    assert "2 failed, 3 passed" in report.output


def test_pytest_class_and_parametrized_ids(py_project: Path, py_env):
    (py_project / "mathlib.py").write_text("def add(a, b):\n    return a * b\n")
    report = run_tests("python -m pytest -q tests/test_math.py", py_project, env=py_env)

    names = sorted(f.name for f in report.failures)
    assert "tests/test_math.py::TestGroup::test_param[2]" in names
    param = next(f for f in report.failures if f.name.endswith("test_param[2]"))
    assert param.line == 21 and param.file == "tests/test_math.py"


def test_pytest_passing_run(py_project: Path, py_env):
    (py_project / "mathlib.py").write_text("def add(a, b):\n    return a + b\n")
    (py_project / "tests/test_math.py").write_text(MATH_TESTS.replace("== a\n", "== a + 0\n"))
    report = run_tests(f"{sys.executable} -m pytest -q", py_project, env=py_env)

    assert report.passed and report.status == "passed"
    assert report.failures == [] and report.exit_code == 0 and report.tests_run == 5
    assert report.command == f"{sys.executable} -m pytest -q"  # as given, without our reporter flags


def test_pytest_collection_error_points_at_the_broken_module(py_project: Path, py_env):
    (py_project / "mathlib.py").write_text("def add(a, b):\n    return a -\n")
    report = run_tests("python -m pytest -q", py_project, env=py_env)

    assert not report.passed and report.exit_code == 2
    assert report.infra_error is None  # the code can fix it; the engine compares with the initial run
    [failure] = report.failures
    assert failure.name == COLLECTION
    assert (failure.file, failure.line) == ("mathlib.py", 2)
    assert "SyntaxError" in failure.message and "from mathlib import add" in failure.message
    assert "site-packages" not in failure.message and "frozen importlib" not in failure.message


def test_pytest_broken_conftest_import_is_a_collection_failure(py_project: Path, py_env):
    write(py_project, {"conftest.py": "import mathlib\n", "mathlib.py": "def add(a, b):\n    return a -\n"})
    report = run_tests("python -m pytest -q", py_project, env=py_env)

    assert report.exit_code == 4 and report.infra_error is None
    [failure] = report.failures
    assert (failure.name, failure.file, failure.line) == (COLLECTION, "mathlib.py", 2)
    assert failure.message.startswith("ImportError while loading conftest")


def test_pytest_usage_error_and_no_tests_are_infra_errors(py_project: Path, py_env):
    usage = run_tests("python -m pytest -q --no-such-flag", py_project, env=py_env)
    assert usage.exit_code == 4 and usage.status == "error"
    assert usage.infra_error.startswith("pytest usage error:") and "--no-such-flag" in usage.infra_error

    missing = run_tests("python -m pytest -q tests/test_gone.py", py_project, env=py_env)
    assert missing.exit_code == 4 and "tests/test_gone.py" in missing.infra_error

    empty = run_tests("python -m pytest -q -k no_such_test", py_project, env=py_env)
    assert empty.exit_code == 5 and empty.infra_error.startswith("pytest collected no tests")


def test_pytest_inside_a_compound_command(py_project: Path, py_env):
    report = run_tests("echo first && python -m pytest -q tests/test_math.py && echo never", py_project, env=py_env)

    assert {f.name for f in report.failures} == {"tests/test_math.py::test_add", "tests/test_math.py::test_helper"}
    assert report.output.startswith("first") and "never" not in report.output


# ---------------------------------------------------------------- any command, process control


def test_command_not_found_is_an_infra_error(tmp_path: Path):
    report = run_tests("no-such-test-tool --run", tmp_path)

    assert report.exit_code == 127 and not report.passed
    assert report.infra_error.startswith("command not found: no-such-test-tool")
    assert report.failures == []


def test_generic_command_exit_status_decides(tmp_path: Path):
    failing = run_tests("echo 'check failed: 2 != 3' >&2; exit 3", tmp_path)
    assert runner_name("make check", tmp_path) == "command"
    assert not failing.passed and failing.infra_error is None and failing.exit_code == 3
    [failure] = failing.failures
    assert failure.name == "echo 'check failed: 2 != 3' >&2; exit 3"
    assert failure.message == "check failed: 2 != 3"

    assert run_tests("echo fine", tmp_path).passed


def test_output_is_capped_keeping_head_and_tail(tmp_path: Path):
    report = run_tests(f"{sys.executable} -c \"print('HEAD'); print('x' * 1_000_000); print('TAIL')\"", tmp_path)

    assert report.passed
    assert len(report.output) < 210_000
    assert report.output.startswith("HEAD") and report.output.rstrip().endswith("TAIL")
    assert "truncated" in report.output


def test_timeout_kills_the_whole_process_tree(tmp_path: Path):
    started = time.monotonic()
    report = run_tests("sh -c 'sleep 30 & echo $! > child.pid; wait'", tmp_path, timeout_s=0.5)
    elapsed = time.monotonic() - started

    assert elapsed < 2.5
    assert report.infra_error.startswith("timed out after 0.5 s")
    assert not report.passed and report.exit_code is None
    child = int((tmp_path / "child.pid").read_text())
    assert gone_soon(child)


def test_cancel_kills_the_tree_and_raises(tmp_path: Path):
    cancel = threading.Event()
    pid_file = tmp_path / "child.pid"

    def cancel_when_started() -> None:
        wait_for_file(pid_file)
        cancel.set()

    threading.Thread(target=cancel_when_started, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(RunInterrupted):
        run_tests("sh -c 'sleep 30 & echo $! > child.pid; wait'", tmp_path, cancel=cancel)
    assert time.monotonic() - started < 5
    assert gone_soon(int(pid_file.read_text()))


def test_env_reaches_the_command(tmp_path: Path):
    report = run_tests('test "$MA_FLAG" = on', tmp_path, env={"MA_FLAG": "on"})
    assert report.passed


# ---------------------------------------------------------------- node --test

NODE_MATH = "function add(a, b) {\n  return a - b;\n}\nmodule.exports = { add };\n"
NODE_TESTS = """const test = require('node:test');
const assert = require('node:assert');
const { add } = require('../math');

test('adds', () => {
  assert.strictEqual(add(1, 2), 3);
});

test.describe('group', () => {
  test.it('passes', () => {
    assert.strictEqual(add(0, 0), 0);
  });
});
"""


@pytest.fixture
def node_project(tmp_path: Path) -> Path:
    return write(tmp_path, {"math.js": NODE_MATH, "test/math.test.js": NODE_TESTS})


@needs_node
def test_node_test_failure_has_assertion_location_and_message(node_project: Path):
    report = run_tests("node --test test/", node_project)

    assert not report.passed and report.infra_error is None and report.tests_run == 2
    [failure] = report.failures
    assert failure.name == "test/math.test.js > adds"
    assert (failure.file, failure.line) == ("test/math.test.js", 6)
    assert "-1 !== 3" in failure.message
    assert "node:internal" not in failure.message
    assert "✖ adds" in report.output  # the spec reporter still prints for the log


@needs_node
def test_node_test_file_that_cannot_load(node_project: Path):
    (node_project / "math.js").write_text("function add(a, b) {\n  return a - ;\n}\n")
    report = run_tests("node --test test/", node_project)

    [failure] = report.failures
    assert failure.name == COLLECTION and report.infra_error is None
    assert (failure.file, failure.line) == ("math.js", 2)
    assert "SyntaxError" in failure.message


@needs_node
def test_node_test_with_no_such_file_is_an_infra_error(node_project: Path):
    report = run_tests("node --test test/missing.test.js", node_project)
    assert report.infra_error.startswith("node --test found no test files")


@needs_node
def test_npm_test_script_running_node_test(node_project: Path):
    write(node_project, {"package.json": json.dumps({"name": "p", "scripts": {"test": "node --test test/"}})})
    assert runner_name("npm test", node_project) == "node:test"
    report = run_tests("npm test", node_project)

    [failure] = report.failures
    assert (failure.name, failure.file, failure.line) == ("test/math.test.js > adds", "test/math.test.js", 6)


@needs_node
def test_npm_missing_script_is_an_infra_error(node_project: Path):
    write(node_project, {"package.json": json.dumps({"name": "p", "scripts": {}})})
    report = run_tests("npm run unit", node_project)
    assert report.infra_error.startswith('npm: Missing script: "unit"')


# ---------------------------------------------------------------- vitest and jest


def js_project(root: Path, modules: Path, files: dict[str, str]) -> Path:
    write(root, files)
    (root / "node_modules").symlink_to(modules, target_is_directory=True)
    return root


VITEST_TESTS = """import { describe, expect, test } from 'vitest';
import { add } from './math';

describe('add', () => {
  test('adds', () => {
    expect(add(1, 2)).toBe(3);
  });
  test('zero', () => {
    expect(add(0, 0)).toBe(0);
  });
});
"""
TS_MATH = "export function add(a: number, b: number): number {\n  return a - b;\n}\n"


@needs_node
def test_vitest_typescript_failure(tmp_path: Path, js_tools: Path):
    project = js_project(tmp_path, js_tools, {
        "package.json": '{"name": "p", "private": true, "type": "module"}',
        "src/math.ts": TS_MATH,
        "src/math.test.ts": VITEST_TESTS,
    })
    report = run_tests("npx vitest run src/math.test.ts", project)

    assert not report.passed and report.infra_error is None and report.tests_run == 2
    [failure] = report.failures
    assert failure.name == "src/math.test.ts > add > adds"
    assert (failure.file, failure.line) == ("src/math.test.ts", 6)
    assert "expected -1 to be 3" in failure.message
    assert "Test Files" in report.output  # the default reporter is kept


@needs_node
def test_npm_test_script_running_vitest_gets_reporters_after_dashes(tmp_path: Path, js_tools: Path):
    project = js_project(tmp_path, js_tools, {
        "package.json": json.dumps({"name": "p", "type": "module", "scripts": {"test": "vitest run"}}),
        "src/math.ts": TS_MATH.replace("a - b", "a + b"),
        "src/math.test.ts": VITEST_TESTS,
    })
    report = run_tests("npm test -- src/math.test.ts", project)

    assert report.passed and report.tests_run == 2 and report.failures == []


JEST_TESTS = """const { add } = require('./math');

describe('add', () => {
  test('adds', () => {
    expect(add(1, 2)).toBe(3);
  });
});
"""


@needs_node
def test_jest_failure_and_suite_that_cannot_load(tmp_path: Path, js_tools: Path):
    project = js_project(tmp_path, js_tools, {
        "package.json": '{"name": "p", "private": true}',
        "math.js": NODE_MATH,
        "math.test.js": JEST_TESTS,
        "broken.js": "const value = (;\nmodule.exports = { value };\n",
        "broken.test.js": "const { value } = require('./broken');\ntest('v', () => expect(value).toBe(1));\n",
    })
    report = run_tests("npx jest --runInBand", project)

    assert not report.passed and report.infra_error is None
    by_name = {f.name: f for f in report.failures}
    adds = by_name["math.test.js > add > adds"]
    assert (adds.file, adds.line) == ("math.test.js", 5)
    assert "Received: -1" in adds.message and "jest-circus" not in adds.message
    broken = by_name[COLLECTION]
    assert (broken.file, broken.line) == ("broken.js", 1)
    assert "SyntaxError" in broken.message


def test_vitest_report_fixture_is_parsed():
    """A JUnit file written by vitest 4.1 (tests/fixtures/runners): a failing test and a file that did not load."""
    root = ET.parse(FIXTURES / "vitest-junit.xml").getroot()
    failures, tests_run = parse_vitest_junit(root, Path("/tmp/ma-fixture-project"))

    assert tests_run == 2
    by_name = {f.name: f for f in failures}
    assert (by_name["src/math.test.ts > add > adds small numbers"].line) == 6
    broken = by_name[COLLECTION]
    assert (broken.file, broken.line) == ("src/broken.ts", 1)
    assert "PARSE_ERROR" in broken.message and "node_modules" not in broken.message


def test_jest_report_fixture_is_parsed():
    """A `--json` report written by jest 30 (tests/fixtures/runners)."""
    data = json.loads((FIXTURES / "jest-report.json").read_text())
    failures = parse_report(data, Path("/tmp/ma-fixture-jest"))

    by_name = {f.name: f for f in failures}
    assert set(by_name) == {"math.test.js > add > adds small numbers", COLLECTION}
    assert (by_name["math.test.js > add > adds small numbers"].line) == 5
    assert (by_name[COLLECTION].file, by_name[COLLECTION].line) == ("broken.js", 1)
    assert "Here's what you can do" not in by_name[COLLECTION].message


# ---------------------------------------------------------------- cargo test

CARGO_TOML = '[package]\nname = "mathrs"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n'
LIB_RS = """pub fn add(a: i32, b: i32) -> i32 {
    a - b
}

pub fn get(v: &[i32], i: usize) -> i32 {
    v[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_add() {
        assert_eq!(add(2, 2), 4, "two plus two");
    }
}
"""
INTEGRATION_RS = """use mathrs::{add, get};

#[test]
fn adds() {
    assert_eq!(add(1, 2), 3);
}

#[test]
fn indexes() {
    assert_eq!(get(&[1, 2], 5), 2);
}

#[test]
fn passes() {
    assert_eq!(add(2, 0), 2);
}
"""


@needs_cargo
def test_cargo_test_failures_then_a_compile_error(tmp_path: Path):
    crate = write(tmp_path, {"Cargo.toml": CARGO_TOML, "src/lib.rs": LIB_RS, "tests/math.rs": INTEGRATION_RS})
    env = {"CARGO_TARGET_DIR": str(tmp_path / "target"), "RUST_BACKTRACE": "0"}
    report = run_tests("cargo test --offline", crate, env=env, timeout_s=120)

    assert not report.passed and report.infra_error is None and report.tests_run == 4
    by_name = {f.name: f for f in report.failures}
    assert set(by_name) == {"tests::unit_add", "adds", "indexes"}  # --no-fail-fast: both binaries ran
    adds = by_name["adds"]
    assert (adds.file, adds.line) == ("tests/math.rs", 5)
    assert "assertion `left == right` failed" in adds.message and "left: -1" in adds.message
    assert (by_name["tests::unit_add"].file, by_name["tests::unit_add"].line) == ("src/lib.rs", 15)
    assert "two plus two" in by_name["tests::unit_add"].message
    assert (by_name["indexes"].file, by_name["indexes"].line) == ("src/lib.rs", 6)
    assert "index out of bounds" in by_name["indexes"].message

    (crate / "src/lib.rs").write_text(LIB_RS.replace("    a - b", '    a - "b"'))
    broken = run_tests("cargo test --offline", crate, env=env, timeout_s=120)

    assert not broken.passed and broken.infra_error is None  # a compile error is fixable code
    [error] = broken.failures
    assert (error.name, error.file, error.line) == (COMPILE, "src/lib.rs", 2)
    assert error.message.startswith("error[E0277]")


@needs_cargo
def test_cargo_outside_a_crate_is_an_infra_error(tmp_path: Path):
    report = run_tests("cargo test --offline", tmp_path)
    assert report.infra_error.startswith("cargo: could not find `Cargo.toml`")


def test_cargo_old_panic_format_and_backtrace_are_read():
    output = """     Running tests/math.rs (target/debug/deps/math-1234)

running 2 tests
test adds ... FAILED
test ok ... ok

failures:

---- adds stdout ----
thread 'adds' panicked at 'assertion failed: `(left == right)`
  left: `-1`,
 right: `3`', tests/math.rs:5:5
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    adds

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
"""
    parsed = parse_output(output, 101, Path("/nonexistent"))

    [failure] = parsed.failures
    assert (failure.name, failure.file, failure.line) == ("adds", "tests/math.rs", 5)
    assert "right: `3`" in failure.message and "RUST_BACKTRACE" not in failure.message
    assert parsed.tests_run == 2 and parsed.infra_error is None


# ---------------------------------------------------------------- how commands are adjusted


def test_reporter_arguments_go_where_each_tool_reads_them(tmp_path: Path):
    report_dir = tmp_path / "r"
    env: dict[str, str] = {}

    def prepared(command: str):
        return select_runner(command, tmp_path).prepare(command, tmp_path, report_dir, env)

    pytest_cmd = prepared("cd sub && .venv/bin/python -m pytest -q tests && echo ok").command
    assert pytest_cmd.startswith(f"cd sub && .venv/bin/python -m pytest --junitxml={report_dir}/pytest.xml")
    assert pytest_cmd.endswith("-q tests && echo ok")
    cargo = prepared("cargo test --offline -- --nocapture").command
    assert cargo == "cargo test --no-fail-fast --offline -- --nocapture"
    assert prepared("cargo test --no-fail-fast").command == "cargo test --no-fail-fast"
    assert "--outputFile.junit=" in prepared("npx vitest run src/a.test.ts").command
    assert prepared("npx jest a.test.js").command.startswith(f"npx jest --json --outputFile={report_dir}/jest.json")
    node = prepared("node --test test/")
    assert node.command == "node --test test/" and "--test-reporter=junit" in node.env["NODE_OPTIONS"]

    write(tmp_path, {"package.json": json.dumps({"scripts": {"test": "tsc && vitest run"}})})
    assert prepared("npm test").command == (
        f"npm test -- --reporter=junit --outputFile.junit={report_dir}/vitest.xml --reporter=default"
    )
    assert prepared("npm test -- a.test.ts").command.startswith("npm test -- a.test.ts --reporter=junit")
