"""What must never leave the machine: secret files and credential-like text.

Three jobs, all pure except `sendable_files` (it asks git which files are ignored):
- `sendable_files` drops the files that are never put into a prompt: `.env*`, keys and certificates,
  credentials files, and files git ignores.
- `redact` replaces credential-like text with `[redacted]`: every prompt (at the one door to every model,
  the engine's `_Loop.call`, before the `Model` seam), the audit DB, the CLI's and the language server's logs.
- `restore` puts the target's own secrets back into a candidate built from the redacted view of the
  file, so `[redacted]` never lands in the user's file.

docs/privacy.md describes all of it; keep the two in step.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import re
from collections import Counter, deque
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from .git import git

REDACTED = "[redacted]"

# Files never put into a prompt, by name (matched case-insensitively against the file name).
SECRET_FILE_PATTERNS = (
    ".env", ".env.*", "*.env", ".envrc",
    "*.pem", "*.key", "*.crt", "*.cer", "*.der", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.kdbx",
    "*.gpg", "*.asc", "*.ppk",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    "credentials", "*credentials.json", "*.credentials", "*.secrets",
    *(f"{stem}.{ext}" for stem in ("credentials", "secrets") for ext in ("json", "yml", "yaml", "toml", "ini", "xml")),
    ".netrc", "_netrc", ".pgpass", ".pypirc", ".npmrc", ".htpasswd", ".git-credentials",
    "service-account*.json", "*.tfvars", "*.tfstate",
)

# Credentials recognised by their shape, wherever they stand. No leading `\b`: a pattern that starts with
# a literal is searched fast; `_at_word_start` checks the boundary instead.
_PRIVATE_KEY = r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)"
_TOKEN_SHAPES = re.compile("|".join((
    _PRIVATE_KEY,
    r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b",  # AWS access key ids
    r"sk-(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}",  # OpenAI, Anthropic (sk-ant-…)
    r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe
    r"gh[pousr]_[A-Za-z0-9]{30,}\b", r"github_pat_[A-Za-z0-9_]{30,}",  # GitHub
    r"glpat-[A-Za-z0-9_-]{20,}",  # GitLab
    r"xox[abposr]-[A-Za-z0-9-]{10,}",  # Slack
    r"AIza[0-9A-Za-z_-]{35}\b",  # Google API keys
    r"npm_[A-Za-z0-9]{36}\b",  # npm
)), re.S)
# The password in `scheme://user:password@host`.
_URL_PASSWORD = re.compile(r"(?<=://)(?P<user>[^/\s:@'\"]+):(?P<value>[^/\s@'\"]+)(?=@)")
# `Authorization: Bearer <token>`.
_BEARER = re.compile(r"(?i)bearer\s+(?P<value>[A-Za-z0-9._~+/-]{16,}=*)")
# A value assigned to a name that says it holds a secret: `API_KEY = "…"`, `password: …`, `"token": "…"`.
# Anchored on the telling word (the rest of the name is not needed), so a scan is one pass of a literal search.
_SECRET_WORD = r"(?:key|secret|token|passw(?:or)?d|pwd|credentials?)s?[A-Za-z0-9_]*"
_ASSIGNED = re.compile(
    rf"""(?i){_SECRET_WORD}["']?\s*(?::\s*[A-Za-z_][\w\[\], |.]*?\s*)?(?::=|=>|=|:)\s*"""
    r"""(?:(?P<q>["'`])(?P<quoted>[^"'`\s\\]{8,})(?P=q)|(?P<bare>[A-Za-z0-9+/=_\-.~!@#$%^&*]{8,})(?=\s|$|[,;]))""",
    re.M)


def is_secret_file(rel: str) -> bool:
    """True for files that hold secrets by their nature (`.env`, `id_rsa`, `*.pem`, credentials files…)."""
    name = PurePosixPath(rel.replace("\\", "/")).name.lower()
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_FILE_PATTERNS)


def looks_secret(path: Path, rel: str) -> bool:
    """A secret file by its name, or a file whose text holds something credential-like."""
    if is_secret_file(rel):
        return True
    try:
        data = path.read_bytes()[:1_000_000] if path.is_file() and not path.is_symlink() else b""
    except OSError:
        return True  # unreadable here: not worth the risk
    if not data or b"\0" in data:  # empty, or binary: its name decides (a .p12 is on the list)
        return False
    text = data.decode("utf-8", "ignore")
    return redact(text) != text


def ignored_by_git(root: Path, rels: list[str]) -> set[str]:
    """The paths among `rels` (relative to `root`) that match git's ignore rules there, tracked or not.

    None outside a repository.
    """
    if not rels:
        return set()
    # check-ignore refuses the literal pathspecs `git()` asks for; it reads plain paths from stdin anyway.
    # --no-index: a run's copy of a project outside git tracks every file, the ignore rules still count.
    listed = git(["--no-literal-pathspecs", "check-ignore", "--no-index", "-z", "--stdin"], root,
                 stdin=b"".join(r.encode("utf-8", "surrogateescape") + b"\0" for r in rels), check=False)
    return {rel for rel in listed.split("\0") if rel}


