"""The languages registry: one entry per language, and every place that needs a language asks it.

The toy language proves that adding a language is one entry (plus its runner): registered in-process, it is
picked up by detection, the test-file conventions, the prompts' fences, the definitions outline, the partial-
reply check, the librarian's related files, the editor's diagnostics and the autopilot's target mapping.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path, PurePath

import pytest
from micro_agent import languages
from micro_agent.context import related_files
from micro_agent.definitions import definitions, knows_language
from micro_agent.excerpts import big_file_view
from micro_agent.languages import Language, label_and_fence, language_of
from micro_agent.prompts import language
from micro_agent.replies import parse_reply
from micro_agent.reports import TestFailure, TestReport
from micro_agent.runners import detect_test_command, find_target_for_test, find_test_files, is_test_file, run_tests
from micro_agent.blame import is_test_code, target_of
from micro_agent_lsp.diagnostics import definition_line


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.parametrize(("name", "label", "fence"), [
    ("calc.py", "Python", "python"), ("stubs/calc.pyi", "Python", "python"),
    ("src/math.ts", "TypeScript", "typescript"), ("src/App.tsx", "TypeScript", "tsx"),
    ("src/m.MTS", "TypeScript", "typescript"), ("lib/util.mjs", "JavaScript", "javascript"),
    ("lib/View.jsx", "JavaScript", "jsx"), ("src/lib.rs", "Rust", "rust"), ("README.md", "code", ""),
])
def test_each_suffix_has_one_label_and_fence(name: str, label: str, fence: str) -> None:
    assert label_and_fence(name) == (label, fence)
    assert language(name) == (label, fence)  # the prompts' view is the registry's


def test_one_import_scanner_per_language_serves_the_librarian_and_the_test_search(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "src/shop/__init__.py": "", "src/shop/pricing.py": "def total(xs):\n    return sum(xs)\n",
        "src/shop/cart.py": "from . import pricing\n", "tests/test_checkout.py": "from shop import cart\n",
        "tests/test_basket.py": "import shop.cart\n",
        "web/math.ts": "export const add = (a: number, b: number) => a + b;\n",
        "web/app.ts": "import { add } from './math.js';\nexport * from './view';\n", "web/view.tsx": "export {};\n",
        "crate/src/lib.rs": "mod parse;\nuse crate::eval;\n", "crate/src/parse.rs": "", "crate/src/eval.rs": "",
    })
    assert related_files(root, "src/shop/cart.py") == (["src/shop/__init__.py", "src/shop/pricing.py"],
                                                       ["tests/test_basket.py", "tests/test_checkout.py"])
    assert related_files(root, "web/app.ts") == (["web/math.ts", "web/view.tsx"], [])
    assert related_files(root, "web/math.ts") == ([], ["web/app.ts"])
    assert related_files(root, "crate/src/lib.rs") == (["crate/src/parse.rs", "crate/src/eval.rs"], [])
    # the same scanner finds the tests that import a file, and the file a test imports
    assert find_test_files(root / "src/shop/cart.py", root) == [root / "tests/test_basket.py",
                                                                root / "tests/test_checkout.py"]
    assert find_target_for_test(root / "tests/test_basket.py", root) == root / "src/shop/cart.py"


# ---------------------------------------------------------------- a language added in one entry

TOY_RUNNER = """import sys
# a toy test runner: each `check NAME expects VALUE` line of a *_check.toy file must find `proc NAME = VALUE`
source = open(sys.argv[1].replace("_check.toy", ".toy")).read()
failed = [line for line in open(sys.argv[1]).read().splitlines()
          if line.startswith("check ") and f"proc {line.split()[1]} = {line.split()[3]}" not in source]
