"""JavaScript, TypeScript and Rust targets end to end: the installed `micro-agent run` on copies of
`examples/`, real node, vitest and cargo, a scripted model server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import fenced, make_repo, micro_agent
from micro_agent.runners import run_tests

EXAMPLES = Path(__file__).parents[1] / "examples"
CACHE = Path(os.environ.get("MICRO_AGENT_TEST_CACHE", Path.home() / ".cache" / "micro-agent-tests"))
CARGO_TARGET = CACHE / "cargo-target"  # one target dir for every crate built here: builds take seconds

needs_node = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="node and npm are not installed")
needs_cargo = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")


def example_repo(name: str, dest: Path) -> Path:
    """A git repo holding a copy of examples/NAME (its own files: no node_modules, target or audit log)."""
    source = EXAMPLES / name
    files = {p.relative_to(source).as_posix(): p.read_text() for p in sorted(source.rglob("*"))
             if p.is_file() and not {"node_modules", "target", ".micro-agent"} & set(p.relative_to(source).parts)}
    return make_repo(dest / name, files)


def demo_replies(name: str) -> list[str]:
    """The scripted artisan replies of examples/NAME/demo-model.json (the example's offline demo)."""
    return json.loads((EXAMPLES / name / "demo-model.json").read_text())["demo-artisan"]


def code_of(reply: str) -> str:
    """The code inside a reply's only fenced block."""
    return re.search(r"^```[^\n]*\n(.*?)^```", reply, re.S | re.M).group(1)


def run_json(args: list[str], repo: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict]:
    done = micro_agent(["run", *args, "--json"], repo, env)
    assert done.stdout.strip().startswith("{"), done.stdout + done.stderr
    return done, json.loads(done.stdout)


def failing_section(prompt: str) -> str:
    """The prompt's `## Failing tests` section."""
    return prompt.split("## Failing tests\n", 1)[1].split("\n## ", 1)[0]


@pytest.fixture
def ts_repo(tmp_path: Path, js_tools: Path) -> Path:
    repo = example_repo("typescript-vitest", tmp_path)
    (repo / "node_modules").symlink_to(js_tools, target_is_directory=True)  # git-ignored, like a real install
    return repo


@pytest.fixture
def cargo_env(cli_env: dict[str, str]) -> dict[str, str]:
    CARGO_TARGET.mkdir(parents=True, exist_ok=True)
    return {**cli_env, "CARGO_TARGET_DIR": str(CARGO_TARGET), "CARGO_TERM_COLOR": "never", "RUST_BACKTRACE": "0"}


# ---------------------------------------------------------------- JavaScript: node --test


@needs_node
def test_javascript_node_test_detected_and_fixed_on_the_second_iteration(tmp_path, model_server, model, cli_env):
    repo = example_repo("javascript-node", tmp_path)
    fixed = code_of(demo_replies("javascript-node")[-1])
    wrong = fixed.replace("/ 5 + 32;", "/ 5 + 30;")  # warmest() right, the offset still wrong: 30 !== 32
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(wrong, "javascript"), fenced(fixed, "js")])

    done, report = run_json(["src/temperature.js", "--artisan", artisan], repo, cli_env)

    assert done.returncode == 0 and report["outcome"] == "success", done.stdout + done.stderr
    assert report["test_command"] == "npm test"  # detected: package.json's scripts.test runs `node --test`
    assert report["tiers"][0]["iterations"] == 2
    assert (repo / "src/temperature.js").read_text() == fixed
    first, second = model_server.prompts(artisan.removeprefix("openai/"))
    assert "Language: JavaScript. Tests run with: `npm test` (node:test)" in first
    assert "```javascript path=src/temperature.js" in first and "## Test file: test/temperature.test.js" in first
    assert "23 !== 32" in failing_section(first) and "9 !== 12" in failing_section(first)
    failures = failing_section(second)
    assert "--- test/temperature.test.js > water freezes at 32 °F (test/temperature.test.js:7)" in failures
    assert "30 !== 32" in failures and "30 !== 32" not in first  # the first attempt's assertion message
    assert "9 !== 12" not in failures  # warmest() was fixed by the first attempt


# ---------------------------------------------------------------- TypeScript: vitest


@needs_node
def test_typescript_vitest_fixed(ts_repo, model_server, model, cli_env):
    replies = demo_replies("typescript-vitest")  # first fixes netCents, then grossCents
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), replies)

    done, report = run_json(["src/cart.ts", "--artisan", artisan], ts_repo, cli_env)

    assert done.returncode == 0 and report["outcome"] == "success", done.stdout + done.stderr
    assert report["test_command"] == "npm test"  # scripts.test is `vitest run`
    assert report["tiers"][0]["iterations"] == 2
    assert (ts_repo / "src/cart.ts").read_text() == code_of(replies[-1])
    first, second = model_server.prompts(artisan.removeprefix("openai/"))
    assert "Language: TypeScript. Tests run with: `npm test` (vitest)" in first
    assert "```typescript path=src/cart.ts" in first
    assert "--- src/cart.test.ts > netCents > counts every unit (src/cart.test.ts:9)" in failing_section(first)
    assert "expected 1150 to be 1300" in failing_section(first)
    assert "expected 1150 to be 1300" not in failing_section(second)
    assert "--- src/cart.test.ts > grossCents > adds the German VAT (src/cart.test.ts:19)" in failing_section(second)


