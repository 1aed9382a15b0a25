"""Pull requests on GitHub (or GitHub Enterprise, or a test server) through its REST API.

Only three things are sent: the branch name, the title and the body of the pull request (plus its label),
to `apiUrl`, with the token from `tokenEnv` as `Authorization: Bearer`. Standard library HTTP: the
autopilot's forge calls are a handful per pass and run on worker threads.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from micro_agent.autopilot_config import ForgeConfig

from .proposal import LABEL

TIMEOUT_S = 30


class ForgeError(Exception):
    """The forge refused or could not be reached; the message says what to check."""


@dataclass
class PullRequest:
    number: int
    url: str
    state: str = "open"


class GitHub:
    def __init__(self, config: ForgeConfig, token: str):
        self.api = config.api_url.rstrip("/")
        self.repo = config.repo
        self.owner = config.repo.split("/", 1)[0]
        self.token = token

    def _call(self, method: str, path: str, payload: dict | None = None) -> object:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{self.api}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "micro-agent-autopilot",
            **({"Content-Type": "application/json"} if data is not None else {}),
        })
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                text = response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            hint = {401: "check the token in the environment variable named by forge.tokenEnv",
                    403: "the token lacks a scope: it needs pull requests read/write and contents read/write",
                    404: "check forge.repo and forge.apiUrl (and that the token can see the repository)",
                    422: "the forge rejected the request (is the branch pushed? is there a pull request already?)",
                    }.get(exc.code, "see the forge's answer")
            raise ForgeError(f"{method} {path} → HTTP {exc.code}: {hint}. {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ForgeError(f"cannot reach the forge at {self.api} ({exc}); check forge.apiUrl and the network") \
                from None
        return json.loads(text) if text.strip() else None

    def find_open(self, branch: str) -> PullRequest | None:
        """The open pull request whose head is `branch`, if any (so a retry never opens a second one)."""
        query = urllib.parse.urlencode({"head": f"{self.owner}:{branch}", "state": "open"})
        found = self._call("GET", f"/repos/{self.repo}/pulls?{query}")
        if isinstance(found, list) and found:
            first = found[0]
            return PullRequest(int(first["number"]), str(first.get("html_url") or first.get("url", "")))
        return None

    def pull_state(self, number: int) -> tuple[str, bool]:
        """(`open` or `closed`, merged?) of pull request `number`: the fallback when no webhook reports it."""
        found = self._call("GET", f"/repos/{self.repo}/pulls/{number}")
        if not isinstance(found, dict) or "state" not in found:
            raise ForgeError(f"the forge answered pull request {number} without a state: {str(found)[:200]}")
        return str(found["state"]), bool(found.get("merged") or found.get("merged_at"))

    def open(self, branch: str, base: str, title: str, body: str) -> PullRequest:
        existing = self.find_open(branch)
        if existing is not None:
            return existing
        made = self._call("POST", f"/repos/{self.repo}/pulls",
                          {"title": title, "head": branch, "base": base, "body": body, "maintainer_can_modify": True})
        if not isinstance(made, dict) or "number" not in made:
            raise ForgeError(f"the forge answered the new pull request without a number: {str(made)[:200]}")
        pr = PullRequest(int(made["number"]), str(made.get("html_url") or made.get("url", "")))
        self._call("POST", f"/repos/{self.repo}/issues/{pr.number}/labels", {"labels": [LABEL]})
        return pr

    def close(self, number: int, comment: str) -> None:
        self._call("POST", f"/repos/{self.repo}/issues/{number}/comments", {"body": comment})
        self._call("PATCH", f"/repos/{self.repo}/pulls/{number}", {"state": "closed"})


def connect(config: ForgeConfig | None, env: dict[str, str]) -> tuple[GitHub | None, list[str]]:
    """(the forge client or None without a forge, problems). A configured forge without its token is a problem."""
    if config is None:
        return None, []
    token = env.get(config.token_env, "").strip()
    if not token:
        return None, [f"autopilot.forge: the environment variable {config.token_env} (forge.tokenEnv) is not set; "
                      "export a GitHub token with pull-request and contents write access, or remove `forge:` "
                      "to push branches only"]
    return GitHub(config, token), []