print("\\n".join(f"FAIL {line}" for line in failed) or "ok")
sys.exit(1 if failed else 0)
"""


def _toy_imports(rel: str, text: str, exists) -> list[str]:
    folder = PurePath(rel).parent.as_posix()
    found = []
    for name in re.findall(r"^use (\w+)$", text, re.M):
        candidate = f"{name}.toy" if folder == "." else f"{folder}/{name}.toy"
        if exists(candidate):
            found.append(candidate)
    return found


TOY = Language(
    name="toy", label="Toy", suffixes=(".toy",), fence="toy",
    is_test=lambda path: path.name.endswith("_check.toy"),
    subject_stem=lambda path: path.stem.removesuffix("_check"),
    test_command=lambda target, root: f"{sys.executable} toyrun.py {target.stem.removesuffix('_check')}_check.toy",
    suite_command=lambda root: f"{sys.executable} toyrun.py --all" if (root / "toyrun.py").is_file() else None,
    suite_rank=1,
    imports=_toy_imports,
    definitions=(r"proc\s+(\w+)",),
    test_definitions=(r"^check\s+{name}\b",),
    frames=(r"at (?P<path>[\w/]+\.toy) line (?P<line>\d+)",),
)


@pytest.fixture
def toy(tmp_path: Path):
    languages.register(TOY)
    yield write(tmp_path, {
        "toyrun.py": TOY_RUNNER,
        "calc.toy": "use helpers\nproc add = 3\nproc sub = 9\nproc mul = 6\nproc neg = 0\n",
        "helpers.toy": "proc one = 1\n",
        "calc_check.toy": "check add expects 3\ncheck sub expects 1\n",
    })
    languages.unregister("toy")
    assert language_of("calc.toy") == "other"  # gone again: nothing else remembers it


def test_a_registered_language_is_picked_up_everywhere(toy: Path) -> None:
    root = toy
    # conventions and detection
    assert language_of(Path("calc.toy")) == "toy"
    assert is_test_file(Path("calc_check.toy")) and not is_test_file(Path("calc.toy"))
    assert find_test_files(root / "calc.toy", root) == [root / "calc_check.toy"]
    assert find_target_for_test(root / "calc_check.toy", root) == root / "calc.toy"
    command = detect_test_command(root / "calc.toy", root)
    assert command == f"{sys.executable} toyrun.py calc_check.toy"
    # its runner: the generic one reads the exit status and the output
    report = run_tests(command, root, timeout_s=60)
    assert not report.passed and "FAIL check sub expects 1" in report.output
    # prompts, definitions, the partial-reply check
    assert language("calc.toy") == ("Toy", "toy")
    assert [(d.name, d.line) for d in definitions("calc.toy", (root / "calc.toy").read_text())] == [
        ("add", 2), ("sub", 3), ("mul", 4), ("neg", 5)]
    assert knows_language("calc.toy")
    with pytest.raises(Exception, match="definitions"):  # a reply that drops most procs is a fragment
        parse_reply("```toy path=calc.toy\nproc sub = 1\n```", "calc.toy", (root / "calc.toy").read_text())
    # the big-file view outlines it
    failing = TestReport(passed=False, exit_code=1, duration_s=0.1, output="",
                         failures=[TestFailure(name="sub", file="calc_check.toy", message="at calc.toy line 3")])
    view = big_file_view("calc.toy", (root / "calc.toy").read_text(), failing,
                         {"calc_check.toy": (root / "calc_check.toy").read_text()}, root, tag="toy")
    assert "```toy path=calc.toy" in view and "proc sub = 9" in view
    # the librarian's related files
    assert related_files(root, "calc.toy") == (["helpers.toy"], [])
    assert related_files(root, "helpers.toy") == ([], ["calc.toy"])
    # the editor's diagnostics find where a failing test is defined
    assert definition_line((root / "calc_check.toy").read_text(), "calc_check.toy::sub") == 1
    # the autopilot maps a failure to its target by its traceback, and knows test code
    assert is_test_code("calc_check.toy") and not is_test_code("calc.toy")
    assert target_of(failing.failures[0], root) == ("calc.toy", "traceback")
    # the whole suite (the autopilot's passes, run --all-failing), asked in suite_rank order
    assert languages.detect_suite(root) == f"{sys.executable} toyrun.py --all"  # toyrun.py outranks the .py rule


@pytest.mark.parametrize("files, suite", [
    ({"Cargo.toml": "", "package.json": "{}", "build.py": ""}, "cargo test"),  # a manifest beats loose .py files
    ({"package.json": "{}", "conftest.py": ""}, "npm test"),
    ({"pyproject.toml": ""}, "python -m pytest -q"),
    ({"tests/test_x.py": "", ".venv/bin/python": "#!/bin/sh\n"}, ".venv/bin/python -m pytest -q"),
    ({"README.md": ""}, None),
])
def test_the_whole_suite_is_detected_from_the_project_files(tmp_path: Path, files: dict[str, str],
                                                             suite: str | None) -> None:
    write(tmp_path, files)
    if (tmp_path / ".venv/bin/python").exists():
        (tmp_path / ".venv/bin/python").chmod(0o755)
    found = languages.detect_suite(tmp_path)
    assert found == suite or (suite == "python -m pytest -q" and found == "python3 -m pytest -q")


def test_the_built_in_languages_stay_when_a_language_is_added_and_removed(toy: Path) -> None:
    assert language_of("calc.toy") == "toy"
    languages.unregister("toy")
    assert [lang.name for lang in languages.languages()] == ["python", "typescript", "javascript", "rust"]
    assert language_of("calc.py") == "python" and label_and_fence("calc.toy") == ("code", "")
    languages.register(TOY)  # the fixture's teardown removes it again