@needs_node
def test_full_mode_on_typescript_shows_the_imported_sibling_and_the_importer(ts_repo, model_server, model, cli_env):
    artisan, librarian, critic = model("artisan"), model("librarian"), model("critic")
    model_server.script(librarian.removeprefix("openai/"),
                        ["ANALYSIS: grossCents returns only the tax.\nFILES:\nsrc/rates.ts\n"])
    model_server.script(critic.removeprefix("openai/"), ["Looks right."])
    model_server.script(artisan.removeprefix("openai/"), [demo_replies("typescript-vitest")[-1]])

    done, report = run_json(["src/cart.ts", "--full", "--artisan", artisan, "--librarian", librarian,
                             "--critic", critic], ts_repo, cli_env)

    assert done.returncode == 0 and report["outcome"] == "success", done.stdout + done.stderr
    assert [t["mode"] for t in report["tiers"]] == ["full"]
    sibling = (ts_repo / "src/rates.ts").read_text().strip()
    (librarian_prompt,) = model_server.prompts(librarian.removeprefix("openai/"))
    assert "## Candidate related file: src/rates.ts" in librarian_prompt and sibling in librarian_prompt
    assert "## Candidate related file: src/index.ts" in librarian_prompt  # re-exports cart: it imports the target
    assert "## Candidate related file: src/cart.test.ts" not in librarian_prompt  # already shown as the test file
    (artisan_prompt,) = model_server.prompts(artisan.removeprefix("openai/"))
    assert "## Related file (read only): src/rates.ts" in artisan_prompt and sibling in artisan_prompt
    assert "## Related file (read only): src/index.ts" not in artisan_prompt  # the librarian did not pick it
    assert "grossCents returns only the tax." in artisan_prompt


# ---------------------------------------------------------------- Rust: cargo test


@needs_cargo
def test_cargo_report_has_the_panic_message_and_location(tmp_path, cargo_env):
    crate = example_repo("rust-crate", tmp_path)
    report = run_tests("cargo test --offline", crate, env=cargo_env, timeout_s=180)

    assert not report.passed and report.infra_error is None and report.tests_run == 7
    by_name = {f.name: f for f in report.failures}
    assert set(by_name) == {"repeats_digits", "reads_what_it_writes",
                            "tests::a_smaller_digit_before_a_larger_one_subtracts"}
    repeats = by_name["repeats_digits"]
    assert (repeats.file, repeats.line) == ("tests/roman.rs", 5)
    assert "assertion `left == right` failed" in repeats.message and 'left: Some("I")' in repeats.message
    in_file = by_name["tests::a_smaller_digit_before_a_larger_one_subtracts"]
    assert (in_file.file, in_file.line) == ("src/lib.rs", 66)
    assert "IV is 5 - 1" in in_file.message and "left: Some(6)" in in_file.message


@needs_cargo
def test_rust_crate_fixed_with_cargo_offline(tmp_path, model_server, model, cargo_env):
    repo = example_repo("rust-crate", tmp_path)
    replies = demo_replies("rust-crate")  # first fixes to_roman (tests/), then from_roman (the in-file test)
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), replies)

    done, report = run_json(["src/lib.rs", "-t", "cargo test --offline", "--artisan", artisan], repo, cargo_env)

    assert done.returncode == 0 and report["outcome"] == "success", done.stdout + done.stderr
    assert report["tiers"][0]["iterations"] == 2
    assert (repo / "src/lib.rs").read_text() == code_of(replies[-1])
    assert not (repo / "target").exists()  # CARGO_TARGET_DIR was honoured
    first, second = model_server.prompts(artisan.removeprefix("openai/"))
    assert "Language: Rust. Tests run with: `cargo test --offline`" in first
    assert "```rust path=src/lib.rs" in first and "## Test file: tests/roman.rs" in first
    assert "## Test file: src/lib.rs" not in first  # the target is shown once, as the file to fix
    assert "src/lib.rs holds tests of its own" in first
    assert "--- repeats_digits (tests/roman.rs:5)" in failing_section(first)
    assert 'left: Some("I")' in failing_section(first)
    failures = failing_section(second)
    assert "--- tests::a_smaller_digit_before_a_larger_one_subtracts (src/lib.rs:66)" in failures
    assert "IV is 5 - 1" in failures and "repeats_digits" not in failures
