"""Fast checks of micro_agent.secrets: what is redacted, what is left alone, which files are never sent.

Secret-looking values are assembled at run time so this file holds none.
"""

from __future__ import annotations

import io
import logging

import pytest
from conftest import make_repo

from micro_agent.events import IterationFinished
from micro_agent.secrets import (REDACTED, HiddenSecretError, RedactingFilter, is_secret_file, looks_secret, redact,
                                 redact_messages, redact_value, restore, sendable_files)

AWS_ID = "AKIA" + "Q7XK2M4P9R3T6W8Z"
RANDOM = "9f8Kd7x2" + "LmQp4Rt6Vw1Z"
PRIVATE_KEY = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM\n"
               "bPxRfiCYzq83KEYwJalrXUtnFEMI\n-----END RSA PRIVATE KEY-----")

SECRETS = [
    (f'AWS = "{AWS_ID}"', 'AWS = "[redacted]"'),
    (f"aws_access_key_id={AWS_ID}", "aws_access_key_id=[redacted]"),
    (f'AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/{RANDOM}"', 'AWS_SECRET_ACCESS_KEY = "[redacted]"'),
    ("OPENAI_API_KEY=sk-" + "proj-Zx81kq9WmT3vLp0Qa7Rn", "OPENAI_API_KEY=[redacted]"),
    ("key: sk-" + "ant-api03-abcDEF123456ghiJKL789mno", "key: [redacted]"),
    ("the service refused gh" + "p_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8.", "the service refused [redacted]."),
    ("SLACK = 'xo" + "xb-1234567890-abcdefghij'", "SLACK = '[redacted]'"),
    ('stripe = "sk_' + 'live_4eC39HqLyjWDarjtT1zdp7dc"', 'stripe = "[redacted]"'),
    (f'DB_PASSWORD = "Xk29!vLq0{RANDOM}"', 'DB_PASSWORD = "[redacted]"'),
    (f'SERVICE_TOKEN = "tok_{RANDOM}"', 'SERVICE_TOKEN = "[redacted]"'),
    (f'"apiKey": "{RANDOM}",', '"apiKey": "[redacted]",'),
    (f"client_secret: {RANDOM}", "client_secret: [redacted]"),
    (f'api_key: str = "{RANDOM}"', 'api_key: str = "[redacted]"'),
    (f"DATABASE_URL=postgres://admin:{RANDOM}@db:5432/app", "DATABASE_URL=postgres://admin:[redacted]@db:5432/app"),
    (f"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.{RANDOM}", "Authorization: Bearer [redacted]"),
    (f"KEY = '''\n{PRIVATE_KEY}\n'''", "KEY = '''\n[redacted]\n'''"),
]

# Ordinary code and config that mention keys, tokens and passwords without holding one.
NOT_SECRETS = [
    "token = tokens[0]", 'KEY = "a"', 'SECRET_KEY = os.environ["SECRET_KEY"]', 'password = input("Password: ")',
    'TOKEN_TYPE = "bearer"', "max_tokens = 4096", '"max_tokens": 2048,', 'KEY_PREFIX = "user:"',
    "self.token = token", 'api_key: str = ""', 'PASSWORD_FIELD = "password"', "token_count = len(tokens)",
    "def get_token(key: str) -> str:", 'TOKEN_URL = "https://example.com/oauth/token"',
    "key = hashlib.sha256(data).hexdigest()", 'cache_key = f"{user}:{item_id}"', 'if key == "content-type":',
    'CONTENT_KEY = "application/json"', "headers = {'Authorization': f'Bearer {token}'}", "sort_key=lambda x: x.name",
    "API_KEY=your-api-key-here", "for key, value in items.items():", 'TOKEN_RE = re.compile(r"[a-z]+")',
    'api_key = "sk-local"', "primary_key=True", "key_func = operator.itemgetter(1)", 'KEY = "ENV_VAR_NAME_123"',
    'AWS_REGION = "eu-west-1"', "REDIS = 'redis://localhost:6379/0'", "let apiKey = process.env.API_KEY;",
    "const token = await getToken(user);", 'PASSWORD_MIN_LENGTH = 12', "password_hash = hash_password(password)",
    "assert add(2, 3) == 5", "task-abcdefghijklmnopqrstuvwxyz", "let key = map.get(&id).unwrap();",
]


