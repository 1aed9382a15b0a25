"""Trust in the model's reply (issue 9, items 1, 2, 4): a fragment is never written over the whole file, a big
file is shown where the failures point, and a block labelled with another path never becomes the target.

End to end: the real CLI, real git repos, real pytest, the scripted model server. Then the pure pieces.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CALC_BUGGY, CALC_FIXED, CALC_TESTS, cmd_for_tests, fenced, make_repo, micro_agent
from micro_agent.definitions import definitions
from micro_agent.excerpts import big_file_view, called_definitions, failure_lines, outline_text
from micro_agent.prompts import FILE_CAP, PromptState, artisan_messages
from micro_agent.replies import FENCE, ReplyError, block_label, fragment_problem, names_target, parse_reply
from micro_agent.reports import TestFailure, TestReport


def run_json(repo: Path, target: str, tests: str, artisan: str, env, *extra: str):
    done = micro_agent(["run", target, "-t", cmd_for_tests(tests), "--artisan", artisan, "--json",
                        "--no-escalate", *extra], repo, env)
    assert done.stdout.strip().startswith("{"), done.stdout + done.stderr
    return done, json.loads(done.stdout)


def candidate_commits(repo: Path, ref: str) -> int:
    out = subprocess.run(["git", "rev-list", "--count", f"main..{ref}"], cwd=repo, capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


def user_changes(repo: Path) -> list[str]:
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo, capture_output=True,
                         text=True).stdout
    return sorted(line for line in out.splitlines() if ".micro-agent" not in line)


# ---------------------------------------------------------------------- item 1: no partial overwrite
def shop_module(broken: bool) -> str:
    parts = [f"def rate_{i}(x):\n    return x * {i}\n" for i in range(28)]
    parts.insert(3, "def price_with_tax(net):\n    return net * 1.2\n" if not broken else
                 "def price_with_tax(net):\n    return net + 1.2\n")
    parts.append("class Basket:\n    def __init__(self):\n        self.items = []\n")
    return "\n\n".join(parts)


SHOP_TESTS = "from shop import price_with_tax\n\n\ndef test_tax():\n    assert price_with_tax(100) == 120\n"


def test_a_fragment_is_never_written_and_the_whole_file_then_is(tmp_path, model_server, model, cli_env):
    repo = make_repo(tmp_path / "shop", {"shop.py": shop_module(broken=True), "tests/test_shop.py": SHOP_TESTS,
                                         "conftest.py": "", ".gitignore": ".micro-agent/\n"})
    artisan = model("artisan")
    fragment = "def price_with_tax(net):\n    return net * 1.2\n\n\ndef rate_0(x):\n    return x * 0\n"
    model_server.script(artisan.removeprefix("openai/"), [fenced(fragment), fenced(shop_module(broken=False))])
    done, report = run_json(repo, "shop.py", "tests/test_shop.py", artisan, cli_env, "--simple", "2")
    assert done.returncode == 0 and report["outcome"] == "success", report["message"]
    assert report["tiers"][0]["iterations"] == 2
    second = model_server.prompts(artisan.removeprefix("openai/"))[1]
    assert "unusable reply: the reply holds 2 of the 31 definitions in shop.py (missing: rate_1, " in second
    assert "reply with the whole file or with SEARCH/REPLACE blocks" in second
    assert (repo / "shop.py").read_text() == shop_module(broken=False)  # every other line kept
    assert candidate_commits(repo, report["ref"]) == 1  # the fragment never became a candidate


def test_only_fragments_leave_the_users_file_byte_for_byte(tmp_path, model_server, model, cli_env):
    repo = make_repo(tmp_path / "shop", {"shop.py": shop_module(broken=True), "tests/test_shop.py": SHOP_TESTS,
                                         "conftest.py": "", ".gitignore": ".micro-agent/\n"})
    artisan = model("artisan")
    elided = "def price_with_tax(net):\n    return net * 1.2\n\n# ... rest of the file unchanged ...\n"
    model_server.script(artisan.removeprefix("openai/"), [fenced(elided)])
    done, report = run_json(repo, "shop.py", "tests/test_shop.py", artisan, cli_env, "--simple", "2")
    assert done.returncode == 1 and report["outcome"] == "failed"
    assert (repo / "shop.py").read_text() == shop_module(broken=True)
    assert user_changes(repo) == []
    assert "the reply holds 1 of the 31 definitions" in model_server.prompts(artisan.removeprefix("openai/"))[1]


def test_a_small_rewrite_that_deletes_a_helper_still_passes(tmp_path, model_server, model, cli_env):
    repo = make_repo(tmp_path / "calc", {"calc.py": CALC_BUGGY + "\n\ndef _unused(x):\n    return x\n",
                                         "tests/test_calc.py": CALC_TESTS, "conftest.py": "",
                                         ".gitignore": ".micro-agent/\n"})
    artisan = model("artisan")
    model_server.script(artisan.removeprefix("openai/"), [fenced(CALC_FIXED)])  # _unused is gone
    done, report = run_json(repo, "calc.py", "tests/test_calc.py", artisan, cli_env)
    assert done.returncode == 0, report["message"]
    assert (repo / "calc.py").read_text() == CALC_FIXED


# ---------------------------------------------------------------------- item 2: big files shown where it matters
BUG_LINE = 10_004


def big_module(fixed: bool = False) -> str:
    """20,000 lines: f0 … f9998 (two lines each) and a dispatcher. f5001 (line 10,004) subtracts, f7500 raises."""
    lines = []
    for k in range(9999):
        body = "    return a + b"
        if k == 5001 and not fixed:
            body = "    return a - b"
        if k == 7500 and not fixed:
            body = "    raise ValueError('f7500 is broken')"
        lines += [f"def f{k}(a, b):", body]
    lines += ["def dispatch(name):", "    return globals()[name](2, 3)"]
    assert len(lines) == 20_000 and (fixed or lines[BUG_LINE - 1] == "    return a - b")
    return "\n".join(lines) + "\n"


BIG_TESTS = ("from big import dispatch, f5001\n\n\ndef test_f5001():\n    assert f5001(2, 3) == 5\n\n\n"
             "def test_dispatch():\n    assert dispatch('f' + str(7500)) == 5\n")
BIG_FIX = ("Two changes.\n<<<<<<< SEARCH\ndef f5001(a, b):\n    return a - b\n=======\ndef f5001(a, b):\n"
           "    return a + b\n>>>>>>> REPLACE\n<<<<<<< SEARCH\n    raise ValueError('f7500 is broken')\n=======\n"
           "    return a + b\n>>>>>>> REPLACE\n")


def test_a_bug_at_line_10004_of_a_20000_line_file_reaches_the_prompt(tmp_path, model_server, model, cli_env):
    repo = make_repo(tmp_path / "big", {"big.py": big_module(), "tests/test_big.py": BIG_TESTS, "conftest.py": "",
                                        ".gitignore": ".micro-agent/\n"})
    artisan = model("artisan")
    echo = fenced("def f5001(a, b):\n    return a + b\ndef f7500(a, b):\n    return a + b\n")  # excerpts as a file
    model_server.script(artisan.removeprefix("openai/"), [echo, BIG_FIX])
    done, report = run_json(repo, "big.py", "tests/test_big.py", artisan, cli_env, "--simple", "2")
    assert done.returncode == 0 and report["outcome"] == "success", report["message"]
    first, second = model_server.prompts(artisan.removeprefix("openai/"))
    assert len(first) < FILE_CAP < len(big_module())
    assert "big.py (20,000 lines" in first and "SEARCH/REPLACE" in first
    assert "lines=10003-10004\ndef f5001(a, b):\n    return a - b\n```" in first  # the called definition
    assert "def f7500(a, b):\n    raise ValueError('f7500 is broken')" in first  # the traceback frame
    assert " 19,999: def dispatch(name):" in first  # in the outline
    assert "the reply holds 2 of the 10,000 definitions in big.py" in second
    assert (repo / "big.py").read_text() == big_module(fixed=True)


# ---------------------------------------------------------------------- item 4: only the target changes
WEAK_TESTS = "def test_add():\n    assert True\n"


def test_blocks_labelled_with_another_path_never_reach_the_target(calc_repo, model_server, model, cli_env):
    artisan = model("artisan")
    outside = calc_repo.parent / "outside.py"
    tampering = "```python path=tests/test_calc.py\n<<<<<<< SEARCH\n    assert add(2, 3) == 5\n=======\n" \
                "    assert True\n>>>>>>> REPLACE\n```\n"
    model_server.script(artisan.removeprefix("openai/"), [
        f"```python path=tests/test_calc.py\n{WEAK_TESTS}```\n",
        f"```python path=../outside.py\n{CALC_FIXED}```\n",
        f"```python tests/test_calc.py\n{WEAK_TESTS}```\n",
        tampering,
        fenced(CALC_FIXED),
    ])
    done, report = run_json(calc_repo, "calc.py", "tests/test_calc.py", artisan, cli_env, "--simple", "5")
    assert done.returncode == 0 and report["outcome"] == "success", report["message"]
    assert report["tiers"][0]["iterations"] == 5
    prompts = model_server.prompts(artisan.removeprefix("openai/"))
    assert "unusable reply: the reply's code is labelled path=tests/test_calc.py, not calc.py" in prompts[1]
    assert "labelled path=../outside.py (outside the project), not calc.py" in prompts[2]
    assert "labelled path=tests/test_calc.py, not calc.py" in prompts[3]
    assert "labelled path=tests/test_calc.py, not calc.py" in prompts[4]
    assert (calc_repo / "tests/test_calc.py").read_text() == CALC_TESTS
    assert not outside.exists()
    assert user_changes(calc_repo) == [" M calc.py"]
    assert (calc_repo / "calc.py").read_text() == CALC_FIXED
    assert candidate_commits(calc_repo, report["ref"]) == 1


# ---------------------------------------------------------------------- the pure pieces
SMALL = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n\n\ndef _helper(x):\n    return x\n"


def test_fragment_problem_names_what_is_missing_and_lets_small_rewrites_pass():
    many = "".join(f"def f{i}():\n    return {i}\n\n" for i in range(20_000))
    problem = fragment_problem("big.py", many, "def f1():\n    return 1\n\ndef f2():\n    return 2\n")
    assert problem.startswith("the reply holds 2 of the 20,000 definitions in big.py "
                              "(missing: f0, f3, f4, f5, f6, …)")
    assert problem.endswith("reply with the whole file or with SEARCH/REPLACE blocks")
    assert fragment_problem("calc.py", SMALL, SMALL.replace("a - b", "a + b").split("\n\n\ndef _helper")[0]) is None
    assert fragment_problem("calc.py", SMALL, "def add(a, b):\n    return a + b\n") is None  # 2 of 3 dropped: allowed
    assert fragment_problem("calc.py", "", "def f():\n    pass\n") is None  # a new file
    renamed = "".join(f"def g{i}():\n    return {i}\n\n" for i in range(10))
    assert "holds 0 of the 10 definitions" in fragment_problem("x.py", renamed.replace("def g", "def f"), renamed)


def test_fragment_problem_for_large_shrinks_elisions_and_other_languages():
    data = "TABLE = [\n" + "".join(f"    {i},\n" for i in range(400)) + "]\n"
    assert "has 12 lines of code where t.py has 402" in fragment_problem("t.py", data, "TABLE = [\n" + "    1,\n" * 10
                                                                         + "]\n")
    assert fragment_problem("t.py", data, data.replace("    7,\n", "")) is None
    elided = SMALL.replace("def _helper(x):\n    return x\n", "# ... existing code ...\n")
    assert "leaves code out ('# ... existing code ...')" in fragment_problem("calc.py", SMALL, elided)
    kept_comment = "# ... rest unchanged\n"  # already in the file: not an elision of the model's
    assert fragment_problem("calc.py", SMALL + kept_comment, SMALL.replace("a - b", "a + b") + kept_comment) is None
    js = "".join(f"export function f{i}(a) {{\n  return a;\n}}\n" for i in range(6)) + "export const K = 1;\n"
    assert "holds 1 of the 7 definitions in m.ts" in fragment_problem("m.ts", js, "export function f0(a) {}\n")
    rust = ("pub struct S;\nimpl S {\n    pub fn a(&self) {}\n    fn b(&self) {}\n}\n"
            "impl Display for S {\n    fn fmt(&self) {}\n}\nfn main() {}\nmacro_rules! m { () => {} }\n")
    assert [d.name for d in definitions("lib.rs", rust)] == ["S", "S", "a", "b", "Display for S", "fmt", "main", "m"]
    assert "holds 1 of the 8 definitions in lib.rs" in fragment_problem("lib.rs", rust, "fn main() {}\n")
    assert fragment_problem("notes.txt", "a\n" * 10, "b\n") is None  # not a language we know, and small


def test_block_labels_and_which_paths_mean_the_target():
    def label(reply: str) -> str | None:
        return block_label(reply, next(FENCE.finditer(reply)))

    assert label("```python path=tests/test_x.py\nx\n```") == "tests/test_x.py"
    assert label("```python file='../outside.py'\nx\n```") == "../outside.py"
    assert label("```python tests/test_x.py\nx\n```") == "tests/test_x.py"
    assert label("```ts:src/a.ts\nx\n```") == "src/a.ts"
    assert label("**src/calc.py**\n```python\nx\n```") == "src/calc.py"
    assert label("Here is the fix:\n```python\nx\n```") is None
    assert label("```c++\nx\n```") is None
    assert names_target("calc.py", "src/calc.py") and names_target("./src/calc.py", "src/calc.py")
    assert names_target("/home/u/proj/src/calc.py", "src/calc.py")
    assert not names_target("tests/calc.py", "calc.py") and not names_target("../calc.py", "calc.py")
    assert not names_target("src/../../calc.py", "calc.py")


def test_parse_reply_prefers_the_target_then_unlabelled_and_refuses_other_paths():
    both = f"```python path=tests/test_calc.py\n{WEAK_TESTS}```\n```python path=calc.py\n{CALC_FIXED}```\n"
    assert parse_reply(both, "calc.py", CALC_BUGGY) == CALC_FIXED
    unlabelled = f"```python path=tests/test_calc.py\n{WEAK_TESTS * 5}```\n```python\n{CALC_FIXED}```\n"
    assert parse_reply(unlabelled, "calc.py", CALC_BUGGY) == CALC_FIXED  # not the longest: that one is the tests'
    with pytest.raises(ReplyError, match=r"labelled path=a\.py, path=/etc/b\.py \(outside the project\), not calc\.py"):
        parse_reply("```python path=a.py\nx = 1\n```\n```python path=/etc/b.py\nx = 2\n```\n", "calc.py", CALC_BUGGY)


def test_search_replace_must_match_exactly_one_place():
    twice = "def a():\n    return 1\n\n\ndef b():\n    return 1\n"
    with pytest.raises(ReplyError, match="SEARCH block 1 matches 2 places in m.py"):
        parse_reply("<<<<<<< SEARCH\n    return 1\n=======\n    return 2\n>>>>>>> REPLACE\n", "m.py", twice)
    with pytest.raises(ReplyError, match="matches 2 places"):
        parse_reply("<<<<<<< SEARCH\n    return 1   \n=======\n    return 2\n>>>>>>> REPLACE\n", "m.py", twice)
    edit = "<<<<<<< SEARCH\ndef b():\n    return 1\n=======\ndef b():\n    return 2\n>>>>>>> REPLACE\n"
    assert parse_reply(edit, "m.py", twice) == twice[:-2] + "2\n"
    with pytest.raises(ReplyError, match="labelled path=other.py"):
        parse_reply("other.py\n" + edit, "m.py", twice)


def failing(message: str, file: str = "tests/test_big.py", line: int = 5, name: str = "") -> TestReport:
    return TestReport(passed=False, output=message,
                      failures=[TestFailure(name=name or f"{file}::test_x", file=file, line=line, message=message)])


def test_failure_lines_come_from_frames_inside_the_target_only(tmp_path):
    text = ("tests/test_big.py:9: in test_dispatch\n    assert dispatch('f7500') == 5\n"
            "big.py:20000: in dispatch\n    return globals()[name](2, 3)\n"
            f"{tmp_path}/big.py:15002: ValueError\n"
            f'  File "{tmp_path}/big.py", line 12, in f5\n'
            "other/big.py:77: in g\n    at f (src/big.ts:40:7)\n")
    assert failure_lines("big.py", failing(text), tmp_path) == [20000, 15002, 12]
    assert failure_lines("src/big.ts", failing(text), tmp_path) == [40]
    assert failure_lines("big.py", None, tmp_path) == []


def test_the_called_definitions_are_those_of_the_failing_tests_first():
    content = big_module()
    tests = {"tests/test_big.py": BIG_TESTS}
    report = failing("E   assert -1 == 5", line=5, name="tests/test_big.py::test_f5001")
    calls, named = called_definitions(definitions("big.py", content), report, tests)
    assert [d.name for d in calls] == ["f5001"] and [d.name for d in named] == ["dispatch"]


def test_big_file_view_within_the_cap_and_the_outline_counts_what_it_leaves_out(tmp_path):
    content = big_module()
    report = failing("big.py:15002: ValueError", line=9, name="tests/test_big.py::test_dispatch")
    state = PromptState(root=tmp_path, objective="fix", target="big.py", target_content=content,
                        test_command="pytest", test_files={"tests/test_big.py": BIG_TESTS}, last_report=report)
    system, user = (m["content"] for m in artisan_messages(state))
    assert "never with the whole file" in system and user.endswith("Reply with SEARCH/REPLACE blocks that fix big.py.")
    assert "### big.py lines 15,001–15,002 (named by the failures)" in user
    assert "def f5001(a, b):\n    return a - b" in user  # named by the tests, though not by this failure
    assert len(system) + len(user) < FILE_CAP
    view = big_file_view("big.py", content, None, {}, tmp_path)
    assert "### big.py lines 1–60 (the start of the file)" in view  # nothing to go by: the head
    defs = definitions("big.py", content)
    outline = outline_text(defs, [10_003], 2_000)
    assert len(outline) <= 2_000 and " 10,003: def f5001(a, b):" in outline
    assert "more definitions in lines 1–" in outline and outline.rstrip().endswith("–19,999")
    small = outline_text(defs[:3], [], 2_000)
    assert small == "      1: def f0(a, b):\n      3: def f1(a, b):\n      5: def f2(a, b):"


def test_small_targets_are_still_shown_whole_and_asked_for_whole():
    state = PromptState(root=Path("."), objective="fix", target="calc.py", target_content=CALC_BUGGY,
                        test_command=f"{sys.executable} -m pytest", test_files={}, last_report=None)
    system, user = (m["content"] for m in artisan_messages(state))
    assert f"## File to fix: calc.py\n```python path=calc.py\n{CALC_BUGGY}```" in user
    assert user.endswith("Reply with the whole corrected calc.py.") and "complete new content" in system
