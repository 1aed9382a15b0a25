"""Editor settings: `initializationOptions.microAgent` and `workspace/configuration` section `microAgent`.

They are one layer of the run settings every face fills (micro_agent.run_settings.RunSettings: `testCommand`,
`models`, `budget`, `tierConfig`, `mode`, `simpleIterations`, `escalate`, `testTimeoutSeconds`, `projectEnv`,
`interpreter`, ...) plus what only the editor has (`runTestsOnSave`); merged over micro-agent.yml when a run
is built. Settings are forgiving: a bad value is named in a problem line and dropped (its default is used);
everything else still applies. The old `simple: N` (an iteration count) is read as `simpleIterations`,
with a warning.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import Field

from micro_agent.run_settings import RunSettings, forgiving_layer

SECTION = "microAgent"


class ServerSettings(RunSettings):
    """What the editor may set. Unset (None) values leave micro-agent.yml's or the defaults in place."""

    run_tests_on_save: bool = Field(default=True, alias="runTestsOnSave")


def section_of(options: Any) -> Any:
    """The `microAgent` section of initializationOptions (a bare mapping of our keys is accepted too)."""
    if isinstance(options, dict) and SECTION in options:
        return options[SECTION]
    if isinstance(options, dict) and set(options) & set(_known_keys()):
        return options
    return {}


def _known_keys() -> set[str]:
    keys = {"simple"}
    for name, field in ServerSettings.model_fields.items():
        choices = getattr(field.validation_alias, "choices", None)
        keys |= set(choices) if choices else {field.alias or name}
    return keys


def _without_nulls(value: Any) -> Any:
    """null means "not set" (VS Code sends it for settings left at their default)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return copy.deepcopy(value)


def parse_settings(raw: Any, source: str = SECTION) -> tuple[ServerSettings, list[str]]:
    """Validate editor settings: the usable part, and one line per value that was dropped (or renamed)."""
    if raw is None:
        return ServerSettings(), []
    if not isinstance(raw, dict):
        return ServerSettings(), [f"{source}: expected an object of settings, got {type(raw).__name__}"]
    data = _without_nulls(raw)
    problems: list[str] = []
    if "simple" in data:  # before simpleIterations, the count was `simple` (a mode's name as well)
        old = data.pop("simple")
        if "simpleIterations" in data:
            problems.append(f"{source}.simple: replaced by {source}.simpleIterations, which is set; "
                            "ignoring it — remove the setting")
        else:
            data["simpleIterations"] = old
            problems.append(f"{source}.simple: renamed {source}.simpleIterations (the number of simple-mode "
                            "iterations); using its value — rename the setting")
    settings, dropped = forgiving_layer(ServerSettings, data)
    for loc, why in dropped:
        path = ".".join(str(p) for p in (source, *loc))
        why = "unknown setting (check the spelling)" if why.startswith("unknown key") else why
        problems.append(f"{path}: {why}; using the default")
    return settings, problems


def merge(base: Any, override: Any) -> Any:
    """Deep-merge two settings mappings; `override` wins."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override if override is not None else base)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = merge(merged.get(key), value) if key in merged else copy.deepcopy(value)
    return merged


class EditorSettings:
    """The settings as they stand: initializationOptions merged under workspace/configuration.

    `update` replaces whichever of the two it is given, re-validates, and returns the problems not
    reported before (so a bad value is named once, not on every configuration change).
    """

    def __init__(self) -> None:
        self.current = ServerSettings()
        self._init_options: Any = {}
        self._client_settings: Any = {}
        self._reported: set[str] = set()

    def update(self, init_options: Any = None, client_settings: Any = None) -> list[str]:
        if init_options is not None:
            self._init_options = init_options
        if client_settings is not None:
            self._client_settings = client_settings
        self.current, problems = parse_settings(merge(self._init_options or {}, self._client_settings or {}))
        new = [p for p in problems if p not in self._reported]
        self._reported.update(new)
        return new
