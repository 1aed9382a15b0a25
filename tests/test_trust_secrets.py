"""Issue 9, item 11: no secret leaves the machine.

End to end through the real CLI, a real git repo, real pytest and the scripted model server: secret
files never reach a prompt, credential-like text is redacted in every prompt, in the audit DB, in the
refs and in `-v` output, and the target's own secret survives a fix. Secret values are assembled at
run time so this file holds none.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from pathlib import Path

from conftest import cmd_for_tests, fenced, make_repo, micro_agent

ENV_KEY = "sk-" + "proj-Zx81kq9WmT3vLp0Qa7RnB2cD"
SSH_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
IGNORED_PASSWORD = "Xk29vLq0" + "pZr7TnW4"
AWS_KEY_ID = "AKIA" + "Q7XK2M4P9R3T6W8Z"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzq83KEY"
OUTPUT_TOKEN = "gh" + "p_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
TARGET_TOKEN = "tok_" + "9f8Kd7x2LmQp4Rt6Vw1Z3y"
NOT_THE_TARGETS = {"the .env key": ENV_KEY, "the id_rsa key": SSH_BODY, "the ignored file's password": IGNORED_PASSWORD,
                   "the AWS key id": AWS_KEY_ID, "the AWS secret": AWS_SECRET, "the token in test output": OUTPUT_TOKEN}
EVERY_SECRET = {**NOT_THE_TARGETS, "the target's own token": TARGET_TOKEN}

CALC = f'''import aws_client

SERVICE_TOKEN = "{TARGET_TOKEN}"


def add(a, b):
    return a - b


def region():
    return aws_client.REGION
'''
TESTS = f'''from pathlib import Path

from calc import SERVICE_TOKEN, add


def test_add():
    print("calling the service with {OUTPUT_TOKEN}")
    assert add(2, 3) == 5, "the service refused {OUTPUT_TOKEN}"


def test_env_file_is_there_for_the_tests():
    assert "OPENAI_API_KEY=" in (Path(__file__).parent.parent / ".env").read_text()


def test_token_is_the_real_one():
    assert SERVICE_TOKEN.startswith("tok_") and len(SERVICE_TOKEN) == {len(TARGET_TOKEN)}
'''


def secret_repo(path: Path) -> Path:
    repo = make_repo(path, {
        "calc.py": CALC, "tests/test_calc.py": TESTS, "conftest.py": "",
        "aws_client.py": f'REGION = "eu-west-1"\nACCESS_KEY_ID = "{AWS_KEY_ID}"\nSECRET_ACCESS_KEY = "{AWS_SECRET}"\n',
        ".gitignore": ".micro-agent/\nlocal_settings.py\n",
    })
    # Untracked and ignored files, as a user has them lying around.
    (repo / ".env").write_text(f"OPENAI_API_KEY={ENV_KEY}\n")
    (repo / "id_rsa").write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SSH_BODY}\n-----END OPENSSH PRIVATE KEY-----\n")
    (repo / "local_settings.py").write_text(f'import calc\n\nDB_PASSWORD = "{IGNORED_PASSWORD}"\n')
    (repo / "helper.py").write_text("import calc\n\nHELPER = calc.add\n")  # untracked, harmless: an importer
    return repo


def target_block(request: dict) -> str:
    """The target as the model was shown it in the prompt."""
    prompt = request["messages"][-1]["content"]
    return re.search(r"```python path=calc\.py\n(.*?)\n```", prompt, re.S).group(1) + "\n"


def echo_with(old: str, new: str):
    """A model that replies with the whole file it was shown, one line changed."""
    return lambda request: fenced(target_block(request).replace(old, new))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def audit_text(repo: Path) -> str:
    with sqlite3.connect(repo / ".micro-agent" / "audit.db") as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(repr(row) for table in tables for row in db.execute(f"SELECT * FROM {table}"))


def run_ref(repo: Path) -> str:
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/micro-agent/").split()
    assert len(refs) == 1, refs
    return refs[0]


def assert_none_in(text: str, secrets: dict[str, str], where: str) -> None:
    leaked = [name for name, value in secrets.items() if value in text]
    assert not leaked, f"{', '.join(leaked)} leaked into {where}"


def test_no_secret_reaches_a_prompt_the_audit_db_the_refs_or_the_log(tmp_path, model_server, model, cli_env):
    repo = secret_repo(tmp_path / "proj")
    artisan, librarian, critic = model("artisan"), model("librarian"), model("critic")
    model_server.script(artisan.removeprefix("openai/"), [echo_with("return a - b", "return a * b"),  # still wrong
                                                          echo_with("return a * b", "return a + b")])
    model_server.script(librarian.removeprefix("openai/"), ["ANALYSIS: add subtracts.\nFILES:\naws_client.py"])
    model_server.script(critic.removeprefix("openai/"), ["Looks right."])

    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "-v", "--simple", "1", "--artisan", artisan,
                        "--librarian", librarian, "--critic", critic], repo, cli_env)

    assert done.returncode == 0, done.stdout + done.stderr
    # The target's own secret survives the fix, and the placeholder never reaches the file.
    fixed = (repo / "calc.py").read_text()
    assert f'SERVICE_TOKEN = "{TARGET_TOKEN}"' in fixed and "return a + b" in fixed and "[redacted]" not in fixed

    prompts = {role: model_server.prompts(name.removeprefix("openai/"))
               for role, name in (("artisan", artisan), ("librarian", librarian), ("critic", critic))}
    assert len(prompts["artisan"]) == 2 and prompts["librarian"] and prompts["critic"]
    for role, texts in prompts.items():
        for number, text in enumerate(texts, 1):
            assert_none_in(text, EVERY_SECRET, f"{role} prompt {number}")
            for never_sent in (".env", "id_rsa", "local_settings.py"):
                assert f"file: {never_sent}" not in text and f"path={never_sent}" not in text
    # What was sent is redacted in place, so the model still sees the code around it.
    assert 'SERVICE_TOKEN = "[redacted]"' in prompts["artisan"][0]
    assert 'ACCESS_KEY_ID = "[redacted]"' in prompts["librarian"][0]  # the related module was offered, redacted
    assert "the service refused [redacted]" in prompts["artisan"][0]  # the failing test's message
    assert "## Candidate related file: helper.py" in prompts["librarian"][0]  # an ordinary untracked file is fine

    log = done.stdout + done.stderr
    assert "the service refused [redacted]" in log  # -v shows the test output, redacted
    assert_none_in(log, EVERY_SECRET, "the -v output")

    recorded = audit_text(repo)
    assert "[redacted]" in recorded  # failed tests' messages and the escalation summary were recorded
    assert_none_in(recorded, EVERY_SECRET, "the audit DB")

    ref = run_ref(repo)
    tree = git(repo, "ls-tree", "-r", "--name-only", ref).split()
    assert "helper.py" in tree and "calc.py" in tree  # untracked files the tests may need are committed
    assert not {".env", "id_rsa", "local_settings.py"} & set(tree)
    assert_none_in(git(repo, "log", "-p", f"main..{ref}"), NOT_THE_TARGETS, f"the commits on {ref}")


def test_a_reply_that_changes_a_hidden_secret_line_is_refused_and_search_replace_restores(
        tmp_path, model_server, model, cli_env):
    repo = secret_repo(tmp_path / "proj")
    artisan = model("artisan")
    search_replace = ('<<<<<<< SEARCH\nSERVICE_TOKEN = "[redacted]"\n\n\ndef add(a, b):\n    return a - b\n=======\n'
                      'SERVICE_TOKEN = "[redacted]"\n\n\ndef add(a, b):\n    return a + b\n>>>>>>> REPLACE\n')
    model_server.script(artisan.removeprefix("openai/"), [
        echo_with('SERVICE_TOKEN = "[redacted]"', 'SERVICE_TOKEN = "[redacted]"  # rotated'), search_replace])

    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--json", "--simple", "2", "--no-escalate",
                        "--artisan", artisan], repo, cli_env)

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["total_iterations"] == 2
    fixed = (repo / "calc.py").read_text()
    assert fixed == CALC.replace("return a - b", "return a + b")
    second_prompt = model_server.prompts(artisan.removeprefix("openai/"))[1]
    assert "a secret there was hidden from the model" in second_prompt  # the model is told why
    attempts = audit_text(repo)
    assert "holds [redacted] where the file has no such line" in attempts
    assert TARGET_TOKEN not in attempts


def test_outside_git_the_gitignore_still_keeps_files_out_of_prompts(tmp_path, model_server, model, cli_env):
    project = tmp_path / "plain"  # a project folder that is no git repository (a downloaded tarball)
    project.mkdir()
    for rel, text in {"calc.py": CALC, "tests/test_calc.py": TESTS, "conftest.py": "",
                      "aws_client.py": 'REGION = "eu-west-1"\n', ".gitignore": "local_settings.py\n",
                      ".env": f"OPENAI_API_KEY={ENV_KEY}\n", "helper.py": "import calc\n",
                      "local_settings.py": f'import calc\n\nDB_PASSWORD = "{IGNORED_PASSWORD}"\n',
                      "micro-agent.yml": f"test: {json.dumps(cmd_for_tests())}\n"}.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    artisan, librarian, critic = model("artisan"), model("librarian"), model("critic")
    model_server.script(artisan.removeprefix("openai/"), [echo_with("return a - b", "return a + b")])
    model_server.script(librarian.removeprefix("openai/"), ["ANALYSIS: add subtracts.\nFILES:\nhelper.py"])
    model_server.script(critic.removeprefix("openai/"), ["Looks right."])

    done = micro_agent(["run", "calc.py", "--full", "--artisan", artisan, "--librarian", librarian,
                        "--critic", critic], project, cli_env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f'SERVICE_TOKEN = "{TARGET_TOKEN}"' in (project / "calc.py").read_text()
    offered = model_server.prompts(librarian.removeprefix("openai/"))[0]
    assert "## Candidate related file: helper.py" in offered
    assert "local_settings.py" not in offered
    for text in model_server.prompts():
        assert_none_in(text, EVERY_SECRET, "a prompt")