@pytest.mark.parametrize("text, expected", SECRETS)
def test_credentials_are_redacted_in_place(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_ordinary_code_is_left_alone(text):
    assert redact(text) == text


def test_a_private_key_cut_off_by_truncation_is_still_redacted():
    cut = PRIVATE_KEY.split("-----END")[0]
    assert redact(f"output:\n{cut}") == f"output:\n{REDACTED}"


def test_messages_and_events_are_redacted_and_the_originals_kept():
    messages = [{"role": "user", "content": f"key {AWS_ID}"}]
    assert redact_messages(messages) == [{"role": "user", "content": f"key {REDACTED}"}]
    assert messages[0]["content"] == f"key {AWS_ID}"
    event = IterationFinished(run_id="r", tier_index=0, tier_name="simple", tier_mode="simple", model="m",
                              iteration=1, change_summary=f"calc.py: added AWS = {AWS_ID}", test_status="failed",
                              failed_tests=["test_add"], error_messages=[f"refused {AWS_ID}"], cost_usd=0.0,
                              duration_ms=1)
    shown = redact_value(event)
    assert shown.error_messages == [f"refused {REDACTED}"] and AWS_ID not in shown.change_summary
    assert shown.iteration == 1 and event.error_messages == [f"refused {AWS_ID}"]


# ---------------------------------------------------------------- restoring the target's secrets

ORIGINAL = f'''import os

SERVICE_TOKEN = "tok_{RANDOM}"
KEY = """
{PRIVATE_KEY}
"""


def add(a, b):
    return a - b
'''


def test_restore_gives_back_the_hidden_lines_of_an_echoed_file():
    shown = redact(ORIGINAL)
    assert RANDOM not in shown and 'SERVICE_TOKEN = "[redacted]"' in shown
    assert restore(shown.replace("a - b", "a + b"), ORIGINAL) == ORIGINAL.replace("a - b", "a + b")


def test_restore_follows_the_models_indentation():
    moved = redact(ORIGINAL).replace('SERVICE_TOKEN = "[redacted]"', '    SERVICE_TOKEN = "[redacted]"')
    assert f'\n    SERVICE_TOKEN = "tok_{RANDOM}"\n' in restore(moved, ORIGINAL)


def test_restore_refuses_a_changed_secret_line():
    changed = redact(ORIGINAL).replace('SERVICE_TOKEN = "[redacted]"', 'TOKEN = "[redacted]"')
    with pytest.raises(HiddenSecretError, match="line 3 of the new code holds"):
        restore(changed, ORIGINAL)


def test_restore_keeps_two_different_secrets_on_look_alike_lines_in_order():
    first, second = f"tok_{RANDOM}", f"tok_{RANDOM[::-1]}"
    original = f'TOKEN = "{first}"\nx = 1\nTOKEN = "{second}"\n'
    assert restore(redact(original).replace("x = 1", "x = 2"), original) == original.replace("x = 1", "x = 2")


def test_restore_keeps_a_literal_placeholder_the_file_already_had():
    original = 'REDACTED = "[redacted]"\n'
    assert restore(original + "y = 2\n", original) == original + "y = 2\n"


# ---------------------------------------------------------------- files never sent


@pytest.mark.parametrize("rel", [".env", ".env.local", "config/.env.production", "id_rsa", "id_ed25519.pub",
                                 "certs/server.pem", "tls.key", "store.p12", "client.pfx", "credentials",
                                 "gcp-credentials.json", ".netrc", "deploy/prod.tfvars", "config/secrets.yml"])
def test_secret_files_are_known_by_name(rel):
    assert is_secret_file(rel)


@pytest.mark.parametrize("rel", ["calc.py", "src/keys.py", "token.ts", "tests/test_env.py", "environment.rs",
                                 "README.md", "keyboard.js", "engine/micro_agent/secrets.py"])
def test_ordinary_files_are_not_secret_files(rel):
    assert not is_secret_file(rel)


def test_sendable_files_drop_secret_and_git_ignored_files(tmp_path):
    repo = make_repo(tmp_path / "proj", {"calc.py": "", "tracked_local.py": "", ".gitignore": "local_*.py\nbuild/\n"})
    (repo / "local_settings.py").write_text("")
    (repo / "build").mkdir()
    (repo / "build" / "gen.py").write_text("")
    rels = ["calc.py", "local_settings.py", "build/gen.py", ".env", "certs/dev.pem", "tracked_local.py"]
    assert sendable_files(repo, rels) == ["calc.py", "tracked_local.py"]


def test_sendable_files_outside_a_repository_drop_only_secret_files(tmp_path):
    (tmp_path / "calc.py").write_text("")
    assert sendable_files(tmp_path, ["calc.py", ".env", "id_rsa"]) == ["calc.py"]


def test_files_look_secret_by_name_or_by_content(tmp_path):
    (tmp_path / "notes.txt").write_text(f"my key is {AWS_ID}\n")
    (tmp_path / "helper.py").write_text("def helper():\n    return 1\n")
    (tmp_path / ".env").write_text("DEBUG=1\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\0\0" + AWS_ID.encode())
    assert looks_secret(tmp_path / "notes.txt", "notes.txt")
    assert looks_secret(tmp_path / ".env", ".env")
    assert not looks_secret(tmp_path / "helper.py", "helper.py")
    assert not looks_secret(tmp_path / "logo.png", "logo.png")  # binary: only a secret file's name counts


def test_the_logging_filter_redacts_messages_arguments_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("micro-agent-test-secrets")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("run on %s failed with %s", "calc.py", AWS_ID)
        try:
            raise RuntimeError(f"provider said {AWS_ID}")
        except RuntimeError:
            logger.exception("the run failed")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "run on calc.py failed with [redacted]" in written and "provider said [redacted]" in written
    assert AWS_ID not in written