def sendable_files(root: Path, rels: list[str]) -> list[str]:
    """`rels` without the files that never go into a prompt: secret files and files git ignores."""
    kept = [rel for rel in rels if not is_secret_file(rel)]
    ignored = ignored_by_git(root, kept)
    return [rel for rel in kept if rel not in ignored]


# ---------------------------------------------------------------- redaction


_WORDS = re.compile(r"(?:[A-Z]+\d*|[a-z]+\d*|\d+)(?:[_.-](?:[A-Z]+\d*|[a-z]+\d*|\d+))+")


def _high_entropy(value: str) -> bool:
    """Random-looking: 8+ characters, mixing letters with digits or cases, ~3 bits of entropy per character."""
    if len(value) < 8 or "://" in value or value.startswith(("/", "./", "${", "{{", "<")) or REDACTED in value:
        return False
    if _WORDS.fullmatch(value):  # ENV_VAR_NAME_2, my-app-v2: names, not keys
        return False
    classes = sum(bool(re.search(p, value)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    if classes < 2:
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= 3.0


def _at_word_start(text: str, at: int) -> bool:
    return at == 0 or not (text[at - 1].isalnum() or text[at - 1] == "_")


@lru_cache(maxsize=8)  # the engine redacts the target, then restores against it: one scan
def _spans(text: str) -> tuple[tuple[int, int], ...]:
    """Where the credential-like text in `text` lies: sorted, non-overlapping (start, end) pairs."""
    spans = [m.span() for m in _TOKEN_SHAPES.finditer(text) if _at_word_start(text, m.start())]
    spans += [m.span("value") for m in _URL_PASSWORD.finditer(text)]
    spans += [m.span("value") for m in _BEARER.finditer(text)
              if _at_word_start(text, m.start()) and _high_entropy(m.group("value"))]
    for m in _ASSIGNED.finditer(text):
        group = "quoted" if m.group("quoted") is not None else "bare"
        if _high_entropy(m.group(group)):
            spans.append(m.span(group))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def redact(text: str) -> str:
    """`text` with every credential-like part replaced by `[redacted]`."""
    if not text:
        return text
    parts, at = [], 0
    for start, end in _spans(text):
        parts += [text[at:start], REDACTED]
        at = end
    return "".join(parts) + text[at:] if parts else text


def redact_messages(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Chat messages as they may be sent to a provider."""
    return [{**message, "content": redact(message.get("content") or "")} for message in messages]


def redact_value(value: Any) -> Any:
    """A copy of `value` (text, lists, dicts, pydantic models such as events) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_value(v) for v in value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if hasattr(value, "model_copy") and hasattr(type(value), "model_fields"):  # pydantic, not imported here
        return value.model_copy(update={name: redact_value(getattr(value, name))
                                        for name in type(value).model_fields})
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (tracebacks included) before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = redact(message), None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


# ---------------------------------------------------------------- restoring the target's own secrets


class HiddenSecretError(ValueError):
    """A candidate holds `[redacted]` on a line the original file has no counterpart for."""


def _redacted_lines(text: str) -> list[tuple[str, str]]:
    """(line as shown to the model, original line) for each line of `text` that redaction changed or that
    holds `[redacted]` already; the lines one multi-line secret spans count as one. Line endings dropped."""
    spans = deque(_spans(text))
    found: list[tuple[str, str]] = []
    at, index = 0, 0
    lines = text.splitlines(keepends=True)
    while index < len(lines):
        start, end = at, at + len(lines[index])
        index += 1
        inside = []
        while spans and spans[0][0] < end:
            s, e = spans.popleft()
            inside.append((s, e))
            while e > end and index < len(lines):  # a secret across lines: the segment goes on to its end
                end += len(lines[index])
                index += 1
        at = end
        body = text[start:end].rstrip("\r\n")
        if inside or REDACTED in body:
            shown, cut = [], start
            for s, e in inside:
                shown += [text[cut:s], REDACTED]
                cut = e
            found.append(("".join(shown) + text[cut:start + len(body)] if inside else body, body))
    return found


def restore(candidate: str, original: str) -> str:
    """`candidate`, built from `redact(original)`, with each `[redacted]` line given back its original text.

    A line holding `[redacted]` is matched (ignoring indentation) to the line of the redacted original
    it came from. Raises HiddenSecretError when there is none: the model changed a line whose secret it
    never saw, and writing it would put `[redacted]` into the user's file.
    """
    if REDACTED not in candidate:
        return candidate
    hidden: dict[str, list[str]] = {}
    for shown, body in _redacted_lines(original):
        hidden.setdefault(shown.strip(), []).append(body.lstrip())
    used: Counter[str] = Counter()
    out = []
    for number, line in enumerate(candidate.splitlines(keepends=True), 1):
        body = line.rstrip("\r\n")
        if REDACTED in body:
            key = body.strip()
            originals = hidden.get(key, [])
            if not originals:
                raise HiddenSecretError(
                    f"line {number} of the new code holds {REDACTED} where the file has no such line: a secret "
                    f"there was hidden from the model, and {REDACTED} is never written into your file. "
                    "Keep the lines that hold secrets exactly as shown.")
            pick = originals[min(used[key], len(originals) - 1)]
            used[key] += 1
            line = body[:len(body) - len(body.lstrip())] + pick + line[len(body):]
        out.append(line)
    return "".join(out)
